"""The questionnaire page: one respondent answers one self-assessment form.

Thin widgets over :class:`guidekit.widgets.model.Questionnaire`: every control
calls the model and shows its :class:`~guidekit.widgets.model.Outcome`.

- Items are grouped by 構面 (one tab each) and principle (a heading with its
  requirement and, folded, the guideline's explanation).
- Answer choices are radio buttons that start unanswered (``value=None``) unless
  the store already holds an answer (resume).  In a running kernel a chosen answer
  is saved once the choice has rested for :data:`SETTLE_S` (arrow keys pass over
  options on their way: only where they stop is saved); each item rests on its own
  (a browser may send an item's later values after other items' first ones); its
  note, another tab, the back button and the kernel's exit save it at once.
- 不適用 without a reason is not saved: the item says so and names the answer the
  store still holds (which progress, scores and the facilitator use), and the side
  column lists such items.
- A note / evidence box per item is saved when it loses focus
  (``continuous_update=False``), never per keystroke.
- Observers use ``names="value"``: one call per change, one log row per change.
- Every control has a visible label (``description``) and is reachable with
  Tab; radio buttons are chosen with Space or the arrow keys.
- All free text reaches the page through autoescaping templates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pandas as pd

from guidekit import i18n
from guidekit.render.html import render
from guidekit.widgets import controls
from guidekit.widgets.errors import ErrorPanel, guarded
from guidekit.widgets.model import Outcome, Questionnaire, local_time

#: Seconds a chosen answer rests before it is saved (in a running kernel): arrow keys in a
#: radio group choose every option they pass, and only the last one should be saved.
SETTLE_S = 0.4


def running_loop() -> Any:
    """The kernel's running asyncio loop, or None (tests without a kernel save at once)."""
    import asyncio

    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@dataclasses.dataclass
class ItemRow:
    """The widgets of one item."""

    box: Any
    text: Any
    answer: Any
    note: Any
    status: Any


class QuestionnaireView:
    """Widgets of one answer sheet.

    Parameters
    ----------
    model : Questionnaire
    on_back : callable, optional
        Called (no arguments) by the "back" button.
    errors : ErrorPanel, optional
        Where callback errors are shown (default: a panel of this view).

    Attributes
    ----------
    widget : ipywidgets.VBox
        The page.
    rows : dict of str to ItemRow
        Per item id.
    chart : ipywidgets.HTML
        The live radar chart.
    """

    def __init__(
        self,
        model: Questionnaire,
        on_back: Callable[[], None] | None = None,
        errors: ErrorPanel | None = None,
    ) -> None:
        import ipywidgets as w

        self.model = model
        self.lang = model.lang
        self.errors = errors or ErrorPanel(self.lang)
        self._syncing = False
        #: Answers chosen but not yet saved (resting, see SETTLE_S), per item id.
        self.waiting: dict[str, str | None] = {}
        self._timers: dict[str, Any] = {}
        self.rows: dict[str, ItemRow] = {}
        fw = model.framework

        self.header = w.HTML(value=self._header_html())
        self.save_status = w.HTML(value="")
        self.back = w.Button(
            description=self.t("workshop.back"),
            icon="arrow-left",
            tooltip=self.t("workshop.back"),
            layout=w.Layout(width="auto"),
        )
        if on_back is not None:
            self.back.on_click(guarded(self.errors, "back")(lambda _b: (self.flush(), on_back())))
        else:
            self.back.layout.display = "none"
        self.overall = w.IntProgress(
            value=0,
            min=0,
            max=len(model.items),
            description=self.t("workshop.progress.overall"),
            style={"description_width": "initial"},
            layout=w.Layout(width="98%"),
        )
        self.progress = w.HTML(value="")
        self.chart = w.HTML(value="")
        #: Answers shown but not saved (不適用 without a reason), listed beside the chart.
        self.unsaved = w.HTML(value="")

        # One tab per 構面 that has items on this form; principles as headings inside.
        self.principle_headers: dict[str, Any] = {}
        self.dimensions = [
            d for d in fw.dimensions if any(i.dimension == d.id for i in model.items)
        ]
        pages = []
        for dim in self.dimensions:
            children = []
            for p in fw.principles_of(dim.id):
                items = [i for i in model.items if i.principle == p.id]
                if not items:
                    continue
                header = w.HTML(value="")
                self.principle_headers[p.id] = header
                children.append(header)
                for item in items:
                    row = self._item_row(item)
                    self.rows[item.id] = row
                    children.append(row.box)
            pages.append(children)
        # The end of each 構面 leads on to the next one (keyboard users need not go back up
        # to the tab bar); the last one says answers are already saved.
        self.next_buttons: list[Any] = []
        for n, children in enumerate(pages):
            if n + 1 < len(self.dimensions):
                nxt = self.dimensions[n + 1]
                button = w.Button(
                    description=self.t(
                        "workshop.next_tab", id=nxt.id, title=nxt.text("title", self.lang)
                    ),
                    icon="arrow-right",
                    layout=w.Layout(width="auto", margin="12px 0"),
                )
                # The page script moves the keyboard focus to the next 構面's first heading.
                button.add_class("gk-ws-next")
                button.on_click(
                    guarded(self.errors, "next tab")(
                        lambda _b, k=n + 1: setattr(self.tabs, "selected_index", k)
                    )
                )
                self.next_buttons.append(button)
                children.append(button)
            else:
                children.append(
                    w.HTML(
                        value=render(
                            "workshop/status.html.j2",
                            kind="none",
                            text=self.t("workshop.all_saved_hint"),
                        )
                    )
                )
        self.tabs = w.Tab(children=[w.VBox(c) for c in pages])
        self.tabs.observe(
            guarded(self.errors, "tab")(lambda _c: self.flush()), names="selected_index"
        )

        # Questions on the left; progress and the live chart beside them, staying in view
        # while the page scrolls (below the questions on a narrow screen).
        sidebar = w.VBox(
            [self.overall, self.unsaved, self.chart, self.progress],
            layout=w.Layout(flex="0 1 470px", min_width="300px"),
        )
        sidebar.add_class("gk-ws-sidebar")
        self.tabs.layout = w.Layout(flex="1 1 600px", min_width="320px")
        self.widget = w.VBox(
            [
                w.HBox([self.back]),
                self.header,
                self.save_status,
                self.errors.widget,
                w.HBox(
                    [self.tabs, sidebar],
                    layout=w.Layout(flex_flow="row wrap", align_items="flex-start"),
                ),
            ]
        )
        self.widget.add_class("gk-ws-questionnaire")
        self.refresh()
        self._show_saved_status(None)

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(key, self.lang, **values)

    # -- building ----------------------------------------------------------------
    def _header_html(self) -> str:
        m = self.model
        fw = m.framework
        inst = fw.instrument(m.sheet.instrument)
        fields = [
            (self.t("report.meta.round"), m.sheet.round),
            (self.t("report.meta.agency"), f"{m.sheet.agency_name}（{m.sheet.agency_id}）"),
            (self.t("report.meta.service"), m.sheet.service or "—"),
            (
                self.t("report.meta.instrument"),
                f"{inst.text('title', self.lang)} {inst.annex}".strip(),
            ),
            (self.t("workshop.field.respondent"), m.sheet.respondent),
        ]
        return render(
            "workshop/header.html.j2",
            title=self.t("workshop.questionnaire.title"),
            fields=fields,
        )

    def _item_row(self, item: Any) -> ItemRow:
        import ipywidgets as w

        m = self.model
        state = m.state[item.id]
        text = w.HTML(
            value=render(
                "workshop/item.html.j2",
                **controls.item_context(item, self.t, self.lang),
                help=item.text("help", self.lang),
                help_label=self.t("workshop.item.help"),
            )
        )
        # value=None: nothing is chosen until the respondent chooses (or the store says so).
        answer = controls.answer_choice(
            m.options(), state.answer, self.t("workshop.item.answer", id=item.id)
        )
        note = controls.note_box(
            state.note, self.t("workshop.item.note"), self.t("workshop.item.note_placeholder")
        )
        status = w.HTML(value=self._status_html(state.item.id, None))
        answer.observe(
            guarded(self.errors, f"answer {item.id}")(
                lambda change, iid=item.id: self._on_answer(iid, change["new"])
            ),
            names="value",
        )
        note.observe(
            guarded(self.errors, f"note {item.id}")(
                lambda change, iid=item.id: self._on_note(iid, change["new"])
            ),
            names="value",
        )
        box = w.VBox([text, answer, note, status])
        box.add_class("gk-ws-item")
        return ItemRow(box, text, answer, note, status)

    # -- callbacks -----------------------------------------------------------------
    def _on_answer(self, item_id: str, code: str | None) -> None:
        """A choice on the page: saved after it rests for :data:`SETTLE_S` in a kernel
        (at once without one); a newer choice on the same item starts the rest again."""
        if self._syncing:
            return
        loop = running_loop()
        if loop is None:
            self._save_answer(item_id, code)
            return
        self.waiting[item_id] = code
        self._status(item_id, "none", self.t("workshop.saving"))
        timer = self._timers.pop(item_id, None)
        if timer is not None:
            timer.cancel()
        self._timers[item_id] = loop.call_later(
            SETTLE_S, guarded(self.errors, f"answer {item_id}")(self._save_waiting), item_id
        )

    def _save_waiting(self, item_id: str) -> None:
        timer = self._timers.pop(item_id, None)
        if timer is not None:
            timer.cancel()
        if item_id in self.waiting:
            self._save_answer(item_id, self.waiting.pop(item_id))

    def flush(self) -> None:
        """Save every resting choice now."""
        for item_id in list(self.waiting):
            guarded(self.errors, f"answer {item_id}")(self._save_waiting)(item_id)

    def _saving(self, item_id: str, save: Callable[[], Outcome]) -> Outcome:
        """Run one save of an item; if it raises, the item says "not saved" (the error
        panel tells why)."""
        self.errors.clear()
        try:
            return save()
        except Exception:
            self._status(item_id, "failed", self.t("workshop.not_saved"))
            raise

    def _save_answer(self, item_id: str, code: str | None) -> None:
        self._after(self._saving(item_id, lambda: self.model.choose(item_id, code)))

    def _on_note(self, item_id: str, text: str) -> None:
        if self._syncing:
            return
        if item_id in self.waiting:  # the answer chosen just before comes first
            guarded(self.errors, f"answer {item_id}")(self._save_waiting)(item_id)
        outcome = self._saving(item_id, lambda: self.model.write_note(item_id, text))
        if outcome.status == "refused":
            self._set(self.rows[item_id].note, self.model.state[item_id].note)
        self._after(outcome)

    def _after(self, outcome: Outcome) -> None:
        if outcome.status == "conflict":
            # Another page changed this sheet: show everything as the store holds it now.
            for item_id in self.rows:
                self._sync(item_id)
                if item_id != outcome.item_id:
                    self._status(item_id, None, self._status_text(item_id))
            self._status(outcome.item_id, "refused", outcome.message)
            self._show_saved_status(outcome)
            self.refresh()
            self._show_unsaved()
            return
        if outcome.merged:
            self._sync(outcome.item_id)
        if outcome.status == "saved":
            self._status(outcome.item_id, "saved", outcome.message)
            self._show_saved_status(outcome)
            if outcome.saved is not None and outcome.saved.old_answer != outcome.saved.answer:
                self.refresh()
        elif outcome.status in ("pending", "refused"):
            self._status(outcome.item_id, outcome.status, outcome.message)
        else:
            self._status(outcome.item_id, None, self._status_text(outcome.item_id))
        self._show_unsaved()

    def _show_unsaved(self) -> None:
        """List the answers shown but not saved beside the chart (nothing disagrees silently)."""
        pending = self.model.pending_items()
        value = (
            render(
                "workshop/status.html.j2",
                kind="pending",
                text=self.t(
                    "workshop.pending.summary",
                    n=len(pending),
                    items="、".join(pending) if self.lang == "zh-TW" else ", ".join(pending),
                ),
            )
            if pending
            else ""
        )
        if self.unsaved.value != value:
            self.unsaved.value = value

    def _sync(self, item_id: str) -> None:
        """Show the model's value of one item (answer waiting for a reason included)."""
        state = self.model.state[item_id]
        row = self.rows[item_id]
        answer = state.pending if state.pending is not None else state.answer
        if row.answer.value != answer:
            self._set(row.answer, answer)
        if row.note.value != state.note:
            self._set(row.note, state.note)

    def _set(self, widget: Any, value: Any) -> None:
        self._syncing = True
        try:
            widget.value = value
        finally:
            self._syncing = False

    # -- showing ---------------------------------------------------------------------
    def _status_text(self, item_id: str) -> str:
        state = self.model.state[item_id]
        if state.saved_at:
            return self.t("workshop.saved_at", time=local_time(state.saved_at))
        return self.t("workshop.unanswered")

    def _status_html(self, item_id: str, kind: str | None, text: str | None = None) -> str:
        state = self.model.state[item_id]
        if kind is None:
            kind = "saved" if state.saved_at else "none"
            text = self._status_text(item_id)
        return render("workshop/status.html.j2", kind=kind, text=text or "")

    def _status(self, item_id: str, kind: str | None, text: str) -> None:
        self.rows[item_id].status.value = self._status_html(item_id, kind, text)

    def _show_saved_status(self, outcome: Outcome | None) -> None:
        latest = max((s.saved_at for s in self.model.state.values() if s.saved_at), default=None)
        # No file path here: where the store is shows in the facilitator view and the console.
        text = self.t("workshop.autosave")
        if latest:
            text += " " + self.t("workshop.last_saved", time=local_time(latest))
        self.save_status.value = render("workshop/status.html.j2", kind="none", text=text)

    def refresh(self) -> None:
        """Redraw progress, principle headings, tab titles and the chart from the model."""
        m = self.model
        table = m.principles()
        done, total = int(table["n_done"].sum()), int(table["n_items"].sum())
        self.overall.value = done
        self.overall.description = self.t("workshop.progress.overall_count", done=done, total=total)
        self.progress.value = render(
            "workshop/progress.html.j2",
            t=self.t,
            rows=[
                {
                    "label": r.label,
                    "done": f"{r.n_done}/{r.n_items}",
                    "score": i18n.format_score(r.score),
                    "complete": r.n_done == r.n_items,
                }
                for r in table.itertuples()
            ],
        )
        fw = m.framework
        for r in table.itertuples():
            p = fw.principle(r.principle_id)
            header = self.principle_headers.get(r.principle_id)
            if header is None:
                continue
            value = render(
                "workshop/principle.html.j2",
                principle_id=p.id,
                label=r.label,
                progress=self.t("workshop.progress.count", done=r.n_done, total=r.n_items),
                requirement=p.text("requirement", self.lang),
                explanation=p.explanation_zh
                if self.lang == "zh-TW"
                else (p.summary_en or p.explanation_zh),
                explanation_label=self.t("workshop.principle.explanation"),
            )
            if header.value != value:
                header.value = value
        titles = []
        for dim in self.dimensions:
            part = table[table["dimension_id"] == dim.id]
            titles.append(
                self.t(
                    "workshop.tab",
                    id=dim.id,
                    title=dim.text("title", self.lang),
                    done=int(part["n_done"].sum()),
                    total=int(part["n_items"].sum()),
                )
            )
        if tuple(self.tabs.titles) != tuple(titles):
            self.tabs.titles = tuple(titles)
        self.chart.value = render("workshop/chart.html.j2", chart=m.chart(table))
        self.table = table

    # -- for tests and the benchmark ----------------------------------------------------
    def answer(self, item_id: str, code: str | None) -> None:
        """Choose an answer as a click would (sets the radio buttons' value; in a running
        event loop it is saved after :data:`SETTLE_S`, or by :meth:`flush`)."""
        self.rows[item_id].answer.value = code

    def write(self, item_id: str, text: str) -> None:
        """Edit a note as typing and leaving the box would."""
        self.rows[item_id].note.value = text

    def scores(self) -> pd.DataFrame:
        """The principle table last drawn (see :meth:`Questionnaire.principles`)."""
        return self.table
