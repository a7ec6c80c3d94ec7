"""The answer store: where a workshop keeps every answer the moment it is given.

Boundary: an append-only answer log with field-wise writes and conflict checks behind
:class:`ResponseStore` (:mod:`~guidekit.store.base`), in one SQLite file
(:mod:`~guidekit.store.sqlite`, the default) or a PostgreSQL database shared by many
workshop servers (:mod:`~guidekit.store.postgres`); :func:`open_store` opens either by
its location and :func:`copy_store` copies one into another (:mod:`~guidekit.store.open`);
:mod:`~guidekit.store.export` writes the answers table as an answer file.  Reads and
writes answers in the canonical columns of :mod:`guidekit.answers`; knows nothing of
scoring or reports.
"""

from __future__ import annotations

from guidekit.store.base import (
    ACTION_FILTERS,
    ACTION_LOG_COLUMNS,
    CURRENT_COLUMNS,
    DEFAULT_NAME,
    FIELD_LABELS,
    KEEP,
    KINDS,
    LOG_COLUMNS,
    SCHEMA_VERSION,
    SLOT,
    STORE_ENV,
    URL_SCHEMES,
    ActionRefused,
    ActionSaved,
    Agreed,
    BackedUp,
    Change,
    Conflict,
    ResponseStore,
    Saved,
    Sheet,
    StoreError,
    answer_option,
    default_store_path,
    is_store_url,
    mask_url,
    text_problem,
    utc_now,
)
from guidekit.store.export import (
    ACTIONS_SHEET,
    EXPORT_COLUMNS,
    ZH_HEADERS,
    ExportedFile,
    actions_csv_path,
    export_actions_table,
    export_table,
)
from guidekit.store.open import copy_store, open_store
from guidekit.store.postgres import PostgresStore
from guidekit.store.sqlite import WAL_AUTOCHECKPOINT_PAGES, SQLiteStore

__all__ = [
    "ACTIONS_SHEET",
    "ACTION_FILTERS",
    "ACTION_LOG_COLUMNS",
    "CURRENT_COLUMNS",
    "DEFAULT_NAME",
    "EXPORT_COLUMNS",
    "FIELD_LABELS",
    "KEEP",
    "KINDS",
    "LOG_COLUMNS",
    "SCHEMA_VERSION",
    "SLOT",
    "STORE_ENV",
    "URL_SCHEMES",
    "WAL_AUTOCHECKPOINT_PAGES",
    "ZH_HEADERS",
    "ActionRefused",
    "ActionSaved",
    "Agreed",
    "BackedUp",
    "Change",
    "Conflict",
    "ExportedFile",
    "PostgresStore",
    "ResponseStore",
    "SQLiteStore",
    "Saved",
    "Sheet",
    "StoreError",
    "actions_csv_path",
    "answer_option",
    "copy_store",
    "default_store_path",
    "export_actions_table",
    "export_table",
    "is_store_url",
    "mask_url",
    "open_store",
    "text_problem",
    "utc_now",
]
