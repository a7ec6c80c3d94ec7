"""Improvement actions in the answer store (SQLite and PostgreSQL) and in its exports."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from guidekit.answers import Action, ActionStatus
from guidekit.intake.actions import read_actions
from guidekit.store import (
    ActionRefused,
    Change,
    Sheet,
    StoreError,
    actions_csv_path,
    open_store,
)


def _action(fw, **kw) -> Action:
    base = dict(
        action_id="A-0000000001",
        round="2026",
        agency_id="0012",
        agency_name="甲機關",
        service="",
        instrument="service",
        item_id=fw.items["service"][0].id,
        text="訪談 5 位使用者 <b>",
        owner="資訊室",
        due=dt.date(2026, 6, 30),
        status=ActionStatus.PLANNED,
        measure_id="M04",
        target="Y",
    )
    return Action(**{**base, **kw})


def test_actions_are_saved_read_and_logged(store_location, fw):
    with open_store(store_location, fw) as store:
        first = _action(fw)
        (saved,) = store.record_actions([first], who="引導者", session="s1")
        assert saved.changed and saved.log_id is not None
        # the same record again appends nothing
        (again,) = store.record_actions([first])
        assert not again.changed and again.log_id is None
        done = _action(fw, status=ActionStatus.DONE, completed=dt.date(2026, 5, 1))
        store.record_actions([done])
        assert store.actions() == [done]
        log = store.action_log()
        assert log["status"].tolist() == ["planned", "done"]
        assert log["who"].tolist() == ["引導者", ""]
        assert store.actions(agency_id="9999") == []
    # read back by a read-only reader, and as an actions source
    with open_store(store_location, fw, readonly=True) as store:
        assert store.actions() == [done]
    assert read_actions(store_location, fw).actions == [done]


def test_a_refused_action_writes_nothing_and_names_every_rule(store_location, fw):
    with open_store(store_location, fw) as store:
        good = _action(fw)
        bad = _action(fw, action_id="A-2", owner="", status=ActionStatus.DROPPED, measure_id="M99")
        with pytest.raises(ActionRefused) as caught:
            store.record_actions([good, bad])
        codes = sorted(p.code for p in caught.value.problems)
        assert codes == ["action-dropped-no-reason", "action-no-owner", "action-unknown-measure"]
        assert "負責單位" in caught.value.text("zh-TW")
        assert store.actions() == []  # one transaction: the good one was not written either


def test_the_action_log_is_append_only(tmp_path, fw):
    path = tmp_path / "s.sqlite"
    with open_store(path, fw) as store:
        store.record_actions([_action(fw)])
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE action_log SET owner = 'x'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM action_log")
    raw.close()


def test_a_version_1_store_is_read_without_actions_and_migrated_by_a_writer(tmp_path, fw):
    path = tmp_path / "old.sqlite"
    sheet = Sheet("2026", "0012", "甲機關", "", "service", "R1")
    with open_store(path, fw) as store:
        store.record(Change(sheet, fw.items["service"][0].id, "Y"))
    raw = sqlite3.connect(path)  # make it the store an earlier guidekit wrote
    raw.execute("DROP TABLE action_log")
    raw.execute("UPDATE store_meta SET value = '1' WHERE key = 'schema_version'")
    raw.commit()
    raw.close()
    with open_store(path, fw, readonly=True) as store:
        assert store.actions() == []
        assert len(store.responses().frame) == 1
    with open_store(path, fw) as store:
        store.record_actions([_action(fw)])
        assert len(store.actions()) == 1
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT value FROM store_meta WHERE key='schema_version'").fetchone() == (
        "2",
    )
    raw.close()


@pytest.mark.parametrize("suffix", [".xlsx", ".ods", ".csv"])
def test_the_export_carries_actions_as_a_second_table(tmp_path, fw, suffix):
    sheet = Sheet("2026", "0012", "甲機關", "", "service", "R1")
    item = fw.items["service"][0].id
    with open_store(tmp_path / "s.sqlite", fw) as store:
        store.record(Change(sheet, item, "N"))
        action = _action(fw)
        store.record_actions([action])
        out = store.export_file(tmp_path / f"export{suffix}")
    assert out.rows == 1 and out.action_rows == 1
    source = actions_csv_path(out.path) if suffix == ".csv" else out.path
    assert source.exists()
    read = read_actions(source, fw, today=dt.date(2026, 1, 1))
    assert read.actions == [action]
    assert read.problems == []
    # the answers read back as before: the actions sheet is no "extra sheet"
    from guidekit.intake import read_responses

    responses = read_responses(out.path, fw)
    assert [p.code for p in responses.problems] == []
    assert responses.frame["answer"].tolist() == ["N"]


def test_a_copy_between_stores_keeps_the_actions(tmp_path, fw):
    with open_store(tmp_path / "a.sqlite", fw) as source:
        source.record(
            Change(
                Sheet("2026", "0012", "甲機關", "", "service", "R1"), fw.items["service"][0].id, "N"
            )
        )
        source.record_actions([_action(fw)])
        with open_store(tmp_path / "b.sqlite", fw) as target:
            source.copy_to(target)
            assert target.actions() == source.actions()
            assert target.action_log()["log_id"].tolist() == source.action_log()["log_id"].tolist()


def test_unknown_action_filter_is_a_programming_error(tmp_path, fw):
    with open_store(tmp_path / "a.sqlite", fw) as store:
        with pytest.raises(TypeError):
            store.actions(respondent="x")
    assert issubclass(ActionRefused, StoreError)


def test_a_version_1_postgresql_store_is_migrated_by_a_writer(pg_cluster, fw):
    import psycopg

    url = pg_cluster.url(schema=pg_cluster.new_schema())
    sheet = Sheet("2026", "0012", "甲機關", "", "service", "R1")
    with open_store(url, fw) as store:
        store.record(Change(sheet, fw.items["service"][0].id, "Y"))
    with psycopg.connect(url, autocommit=True) as raw:  # the store an earlier guidekit wrote
        raw.execute("DROP TABLE action_log")
        raw.execute("UPDATE store_meta SET value = '1' WHERE key = 'schema_version'")
    with open_store(url, fw, readonly=True) as store:
        assert store.actions() == [] and len(store.responses().frame) == 1
    with open_store(url, fw) as store:
        store.record_actions([_action(fw)])
        assert store.actions() == [_action(fw)]
    with psycopg.connect(url, autocommit=True) as raw:
        version = raw.execute("SELECT value FROM store_meta WHERE key = 'schema_version'")
        assert version.fetchone() == ("2",)
        with pytest.raises(psycopg.Error, match="append-only"):
            raw.execute("DELETE FROM action_log")


def test_an_export_folder_with_its_actions_file_reads_as_answers(tmp_path, fw):
    from guidekit.intake import validate_responses

    sheet = Sheet("2026", "0012", "甲機關", "", "service", "R1")
    with open_store(tmp_path / "s.sqlite", fw) as store:
        store.record(Change(sheet, fw.items["service"][0].id, "N"))
        store.record_actions([_action(fw)])
        out = store.export_file(tmp_path / "export" / "answers.csv")
    assert out.actions_path is not None and out.actions_path.parent == out.path.parent
    report = validate_responses(tmp_path / "export", fw)
    assert report.ok, [p.format() for p in report.problems]
    assert [(p.code, p.file) for p in report.problems] == [("actions-file", str(out.actions_path))]
    assert len(report.responses.frame) == 1
