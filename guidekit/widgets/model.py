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
import uuid
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from .. import charts, i18n, scoring
from ..framework import Framework, Item
from ..responses import COLUMNS, Responses
from ..store import AGREED_RESPONDENT, Change, ResponseStore, Saved, Sheet, StoreError

Status = Literal["saved", "unchanged", "pending", "refused"]


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
    reason yet) or ``refused`` (not accepted; ``message`` says why).
    ``message`` is page text in the page's language.
    """

    status: Status
    item_id: str
    message: str = ""
    saved: Saved | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("saved", "unchanged")


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
    def load(self) -> None:
        """(Re)read this sheet's current answers from the store (resume)."""
        current = self.store.current(**self.sheet.filters())
        for state in self.state.values():
            state.answer, state.note, state.saved_at, state.pending = None, "", None, None
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

    def is_na(self, code: str | None) -> bool:
        """True for the scale's 不適用 code."""
        if code is None:
            return False
        try:
            return self.scale.option(code).na
        except KeyError:
            return False

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(key, self.lang, **values)

    # -- writing -----------------------------------------------------------------
    def _write(self, state: ItemState, answer: str | None, note: str) -> Outcome:
        change = Change(
            self.sheet, state.item.id, answer, note, who=self.sheet.respondent, session=self.session
        )
        saved = self.store.record(change)
        state.answer, state.note, state.pending, state.message = answer, note, None, ""
        if saved.changed:
            state.saved_at = saved.at
            return Outcome("saved", state.item.id, self.t("workshop.saved_at", time=local_time(saved.at)), saved)
        return Outcome("unchanged", state.item.id, "", saved)

    def choose(self, item_id: str, code: str | None) -> Outcome:
        """The respondent chose answer ``code`` (None = no answer) for ``item_id``.

        不適用 without a reason is not saved: it stays pending on the page with a
        message until a reason is written (:meth:`write_note`).

        Raises
        ------
        KeyError
            If ``item_id`` is not on this sheet.
        StoreError
            If the store refuses or cannot write the change (nothing is marked saved).
        """
        state = self.state[item_id]
        if self.is_na(code) and not state.note.strip():
            state.pending = code
            state.message = self.t("workshop.na.reason_required")
            return Outcome("pending", item_id, state.message)
        return self._write(state, code, state.note)

    def write_note(self, item_id: str, text: str) -> Outcome:
        """The respondent finished editing the note / evidence of ``item_id``.

        The note is kept exactly as typed.  With a pending 不適用 a non-blank
        note saves both in one change; clearing the reason of a saved 不適用 is
        refused (the saved note stays).
        """
        state = self.state[item_id]
        text = text if isinstance(text, str) else ""
        answer = state.pending if state.pending is not None else state.answer
        if self.is_na(answer) and not text.strip():
            if state.pending is not None:
                state.message = self.t("workshop.na.reason_required")
                return Outcome("pending", item_id, state.message)
            state.message = self.t("workshop.na.reason_kept")
            return Outcome("refused", item_id, state.message)
        return self._write(state, answer, text)

    # -- what the page shows -------------------------------------------------------
    def frame(self) -> pd.DataFrame:
        """This sheet's saved answers as canonical rows (one per item with an answer or note)."""
        sheet = self.sheet
        rows = [
            (
                sheet.round, sheet.agency_id, sheet.agency_name, sheet.service, sheet.instrument,
                sheet.respondent, s.item.id, s.answer, s.note, s.saved_at or "",
                self.framework.version, self.store.location, None,
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


@dataclasses.dataclass(frozen=True)
class Exported:
    """Files written by :meth:`Facilitator.export`: the answers as CSV and .xlsx."""

    csv: Path
    xlsx: Path
    rows: int


@dataclasses.dataclass(frozen=True)
class Reported:
    """What :meth:`Facilitator.report` made: the agency's report and the answers it used."""

    html: Path | None
    folder: Path
    answers: Exported
    ok: bool
    error: str | None
    command: str


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
        self.out = Path(out) if out is not None else Path(store.location).parent
        self.service: str | None = None
        self.instrument: str | None = None
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
            raise StoreError("instrument", f"unknown instrument {instrument!r}", instrument=instrument,
                             allowed=", ".join(i.id for i in self.framework.instruments))
        self.service, self.instrument = service, instrument

    @property
    def sheet(self) -> Sheet:
        """The agreed-answer sheet of the selected assessment."""
        if self.instrument is None or self.service is None:
            raise StoreError("no-answers", "no answers yet", agency_id=self.agency_id, round=self.round)
        return Sheet(self.round, self.agency_id, self.agency_name, self.service, self.instrument,
                     AGREED_RESPONDENT, "agreed")

    def respondents(self) -> list[str]:
        """Respondents of the selected assessment, sorted."""
        sheets = self.sheets()
        mask = (sheets["kind"] == "answer") & (sheets["service"] == self.service) & (
            sheets["instrument"] == self.instrument)
        return sorted(str(r) for r in sheets.loc[mask, "respondent"])

    def individual(self) -> Responses:
        """The respondents' own answers of the selected assessment."""
        return self.store.responses(
            agreed="individual", round=self.round, agency_id=self.agency_id,
            service=self.service, instrument=self.instrument,
        )

    def agreed(self) -> dict[str, tuple[str | None, str]]:
        """Current agreed answers of the selected assessment: item id → (code, note)."""
        current = self.store.current(**self.sheet.filters())
        return {
            str(r.item_id): (None if pd.isna(r.answer) else str(r.answer),
                             "" if pd.isna(r.note) else str(r.note))
            for r in current.itertuples()
        }

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
            answers.setdefault(r.item_id, {})[r.respondent] = None if pd.isna(r.answer) else r.answer
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
        return table.sort_values(["disagreement", "order"], ascending=[False, True],
                                 kind="stable").reset_index(drop=True)

    # -- writing -----------------------------------------------------------------------
    def set_agreed(self, item_id: str, code: str | None, note: str = "") -> Outcome:
        """Record the team's agreed answer (None = no agreed answer) for ``item_id``.

        不適用 needs a reason (the note); without one nothing is saved.
        """
        scale = self.framework.scale(self.sheet.instrument)
        if code is not None and scale.option(code).na and not note.strip():
            return Outcome("pending", item_id, self.t("workshop.na.reason_required"))
        saved = self.store.record(Change(self.sheet, item_id, code, note, who=self.who,
                                         session=self.session))
        if saved.changed:
            return Outcome("saved", item_id, self.t("workshop.saved_at", time=local_time(saved.at)),
                           saved)
        return Outcome("unchanged", item_id, "", saved)

    # -- files ---------------------------------------------------------------------------
    def _stem(self) -> str:
        from ..batch import report_filenames

        agency = report_filenames([self.agency_id])[self.agency_id].removesuffix(".html")
        round_ = report_filenames([self.round])[self.round].removesuffix(".html")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"{round_}_{agency}_{stamp}"

    def export(self, folder: str | Path | None = None) -> Exported:
        """Write the agency's answers of this round (every service and form; the team
        rule of :mod:`guidekit.store`) as ``answers.csv`` and ``answers.xlsx``.

        Default folder: ``<out>/exports/<round>_<agency>_<time>/``.
        """
        folder = Path(folder) if folder is not None else self.out / "exports" / self._stem()
        filters = {"round": self.round, "agency_id": self.agency_id}
        csv_path = self.store.export(folder / "answers.csv", **filters)
        xlsx_path = self.store.export(folder / "answers.xlsx", **filters)
        rows = len(self.store.responses(**filters).frame)
        return Exported(csv_path, xlsx_path, rows)

    def report(self, folder: str | Path | None = None, today: dt.date | None = None) -> Reported:
        """Export the answers (:meth:`export`) and run ``guidekit reports`` on that file.

        The report comes from :func:`guidekit.batch.run_reports` with the exported
        CSV as input, exactly what ``guidekit reports --responses <csv> --agency
        <id> --round <round>`` does; ``command`` is that command line.
        Default folder: ``<out>/reports/<round>_<agency>_<time>/``.
        """
        from ..batch import run_reports

        folder = Path(folder) if folder is not None else self.out / "reports" / self._stem()
        answers = self.export(folder)
        framework = str(self.framework.path)
        result = run_reports(
            responses=[answers.csv],
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
        command = (
            f'guidekit --lang {self.lang} reports --responses "{answers.csv}" '
            f'--agency "{self.agency_id}" --round "{self.round}" --out <folder>'
        )
        return Reported(html, folder, answers, agency.status == "ok", agency.error, command)
