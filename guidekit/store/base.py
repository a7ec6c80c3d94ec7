"""The response store: an append-only answer log, with current answers derived from it.

Workshop answers are written here the moment they change, so nothing a page
showed as saved is lost when a kernel dies or a browser closes, and several
respondents (separate tabs, kernels or processes) can write at the same time.

Model
-----
Every change is one row of the **answer log** (``answer_log``): who changed
what, when (UTC, ISO 8601), in which session, and the old and new answer code
and note.  Rows are never updated or deleted (database triggers refuse it).
The **current answer** of a slot — one (kind, round, agency_id, service,
instrument, respondent, item_id) — is the newest log row of that slot (highest
``id``).  It is derived by a query (the ``current_answers`` view), never kept as
a second, mutable copy.

Each write is one transaction that reads the slot's current value, appends the
row and commits (SQLite ``BEGIN IMMEDIATE``, PostgreSQL a lock per round and agency
taken first: writers queue, none is lost), so
the ``old_*`` columns of a slot always chain: a row's old value is the previous
row's new value.  A write that changes nothing appends nothing.

The team's agreed answer
------------------------
A facilitator records the team's agreed answer for an item as a row of kind
``"agreed"`` whose respondent is the reserved name :data:`AGREED_RESPONDENT`
(「團隊共識」; no person may use it).  Reading the store for reports
(:meth:`ResponseStore.responses` with ``agreed="team"``, the default, and the
exports built from it) applies **one rule**: *where the team recorded an
agreed answer, that answer is the agency's answer for the item* — the item
carries one row, respondent 「團隊共識」, and the respondents' own answers to
that item are left out; items without an agreed answer keep every
respondent's answer (scored by their median, :mod:`guidekit.scoring`).  The
individual answers stay in the store (``agreed="individual"``, :meth:`log`).
Because the report button exports exactly these rows and runs
:func:`guidekit.report.batch.run_reports` on the exported file, it makes the same
report as ``guidekit reports --responses <export>``.

Backends
--------
:class:`ResponseStore` (this module) holds everything that does not depend on the
database: validation of a write (:meth:`~ResponseStore.check`, :meth:`~ResponseStore._resolve`,
:meth:`~ResponseStore._check_name`), canonical frames and exports.  A backend implements
the reads and the one write transaction (:meth:`~ResponseStore._append`,
:meth:`~ResponseStore._select_log`, :meth:`~ResponseStore._select_current`,
:meth:`~ResponseStore._select_agency_name`, :meth:`~ResponseStore._load_log`,
:meth:`~ResponseStore.close`): :class:`guidekit.store.sqlite.SQLiteStore` (the default,
one file beside one workshop server) and :class:`guidekit.store.postgres.PostgresStore`
(one database shared by many servers).  :func:`guidekit.store.open_store` picks one by
its argument (a path or a ``postgresql://`` URL).
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import platformdirs

from guidekit import i18n
from guidekit.answers import (
    ACTION_COLUMNS,
    AGREED_RESPONDENT,
    COLUMNS,
    Action,
    ActionRow,
    Responses,
    SourceInfo,
    actions_frame,
    check_actions,
    clean_name,
    empty_frame,
    is_reserved_name,
    lacks_reason,
    service_lookalikes,
    settle_agreed,
)
from guidekit.files import check_target
from guidekit.framework import Framework, ScaleOption, load_framework
from guidekit.problems import GuidekitError, Problem, ResponsesError, Severity, sort_problems
from guidekit.store.export import (
    ZH_HEADERS,
    ExportedFile,
    actions_csv_path,
    answer_file,
)
from guidekit.text import CONTROL, clean, printable

#: Schema version written into the store; a newer store is refused, not guessed at.
#: Version 2 added the action log (``action_log``); a writer migrates a version-1 store.
SCHEMA_VERSION = 2

#: The reserved respondent under which the team's agreed answers are kept and exported
#: is :data:`guidekit.intake.responses.AGREED_RESPONDENT` (「團隊共識」), imported here.

#: Record kinds: a respondent's own answer, or the team's agreed answer.
KINDS = ("answer", "agreed")

#: Environment variable naming the store (a path); ``guidekit workshop --store`` sets it.
STORE_ENV = "GUIDEKIT_STORE"

#: File name of the default store in the user's data directory.
DEFAULT_NAME = "workshop.sqlite"

#: Columns every log row and every current answer starts with: the change's who and
#: when, and its slot's sheet (:class:`Sheet`) and item, in the canonical order
#: (:data:`guidekit.answers.COLUMNS`).
_CHANGE = ("log_id", "at", "who", "session", "kind", *COLUMNS[:7])
_FRAMEWORK = ("framework_id", "framework_version")

#: Columns of :meth:`ResponseStore.log` (one row per change), in order.
LOG_COLUMNS = (*_CHANGE, "old_answer", "new_answer", "old_note", "new_note", *_FRAMEWORK)

#: Columns of :meth:`ResponseStore.current` (one row per slot), in order.
CURRENT_COLUMNS = (*_CHANGE, "answer", "note", *_FRAMEWORK)


def log_values(
    at: str, change: Change, answers: tuple[Any, Any], notes: tuple[Any, Any], fw: Framework
) -> tuple[Any, ...]:
    """The values of one new log row, in :data:`LOG_COLUMNS` order without ``log_id``
    (every backend inserts these): ``answers`` and ``notes`` are (old, new)."""
    s = change.sheet
    return (
        at,
        change.who,
        change.session,
        s.kind,
        *(s.round, s.agency_id, s.agency_name, s.service, s.instrument, s.respondent),
        change.item_id,
        *answers,
        *notes,
        fw.id,
        fw.version,
    )


#: The current answers (:data:`CURRENT_COLUMNS`): each slot's newest log row, in log order
#: (standard SQL, the same for every backend; ``{where}`` is an optional filter).
CURRENT_SELECT = """
    SELECT id, at, who, session, kind, round, agency_id, agency_name, service, instrument,
           respondent, item_id, new_answer, new_note, framework_id, framework_version
    FROM (
        SELECT answer_log.*,
               ROW_NUMBER() OVER (
                   PARTITION BY kind, round, agency_id, service, instrument, respondent, item_id
                   ORDER BY id DESC
               ) AS newest
        FROM answer_log{where}
    ) AS ranked
    WHERE newest = 1
    ORDER BY id
"""

#: The ``current_answers`` view every backend creates (for people querying the store with
#: SQL): :data:`CURRENT_SELECT` without a filter, answers and notes under their plain names.
CURRENT_VIEW = f"""CREATE VIEW current_answers AS
    SELECT id, at, who, session, kind, round, agency_id, agency_name, service, instrument,
           respondent, item_id, new_answer AS answer, new_note AS note, framework_id,
           framework_version
    FROM ({CURRENT_SELECT.format(where="")}) AS newest_rows"""


#: Columns of :meth:`ResponseStore.action_log` (one row per change of an action), in order:
#: who and when, then the action as recorded (:data:`guidekit.answers.ACTION_COLUMNS`).
ACTION_LOG_COLUMNS = ("log_id", "at", "who", "session", *ACTION_COLUMNS, *_FRAMEWORK)

#: Action filters (:meth:`ResponseStore.actions`): columns of the action table.
ACTION_FILTERS = ("round", "agency_id", "service", "instrument", "item_id", "action_id")

#: The current actions: each (round, action_id)'s newest row of the action log, in log order
#: (standard SQL for every backend; ``{where}`` is an optional filter).
CURRENT_ACTIONS_SELECT = (
    "SELECT id, at, who, session, "
    + ", ".join(ACTION_COLUMNS)
    + """, framework_id, framework_version
    FROM (
        SELECT action_log.*,
               ROW_NUMBER() OVER (PARTITION BY round, action_id ORDER BY id DESC) AS newest
        FROM action_log{where}
    ) AS ranked
    WHERE newest = 1
    ORDER BY id
"""
)


#: Columns that identify a slot (one answer of one respondent to one item).
SLOT = ("kind", "round", "agency_id", "service", "instrument", "respondent", "item_id")
Agreed = Literal["team", "individual"]

#: Field names people read in store messages (zh-TW: the export's own headers).
FIELD_LABELS = {
    "zh-TW": {**ZH_HEADERS, "who": "填寫人"},
    "en": {
        "round": "round",
        "agency_id": "agency code",
        "agency_name": "agency name",
        "service": "service",
        "instrument": "form",
        "respondent": "respondent",
        "item_id": "item",
        "note": "note",
        "who": "changed by",
    },
}


class _Keep:
    """The type of :data:`KEEP`."""

    _instance: _Keep | None = None

    def __new__(cls) -> _Keep:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "KEEP"

    def __reduce__(self) -> str:
        return "KEEP"


#: In a :class:`Change`: leave this field as the store holds it (change only the other one),
#: or (``seen_*``) do not check what the page saw of it.
KEEP: Any = _Keep()


class StoreError(GuidekitError):
    """A change the store refuses, or a store it cannot use.

    ``code`` names the reason (a key ``store.error.<code>`` in
    ``guidekit/locales/messages.yaml`` holds the text people read) and
    ``params`` fills its placeholders.  A ``field`` parameter is shown by its
    name in the reader's language (:data:`FIELD_LABELS`), a ``value`` with
    control characters made visible (:func:`guidekit.text.printable`).
    """

    def __init__(self, code: str, message: str, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params

    def text(self, lang: str = "zh-TW") -> str:
        """The reason in ``lang`` (zh-TW or en)."""
        lang = i18n.normalise_lang(lang)
        params = dict(self.params)
        if "field" in params:
            params["field"] = FIELD_LABELS[lang].get(params["field"], params["field"])
        for key in ("value", "cleaned", "given", "name", "registered"):
            if isinstance(params.get(key), str):
                params[key] = shown_text(params[key])
        try:
            return i18n.t(f"store.error.{self.code}", lang, **params)
        except KeyError:
            return str(self)


class Conflict(StoreError):
    """The slot changed since the page last read it: the change was not written.

    ``answer`` / ``note`` are what the store holds now (the page should show them).
    """

    def __init__(self, item_id: str, answer: str | None, note: str) -> None:
        super().__init__(
            "conflict",
            f"item {item_id} was changed elsewhere since this page read it",
            item=item_id,
        )
        self.item_id = item_id
        self.answer = answer
        self.note = note


_SURROGATE = re.compile("[\ud800-\udfff]")
#: Line breaks and tabs: never in a code or name (the start form's fields hold one line).
_LINE_BREAK = re.compile("[\t\n\r\u2028\u2029\x85]")


def text_problem(value: str, *, one_line: bool = True) -> str | None:
    """Why ``value`` cannot be stored, or None.

    ``"surrogate"``: it holds a lone UTF-16 surrogate (text cut in the middle of an
    emoji), which no file can hold.  With ``one_line`` (codes and names):
    ``"control-char"`` for control and text-direction characters — the answer-file
    reader's rule (:data:`guidekit.text.CONTROL`, problem ``control-char``),
    so nothing the store accepts is refused when its export is read — and for line
    breaks and tabs.  Notes (``one_line=False``) may hold any other character.
    """
    if _SURROGATE.search(value):
        return "surrogate"
    if one_line and (CONTROL.search(value) or _LINE_BREAK.search(value)):
        return "control-char"
    return None


def shown_text(text: str, limit: int = 80) -> str:
    """A value for a message: control characters visible, shortened, never a surrogate."""
    text = _SURROGATE.sub("\ufffd", printable(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def schema_version(row: Sequence[Any] | None, location: str) -> int:
    """The schema version in a store's ``store_meta`` row (``(value,)`` or None).

    Raises
    ------
    StoreError
        ``bad-meta`` when there is none or it is not a number; ``schema`` when it is newer
        than this guidekit's :data:`SCHEMA_VERSION`.
    """
    if row is None:
        raise StoreError(
            "bad-meta", f"{location}: no schema_version in store_meta", path=location, found="—"
        )
    try:
        version = int(str(row[0]).strip())
    except ValueError:
        raise StoreError(
            "bad-meta",
            f"{location}: schema_version {row[0]!r} is not a number",
            path=location,
            found=shown_text(str(row[0])),
        ) from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            "schema",
            f"{location} was written by a newer guidekit (schema {version} > {SCHEMA_VERSION})",
            path=location,
            found=version,
            supported=SCHEMA_VERSION,
        )
    return version


def answer_option(fw: Framework, instrument: str, code: str) -> ScaleOption | float | None:
    """What a stored answer code means: the scale option with exactly this code, a
    number on a continuous scale, or None (not an answer of this form's scale).

    The store keeps codes (Y, P, N, NA), never labels; answer files may use labels
    too (:meth:`guidekit.framework.Scale.match`)."""
    scale = fw.scale(instrument)
    for option in scale.options:
        if option.code == code:
            return option
    if scale.kind == "continuous":
        matched = scale.match(code)
        if isinstance(matched, float):
            return matched
    return None


@dataclasses.dataclass(frozen=True)
class Sheet:
    """Where a set of answers belongs: one respondent's answers to one assessment.

    An assessment is (round, agency_id, service, instrument); ``service`` is
    ``""`` when the assessment is not about one named service.  For the team's
    agreed answers use :meth:`agreed` (kind ``"agreed"``, respondent
    :data:`AGREED_RESPONDENT`).
    """

    round: str
    agency_id: str
    agency_name: str
    service: str
    instrument: str
    respondent: str
    kind: str = "answer"

    def agreed(self) -> Sheet:
        """The team's agreed-answer sheet of the same assessment."""
        return dataclasses.replace(self, respondent=AGREED_RESPONDENT, kind="agreed")

    def filters(self) -> dict[str, str]:
        """Keyword filters selecting this sheet in :meth:`ResponseStore.current`."""
        return {
            "round": self.round,
            "agency_id": self.agency_id,
            "service": self.service,
            "instrument": self.instrument,
            "respondent": self.respondent,
            "kind": self.kind,
        }


@dataclasses.dataclass(frozen=True)
class Change:
    """A change to write: the new answer code (None = unanswered) and note of one item.

    ``who`` is the person making the change (default: the sheet's respondent)
    and ``session`` the client that sent it (a page / kernel).

    A page changes one field at a time: pass :data:`KEEP` as ``answer`` or
    ``note`` to leave that field as the store holds it *at the moment of writing*
    (so a note saved from another tab is not erased by an answer chosen here).
    ``seen_answer`` / ``seen_note`` are what the page showed before the edit; when
    given and the store holds something else, the change is refused
    (:class:`Conflict`) instead of overwriting what this page never showed.
    """

    sheet: Sheet
    item_id: str
    answer: str | None
    note: str = ""
    who: str = ""
    session: str = ""
    seen_answer: str | None = KEEP
    seen_note: str = KEEP


@dataclasses.dataclass(frozen=True)
class Saved:
    """What a write did.

    ``changed`` is False when the change equalled the current value (nothing
    appended, ``log_id`` None).  ``at`` is the UTC ISO time of the write;
    ``old_*`` the slot's value before it, ``answer`` / ``note`` after it.
    """

    log_id: int | None
    at: str
    changed: bool
    old_answer: str | None
    old_note: str
    answer: str | None
    note: str


@dataclasses.dataclass(frozen=True)
class ActionSaved:
    """What writing one action did: ``changed`` False when the store already held exactly
    this record for its (round, action_id) (nothing appended, ``log_id`` None)."""

    log_id: int | None
    at: str
    changed: bool
    action: Action


class ActionRefused(StoreError):
    """An action the store refuses: it breaks a rule of :func:`guidekit.answers.check_actions`
    (the same rules as an action file).  ``problems`` holds every one."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sort_problems(problems)
        super().__init__("action", "; ".join(p.message("en") for p in self.problems))

    def text(self, lang: str = "zh-TW") -> str:
        lang = i18n.normalise_lang(lang)
        return i18n.t(
            "store.error.action",
            lang,
            detail=("；" if lang == "zh-TW" else "; ").join(
                f"{p.column}：{p.message(lang)}"
                if lang == "zh-TW"
                else f"{p.column}: {p.message(lang)}"
                for p in self.problems
            ),
        )


def utc_now() -> str:
    """Current UTC time as ISO 8601 with microseconds and ``+00:00``."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


#: URL schemes of a PostgreSQL store (anything else is a path to an SQLite file).
URL_SCHEMES = ("postgresql://", "postgres://")

# Greedy to the URL's last "@": a password holding an unescaped "@" is masked whole.
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/?#@\s]*:)\S*@", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def is_store_url(location: object) -> bool:
    """True if ``location`` names a PostgreSQL store (``postgresql://…``), not a file."""
    return isinstance(location, str) and location.strip().lower().startswith(URL_SCHEMES)


def mask_url(text: str) -> str:
    """``text`` with the password of every PostgreSQL URL (``postgresql://user:secret@…``
    → ``postgresql://user:***@…``) and every ``password=…`` setting replaced by ``***``:
    what may be shown of a store's location or of a driver's message."""
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KEYWORD_PASSWORD.sub(r"\1***", text)


def default_store_path() -> Path | str:
    """The store used when none is named: ``$GUIDEKIT_STORE`` (a path, or a
    ``postgresql://`` URL, returned as given), else
    ``workshop.sqlite`` in the user's data directory (platformdirs;
    e.g. ``~/.local/share/guidekit`` on Linux, ``%LOCALAPPDATA%\\guidekit`` on Windows)."""
    named = os.environ.get(STORE_ENV, "").strip()
    if is_store_url(named):
        return named
    if named:
        return Path(named).expanduser()
    return platformdirs.user_data_path("guidekit", appauthor=False) / DEFAULT_NAME


class ResponseStore(abc.ABC):
    """An answer store: append changes, read the log and the current answers.

    Subclasses implement the storage (:meth:`_append`, :meth:`_select_log`,
    :meth:`_select_current`, :meth:`close`); validation, canonical frames and
    exports live here.  A store object is safe to use from several threads of
    one process; open one store object per process.
    """

    #: Where the store is (a path, or a URL without its password); used as ``source_file``.
    location: str
    #: The backend, as :class:`~guidekit.answers.SourceInfo` ``encoding`` of its answers.
    kind: str = "store"

    def __init__(self, framework: Framework | str | Path | None = None) -> None:
        self._framework = framework if isinstance(framework, Framework) else None
        self._framework_path = None if isinstance(framework, Framework) else framework

    @property
    def framework(self) -> Framework:
        """The framework changes are checked against."""
        if self._framework is None:
            self._framework = load_framework(self._framework_path)
        return self._framework

    # -- backend ---------------------------------------------------------------------
    @abc.abstractmethod
    def _append(self, changes: Sequence[Change]) -> list[Saved]:
        """In ONE transaction: take the time (:func:`utc_now`, inside the transaction so
        log order and time order agree), for each change read its slot's current value
        and the agency's recorded name (:meth:`_check_name`), work out the new value
        (:meth:`_resolve`: KEEP fields, conflicts), append a log row when it differs,
        and commit; return one :class:`Saved` per change.  Any error rolls back all."""

    @abc.abstractmethod
    def _select_log(self, filters: dict[str, str]) -> list[tuple[Any, ...]]:
        """Log rows (tuples in :data:`LOG_COLUMNS` order) matching ``filters``, by id."""

    @abc.abstractmethod
    def _select_current(self, filters: dict[str, str]) -> list[tuple[Any, ...]]:
        """Newest log row per slot matching ``filters`` (tuples, :data:`CURRENT_COLUMNS` order)."""

    @abc.abstractmethod
    def _select_agency_name(self, round: str, agency_id: str) -> str | None:
        """The agency name of the newest log row of (round, agency_id), or None."""

    @abc.abstractmethod
    def _load_log(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Copy log rows (tuples in :data:`LOG_COLUMNS` order, ids kept) into this store,
        which must hold none (``not-empty``), in one transaction; returns the log rows
        counted in this store afterwards."""

    @abc.abstractmethod
    def _append_actions(
        self, actions: Sequence[Action], who: str, session: str
    ) -> list[ActionSaved]:
        """In ONE transaction: take the time, then for each action read its (round,
        action_id)'s current record and append a row when it differs
        (:meth:`_apply_actions`); commit.  Any error rolls back all."""

    #: This backend's ``SELECT … FROM action_log`` (the columns of
    #: :data:`ACTION_LOG_COLUMNS`, decoded as the backend stores them).
    _action_log_select: str = ""

    def _select_actions(self, filters: dict[str, str], log: bool) -> list[tuple[Any, ...]]:
        """Action-log rows (tuples in :data:`ACTION_LOG_COLUMNS` order) matching ``filters``:
        every row (``log``) or each (round, action_id)'s newest, by id.  A store written
        before actions existed (schema 1, read-only) has none: ``[]``."""
        if not self._has_action_log():
            return []  # a store written before actions existed (read-only: not migrated)
        where, params = self._where(filters)
        if log:
            return self._read(f"{self._action_log_select}{where} ORDER BY id", params)
        return self._read(CURRENT_ACTIONS_SELECT.format(where=where), params)

    @abc.abstractmethod
    def _has_action_log(self) -> bool:
        """Whether the store has its action log (a schema-1 store opened read-only has not)."""

    @abc.abstractmethod
    def _read(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Rows of one query with its parameters, in this backend's placeholder style."""

    @staticmethod
    @abc.abstractmethod
    def _where(filters: dict[str, str]) -> tuple[str, list[str]]:
        """`` WHERE col = ? AND …`` (or nothing) and its parameters, for ``filters``."""

    @abc.abstractmethod
    def _load_action_log(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Copy action-log rows (:data:`ACTION_LOG_COLUMNS`, ids kept) into this store, which
        must hold none, in one transaction; returns the action-log rows it then holds."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection (further use raises)."""

    @property
    def home(self) -> Path:
        """The folder where exports and reports of this store go (the workshop's buttons):
        beside an SQLite file; for a database, the user's guidekit data folder."""
        return platformdirs.user_data_path("guidekit", appauthor=False)

    def copy_to(self, target: ResponseStore) -> int:
        """Copy this store's whole answer log, ids, times and old values included, into
        the empty store ``target`` (either backend); returns the rows counted in ``target``.

        Raises
        ------
        StoreError
            ``not-empty`` if ``target`` holds log rows (nothing is written), or if
            ``target`` cannot be written (nothing is written: one transaction).
        """
        rows = target._load_log(self._select_log({}))
        target._load_action_log(self._select_actions({}, log=True))
        return rows

    def __enter__(self) -> ResponseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------
    def check(self, change: Change) -> Change:
        """Validate a change against the framework; returns it with defaults filled.

        The codes and names are checked as the answer-file reader
        (:mod:`guidekit.intake.responses`) would read them back from an export, so
        nothing the store accepts is refused or changed there.

        Raises
        ------
        StoreError
            ``blank`` (a required field is blank), ``control-char`` (a code or name
            with control or text-direction characters, line breaks or tabs),
            ``surrogate`` (any text, notes too, with a lone UTF-16 surrogate),
            ``unclean`` (an id or name with surrounding spaces, full-width letters or
            invisible characters), ``reserved`` (a person used the reserved
            respondent name or a look-alike of it, :func:`is_reserved_name`, or an
            agreed answer another name), ``kind``, ``instrument``, ``item`` (not in
            that instrument's bank), ``answer`` (not a code of the scale),
            ``na-reason`` (不適用 without a note).
        """
        sheet = change.sheet
        for field in ("round", "agency_id", "agency_name", "instrument", "respondent"):
            value = getattr(sheet, field)
            if not isinstance(value, str) or not value.strip():
                raise StoreError("blank", f"{field} is blank", field=field)
        if not isinstance(sheet.service, str):
            raise StoreError("blank", "service must be text", field="service")
        who = change.who or sheet.respondent
        texts = {
            "round": sheet.round,
            "agency_id": sheet.agency_id,
            "agency_name": sheet.agency_name,
            "service": sheet.service,
            "instrument": sheet.instrument,
            "respondent": sheet.respondent,
            "item_id": change.item_id if isinstance(change.item_id, str) else "",
            "who": who if isinstance(who, str) else "",
        }
        for field, value in texts.items():
            problem = text_problem(value)
            if problem:
                raise StoreError(
                    problem, f"{field} {value!r} cannot be stored", field=field, value=value
                )
        note = change.note if isinstance(change.note, str) or change.note is KEEP else ""
        if note is not KEEP and text_problem(note, one_line=False):
            raise StoreError(
                "surrogate", "the note holds a lone UTF-16 surrogate", field="note", value=""
            )
        # Stored exactly as an answer file would be read back (guidekit.intake.responses cleans
        # these fields), so an export re-reads without a single change.
        for field in ("round", "agency_id", "service", "instrument", "respondent"):
            value = getattr(sheet, field)
            if clean(value) != value:
                raise StoreError(
                    "unclean",
                    f"{field} {value!r} is not clean text",
                    field=field,
                    value=value,
                    cleaned=clean(value),
                )
        if clean_name(sheet.agency_name) != sheet.agency_name:
            raise StoreError(
                "unclean",
                f"agency_name {sheet.agency_name!r} is not clean text",
                field="agency_name",
                value=sheet.agency_name,
                cleaned=clean_name(sheet.agency_name),
            )
        if sheet.kind not in KINDS:
            raise StoreError("kind", f"unknown record kind {sheet.kind!r}", kind=sheet.kind)
        agreed = sheet.kind == "agreed"
        if agreed != (sheet.respondent == AGREED_RESPONDENT) or (
            not agreed and is_reserved_name(sheet.respondent)
        ):
            raise StoreError(
                "reserved",
                f"the respondent name {AGREED_RESPONDENT!r} (or one looking like it) is "
                "reserved for the team's agreed answers",
                name=AGREED_RESPONDENT,
            )
        fw = self.framework
        if not fw.has_instrument(sheet.instrument):
            raise StoreError(
                "instrument",
                f"unknown instrument {sheet.instrument!r}",
                instrument=sheet.instrument,
                allowed=", ".join(i.id for i in fw.instruments),
            )
        bank = {i.id for i in fw.items[sheet.instrument]}
        if change.item_id not in bank:
            raise StoreError(
                "item",
                f"item {change.item_id!r} is not in the {sheet.instrument} form",
                item=change.item_id,
                instrument=sheet.instrument,
            )
        if change.answer is not None and change.answer is not KEEP:
            option = (
                answer_option(fw, sheet.instrument, change.answer)
                if isinstance(change.answer, str)
                else None
            )
            if option is None:
                raise StoreError(
                    "answer",
                    f"answer {change.answer!r} is not a code of the scale",
                    answer=shown_text(str(change.answer)),
                    allowed=", ".join(o.code for o in fw.scale(sheet.instrument).options),
                )
            if note is not KEEP:
                if lacks_reason(option, note):
                    raise StoreError(
                        "na-reason", "a not-applicable answer needs a reason", item=change.item_id
                    )
        return dataclasses.replace(change, note=note, who=who)

    def _resolve(
        self, change: Change, old_answer: str | None, old_note: str
    ) -> tuple[str | None, str]:
        """The slot's new (answer, note) given what it holds now (backends call this inside
        the write transaction): :data:`KEEP` fields keep the stored value.

        Raises
        ------
        Conflict
            If ``seen_answer`` / ``seen_note`` differ from what the slot holds.
        StoreError
            ``na-reason`` if the result would be 不適用 without a reason (e.g. a reason
            cleared, or 不適用 chosen while the stored note is empty).
        """
        if (change.seen_answer is not KEEP and change.seen_answer != old_answer) or (
            change.seen_note is not KEEP and change.seen_note != old_note
        ):
            raise Conflict(change.item_id, old_answer, old_note)
        answer = old_answer if change.answer is KEEP else change.answer
        note = old_note if change.note is KEEP else change.note
        if answer is not None:
            option = answer_option(self.framework, change.sheet.instrument, answer)
            if lacks_reason(option, note):
                raise StoreError(
                    "na-reason", "a not-applicable answer needs a reason", item=change.item_id
                )
        return answer, note

    def _apply(
        self,
        changes: Sequence[Change],
        at: str,
        agency_name: Callable[[str, str], str | None],
        slot: Callable[[Change], tuple[str | None, str]],
        insert: Callable[[tuple[Any, ...]], int],
    ) -> list[Saved]:
        """Write ``changes`` inside a backend's open write transaction: the one algorithm
        of every backend.  For each change: one agency name per code and round
        (:meth:`_check_name`), the slot's stored (answer, note) → the new ones
        (:meth:`_resolve`), and a log row only when something changes.

        ``agency_name(round, agency_id)`` is the name the store holds (None: none yet),
        ``slot(change)`` the slot's stored (answer, note), ``insert(values)`` appends one
        log row (:func:`log_values` order) and returns its id.
        """
        out: list[Saved] = []
        names: dict[tuple[str, str], str | None] = {}
        for change in changes:
            s = change.sheet
            key = (s.round, s.agency_id)
            if key not in names:
                names[key] = agency_name(*key)
            self._check_name(change, names[key])
            names[key] = s.agency_name
            old_answer, old_note = slot(change)
            answer, note = self._resolve(change, old_answer, old_note)
            if old_answer == answer and old_note == note:  # a new slot holds (None, "")
                out.append(Saved(None, at, False, old_answer, old_note, answer, note))
                continue
            values = log_values(at, change, (old_answer, answer), (old_note, note), self.framework)
            out.append(Saved(insert(values), at, True, old_answer, old_note, answer, note))
        return out

    @staticmethod
    def slot_key(change: Change) -> tuple[str, ...]:
        """The slot's key in the order of the backends' slot queries."""
        s = change.sheet
        return (s.round, s.agency_id, s.service, s.instrument, s.respondent, s.kind, change.item_id)

    def _check_name(self, change: Change, registered: str | None) -> None:
        """Refuse a second agency name for a code in a round (``registered``: the name the
        store holds for it; a file with two names for one code is refused by the reader too).

        Raises
        ------
        StoreError
            ``agency-name``.
        """
        s = change.sheet
        if registered is not None and registered != s.agency_name:
            raise StoreError(
                "agency-name",
                f"agency {s.agency_id} is recorded as {registered!r} in round {s.round}, "
                f"not {s.agency_name!r}",
                agency_id=s.agency_id,
                round=s.round,
                registered=registered,
                given=s.agency_name,
            )

    def record(self, change: Change) -> Saved:
        """Write one change (validated, one transaction); see :class:`Saved`.

        Raises
        ------
        StoreError
            If the change is invalid (:meth:`check`) or the store cannot be written.
        """
        return self.record_many([change])[0]

    def record_many(self, changes: Iterable[Change]) -> list[Saved]:
        """Write several changes in one transaction: all are appended or none.

        Raises
        ------
        StoreError
            If any change is invalid (nothing is written) or the store cannot be written.
        """
        checked = [self.check(c) for c in changes]
        if not checked:
            return []
        return self._append(checked)

    # -- actions ---------------------------------------------------------------------
    def check_action(self, action: Action) -> Action:
        """An action as the store keeps it, checked by the rules of an action file
        (:func:`guidekit.answers.check_actions`; warnings such as "past due" do not stop it).

        Raises
        ------
        ActionRefused
            With every rule it breaks (no owner, unknown item or measure, dropped without
            a reason …).
        """
        checked, problems = check_actions(
            [ActionRow(self.location, None, action.row())], self.framework
        )
        if not checked:
            raise ActionRefused([p for p in problems if p.is_error])
        return checked[0]

    def record_actions(
        self, actions: Iterable[Action], *, who: str = "", session: str = ""
    ) -> list[ActionSaved]:
        """Write actions (each checked, :meth:`check_action`) in one transaction: all are
        appended or none.  A record equal to what the store holds for its (round,
        action_id) appends nothing.  The action log is append-only like the answer log: an
        action's history is every row it ever had.

        Raises
        ------
        ActionRefused
            If any action breaks a rule (nothing is written).
        StoreError
            If the store cannot be written.
        """
        checked = [self.check_action(a) for a in actions]
        if not checked:
            return []
        for field, value in (("who", who), ("session", session)):
            if text_problem(value):
                raise StoreError(
                    "control-char", f"{field} cannot be stored", field=field, value=value
                )
        return self._append_actions(checked, who, session)

    def _apply_actions(
        self,
        actions: Sequence[Action],
        at: str,
        current: Callable[[str, str], tuple[str, ...] | None],
        insert: Callable[[tuple[Any, ...]], int],
        who: str,
        session: str,
    ) -> list[ActionSaved]:
        """Write ``actions`` inside a backend's open write transaction: the one algorithm of
        every backend.  ``current(round, action_id)`` is the stored record (values in
        :data:`ACTION_COLUMNS` order) or None; ``insert(values)`` appends one action-log row
        (:data:`ACTION_LOG_COLUMNS` without ``log_id``) and returns its id."""
        out: list[ActionSaved] = []
        fw = self.framework
        for action in actions:
            values = tuple(action.row().values())
            if current(action.round, action.action_id) == values:
                out.append(ActionSaved(None, at, False, action))
                continue
            log_id = insert((at, who, session, *values, fw.id, fw.version))
            out.append(ActionSaved(log_id, at, True, action))
        return out

    def _action_filters(self, values: dict[str, str | None]) -> dict[str, str]:
        return _checked_filters(values, ACTION_FILTERS)

    def actions(self, **filters: str | None) -> list[Action]:
        """The current actions (each (round, action_id)'s newest record), in log order.

        Filters (keyword, exact match): any of :data:`ACTION_FILTERS`."""
        rows = self._select_actions(self._action_filters(filters), log=False)
        return [Action.from_row(dict(zip(ACTION_LOG_COLUMNS, r, strict=True))) for r in rows]

    def action_log(self, **filters: str | None) -> pd.DataFrame:
        """Every change of an action, oldest first (columns :data:`ACTION_LOG_COLUMNS`;
        ``log_id`` int64, the rest string).  Filters as in :meth:`actions`."""
        rows = self._select_actions(self._action_filters(filters), log=True)
        return _frame(rows, ACTION_LOG_COLUMNS)

    # -- reading ---------------------------------------------------------------------
    @staticmethod
    def _filters(values: dict[str, str | None]) -> dict[str, str]:
        return _checked_filters(values, SLOT)

    def log(self, **filters: str | None) -> pd.DataFrame:
        """Every change, oldest first.

        Filters (keyword, exact match): any of ``kind, round, agency_id, service,
        instrument, respondent, item_id``.

        Returns
        -------
        DataFrame
            Columns :data:`LOG_COLUMNS`; ``log_id`` int64, the rest string
            (``old_answer`` / ``new_answer`` <NA> = unanswered).
        """
        rows = self._select_log(self._filters(filters))
        return _frame(rows, LOG_COLUMNS)

    def current(self, **filters: str | None) -> pd.DataFrame:
        """The current value of every slot (its newest log row).

        Filters as in :meth:`log`.

        Returns
        -------
        DataFrame
            Columns :data:`CURRENT_COLUMNS`; ``log_id`` int64, the rest string
            (``answer`` <NA> = unanswered).  Ordered by ``log_id``.
        """
        rows = self._select_current(self._filters(filters))
        return _frame(rows, CURRENT_COLUMNS)

    def agency_name(self, round: str, agency_id: str) -> str | None:
        """The name recorded for this agency code in this round (its latest), or None.

        A change with another name for the same code and round is refused
        (``agency-name``, see :meth:`check`); the start form uses this to offer
        the recorded name."""
        return self._select_agency_name(round, agency_id)

    def sheets(self, **filters: str | None) -> pd.DataFrame:
        """The answer sheets in the store (for pickers).

        Returns
        -------
        DataFrame
            One row per (round, agency_id, service, instrument, respondent, kind):
            those columns, ``agency_name`` (latest), ``n_answered`` (slots with an
            answer, int) and ``last_at`` (UTC ISO of the latest change).
        """
        current = self.current(**filters)
        keys = ["round", "agency_id", "service", "instrument", "respondent", "kind"]
        columns = [*keys, "agency_name", "n_answered", "last_at"]
        if current.empty:
            return pd.DataFrame({c: pd.Series(dtype="string") for c in columns}).astype(
                {"n_answered": "int64"}
            )
        grouped = current.groupby(keys, sort=True, dropna=False)
        out = grouped.agg(
            agency_name=("agency_name", "last"),
            n_answered=("answer", "count"),
            last_at=("at", "max"),
        ).reset_index()
        return out[columns]

    def responses(
        self,
        framework: Framework | str | Path | None = None,
        *,
        agreed: Agreed = "team",
        round: str | None = None,
        agency_id: str | None = None,
        service: str | None = None,
        instrument: str | None = None,
        respondent: str | None = None,
    ) -> Responses:
        """The current answers as canonical :class:`~guidekit.intake.responses.Responses`.

        Parameters
        ----------
        framework : Framework or path, optional
            Default: the store's framework.
        agreed : {"team", "individual"}
            ``"team"`` (for reports): where the team recorded an agreed answer,
            that answer (respondent :data:`AGREED_RESPONDENT`) replaces the
            respondents' answers to the item — see the module docstring.
            ``"individual"``: the respondents' own answers only.
        round, agency_id, service, instrument, respondent : str, optional
            Keep only matching answers.

        Returns
        -------
        Responses
            ``frame`` has the canonical columns (:data:`guidekit.intake.responses.COLUMNS`):
            ``answered_at`` is the UTC ISO time of the slot's latest change,
            ``agency_name`` the latest name recorded for the agency in that round,
            ``source_file`` the store location and ``source_row`` the log id.
            A slot whose answer and note were both cleared is left out.
            ``problems`` holds warnings (不適用 without a reason, an agency with
            several names in a store written before names were checked).

        Raises
        ------
        ResponsesError
            With every problem at once, each naming the store and the log id as
            file and row, when a row would be refused in an answer file: an item
            not in ``framework`` (e.g. a different question bank), an answer that
            is not a code of the item's scale (``unknown-answer``), control
            characters in a code or name (``control-char``).  A store written
            only through :meth:`record` never has these; a hand-edited one may.
        """
        if agreed not in ("team", "individual"):
            raise ValueError(f"agreed must be 'team' or 'individual', not {agreed!r}")
        fw = (
            framework
            if isinstance(framework, Framework)
            else (self.framework if framework is None else load_framework(framework))
        )
        current = self.current(
            round=round, agency_id=agency_id, service=service, instrument=instrument
        )
        frame = _canonical(current, agreed, respondent, self.location)
        problems = _read_problems(current, frame, fw, self.location)
        if any(p.is_error for p in problems):
            raise ResponsesError(
                problems,
                summary=f"{self.location}: answers that cannot be used",
                summary_zh=f"{self.location}：答案儲存檔中有無法使用的答案",
            )
        problems += service_lookalikes(frame)
        if not frame.empty:
            order = {i.id: n for bank in fw.items.values() for n, i in enumerate(bank)}
            frame = (
                frame.assign(_o=frame["item_id"].map(order))
                .sort_values(
                    ["round", "agency_id", "service", "instrument", "respondent", "_o"],
                    kind="stable",
                )
                .drop(columns="_o")
                .reset_index(drop=True)
            )
        source = SourceInfo(self.location, self.kind, len(frame), {c: c for c in COLUMNS[:11]})
        return Responses(
            frame=frame, framework=fw, problems=problems, sources=[source], metadata={}
        )

    # -- export ----------------------------------------------------------------------
    def export(
        self, path: str | Path, framework: Framework | str | Path | None = None, **options: Any
    ) -> Path:
        """Write the current answers as an answer file ``guidekit validate`` reads.

        Parameters
        ----------
        path : path
            ``.csv`` (UTF-8 with BOM, so Excel shows Chinese), ``.ods`` (OpenDocument, every cell
            text; :func:`guidekit.files.ods_table_bytes`) or ``.xlsx``
            (every cell text, never a formula).  Written to a temporary file
            and renamed: a crash leaves no half file.  An existing file is
            replaced only if guidekit wrote it and it is unchanged since
            (:mod:`guidekit.files`).
        headers : {"zh-TW", "canonical"}
            ``"zh-TW"``: Chinese headers (評估回合, 機關代碼 …) and answers as the
            scale's Chinese labels (符合 …); ``"canonical"``: the column names of
            :mod:`guidekit.intake.responses` and answer codes (Y, P, N, NA).
        agreed : {"team", "individual"}
            As in :meth:`responses`.
        **filters
            ``round, agency_id, service, instrument, respondent``.

        Returns
        -------
        Path
            The file written.  Columns: :data:`EXPORT_COLUMNS` (11; no source columns).
            The store's improvement actions (same round / agency / service / form
            filters) are the second table: the sheet 「改善行動」 of an .xlsx / .ods file, or
            ``<name>-actions.csv`` beside a CSV (only when there are actions), read back
            by :func:`guidekit.intake.actions.read_actions`.
            :meth:`export_file` also says how many rows were written and which .xlsx
            cells had to be changed.

        Notes
        -----
        Text is written exactly as entered, with one exception: an .xlsx cell
        cannot hold control characters (a note pasted from Word may carry a
        vertical tab ``\\x0b``), so there each is written as its visible escape
        (``\\x0b``) and the cell is listed in :attr:`ExportedFile.replaced`; the
        CSV keeps the text as stored.  A note beginning with ``=`` stays text in
        the .xlsx; spreadsheet programs may treat it as a formula when *opening
        the CSV*, so open the .xlsx in Excel.
        """
        return self.export_file(path, framework, **options).path

    def export_file(
        self,
        path: str | Path,
        framework: Framework | str | Path | None = None,
        *,
        headers: Literal["zh-TW", "canonical"] = "zh-TW",
        agreed: Agreed = "team",
        **filters: str | None,
    ) -> ExportedFile:
        """:meth:`export`, returning what was written (:class:`ExportedFile`).

        Raises
        ------
        StoreError
            ``export-type`` for a suffix other than .csv / .xlsx / .ods.
        WriteRefused
            If ``path`` holds a file guidekit did not write, or changed since
            (:mod:`guidekit.files`); its own earlier export is replaced.
        ResponsesError
            If the store holds rows an answer file could not hold (:meth:`responses`).
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".xlsx", ".ods"):
            raise StoreError(
                "export-type",
                f"cannot export to {suffix!r}: use .csv, .xlsx or .ods",
                suffix=suffix,
            )
        check_target(path)  # before the work: a file guidekit did not write is never replaced
        responses = self.responses(framework, agreed=agreed, **filters)
        wanted = {k: v for k, v in filters.items() if k in ACTION_FILTERS}
        actions = actions_frame(self.actions(**wanted))
        if suffix == ".csv" and len(actions):
            check_target(actions_csv_path(path))
        return answer_file(path, responses, headers, actions)


def _checked_filters(values: dict[str, str | None], allowed: Iterable[str]) -> dict[str, str]:
    """Filters given as keywords, as text; None leaves a column unfiltered.  Only the
    ``allowed`` column names pass (they become SQL column names).

    Raises
    ------
    TypeError
        For a key that is not an allowed column.
    """
    allowed = set(allowed)
    out = {}
    for key, value in values.items():
        if key not in allowed:
            raise TypeError(f"unknown filter {key!r}")
        if value is not None:
            out[key] = str(value)
    return out


def _frame(rows: list[tuple[Any, ...]], columns: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    for column in columns:
        frame[column] = frame[column].astype("int64" if column == "log_id" else "string")
    return frame


def _read_problems(
    current: pd.DataFrame, frame: pd.DataFrame, fw: Framework, location: str
) -> list[Problem]:
    """The answer-file reader's rules applied to rows read from a store (file = the store,
    row = the log id): unknown items and answer codes, control characters in codes and
    names (errors); 不適用 without a reason and several names for one agency (warnings)."""

    problems: list[Problem] = []
    banks = {inst.id: {i.id for i in fw.items[inst.id]} for inst in fw.instruments}
    for row in frame.itertuples():
        log_id = int(row.source_row)
        bad = False
        for column in ("round", "agency_id", "agency_name", "service", "respondent", "item_id"):
            value = getattr(row, column)
            if isinstance(value, str) and CONTROL.search(value):
                problems.append(Problem(location, log_id, column, value, "control-char", {}))
                bad = True
        if bad:
            continue
        if row.item_id not in banks.get(row.instrument, ()):
            problems.append(
                Problem(
                    location,
                    log_id,
                    "item_id",
                    row.item_id,
                    "unknown-item",
                    {"framework": fw.id, "version": fw.version, "examples": row.item_id},
                )
            )
            continue
        if isinstance(row.answer, str):
            option = answer_option(fw, row.instrument, row.answer)
            if option is None:
                scale = fw.scale(row.instrument)
                problems.append(
                    Problem(
                        location,
                        log_id,
                        "answer",
                        row.answer,
                        "unknown-answer",
                        {"choices_zh": scale.expected("zh-TW"), "choices_en": scale.expected("en")},
                    )
                )
            elif lacks_reason(option, str(row.note)):
                problems.append(
                    Problem(location, log_id, "note", "", "na-without-reason", {}, Severity.WARNING)
                )
    kept = current[current["log_id"].isin(frame["source_row"].astype("int64"))]
    for (rnd, agency), group in kept.sort_values("log_id").groupby(
        ["round", "agency_id"], sort=True
    ):
        names = list(dict.fromkeys(group["agency_name"]))
        if len(names) > 1:
            used = str(group["agency_name"].iloc[-1])
            first = group[group["agency_name"] != used].iloc[0]
            problems.append(
                Problem(
                    location,
                    int(first["log_id"]),
                    "agency_name",
                    str(first["agency_name"]),
                    "store-agency-names",
                    {
                        "agency_id": agency,
                        "round": rnd,
                        "n": len(names),
                        "names_zh": i18n.join_labels(list(names), "zh-TW"),
                        "names_en": i18n.join_labels([f"“{n}”" for n in names], "en"),
                        "used": used,
                    },
                    Severity.WARNING,
                )
            )
    return problems


def _canonical(
    current: pd.DataFrame, agreed: Agreed, respondent: str | None, location: str
) -> pd.DataFrame:
    """Current slots → canonical rows (the agreed-answer rule lives here)."""
    if current.empty:
        return empty_frame()
    # The agency's name: the latest recorded for (round, agency_id), whichever sheet wrote it.
    latest = current.sort_values("log_id").groupby(["round", "agency_id"])["agency_name"].last()
    rows = current[~(current["answer"].isna() & current["note"].fillna("").eq(""))]
    # Every agreed row is kept in "team" mode (a note without an agreed answer too:
    # blank answer = unanswered, never scored or counted); settle_agreed applies the rule.
    answers = rows if agreed == "team" else rows[rows["kind"] == "answer"]
    frame = pd.DataFrame(
        {
            "round": answers["round"],
            "agency_id": answers["agency_id"],
            "agency_name": [
                latest[(r, a)] for r, a in zip(answers["round"], answers["agency_id"], strict=True)
            ],
            "service": answers["service"],
            "instrument": answers["instrument"],
            "respondent": answers["respondent"],
            "item_id": answers["item_id"],
            "answer": answers["answer"],
            "note": answers["note"].fillna(""),
            "answered_at": answers["at"],
            "framework_version": answers["framework_version"],
            "source_file": location,
            "source_row": answers["log_id"],
        },
        columns=list(COLUMNS),
    )
    for column in COLUMNS:
        frame[column] = frame[column].astype("Int64" if column == "source_row" else "string")
    if agreed == "team":
        frame, _ = settle_agreed(frame)
    if respondent is not None:
        frame = frame[frame["respondent"] == respondent]
    return frame.reset_index(drop=True)


@dataclasses.dataclass(frozen=True)
class BackedUp:
    """What a backup wrote (:meth:`SQLiteStore.backup_file`,
    :func:`guidekit.store.copy_store`): the copy (a file, or a database URL without its
    password) and its answer-log rows, counted in the copy."""

    path: Path | str
    rows: int
