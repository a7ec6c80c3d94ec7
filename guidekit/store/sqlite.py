"""The SQLite backend of the answer store: one file beside one workshop server.

WAL journal (readers never block the writer), ``synchronous=FULL``, every write one
``BEGIN IMMEDIATE`` transaction (writers queue, none is lost), triggers refusing
UPDATE and DELETE on the log.  The file must be on a local disk (WAL mode does not
work over network file systems).  Everything that does not depend on the database is
:class:`guidekit.store.base.ResponseStore`'s.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from guidekit.answers import ACTION_COLUMNS, Action
from guidekit.files import SQLITE_SIBLINGS, check_target, install_output
from guidekit.framework import Framework
from guidekit.store.base import (
    CURRENT_SELECT,
    CURRENT_VIEW,
    SCHEMA_VERSION,
    ActionSaved,
    BackedUp,
    Change,
    ResponseStore,
    Saved,
    StoreError,
    schema_version,
    utc_now,
)

#: How many WAL pages may pile up before SQLite copies them into the store file.  Small:
#: every few answers are checkpointed, so a damaged ``-wal`` file can cost only the last
#: few changes (SQLite's default, 1000 pages, held a whole workshop).
WAL_AUTOCHECKPOINT_PAGES = 8


# -- SQLite -------------------------------------------------------------------------

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS answer_log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    at                TEXT NOT NULL,              -- UTC, ISO 8601
    who               TEXT NOT NULL,              -- the person who made the change
    session           TEXT NOT NULL,              -- the page / kernel it came from
    kind              TEXT NOT NULL CHECK (kind IN ('answer', 'agreed')),
    round             TEXT NOT NULL,
    agency_id         TEXT NOT NULL,
    agency_name       TEXT NOT NULL,
    service           TEXT NOT NULL,
    instrument        TEXT NOT NULL,
    respondent        TEXT NOT NULL,
    item_id           TEXT NOT NULL,
    old_answer        TEXT,                       -- NULL = unanswered
    new_answer        TEXT,
    old_note          TEXT NOT NULL,
    new_note          TEXT NOT NULL,
    framework_id      TEXT NOT NULL,
    framework_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answer_log_slot
    ON answer_log (round, agency_id, service, instrument, respondent, kind, item_id, id);
CREATE TRIGGER IF NOT EXISTS answer_log_no_update BEFORE UPDATE ON answer_log
    BEGIN SELECT RAISE(ABORT, 'answer_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS answer_log_no_delete BEFORE DELETE ON answer_log
    BEGIN SELECT RAISE(ABORT, 'answer_log is append-only'); END;
"""
    + CURRENT_VIEW.replace("CREATE VIEW", "CREATE VIEW IF NOT EXISTS", 1)
    + ";\n"
)

#: The action log (schema 2): one row per change of an action, append-only.
_ACTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS action_log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    at                TEXT NOT NULL,              -- UTC, ISO 8601
    who               TEXT NOT NULL,
    session           TEXT NOT NULL,
    action_id         TEXT NOT NULL,
    round             TEXT NOT NULL,
    agency_id         TEXT NOT NULL,
    agency_name       TEXT NOT NULL,
    service           TEXT NOT NULL,
    instrument        TEXT NOT NULL,
    item_id           TEXT NOT NULL,
    text              TEXT NOT NULL,
    owner             TEXT NOT NULL,
    due               TEXT NOT NULL,              -- ISO date
    status            TEXT NOT NULL CHECK (status IN ('planned', 'in_progress', 'done', 'dropped')),
    completed         TEXT NOT NULL,              -- ISO date or ''
    reason            TEXT NOT NULL,
    measure_id        TEXT NOT NULL,
    target            TEXT NOT NULL,
    framework_id      TEXT NOT NULL,
    framework_version TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS action_log_key ON action_log (round, action_id, id);
CREATE TRIGGER IF NOT EXISTS action_log_no_update BEFORE UPDATE ON action_log
    BEGIN SELECT RAISE(ABORT, 'action_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS action_log_no_delete BEFORE DELETE ON action_log
    BEGIN SELECT RAISE(ABORT, 'action_log is append-only'); END;
"""

_ACTION_VALUES = ", ".join(ACTION_COLUMNS)
_ACTION_CURRENT = (
    f"SELECT {_ACTION_VALUES} FROM action_log WHERE round = ? AND action_id = ? "
    "ORDER BY id DESC LIMIT 1"
)
_ACTION_INSERT = (
    f"INSERT INTO action_log (at, who, session, {_ACTION_VALUES}, framework_id, "
    f"framework_version) VALUES ({', '.join(['?'] * (len(ACTION_COLUMNS) + 5))})"
)
_ACTION_INSERT_WITH_ID = (
    f"INSERT INTO action_log (id, at, who, session, {_ACTION_VALUES}, framework_id, "
    f"framework_version) VALUES ({', '.join(['?'] * (len(ACTION_COLUMNS) + 6))})"
)
_ACTION_LOG_SELECT = (
    f"SELECT id, at, who, session, {_ACTION_VALUES}, framework_id, framework_version "
    "FROM action_log"
)

_CURRENT_SELECT = CURRENT_SELECT

_SLOT_SELECT = """
    SELECT new_answer, new_note FROM answer_log
    WHERE round = ? AND agency_id = ? AND service = ? AND instrument = ? AND respondent = ?
      AND kind = ? AND item_id = ?
    ORDER BY id DESC LIMIT 1
"""

_INSERT = """
    INSERT INTO answer_log (at, who, session, kind, round, agency_id, agency_name, service,
        instrument, respondent, item_id, old_answer, new_answer, old_note, new_note,
        framework_id, framework_version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_INSERT_WITH_ID = """
    INSERT INTO answer_log (id, at, who, session, kind, round, agency_id, agency_name, service,
        instrument, respondent, item_id, old_answer, new_answer, old_note, new_note,
        framework_id, framework_version)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_LOG_SELECT = (
    "SELECT id, at, who, session, kind, round, agency_id, agency_name, service, instrument, "
    "respondent, item_id, old_answer, new_answer, old_note, new_note, framework_id, "
    "framework_version FROM answer_log"
)


class SQLiteStore(ResponseStore):
    """The response store in one SQLite file (stdlib :mod:`sqlite3`).

    WAL journal (readers never block the writer), ``synchronous=FULL`` (a
    committed change survives a killed process and a power cut), a 30 s busy
    timeout, every write one ``BEGIN IMMEDIATE`` transaction, and a checkpoint
    every :data:`WAL_AUTOCHECKPOINT_PAGES` WAL pages.

    Parameters
    ----------
    path : str or Path
        The file.  For writing it is created with its folder if missing; an
        existing file must be a guidekit store or an empty database.
    framework : Framework or path, optional
        What changes are checked against (default: the bundled tw-dsg).
    readonly : bool
        Open for reading only (``guidekit validate`` and every other reader):
        the file is never changed, no table is created and the journal mode is
        left alone; a store on read-only media (a CD, a read-only share or
        snapshot) can be read.

    Raises
    ------
    StoreError
        ``open`` if the file cannot be opened or is not an SQLite database,
        ``missing`` (read-only) if there is no such file, ``not-a-store`` if it is
        another program's database (or, read-only, an empty one), ``bad-meta`` if
        its format version is unreadable, ``schema`` if a newer guidekit wrote it.
    """

    kind = "sqlite"
    #: Seconds a writer waits for another writer's transaction before giving up.
    BUSY_TIMEOUT_S = 30.0

    _action_log_select = _ACTION_LOG_SELECT

    def _error(self, code: str, message: str, **params: Any) -> StoreError:
        """A :class:`StoreError` about this store's file (``path`` is filled in)."""
        return StoreError(code, message, path=str(self.path), **params)

    def __init__(
        self,
        path: str | Path,
        framework: Framework | str | Path | None = None,
        *,
        readonly: bool = False,
    ) -> None:
        super().__init__(framework)
        self.path = Path(path).expanduser().resolve()
        self.location = str(self.path)
        self.readonly = readonly
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        try:
            if readonly:
                self._db = self._connect_readonly()
                self._check_tables(self._db, create=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(
                    self.path,
                    timeout=self.BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
                self._db.execute(f"PRAGMA busy_timeout = {int(self.BUSY_TIMEOUT_S * 1000)}")
                # Another program's database is refused before anything is changed in it.
                self._check_tables(self._db, create=True)
                mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise self._error(
                        "open",
                        f"{self.path}: cannot use WAL journal (got {mode})",
                        detail=f"journal_mode={mode}",
                    )
                self._db.execute("PRAGMA synchronous = FULL")
                self._db.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
                self._create()
        except StoreError:
            self.close()
            raise
        except (sqlite3.DatabaseError, OSError) as exc:
            self.close()
            raise self._error(
                "open", f"cannot open the store {self.path}: {exc}", detail=str(exc)
            ) from exc

    def _connect_readonly(self) -> sqlite3.Connection:
        """A connection that never writes, nor leaves files behind.

        A store with no ``-wal`` file is closed (every writer keeps one while it
        has the store open), so it is read as immutable: SQLite then creates no
        ``-wal`` / ``-shm`` files, and it works on read-only media.  A store with
        a ``-wal`` file (a workshop running now, or one that was killed) is read
        with ``mode=ro``, which reads the changes still in the ``-wal`` file.
        """
        if not self.path.is_file():
            raise StoreError("missing", f"no store at {self.path}", path=str(self.path))
        uri = self.path.as_uri()
        wal = self.path.with_name(self.path.name + "-wal")
        options = "?mode=ro" if wal.exists() else "?mode=ro&immutable=1"
        db = sqlite3.connect(
            uri + options,
            uri=True,
            timeout=self.BUSY_TIMEOUT_S,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            db.close()
            if "immutable" not in options and not os.access(self.path.parent, os.W_OK):
                # Read-only media holding an unfinished -wal file: SQLite cannot read the
                # changes in it there, and reading without them would lose answers.
                raise self._error(
                    "open",
                    f"{self.path}: cannot read its -wal file on read-only media ({exc})",
                    detail=f"{exc}; copy the .sqlite, -wal and -shm files to a writable folder",
                ) from exc
            raise
        return db

    def _check_tables(self, db: sqlite3.Connection, create: bool) -> None:
        """Refuse a file that is not a guidekit store (read-only queries only)."""
        tables = {
            name
            for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            )
        }
        if "store_meta" in tables:
            self._check_version(db)
        if {"store_meta", "answer_log"} <= tables:
            return
        if create and not tables:
            return  # a new (or empty) database becomes a store
        shown = ", ".join(sorted(tables)[:5]) + ("…" if len(tables) > 5 else "")
        raise self._error(
            "not-a-store",
            f"{self.path} is not a guidekit answer store (tables: {shown or 'none'})",
            tables=shown or "—",
        )

    def _check_version(self, db: sqlite3.Connection) -> None:
        try:
            row = db.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise self._error(
                "bad-meta", f"{self.path}: unreadable store_meta ({exc})", found=str(exc)
            ) from exc
        schema_version(row, str(self.path))

    def _create(self) -> None:
        with self._transaction() as db:
            for statement in _statements(_SCHEMA + _ACTION_SCHEMA):
                db.execute(statement)
            row = db.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
            if row is not None and str(row[0]).strip().isdigit() and int(row[0]) < SCHEMA_VERSION:
                # an older store: the tables it lacked were created above (migration 1 -> 2)
                db.execute(
                    "UPDATE store_meta SET value = ? WHERE key = 'schema_version'",
                    (str(SCHEMA_VERSION),),
                )
            elif row is None:
                db.execute(
                    "INSERT INTO store_meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
                db.execute(
                    "INSERT INTO store_meta (key, value) VALUES ('created_at', ?)", (utc_now(),)
                )
            else:
                self._check_version(db)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                raise StoreError("closed", f"the store {self.path} is closed", path=str(self.path))
            if self.readonly:
                raise self._error("readonly", f"the store {self.path} is open for reading only")
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _append(self, changes: Sequence[Change]) -> list[Saved]:
        try:
            with self._transaction() as db:

                def slot(change: Change) -> tuple[str | None, str]:
                    row = db.execute(_SLOT_SELECT, self.slot_key(change)).fetchone()
                    return (row[0], row[1]) if row else (None, "")

                def insert(values: tuple[Any, ...]) -> int:
                    return int(db.execute(_INSERT, values).lastrowid)

                name = functools.partial(self._agency_name_in, db)
                out = self._apply(changes, utc_now(), name, slot, insert)
        except sqlite3.OperationalError as exc:
            raise self._error(
                "write", f"could not save to {self.path}: {exc}", detail=str(exc)
            ) from exc
        return out

    def _append_actions(
        self, actions: Sequence[Action], who: str, session: str
    ) -> list[ActionSaved]:
        try:
            with self._transaction() as db:

                def current(round: str, action_id: str) -> tuple[str, ...] | None:
                    row = db.execute(_ACTION_CURRENT, (round, action_id)).fetchone()
                    return None if row is None else tuple(row)

                def insert(values: tuple[Any, ...]) -> int:
                    return int(db.execute(_ACTION_INSERT, values).lastrowid)

                return self._apply_actions(actions, utc_now(), current, insert, who, session)
        except sqlite3.OperationalError as exc:
            raise self._error(
                "write", f"could not save to {self.path}: {exc}", detail=str(exc)
            ) from exc

    def _has_action_log(self) -> bool:
        present = self._read(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'action_log'", []
        )
        return bool(present[0][0])

    def _load_action_log(self, rows: Sequence[tuple[Any, ...]]) -> int:
        try:
            with self._transaction() as db:
                present = db.execute("SELECT count(*) FROM action_log").fetchone()[0]
                if present:
                    raise self._error(
                        "not-empty",
                        f"{self.path} already holds {present} action-log rows",
                        rows=int(present),
                    )
                db.executemany(_ACTION_INSERT_WITH_ID, rows)
                return int(db.execute("SELECT count(*) FROM action_log").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise self._error(
                "write", f"could not copy into {self.path}: {exc}", detail=str(exc)
            ) from exc

    @staticmethod
    def _agency_name_in(db: sqlite3.Connection, round: str, agency_id: str) -> str | None:
        row = db.execute(
            "SELECT agency_name FROM answer_log WHERE round = ? AND agency_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (round, agency_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def _select_agency_name(self, round: str, agency_id: str) -> str | None:
        with self._lock:
            if self._db is None:
                raise StoreError("closed", f"the store {self.path} is closed", path=str(self.path))
            return self._agency_name_in(self._db, round, agency_id)

    @staticmethod
    def _where(filters: dict[str, str]) -> tuple[str, list[str]]:
        if not filters:
            return "", []
        # keys come from SLOT only (checked by ResponseStore._filters): safe as column names
        return " WHERE " + " AND ".join(f"{k} = ?" for k in filters), list(filters.values())

    def _read(self, sql: str, params: list[str]) -> list[tuple[Any, ...]]:
        with self._lock:
            if self._db is None:
                raise StoreError("closed", f"the store {self.path} is closed", path=str(self.path))
            return self._db.execute(sql, params).fetchall()

    def _select_log(self, filters: dict[str, str]) -> list[tuple[Any, ...]]:
        where, params = self._where(filters)
        return self._read(f"{_LOG_SELECT}{where} ORDER BY id", params)

    def _select_current(self, filters: dict[str, str]) -> list[tuple[Any, ...]]:
        # The same query as the ``current_answers`` view, with the filters applied before
        # ranking (they are slot columns, so each slot's newest row is unchanged).
        where, params = self._where(filters)
        return self._read(_CURRENT_SELECT.format(where=where), params)

    def checkpoint(self) -> bool:
        """Copy every change still in the ``-wal`` file into the store file and empty the
        ``-wal`` file (``PRAGMA wal_checkpoint(TRUNCATE)``), so the ``.sqlite`` file alone
        holds every answer.  Waits up to :attr:`BUSY_TIMEOUT_S` for other writers.

        Returns True when every change was copied; False when another connection kept
        SQLite from finishing (then nothing is lost: the rest stays in the ``-wal`` file),
        or for a read-only store (it never writes).
        """
        with self._lock:
            if self._db is None or self.readonly:
                return False
            try:
                busy, _log, _copied = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            except sqlite3.DatabaseError:
                return False
            return busy == 0

    def backup(self, target: str | Path) -> Path:
        """Write a consistent copy of the store, every change in the ``-wal`` file included,
        to ``target`` (one ``.sqlite`` file, no ``-wal``); works while a workshop is running
        and after a killed one.  :meth:`backup_file` also says how many log rows it copied.

        ``target`` must not exist, nor its ``-wal``, ``-shm`` or ``-journal`` files: a
        backup never replaces a file (:mod:`guidekit.files`, ``replace="never"``).

        Raises
        ------
        WriteRefused
            If ``target`` or one of its SQLite journal files exists (nothing is written).
        StoreError
            ``backup`` if the copy cannot be written, or names the store itself.
        """
        return self.backup_file(target).path

    def backup_file(self, target: str | Path) -> BackedUp:
        """:meth:`backup`, returning the copy and the log rows counted in the copy itself.

        The copy is made in a hidden temporary file beside ``target``, its rows counted
        there, switched to a rollback journal (no ``-wal``), written to disk and then
        moved to ``target`` without replacing anything (:func:`guidekit.files.install_output`).

        Raises
        ------
        WriteRefused, StoreError
            As :meth:`backup`.
        """
        target = Path(target).expanduser().resolve()
        if target == self.path:
            raise StoreError(
                "backup", f"{target} is the store itself", path=str(target), detail="same file"
            )

        def fill(partial: Path) -> None:
            copy = sqlite3.connect(partial, isolation_level=None)
            try:
                with self._lock:
                    if self._db is None:
                        raise StoreError(
                            "closed", f"the store {self.path} is closed", path=str(self.path)
                        )
                    self._db.backup(copy)
            finally:
                copy.close()

        return _write_copy(target, fill)

    @property
    def home(self) -> Path:
        """The folder of the store file (exports and reports go beside it)."""
        return self.path.parent

    def _load_log(self, rows: Sequence[tuple[Any, ...]]) -> int:
        try:
            with self._transaction() as db:
                present = db.execute("SELECT count(*) FROM answer_log").fetchone()[0]
                if present:
                    raise self._error(
                        "not-empty",
                        f"{self.path} already holds {present} log rows",
                        rows=int(present),
                    )
                db.executemany(_INSERT_WITH_ID, rows)
                return int(db.execute("SELECT count(*) FROM answer_log").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise self._error(
                "write", f"could not copy into {self.path}: {exc}", detail=str(exc)
            ) from exc

    def close(self) -> None:
        """Checkpoint (:meth:`checkpoint`: the ``.sqlite`` file alone then holds every
        answer) and release the connection; the last connection to close also removes
        the ``-wal`` and ``-shm`` files."""
        with self._lock:
            if self._db is not None:
                if not self.readonly:
                    self.checkpoint()
                self._db.close()
                self._db = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.location!r})"


def copy_into_file(source: ResponseStore, target: str | Path) -> BackedUp:
    """Copy the whole answer log of ``source`` (any backend) into a new SQLite store file
    ``target``, ids and times kept; returns the copy and the log rows counted in it.

    Written as :meth:`SQLiteStore.backup_file` writes: a hidden temporary file beside
    ``target`` (one file, rollback journal, on disk), then moved to ``target`` without
    replacing anything.

    Raises
    ------
    WriteRefused
        If ``target`` or one of its SQLite journal files exists (nothing is written).
    StoreError
        ``backup`` if the copy cannot be written.
    """

    def fill(partial: Path) -> None:
        copy = SQLiteStore(partial)
        try:
            source.copy_to(copy)
        finally:
            copy.close()

    return _write_copy(Path(target).expanduser().resolve(), fill)


def _write_copy(target: Path, fill: Callable[[Path], None]) -> BackedUp:
    """Write a store file ``target`` that ``fill`` makes at a hidden temporary path beside it:
    then switched to a rollback journal (one file, no ``-wal``), its log rows counted in the
    copy itself, written to disk and moved to ``target`` without replacing anything."""
    check_target(target, replace="never", siblings=SQLITE_SIBLINGS)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_with_journals(partial)
        fill(partial)
        db = sqlite3.connect(partial, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = DELETE")
            rows = db.execute("SELECT count(*) FROM answer_log").fetchone()[0]
        finally:
            db.close()
        with open(partial, "rb+") as fh:
            os.fsync(fh.fileno())
        install_output(partial, target, replace="never", siblings=SQLITE_SIBLINGS)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise StoreError(
            "backup", f"cannot write the copy {target}: {exc}", path=str(target), detail=str(exc)
        ) from exc
    finally:
        _remove_with_journals(partial)
    return BackedUp(target, int(rows))


def _remove_with_journals(path: Path) -> None:
    """Remove a temporary SQLite file of ours and any journal SQLite left beside it."""
    for suffix in ("", *SQLITE_SIBLINGS):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _statements(script: str) -> list[str]:
    """Split the schema script into statements (triggers contain ``;`` inside BEGIN … END)."""
    out, buffer = [], []
    for line in script.splitlines():
        buffer.append(line)
        text = "\n".join(buffer).strip()
        if text and sqlite3.complete_statement(text):
            out.append(text)
            buffer = []
    return out
