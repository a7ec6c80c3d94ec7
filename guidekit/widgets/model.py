"""What the workshop pages do, without any widget: testable without a browser.

:class:`Questionnaire` is one respondent's answer sheet: it restores the saved
answers from the store, takes a chosen answer or an edited note, writes each
change to the store at once and says what happened (:class:`Outcome`).
:class:`Facilitator` is the team view of one agency: every respondent side by
side, disagreements first, the team's agreed answers, export and report.

Scores, disagreement and coverage come from :mod:`guidekit.scoring`; nothing
here computes a score.  The widgets in :mod:`guidekit.widgets.questionnaire`
and :mod:`guidekit.widgets.facilitator` only show these objects.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import re
import uuid
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from guidekit import i18n, scoring
from guidekit.answers import (
    AGREED_RESPONDENT,
    COLUMNS,
    Action,
    ActionRow,
    Responses,
    carried_forward,
    check_actions,
    is_overdue,
    lacks_reason,
    round_key,
    sorted_rounds,
)
from guidekit.files import check_targets
from guidekit.framework import Framework, Item, default_framework_path
from guidekit.render import charts
from guidekit.report import batch
from guidekit.store import (
    KEEP,
    ActionRefused,
    Change,
    Conflict,
    ResponseStore,
    Saved,
    Sheet,
    StoreError,
)

Status = Literal["saved", "unchanged", "pending", "refused", "conflict"]


def new_session() -> str:
    """An id for this page: the Voilà kernel id when there is one, plus a random part."""
    kernel = os.environ.get("VOILA_KERNEL_ID", "") or f"pid{os.getpid()}"
    return f"{kernel}:{uuid.uuid4().hex[:12]}"


def principle_label(fw: Framework, principle_id: str, lang: str) -> str:
    """``一、以使用者為中心`` (zh-TW) or ``1. User-centred …`` (en), as in the report."""
    p = fw.principle(principle_id)
    if i18n.normalise_lang(lang) == "zh-TW":
        return f"{p.numeral_zh or p.number}、{p.title_zh}"
    return f"{p.number}. {p.title_en}"


def local_time(at: str | None) -> str:
    """``HH:MM:SS`` in this computer's time zone of a UTC ISO time ('' for None)."""
    if not at:
        return ""
    return dt.datetime.fromisoformat(at).astimezone().strftime("%H:%M:%S")


@dataclasses.dataclass
class ItemState:
    """One item of a sheet as the page knows it.

    ``answer`` / ``note`` are what the store holds (saved); ``pending`` an answer
    chosen but not saved (不適用 waiting for its reason); ``saved_at`` the UTC
    time of the last saved change; ``message`` the last refusal shown.
    """

    item: Item
    answer: str | None = None
    note: str = ""
    saved_at: str | None = None
    pending: str | None = None
    message: str = ""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one change.

    ``status``: ``saved`` (written to the store), ``unchanged`` (nothing to
    write), ``pending`` (kept on the page, not saved: e.g. 不適用 without a
    reason yet), ``refused`` (not accepted; ``message`` says why) or
    ``conflict`` (not written: another page changed the item since this page
    read it; the model was re-read from the store, ``message`` says what was
    not saved).  ``message`` is page text in the page's language.
    ``merged``: the save also brought in a change another page had made to the
    item's other field (the page must show it).
    """

    status: Status
    item_id: str
    message: str = ""
    saved: Saved | None = None
    merged: bool = False

    @property
    def ok(self) -> bool:
        return self.status in ("saved", "unchanged")


@dataclasses.dataclass(frozen=True)
class ActionOutcome:
    """What happened to an action typed on the page: ``saved`` / ``unchanged`` (with the
    ``action`` as stored) or ``refused`` (``message`` names every rule it breaks)."""

    status: Literal["saved", "unchanged", "refused"]
    item_id: str
    message: str = ""
    action: Action | None = None

    @property
    def ok(self) -> bool:
        return self.status != "refused"


class Questionnaire:
    """One respondent's answer sheet, saved to the store change by change.

    Parameters
    ----------
    store : ResponseStore
    sheet : Sheet
        Round, agency, service, instrument and respondent (kind ``answer``).
    lang : {"zh-TW", "en"}
    session : str, optional
        Id of this page (default :func:`new_session`).

    Attributes
    ----------
    items : tuple of Item
        The instrument's items in bank order.
    state : dict of str to ItemState
        Per item id.
    """

    def __init__(
        self, store: ResponseStore, sheet: Sheet, lang: str = "zh-TW", session: str | None = None
    ) -> None:
        self.store = store
        self.sheet = sheet
        self.lang = i18n.normalise_lang(lang)
        self.session = session or new_session()
        self.framework = store.framework
        if not self.framework.has_instrument(sheet.instrument):
            raise StoreError(
                "instrument",
                f"unknown instrument {sheet.instrument!r}",
                instrument=sheet.instrument,
                allowed=", ".join(i.id for i in self.framework.instruments),
            )
        self.scale = self.framework.scale(sheet.instrument)
        self.items = self.framework.items[sheet.instrument]
        self.state = {i.id: ItemState(i) for i in self.items}
        self.load()

    # -- reading -----------------------------------------------------------------
    def load(self, keep_pending: bool = False) -> None:
        """(Re)read this sheet's current answers from the store (resume, or after another
        page changed them); ``keep_pending`` keeps answers waiting for a reason."""
        current = self.store.current(**self.sheet.filters())
        for state in self.state.values():
            state.answer, state.note, state.saved_at = None, "", None
            if not keep_pending:
                state.pending = None
        for row in current.itertuples():
            state = self.state.get(row.item_id)
            if state is None:  # an item no longer in the bank: kept in the store, not shown
                continue
            state.answer = None if pd.isna(row.answer) else str(row.answer)
            state.note = "" if pd.isna(row.note) else str(row.note)
            state.saved_at = str(row.at)

    def options(self) -> list[tuple[str, str]]:
        """Answer choices as (label, code), in scale order, in the page's language."""
        return [(o.text("label", self.lang), o.code) for o in self.scale.options]

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(key, self.lang, **values)

    # -- writing -----------------------------------------------------------------
    def answer_label(self, code: str | None) -> str:
        """An answer code as the page shows it (「尚未作答」 for None)."""
        if code is None:
            return self.t("workshop.unanswered")
        try:
            return self.scale.option(code).text("label", self.lang)
        except KeyError:
            return code

    def pending_message(self, item_id: str) -> str:
        """What the page says next to an answer chosen but not saved (不適用 waiting for its
        reason): not saved, and which answer the store still holds (the one reports,
        the chart and the facilitator see)."""
        state = self.state[item_id]
        return self.t(
            "workshop.na.not_saved",
            chosen=self.answer_label(state.pending),
            stored=self.answer_label(state.answer),
        )

    def pending_items(self) -> list[str]:
        """Items whose shown answer is not saved (不適用 waiting for its reason), bank order."""
        return [i for i, s in self.state.items() if s.pending is not None]

    def _write(self, state: ItemState, change: Change, typed: str | None = None) -> Outcome:
        """Write one field-wise change; on a conflict re-read the sheet and say what was
        not saved (``typed``: the note the respondent typed)."""
        shown = (state.answer, state.note)
        try:
            saved = self.store.record(change)
        except Conflict as conflict:
            self.load(keep_pending=True)
            state.pending = None
            if typed is None:
                message = self.t(
                    "workshop.conflict.answer", answer=self.answer_label(conflict.answer)
                )
            else:
                message = self.t("workshop.conflict.note", text=typed)
            state.message = message
            return Outcome("conflict", state.item.id, message)
        state.answer, state.note, state.pending, state.message = saved.answer, saved.note, None, ""
        # The other field as the store held it: another page may have changed it.
        merged = (saved.answer, saved.note) != (
            change.answer if change.answer is not KEEP else shown[0],
            change.note if change.note is not KEEP else shown[1],
        )
        if saved.changed:
            state.saved_at = saved.at
            message = self.t("workshop.saved_at", time=local_time(saved.at))
            if merged:
                message += self.t("workshop.merged")
            return Outcome("saved", state.item.id, message, saved, merged)
        return Outcome("unchanged", state.item.id, "", saved, merged)

    def choose(self, item_id: str, code: str | None) -> Outcome:
        """The respondent chose answer ``code`` (None = no answer) for ``item_id``.

        Only the answer is written; the note stays as the store holds it.  If
        another page changed the answer since this page read it, nothing is
        written and the page is re-read (``conflict``).  不適用 without a reason
        is not saved: it stays pending on the page with a message until a reason
        is written (:meth:`write_note`).

        Raises
        ------
        KeyError
            If ``item_id`` is not on this sheet.
        StoreError
            If the store refuses or cannot write the change (nothing is marked saved).
        """
        state = self.state[item_id]
        if lacks_reason(self.scale.option_for(code), state.note):
            state.pending = code
            state.message = self.pending_message(item_id)
            return Outcome("pending", item_id, state.message)
        change = Change(
            self.sheet,
            item_id,
            code,
            KEEP,
            who=self.sheet.respondent,
            session=self.session,
            seen_answer=state.answer,
        )
        return self._write(state, change)

    def write_note(self, item_id: str, text: str) -> Outcome:
        """The respondent finished editing the note / evidence of ``item_id``.

        The note is kept exactly as typed; only the note is written (with a
        pending 不適用, the answer too).  If another page changed the note since
        this page read it, nothing is written, the page is re-read and the
        message repeats the text that was not saved (``conflict``).  Clearing the
        reason of a saved 不適用 is refused (the saved note stays).
        """
        state = self.state[item_id]
        text = text if isinstance(text, str) else ""
        answer = state.pending if state.pending is not None else state.answer
        if lacks_reason(self.scale.option_for(answer), text):
            if state.pending is not None:
                state.message = self.pending_message(item_id)
                return Outcome("pending", item_id, state.message)
            state.message = self.t("workshop.na.reason_kept")
            return Outcome("refused", item_id, state.message)
        pending = state.pending is not None
        change = Change(
            self.sheet,
            item_id,
            state.pending if pending else KEEP,
            text,
            who=self.sheet.respondent,
            session=self.session,
            seen_answer=state.answer if pending else KEEP,
            seen_note=state.note,
        )
        return self._write(state, change, typed=text)

    # -- what the page shows -------------------------------------------------------
    def frame(self) -> pd.DataFrame:
        """This sheet's saved answers as canonical rows (one per item with an answer or note)."""
        sheet = self.sheet
        rows = [
            (
                sheet.round,
                sheet.agency_id,
                sheet.agency_name,
                sheet.service,
                sheet.instrument,
                sheet.respondent,
                s.item.id,
                s.answer,
                s.note,
                s.saved_at or "",
                self.framework.version,
                self.store.location,
                None,
            )
            for s in self.state.values()
            if s.answer is not None or s.note
        ]
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        for column in COLUMNS:
            frame[column] = frame[column].astype("Int64" if column == "source_row" else "string")
        return frame

    def responses(self) -> Responses:
        """This sheet's saved answers as :class:`~guidekit.responses.Responses`."""
        return Responses(frame=self.frame(), framework=self.framework)

    def principles(self) -> pd.DataFrame:
        """Progress and this respondent's score per principle of the instrument.

        Returns
        -------
        DataFrame
            One row per principle in framework order: ``principle_id, label,
            dimension_id, n_items, n_done`` (answered or 不適用, int), ``score``
            (0–100 from :func:`guidekit.scoring.respondent_scores`; NaN = none yet).
        """
        fw = self.framework
        bank = pd.Series([i.principle for i in self.items]).value_counts()
        scores = scoring.respondent_scores(self.responses())
        by_pid = {r.principle_id: r for r in scores.itertuples()}
        rows = []
        for p in fw.principles:
            if p.id not in bank.index:
                continue
            got = by_pid.get(p.id)
            rows.append(
                {
                    "principle_id": p.id,
                    "label": principle_label(fw, p.id, self.lang),
                    "dimension_id": p.dimension,
                    "n_items": int(bank[p.id]),
                    "n_done": int(got.n_scored + got.n_na) if got is not None else 0,
                    "score": float(got.score) if got is not None else math.nan,
                }
            )
        return pd.DataFrame(
            rows, columns=["principle_id", "label", "dimension_id", "n_items", "n_done", "score"]
        )

    def chart(self, table: pd.DataFrame | None = None) -> charts.Chart:
        """The live 13-axis radar chart of this respondent's principle scores."""
        table = self.principles() if table is None else table
        values = table["score"].tolist()
        return charts.radar(
            table["label"].tolist(),
            values,
            None,
            title=self.t("workshop.chart.title"),
            description=self.t(
                "workshop.chart.desc",
                respondent=self.sheet.respondent,
                n=int(sum(not math.isnan(v) for v in values)),
                total=len(values),
            ),
            legend=(self.sheet.respondent, ""),
            no_score=self.t("chart.no_score"),
            columns=(self.t("col.principle"), self.t("col.score"), self.t("col.median")),
        )


#: Characters a Windows argument may hold bare: letters and digits of any script, ``_``,
#: and the path characters ``.`` ``-`` ``\`` ``/`` ``:`` (none means anything to cmd.exe
#: or PowerShell).
_WINDOWS_BARE = re.compile(r"[\w.\\/:-]+")
#: Characters that keep a meaning even inside "…" in cmd.exe (``%`` ``!``) or PowerShell
#: (``$`` `````, the double quotes PowerShell accepts, ``“ ” „``), the quote itself and line
#: breaks or other control characters: an argument holding one is never shown.
_WINDOWS_UNSAFE = re.compile(r'[%!$`"\u201c\u201d\u201e\x00-\x1f\x7f\u2028\u2029]')


def shell_command(args: list[str], windows: bool | None = None) -> str | None:
    """``args`` as one command line to copy into a shell, or ``None`` when that
    cannot be written safely.

    POSIX shells (``windows`` false): :func:`shlex.join`, every argument that needs it
    in single quotes.  Windows (``windows`` true; default ``os.name == "nt"``): one line
    that means the same in cmd.exe and in PowerShell: an argument of letters, digits
    and ``_ . - \\ / :`` stays bare, any other is put in double quotes, inside which
    neither shell gives ``& | < > ^ ( ) ; ' ,`` or spaces a meaning.  An argument holding
    a character that both shells would still read inside double quotes (``% ! $ ` "``,
    PowerShell's curly double quotes, a line break) or ending in ``\\`` gives ``None``:
    the page then shows no command rather than one that runs something else.

    The commands guidekit shows carry only paths; text typed on the start page
    (round, agency code, names) never reaches them (see :meth:`Facilitator.report`).
    """
    windows = os.name == "nt" if windows is None else windows
    if not windows:
        import shlex

        return shlex.join(args)
    shown = []
    for arg in args:
        if _WINDOWS_BARE.fullmatch(arg):
            shown.append(arg)
        elif arg and not _WINDOWS_UNSAFE.search(arg) and not arg.endswith("\\"):
            shown.append(f'"{arg}"')
        else:
            return None
    return " ".join(shown)


@dataclasses.dataclass(frozen=True)
class Exported:
    """Files written by :meth:`Facilitator.export`: the answers as CSV, .xlsx and .ods.

    ``replaced``: .xlsx cells whose control characters were written as visible
    escapes (see :meth:`guidekit.store.ResponseStore.export`); the CSV keeps them.
    """

    csv: Path
    xlsx: Path
    rows: int
    replaced: int = 0
    ods: Path | None = None


@dataclasses.dataclass(frozen=True)
class Reported:
    """What :meth:`Facilitator.report` made: the agency's report and the answers it used."""

    html: Path | None
    folder: Path
    answers: Exported
    ok: bool
    error: str | None
    command: str | None


class Facilitator:
    """The team's view of one agency in one round.

    Parameters
    ----------
    store : ResponseStore
    round, agency_id : str
    lang : {"zh-TW", "en"}
    who : str
        The facilitator's name (recorded with agreed answers).
    out : path, optional
        Folder for exports and reports (default: ``exports`` / ``reports`` next
        to the store file).
    """

    def __init__(
        self,
        store: ResponseStore,
        round: str,
        agency_id: str,
        lang: str = "zh-TW",
        who: str = "",
        session: str | None = None,
        out: str | Path | None = None,
    ) -> None:
        self.store = store
        self.round = round
        self.agency_id = agency_id
        self.lang = i18n.normalise_lang(lang)
        self.who = who or i18n.t("workshop.facilitator.who", self.lang)
        self.session = session or new_session()
        self.framework = store.framework
        self.out = Path(out) if out is not None else store.home
        self.service: str | None = None
        self.instrument: str | None = None
        #: Agreed (answer, note) per item as this page last read them, and 不適用 answers
        #: waiting for their reason.
        self.seen: dict[str, tuple[str | None, str]] = {}
        self.pending: dict[str, str] = {}
        self._seen_for: tuple[str | None, str | None] | None = None
        choices = self.assessments()
        if choices:
            self.select(*choices[0])

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(key, self.lang, **values)

    # -- what is in the store --------------------------------------------------------
    def sheets(self) -> pd.DataFrame:
        """The agency's answer sheets in this round (see :meth:`ResponseStore.sheets`)."""
        return self.store.sheets(round=self.round, agency_id=self.agency_id)

    @property
    def agency_name(self) -> str:
        sheets = self.sheets()
        if sheets.empty:
            return self.agency_id
        return str(sheets.sort_values("last_at")["agency_name"].iloc[-1])

    def assessments(self) -> list[tuple[str, str]]:
        """(service, instrument) pairs the agency answered in this round, sorted."""
        sheets = self.sheets()
        sheets = sheets[sheets["kind"] == "answer"]
        pairs = sheets[["service", "instrument"]].drop_duplicates()
        return sorted((str(s), str(i)) for s, i in pairs.itertuples(index=False))

    def select(self, service: str, instrument: str) -> None:
        """Work on this (service, instrument) assessment."""
        if not self.framework.has_instrument(instrument):
            raise StoreError(
                "instrument",
                f"unknown instrument {instrument!r}",
                instrument=instrument,
                allowed=", ".join(i.id for i in self.framework.instruments),
            )
        if (service, instrument) != (self.service, self.instrument):
            self.seen, self.pending, self._seen_for = {}, {}, None
        self.service, self.instrument = service, instrument

    @property
    def sheet(self) -> Sheet:
        """The agreed-answer sheet of the selected assessment."""
        if self.instrument is None or self.service is None:
            raise StoreError(
                "no-answers", "no answers yet", agency_id=self.agency_id, round=self.round
            )
        return Sheet(
            self.round,
            self.agency_id,
            self.agency_name,
            self.service,
            self.instrument,
            AGREED_RESPONDENT,
            "agreed",
        )

    def respondents(self) -> list[str]:
        """Respondents of the selected assessment, sorted."""
        sheets = self.sheets()
        mask = (
            (sheets["kind"] == "answer")
            & (sheets["service"] == self.service)
            & (sheets["instrument"] == self.instrument)
        )
        return sorted(str(r) for r in sheets.loc[mask, "respondent"])

    def individual(self) -> Responses:
        """The respondents' own answers of the selected assessment."""
        return self.store.responses(
            agreed="individual",
            round=self.round,
            agency_id=self.agency_id,
            service=self.service,
            instrument=self.instrument,
        )

    def agreed(self) -> dict[str, tuple[str | None, str]]:
        """Current agreed answers of the selected assessment: item id → (code, note).

        What this returns is what the page has seen: later changes are checked
        against it (:meth:`set_agreed`)."""
        current = self.store.current(**self.sheet.filters())
        got = {
            str(r.item_id): (
                None if pd.isna(r.answer) else str(r.answer),
                "" if pd.isna(r.note) else str(r.note),
            )
            for r in current.itertuples()
        }
        self.seen = dict(got)
        self.pending = {}
        self._seen_for = (self.service, self.instrument)
        return got

    def items(self) -> pd.DataFrame:
        """Every item of the selected assessment, disagreements first.

        Returns
        -------
        DataFrame
            One row per item: ``item_id, principle_id, order`` (bank order),
            ``disagreement`` (bool, the rule of :mod:`guidekit.scoring`), ``status``
            (aggregated over respondents, by scoring), ``spread``, ``answers``
            (dict respondent → code or None), ``notes`` (dict respondent → note),
            ``agreed`` (code or None), ``agreed_note``.  Sorted: disagreements
            first, then bank order.
        """
        individual = self.individual()
        frame = individual.frame
        scored = scoring.score(individual).items if not frame.empty else None
        agreed = self.agreed()
        answers: dict[str, dict[str, str | None]] = {}
        notes: dict[str, dict[str, str]] = {}
        for r in frame.itertuples():
            answers.setdefault(r.item_id, {})[r.respondent] = (
                None if pd.isna(r.answer) else r.answer
            )
            if isinstance(r.note, str) and r.note:
                notes.setdefault(r.item_id, {})[r.respondent] = r.note
        by_item = {} if scored is None else {row.item_id: row for row in scored.itertuples()}
        rows = []
        for order, item in enumerate(self.framework.items[self.instrument or ""]):
            s = by_item.get(item.id)
            rows.append(
                {
                    "item_id": item.id,
                    "principle_id": item.principle,
                    "order": order,
                    "disagreement": bool(s.disagreement) if s is not None else False,
                    "status": str(s.status) if s is not None else "unanswered",
                    "spread": float(s.spread) if s is not None else math.nan,
                    "answers": answers.get(item.id, {}),
                    "notes": notes.get(item.id, {}),
                    "agreed": agreed.get(item.id, (None, ""))[0],
                    "agreed_note": agreed.get(item.id, (None, ""))[1],
                }
            )
        table = pd.DataFrame(rows)
        if table.empty:
            return table
        # Keep None for "no agreed answer" (pandas would infer a string column with NaN).
        table["agreed"] = pd.Series([r["agreed"] for r in rows], dtype=object)
        return table.sort_values(
            ["disagreement", "order"], ascending=[False, True], kind="stable"
        ).reset_index(drop=True)

    # -- writing -----------------------------------------------------------------------
    def set_agreed(self, item_id: str, code: Any = KEEP, note: Any = KEEP) -> Outcome:
        """Record the team's agreed answer (None = no agreed answer) and/or its note.

        Pass only what the facilitator changed: a field left as :data:`KEEP`
        stays as the store holds it.  A changed field is checked against what
        this page last read (:meth:`agreed`); if another page changed it in
        between, nothing is written and ``conflict`` says so (call
        :meth:`agreed` or redraw to see the stored value).  不適用 needs a
        reason (the note); without one it stays pending until the note is written.
        """
        if self._seen_for != (self.service, self.instrument):
            self.agreed()  # nothing read yet (a caller without the page): read it now
        seen_answer, seen_note = self.seen.get(item_id, (None, ""))
        scale = self.framework.scale(self.sheet.instrument)
        if code is KEEP and note is not KEEP and item_id in self.pending:
            code = self.pending[item_id]

        final_note = seen_note if note is KEEP else note
        if lacks_reason(scale.option_for(code), final_note):
            self.pending[item_id] = code
            return Outcome(
                "pending",
                item_id,
                self.t(
                    "workshop.na.not_saved_agreed",
                    chosen=self._label_of(code),
                    stored=self._label(seen_answer),
                ),
            )
        change = Change(
            self.sheet,
            item_id,
            code,
            note,
            who=self.who,
            session=self.session,
            seen_answer=seen_answer if code is not KEEP else KEEP,
            seen_note=seen_note if note is not KEEP else KEEP,
        )
        try:
            saved = self.store.record(change)
        except Conflict as conflict:
            self.seen[item_id] = (conflict.answer, conflict.note)
            self.pending.pop(item_id, None)
            typed = note if isinstance(note, str) and note is not KEEP else None
            message = (
                self.t("workshop.conflict.note", text=typed)
                if typed is not None
                else self.t("workshop.conflict.answer", answer=self._label(conflict.answer))
            )
            return Outcome("conflict", item_id, message)
        self.pending.pop(item_id, None)
        merged = (saved.answer, saved.note) != (
            seen_answer if code is KEEP else code,
            seen_note if note is KEEP else note,
        )
        self.seen[item_id] = (saved.answer, saved.note)
        if saved.changed:
            message = self.t("workshop.saved_at", time=local_time(saved.at))
            if merged:
                message += self.t("workshop.merged")
            return Outcome("saved", item_id, message, saved, merged)
        return Outcome("unchanged", item_id, "", saved, merged)

    def n_agreed(self) -> int:
        """Items of the selected assessment with an agreed answer, as this page last read
        or wrote them (:meth:`agreed`, :meth:`set_agreed`)."""
        return sum(answer is not None for answer, _ in self.seen.values())

    def _label_of(self, code: str) -> str:
        try:
            return self.framework.scale(self.sheet.instrument).option(code).text("label", self.lang)
        except KeyError:
            return code

    def _label(self, code: str | None) -> str:
        if code is None:
            return self.t("workshop.team.not_agreed")
        try:
            return self.framework.scale(self.sheet.instrument).option(code).text("label", self.lang)
        except KeyError:
            return code

    # -- improvement actions -------------------------------------------------------------
    def item_statuses(self) -> dict[tuple[str, str, str, str, str], str]:
        """Combined status of each item of the agency this round, by the team rule (an
        agreed answer settles an item) and :func:`guidekit.scoring.item_statuses`."""
        responses = self.store.responses(round=self.round, agency_id=self.agency_id)
        if responses.frame.empty:
            return {}
        return scoring.item_statuses(scoring.score(responses))

    def gaps(self) -> list[str]:
        """Items of the selected assessment below the top of the scale (partial or not
        met, :func:`guidekit.scoring.is_gap`), in bank order: where an action can be added."""
        status = self.item_statuses()
        key = (self.round, self.agency_id, self.service or "", self.instrument or "")
        return [
            item.id
            for item in self.framework.items.get(self.instrument or "", ())
            if scoring.is_gap(status.get((*key, item.id), ""))
        ]

    def measures(self, item_id: str) -> list[tuple[str, str]]:
        """(id, title) of the supporting measures recommended for a gap in ``item_id``
        (:func:`guidekit.scoring.measures_for_item`): the choices beside "add an action"."""
        titles = {m.id: m.text("title", self.lang) for m in self.framework.measures}
        return [(m, titles[m]) for m in scoring.measures_for_item(self.framework, item_id)]

    def actions(self) -> list[Action]:
        """The agency's actions for the selected assessment: this round's, then earlier
        rounds' open ones not yet updated this round (:func:`guidekit.answers.carried_forward`),
        by item."""
        mine = [
            a
            for a in self.store.actions(agency_id=self.agency_id)
            if a.service == (self.service or "") and a.instrument == self.instrument
        ]
        now = [a for a in mine if a.round == self.round]
        listed = now + carried_forward(mine, self.round)
        order = {i.id: n for n, i in enumerate(self.framework.items.get(self.instrument or "", ()))}
        return sorted(listed, key=lambda a: (order.get(a.item_id, 0), a.action_id))

    def save_action(self, item_id: str, **fields: Any) -> ActionOutcome:
        """Record an action for ``item_id`` in the selected assessment, saved at once.

        ``fields`` are the action's columns as typed on the page (``text``, ``owner``,
        ``due`` — 民國 or Gregorian —, ``status`` (default planned), ``completed``,
        ``reason``, ``measure_id``, ``target``; ``action_id`` to update an existing one).
        They go through the same rules as a form's actions sheet
        (:func:`guidekit.answers.check_actions`), so the same action typed here and in a
        form is the same record (same id).
        """
        values = {
            "round": self.round,
            "agency_id": self.agency_id,
            "agency_name": self.agency_name,
            "service": self.service or "",
            "instrument": self.instrument or "",
            "item_id": item_id,
            "status": "planned",
            **{k: "" if v is None else v for k, v in fields.items()},
        }
        checked, problems = check_actions(
            [ActionRow(self.store.location, None, values)],
            self.framework,
            item_status=self.item_statuses(),
        )
        warnings = [p.message(self.lang) for p in problems if not p.is_error]
        if not checked:  # every rule it breaks, in the words the store uses
            errors = [p for p in problems if p.is_error]
            return ActionOutcome("refused", item_id, ActionRefused(errors).text(self.lang))
        try:
            (saved,) = self.store.record_actions(checked, who=self.who, session=self.session)
        except ActionRefused as refused:
            return ActionOutcome("refused", item_id, refused.text(self.lang))
        message = self.t("workshop.saved_at", time=local_time(saved.at))
        if warnings:
            message += " " + " ".join(warnings)
        return ActionOutcome(
            "saved" if saved.changed else "unchanged", item_id, message, saved.action
        )

    def is_overdue(self, action: Action, today: dt.date | None = None) -> bool:
        """Open and past due (:func:`guidekit.answers.is_overdue`), relative to today in Taipei."""
        return is_overdue(action, today or i18n.today())

    # -- files ---------------------------------------------------------------------------
    def _stem(self) -> str:

        agency = batch.report_filenames([self.agency_id])[self.agency_id].removesuffix(".html")
        round_ = batch.report_filenames([self.round])[self.round].removesuffix(".html")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"{round_}_{agency}_{stamp}"

    def export(self, folder: str | Path | None = None) -> Exported:
        """Write the agency's answers of this round (every service and form; the team
        rule of :mod:`guidekit.store`) as ``answers.csv``, ``answers.xlsx`` and ``answers.ods``.

        Default folder: ``<out>/exports/<round>_<agency>_<time>/``.  Files guidekit
        wrote there earlier are replaced; any other file of those names is not
        (:mod:`guidekit.files`).

        Raises
        ------
        WriteRefused
            If ``answers.csv`` or ``answers.xlsx`` there is not guidekit's own
            unchanged file (both checked before either is written).
        """

        folder = Path(folder) if folder is not None else self.out / "exports" / self._stem()
        filters = {"round": self.round, "agency_id": self.agency_id}
        names = ("answers.csv", "answers.xlsx", "answers.ods")
        check_targets([folder / name for name in names])
        csv_file, xlsx_file, ods_file = (
            self.store.export_file(folder / name, **filters) for name in names
        )
        return Exported(
            csv_file.path, xlsx_file.path, csv_file.rows, len(xlsx_file.replaced), ods_file.path
        )

    def report(self, folder: str | Path | None = None, today: dt.date | None = None) -> Reported:
        """Export the answers (:meth:`export`) and run ``guidekit reports`` on that file.

        The report comes from :func:`guidekit.batch.run_reports` with the exported
        CSV as input, exactly what ``guidekit reports --responses <csv> --agency
        <id> --round <round> --out <folder>`` does.  ``command`` is the command line
        to copy (:func:`shell_command`): ``guidekit reports --responses <csv> --out
        <folder>``, the same run, since the exported file holds only this agency and
        round; it names only paths (the folder's name is made by guidekit from the round
        and agency code by :func:`guidekit.batch.report_filenames`), never typed text.
        ``None`` when a path holds characters a Windows shell would read.
        Default folder: ``<out>/reports/<round>_<agency>_<time>/``, with the answer
        files in it and the report in its ``report/`` folder (answers and reports
        never share a folder: a folder with a report run is not read as answers).
        """

        folder = Path(folder) if folder is not None else self.out / "reports" / self._stem()
        answers = self.export(folder)
        framework = str(self.framework.path)
        folder = folder / "report"
        # the agency's improvement actions and its previous round's answers (to judge last
        # round's actions) come from the store itself
        mine = self.store.actions(agency_id=self.agency_id)
        rounds = sorted_rounds(self.store.sheets(agency_id=self.agency_id)["round"])
        before = [r for r in rounds if round_key(r) < round_key(self.round)]
        previous = (
            self.store.responses(round=before[-1], agency_id=self.agency_id) if before else None
        )
        result = batch.run_reports(
            responses=[answers.csv],
            actions=mine,
            previous=previous,
            out=folder,
            agencies=[self.agency_id],
            workers=1,
            lang=self.lang,
            framework=framework,
            round=self.round,
            progress=False,
            today=today,
        )
        agency = result.results[0]
        html = folder / agency.file if agency.status == "ok" else None
        # The exported file holds this agency's answers of this round only, so the command
        # needs neither --agency nor --round: text typed on the start page never reaches it.
        args = ["guidekit", "--lang", self.lang, "reports", "--responses", str(answers.csv)]
        if self.framework.path.resolve() != default_framework_path().resolve():
            args += ["--framework", framework]
        command = shell_command([*args, "--out", str(folder)])
        return Reported(html, folder, answers, agency.status == "ok", agency.error, command)
