"""The facilitator page: every respondent of one agency side by side.

Thin widgets over :class:`guidekit.widgets.model.Facilitator`:

- the items where respondents disagree (the rule of :mod:`guidekit.scoring`)
  come first, as discussion prompts, each with its answers and notes side by
  side and a place to record the team's agreed answer (saved at once);
- any other item can be picked to record an agreed answer too;
- a table shows every item × respondent;
- one button makes the agency's report through the same pipeline as
  ``guidekit reports`` (from the exported answers), one exports the answers as
  CSV and .xlsx (readable by ``guidekit validate``).
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guidekit import i18n
from guidekit.answers import ActionStatus
from guidekit.render.html import render
from guidekit.store import KEEP
from guidekit.widgets import controls
from guidekit.widgets.errors import ErrorPanel, guarded
from guidekit.widgets.model import Facilitator, Outcome, principle_label, shell_command
from guidekit.widgets.questionnaire import SETTLE_S, running_loop

#: Files larger than this get no download link (the path is still shown), bytes.
MAX_LINK_BYTES = 8_000_000

_MIME = {
    ".csv": "text/csv",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".html": "text/html",
}


@dataclasses.dataclass
class AgreedEditor:
    """Widgets recording the agreed answer of one item."""

    item_id: str
    box: Any
    answer: Any
    note: Any
    clear: Any
    status: Any


class ActionEditor:
    """ "Add an action" beside the agency's gaps: pick a gap (or one of its actions to
    update), type what will be done, its owner and due date, pick a recommended supporting
    measure; saved at once (:meth:`guidekit.widgets.model.Facilitator.save_action`)."""

    def __init__(self, view: FacilitatorView) -> None:
        import ipywidgets as w

        self.view = view
        t = view.t
        self.gap = controls.field("Dropdown", t("workshop.actions.gap"), options=[], value=None)
        self.which = controls.field("Dropdown", t("workshop.actions.which"), options=[], value=None)
        self.text = controls.field("Textarea", t("workshop.actions.text"), rows=2)
        self.owner = controls.field("Text", t("workshop.actions.owner"), width=None)
        self.due = controls.field("Text", t("workshop.actions.due"), width=None)
        self.status = controls.field(
            "Dropdown",
            t("workshop.actions.status"),
            width=None,
            options=[(s.label(view.lang), s.value) for s in ActionStatus],
            value=ActionStatus.PLANNED.value,
        )
        self.completed = controls.field("Text", t("workshop.actions.completed"), width=None)
        self.reason = controls.field("Text", t("workshop.actions.reason"))
        self.measure = controls.field(
            "Dropdown", t("workshop.actions.measure"), options=[], value=None
        )
        self.target = controls.field(
            "Dropdown", t("workshop.actions.target"), width=None, options=[], value=None
        )
        self.save = controls.button(t("workshop.actions.save"), "save")
        self.message = w.HTML()
        self.gap.observe(guarded(view.errors, "action gap")(self._on_gap), names="value")
        self.which.observe(guarded(view.errors, "action pick")(self._on_which), names="value")
        self.save.on_click(guarded(view.errors, "save action")(lambda _b: self.submit()))
        self._actions: list[Any] = []
        self.box = w.VBox(
            [
                self.gap,
                self.which,
                self.text,
                w.HBox([self.owner, self.due, self.status], layout=w.Layout(flex_flow="row wrap")),
                w.HBox([self.completed, self.target], layout=w.Layout(flex_flow="row wrap")),
                self.reason,
                self.measure,
                w.HBox([self.save]),
                self.message,
            ]
        )
        self.box.add_class("gk-ws-item")

    def set_gaps(self, gaps: list[str], actions: list[Any]) -> None:
        """Offer the gaps (and the items with actions, to update them)."""
        fw = self.view.model.framework
        self._actions = actions
        listed = list(dict.fromkeys([*gaps, *(a.item_id for a in actions)]))
        self.gap.options = [
            (f"{i} {fw.item(i).text('text', self.view.lang)[:60]}", i) for i in listed
        ]
        self.gap.value = None
        self.message.value = (
            ""
            if listed
            else render(
                "workshop/status.html.j2", kind="none", text=self.view.t("workshop.actions.no_gaps")
            )
        )
        self._clear()

    def _clear(self) -> None:
        for field in (self.text, self.owner, self.due, self.completed, self.reason):
            field.value = ""
        self.status.value = ActionStatus.PLANNED.value

    def _on_gap(self, change: dict[str, Any]) -> None:
        item_id = change["new"]
        m = self.view.model
        if item_id is None:
            self.which.options, self.measure.options, self.target.options = [], [], []
            return
        mine = [a for a in self._actions if a.item_id == item_id]
        self.which.options = [(self.view.t("workshop.actions.new"), "")] + [
            (f"{a.action_id} {a.text[:50]}", a.action_id) for a in mine
        ]
        self.which.value = ""
        self.measure.options = [(self.view.t("workshop.actions.no_measure"), "")] + [
            (f"{mid} {title}", mid) for mid, title in m.measures(item_id)
        ]
        self.measure.value = ""
        scale = m.framework.scale(m.instrument or "")
        self.target.options = [("", "")] + [
            (o.text("label", self.view.lang), o.code) for o in scale.options if not o.na
        ]
        self.target.value = ""
        self._clear()

    def _on_which(self, change: dict[str, Any]) -> None:
        action = next((a for a in self._actions if a.action_id == change["new"]), None)
        if action is None:
            self._clear()
            return
        self.text.value, self.owner.value = action.text, action.owner
        self.due.value = action.due.isoformat()
        self.status.value = action.status.value
        self.completed.value = action.completed.isoformat() if action.completed else ""
        self.reason.value = action.reason
        if action.measure_id not in [v for _, v in self.measure.options]:
            self.measure.options = [*self.measure.options, (action.measure_id, action.measure_id)]
        self.measure.value = action.measure_id
        self.target.value = (
            action.target if action.target in [v for _, v in self.target.options] else ""
        )

    def submit(self) -> Any:
        """Save what the editor holds (new or updated); shows and returns the outcome."""
        if self.gap.value is None:
            return None
        outcome = self.view.model.save_action(
            self.gap.value,
            action_id=self.which.value or "",
            text=self.text.value,
            owner=self.owner.value,
            due=self.due.value,
            status=self.status.value,
            completed=self.completed.value,
            reason=self.reason.value,
            measure_id=self.measure.value or "",
            target=self.target.value or "",
        )
        kind = "saved" if outcome.ok else "refused"
        message = render("workshop/status.html.j2", kind=kind, text=outcome.message)
        if outcome.ok:
            gap = self.gap.value
            self.view.draw_actions()
            self.gap.value = gap
        self.message.value = message
        return outcome


class FacilitatorView:
    """Widgets of the facilitator page.

    Parameters
    ----------
    model : Facilitator
    on_back : callable, optional
    errors : ErrorPanel, optional

    Attributes
    ----------
    widget : ipywidgets.VBox
    editors : dict of str to AgreedEditor
        The agreed-answer editors on the page, per item id.
    files : ipywidgets.HTML
        Where export and report results are shown.
    """

    def __init__(
        self, model: Facilitator, on_back: Any = None, errors: ErrorPanel | None = None
    ) -> None:
        import ipywidgets as w

        self.model = model
        self.lang = model.lang
        self.errors = errors or ErrorPanel(self.lang)
        self._syncing = False
        #: Agreed answers chosen but not yet saved (resting, as on the questionnaire: arrow
        #: keys pass over options), per item id.
        self.waiting: dict[str, tuple[AgreedEditor, Any]] = {}
        self._timers: dict[str, Any] = {}
        self.editors: dict[str, AgreedEditor] = {}
        self.last_report: Any = None
        self.last_export: Any = None

        self.back = w.Button(
            description=self.t("workshop.back"), icon="arrow-left", layout=w.Layout(width="auto")
        )
        if on_back is not None:
            self.back.on_click(guarded(self.errors, "back")(lambda _b: on_back()))
        else:
            self.back.layout.display = "none"
        self.header = w.HTML()
        self.assessment = controls.field(
            "Dropdown", self.t("workshop.team.assessment"), options=[], value=None
        )
        self.refresh_button = controls.button(self.t("workshop.team.refresh"), "refresh")
        self.report_button = controls.button(self.t("workshop.team.report"), "file-text", True)
        self.export_button = controls.button(self.t("workshop.team.export"), "download")
        self.working = w.HTML()
        self.files = w.HTML()
        self.summary = w.HTML()
        self.disagreements = w.VBox()
        self.picker = controls.field(
            "Dropdown", self.t("workshop.team.pick"), options=[], value=None
        )
        self.picked = w.VBox()
        self.table = w.HTML()
        self.action_editor = ActionEditor(self)
        self.actions_table = w.HTML()

        self.assessment.observe(
            guarded(self.errors, "assessment")(self._on_assessment), names="value"
        )
        self.picker.observe(guarded(self.errors, "pick item")(self._on_pick), names="value")
        self.refresh_button.on_click(
            guarded(self.errors, "refresh")(lambda _b: (self.flush(), self.refresh()))
        )
        self.report_button.on_click(guarded(self.errors, "report")(self._on_report))
        self.export_button.on_click(guarded(self.errors, "export")(self._on_export))

        self.widget = w.VBox(
            [
                w.HBox([self.back]),
                self.header,
                self.errors.widget,
                w.HBox(
                    [self.assessment, self.refresh_button],
                    layout=w.Layout(flex_flow="row wrap", align_items="center"),
                ),
                w.HBox(
                    [self.report_button, self.export_button], layout=w.Layout(flex_flow="row wrap")
                ),
                self.working,
                self.files,
                self.summary,
                controls.heading(self.t("workshop.team.disagreements")),
                self.disagreements,
                controls.heading(self.t("workshop.team.other")),
                self.picker,
                self.picked,
                self.table,
                controls.heading(self.t("workshop.actions.heading")),
                self.action_editor.box,
                self.actions_table,
            ]
        )
        self.widget.add_class("gk-ws-facilitator")
        self.refresh()

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(key, self.lang, **values)

    # -- labels ------------------------------------------------------------------------
    def _answer_label(self, code: str | None) -> str:
        if code is None:
            return self.t("label.no_answer")
        scale = self.model.framework.scale(self.model.instrument or "")
        try:
            return scale.option(code).text("label", self.lang)
        except KeyError:
            return code

    def _assessment_label(self, service: str, instrument: str) -> str:
        inst = self.model.framework.instrument(instrument)
        title = inst.text("title", self.lang)
        if not service:
            return title
        return self.t("workshop.team.assessment_option", service=service, instrument=title)

    # -- drawing ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the store and redraw everything (other respondents may have answered)."""
        m = self.model
        self.header.value = render(
            "workshop/header.html.j2",
            title=self.t("workshop.team.title"),
            fields=[
                (self.t("report.meta.round"), m.round),
                (self.t("report.meta.agency"), f"{m.agency_name}（{m.agency_id}）"),
                # Only here (and in the server's console): respondents need not see the path.
                (self.t("workshop.store"), m.store.location),
            ],
        )
        choices = m.assessments()
        options = [(self._assessment_label(s, i), (s, i)) for s, i in choices]
        current = (m.service, m.instrument) if m.instrument is not None else None
        self._syncing = True
        try:
            self.assessment.options = options
            self.assessment.value = (
                current if current in choices else (choices[0] if choices else None)
            )
        finally:
            self._syncing = False
        if self.assessment.value is not None and self.assessment.value != current:
            m.select(*self.assessment.value)
        has = bool(choices)
        self.report_button.disabled = not has
        self.export_button.disabled = not has
        if not has:
            self.summary.value = render(
                "workshop/status.html.j2", kind="pending", text=self.t("workshop.team.empty")
            )
            self.disagreements.children = ()
            self.picker.options = []
            self.picked.children = ()
            self.table.value = ""
            self.actions_table.value = ""
            self.action_editor.box.layout.display = "none"
            return
        self.action_editor.box.layout.display = None
        self._draw()

    def _draw(self) -> None:
        m = self.model
        fw = m.framework
        items = m.items()
        respondents = m.respondents()
        self.items = items
        self._respondents = respondents
        self._n_disagree = int(items["disagreement"].sum())
        self._show_summary()
        self.editors = {}
        editors = [self._editor(row) for row in items[items["disagreement"]].itertuples()]
        if editors:
            self.disagreements.children = tuple(e.box for e in editors)
        else:
            import ipywidgets as w

            self.disagreements.children = (
                w.HTML(
                    value=render(
                        "workshop/status.html.j2",
                        kind="none",
                        text=self.t("workshop.team.no_disagreements")
                        if len(respondents) > 1
                        else self.t("disagree.single"),
                    )
                ),
            )
        others = items[~items["disagreement"]]
        self._syncing = True
        try:
            self.picker.options = [
                (f"{r.item_id} {fw.item(r.item_id).text('text', self.lang)[:60]}", r.item_id)
                for r in others.itertuples()
            ]
            self.picker.value = None
        finally:
            self._syncing = False
        self.picked.children = ()
        self.table.value = render(
            "workshop/team_table.html.j2",
            t=self.t,
            respondents=respondents,
            rows=[
                {
                    "item_id": r.item_id,
                    "text": fw.item(r.item_id).text("text", self.lang),
                    "disagreement": bool(r.disagreement),
                    "answers": [
                        self._answer_label(r.answers.get(p)) if p in r.answers else "—"
                        for p in respondents
                    ],
                    "agreed": self._answer_label(r.agreed) if isinstance(r.agreed, str) else "—",
                }
                for r in items.itertuples()
            ],
        )

        self.draw_actions()

    def draw_actions(self) -> None:
        """The agency's actions (overdue marked) and the gaps to add one to."""
        m = self.model
        fw = m.framework
        titles = {x.id: x.text("title", self.lang) for x in fw.measures}
        actions = m.actions()
        self.actions = actions
        self.actions_table.value = render(
            "workshop/actions_table.html.j2",
            caption=self.t("workshop.actions.table"),
            headers=[
                self.t("col.item"),
                self.t("workshop.actions.text"),
                self.t("workshop.actions.owner"),
                self.t("workshop.actions.due"),
                self.t("workshop.actions.status"),
                self.t("workshop.actions.measure"),
                self.t("workshop.actions.which"),
            ],
            overdue_label=self.t("action.overdue"),
            empty=self.t("workshop.actions.empty"),
            rows=[
                {
                    "item_id": a.item_id,
                    "text": a.text,
                    "owner": a.owner,
                    "due": a.due.isoformat(),
                    "status": a.status.label(self.lang),
                    "measure": f"{a.measure_id} {titles.get(a.measure_id, '')}".strip(),
                    "action_id": a.action_id,
                    "overdue": m.is_overdue(a),
                }
                for a in actions
            ],
        )
        self.action_editor.set_gaps(m.gaps(), actions)

    def _show_summary(self) -> None:
        """Respondents, disagreements and agreed answers (counted from what this page last
        read or saved, so a recorded agreed answer counts at once)."""
        respondents = self._respondents
        self.summary.value = render(
            "workshop/status.html.j2",
            kind="none",
            text=self.t(
                "workshop.team.summary",
                respondents=i18n.join_labels(list(respondents), self.lang),
                n=len(respondents),
                disagree=self._n_disagree,
                agreed=self.model.n_agreed(),
            ),
        )

    def _editor(self, row: Any) -> AgreedEditor:
        import ipywidgets as w

        m = self.model
        fw = m.framework
        item = fw.item(row.item_id)
        respondents = m.respondents()
        html = w.HTML(
            value=render(
                "workshop/team_item.html.j2",
                **controls.item_context(item, self.t, self.lang),
                principle=principle_label(fw, item.principle, self.lang),
                caption=self.t("workshop.team.answers_of", id=item.id),
                col_respondent=self.t("workshop.field.respondent"),
                col_answer=self.t("workshop.team.answer"),
                col_note=self.t("workshop.item.note"),
                answers=[
                    {
                        "respondent": p,
                        "answer": self._answer_label(row.answers.get(p))
                        if p in row.answers
                        else "—",
                        "note": row.notes.get(p, ""),
                    }
                    for p in respondents
                ],
            )
        )
        scale = fw.scale(m.instrument or "")
        answer = controls.answer_choice(
            [(o.text("label", self.lang), o.code) for o in scale.options],
            row.agreed,
            self.t("workshop.team.agreed_for", id=item.id),
        )
        note = controls.note_box(
            row.agreed_note,
            self.t("workshop.team.agreed_note"),
            self.t("workshop.team.agreed_note_placeholder"),
        )
        clear = w.Button(
            description=self.t("workshop.team.clear"),
            layout=w.Layout(width="auto"),
            disabled=row.agreed is None,
        )
        status = w.HTML(
            value=render(
                "workshop/status.html.j2",
                kind="saved" if row.agreed is not None else "none",
                text=self.t("workshop.team.agreed_saved")
                if row.agreed is not None
                else self.t("workshop.team.not_agreed"),
            )
        )
        editor = AgreedEditor(item.id, None, answer, note, clear, status)
        # Each control changes only its own field (another page may have changed the other).
        answer.observe(
            guarded(self.errors, f"agreed {item.id}")(
                lambda change, e=editor: self._on_agreed(e, code=change["new"])
            ),
            names="value",
        )
        note.observe(
            guarded(self.errors, f"agreed note {item.id}")(
                lambda change, e=editor: self._on_agreed(e, note=change["new"])
            ),
            names="value",
        )
        clear.on_click(
            guarded(self.errors, f"clear agreed {item.id}")(lambda _b, e=editor: self._on_clear(e))
        )
        editor.box = w.VBox([html, answer, note, w.HBox([clear]), status])
        editor.box.add_class("gk-ws-item")
        self.editors[item.id] = editor
        return editor

    # -- callbacks ----------------------------------------------------------------------
    def _on_assessment(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] is None:
            return
        self.flush()
        self.model.select(*change["new"])
        self._draw()

    def _on_pick(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] is None:
            return
        row = next(self.items[self.items["item_id"] == change["new"]].itertuples())
        self.picked.children = (self._editor(row).box,)

    def _on_agreed(self, editor: AgreedEditor, code: Any = KEEP, note: Any = KEEP) -> None:
        if self._syncing:
            return
        if code is None and note is KEEP:
            return  # the radio buttons were reset (not a choice)
        loop = running_loop()
        item_id = editor.item_id
        if code is not KEEP and loop is not None:
            # A choice rests SETTLE_S before it is saved (arrow keys pass over options).
            self.waiting[item_id] = (editor, code)
            editor.status.value = render(
                "workshop/status.html.j2", kind="none", text=self.t("workshop.saving")
            )
            self._cancel(item_id)
            self._timers[item_id] = loop.call_later(
                SETTLE_S, guarded(self.errors, f"agreed {item_id}")(self._save_waiting), item_id
            )
            return
        if item_id in self.waiting:  # the answer chosen just before comes first
            self._save_waiting(item_id)
        self._save(editor, code, note)

    def _cancel(self, item_id: str) -> None:
        timer = self._timers.pop(item_id, None)
        if timer is not None:
            timer.cancel()

    def _save_waiting(self, item_id: str) -> None:
        self._cancel(item_id)
        if item_id in self.waiting:
            self._save(*self.waiting.pop(item_id))

    def flush(self) -> None:
        """Save every resting agreed answer now."""
        for item_id in list(self.waiting):
            guarded(self.errors, f"agreed {item_id}")(self._save_waiting)(item_id)

    def _save(self, editor: AgreedEditor, code: Any = KEEP, note: Any = KEEP) -> None:
        self.errors.clear()
        try:
            outcome = self.model.set_agreed(editor.item_id, code, note)
        except Exception:
            editor.status.value = render(
                "workshop/status.html.j2", kind="failed", text=self.t("workshop.not_saved")
            )
            raise
        self._show(editor, outcome)

    def _on_clear(self, editor: AgreedEditor) -> None:
        self.waiting.pop(editor.item_id, None)  # a resting choice is what is being cleared
        self._cancel(editor.item_id)
        self.errors.clear()
        outcome = self.model.set_agreed(editor.item_id, None)
        if outcome.status != "conflict":
            self._syncing = True
            try:
                editor.answer.value = None
            finally:
                self._syncing = False
        self._show(editor, outcome)

    def _show(self, editor: AgreedEditor, outcome: Outcome) -> None:
        if outcome.status == "conflict":
            # Another page changed this item: redraw from the store, then say what was not saved.
            self._draw()
            shown = self.editors.get(editor.item_id)
            if shown is None:
                self.picker.value = editor.item_id
                shown = self.editors[editor.item_id]
            shown.status.value = render(
                "workshop/status.html.j2", kind="refused", text=outcome.message
            )
            return
        if outcome.status in ("saved", "unchanged"):
            agreed = outcome.saved.answer if outcome.saved is not None else None
            if outcome.merged and outcome.saved is not None:
                self._syncing = True
                try:
                    editor.answer.value = outcome.saved.answer
                    editor.note.value = outcome.saved.note
                finally:
                    self._syncing = False
            editor.clear.disabled = agreed is None
            text = self.t("workshop.team.agreed_saved")
            if agreed is None:
                had = outcome.saved is not None and outcome.saved.old_answer is not None
                text = (
                    self.t("workshop.team.cleared") if had else self.t("workshop.team.note_saved")
                )
            if outcome.message:
                text = (
                    f"{text}（{outcome.message}）"
                    if self.lang == "zh-TW"
                    else f"{text} ({outcome.message})"
                )
            editor.status.value = render("workshop/status.html.j2", kind="saved", text=text)
            self._show_summary()
        else:
            editor.status.value = render(
                "workshop/status.html.j2", kind=outcome.status, text=outcome.message
            )

    def _busy(self, text: str) -> None:
        self.working.value = (
            render("workshop/status.html.j2", kind="none", text=text) if text else ""
        )
        for button in (self.report_button, self.export_button, self.refresh_button):
            button.disabled = bool(text)

    def _link(self, path: Path) -> str | None:
        data = path.read_bytes()
        if len(data) > MAX_LINK_BYTES:
            return None
        mime = _MIME.get(path.suffix.lower(), "application/octet-stream")
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"

    def _file(self, label: str, path: Path, name: str | None = None) -> dict[str, Any]:
        return {
            "label": label,
            "path": str(path),
            "href": self._link(path),
            "name": name or path.name,
        }

    def _on_export(self, _button: Any = None) -> None:
        exported = self._working(self.t("workshop.team.exporting"), self.model.export)
        self.last_export = exported
        self.files.value = render(
            "workshop/files.html.j2",
            heading=self.t("workshop.team.exported", rows=exported.rows),
            download_label=self.t("workshop.team.download"),
            files=[
                self._file("CSV", exported.csv),
                self._file("Excel", exported.xlsx),
                *([self._file("ODF", exported.ods)] if exported.ods else []),
            ],
            **self._command(
                shell_command(["guidekit", "validate", str(exported.csv)]),
                self.t("workshop.team.check_with"),
                self._export_note(exported, self.t("workshop.team.export_note")),
            ),
        )

    def _working(self, message: str, work: Callable[[], Any]) -> Any:
        """Run ``work`` while the view says ``message`` (it may take seconds)."""
        self.errors.clear()
        self._busy(message)
        try:
            return work()
        finally:
            self._busy("")

    def _command(self, command: str | None, label: str, note: str) -> dict[str, Any]:
        """The "same as running" line, or a word on why there is none (a folder name a
        Windows shell would read; see :func:`~guidekit.widgets.model.shell_command`)."""
        if command is None:
            note += " " + self.t("workshop.team.no_command")
        return {"note": note, "command": command, "command_label": label}

    def _export_note(self, exported: Any, note: str) -> str:
        if exported.replaced:
            return note + " " + self.t("workshop.team.export_replaced", n=exported.replaced)
        return note

    def _on_report(self, _button: Any = None) -> None:
        reported = self._working(self.t("workshop.team.reporting"), self.model.report)
        self.last_report = reported
        files = []
        if reported.html is not None:
            files.append(self._file(self.t("workshop.team.report_file"), reported.html))
        files += [
            self._file("CSV", reported.answers.csv),
            self._file("Excel", reported.answers.xlsx),
        ]
        heading = (
            self.t("workshop.team.reported")
            if reported.ok
            else self.t("workshop.team.report_failed", error=reported.error or "")
        )
        self.files.value = render(
            "workshop/files.html.j2",
            heading=heading,
            download_label=self.t("workshop.team.download"),
            files=files,
            **self._command(
                reported.command,
                self.t("workshop.team.same_as"),
                self._export_note(reported.answers, self.t("workshop.team.report_note")),
            ),
        )
        if not reported.ok:
            self.errors.show(heading)

    # -- for tests -------------------------------------------------------------------------
    def agree(self, item_id: str, code: str | None, note: str | None = None) -> None:
        """Record an agreed answer as a facilitator would (note first, then the choice)."""
        editor = self.editors.get(item_id)
        if editor is None:
            self.picker.value = item_id
            editor = self.editors[item_id]
        if note is not None:
            editor.note.value = note
        editor.answer.value = code
