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

from guidekit.answers import AGREED_RESPONDENT, COLUMNS
from guidekit.intake.responses import validate_responses
from guidekit.store import (
    CURRENT_COLUMNS,
    KEEP,
    LOG_COLUMNS,
    Change,
    Conflict,
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
def store(store_location, fw):
    with open_store(store_location, fw) as s:
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


def _raw(location: str):
    """A plain connection to the store's database (sqlite3 or psycopg, autocommit) and the
    exception its driver raises."""
    if location.startswith("postgresql://"):
        import psycopg

        return psycopg.connect(location, autocommit=True), psycopg.Error
    return sqlite3.connect(location, isolation_level=None), sqlite3.DatabaseError


def test_the_log_is_append_only(store_location, fw):
    """Enforced by the database: no UPDATE, DELETE (or, PostgreSQL, TRUNCATE), even by the
    table's owner writing SQL by hand."""
    with open_store(store_location, fw) as store:
        store.record(Change(SHEET, items(fw, 1)[0], "Y"))
        raw, error = _raw(store_location)
        statements = ["UPDATE answer_log SET new_answer = 'N'", "DELETE FROM answer_log"]
        if store_location.startswith("postgresql://"):
            statements.append("TRUNCATE answer_log")
        for sql in statements:
            with pytest.raises(error, match="append-only"):
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


def test_current_answers_are_derived_from_the_log(store, store_location, fw):
    a = items(fw, 1)[0]
    for code in ("Y", "N", "P", "N"):
        store.record(Change(SHEET, a, code))
    # What a reader of the raw log would compute by hand: the newest row of the slot.
    raw, _ = _raw(store_location)
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
    other = Sheet("2026", "0012", "測試機關", "數位服務", "service", "乙")
    store.record(Change(other, a, "N"))
    responses = store.responses(fw)
    frame = responses.frame
    assert list(frame.columns) == list(COLUMNS)
    assert all(str(frame[c].dtype) == ("Int64" if c == "source_row" else "string") for c in COLUMNS)
    assert set(frame["agency_id"]) == {"0012"}  # leading zeros kept
    assert set(frame["agency_name"]) == {"測試機關"}
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

    # Clearing the agreed answer gives the item back to the respondents; the team's note
    # stays, exported as an agreed row without an answer (unanswered: never scored).
    store.record(Change(SHEET.agreed(), a, None, "討論後同意部分符合"))
    frame = store.responses(fw).frame
    got = sorted(
        (r.item_id, r.respondent, None if pd.isna(r.answer) else r.answer, r.note)
        for r in frame.itertuples()
    )
    assert got == sorted(
        [
            (a, "甲", "Y", ""),
            (a, "乙", "N", ""),
            (a, AGREED_RESPONDENT, None, "討論後同意部分符合"),
            (b, "甲", "Y", ""),
            (b, "乙", "P", ""),
        ]
    )


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
        store.export(tmp_path / "answers.numbers")
    assert info.value.code == "export-type"


def test_store_survives_reopening_and_refuses_a_newer_schema(store_location, fw):
    path = store_location
    with open_store(path, fw) as s:
        s.record(Change(SHEET, items(fw, 1)[0], "Y"))
    with open_store(path, fw) as s:
        assert s.current()["answer"].tolist() == ["Y"]
    raw, _ = _raw(path)
    raw.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    raw.close()
    for readonly in (False, True):
        with pytest.raises(StoreError) as info:
            open_store(path, fw, readonly=readonly)
        assert info.value.code == "schema"


def test_store_is_a_wal_database(tmp_path, fw):
    with open_store(tmp_path / "store.sqlite", fw) as store:
        raw = sqlite3.connect(store.location)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        raw.close()


def test_default_location_and_backends(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIDEKIT_STORE", str(tmp_path / "named.sqlite"))
    assert default_store_path() == tmp_path / "named.sqlite"
    monkeypatch.delenv("GUIDEKIT_STORE")
    assert default_store_path().name == "workshop.sqlite"
    monkeypatch.setenv("GUIDEKIT_STORE", " postgresql://u@db.example/guidekit ")
    assert default_store_path() == "postgresql://u@db.example/guidekit"


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


def test_writers_in_several_processes_lose_nothing(store_location, fw):
    path = store_location
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


def test_concurrent_writes_to_one_slot_keep_the_old_new_chain(store_location, fw):
    path = store_location
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


def test_a_killed_writer_loses_nothing_it_reported_saved(store_location, fw):
    path = store_location
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
    from guidekit.intake.responses import read_responses
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


# -- hostile findings (second round): one test per kind ----------------------------------------


def test_a_page_changes_only_the_field_it_edited(store, fw):
    """Two pages on one sheet: an answer chosen on one page keeps the note saved from the
    other, and the other way round (nothing written by one page is erased by the other)."""
    a, b = items(fw, 2)
    store.record(Change(SHEET, a, KEEP, "佐證：訪談紀錄", seen_note=""))  # page 1: a note
    store.record(Change(SHEET, b, "Y", KEEP, seen_answer=None))  # page 1: an answer
    store.record(Change(SHEET, a, "P", KEEP, seen_answer=None))  # page 2 never saw the note
    store.record(Change(SHEET, b, KEEP, "補充", seen_note=""))  # page 2 never saw the answer
    current = store.current().set_index("item_id")
    assert current.loc[a, "answer"] == "P" and current.loc[a, "note"] == "佐證：訪談紀錄"
    assert current.loc[b, "answer"] == "Y" and current.loc[b, "note"] == "補充"
    log = store.log()
    got = [
        tuple(None if pd.isna(v) else v for v in row)
        for row in log[["item_id", "old_answer", "new_answer", "old_note", "new_note"]].itertuples(
            index=False
        )
    ]
    assert got == [
        (a, None, None, "", "佐證：訪談紀錄"),
        (b, None, "Y", "", ""),
        (a, None, "P", "佐證：訪談紀錄", "佐證：訪談紀錄"),
        (b, "Y", "Y", "", "補充"),
    ]


def test_a_change_based_on_an_old_view_is_refused_not_written(store, fw):
    a = items(fw, 1)[0]
    store.record(Change(SHEET, a, "Y", "甲的說明"))
    for change in (
        Change(SHEET, a, "N", KEEP, seen_answer=None),  # the page still shows "unanswered"
        Change(SHEET, a, KEEP, "乙的說明", seen_note=""),  # the page still shows no note
    ):
        with pytest.raises(Conflict) as info:
            store.record(change)
        assert (info.value.answer, info.value.note) == ("Y", "甲的說明")
        assert info.value.code == "conflict" and a in info.value.text("zh-TW")
    assert len(store.log()) == 1
    # With what the store holds, the same change goes through.
    saved = store.record(Change(SHEET, a, "N", KEEP, seen_answer="Y"))
    assert (saved.old_answer, saved.answer, saved.note) == ("Y", "N", "甲的說明")


def test_not_applicable_needs_a_reason_after_merging_too(store, fw):
    a, b = items(fw, 2)
    store.record(Change(SHEET, a, "NA", "無此業務"))
    with pytest.raises(StoreError) as info:  # clearing the reason of a stored 不適用
        store.record(Change(SHEET, a, KEEP, "  "))
    assert info.value.code == "na-reason"
    with pytest.raises(StoreError) as info:  # 不適用 while the stored note is empty
        store.record(Change(SHEET, b, "NA", KEEP))
    assert info.value.code == "na-reason"
    store.record(Change(SHEET, b, KEEP, "本機關沒有實體櫃臺"))
    assert store.record(Change(SHEET, b, "NA", KEEP)).note == "本機關沒有實體櫃臺"
    assert len(store.log()) == 3


#: Characters the answer-file reader refuses in codes and names (problem "control-char"),
#: and line breaks / tabs, which a one-line field never holds.
CONTROL = ["\x00", "\x1b", "\x0b", "\x7f", "\x85", "\u202e", "\u2066", "\n", "\t"]
CODE_FIELDS = ["round", "agency_id", "agency_name", "service", "respondent"]


@pytest.mark.parametrize("field", CODE_FIELDS)
@pytest.mark.parametrize("char", CONTROL)
def test_control_characters_in_codes_and_names_are_refused(store, field, char):
    values = {
        "round": "2026",
        "agency_id": "0012",
        "agency_name": "測試機關",
        "service": "",
        "respondent": "甲",
    }
    values[field] = f"A{char}1"
    sheet = Sheet(
        values["round"],
        values["agency_id"],
        values["agency_name"],
        values["service"],
        "service",
        values["respondent"],
    )
    with pytest.raises(StoreError) as info:
        store.record(Change(sheet, "SV-P01-01", "Y"))
    assert info.value.code == "control-char"
    zh, en = info.value.text("zh-TW"), info.value.text("en")
    assert "控制字元" in zh and "control" in en
    if char not in "\t\n":
        assert char not in zh and char.encode("unicode_escape").decode() in zh  # made visible
    assert store.log().empty


@pytest.mark.parametrize("field", [*CODE_FIELDS, "note"])
def test_a_lone_surrogate_is_a_readable_store_error(store, field):
    values = {
        "round": "2026",
        "agency_id": "0012",
        "agency_name": "測試機關",
        "service": "",
        "respondent": "甲",
        "note": "ok",
    }
    values[field] = "佐證 \ud83d"  # an emoji cut in half
    sheet = Sheet(
        values["round"],
        values["agency_id"],
        values["agency_name"],
        values["service"],
        "service",
        values["respondent"],
    )
    with pytest.raises(StoreError) as info:
        store.record(Change(sheet, "SV-P01-01", "Y", values["note"]))
    assert info.value.code == "surrogate"
    for lang in ("zh-TW", "en"):
        info.value.text(lang).encode("utf-8")  # can be shown on a page / printed
    assert store.log().empty


def test_notes_keep_control_characters_and_the_export_reads_back(store, fw, tmp_path):
    """A note pasted from Word (vertical tab), or holding NUL / ESC / RLO, is kept as
    written in the store and the CSV; the .xlsx writes each as a visible escape."""
    from openpyxl import load_workbook

    a, b = items(fw, 2)
    word = "第一行\x0b第二行"
    odd = "a\x00b\x1bc\u202ed"
    store.record(Change(SHEET, a, "Y", word))
    store.record(Change(SHEET, b, "N", odd))
    csv_file = store.export_file(tmp_path / "answers.csv")
    assert csv_file.rows == 2 and csv_file.replaced == ()
    report = validate_responses(csv_file.path, fw)
    assert report.ok, [p.format() for p in report.problems]
    notes = report.responses.frame.set_index("item_id")["note"]
    assert notes[a] == word and notes[b] == odd
    xlsx_file = store.export_file(tmp_path / "answers.xlsx")
    assert xlsx_file.replaced == ((2, "說明"), (3, "說明"))  # header = row 1
    sheet = load_workbook(xlsx_file.path).active
    assert sheet["I2"].value == "第一行\\x0b第二行"
    assert sheet["I3"].value == "a\\x00b\\x1bc\u202ed"  # RLO is legal in .xlsx: kept
    report = validate_responses(xlsx_file.path, fw)
    assert report.ok, [p.format() for p in report.problems]


LOOKALIKES = [
    AGREED_RESPONDENT + " ",
    AGREED_RESPONDENT + "\u3000",
    "團隊\u200b共識",
    "團隊\u3000共識",
    "團隊 共識",
    "團\ufe00隊共識",
    "團\U000e0100隊共識",
    "團隊\u034f共識",
    "團隊\u2062共識",
    "團隊\u3164共識",
    "團隊\u180e共識",
    "團隊共識\U000e0020",
    "團隊\u061c共識",
    "團隊\u200e共識",
    "\ufeff團隊共識",
    "团队共识",
    "团隊共识",
]


@pytest.mark.parametrize("name", LOOKALIKES)
def test_look_alikes_of_the_reserved_name_are_refused(store, name):
    from guidekit.answers import is_reserved_name

    sheet = Sheet("2026", "0012", "測試機關", "", "service", name)
    with pytest.raises(StoreError) as info:
        store.record(Change(sheet, "SV-P01-01", "Y"))
    assert info.value.code in ("reserved", "unclean")
    assert is_reserved_name(name)
    assert store.log().empty


def test_people_may_have_names_near_the_reserved_one(store):
    from guidekit.answers import is_reserved_name

    for name in ("團隊", "共識小組", "團隊共識會議記錄人"):
        assert not is_reserved_name(name)
        store.record(
            Change(Sheet("2026", "0012", "測試機關", "", "service", name), "SV-P01-01", "Y")
        )
    assert len(store.log()) == 3


def test_a_second_agency_name_for_a_code_is_refused(store):
    first = Sheet("2026", "301000000A", "內政部", "", "service", "R1")
    other_name = Sheet("2026", "301000000A", "內政部資訊中心（測試）", "", "service", "R2")
    store.record(Change(first, "SV-P01-01", "Y"))
    with pytest.raises(StoreError) as info:
        store.record(Change(other_name, "SV-P01-01", "N"))
    assert info.value.code == "agency-name"
    assert "內政部" in info.value.text("zh-TW") and "301000000A" in info.value.text("en")
    with pytest.raises(StoreError):  # within one batch too
        store.record_many(
            [
                Change(Sheet("2026", "B2", "甲機關", "", "service", "R1"), "SV-P01-01", "Y"),
                Change(Sheet("2026", "B2", "乙機關", "", "service", "R2"), "SV-P01-01", "Y"),
            ]
        )
    assert len(store.log()) == 1
    assert store.agency_name("2026", "301000000A") == "內政部"
    assert store.agency_name("2026", "nobody") is None
    # Another round may use another name (agencies are renamed between rounds).
    store.record(
        Change(
            Sheet("2027", "301000000A", "內政部（改組後）", "", "service", "R2"), "SV-P01-01", "N"
        )
    )
    assert len(store.log()) == 2


def _raw_insert(path, **values) -> None:
    row = {
        "at": "2026-01-01T00:00:00+00:00",
        "who": "R1",
        "session": "x",
        "kind": "answer",
        "round": "2026",
        "agency_id": "A1",
        "agency_name": "機關",
        "service": "",
        "instrument": "service",
        "respondent": "R1",
        "item_id": "SV-P01-02",
        "old_answer": None,
        "new_answer": "Y",
        "old_note": "",
        "new_note": "",
        "framework_id": "tw-dsg",
        "framework_version": "2026.11",
        **values,
    }
    raw = sqlite3.connect(path)
    raw.execute(
        f"INSERT INTO answer_log ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
        list(row.values()),
    )
    raw.commit()
    raw.close()


def test_the_store_reader_applies_the_file_readers_rules(tmp_path, fw):
    """Rows only a hand edit (or another program) can make: an answer code not on the scale
    is an error, 不適用 without a reason a warning, control characters an error — each
    naming the store and the log id, as the file reader names file and row."""
    from click.testing import CliRunner

    from guidekit.cli import main

    path = tmp_path / "w.sqlite"
    with open_store(path, fw) as s:
        s.record(Change(Sheet("2026", "A1", "機關", "", "service", "R1"), "SV-P01-01", "Y"))
    _raw_insert(path, item_id="SV-P01-02", new_answer="X")  # log id 2
    _raw_insert(path, item_id="SV-P01-03", new_answer="NA")  # log id 3
    _raw_insert(path, item_id="SV-P01-04", respondent="R\x1b[31m2")  # log id 4
    report = validate_responses(path, fw)
    got = sorted((p.row, p.column, p.code, p.severity.value) for p in report.problems)
    assert got == [
        (2, "answer", "unknown-answer", "error"),
        (3, "note", "na-without-reason", "warning"),
        (4, "respondent", "control-char", "error"),
    ]
    assert {p.file for p in report.problems} == {str(path.resolve())}
    result = CliRunner().invoke(main, ["score", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "無法辨識的答案" in result.output and "'X'" in result.output


def test_an_old_store_with_two_names_for_one_agency_says_which_is_used(tmp_path, fw):
    path = tmp_path / "old.sqlite"
    with open_store(path, fw) as s:
        s.record(Change(Sheet("2026", "A1", "舊名", "", "service", "R1"), "SV-P01-01", "Y"))
    _raw_insert(path, agency_name="新名", respondent="R2", item_id="SV-P01-01")  # before the rule
    with open_store(path, fw, readonly=True) as s:
        responses = s.responses()
    assert set(responses.frame["agency_name"]) == {"新名"}  # the latest
    [warning] = responses.problems
    assert (warning.code, warning.row, warning.value, warning.is_error) == (
        "store-agency-names",
        1,
        "舊名",
        False,
    )
    assert "新名" in warning.message("zh-TW") and "舊名" in warning.message("en")
    report = validate_responses(path, fw)
    assert report.ok and [p.code for p in report.problems] == ["store-agency-names"]


def _digest(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(path) -> list[str]:
    raw = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return sorted(n for (n,) in raw.execute("SELECT name FROM sqlite_master"))
    finally:
        raw.close()


def test_readers_never_change_a_file_and_refuse_what_is_not_a_store(tmp_path, fw):
    from click.testing import CliRunner

    from guidekit.cli import main

    other = tmp_path / "other-app.sqlite"
    raw = sqlite3.connect(other)
    raw.execute("CREATE TABLE moz_places (id INTEGER, url TEXT)")
    raw.execute("INSERT INTO moz_places VALUES (1, 'https://example.org')")
    raw.commit()
    raw.close()
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    bad_meta = tmp_path / "bad-meta.sqlite"
    raw = sqlite3.connect(bad_meta)
    raw.execute("CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    raw.execute("INSERT INTO store_meta VALUES ('schema_version', 'v2')")
    raw.commit()
    raw.close()
    expected = {other: "not-a-store", empty: "not-a-store", bad_meta: "bad-meta"}
    for path, code in expected.items():
        before, tables = _digest(path), _tables(path) if path.stat().st_size else []
        for lang, words in (
            ("zh-TW", "無法讀取答案儲存檔"),
            ("en", "cannot read the answer store"),
        ):
            result = CliRunner().invoke(main, ["--lang", lang, "validate", str(path)])
            assert result.exit_code == 1 and "Traceback" not in result.output
            assert words in result.output, result.output
            assert ("未做任何變更" if lang == "zh-TW" else "othing was changed") in result.output
        # `workshop --store` on it is refused too (an empty file may become a new store)
        for readonly in (True, False) if path != empty else (True,):
            with pytest.raises(StoreError) as info:
                open_store(path, fw, readonly=readonly)
            assert info.value.code == code
        assert _digest(path) == before and (_tables(path) if path.stat().st_size else []) == tables
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(path.name)) == [
            path.name
        ]  # no -wal / -shm left behind
    raw = sqlite3.connect(other)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # not switched to WAL
    raw.close()


def test_reading_a_closed_store_changes_nothing_and_writing_it_read_only_is_refused(tmp_path, fw):
    path = tmp_path / "done.sqlite"
    with open_store(path, fw) as s:
        s.record(Change(SHEET, "SV-P01-01", "Y"))
    before = _digest(path)
    read = validate_responses(path, fw)
    assert read.ok and len(read.responses.frame) == 1
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.sqlite"]
    with open_store(path, fw, readonly=True) as s, pytest.raises(StoreError) as info:
        s.record(Change(SHEET, "SV-P01-02", "Y"))
    assert info.value.code == "readonly"
    with pytest.raises(StoreError) as info:
        open_store(tmp_path / "missing.sqlite", fw, readonly=True)
    assert info.value.code == "missing" and not (tmp_path / "missing.sqlite").exists()


def test_a_reader_sees_what_a_running_workshop_saved(tmp_path, fw):
    path = tmp_path / "live.sqlite"
    writer = open_store(path, fw)
    try:
        for n, item in enumerate(items(fw, 12)):
            writer.record(Change(SHEET, item, ("Y", "N")[n % 2]))
        with open_store(path, fw, readonly=True) as reader:
            assert len(reader.current()) == 12
    finally:
        writer.close()


def test_a_store_on_read_only_media_can_be_read(tmp_path, fw):
    """A finished store archived on a read-only file system (a bind mount remounted ro)."""
    import shutil
    import subprocess

    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a read-only file system")
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir()
    mnt.mkdir()
    with open_store(src / "done.sqlite", fw) as s:
        s.record(Change(SHEET, "SV-P01-01", "P", "已完成"))
    ok = subprocess.run(["mount", "--bind", str(src), str(mnt)], capture_output=True)
    if ok.returncode != 0:
        pytest.skip(f"cannot mount here: {ok.stderr.decode(errors='replace')}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,ro,bind", str(mnt)], capture_output=True)
        if remount.returncode != 0:
            pytest.skip("cannot remount read-only here")
        report = validate_responses(mnt / "done.sqlite", fw)
        assert report.ok, [p.format() for p in report.problems]
        frame = report.responses.frame
        assert frame[["answer", "note"]].values.tolist() == [["P", "已完成"]]
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_the_wal_is_checkpointed_every_few_answers(tmp_path, fw):
    """With SQLite's default (1000 pages) 30 answers all stay in the -wal file; a damaged
    -wal would take them all.  The main file alone must hold all but the last few."""
    from guidekit.store import WAL_AUTOCHECKPOINT_PAGES

    path = tmp_path / "s.sqlite"
    store = open_store(path, fw)
    try:
        for k in range(30):
            store.record(Change(SHEET, items(fw)[k], "YPN"[k % 3], f"n{k}"))
        copy = tmp_path / "main-file-only.sqlite"
        copy.write_bytes(path.read_bytes())  # without its -wal
        raw = sqlite3.connect(copy)
        try:
            in_main_file = raw.execute("SELECT count(*) FROM answer_log").fetchone()[0]
        except sqlite3.OperationalError:  # not even the table reached the main file
            in_main_file = 0
        finally:
            raw.close()
    finally:
        store.close()
    # A commit writes at least 2 pages (table and index leaf): at most
    # WAL_AUTOCHECKPOINT_PAGES / 2 commits wait in the -wal file.
    assert in_main_file >= 30 - WAL_AUTOCHECKPOINT_PAGES // 2


def _rows_in_file_alone(path, tmp_path) -> int:
    """Answer-log rows a copy of ``path`` holds without its -wal file (what copying only the
    .sqlite file keeps)."""
    import shutil

    folder = tmp_path / f"copy{len(list(tmp_path.glob('copy*')))}"
    folder.mkdir()
    copy = folder / path.name
    shutil.copyfile(path, copy)
    raw = sqlite3.connect(f"{copy.as_uri()}?mode=ro", uri=True)
    try:
        return raw.execute("SELECT count(*) FROM answer_log").fetchone()[0]
    except sqlite3.OperationalError:  # not even the table reached the main file
        return 0
    finally:
        raw.close()


def _write_and_die(path: str, n: int) -> None:
    """A workshop kernel killed after saving: it never closes the store."""
    store = open_store(path)
    for k in range(n):
        store.record(Change(SHEET, items(store.framework)[k], "YPN"[k % 3]))
    os._exit(0)


def test_closing_the_store_leaves_every_answer_in_the_sqlite_file(tmp_path, fw):
    path = tmp_path / "s.sqlite"
    keeper = open_store(path, fw)  # another page still open (its store stays open)
    store = open_store(path, fw)
    for k in range(8):
        store.record(Change(SHEET, items(fw)[k], "YPN"[k % 3]))
    # Every few commits are checkpointed; the last ones wait in the -wal file.
    assert _rows_in_file_alone(path, tmp_path) < 8
    store.close()  # the page closes: not the last connection, so SQLite would not checkpoint
    try:
        assert _rows_in_file_alone(path, tmp_path) == 8
    finally:
        keeper.close()
    assert not (tmp_path / "s.sqlite-wal").exists()  # the last one out removes the -wal file


def test_after_killed_writers_the_server_puts_every_answer_into_the_sqlite_file(tmp_path, fw):
    """What `guidekit workshop` does after stopping: kernels shut down or killed left answers
    in the -wal file; afterwards the .sqlite file alone holds all of them, and
    `guidekit backup` copies all of them even before."""
    import subprocess
    import sys

    from guidekit.widgets.server import settle_store

    path = tmp_path / "w.sqlite"
    context = multiprocessing.get_context("spawn")
    writer = context.Process(target=_write_and_die, args=(str(path), 2))
    writer.start()
    writer.join(120)
    assert writer.exitcode == 0
    wal = tmp_path / "w.sqlite-wal"
    assert wal.stat().st_size > 0
    assert _rows_in_file_alone(path, tmp_path) < 2  # copying the .sqlite alone would lose answers

    env = {**os.environ, "GUIDEKIT_LANG": "en"}
    copy = tmp_path / "backup" / "copy.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "guidekit", "backup", str(path), str(copy)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"to {copy} (2 log rows)" in done.stdout
    assert not copy.with_name("copy.sqlite-wal").exists()
    assert wal.stat().st_size > 0  # the store itself was only read

    assert settle_store(path) is True
    assert _rows_in_file_alone(path, tmp_path) == 2
    assert not wal.exists()
    for checked in (path, copy):
        alone = tmp_path / f"alone-{checked.parent.name}"
        alone.mkdir()
        (alone / "a.sqlite").write_bytes(checked.read_bytes())
        report = validate_responses(alone / "a.sqlite", fw)
        assert report.ok
        assert report.responses.frame[["item_id", "answer"]].values.tolist() == [
            [items(fw)[0], "Y"],
            [items(fw)[1], "P"],
        ]
    same = subprocess.run(
        [sys.executable, "-m", "guidekit", "backup", str(path), str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
    )
    assert same.returncode == 2 and "Traceback" not in same.stderr
