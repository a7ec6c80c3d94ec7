"""Field case backup-overwrites-target and its siblings: no command replaces or truncates a
file it did not write (guidekit.files).

Every writer is tried against a file of the user's (refused, the message names the file
and what to do, the file stays byte for byte) and against its own earlier output
(re-written).  The refusal texts below are written out by hand from the rule, not taken
from guidekit's output.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure

from guidekit import files
from guidekit.cli import main
from guidekit.files import RECORD, WriteRefused
from guidekit.intake.responses import validate_responses
from guidekit.research.plots import Chart
from guidekit.store import Change, Sheet, open_store

from .conftest import FIXTURES

CASE = FIXTURES / "cases" / "backup-overwrites-target"
SHEET = Sheet("2026", "0012", "t", "s", "service", "R1")
BOM = b"\xef\xbb\xbf"


def exists_zh(path: Path) -> str:
    return (
        f"{path} 已存在，而且不是 guidekit 寫出的檔案，因此不會覆寫。"
        "請改用其他檔名，或先把這個檔案移到別處。"
    )


def changed_zh(path: Path) -> str:
    return (
        f"{path} 是 guidekit 先前寫出的，但之後已被修改或換成其他檔案，因此不會覆寫。"
        "請改用其他檔名，或先把這個檔案移到別處。"
    )


def never_zh(path: Path) -> str:
    return (
        f"{path} 已存在；備份從不覆寫任何檔案（包括先前的備份）。"
        "請改用新的檔名，或先把這個檔案移到別處。"
    )


NOTHING_ZH = "未寫入任何檔案。"


def listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def cli(*args: object, lang: str = "zh-TW"):
    return CliRunner().invoke(main, ["--lang", lang, *map(str, args)])


def service_items(fw) -> list[str]:
    return [item.id for item in fw.items["service"]]


# -- the case: guidekit backup ------------------------------------------------------------------


def test_swapped_backup_arguments_leave_a_live_store_whole(tmp_path, fw):
    # repro.py: 2 answers, a backup, 28 more with the store open, `backup old live`, 20 more
    live, old = tmp_path / "live.sqlite", tmp_path / "old.sqlite"
    items = service_items(fw)[:50]
    with open_store(live, fw) as store:
        for item in items[:2]:
            store.record(Change(SHEET, item, "Y"))
    run = cli("backup", live, old)
    assert run.exit_code == 0
    assert run.output == f"已將答案儲存檔 {live} 完整備份到 {old}（2 筆作答紀錄）。\n"
    backup_bytes = old.read_bytes()

    with open_store(live, fw) as store:  # the workshop goes on: a writer has the store open
        for item in items[2:30]:
            store.record(Change(SHEET, item, "P"))
        swapped = cli("backup", old, live)
        assert swapped.exit_code == 2 and "Traceback" not in swapped.output
        assert swapped.output == f"錯誤：{never_zh(live)}{NOTHING_ZH}\n"
        for item in items[30:50]:
            store.record(Change(SHEET, item, "N"))

    with open_store(live, fw, readonly=True) as store:
        log = store.log()
    assert log["item_id"].tolist() == items  # all 50 answers survive, in order
    assert log["new_answer"].tolist() == ["Y"] * 2 + ["P"] * 28 + ["N"] * 20
    assert old.read_bytes() == backup_bytes
    assert listing(tmp_path) == {"live.sqlite", "old.sqlite", RECORD}


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh-TW", "錯誤：{p} 已存在；備份從不覆寫任何檔案（包括先前的備份）。"
         "請改用新的檔名，或先把這個檔案移到別處。未寫入任何檔案。\n"),
        ("en", "error: {p} already exists; a backup never replaces a file (not even an earlier "
         "backup). Choose a new name, or move that file away first. Nothing was written.\n"),
    ],
)  # fmt: skip
def test_backup_onto_notes_csv_is_refused_and_the_file_stays(tmp_path, fw, lang, expected):
    with open_store(tmp_path / "store" / "store.sqlite", fw) as store:
        store.record(Change(SHEET, service_items(fw)[0], "Y"))
    work = tmp_path / "work"
    work.mkdir()
    notes = work / "notes.csv"
    shutil.copyfile(CASE / "notes.csv", notes)
    run = cli("backup", tmp_path / "store" / "store.sqlite", notes, lang=lang)
    assert run.exit_code == 2
    assert run.output == expected.format(p=notes)
    assert notes.read_bytes() == b"x\n"
    assert listing(work) == {"notes.csv"}


@pytest.mark.parametrize("suffix", ["-wal", "-shm", "-journal"])
def test_backup_refuses_a_target_whose_sqlite_journal_exists(tmp_path, fw, suffix):
    store_path = tmp_path / "store.sqlite"
    with open_store(store_path, fw) as store:
        store.record(Change(SHEET, service_items(fw)[0], "Y"))
    target = tmp_path / "out" / "copy.sqlite"
    target.parent.mkdir()
    sibling = target.with_name("copy.sqlite" + suffix)
    sibling.write_bytes(b"another database's journal")
    run = cli("backup", store_path, target)
    assert run.exit_code == 2
    assert run.output == (
        f"錯誤：{target} 旁已有 {sibling}（SQLite 資料庫的日誌檔，會被當成備份的一部分讀取），"
        f"因此不寫入 {target}。請改用新的檔名，或先把這些檔案移到別處。{NOTHING_ZH}\n"
    )
    assert sibling.read_bytes() == b"another database's journal"
    assert listing(target.parent) == {sibling.name}


def test_backup_counts_the_copy_leaves_no_journal_and_never_replaces_itself(tmp_path, fw):
    store_path = tmp_path / "store.sqlite"
    items = service_items(fw)
    target = tmp_path / "out" / "copy.sqlite"
    with open_store(store_path, fw) as store:  # running: answers still in the -wal file
        for item in items[:7]:
            store.record(Change(SHEET, item, "P"))
        run = cli("backup", store_path, target, lang="en")
        assert run.exit_code == 0
        assert run.output == f"Backed up the answer store {store_path} to {target} (7 log rows).\n"
        assert listing(target.parent) == {"copy.sqlite", RECORD}  # no -wal, -shm, temp file
        copy = sqlite3.connect(f"{target.as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            assert copy.execute("SELECT count(*) FROM answer_log").fetchone() == (7,)
            assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        finally:
            copy.close()
        first = target.read_bytes()
        store.record(Change(SHEET, items[7], "Y"))
        again = cli("backup", store_path, target)  # its own earlier backup: still refused
        assert again.exit_code == 2
        assert again.output == f"錯誤：{never_zh(target)}{NOTHING_ZH}\n"
        assert target.read_bytes() == first
        folder = tmp_path / "a-folder"
        folder.mkdir()
        run = cli("backup", store_path, folder)
        assert run.exit_code == 2
        assert run.output == (
            f"錯誤：{folder} 已存在，而且不是一般檔案（資料夾或連結），因此不會取代。"
            f"請改用其他檔名，或先把它移到別處。{NOTHING_ZH}\n"
        )
    assert listing(target.parent) == {"copy.sqlite", RECORD}


# -- guidekit score -o --------------------------------------------------------------------------


def test_score_output_replaces_only_its_own_file(tmp_path, example_round):
    printed = CliRunner().invoke(main, ["score", str(example_round)])
    assert printed.exit_code == 0
    expected = BOM + printed.stdout.encode("utf-8")  # the same table, with a BOM for Excel

    out = tmp_path / "scores.csv"
    for _ in range(2):  # the second run replaces its own earlier output
        run = cli("score", example_round, "-o", out)
        assert run.exit_code == 0, run.output
        assert out.read_bytes() == expected
    assert listing(tmp_path) == {"scores.csv", RECORD}

    out.write_bytes(BOM + b"my,own,edits\n")  # the user changed it in Excel
    run = cli("score", example_round, "-o", out)
    assert run.exit_code == 2 and "Traceback" not in run.output
    assert run.output == f"錯誤：{changed_zh(out)}{NOTHING_ZH}\n"
    assert out.read_bytes() == BOM + b"my,own,edits\n"

    theirs = tmp_path / "notes.csv"
    shutil.copyfile(CASE / "notes.csv", theirs)
    run = cli("score", example_round, "-o", theirs, lang="en")
    assert run.exit_code == 2
    assert run.output == (
        f"error: {theirs} already exists and was not written by guidekit, so it is not "
        "replaced. Choose another name, or move that file away first. Nothing was written.\n"
    )
    assert theirs.read_bytes() == b"x\n"
    assert listing(tmp_path) == {"scores.csv", "notes.csv", RECORD}


# -- guidekit export (open-data package) ----------------------------------------------------------


def test_export_re_writes_its_package_but_not_a_users_table(tmp_path, example_round):
    out = tmp_path / "pkg"
    first = cli("export", "--responses", example_round, "--out", out)
    assert first.exit_code == 0, first.output
    again = cli("export", "--responses", example_round, "--out", out)  # its own package
    assert again.exit_code == 0, again.output
    assert not [p for p in out.iterdir() if p.name.startswith(".guidekit-export")]

    answers = out / "answers.csv"
    answers.write_bytes(b"respondent,answer\nme,Y\n")  # the user saved their table over it
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    run = cli("export", "--responses", example_round, "--out", out)
    assert run.exit_code == 2 and "Traceback" not in run.output
    assert run.output == f"錯誤：{changed_zh(answers)}{NOTHING_ZH}\n"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# -- the store's export ------------------------------------------------------------------------


def test_store_export_replaces_its_own_file_and_refuses_the_users(tmp_path, fw):
    items = service_items(fw)
    out = tmp_path / "out"
    with open_store(tmp_path / "store.sqlite", fw) as store:
        store.record(Change(SHEET, items[0], "Y"))
        for name in ("a.csv", "a.xlsx"):
            store.export(out / name)
        store.record(Change(SHEET, items[1], "N"))
        for name in ("a.csv", "a.xlsx"):
            store.export(out / name)  # its own earlier export: replaced
            store.export(out / f"fresh-{name}")
        assert (out / "a.csv").read_bytes() == (out / "fresh-a.csv").read_bytes()
        assert len(validate_responses(out / "a.xlsx", fw).responses.frame) == 2

        theirs = out / "answers.csv"
        shutil.copyfile(CASE / "notes.csv", theirs)
        with pytest.raises(WriteRefused) as info:
            store.export(theirs)
        assert info.value.text("zh-TW") == exists_zh(theirs) + NOTHING_ZH
        assert info.value.refused == [(theirs, "exists")]
        assert theirs.read_bytes() == b"x\n"
    assert listing(out) == {"a.csv", "a.xlsx", "fresh-a.csv", "fresh-a.xlsx", "answers.csv", RECORD}


# -- the workshop's facilitator view -------------------------------------------------------------


@pytest.fixture
def team(tmp_path, fw, monkeypatch):
    monkeypatch.setenv("GUIDEKIT_WORKSHOP_LOG", str(tmp_path / "workshop.log"))
    from guidekit.widgets import Workshop

    with open_store(tmp_path / "store.sqlite", fw) as store:
        store.record(Change(Sheet("2026", "0012", "機關", "", "service", "甲"), "SV-P01-01", "Y"))
        view = Workshop(store, query="round=2026&agency=0012&view=team").view
        # one fixed folder name, as when the button is pressed twice within a second
        monkeypatch.setattr(view.model, "_stem", lambda: "2026_0012_now")
        yield view, store


def test_workshop_export_pressed_twice_and_onto_a_users_file(team, tmp_path, fw):
    view, store = team
    folder = tmp_path / "exports" / "2026_0012_now"
    view.export_button.click()
    view.export_button.click()  # its own files: written again
    assert not view.errors.widget.value
    assert listing(folder) == {"answers.csv", "answers.xlsx", "answers.ods", RECORD}
    first_csv = (folder / "answers.csv").read_bytes()

    (folder / "answers.xlsx").write_bytes(b"the team's own workbook")
    store.record(Change(Sheet("2026", "0012", "機關", "", "service", "甲"), "SV-P01-02", "N"))
    view.export_button.click()
    shown = view.errors.widget.value
    assert changed_zh(folder / "answers.xlsx") + NOTHING_ZH in shown
    assert (folder / "answers.xlsx").read_bytes() == b"the team's own workbook"
    assert (folder / "answers.csv").read_bytes() == first_csv  # checked both before writing
    assert listing(folder) == {"answers.csv", "answers.xlsx", "answers.ods", RECORD}


def test_workshop_report_refuses_a_users_answer_file(team, tmp_path, monkeypatch):
    import types

    from guidekit.report import batch

    view, _store = team
    calls = []

    def fake_run_reports(**kwargs):
        calls.append(kwargs)
        Path(kwargs["out"]).mkdir(parents=True, exist_ok=True)
        (Path(kwargs["out"]) / "r.html").write_text("<p>report</p>", encoding="utf-8")
        result = types.SimpleNamespace(status="ok", file="r.html", error=None)
        return types.SimpleNamespace(results=[result])

    monkeypatch.setattr(batch, "run_reports", fake_run_reports)
    folder = tmp_path / "reports" / "2026_0012_now"
    view.report_button.click()
    view.report_button.click()  # its own answer files: written again
    assert not view.errors.widget.value and len(calls) == 2

    theirs = folder / "answers.csv"
    shutil.copyfile(CASE / "notes.csv", theirs)
    (folder / RECORD).unlink()  # the record is gone: nothing here counts as guidekit's
    view.report_button.click()
    assert exists_zh(theirs) in view.errors.widget.value
    assert exists_zh(folder / "answers.xlsx") in view.errors.widget.value  # both named at once
    assert theirs.read_bytes() == b"x\n"
    assert len(calls) == 2  # no report was run on the user's file


# -- a saved chart ----------------------------------------------------------------------------


def test_a_saved_chart_replaces_only_its_own_png(tmp_path):
    chart = Chart(Figure(figsize=(1, 1)), pd.DataFrame(), "t")
    path = tmp_path / "chart.png"
    chart.save(path)
    chart.save(path)
    assert path.read_bytes() == chart.png()
    theirs = tmp_path / "photo.png"
    theirs.write_bytes(b"\x89PNG the user's photo")
    with pytest.raises(WriteRefused) as info:
        chart.save(theirs)
    assert info.value.text("zh-TW") == exists_zh(theirs) + NOTHING_ZH
    assert theirs.read_bytes() == b"\x89PNG the user's photo"
    assert listing(tmp_path) == {"chart.png", "photo.png", RECORD}


# -- the helper itself -----------------------------------------------------------------------------


def test_the_record_holds_the_digest_of_the_bytes_written(tmp_path):
    files.write_output(tmp_path / "a.txt", "一\n", encoding="utf-8")
    record = json.loads((tmp_path / RECORD).read_text(encoding="utf-8"))
    digest = hashlib.sha256("一\n".encode()).hexdigest()
    assert record["format"] == files.RECORD_FORMAT
    assert record["files"] == {"a.txt": {"sha256": digest, "bytes": 4}}
    assert files.is_own(tmp_path / "a.txt")
    (tmp_path / "a.txt").write_text("二\n", encoding="utf-8")
    assert not files.is_own(tmp_path / "a.txt")
    assert files.remove_output(tmp_path / "a.txt") is False  # changed: never removed
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "二\n"


def test_every_refused_file_is_named_at_once(tmp_path):
    (tmp_path / "a.csv").write_text("mine", encoding="utf-8")
    (tmp_path / "b.csv").write_text("mine too", encoding="utf-8")
    with pytest.raises(WriteRefused) as info:
        files.check_targets([tmp_path / "a.csv", tmp_path / "new.csv", tmp_path / "b.csv"])
    assert info.value.text("zh-TW") == (
        exists_zh(tmp_path / "a.csv") + exists_zh(tmp_path / "b.csv") + NOTHING_ZH
    )


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_link_and_a_foreign_record_are_not_replaced(tmp_path):
    target = tmp_path / "elsewhere.csv"
    target.write_text("theirs", encoding="utf-8")
    (tmp_path / "link.csv").symlink_to(target)
    with pytest.raises(WriteRefused) as info:
        files.write_output(tmp_path / "link.csv", "x", encoding="utf-8")
    assert info.value.refused == [(tmp_path / "link.csv", "not_file")]
    assert target.read_text(encoding="utf-8") == "theirs"

    other = tmp_path / "other"
    other.mkdir()
    (other / RECORD).write_text("someone else's notes", encoding="utf-8")
    with pytest.raises(WriteRefused) as info:
        files.write_output(other / "new.csv", "x", encoding="utf-8")
    assert info.value.refused == [(other / RECORD, "record")]
    assert (other / RECORD).read_text(encoding="utf-8") == "someone else's notes"
    assert listing(other) == {RECORD}


def test_without_hard_links_a_new_file_is_still_never_put_over_another(tmp_path, monkeypatch):
    def no_links(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # FAT, some network drives

    monkeypatch.setattr(files.os, "link", no_links)
    files.write_output(tmp_path / "new.csv", b"data")
    assert (tmp_path / "new.csv").read_bytes() == b"data"
    files.write_output(tmp_path / "new.csv", b"data 2")  # its own: replaced
    assert (tmp_path / "new.csv").read_bytes() == b"data 2"
    assert listing(tmp_path) == {"new.csv", RECORD}
