"""The answer store: where a workshop keeps every answer the moment it is given.

Boundary: an append-only answer log with field-wise writes and conflict checks behind
:class:`ResponseStore`; :func:`open_store` opens one.  Reads and writes answers in the
canonical columns of :mod:`guidekit.answers`; knows nothing of scoring or reports.
"""

from __future__ import annotations

from guidekit.store.sqlite import (
    CURRENT_COLUMNS,
    DEFAULT_NAME,
    EXPORT_COLUMNS,
    FIELD_LABELS,
    KEEP,
    KINDS,
    LOG_COLUMNS,
    SCHEMA_VERSION,
    SLOT,
    STORE_ENV,
    WAL_AUTOCHECKPOINT_PAGES,
    ZH_HEADERS,
    Agreed,
    Change,
    Conflict,
    ExportedFile,
    ResponseStore,
    Saved,
    Sheet,
    SQLiteStore,
    StoreError,
    answer_option,
    default_store_path,
    export_table,
    open_store,
    text_problem,
    utc_now,
)

__all__ = [
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
    "WAL_AUTOCHECKPOINT_PAGES",
    "ZH_HEADERS",
    "Agreed",
    "Change",
    "Conflict",
    "ExportedFile",
    "ResponseStore",
    "SQLiteStore",
    "Saved",
    "Sheet",
    "StoreError",
    "answer_option",
    "default_store_path",
    "export_table",
    "open_store",
    "text_problem",
    "utc_now",
]
