"""The PostgreSQL backend of the answer store: one database shared by many workshop servers.

Same model and promises as the SQLite store (:mod:`guidekit.store.base`): an append-only
answer log, the current answer of a slot is its newest log row, field-wise writes with
conflict checks, read-only readers.  Driver: psycopg 3 with a :mod:`psycopg_pool`
connection pool (thread-safe; one store object per process).

Enforced in the database
------------------------
* **Append-only log**: triggers on ``answer_log`` refuse every UPDATE, DELETE and
  TRUNCATE, whoever runs them (the table owner too); only a superuser or the owner
  dropping the trigger can get round it.  Roles: a *writer* needs SELECT and INSERT on
  ``answer_log`` (and USAGE on its identity sequence) and SELECT on ``store_meta``; a
  *reader* SELECT only.  A store opened with ``readonly=True`` also sets
  ``default_transaction_read_only``, so even a writer's role cannot change anything
  through it.
* **Conflicts between writers**: each write is one READ COMMITTED transaction that first
  takes a transaction-scoped advisory lock per (round, agency code) it touches, in
  ascending key order (no deadlock), then reads each slot's newest row, checks the
  change against it (:meth:`ResponseStore._resolve`, :meth:`ResponseStore._check_name`)
  and appends.  Explicit locks, not SERIALIZABLE: the conflict rule must see the latest
  *committed* row of the slot and the agency's recorded name, which a lock held across
  read-check-insert guarantees without serialization failures to retry; writers for
  different agencies never wait for each other, and a second writer of the same agency
  waits (at most :attr:`PostgresStore.LOCK_TIMEOUT_S`) instead of failing.  The time of a
  change is the database server's clock, read under the lock, so every workshop server
  shares one clock and a slot's log order is its time order.
* **Schema version**: ``store_meta.schema_version``; a store written by a newer guidekit
  is refused; an older one is migrated by a writer (steps in :data:`MIGRATIONS`, under a
  lock so two servers starting at once do not both migrate).

Notes are kept as UTF-8 bytes (``bytea``): PostgreSQL text cannot hold NUL, and a note
is stored exactly as written (a note pasted from elsewhere may carry any control
character).  ``convert_from(new_note, 'UTF8')`` reads one in SQL when it holds no NUL.

Credentials come from the URL (``postgresql://user:password@host:port/db``) or libpq's
own sources — ``PGHOST``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``, ``~/.pgpass``,
``PGSERVICE`` — and are never shown: :attr:`PostgresStore.location` and every message
carry the URL without its password (:func:`guidekit.store.base.mask_url`).  The tables
live in the connection's current schema (``?options=-csearch_path%3Dname`` picks another),
which must be empty or a guidekit store.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from guidekit.answers import ACTION_COLUMNS, Action
from guidekit.framework import Framework
from guidekit.store.base import (
    CURRENT_SELECT,
    CURRENT_VIEW,
    SCHEMA_VERSION,
    ActionSaved,
    Change,
    ResponseStore,
    Saved,
    StoreError,
    mask_url,
    schema_version,
)

#: Schema steps: ``MIGRATIONS[n]`` brings a store from version n to n + 1 (0: a new store).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE store_meta (
            key   text PRIMARY KEY,
            value text NOT NULL
        )""",
        """CREATE TABLE answer_log (
            id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at                text NOT NULL,
            who               text NOT NULL,
            session           text NOT NULL,
            kind              text NOT NULL CHECK (kind IN ('answer', 'agreed')),
            round             text NOT NULL,
            agency_id         text NOT NULL,
            agency_name       text NOT NULL,
            service           text NOT NULL,
            instrument        text NOT NULL,
            respondent        text NOT NULL,
            item_id           text NOT NULL,
            old_answer        text,
            new_answer        text,
            old_note          bytea NOT NULL,
            new_note          bytea NOT NULL,
            framework_id      text NOT NULL,
            framework_version text NOT NULL
        )""",
        """CREATE INDEX answer_log_slot
            ON answer_log (round, agency_id, service, instrument, respondent, kind, item_id, id)""",
        """CREATE FUNCTION guidekit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'answer_log is append-only' USING ERRCODE = 'GK001';
            END
        $$""",
        """CREATE TRIGGER answer_log_no_change BEFORE UPDATE OR DELETE ON answer_log
            FOR EACH ROW EXECUTE FUNCTION guidekit_append_only()""",
        """CREATE TRIGGER answer_log_no_truncate BEFORE TRUNCATE ON answer_log
            FOR EACH STATEMENT EXECUTE FUNCTION guidekit_append_only()""",
        CURRENT_VIEW,
    ),
    (  # 1 -> 2: the action log (improvement actions), append-only like the answer log
        """CREATE TABLE action_log (
            id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at                text NOT NULL,
            who               text NOT NULL,
            session           text NOT NULL,
            action_id         text NOT NULL,
            round             text NOT NULL,
            agency_id         text NOT NULL,
            agency_name       text NOT NULL,
            service           text NOT NULL,
            instrument        text NOT NULL,
            item_id           text NOT NULL,
            text              text NOT NULL,
            owner             text NOT NULL,
            due               text NOT NULL,
            status            text NOT NULL
                CHECK (status IN ('planned', 'in_progress', 'done', 'dropped')),
            completed         text NOT NULL,
            reason            text NOT NULL,
            measure_id        text NOT NULL,
            target            text NOT NULL,
            framework_id      text NOT NULL,
            framework_version text NOT NULL
        )""",
        "CREATE INDEX action_log_key ON action_log (round, action_id, id)",
        """CREATE TRIGGER action_log_no_change BEFORE UPDATE OR DELETE ON action_log
            FOR EACH ROW EXECUTE FUNCTION guidekit_append_only()""",
        """CREATE TRIGGER action_log_no_truncate BEFORE TRUNCATE ON action_log
            FOR EACH STATEMENT EXECUTE FUNCTION guidekit_append_only()""",
    ),
)
assert len(MIGRATIONS) == SCHEMA_VERSION

#: Advisory lock taken while the schema is created or migrated (any 64-bit constant).
_SCHEMA_LOCK = 0x6775_6964_656B_6974  # "guidekit"

_NOW = """SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC',
                         'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""

_COLUMNS = (
    "id, at, who, session, kind, round, agency_id, agency_name, service, instrument, "
    "respondent, item_id, old_answer, new_answer, old_note, new_note, framework_id, "
    "framework_version"
)

_CURRENT_SELECT = CURRENT_SELECT

_ACTION_VALUES = ", ".join(ACTION_COLUMNS)
_ACTION_CURRENT = (
    f"SELECT {_ACTION_VALUES} FROM action_log WHERE round = %s AND action_id = %s "
    "ORDER BY id DESC LIMIT 1"
)
_ACTION_INSERT = (
    f"INSERT INTO action_log (at, who, session, {_ACTION_VALUES}, framework_id, "
    f"framework_version) VALUES ({', '.join(['%s'] * (len(ACTION_COLUMNS) + 5))}) RETURNING id"
)
_ACTION_INSERT_WITH_ID = (
    f"INSERT INTO action_log (id, at, who, session, {_ACTION_VALUES}, framework_id, "
    "framework_version) OVERRIDING SYSTEM VALUE "
    f"VALUES ({', '.join(['%s'] * (len(ACTION_COLUMNS) + 6))})"
)
_ACTION_LOG_SELECT = (
    f"SELECT id, at, who, session, {_ACTION_VALUES}, framework_id, framework_version "
    "FROM action_log"
)

_SLOT_SELECT = """
    SELECT new_answer, new_note FROM answer_log
    WHERE round = %s AND agency_id = %s AND service = %s AND instrument = %s
      AND respondent = %s AND kind = %s AND item_id = %s
    ORDER BY id DESC LIMIT 1
"""

_NAME_SELECT = (
    "SELECT agency_name FROM answer_log WHERE round = %s AND agency_id = %s "
    "ORDER BY id DESC LIMIT 1"
)

_INSERT = """
    INSERT INTO answer_log (at, who, session, kind, round, agency_id, agency_name, service,
        instrument, respondent, item_id, old_answer, new_answer, old_note, new_note,
        framework_id, framework_version)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    RETURNING id
"""

_INSERT_WITH_ID = f"""
    INSERT INTO answer_log ({_COLUMNS}) OVERRIDING SYSTEM VALUE
    VALUES ({", ".join(["%s"] * 18)})
"""

#: Positions of the note columns in a log row (bytes in the database, text in guidekit).
_LOG_NOTES = (14, 15)
_CURRENT_NOTES = (13,)


def agency_lock_key(round: str, agency_id: str) -> int:
    """The advisory-lock key of (round, agency code): a signed 64-bit number from SHA-256
    (two assessments sharing a key only wait for each other; nothing else changes)."""
    digest = hashlib.sha256(f"{round}\x1f{agency_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresStore(ResponseStore):
    """The response store in a PostgreSQL database (psycopg 3, a connection pool).

    Parameters
    ----------
    url : str
        ``postgresql://[user[:password]@][host][:port][/dbname][?param=value…]``; parts
        left out come from libpq's environment (``PGHOST``, ``PGUSER``, ``PGPASSWORD``,
        ``PGDATABASE``, ``~/.pgpass``, ``PGSERVICE``).
    framework : Framework or path, optional
        What changes are checked against (default: the bundled tw-dsg).
    readonly : bool
        Only read: no table is created, and every transaction is read-only
        (``default_transaction_read_only``), whatever the role may do.
    pool_size : int
        Most connections kept open (a workshop kernel writes one change at a time).

    Raises
    ------
    StoreError
        ``connect`` if the server cannot be reached or refuses the login (the message
        never holds the password), ``not-a-store`` if the schema holds other tables (or,
        read-only, none), ``bad-meta`` / ``schema`` as for SQLite, ``denied`` if the role
        may not create the tables of a new store.
    """

    kind = "postgresql"
    #: Seconds a writer waits for another writer of the same agency (``lock_timeout``).
    LOCK_TIMEOUT_S = 30
    #: Seconds to connect before giving up (unless the URL sets ``connect_timeout``).
    CONNECT_TIMEOUT_S = 10
    #: A transaction left open this long by a vanished client is ended by the server,
    #: releasing its locks (``idle_in_transaction_session_timeout``).
    IDLE_IN_TRANSACTION_S = 60

    _action_log_select = _ACTION_LOG_SELECT

    def __init__(
        self,
        url: str,
        framework: Framework | str | Path | None = None,
        *,
        readonly: bool = False,
        pool_size: int = 4,
    ) -> None:
        super().__init__(framework)
        self.location = mask_url(url)
        self.readonly = readonly
        self._secret = _password(url)
        self._pool: ConnectionPool | None = None
        try:
            kwargs: dict[str, Any] = {"application_name": "guidekit"}
            if "connect_timeout" not in conninfo_to_dict(url):
                kwargs["connect_timeout"] = self.CONNECT_TIMEOUT_S
            with psycopg.connect(url, autocommit=True, **kwargs) as conn:
                self._configure(conn)
                self._prepare(conn)
            self._pool = ConnectionPool(
                url,
                min_size=1,
                max_size=max(1, pool_size),
                kwargs={"autocommit": True, **kwargs},
                configure=self._configure,
                check=ConnectionPool.check_connection,
                name="guidekit",
                open=False,
            )
            self._pool.open(wait=True, timeout=self.CONNECT_TIMEOUT_S + 5)
        except StoreError:
            self.close()
            raise
        except psycopg.Error as exc:
            self.close()
            raise self._error("connect", "cannot open the store", exc) from None

    # -- connections -----------------------------------------------------------------
    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.autocommit = True
        conn.execute(f"SET lock_timeout = '{int(self.LOCK_TIMEOUT_S)}s'")
        conn.execute(f"SET idle_in_transaction_session_timeout = '{self.IDLE_IN_TRANSACTION_S}s'")
        conn.execute("SET TIME ZONE 'UTC'")
        if self.readonly:
            conn.execute("SET default_transaction_read_only = on")
            conn.read_only = True

    def _masked(self, text: str) -> str:
        """``text`` with the password (and any URL's password) replaced by ``***``."""
        if self._secret:
            text = text.replace(self._secret, "***")
        return mask_url(text)

    def _error(self, code: str, what: str, exc: BaseException) -> StoreError:
        """A :class:`StoreError` for a database error: ``connection`` when the connection
        was lost (nothing of the transaction was written), ``denied`` when the role lacks
        the right, ``readonly`` for a read-only transaction, else ``code``."""
        detail = self._masked(" ".join(str(exc).split()) or type(exc).__name__)
        if isinstance(exc, pg_errors.InsufficientPrivilege):
            code = "denied"
        elif isinstance(exc, pg_errors.ReadOnlySqlTransaction):
            code = "readonly"
        elif code != "connect" and _connection_lost(exc):
            code = "connection"
        return StoreError(
            code, f"{what} {self.location}: {detail}", path=self.location, detail=detail
        )

    def _connection(self) -> Any:
        if self._pool is None:
            raise StoreError("closed", f"the store {self.location} is closed", path=self.location)
        return self._pool.connection(timeout=self.CONNECT_TIMEOUT_S + self.LOCK_TIMEOUT_S)

    # -- schema ----------------------------------------------------------------------
    def _prepare(self, conn: psycopg.Connection[Any]) -> None:
        """Check the schema: a guidekit store of this or an older version (migrated by a
        writer), or — for a writer — an empty schema, where the store is created."""
        with conn.transaction():
            if not self.readonly:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            schema = conn.execute("SELECT current_schema()").fetchone()[0]
            if schema is None:
                raise StoreError(
                    "not-a-store",
                    f"{self.location}: its search_path names no existing schema",
                    path=self.location,
                    tables="—",
                )
            tables = {
                name
                for (name,) in conn.execute(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
                    "AND c.relkind IN ('r', 'v', 'm', 'p', 'f')"
                )
            }
            version = self._version(conn) if "store_meta" in tables else None
            if {"store_meta", "answer_log"} <= tables:
                assert version is not None
                if version < SCHEMA_VERSION and not self.readonly:
                    self._migrate(conn, version)
                return
            if tables or self.readonly:
                shown = ", ".join(sorted(tables)[:5]) + ("…" if len(tables) > 5 else "")
                raise StoreError(
                    "not-a-store",
                    f"{self.location} is not a guidekit answer store "
                    f"(tables in schema {schema}: {shown or 'none'})",
                    path=self.location,
                    tables=shown or "—",
                )
            self._migrate(conn, 0)

    def _version(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
        return schema_version(row, self.location)

    def _migrate(self, conn: psycopg.Connection[Any], version: int) -> None:
        """Apply :data:`MIGRATIONS` from ``version`` (inside the caller's transaction)."""
        for step in MIGRATIONS[version:]:
            for statement in step:
                conn.execute(statement)
        if version == 0:
            conn.execute(
                "INSERT INTO store_meta (key, value) VALUES ('schema_version', %s), "
                "('created_at', (" + _NOW + "))",
                (str(SCHEMA_VERSION),),
            )
        else:
            conn.execute(
                "UPDATE store_meta SET value = %s WHERE key = 'schema_version'",
                (str(SCHEMA_VERSION),),
            )

    # -- writing ---------------------------------------------------------------------
    def _append(self, changes: Sequence[Change]) -> list[Saved]:
        if self.readonly:
            raise StoreError(
                "readonly",
                f"the store {self.location} is open for reading only",
                path=self.location,
            )
        keys = sorted({agency_lock_key(c.sheet.round, c.sheet.agency_id) for c in changes})
        try:
            with self._connection() as conn, conn.transaction():
                for key in keys:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                at = conn.execute(_NOW).fetchone()[0]

                def name(round: str, agency_id: str) -> str | None:
                    row = conn.execute(_NAME_SELECT, (round, agency_id)).fetchone()
                    return None if row is None else str(row[0])

                def slot(change: Change) -> tuple[str | None, str]:
                    row = conn.execute(_SLOT_SELECT, self.slot_key(change)).fetchone()
                    return (row[0], _text(row[1])) if row else (None, "")

                def insert(values: tuple[Any, ...]) -> int:
                    # notes are bytea (PostgreSQL text cannot hold NUL): kept exactly
                    notes = tuple(n.encode("utf-8") for n in values[13:15])
                    row = conn.execute(_INSERT, (*values[:13], *notes, *values[15:]))
                    return int(row.fetchone()[0])

                out = self._apply(changes, at, name, slot, insert)
        except psycopg.Error as exc:
            raise self._error("write", "could not save to", exc) from None
        return out

    def _load_log(self, rows: Sequence[tuple[Any, ...]]) -> int:
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute("LOCK TABLE answer_log IN EXCLUSIVE MODE")
                present = conn.execute("SELECT count(*) FROM answer_log").fetchone()[0]
                if present:
                    raise StoreError(
                        "not-empty",
                        f"{self.location} already holds {present} log rows",
                        path=self.location,
                        rows=int(present),
                    )
                with conn.cursor() as cursor:
                    cursor.executemany(_INSERT_WITH_ID, [_encoded(r) for r in rows])
                conn.execute(
                    "SELECT setval(pg_get_serial_sequence('answer_log', 'id'), "
                    "coalesce(max(id), 0) + 1, false) FROM answer_log"
                )
                return int(conn.execute("SELECT count(*) FROM answer_log").fetchone()[0])
        except psycopg.Error as exc:
            raise self._error("write", "could not copy into", exc) from None

    def _append_actions(
        self, actions: Sequence[Action], who: str, session: str
    ) -> list[ActionSaved]:
        if self.readonly:
            raise StoreError(
                "readonly",
                f"the store {self.location} is open for reading only",
                path=self.location,
            )
        keys = sorted({agency_lock_key(a.round, a.agency_id) for a in actions})
        try:
            with self._connection() as conn, conn.transaction():
                for key in keys:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
                at = conn.execute(_NOW).fetchone()[0]

                def current(round: str, action_id: str) -> tuple[str, ...] | None:
                    row = conn.execute(_ACTION_CURRENT, (round, action_id)).fetchone()
                    return None if row is None else tuple(row)

                def insert(values: tuple[Any, ...]) -> int:
                    return int(conn.execute(_ACTION_INSERT, values).fetchone()[0])

                return self._apply_actions(actions, at, current, insert, who, session)
        except psycopg.Error as exc:
            raise self._error("write", "could not save to", exc) from None

    def _has_action_log(self) -> bool:
        return bool(self._read("SELECT to_regclass('action_log') IS NOT NULL", ())[0][0])

    def _load_action_log(self, rows: Sequence[tuple[Any, ...]]) -> int:
        try:
            with self._connection() as conn, conn.transaction():
                conn.execute("LOCK TABLE action_log IN EXCLUSIVE MODE")
                present = conn.execute("SELECT count(*) FROM action_log").fetchone()[0]
                if present:
                    raise StoreError(
                        "not-empty",
                        f"{self.location} already holds {present} action-log rows",
                        path=self.location,
                        rows=int(present),
                    )
                if rows:
                    with conn.cursor() as cursor:
                        cursor.executemany(_ACTION_INSERT_WITH_ID, list(rows))
                conn.execute(
                    "SELECT setval(pg_get_serial_sequence('action_log', 'id'), "
                    "coalesce(max(id), 0) + 1, false) FROM action_log"
                )
                return int(conn.execute("SELECT count(*) FROM action_log").fetchone()[0])
        except psycopg.Error as exc:
            raise self._error("write", "could not copy into", exc) from None

    # -- reading ---------------------------------------------------------------------
    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            with self._connection() as conn:
                return conn.execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise self._error("read", "could not read", exc) from None

    @staticmethod
    def _where(filters: dict[str, str]) -> tuple[str, list[str]]:
        if not filters:
            return "", []
        # keys come from SLOT only (checked by ResponseStore._filters): safe as column names
        return " WHERE " + " AND ".join(f"{k} = %s" for k in filters), list(filters.values())

    def _select_log(self, filters: dict[str, str]) -> list[tuple[Any, ...]]:
        where, params = self._where(filters)
        rows = self._read(f"SELECT {_COLUMNS} FROM answer_log{where} ORDER BY id", params)
        return [_decoded(r, _LOG_NOTES) for r in rows]

    def _select_current(self, filters: dict[str, str]) -> list[tuple[Any, ...]]:
        where, params = self._where(filters)
        rows = self._read(_CURRENT_SELECT.format(where=where), params)
        return [_decoded(r, _CURRENT_NOTES) for r in rows]

    def _select_agency_name(self, round: str, agency_id: str) -> str | None:
        rows = self._read(_NAME_SELECT, (round, agency_id))
        return None if not rows else str(rows[0][0])

    def close(self) -> None:
        """Close every pooled connection (further use raises ``closed``)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r})"


def _connection_lost(exc: BaseException) -> bool:
    """True when the connection itself failed (a network drop, a server shut down or
    restarted, no connection to be had): libpq's errors without a SQLSTATE, class 08
    (connection exception) and 57P01–57P03 (the server ended the session).  A lock
    timeout or a cancelled statement (also "operational") is not a lost connection."""
    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8") if value is not None else ""


def _decoded(row: tuple[Any, ...], notes: tuple[int, ...]) -> tuple[Any, ...]:
    out = list(row)
    for n in notes:
        out[n] = _text(out[n])
    return tuple(out)


def _encoded(row: tuple[Any, ...]) -> tuple[Any, ...]:
    out = list(row)
    for n in _LOG_NOTES:
        out[n] = (out[n] or "").encode("utf-8")
    return tuple(out)


def _password(url: str) -> str:
    """The password the URL holds, or ``$PGPASSWORD`` (to keep it out of messages)."""
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    return str(password or os.environ.get("PGPASSWORD", ""))
