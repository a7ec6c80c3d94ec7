"""One warm kernel reused across agencies (guidekit.report.engine): nothing one agency's
notebook leaves behind reaches the next agency's report.

The probe notebook makes agency "A" leave every kind of state a notebook can leave —
a name, a freshly imported module (with an import side effect), a matplotlib
setting and an open figure, the working directory, an environment variable, a
``sys.path`` entry — and makes agency "B" record what it finds.  The same test run
with the reset switched off finds every one of them, so the check can fail.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from guidekit.report import batch, engine
from guidekit.report.batch import ReportTask, run_one

from .helpers import probe_notebook

pytestmark = pytest.mark.slow

LEAVE = """\
import os, sys, json
if agency_id == "A":
    leaked_name = "from A"
    sys.path.insert(0, os.environ["GK_PROBE_DIR"])
    import gk_probe_module  # its import appends a line to imports.txt
    import matplotlib
    import matplotlib.pyplot as plt
    matplotlib.rcParams["lines.linewidth"] = 9.5
    plt.figure()
    os.chdir(os.environ["GK_PROBE_DIR"])
    os.environ["GK_LEAKED"] = "from A"
else:
    import matplotlib
    import matplotlib.pyplot as plt
    seen = {
        "name": "leaked_name" in dir(),
        "module": "gk_probe_module" in sys.modules,
        "linewidth": matplotlib.rcParams["lines.linewidth"],
        "figures": len(plt.get_fignums()),
        "cwd": os.getcwd(),
        "env": os.environ.get("GK_LEAKED"),
        "path": os.environ["GK_PROBE_DIR"] in sys.path,
        "count": get_ipython().execution_count,
    }
    sys.path.insert(0, os.environ["GK_PROBE_DIR"])
    import gk_probe_module  # imported afresh: its side effect runs again
    with open(os.environ["GK_PROBE_OUT"], "w", encoding="utf-8") as fh:
        json.dump(seen, fh)
"""


def _probe(tmp_path: Path) -> Path:
    return probe_notebook(tmp_path / "notebook" / "probe.ipynb", LEAVE)


def _task(notebook: Path, agency_id: str, out: Path) -> ReportTask:
    return ReportTask(
        agency_id=agency_id,
        agency_name=agency_id,
        notebook=str(notebook),
        parameters={"agency_id": agency_id, "round_id": "2026", "lang": "zh-TW", "cache": ""},
        html=str(out / f"{agency_id}.html"),
        log=str(out / f"{agency_id}.ipynb"),
        lang="zh-TW",
        title=agency_id,
        timeout=120,
        keep_notebook=False,
        cwd=str(notebook.parent),
    )


def _fresh_count(tmp_path: Path, monkeypatch) -> int:
    """The execution count agency B's probe cell sees on a kernel of its own (it depends
    on the IPython version): what a reset kernel must show too."""
    folder = tmp_path / "fresh"
    folder.mkdir()
    (folder / "probe").mkdir()
    (folder / "probe" / "gk_probe_module.py").write_text("", encoding="utf-8")
    monkeypatch.setenv("GK_PROBE_DIR", str(folder / "probe"))
    monkeypatch.setenv("GK_PROBE_OUT", str(folder / "seen.json"))
    notebook = _probe(folder)
    engine.shutdown_kernel()
    try:
        assert run_one(_task(notebook, "B", folder)).result.status == "ok"
    finally:
        engine.shutdown_kernel()
    return json.loads((folder / "seen.json").read_text(encoding="utf-8"))["count"]


def _run_a_then_b(tmp_path: Path, monkeypatch) -> tuple[dict, list[str], int]:
    probe_dir = tmp_path / "probe"
    probe_dir.mkdir()
    imports = probe_dir / "imports.txt"
    (probe_dir / "gk_probe_module.py").write_text(
        f"with open({str(imports)!r}, 'a', encoding='utf-8') as fh:\n    fh.write('imported\\n')\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("GK_PROBE_DIR", str(probe_dir))
    monkeypatch.setenv("GK_PROBE_OUT", str(tmp_path / "seen.json"))
    notebook = _probe(tmp_path)
    engine.shutdown_kernel()  # a kernel of this test's own
    try:
        first = run_one(_task(notebook, "A", tmp_path))
        warm = engine.worker_kernel(str(notebook.parent))
        pid = warm.km.provisioner.pid
        second = run_one(_task(notebook, "B", tmp_path))
        assert engine.worker_kernel(str(notebook.parent)) is warm  # one kernel for both
        assert warm.km.provisioner.pid == pid and warm.runs == 2
    finally:
        engine.shutdown_kernel()
    assert first.result.status == second.result.status == "ok", (first, second)
    seen = json.loads((tmp_path / "seen.json").read_text(encoding="utf-8"))
    return seen, imports.read_text(encoding="utf-8").splitlines(), pid


def test_nothing_of_one_agency_reaches_the_next_on_a_reused_kernel(tmp_path, monkeypatch):
    import matplotlib

    fresh = _fresh_count(tmp_path, monkeypatch)
    seen, imports, _ = _run_a_then_b(tmp_path, monkeypatch)
    default_linewidth = matplotlib.rcParamsDefault["lines.linewidth"]
    assert seen == {
        "name": False,
        "module": False,
        "linewidth": default_linewidth,
        "figures": 0,
        "cwd": str(tmp_path / "notebook"),  # the notebook's folder, as for a fresh kernel
        "env": None,
        "path": False,
        "count": fresh,  # what the same cell sees on a fresh kernel
    }
    assert imports == ["imported", "imported"]  # the module's import ran again for B


def test_the_probe_finds_every_leak_when_the_reset_is_off(tmp_path, monkeypatch):
    # the same two agencies with the reset switched off: each check above would fail
    fresh = _fresh_count(tmp_path, monkeypatch)
    monkeypatch.setattr(engine.WarmKernel, "reset", lambda self, cwd=None: None)
    seen, imports, _ = _run_a_then_b(tmp_path, monkeypatch)
    assert seen["name"] and seen["module"] and seen["path"]
    assert seen["linewidth"] == 9.5  # (figures: the inline backend closes them after each cell)
    assert seen["cwd"] == str(tmp_path / "probe") and seen["env"] == "from A"
    assert imports == ["imported"]  # B got A's module, not its own import
    assert seen["count"] > fresh  # counting on from A's cells


def test_a_timed_out_kernel_is_replaced_and_the_next_agency_runs(tmp_path):
    body = 'import time\nif agency_id == "slow":\n    time.sleep(60)'
    notebook = probe_notebook(tmp_path / "nb" / "slow.ipynb", body)
    slow = _task(notebook, "slow", tmp_path)
    slow = batch.dataclasses.replace(slow, agency_timeout=3)
    engine.shutdown_kernel()
    try:
        timed_out = run_one(slow)
        after = run_one(_task(notebook, "quick", tmp_path))
    finally:
        engine.shutdown_kernel()
    assert timed_out.result.status == "failed" and timed_out.result.timed_out
    assert "--agency-timeout" in timed_out.result.error and "3" in timed_out.result.error
    assert after.result.status == "ok" and after.html  # a fresh kernel took over
    assert not os.path.exists(slow.html)  # workers write nothing; the batch does
