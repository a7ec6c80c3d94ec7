"""End to end: `guidekit reports` runs the report notebook per agency with papermill and
exports self-contained HTML with nbconvert."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from guidekit.intake.responses import read_responses
from guidekit.paths import notebooks_dir
from guidekit.report.batch import report_filenames, run_reports
from guidekit.scoring import score

from .helpers import HOSTILE_AGENCIES, HOSTILE_NOTE, write_round

pytestmark = pytest.mark.slow

CODE_MARKERS = (
    "AgencyReport",
    "import ",
    "report.header()",
    "agency_id =",
    "In&nbsp;[",
    'class="input',
)
EXTERNAL = re.compile(
    r"<script|<link|<iframe|<img|<object|<embed|@import|url\(|\ssrc\s*=|"
    r"href\s*=\s*[\"']?(?:https?:)?//",
    re.IGNORECASE,
)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return "".join(parser.parts)


@pytest.fixture(scope="module")
def batch(tmp_path_factory, fw):
    folder = tmp_path_factory.mktemp("batch")
    answers = write_round(folder / "in", fw)
    out = folder / "out"
    args = [
        sys.executable,
        "-m",
        "guidekit",
        "reports",
        "--responses",
        str(answers),
        "--out",
        str(out),
        "--workers",
        "2",
    ]
    for agency_id, _ in HOSTILE_AGENCIES:
        args += ["--agency", agency_id]
    run = subprocess.run(
        args, capture_output=True, text=True, encoding="utf-8", timeout=600, check=False
    )
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    scores = score(read_responses(answers, fw))
    return run, out, manifest, scores


def test_exit_code_and_outputs(batch):
    run, out, manifest, _ = batch
    assert run.returncode == 0, run.stderr
    assert str((out / "index.html").resolve()) in run.stdout
    statuses = {a["agency_id"]: a["status"] for a in manifest["agencies"]}
    assert statuses == {a: "ok" for a, _ in HOSTILE_AGENCIES}
    assert manifest["state"] == "complete"
    assert manifest["totals"] == {**manifest["totals"], "agencies": 5, "ok": 5, "failed": 0}
    assert all(a["duration_s"] >= 0 for a in manifest["agencies"])
    assert (
        manifest["framework"]["id"] == "tw-dsg" and manifest["inputs"][0]["encoding"] == "utf-8-sig"
    )


def test_one_safe_distinct_file_per_agency(batch):
    _, out, manifest, _ = batch
    files = [a["file"] for a in manifest["agencies"]]
    assert len(set(f.casefold() for f in files)) == len(files)
    for name in files:
        assert re.fullmatch(r"[A-Za-z0-9_-]+\.html", name), name
    ok = [a for a in manifest["agencies"] if a["status"] == "ok"]
    assert sorted(p.name for p in out.glob("*.html") if p.name != "index.html") == sorted(
        a["file"] for a in ok
    )


def test_reports_show_principles_scores_and_escaped_text(batch, fw):
    _, out, manifest, scores = batch
    for entry in manifest["agencies"]:
        if entry["status"] != "ok":
            continue
        html = (out / entry["file"]).read_text(encoding="utf-8")
        assert html.startswith("<!DOCTYPE html>") and '<html lang="zh-TW">' in html
        for p in fw.principles:
            assert p.title_zh in html, (entry["agency_id"], p.id)
        mine = scores.assessment(entry["agency_id"])
        for value in mine.principles["score"].dropna():
            assert f">{value:.1f}<" in html
        assert f'<span class="gk-big">{mine.overall["score"].iloc[0]:.1f}</span>' in html
        text = visible_text(html)
        assert HOSTILE_NOTE in text  # the note shows as text, markup and all
        for marker in CODE_MARKERS:
            assert marker not in html, (entry["file"], marker)
        assert EXTERNAL.search(html) is None, EXTERNAL.search(html)
    first = next(a for a in manifest["agencies"] if a["agency_id"] == "0001")
    html = (out / first["file"]).read_text(encoding="utf-8")
    assert '研考會 <i>"測試"</i>' in visible_text(html) and "<i>" not in html


def test_index_and_summary(batch):
    _, out, manifest, scores = batch
    index = (out / "index.html").read_text(encoding="utf-8")
    assert EXTERNAL.search(index) is None
    # without --pdf: HTML only, and the index links no PDF
    assert ".pdf" not in index and not list(out.glob("*.pdf"))
    for entry in manifest["agencies"]:
        assert entry["agency_id"] in index or entry["agency_id"] == ".."
        if entry["status"] == "ok":
            assert f'href="{entry["file"]}"' in index
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as fh:
        # codes are written as Excel text constants: ="0001"
        rows = {r["agency_id"][2:-1].replace('""', '"'): r for r in csv.DictReader(fh)}
    overall = scores.overall.set_index("agency_id")["score"]
    for agency_id, _ in HOSTILE_AGENCIES:
        assert float(rows[agency_id]["score"]) == pytest.approx(overall[agency_id], abs=0.005)
        assert rows[agency_id]["status"] == "ok"


def test_a_failing_notebook_does_not_stop_the_batch(tmp_path, fw):
    nb = nbformat.read(notebooks_dir() / "report.ipynb", as_version=4)
    nb.cells.insert(
        3, nbformat.v4.new_code_cell('if agency_id == "0002":\n    raise RuntimeError("boom")')
    )
    broken = tmp_path / "report.ipynb"
    nbformat.write(nb, broken)
    answers = write_round(
        tmp_path / "in", fw, [("0001", "甲機關"), ("0002", "乙機關"), ("0003", "丙機關")]
    )
    result = run_reports(answers, tmp_path / "out", workers=1, notebook=broken, progress=False)
    by_id = {r.agency_id: r for r in result.results}
    assert [by_id[a].status for a in ("0001", "0002", "0003")] == ["ok", "failed", "ok"]
    failed = by_id["0002"]
    # cell 4 of the executed notebook: papermill inserts the injected-parameters cell after cell 1
    assert (failed.ename, failed.evalue, failed.cell) == ("RuntimeError", "boom", 4)
    assert (
        failed.notebook and Path(failed.notebook).exists()
    )  # the failed notebook is kept as the log
    assert not (tmp_path / "out" / failed.file).exists()
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "RuntimeError: boom" in index
    assert not result.ok


def test_report_filenames_are_safe_and_injective():
    ids = ["A01", "a01", "CON", "..", "a/b", "a b", "機關甲", "機關乙", "x" * 80, "ok-1_2"]
    names = report_filenames(ids)
    assert names["ok-1_2"] == "ok-1_2.html"
    assert len({n.casefold() for n in names.values()}) == len(ids)
    for name in names.values():
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*\.html", name) and len(name) < 80
    assert names["CON"] != "CON.html" and names["A01"] != "A01.html"
    # an agency coded "index" (any case) must not overwrite the batch's index.html
    own = report_filenames(["index", "Index2", "INDEX"])
    assert own["Index2"] == "Index2.html"
    assert {own["index"].casefold(), own["INDEX"].casefold()}.isdisjoint({"index.html"})


def test_output_folder_of_other_files_or_answers_is_refused(tmp_path, example_round):
    from guidekit.problems import GuidekitError

    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "a.csv").write_bytes((example_round / "301000000A.csv").read_bytes())
    (answers / "index.html").write_text("<p>my notes</p>", encoding="utf-8")
    with pytest.raises(GuidekitError) as info:
        run_reports(answers, out=answers)
    assert "a.csv" in info.value.text("en") and "填答檔案" in info.value.text("zh-TW")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(GuidekitError) as info:
        run_reports(answers / "a.csv", out=mine)
    assert "notes.txt" in info.value.text("en")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert (answers / "index.html").read_text(encoding="utf-8") == "<p>my notes</p>"


def test_report_notebook_runs_under_papermill(tmp_path):
    import papermill as pm

    output = tmp_path / "out.ipynb"
    pm.execute_notebook(
        str(notebooks_dir() / "report.ipynb"),
        str(output),
        kernel_name="python3",
        progress_bar=False,
        parameters={"lang": "en"},
    )
    nb = nbformat.read(output, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(o.data.get("text/html", "") for o in outputs if "data" in o)
    assert "Scores by principle" in html and "Example data" in html


def test_notebooks_are_committed_without_outputs():
    for path in notebooks_dir().glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name


def test_kernels_use_private_ipc_sockets(tmp_path, monkeypatch):
    """Regression: kernels of a batch collided on TCP ports ("Address already in use"),
    then on jupyter_client's shared default IPC path "kernel-ipc" in the working
    directory ("Invalid Signature"). Each kernel manager must get its own socket path."""
    import os

    from guidekit.report.kernels import LocalKernelManager

    monkeypatch.chdir(tmp_path)
    first, second = LocalKernelManager(), LocalKernelManager()
    if os.name != "posix":
        pytest.skip("IPC transport is POSIX only")
    assert first.transport == second.transport == "ipc"
    assert first.ip != second.ip
    assert os.path.isabs(first.ip) and not first.ip.startswith(str(tmp_path))


def test_outputs_are_readable_by_others(tmp_path):
    import os
    import stat

    from guidekit.files import write_atomic

    old = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "a" / "report.html", "<p>報告</p>", "utf-8")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_text(encoding="utf-8") == "<p>報告</p>"
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary left
    with pytest.raises(ValueError):
        write_atomic(tmp_path / "b.txt", "text without an encoding")


def test_index_rounds_the_exact_score_once_like_the_report(tmp_path, example_round):
    # 315000000H scores 57.5549… in the bundled round: the report shows 57.6. Rounding
    # to 2 decimals first (57.55) and then to 1 gave 57.5 in the index.
    import datetime as dt

    from guidekit.report.batch import AgencyResult, _write_index
    from guidekit.report.context import load_round

    data = load_round(example_round)
    overall = data.scores.overall.set_index("agency_id")["score"]
    exact = overall["315000000H"]
    assert round(exact, 2) == 57.55 and f"{exact:.1f}" == "57.6"  # the case it guards
    results = [AgencyResult(a, "", f"{a}.html") for a in overall.index]
    html = _write_index(tmp_path, data, results, "zh-TW", dt.date(2026, 11, 29)).read_text(
        encoding="utf-8"
    )
    # the index says how to read it: indicative not a ranking, bands, coverage, major items
    text = visible_text(html)
    assert "如何閱讀本表" in text and "不適合作為機關排名" in text
    assert "起步 ≥ 0、發展中 ≥ 40、穩健 ≥ 65、領先 ≥ 85" in text
    assert "低於 50% 的分數標示「涵蓋率低」" in text and "屬於大項、但綜合結果為未符合" in text
    for agency_id, value in overall.items():
        link = html.index(f'href="{agency_id}.html"')
        row = html[html.rindex("<tr", 0, link) : html.index("</tr>", link)]
        assert f">{value:.1f}<" in row, (agency_id, value)


def test_index_warns_when_it_mixes_self_assessment_forms(fw):
    from guidekit.report.batch import _index_reading

    one = _index_reading(fw, {"政府數位服務自評表"}, "zh-TW")
    two = _index_reading(fw, {"政府數位服務自評表", "資通訊應用計畫自評表"}, "zh-TW")
    assert [s for s in two if s not in one] == [
        "本表包含不同自評表（政府數位服務自評表、資通訊應用計畫自評表）的分數："
        "各表題目不同，分數不宜直接比較。"
    ]


def test_skip_invalid_reports_the_clean_agencies_and_lists_the_others(tmp_path, example_round):
    from guidekit.problems import ResponsesError

    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "good.csv").write_bytes((example_round / "301000000A.csv").read_bytes())
    (answers / "bad.csv").write_text(
        "評估回合,機關代碼,機關名稱,填答者,題號,答案,說明\n"
        "2026,00123,壞機關,R1,SV-P01-01,符合,\n"
        "2026,00123,壞機關,R1,SV-P99-01,符合,\n",
        encoding="utf-8",
    )
    with pytest.raises(ResponsesError):  # the default: any error stops the batch
        run_reports(answers, out=tmp_path / "stopped", progress=False)
    assert not (tmp_path / "stopped").exists()
    result = run_reports(answers, out=tmp_path / "out", progress=False, skip_invalid=True)
    statuses = {r.agency_id: r.status for r in result.results}
    assert statuses == {"00123": "failed", "301000000A": "ok"} and not result.ok
    failed = result.failed[0]
    assert failed.agency_name == "壞機關" and "SV-P99-01" in failed.error
    assert "bad.csv:3" in failed.error and "填答資料有 1 個錯誤" in failed.error
    assert (tmp_path / "out" / "301000000A.html").is_file()
    index = visible_text((tmp_path / "out" / "index.html").read_text(encoding="utf-8"))
    assert "壞機關" in index and "SV-P99-01" in index
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["unread"] == []
    # an unreadable file names no agency: said in the index and manifest, never dropped quietly
    (answers / "garbage.csv").write_bytes(b"\x81\x30\xff\xfe \x80\x80\x80")
    again = run_reports(answers, out=tmp_path / "out2", progress=False, skip_invalid=True)
    assert [Path(line.split(" ")[0]).name for line in again.unread] == ["garbage.csv:1"]
    index = visible_text((tmp_path / "out2" / "index.html").read_text(encoding="utf-8"))
    assert "下列問題無法對應到機關" in index and "garbage.csv" in index
