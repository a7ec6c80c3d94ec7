"""`guidekit reports` as a batch (issue 8): a folder that never contradicts itself after
an interruption, one batch per folder, workers that stop with the batch, the kernel of
the running Python, and the --agency / --round / --workers messages.

Cases in tests/fixtures/cases/: interrupted-rerun-mixed-index, two-batches-one-folder,
interrupted-batch-refused, kernelspec-of-another-env.  Every expectation is worked out
from the input files (agency codes, rounds), not from guidekit's output.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from guidekit.cli import main
from guidekit.problems import GuidekitError
from guidekit.report import batch
from guidekit.report.batch import (
    BatchInterrupted,
    OutputLock,
    excel_text,
    run_reports,
    worker_count,
)
from guidekit.report.kernels import check_kernel_python

from .conftest import FIXTURES, ROOT
from .helpers import probe_notebook

CASES = FIXTURES / "cases"
#: Four agencies, one file each: codes 0012, 012, 12 and 1E3 (names 測試機關00–03).
REFUSED = CASES / "interrupted-batch-refused" / "answers"
REFUSED_CODES = {"0012": "測試機關00", "012": "測試機關01", "12": "測試機關02", "1E3": "測試機關03"}
#: Rounds 2025 and 2026 of CC00–CC02 (one file).
MIXED = CASES / "interrupted-rerun-mixed-index" / "answers.csv"
TWO = CASES / "two-batches-one-folder" / "answers.csv"
KERNELSPEC = CASES / "kernelspec-of-another-env"
LINK = re.compile(r'href="([^"#:/]+\.html)"')


# -- reading a batch folder back, independently of guidekit ------------------------


def _code(cell: str) -> str:
    """A summary.csv code cell ="0012" → 0012 (as Excel shows it)."""
    match = re.fullmatch(r'="((?:[^"]|"")*)"', cell)
    assert match, f"agency code not written as an Excel text constant: {cell!r}"
    return match.group(1).replace('""', '"')


def read_folder(out: Path) -> dict:
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as fh:
        summary = list(csv.DictReader(fh))
    index = (out / "index.html").read_text(encoding="utf-8")
    reports = {p.name for p in out.glob("*.html") if p.name != "index.html"}
    return {"manifest": manifest, "summary": summary, "index": index, "reports": reports}


def assert_consistent(out: Path, round_id: str) -> dict:
    """index.html, summary.csv and manifest.json agree with each other and with the
    reports on disk; a report on disk is always one of this round."""
    folder = read_folder(out)
    manifest, summary, index = folder["manifest"], folder["summary"], folder["index"]
    entries = {a["agency_id"]: a for a in manifest["agencies"]}
    ok_files = {a["file"] for a in entries.values() if a["status"] == "ok"}
    # every report the record calls done is there, and every report there is one of them
    assert ok_files == folder["reports"], (ok_files, folder["reports"])
    # the index links exactly those
    assert set(LINK.findall(index)) - {"summary.csv"} == ok_files
    # summary.csv: one row per agency of the manifest, same status and file
    rows = {_code(r["agency_id"]): r for r in summary}
    assert set(rows) == set(entries)
    for agency_id, row in rows.items():
        assert row["status"] == entries[agency_id]["status"], agency_id
        assert row["report"] == (
            entries[agency_id]["file"] if entries[agency_id]["status"] == "ok" else ""
        )
        assert row["round"] == round_id
    assert manifest["round"] == round_id
    for name in folder["reports"]:  # the report's header names its round
        html = (out / name).read_text(encoding="utf-8")
        assert re.findall(r"<dt>評估回合</dt><dd>([^<]*)</dd>", html) == [round_id], name
    # a folder that is not complete says so in the index
    if manifest["state"] != "complete":
        assert "此批次" in index and ("中斷" in index or "尚未完成" in index)
    else:
        assert "此批次" not in index
        assert all(a["status"] != "pending" for a in entries.values())
    return folder


def reports_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "guidekit", "reports", "--no-progress", *args]


def wait_for(predicate, proc: subprocess.Popen, what: str, limit: float = 300) -> None:
    """Poll until ``predicate()``; fail (not a timing assertion: a generous bound that
    only a hang reaches) if the process ended first or the bound passed."""
    deadline = time.monotonic() + limit
    while not predicate():
        assert proc.poll() is None, f"the batch ended before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"no {what}"
        time.sleep(0.2)


def state(out: Path) -> str | None:
    try:
        return json.loads((out / "manifest.json").read_text(encoding="utf-8"))["state"]
    except (OSError, ValueError, KeyError):
        return None


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def assert_all_ended(procs: list[psutil.Process]) -> None:
    # generous bound: only processes left running for good reach it
    _, alive = psutil.wait_procs(procs, timeout=60)
    alive = [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, [(p.pid, p.cmdline()) for p in alive]


# -- fast: messages and pieces -----------------------------------------------------


def test_a_mistyped_agency_writes_nothing_and_names_close_codes(tmp_path):
    out = tmp_path / "out"
    run = CliRunner().invoke(
        main, ["reports", "--responses", str(REFUSED), "--out", str(out), "--agency", "0013"]
    )
    assert run.exit_code == 2
    assert not out.exists()  # no empty index, no folder
    # difflib ratio 2·matches/length: 0013~0012 = 6/8 (close, ≥ 0.6); 0013~012 = 4/7,
    # 0013~12 = 2/6, 0013~1E3 = 2/7 (not close)
    assert "評估回合 2026 的填答中沒有下列機關代碼" in run.output
    assert "  0013：相近的代碼有 0012\n" in run.output
    # every code of the round, in natural order (1E3 reads as 1, E, 3)
    assert "此回合共有 4 個機關代碼：1E3, 0012, 012, 12" in run.output

    run = CliRunner().invoke(
        main, ["reports", "--responses", str(REFUSED), "--out", str(out), "--agency", "NOPE123"]
    )
    assert run.exit_code == 2 and not out.exists()
    assert "NOPE123：沒有相近的代碼" in run.output
    assert "NOPE123 ：" not in run.output


def test_agency_codes_are_tidied_like_the_answers(tmp_path):
    # full-width digits and a trailing space: the answers' own codes are tidied the same way
    run = CliRunner().invoke(
        main,
        [
            "--lang",
            "en",
            "reports",
            "--responses",
            str(REFUSED),
            "--out",
            str(tmp_path / "out"),
            "--agency",
            "００１２ ",
            "--agency",
            "99",
        ],
    )
    assert run.exit_code == 2
    assert "--agency “００１２ ” was tidied to “0012”" in run.output
    unknown = run.output[run.output.index("not in the answers") :]
    assert "99: " in unknown and "0012:" not in unknown  # only 99 is unknown


def test_round_of_the_default_answers_names_where_it_is(monkeypatch):
    # the default answers are the bundled example's latest round (2026); 2025 is beside it
    monkeypatch.chdir(ROOT)
    run = CliRunner().invoke(main, ["reports", "--round", "2025"])
    assert run.exit_code == 2
    assert "填答中沒有評估回合 '2025'（現有：2026）" in run.output
    assert "data/examples/rounds 有評估回合 2025：--responses data/examples/rounds" in run.output
    run = CliRunner().invoke(main, ["reports", "--round", "1999"])
    assert run.exit_code == 2 and "--responses" not in run.output  # no such round anywhere


def test_workers_above_the_cores_are_capped_with_a_note(monkeypatch):
    monkeypatch.setattr(batch, "available_cores", lambda: 2)
    notes = []
    assert worker_count(8, lambda key, **kw: notes.append((key, kw))) == 2
    assert notes == [("batch.workers.capped", {"asked": 8, "cores": 2})]
    assert worker_count(2, lambda *a, **k: notes.append(a)) == 2 and len(notes) == 1
    assert worker_count(None, lambda *a, **k: None) == 2
    from guidekit import i18n

    zh = i18n.t("batch.workers.capped", "zh-TW", asked=8, cores=2)
    en = i18n.t("batch.workers.capped", "en", asked=8, cores=2)
    assert "--workers 8 超過本機可用的 CPU 核心數 2" in zh and "改用 2 個" in zh
    assert "--workers 8 is more than the 2 CPU core(s)" in en


def test_summary_codes_are_excel_text_and_a_failed_row_has_its_name(tmp_path, write_csv):
    assert excel_text("0012") == '="0012"'
    assert excel_text('1"2') == '="1""2"'  # a quote cannot end the text constant
    # --skip-invalid with only the invalid agency asked for: no kernel runs
    rows = [
        ["2026", "0012", "甲機關", "R1", "PL-P01-01", "已規劃", ""],
        ["2026", "0099", "乙機關", "R1", "PL-P01-01", "已規劃", ""],
        ["2026", "0099", "乙機關", "R1", "PL-P01-02", "不知道", ""],  # not an answer
    ]
    answers = write_csv(rows)
    out = tmp_path / "out"
    run = CliRunner().invoke(
        main,
        [
            "reports",
            "--responses",
            str(answers),
            "--out",
            str(out),
            "--skip-invalid",
            "--agency",
            "0099",
        ],
    )
    assert run.exit_code == 1, run.output
    assert "失敗：0099 乙機關：" in run.output
    with (out / "summary.csv").open(encoding="utf-8-sig", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["agency_id"] == '="0099"' and row["agency_name"] == "乙機關"
    assert row["status"] == "failed" and row["report"] == ""
    assert (out / "summary.csv").read_bytes().count(b'"=""0099"""') == 1


def test_a_second_batch_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken_over(
    tmp_path,
):
    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from guidekit.report.batch import OutputLock\n"
            "info = {'pid': 4242, 'host': 'other-pc', 'started_at': '2026-12-04T09:00:00+08:00',"
            " 'command': 'guidekit reports --round 2025'}\n"
            "lock = OutputLock(Path(sys.argv[1]), info)\n"
            "lock.acquire()\n"
            "print('ready', flush=True)\n"
            "time.sleep(600)\n",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        run = CliRunner().invoke(
            main, ["reports", "--responses", str(REFUSED), "--out", str(out), "--agency", "12"]
        )
        assert run.exit_code == 2
        message = run.output
        assert f"另一個 guidekit reports 正在寫入 {out.resolve()}" in message
        assert "程序 4242，主機 other-pc，開始於 2026-12-04T09:00:00+08:00" in message
        assert "指令：guidekit reports --round 2025" in message
        assert "請等它結束後再執行，或用 --out 指定其他資料夾" in message
        assert sorted(p.name for p in out.iterdir()) == [
            ".guidekit-reports.lock",
            ".guidekit-reports.lock.json",
        ]  # nothing written
    finally:
        holder.kill()  # dies holding the lock: the OS frees it, the holder file stays
        holder.wait()
    lock = OutputLock(out, {"pid": os.getpid()})
    stale = lock.acquire()
    try:
        assert stale is not None and stale["pid"] == 4242 and stale["host"] == "other-pc"
    finally:
        lock.release()
    assert not (out / ".guidekit-reports.lock.json").exists()


def test_kernel_check_names_a_python_without_ipykernel(tmp_path, monkeypatch):
    # a bare venv of this Python: no ipykernel, no guidekit
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "v")], check=True)
    bare = tmp_path / "v" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    monkeypatch.setattr(sys, "executable", str(bare))
    with pytest.raises(GuidekitError) as caught:
        check_kernel_python()
    assert f"目前的 Python（{bare}）無法執行報告筆記本：這個環境沒有 ipykernel" in caught.value.zh
    assert "pip install ipykernel" in str(caught.value)


def test_kernel_check_passes_for_the_running_python():
    check_kernel_python(ROOT / "notebooks")  # raises if this environment cannot run reports


# -- slow: real batches -------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="POSIX signals and process groups")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_batch_says_so_and_the_same_command_finishes_it(tmp_path, sig):
    answers = tmp_path / "answers"
    shutil.copytree(REFUSED, answers)
    out = tmp_path / "out"
    command = reports_cmd("--responses", str(answers), "--out", str(out), "--workers", "2")
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        if sig == signal.SIGTERM:
            # moment 1: the record says "running", no report yet (workers starting)
            wait_for(lambda: state(out) == "running", proc, "running manifest")
        else:
            # moment 2: once a report exists
            wait_for(lambda: any(out.glob("*.html")) and state(out), proc, "first report")
        children = descendants(proc.pid)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # Ctrl+C in a terminal: every process of the group
        else:
            proc.send_signal(sig)  # kill PID: the main process only
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == (143 if sig == signal.SIGTERM else 130), err
    assert "批次已中斷" in err and "再執行同一指令即可完成" in err
    assert_all_ended(children)  # workers and kernels do not outlive the batch
    folder = assert_consistent(out, "2026")
    assert folder["manifest"]["state"] == "interrupted"
    reason = folder["manifest"]["interrupted"]["reason"]
    assert reason == ("收到終止訊號 SIGTERM" if sig == signal.SIGTERM else "按下 Ctrl+C")
    assert any(a["status"] == "pending" for a in folder["manifest"]["agencies"])
    assert "中斷" in folder["index"] and "未完成" in folder["index"]
    done = {a["agency_id"] for a in folder["manifest"]["agencies"] if a["status"] == "ok"}
    done_files = {k: v for k, v in _mtimes(out).items() if k[:-5] in done}

    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    folder = assert_consistent(out, "2026")
    assert folder["manifest"]["state"] == "complete"
    # the reports finished before the stop are not made again
    reused = {a["agency_id"] for a in folder["manifest"]["agencies"] if a["reused"]}
    assert reused == done
    assert {k: v for k, v in _mtimes(out).items() if k in done_files} == done_files
    assert folder["reports"] == {f"{code}.html" for code in REFUSED_CODES}
    rows = {_code(r["agency_id"]): r["agency_name"] for r in folder["summary"]}
    assert rows == REFUSED_CODES  # 0012, 012 and 12 stay three different codes


@pytest.mark.slow
def test_a_killed_worker_leaves_a_consistent_folder(tmp_path):
    # a worker process dies (e.g. the OOM killer): its agencies get one more try in a
    # fresh pool, and the record says so
    out = tmp_path / "out"
    command = reports_cmd("--responses", str(REFUSED), "--out", str(out), "--workers", "2")
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:

        def busy_worker() -> psutil.Process | None:
            for child in descendants(proc.pid):
                try:
                    if "ipykernel_launcher" in " ".join(child.cmdline()):
                        worker = child.parent()
                        if worker is not None and worker.ppid() == proc.pid:
                            return worker
                except psutil.Error:
                    continue
            return None

        wait_for(lambda: busy_worker() is not None, proc, "a worker running a kernel")
        busy_worker().kill()  # a worker of this batch only: its parent is our process
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    folder = assert_consistent(out, "2026")
    assert folder["manifest"]["state"] == "complete"
    assert folder["reports"] == {f"{code}.html" for code in REFUSED_CODES}
    retried = [a for a in folder["manifest"]["agencies"] if a["warnings"]]
    assert retried and all(
        a["warnings"][0].startswith("retried after: worker failed: BrokenProcessPool")
        for a in retried
    )


@pytest.mark.slow
def test_a_rerun_of_another_round_interrupted_never_mixes_rounds(tmp_path):
    # case interrupted-rerun-mixed-index: 2025, then 2026 interrupted after one report
    out = tmp_path / "out"
    first = reports_cmd("--responses", str(MIXED), "--out", str(out), "--round", "2025")
    first += ["--workers", "1", "--agency", "CC00", "--agency", "CC01"]
    done = subprocess.run(first, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert_consistent(out, "2025")
    second = reports_cmd("--responses", str(MIXED), "--out", str(out), "--round", "2026")
    second += ["--workers", "1", "--agency", "CC00", "--agency", "CC01"]
    proc = subprocess.Popen(second, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(
            lambda: (out / "CC00.html").exists() and state(out) == "running",
            proc,
            "a 2026 report",
        )
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    folder = assert_consistent(out, "2026")  # no 2025 report is left, none is linked
    assert "CC01.html" not in folder["reports"] or folder["manifest"]["state"] == "complete"
    again = subprocess.run(second, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    folder = assert_consistent(out, "2026")
    assert folder["reports"] == {"CC00.html", "CC01.html"}


@pytest.mark.slow
def test_two_batches_into_one_folder_the_second_is_refused(tmp_path):
    out = tmp_path / "out"
    # three reports one after another: the first batch is still running when the second
    # starts (it takes seconds to start; the first, three reports' time)
    first = reports_cmd("--responses", str(TWO), "--out", str(out), "--round", "2025")
    first += ["--workers", "1"]
    proc = subprocess.Popen(first, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: state(out) == "running", proc, "the first batch's record")
        second = subprocess.run(
            reports_cmd("--responses", str(TWO), "--out", str(out), "--round", "2026"),
            capture_output=True,
            text=True,
            timeout=300,
        )
        _, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert second.returncode == 2
    assert f"程序 {proc.pid}" in second.stderr and "--round 2025" in second.stderr
    assert proc.returncode == 0, err
    folder = assert_consistent(out, "2025")
    assert folder["reports"] == {"CC00.html", "CC01.html", "CC02.html"}


@pytest.mark.slow
def test_a_full_disk_stops_the_batch_and_the_rerun_finishes(tmp_path, monkeypatch):
    out = tmp_path / "out"
    real = batch._write_atomic
    written = []

    def full_after_one_report(path, text, encoding="utf-8"):
        if Path(path).suffix == ".html" and Path(path).name != "index.html":
            if written:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            written.append(path)
        real(path, text, encoding)

    monkeypatch.setattr(batch, "_write_atomic", full_after_one_report)
    with pytest.raises(BatchInterrupted) as caught:
        run_reports(REFUSED, out, agencies=["0012", "012", "12"], workers=1, progress=False)
    assert caught.value.exit_code == 2
    assert "No space left on device" in str(caught.value) and "012.html" in str(caught.value)
    folder = assert_consistent(out, "2026")
    assert folder["manifest"]["state"] == "interrupted"
    assert folder["reports"] == {"0012.html"}  # the one written before the disk filled
    statuses = {a["agency_id"]: a["status"] for a in folder["manifest"]["agencies"]}
    assert statuses == {"0012": "ok", "012": "pending", "12": "pending"}

    # the disk fills while the index is rewritten: the record still never lies
    written.clear()
    calls = []

    def index_fails_once_report_done(path, text, encoding="utf-8"):
        if Path(path).name == "index.html" and calls:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        if Path(path).suffix == ".html" and Path(path).name != "index.html":
            calls.append(path)
        real(path, text, encoding)

    monkeypatch.setattr(batch, "_write_atomic", index_fails_once_report_done)
    with pytest.raises(BatchInterrupted):
        run_reports(REFUSED, out, agencies=["0012", "012", "12"], workers=1, progress=False)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "此批次尚未完成" in index  # the last index written says the run is under way
    assert set(LINK.findall(index)) <= {p.name for p in out.glob("*.html")}

    monkeypatch.setattr(batch, "_write_atomic", real)
    result = run_reports(REFUSED, out, agencies=["0012", "012", "12"], workers=1, progress=False)
    assert result.ok
    folder = assert_consistent(out, "2026")
    assert folder["reports"] == {"0012.html", "012.html", "12.html"}


@pytest.mark.slow
def test_the_running_python_runs_the_kernel_whatever_kernelspecs_say(tmp_path):
    # a user-level "python3" kernelspec of another environment wins when the environment's
    # own kernelspecs are not preferred; guidekit must not use it
    home = tmp_path / "home"
    shutil.copytree(KERNELSPEC / "home", home)
    env = {**os.environ, "JUPYTER_PREFER_ENV_PATH": "0", "HOME": str(home)}
    env.pop("JUPYTER_PATH", None)
    env.pop("JUPYTER_DATA_DIR", None)
    out = tmp_path / "out"
    run = subprocess.run(
        reports_cmd("--responses", str(KERNELSPEC / "ok.csv"), "--out", str(out)),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    assert "/opt/other-env" not in run.stderr and "No module named" not in run.stderr
    folder = assert_consistent(out, "2026")
    assert folder["reports"] == {"OK01.html"}


def _notebook(tmp_path: Path, body: str) -> Path:
    return probe_notebook(tmp_path / "probe.ipynb", body)


@pytest.mark.slow
def test_a_cell_that_times_out_is_not_retried(tmp_path, monkeypatch):
    counter = tmp_path / "runs.txt"
    monkeypatch.setenv("GK_TEST_RUNS", str(counter))
    notebook = _notebook(
        tmp_path,
        "import os, time\n"
        "with open(os.environ['GK_TEST_RUNS'], 'a', encoding='utf-8') as fh:\n"
        "    fh.write('run\\n')\n"
        "time.sleep(120)",
    )
    result = run_reports(
        REFUSED,
        tmp_path / "out",
        agencies=["12"],
        workers=1,
        timeout=2,
        notebook=notebook,
        progress=False,
    )
    (agency,) = result.results
    assert agency.status == "failed" and agency.timed_out
    assert counter.read_text(encoding="utf-8") == "run\n"  # one attempt, no retry
    assert (
        agency.error
        == "儲存格執行超過 2 秒（--timeout）而停止；逾時不重試，可用較大的 --timeout 再執行。"
    )
    assert "time.sleep(120)" in agency.evalue  # nbclient's preview of the cell
    assert not any(w.startswith("retried after") for w in agency.warnings)


@pytest.mark.slow
def test_a_dead_kernel_keeps_its_one_retry(tmp_path, monkeypatch):
    counter = tmp_path / "runs.txt"
    monkeypatch.setenv("GK_TEST_RUNS", str(counter))
    notebook = _notebook(
        tmp_path,
        "import os\n"
        "with open(os.environ['GK_TEST_RUNS'], 'a', encoding='utf-8') as fh:\n"
        "    fh.write('run\\n')\n"
        "os._exit(1)",
    )
    result = run_reports(
        REFUSED, tmp_path / "out", agencies=["12"], workers=1, notebook=notebook, progress=False
    )
    (agency,) = result.results
    assert agency.status == "failed" and not agency.timed_out
    assert counter.read_text(encoding="utf-8") == "run\nrun\n"  # tried again once
    assert agency.warnings[0].startswith("retried after")


@pytest.mark.slow
def test_a_rerun_never_replaces_a_report_or_index_someone_changed(tmp_path):
    # sibling of case backup-overwrites-target: `reports --out` replaced edited outputs
    answers = CASES / "weight-overflow" / "ok.csv"
    out = tmp_path / "out"
    command = reports_cmd("--responses", str(answers), "--out", str(out), "--workers", "1")
    first = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr  # its own unchanged files: replaced
    report, summary = out / "OK01.html", out / "summary.csv"
    report.write_text(report.read_text(encoding="utf-8") + "<p>我們的會議紀錄</p>", "utf-8")
    summary.write_bytes(b"my,own\n")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    refused = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2
    for path in (report, summary):  # both named at once, with what to do
        assert f"{path} 是 guidekit 先前寫出的，但之後已被修改" in refused.stderr
    assert "請改用其他檔名，或先把這個檔案移到別處" in refused.stderr
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before  # nothing written, nothing removed


# -- incremental: nothing redone that has not changed (issue 13) ----------------------


def _mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in out.glob("*.html") if p.name != "index.html"}


@pytest.mark.slow
def test_a_rerun_rebuilds_only_what_changed(tmp_path):
    answers = tmp_path / "answers"
    shutil.copytree(REFUSED, answers)
    out = tmp_path / "out"
    first = run_reports(answers, out, workers=1, progress=False)
    assert first.ok and not any(r.reused for r in first.results)
    before = _mtimes(out)
    assert len(before) == 4

    # nothing changed: no report is made again, every file stays as it was
    again = run_reports(answers, out, workers=1, progress=False)
    assert all(r.reused and r.status == "ok" for r in again.results)
    assert _mtimes(out) == before
    assert_consistent(out, "2026")

    # one agency's answers change in a way no other report shows (its name, in every
    # row of its file): exactly that agency is made again
    target = next(p for p in answers.glob("*.csv") if "測試機關01" in _text(p))
    target.write_text(
        _text(target).replace("測試機關01", "測試機關01甲"), encoding=_encoding(target)
    )
    changed = run_reports(answers, out, workers=1, progress=False)
    redone = {r.agency_id for r in changed.results if not r.reused}
    assert redone == {"012"}
    after = _mtimes(out)
    assert {n for n in after if after[n] != before[n]} == {"012.html"}
    assert "測試機關01甲" in (out / "012.html").read_text(encoding="utf-8")
    assert "測試機關01甲" in (out / "index.html").read_text(encoding="utf-8")
    assert_consistent(out, "2026")

    # --force: every report is made again
    forced = run_reports(answers, out, workers=1, progress=False, force=True)
    assert not any(r.reused for r in forced.results) and forced.ok


@pytest.mark.slow
def test_a_failed_agency_is_retried_with_only_failed(tmp_path, monkeypatch):
    counter = tmp_path / "runs.txt"
    monkeypatch.setenv("GK_TEST_RUNS", str(counter))
    monkeypatch.setenv("GK_TEST_FAIL", "12")
    notebook = _notebook(
        tmp_path,
        "import os\n"
        "with open(os.environ['GK_TEST_RUNS'], 'a', encoding='utf-8') as fh:\n"
        "    fh.write(agency_id + '\\n')\n"
        "if agency_id == os.environ.get('GK_TEST_FAIL'):\n"
        "    raise RuntimeError('boom')",
    )
    out = tmp_path / "out"
    codes = ["0012", "12"]
    first = run_reports(REFUSED, out, agencies=codes, workers=1, notebook=notebook, progress=False)
    assert {r.agency_id: r.status for r in first.results} == {"0012": "ok", "12": "failed"}
    assert counter.read_text(encoding="utf-8").split() == ["0012", "12"]
    # nothing changed: the cell would fail again, so nothing runs
    second = run_reports(REFUSED, out, agencies=codes, workers=1, notebook=notebook, progress=False)
    assert {r.agency_id: r.status for r in second.results} == {"0012": "ok", "12": "failed"}
    assert counter.read_text(encoding="utf-8").split() == ["0012", "12"]
    # --only-failed retries that one alone
    monkeypatch.setenv("GK_TEST_FAIL", "none")
    third = run_reports(
        REFUSED, out, agencies=codes, workers=1, notebook=notebook, progress=False, only_failed=True
    )
    assert {r.agency_id: r.status for r in third.results} == {"0012": "ok", "12": "ok"}
    assert counter.read_text(encoding="utf-8").split() == ["0012", "12", "12"]
    assert {p.name for p in out.glob("*.html")} == {"0012.html", "12.html", "index.html"}


def _encoding(path: Path) -> str:
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp950"


def _text(path: Path) -> str:
    return path.read_text(encoding=_encoding(path))


def test_a_round_is_read_once_until_its_files_change(tmp_path, monkeypatch):
    from guidekit.report import incremental

    monkeypatch.setenv("GUIDEKIT_CACHE_DIR", str(tmp_path / "cache"))
    answers = tmp_path / "answers"
    shutil.copytree(REFUSED, answers)
    reads = []
    real = incremental.load_round
    monkeypatch.setattr(incremental, "load_round", lambda *a, **k: reads.append(a) or real(*a, **k))
    first = incremental.cached_round(answers)
    again = incremental.cached_round(answers)
    assert len(reads) == 1  # the second came from the cache
    assert again.scores.overall.equals(first.scores.overall)
    assert len(list((tmp_path / "cache" / "rounds").glob("*.pkl"))) == 1
    target = next(answers.glob("*.csv"))
    target.write_bytes(target.read_bytes().replace("測試機關".encode(), "測驗機關".encode()))
    changed = incremental.cached_round(answers)
    assert len(reads) == 2 and set(changed.scores.overall["agency_name"]) != set(
        first.scores.overall["agency_name"]
    )


@pytest.mark.parametrize("value", ["garbage", "tcp://127.0.0.1", "http://x:1", "tcp://[::1"])
def test_a_scheduler_that_is_not_an_address_is_refused_before_anything_is_written(tmp_path, value):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["reports", "--responses", str(REFUSED), "--out", str(out), "--scheduler", value]
    )
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "tcp://" in result.output and value in result.output
    assert not out.exists()
    batch.check_scheduler("tcp://10.0.0.5:8786")  # addresses and local pass
    batch.check_scheduler("tcp://[::1]:8786")
    batch.check_scheduler("local")


def test_a_report_kept_with_pdf_needs_its_pdf(tmp_path):
    # a rerun with --pdf makes again a report whose PDF was deleted since
    from guidekit.files import remember

    out = tmp_path / "out"
    out.mkdir()
    (out / "A.html").write_text("<p>A</p>", encoding="utf-8")
    remember([out / "A.html"])
    entry = {"agency_id": "A", "agency_name": "甲", "file": "A.html", "status": "ok", "key": "k"}
    (out / "manifest.json").write_text(json.dumps({"agencies": [entry]}), encoding="utf-8")
    kept, _, _ = batch._previous_results(out, {"A": "k"}, {"A"}, pdf=False)
    assert [r.agency_id for r in kept] == ["A"]
    kept, removed, _ = batch._previous_results(out, {"A": "k"}, {"A"}, pdf=True)
    assert kept == [] and removed == ["A.html"]
    # an agency not asked for this run stays, PDF or not
    kept, removed, _ = batch._previous_results(out, {"A": "k"}, {"B"}, pdf=True)
    assert [r.agency_id for r in kept] == ["A"] and removed == []
    (out / "A.pdf").write_bytes(b"%PDF-1.7")
    remember([out / "A.pdf"])
    kept, _, _ = batch._previous_results(out, {"A": "k"}, {"A"}, pdf=True)
    assert [r.agency_id for r in kept] == ["A"]


def test_pdf_for_one_agency_keeps_the_other_reports(tmp_path, monkeypatch):
    # asking for a PDF of one agency used to make every other report "stale" and remove it
    out = tmp_path / "out"
    first = run_reports(REFUSED, out, workers=1, progress=False)
    assert first.ok
    before = _mtimes(out)
    made = []
    monkeypatch.setattr(batch, "pdf_bytes", lambda html, name="": made.append(name) or b"%PDF")
    monkeypatch.setattr(batch, "require_engine", lambda: "chromium")
    one = run_reports(REFUSED, out, agencies=["0012"], workers=1, progress=False, pdf=True)
    assert one.ok and made == ["0012.html"]
    after = _mtimes(out)
    assert set(after) == set(before)  # no report removed
    assert {n for n in before if before[n] != after[n]} == {"0012.html"}  # nor made again
    assert (out / "0012.pdf").is_file()
    # a rerun without --pdf keeps the kept reports' PDFs and makes nothing again
    again = run_reports(REFUSED, out, workers=1, progress=False)
    assert all(r.reused for r in again.results) and (out / "0012.pdf").is_file()
