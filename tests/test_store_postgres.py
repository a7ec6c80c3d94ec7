"""The answer store on a real PostgreSQL server (tests/pg.py starts one on 127.0.0.1):
a SELECT-only role cannot change anything, a connection cut mid-write leaves no
half-written answer and says so, passwords are never shown, stores move between SQLite
and PostgreSQL with counts, and a PostgreSQL store gives the same scores as SQLite.

The store's other tests (concurrent writers and the conflict rules included) run on both
backends from tests/test_store.py (fixture ``store_location``)."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time

import psycopg
import pytest
from click.testing import CliRunner

from guidekit.cli import main
from guidekit.intake.responses import read_responses, validate_responses
from guidekit.store import (
    Change,
    Sheet,
    StoreError,
    copy_store,
    mask_url,
    open_store,
)

SHEET = Sheet("2026", "0012", "測試機關", "數位服務", "service", "甲")


@pytest.fixture
def schema(pg_cluster) -> str:
    return pg_cluster.new_schema()


@pytest.fixture
def url(pg_cluster, schema) -> str:
    return pg_cluster.url(schema=schema)


def _items(fw, n):
    return [i.id for i in fw.items["service"]][:n]


def test_a_select_only_role_cannot_change_anything(pg_cluster, schema, url, fw):
    a, b = _items(fw, 2)
    with open_store(url, fw) as store:
        store.record(Change(SHEET, a, "Y", "原本的說明"))
    with pg_cluster.admin() as admin:
        admin.execute("DROP ROLE IF EXISTS gk_reader")
        admin.execute("CREATE ROLE gk_reader LOGIN PASSWORD 'reader-pw'")
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO gk_reader")
        admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO gk_reader")
    reader_url = pg_cluster.url("gk_reader", "reader-pw", schema)
    with open_store(reader_url, fw, readonly=True) as reader:
        assert reader.current()["answer"].tolist() == ["Y"]
        assert read_responses(reader_url, fw).frame["note"].tolist() == ["原本的說明"]
        with pytest.raises(StoreError) as info:
            reader.record(Change(SHEET, b, "N"))
        assert info.value.code == "readonly"
    # Opened for writing, the role still cannot: the database refuses, the message says why.
    with open_store(reader_url, fw) as writer, pytest.raises(StoreError) as info:
        writer.record(Change(SHEET, b, "N"))
    assert info.value.code == "denied"
    assert "SELECT" in info.value.text("en") and "reader-pw" not in info.value.text("en")
    with psycopg.connect(reader_url, autocommit=True) as raw:
        for sql in (
            "INSERT INTO answer_log (at, who, session, kind, round, agency_id, agency_name, "
            "service, instrument, respondent, item_id, old_note, new_note, framework_id, "
            "framework_version) VALUES ('t','x','x','answer','2026','0012','測試機關','',"
            "'service','x','SV-P01-01','','','tw-dsg','1')",
            "UPDATE answer_log SET new_answer = 'N'",
            "DELETE FROM answer_log",
            "TRUNCATE answer_log",
            "UPDATE store_meta SET value = '0'",
            "CREATE TABLE answer_log_2 (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                raw.execute(sql)
    with open_store(url, fw, readonly=True) as check:
        assert check.log()["new_note"].tolist() == ["原本的說明"]


def test_a_writer_role_with_the_readme_grants_writes_but_cannot_rewrite(
    pg_cluster, schema, url, fw
):
    """The rights the README gives a workshop server's role are enough to write, and the
    trigger still refuses UPDATE and DELETE to it."""
    a, b = _items(fw, 2)
    with open_store(url, fw) as owner:  # the administrator creates the tables once
        owner.record(Change(SHEET, a, "Y"))
    with pg_cluster.admin() as admin:
        admin.execute("DROP ROLE IF EXISTS gk_writer")
        admin.execute("CREATE ROLE gk_writer LOGIN PASSWORD 'writer-pw'")
        admin.execute(f"SET search_path = {schema}")
        for grant in (
            f"GRANT USAGE ON SCHEMA {schema} TO gk_writer",
            "GRANT SELECT, INSERT ON answer_log TO gk_writer",
            "GRANT SELECT ON store_meta TO gk_writer",
            "GRANT USAGE ON SEQUENCE answer_log_id_seq TO gk_writer",
        ):
            admin.execute(grant)
    writer_url = pg_cluster.url("gk_writer", "writer-pw", schema)
    with open_store(writer_url, fw) as writer:
        assert writer.record(Change(SHEET, b, "N", "寫得進去")).changed
        assert len(writer.current()) == 2
    with psycopg.connect(writer_url, autocommit=True) as raw:
        for sql in ("UPDATE answer_log SET new_answer = 'P'", "DELETE FROM answer_log"):
            with pytest.raises(psycopg.Error):
                raw.execute(sql)
    with open_store(url, fw, readonly=True) as check:
        assert check.log()["new_answer"].tolist() == ["Y", "N"]


def test_read_only_store_of_a_writing_role_is_read_only_in_the_database(url, fw):
    """``readonly=True`` sets read-only transactions, whatever the role may do."""
    with open_store(url, fw) as store:
        store.record(Change(SHEET, _items(fw, 1)[0], "Y"))
    with open_store(url, fw, readonly=True) as reader:
        with reader._connection() as conn, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(
                "INSERT INTO store_meta (key, value) VALUES ('x', 'y')"
            )  # the superuser, yet refused


def test_a_connection_cut_mid_write_saves_nothing_and_says_so(pg_cluster, schema, url, fw):
    """Two changes in one transaction; the server ends the connection after the first row
    is inserted (pg_terminate_backend, as a network drop or a restart would): neither
    row is in the log, the error says the connection was lost, and the next write works."""
    a, b = _items(fw, 2)
    hold = 915_001
    with pg_cluster.admin() as admin:
        # A test-only trigger: inserting item b waits for an advisory lock the test holds,
        # so the write is caught between its two inserts.
        admin.execute(
            f"""CREATE FUNCTION {schema}.wait_for_test() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF NEW.item_id = '{b}' THEN
                    PERFORM pg_advisory_lock({hold});
                    PERFORM pg_advisory_unlock({hold});
                END IF;
                RETURN NEW;
            END $$"""
        )
    store = open_store(url, fw)
    try:
        with pg_cluster.admin() as admin:
            admin.execute(
                f"CREATE TRIGGER wait_for_test BEFORE INSERT ON {schema}.answer_log "
                f"FOR EACH ROW EXECUTE FUNCTION {schema}.wait_for_test()"
            )
            admin.execute("SELECT pg_advisory_lock(%s)", (hold,))
            failure: list[BaseException] = []

            def write() -> None:
                try:
                    store.record_many([Change(SHEET, a, "Y", "第一題"), Change(SHEET, b, "N")])
                except BaseException as exc:
                    failure.append(exc)

            writer = threading.Thread(target=write)
            writer.start()
            waiting = None
            for _ in range(200):
                waiting = admin.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND objid = %s",
                    (hold,),
                ).fetchone()
                if waiting:
                    break
                time.sleep(0.05)
            assert waiting, "the write never reached its second row"
            # The first row is inserted (uncommitted) in the writer's transaction.
            admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0],))
            writer.join(30)
            admin.execute("SELECT pg_advisory_unlock(%s)", (hold,))
            admin.execute(f"DROP TRIGGER wait_for_test ON {schema}.answer_log")
        assert len(failure) == 1 and isinstance(failure[0], StoreError), failure
        error = failure[0]
        assert error.code == "connection"
        assert "沒有只寫一半的答案" in error.text("zh-TW")
        assert "no half-written answer" in error.text("en")
        assert pg_cluster.password not in error.text("en") + str(error)
        assert store.log().empty  # nothing of the transaction was written
        saved = store.record(Change(SHEET, a, "Y", "再做一次"))  # the pool reconnects
        assert saved.changed and store.current()["note"].tolist() == ["再做一次"]
    finally:
        store.close()


def test_passwords_are_never_shown(pg_cluster, schema, url, fw, monkeypatch):
    secret = pg_cluster.password
    assert mask_url(url).count("***") == 1 and secret not in mask_url(url)
    assert mask_url("host=db password='a b' user=x") == "host=db password=*** user=x"
    assert mask_url("postgresql://u:p@ss@h/db x") == "postgresql://u:***@h/db x"  # "@" unescaped
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    with open_store(url, fw) as store:
        store.record(Change(SHEET, _items(fw, 1)[0], "Y"))
        assert secret not in store.location and secret not in repr(store)
        assert secret not in "".join(store.responses().frame["source_file"])
    wrong = pg_cluster.url(password="not-the-password")
    with pytest.raises(StoreError) as info:
        open_store(wrong, fw)
    assert info.value.code == "connect"
    for text in (str(info.value), info.value.text("zh-TW"), info.value.text("en")):
        assert "not-the-password" not in text and "***" in text
    # No server on that port (stopped, or a wrong address): said at once, password hidden.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    nowhere = url.replace(f":{pg_cluster.port}/", f":{closed}/")
    with pytest.raises(StoreError) as info:
        open_store(nowhere, fw)
    assert info.value.code == "connect" and secret not in info.value.text("en")
    assert "PGPASSWORD" in info.value.text("en") and f":{closed}/" in info.value.text("en")
    # Password from the environment (libpq's PGPASSWORD), none in the URL.
    monkeypatch.setenv("PGPASSWORD", secret)
    bare = pg_cluster.url(password="", schema=schema).replace(":@", "@", 1)
    assert "@" in bare and ":@" not in bare
    with open_store(bare, fw, readonly=True) as store:
        assert len(store.current()) == 1
    # The commands print the location without the password.
    for args in (["validate", url], ["score", url, "--level", "overall"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert secret not in result.output
    monkeypatch.delenv("PGPASSWORD")
    result = CliRunner().invoke(main, ["validate", wrong])
    assert result.exit_code != 0 and "not-the-password" not in result.output


def test_a_schema_with_other_tables_is_refused_and_left_alone(pg_cluster, schema, url, fw):
    with pytest.raises(StoreError) as info:
        open_store(url, fw, readonly=True)  # empty: nothing to read, nothing created
    assert info.value.code == "not-a-store"
    with pg_cluster.admin() as admin:
        admin.execute(f"CREATE TABLE {schema}.payroll (x int)")
    with pytest.raises(StoreError) as info:
        open_store(url, fw)
    assert info.value.code == "not-a-store" and "payroll" in info.value.text("en")
    with pg_cluster.admin() as admin:
        tables = admin.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    assert tables == [("payroll",)]


def _fill(store, fw) -> None:
    """Answers of two agencies, several respondents, notes with NUL and Word's vertical
    tab, 不適用 with reasons, a team agreed answer, and changed answers (a log chain)."""
    bank = _items(fw, 12)
    for agency, name in (("0012", "測試機關"), ("A/B 02", "交通部/觀光署")):
        for respondent in ("甲", "乙", "丙"):
            sheet = Sheet("2026", agency, name, "", "service", respondent)
            for k, item in enumerate(bank):
                code = ("Y", "P", "N", "NA")[(k + len(respondent) + len(agency)) % 4]
                note = (
                    "不涉及\x00本機關" if code == "NA" else ("第一行\x0b第二行" if k == 3 else "")
                )
                store.record(Change(sheet, item, code, note))
            store.record(Change(sheet, bank[0], "P", "改了"))
        store.record(Change(sheet.agreed(), bank[1], "Y", "團隊討論後"))


def test_backup_moves_a_store_between_sqlite_and_postgresql(tmp_path, url, fw):
    first = tmp_path / "first.sqlite"
    with open_store(first, fw) as store:
        _fill(store, fw)
        expected = store.log()
    to_pg = copy_store(first, url)
    assert to_pg.rows == len(expected) and "***" in str(to_pg.path)
    back = tmp_path / "back.sqlite"
    result = CliRunner().invoke(main, ["backup", url, str(back), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert f"({len(expected)} log rows)" in result.output
    with open_store(back, fw, readonly=True) as copy:
        assert copy.log().equals(expected)  # ids, times, old values and NUL in notes kept
    with open_store(url, fw) as pg_store:
        assert pg_store.log().equals(expected)
        saved = pg_store.record(Change(SHEET, _items(fw, 1)[0], "Y"))
        assert saved.log_id == int(expected["log_id"].max()) + 1  # ids continue after the copy
    # Never overwritten: a database store with answers, an existing file.
    result = CliRunner().invoke(main, ["backup", str(first), url, "--lang", "en"])
    assert result.exit_code != 0 and "already holds" in result.output
    before = back.read_bytes()
    result = CliRunner().invoke(main, ["backup", url, str(back)])
    assert result.exit_code == 2 and back.read_bytes() == before


def test_scores_from_a_postgresql_store_equal_those_from_sqlite(tmp_path, url, fw):
    path = tmp_path / "same.sqlite"
    with open_store(path, fw) as store:
        _fill(store, fw)
    copy_store(path, url)
    outputs = {}
    for where in (str(path), url):
        for level in ("overall", "principle", "item"):
            result = CliRunner().invoke(main, ["score", where, "--level", level, "--format", "csv"])
            assert result.exit_code == 0, result.output
            outputs.setdefault(where, []).append(result.output)
    assert outputs[str(path)] == outputs[url]
    assert len(outputs[url][2].splitlines()) > 20
    frames = [read_responses(w, fw).frame.drop(columns="source_file") for w in (str(path), url)]
    assert frames[0].equals(frames[1])
    report = validate_responses([url], fw)
    assert report.ok and [s.encoding for s in report.responses.sources] == ["postgresql"]


def test_research_and_workshop_accept_a_database(url, fw, monkeypatch):
    from guidekit import research as rs
    from guidekit.store import PostgresStore
    from guidekit.widgets.app import Workshop
    from guidekit.widgets.server import plan

    with open_store(url, fw) as store:
        store.record(Change(SHEET, _items(fw, 1)[0], "Y"))
    assert len(rs.load(store=url).frame) == 1
    p = plan(url, port=0)
    secret = psycopg.conninfo.conninfo_to_dict(url)["password"]
    assert secret not in str(p.store) and p.env["GUIDEKIT_STORE"] == url
    assert secret not in " ".join(p.command)
    # The workshop kernel opens the store named by the server's environment.
    monkeypatch.setenv("GUIDEKIT_STORE", url)
    page = Workshop()
    try:
        assert isinstance(page.store, PostgresStore) and len(page.store.current()) == 1
    finally:
        page.at_exit()


def test_sqlite_file_stays_what_it_was(tmp_path, fw):
    """The split of the store module kept the SQLite file format: a file made by the
    SQLite backend has exactly the tables and triggers it had, plus schema 2's action log."""
    path = tmp_path / "s.sqlite"
    open_store(path, fw).close()
    raw = sqlite3.connect(path)
    names = sorted(
        r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    )
    raw.close()
    assert names == [
        "action_log",
        "action_log_key",
        "action_log_no_delete",
        "action_log_no_update",
        "answer_log",
        "answer_log_no_delete",
        "answer_log_no_update",
        "answer_log_slot",
        "current_answers",
        "store_meta",
    ]


def _workshop_server(url: str, server: str, respondents: list[str], start) -> None:
    """One workshop server, as its kernels write: a Questionnaire per respondent choosing
    answers and writing notes field by field, all for the same agency as the other server."""
    from guidekit.framework import load_framework
    from guidekit.widgets.model import Questionnaire

    fw = load_framework()
    bank = [i.id for i in fw.items["service"]][:40]
    with open_store(url, fw) as store:
        pages = [
            Questionnaire(store, Sheet("2026", "0012", "測試機關", "", "service", r))
            for r in respondents
        ]
        start.wait()
        for k, item in enumerate(bank):
            for page in pages:
                assert page.choose(item, ("Y", "P", "N")[k % 3]).status == "saved"
                assert page.write_note(item, f"{server}:{k}").status == "saved"
        # Both servers' pages share one sheet (the same respondent on two laptops): the
        # answer from here, the note from the other server, neither erases the other.
        shared = Questionnaire(store, Sheet("2026", "0012", "測試機關", "", "service", "共用"))
        for k, item in enumerate(bank):
            if server == "A":
                shared.choose(item, "Y")
            else:
                shared.write_note(item, f"B 的說明 {k}")


def test_two_workshop_servers_on_one_database_lose_no_answer(url, fw):
    import multiprocessing

    open_store(url, fw).close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    servers = {"A": ["甲", "乙"], "B": ["丙", "丁"]}
    workers = [
        context.Process(target=_workshop_server, args=(url, name, people, start))
        for name, people in servers.items()
    ]
    for w in workers:
        w.start()
    start.set()
    for w in workers:
        w.join(300)
        assert w.exitcode == 0
    with open_store(url, fw, readonly=True) as store:
        current = store.current()
        log = store.log()
    bank = _items(fw, 40)
    for name, people in servers.items():
        for person in people:
            mine = current[current["respondent"] == person].set_index("item_id")
            assert len(mine) == 40
            assert [mine.loc[i, "note"] for i in bank] == [f"{name}:{k}" for k in range(40)]
            assert [mine.loc[i, "answer"] for i in bank] == [
                ("Y", "P", "N")[k % 3] for k in range(40)
            ]
    shared = current[current["respondent"] == "共用"].set_index("item_id")
    # Each item: "Y" from server A and the note from server B, in whichever order they came.
    assert (shared.loc[bank, "answer"] == "Y").all()
    assert [shared.loc[i, "note"] for i in bank] == [f"B 的說明 {k}" for k in range(40)]
    # 4 respondents × 40 items × (answer + note) + the shared sheet's 40 answers + 40 notes.
    assert len(log) == 4 * 40 * 2 + 80


@pytest.mark.slow
def test_reports_from_a_postgresql_store_equal_those_from_sqlite(tmp_path, url, fw):
    """`guidekit reports` on the same answers in SQLite and in PostgreSQL writes the same
    report, index and summary, byte for byte (the manifest differs: it names its source)."""
    path = tmp_path / "same.sqlite"
    with open_store(path, fw) as store:
        _fill(store, fw)
    copy_store(path, url)
    for name, source in (("from-sqlite", str(path)), ("from-postgresql", url)):
        result = CliRunner().invoke(
            main,
            ["reports", "--responses", source, "--out", str(tmp_path / name), "--agency", "0012"],
        )
        assert result.exit_code == 0, result.output
    for file in ("0012.html", "index.html", "summary.csv"):
        first = (tmp_path / "from-sqlite" / file).read_bytes()
        assert first == (tmp_path / "from-postgresql" / file).read_bytes(), file
    manifest = (tmp_path / "from-postgresql" / "manifest.json").read_text(encoding="utf-8")
    assert "postgresql://" in manifest and pg_password(url) not in manifest


def pg_password(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["password"]
