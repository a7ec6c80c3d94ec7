"""The response store: append-only log, derived current answers, the agreed-answer rule,
exports that ``guidekit validate`` reads, and writers in several processes losing nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time

import pandas as pd
import pytest

from guidekit.responses import COLUMNS, validate_responses
from guidekit.store import (
    AGREED_RESPONDENT,
    CURRENT_COLUMNS,
    LOG_COLUMNS,
    Change,
    Sheet,
    SQLiteStore,
    StoreError,
    default_store_path,
    open_store,
)

from .helpers import HOSTILE_NOTE

SHEET = Sheet("2026", "0012", "測試機關", "數位服務", "service", "甲")


def items(fw, n=None, instrument="service"):
    bank = [i.id for i in fw.items[instrument]]
    return bank if n is None else bank[:n]


@pytest.fixture
def store(tmp_path, fw):
    with open_store(tmp_path / "store.sqlite", fw) as s:
        yield s


def test_each_change_is_one_log_row_with_old_and_new(store, fw):
    a, b = items(fw, 2)
    store.record(Change(SHEET, a, "Y"))
    store.record(Change(SHEET, a, "P", "部分做到"))
    store.record(Change(SHEET, b, "N"))
    log = store.log()
    assert list(log.columns) == list(LOG_COLUMNS)
    assert log[["item_id", "old_answer", "new_answer", "old_note", "new_note"]].astype(
        object
    ).where(
        log[["item_id", "old_answer", "new_answer", "old_note", "new_note"]].notna(), None
    ).values.tolist() == [
        [a, None, "Y", "", ""],
        [a, "Y", "P", "", "部分做到"],
        [b, None, "N", "", ""],
    ]
    assert log["who"].tolist() == ["甲", "甲", "甲"]
    assert all(t.endswith("+00:00") for t in log["at"])  # UTC
    assert (log["framework_version"] == fw.version).all()
    current = store.current()
    assert list(current.columns) == list(CURRENT_COLUMNS)
    assert dict(zip(current["item_id"], current["answer"], strict=True)) == {a: "P", b: "N"}


def test_a_change_to_the_same_value_appends_nothing(store, fw):
    a = items(fw, 1)[0]
    first = store.record(Change(SHEET, a, "Y", "x"))
    again = store.record(Change(SHEET, a, "Y", "x"))
    assert first.changed and first.log_id == 1
    assert not again.changed and again.log_id is None
    assert len(store.log()) == 1


def test_the_log_is_append_only(store, fw):
    store.record(Change(SHEET, items(fw, 1)[0], "Y"))
    raw = sqlite3.connect(store.location)
    for sql in ("UPDATE answer_log SET new_answer = 'N'", "DELETE FROM answer_log"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute(sql)
    raw.close()
    assert store.current()["answer"].tolist() == ["Y"]


@pytest.mark.parametrize(
    "change, code",
    [
        (Change(SHEET, "SV-NOPE-01", "Y"), "item"),
        (Change(SHEET, "PL-P01-01", "Y"), "item"),  # a plan item on the service form
        (Change(SHEET, "SV-P01-01", "maybe"), "answer"),
        (
            Change(SHEET, "SV-P01-01", "符合"),
            "answer",
        ),  # labels are for files; the store keeps codes
        (Change(SHEET, "SV-P01-01", "NA", "  "), "na-reason"),
        (
            Change(
                Sheet("2026", "0012", "測試機關", "", "service", AGREED_RESPONDENT),
                "SV-P01-01",
                "Y",
            ),
            "reserved",
        ),
        (
            Change(Sheet("2026", " 0012", "測試機關", "", "service", "甲"), "SV-P01-01", "Y"),
            "unclean",
        ),
        (
            Change(Sheet("2026", "0012", "測試機關", "", "service", "甲\u200b"), "SV-P01-01", "Y"),
            "unclean",
        ),
        (Change(Sheet("2026", "0012", "", "", "service", "甲"), "SV-P01-01", "Y"), "blank"),
        (
            Change(Sheet("2026", "0012", "測試機關", "", "form9", "甲"), "SV-P01-01", "Y"),
            "instrument",
        ),
    ],
)
def test_invalid_changes_are_refused_and_nothing_is_written(store, change, code):
    with pytest.raises(StoreError) as info:
        store.record(change)
    assert info.value.code == code
    assert info.value.text("zh-TW") and info.value.text("en")
    assert store.log().empty


def test_several_changes_are_written_all_or_none(store, fw):
    a, b = items(fw, 2)
    with pytest.raises(StoreError):
        store.record_many([Change(SHEET, a, "Y"), Change(SHEET, b, "bad")])
    assert store.log().empty
    saved = store.record_many([Change(SHEET, a, "Y"), Change(SHEET, b, "N")])
    assert [s.log_id for s in saved] == [1, 2]
    assert len({s.at for s in saved}) == 1  # one transaction, one time


def test_current_answers_are_derived_from_the_log(store, fw):
    a = items(fw, 1)[0]
    for code in ("Y", "N", "P", "N"):
        store.record(Change(SHEET, a, code))
    # What a reader of the raw log would compute by hand: the newest row of the slot.
    raw = sqlite3.connect(store.location)
    newest = raw.execute("SELECT new_answer FROM answer_log ORDER BY id DESC LIMIT 1").fetchone()[0]
    view = raw.execute("SELECT answer FROM current_answers").fetchall()
    raw.close()
    assert newest == "N" and view == [("N",)]
    assert store.current()["answer"].tolist() == ["N"]
    assert len(store.log()) == 4


def test_responses_are_canonical(store, fw):
    a, b, c = items(fw, 3)
    store.record(Change(SHEET, a, "Y", HOSTILE_NOTE))
    store.record(Change(SHEET, b, "NA", "本服務無此情境"))
    store.record(Change(SHEET, c, None, "還在確認"))  # a note without an answer
    renamed = Sheet("2026", "0012", "測試機關（新名）", "數位服務", "service", "乙")
    store.record(Change(renamed, a, "N"))
    responses = store.responses(fw)
    frame = responses.frame
    assert list(frame.columns) == list(COLUMNS)
    assert all(str(frame[c].dtype) == ("Int64" if c == "source_row" else "string") for c in COLUMNS)
    assert set(frame["agency_id"]) == {"0012"}  # leading zeros kept
    assert set(frame["agency_name"]) == {"測試機關（新名）"}  # the latest name, one per agency
    assert set(frame["source_file"]) == {store.location}
    log_ids = dict(
        zip(store.log()["item_id"] + store.log()["respondent"], store.log()["log_id"], strict=True)
    )
    for row in frame.itertuples():
        assert row.source_row == log_ids[row.item_id + row.respondent]
    mine = frame[frame["respondent"] == "甲"].set_index("item_id")
    assert mine.loc[a, "note"] == HOSTILE_NOTE
    assert mine.loc[b, "answer"] == "NA"
    assert pd.isna(mine.loc[c, "answer"]) and mine.loc[c, "note"] == "還在確認"


def test_a_cleared_slot_is_left_out(store, fw):
    a, b = items(fw, 2)
    store.record(Change(SHEET, a, "Y", "x"))
    store.record(Change(SHEET, b, "N"))
    store.record(Change(SHEET, a, None, ""))
    assert store.responses(fw).frame["item_id"].tolist() == [b]


def test_team_rule_agreed_answer_replaces_the_respondents_answers(store, fw):
    a, b = items(fw, 2)
    other = Sheet(
        SHEET.round, SHEET.agency_id, SHEET.agency_name, SHEET.service, SHEET.instrument, "乙"
    )
    for sheet, answers in ((SHEET, ("Y", "Y")), (other, ("N", "P"))):
        for item, code in zip((a, b), answers, strict=True):
            store.record(Change(sheet, item, code))
    store.record(Change(SHEET.agreed(), a, "P", "討論後同意部分符合", who="主持人"))

    team = store.responses(fw).frame
    rows = sorted(zip(team["item_id"], team["respondent"], team["answer"], strict=True))
    assert rows == sorted([(a, AGREED_RESPONDENT, "P"), (b, "甲", "Y"), (b, "乙", "P")])
    individual = store.responses(fw, agreed="individual").frame
    assert len(individual) == 4 and AGREED_RESPONDENT not in set(individual["respondent"])
    assert store.log(kind="agreed")["who"].tolist() == ["主持人"]

    # Clearing the agreed answer gives the item back to the respondents.
    store.record(Change(SHEET.agreed(), a, None, "討論後同意部分符合"))
    assert len(store.responses(fw).frame) == 4


def test_export_csv_is_read_back_by_validate(store, fw, tmp_path):
    a, b, c = items(fw, 3)
    store.record(Change(SHEET, a, "Y", HOSTILE_NOTE))
    store.record(Change(SHEET, b, "NA", "不涉及"))
    store.record(Change(SHEET, c, "P", "=1+2"))
    store.record(Change(SHEET.agreed(), c, "N", "共識"))
    for headers in ("zh-TW", "canonical"):
        path = store.export(tmp_path / f"{headers}.csv", headers=headers)
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
        header = data[3:].decode("utf-8").splitlines()[0]
        assert header.startswith("評估回合,機關代碼" if headers == "zh-TW" else "round,agency_id")
        report = validate_responses(path, fw)
        assert report.ok, [p.format() for p in report.problems]
        assert not report.problems  # not even a warning
        got = report.responses.frame
        want = store.responses(fw).frame
        keys = [
            "round",
            "agency_id",
            "agency_name",
            "service",
            "instrument",
            "respondent",
            "item_id",
            "answer",
            "note",
            "answered_at",
            "framework_version",
        ]
        assert (
            got[keys].astype(object).where(got[keys].notna(), None).values.tolist()
            == want[keys].astype(object).where(want[keys].notna(), None).values.tolist()
        )
    zh = (tmp_path / "zh-TW.csv").read_text(encoding="utf-8-sig")
    assert ",符合," in zh and ",不適用," in zh and "團隊共識" in zh


def test_export_xlsx_keeps_text_as_text(store, fw, tmp_path):
    from openpyxl import load_workbook

    a, b = items(fw, 2)
    store.record(Change(SHEET, a, "Y", '=HYPERLINK("http://x")'))
    store.record(Change(SHEET, b, "N", HOSTILE_NOTE))
    path = store.export(tmp_path / "answers.xlsx")
    sheet = load_workbook(path).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert all(c.data_type == "s" for c in cells if c.value is not None)
    report = validate_responses(path, fw)
    assert report.ok and not report.problems, [p.format() for p in report.problems]
    frame = report.responses.frame.set_index("item_id")
    assert frame.loc[a, "note"] == '=HYPERLINK("http://x")'
    assert frame.loc[b, "note"] == HOSTILE_NOTE
    assert set(frame["agency_id"]) == {"0012"}


def test_export_refuses_other_file_types(store, tmp_path):
    with pytest.raises(StoreError) as info:
        store.export(tmp_path / "answers.ods")
    assert info.value.code == "export-type"


def test_store_survives_reopening_and_refuses_a_newer_schema(tmp_path, fw):
    path = tmp_path / "s.sqlite"
    with open_store(path, fw) as s:
        s.record(Change(SHEET, items(fw, 1)[0], "Y"))
    with open_store(path, fw) as s:
        assert s.current()["answer"].tolist() == ["Y"]
    raw = sqlite3.connect(path)
    raw.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError) as info:
        open_store(path, fw)
    assert info.value.code == "schema"


def test_store_is_a_wal_database(store):
    raw = sqlite3.connect(store.location)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_default_location_and_backends(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIDEKIT_STORE", str(tmp_path / "named.sqlite"))
    assert default_store_path() == tmp_path / "named.sqlite"
    monkeypatch.delenv("GUIDEKIT_STORE")
    assert default_store_path().name == "workshop.sqlite"
    with pytest.raises(StoreError) as info:
        open_store("postgresql://user:secret@db/guidekit")
    assert info.value.code == "backend" and "secret" not in str(info.value)


def test_a_store_that_is_not_sqlite_is_a_readable_error(tmp_path):
    path = tmp_path / "not-a-store.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError) as info:
        SQLiteStore(path)
    assert info.value.code == "open"


# -- several processes ---------------------------------------------------------------------


def _writer(path: str, respondent: str, n: int, start) -> None:
    from guidekit.framework import load_framework

    fw = load_framework()
    sheet = Sheet("2026", "0012", "測試機關", "", "service", respondent)
    bank = [i.id for i in fw.items["service"]][:n]
    start.wait()
    with open_store(path, fw) as store:
        for k, item in enumerate(bank):
            store.record(Change(sheet, item, ("Y", "P", "N")[k % 3], f"{respondent}-{k}"))


def test_writers_in_several_processes_lose_nothing(tmp_path, fw):
    path = str(tmp_path / "shared.sqlite")
    open_store(path, fw).close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    n, names = 60, ["甲", "乙", "丙", "丁"]
    workers = [context.Process(target=_writer, args=(path, r, n, start)) for r in names]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    with open_store(path, fw) as store:
        log = store.log()
        assert len(log) == n * len(names)
        assert log["log_id"].is_monotonic_increasing and log["log_id"].is_unique
        current = store.current()
        for r in names:
            mine = current[current["respondent"] == r]
            assert len(mine) == n
            assert sorted(mine["note"]) == sorted(f"{r}-{k}" for k in range(n))


def _same_slot(path: str, code: str, n: int, start) -> None:
    from guidekit.framework import load_framework

    fw = load_framework()
    sheet = Sheet("2026", "0012", "測試機關", "", "service", "甲")
    start.wait()
    with open_store(path, fw) as store:
        for k in range(n):
            store.record(Change(sheet, "SV-P01-01", code, f"{code}{k}"))


def test_concurrent_writes_to_one_slot_keep_the_old_new_chain(tmp_path, fw):
    path = str(tmp_path / "slot.sqlite")
    open_store(path, fw).close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_same_slot, args=(path, c, 40, start)) for c in ("Y", "N", "P")
    ]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    with open_store(path, fw) as store:
        log = store.log().astype(object)
    assert len(log) == 120  # every note differs, so every write is a change
    previous = (None, "")
    for row in log.itertuples():
        old = (None if pd.isna(row.old_answer) else row.old_answer, row.old_note)
        assert old == previous  # each row's "old" is exactly the row before it: no lost update
        previous = (row.new_answer, row.new_note)


def _until_killed(path: str, pipe) -> None:
    from guidekit.framework import load_framework

    fw = load_framework()
    sheet = Sheet("2026", "0012", "測試機關", "", "service", "甲")
    bank = [i.id for i in fw.items["service"]]
    with open_store(path, fw) as store:
        k = 0
        while True:
            item = bank[k % len(bank)]
            saved = store.record(Change(sheet, item, ("Y", "N")[(k // len(bank)) % 2], f"n{k}"))
            pipe.send(saved.log_id)  # "shown as saved": only after the commit returned
            k += 1


def test_a_killed_writer_loses_nothing_it_reported_saved(tmp_path, fw):
    path = str(tmp_path / "killed.sqlite")
    open_store(path, fw).close()
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    worker = context.Process(target=_until_killed, args=(path, send))
    worker.start()
    reported: list[int] = []
    deadline = time.monotonic() + 60
    while len(reported) < 150 and time.monotonic() < deadline:
        if receive.poll(1):
            reported.append(receive.recv())
    os.kill(worker.pid, signal.SIGKILL)  # mid-write, most likely
    worker.join(30)
    while receive.poll(0.2):
        reported.append(receive.recv())
    assert len(reported) >= 150
    with open_store(path, fw) as store:
        ids = set(store.log()["log_id"])
    assert set(reported) <= ids


def test_a_store_is_read_wherever_answer_files_are(tmp_path, fw):
    """`guidekit validate/score/reports --responses workshop.sqlite` read the store's current answers."""
    from click.testing import CliRunner

    from guidekit.cli import main
    from guidekit.responses import read_responses
    from guidekit.store import Change, Sheet, open_store

    path = tmp_path / "workshop.sqlite"
    store = open_store(path, fw)
    sheet = Sheet("2026", "0012", "測試機關", "", "service", "甲")
    store.record(Change(sheet, "SV-P01-01", "Y"))
    store.record(Change(sheet, "SV-P01-01", "P", "改為部分符合"))
    store.record(Change(sheet, "SV-P01-02", "NA", "無此業務"))
    store.close()
    responses = read_responses(path, fw)
    frame = responses.frame.set_index("item_id")
    assert (
        frame.loc["SV-P01-01", "answer"] == "P" and frame.loc["SV-P01-01", "note"] == "改為部分符合"
    )
    assert frame.loc["SV-P01-02", "answer"] == "NA" and set(frame["agency_id"]) == {"0012"}
    assert [s.encoding for s in responses.sources] == ["sqlite"]
    result = CliRunner().invoke(
        main, ["score", str(path), "--level", "overall", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert '"agency_id":"0012"' in result.output.replace(" ", "")
