"""Opening a store by where it is, and copying one store into another.

:func:`open_store` picks the backend by its argument: a ``postgresql://`` URL opens
:class:`~guidekit.store.postgres.PostgresStore`, anything else is the path of an SQLite
file (:class:`~guidekit.store.sqlite.SQLiteStore`).  :func:`copy_store` is
``guidekit backup``: a store of either kind into a new store of either kind.
"""

from __future__ import annotations

from pathlib import Path

from guidekit.files import SQLITE_SIBLINGS, check_target
from guidekit.framework import Framework
from guidekit.store.base import BackedUp, ResponseStore, default_store_path, is_store_url
from guidekit.store.postgres import PostgresStore
from guidekit.store.sqlite import SQLiteStore, copy_into_file


def open_store(
    location: str | Path | None = None,
    framework: Framework | str | Path | None = None,
    *,
    readonly: bool = False,
) -> ResponseStore:
    """Open (and, for writing, create if needed) a response store.

    Parameters
    ----------
    location : str or Path, optional
        A file path (SQLite), or a ``postgresql://`` URL (PostgreSQL; credentials from
        the URL or libpq's ``PG*`` environment variables and ``~/.pgpass``).  Default
        :func:`default_store_path` (``$GUIDEKIT_STORE``, which may be a URL too).
    framework : Framework or path, optional
        The framework changes are checked against (default: the bundled tw-dsg).
    readonly : bool
        Only read (every reader of answers should): nothing is changed or created, and
        another program's database is refused, not turned into a store.

    Raises
    ------
    StoreError
        If the store cannot be opened or reached, is not a guidekit store, or was
        written by a newer guidekit (see :class:`SQLiteStore`, :class:`PostgresStore`).
    """
    if location is None:
        location = default_store_path()
    if is_store_url(location):
        return PostgresStore(str(location).strip(), framework, readonly=readonly)
    return SQLiteStore(location, framework, readonly=readonly)


def copy_store(source: str | Path, target: str | Path) -> BackedUp:
    """Copy every answer-log row of the store ``source`` into the new store ``target``
    (each a path or a ``postgresql://`` URL): SQLite → SQLite is SQLite's own online
    backup (:meth:`SQLiteStore.backup_file`); any other pair copies the log rows, ids,
    times and old values included, in one transaction of the target.

    ``source`` is opened read-only and never changed.  The target is never overwritten:
    a file that exists (or its ``-wal`` / ``-shm`` / ``-journal`` file) is refused, and a
    database whose store already holds log rows is refused (``not-empty``); an empty
    database (or schema) gets the store's tables.

    Returns
    -------
    BackedUp
        The target (a path, or the URL without its password) and the log rows counted
        in the target after the copy.

    Raises
    ------
    WriteRefused, StoreError
        As above; nothing is written then.
    """
    if not is_store_url(target):
        check_target(Path(target), replace="never", siblings=SQLITE_SIBLINGS)  # before opening
    with open_store(source, readonly=True) as opened:
        if not is_store_url(target):
            if isinstance(opened, SQLiteStore):
                return opened.backup_file(target)
            return copy_into_file(opened, target)
        with open_store(target) as copy:
            rows = opened.copy_to(copy)
            return BackedUp(copy.location, rows)
