"""What a fillable form holds, independent of the file format: sheets of cells with
their role (protected text, editable answer, drop-down …).  Written to .ods by
:mod:`guidekit.forms.ods` and to .xlsx by :mod:`guidekit.forms.xlsx`; read back by
:mod:`guidekit.intake.forms` (whose layout constants both sides share).

Design: one sheet per respondent (README, "自評表").  Several people usually answer
for one agency, often each on their own computer: a sheet is what one person fills
in and can be copied, mailed and printed on A4 alone; columns per respondent would
make a row 4 × 3 cells wider for every person and impossible to print.  The team's
agreed answers (團隊共識) get a sheet of their own, named and protected.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

import pandas as pd
from openpyxl.utils.cell import get_column_letter as _letter

from guidekit import i18n
from guidekit.answers import ACTION_FIELDS, STATUS_LABELS, Action
from guidekit.answers.rules import AGREED_RESPONDENT
from guidekit.framework import Framework, ScaleOption
from guidekit.intake.actions import ACTIONS_SHEET
from guidekit.intake.forms import (
    FORM_COLUMNS,
    FORM_MARKER,
    HEADER_ROW,
    LAYOUT_VERSION,
    META_KEYS,
    META_SHEET,
    RESPONDENT_LABEL,
    SERVICE_LABEL,
    sheet_marker,
)

#: Columns of a form's actions sheet (a subset of the action table: the form gives the
#: round, agency, service and form) and their widths in characters.
ACTION_SHEET_COLUMNS = {
    "action_id": 14,
    "item_id": 11,
    "text": 40,
    "owner": 14,
    "due": 12,
    "status": 10,
    "completed": 12,
    "reason": 24,
    "measure_id": 10,
    "target": 10,
}
#: Blank rows for new actions below the listed ones.
ACTION_BLANK_ROWS = 30

#: Column widths in characters (the same order as FORM_COLUMNS).
WIDTHS = {
    "item_id": 11,
    "dimension": 12,
    "principle": 16,
    "major": 5,
    "text": 46,
    "help": 34,
    "answer": 12,
    "note": 30,
    "reason": 24,
    "check": 16,
}
#: Where the sheet marker goes: the column after the printed ones, row 1.
MARKER_COLUMN = len(FORM_COLUMNS) + 1


@dataclasses.dataclass
class FormCell:
    """One cell: its text and role.

    ``style``: ``title`` · ``label`` · ``value`` (protected pre-filled) · ``input``
    (editable) · ``header`` · ``heading`` (a principle's row) · ``text`` (protected,
    wrapped) · ``answer`` (editable, drop-down) · ``check`` (formula flagging 不適用
    without a reason) · ``marker`` · ``plain``.
    """

    text: str = ""
    style: str = "plain"
    #: For ``check`` cells: (answer cell, reason cell) as column letters.
    formula: tuple[str, str] | None = None


@dataclasses.dataclass
class FormSheet:
    name: str
    rows: list[list[FormCell]]
    #: True for respondent sheets (protection, validation, print setup, frozen header).
    respondent: bool = False
    hidden: bool = False
    #: Column widths in characters (default: the instructions sheet's two columns).
    widths: list[int] | None = None


@dataclasses.dataclass
class Form:
    """A whole form: its identity (``meta``), the drop-down choices and its sheets."""

    meta: dict[str, str]
    choices: list[str]
    na_label: str
    sheets: list[FormSheet]
    lang: str

    @property
    def check_text(self) -> str:
        return i18n.t("form.check.na_reason", self.lang)


def form_id(meta: dict[str, str]) -> str:
    """A stable id of the form (same agency, round, instrument, service and bank → same id)."""
    key = "\x1f".join(
        meta[k]
        for k in ("framework", "framework_version", "agency_id", "round", "instrument", "service")
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def build_form(
    fw: Framework,
    *,
    agency_id: str,
    agency_name: str,
    round: str,
    instrument: str,
    service: str = "",
    lang: str = "zh-TW",
    respondents: Sequence[str] = ("", "", ""),
    agreed: bool = True,
    prefill: pd.DataFrame | None = None,
    actions: Sequence[Action] = (),
) -> Form:
    """The form of one agency: instructions, one sheet per respondent (names given or
    blank), the team's agreed answers, and the hidden identity sheet.

    ``prefill``: canonical answer rows (any round) whose answers and notes are
    written into the sheets of their respondents (a sheet per respondent found;
    :data:`AGREED_RESPONDENT` rows into the agreed sheet).  A 不適用 answer's note
    goes into the reason cell, any other note into the evidence cell.

    ``actions``: improvement actions listed on the actions sheet (「改善行動」, after the
    agreed sheet) for the agency to update — last round's open actions
    (:func:`guidekit.answers.carried_forward`), each under its own ``action_id``; blank rows
    below take new actions.  Read back by :func:`guidekit.intake.read_actions`.
    """
    lang = i18n.normalise_lang(lang)
    zh = lang == "zh-TW"
    scale = fw.scale(instrument)
    inst = fw.instrument(instrument)
    meta = {
        "layout": LAYOUT_VERSION,
        "framework": fw.id,
        "framework_version": fw.version,
        "agency_id": agency_id,
        "agency_name": agency_name,
        "round": round,
        "instrument": instrument,
        "service": service,
        "lang": lang,
    }
    meta["form_id"] = form_id(meta)
    options = list(scale.options)
    choices = [o.label_zh if zh else o.label_en for o in options]
    na = next((o for o in options if o.na), None)
    na_label = (na.label_zh if zh else na.label_en) if na else ""

    by_respondent: dict[str, pd.DataFrame] = {}
    if prefill is not None and not prefill.empty:
        for name, rows in prefill.groupby("respondent", sort=False):
            by_respondent[str(name)] = rows.set_index("item_id")
    names = [n for n in by_respondent if n != AGREED_RESPONDENT] or list(respondents)
    sheets = [_instructions(fw, meta, inst, scale, lang)]
    for number, name in enumerate(names, start=1):
        title = name if name else i18n.t("form.sheet.respondent", lang, n=number)
        sheets.append(
            _respondent_sheet(
                fw,
                meta,
                lang,
                _sheet_name(title, sheets),
                name,
                False,
                by_respondent.get(name),
                choices,
            )
        )
    if agreed:
        sheets.append(
            _respondent_sheet(
                fw,
                meta,
                lang,
                _sheet_name(AGREED_RESPONDENT, sheets),
                AGREED_RESPONDENT,
                True,
                by_respondent.get(AGREED_RESPONDENT),
                choices,
            )
        )
    sheets.append(
        _actions_sheet(fw, lang, actions, _sheet_name(ACTIONS_SHEET if zh else "Actions", sheets))
    )
    meta_rows = [[FormCell(FORM_MARKER, "value")]]
    meta_rows += [[FormCell(k, "value"), FormCell(meta[k], "value")] for k in META_KEYS]
    sheets.append(FormSheet(META_SHEET, meta_rows, hidden=True))
    return Form(meta, choices, na_label, sheets, lang)


def _sheet_name(title: str, sheets: list[FormSheet]) -> str:
    """A sheet name both formats accept: at most 31 characters, none of []:*?/\\ and unique."""
    name = "".join("_" if ch in "[]:*?/\\'" else ch for ch in title).strip() or "R"
    name = name[:31]
    taken = {s.name.casefold() for s in sheets}
    base, n = name, 2
    while name.casefold() in taken:
        name = f"{base[:28]} ({n})"
        n += 1
    return name


def _instructions(fw: Framework, meta: dict[str, str], inst, scale, lang: str) -> FormSheet:
    t = i18n.t
    zh = lang == "zh-TW"
    title = f"{inst.annex} {inst.title_zh}" if zh else f"{inst.annex_en} {inst.title_en}"
    choices = (
        "、".join(o.label_zh for o in scale.options)
        if zh
        else ", ".join(o.label_en for o in scale.options)
    )
    lines = [
        [FormCell(title.strip(), "title")],
        [
            FormCell(t("form.meta.agency", lang), "label"),
            FormCell(
                f"{meta['agency_name']}（{meta['agency_id']}）"
                if zh
                else f"{meta['agency_name']} ({meta['agency_id']})",
                "value",
            ),
        ],
        [FormCell(t("form.meta.round", lang), "label"), FormCell(meta["round"], "value")],
        [
            FormCell(t("form.meta.version", lang), "label"),
            FormCell(f"{fw.meta.text('title', lang)} {fw.version}", "value"),
        ],
        [],
    ]
    for n in range(1, 10):
        text = t(f"form.howto.{n}", lang, choices=choices, na=scale_na(scale, lang))
        lines.append([FormCell(), FormCell(text, "text")])
    return FormSheet(t("form.sheet.instructions", lang), lines)


def scale_na(scale, lang: str) -> str:
    na = next((o for o in scale.options if o.na), None)
    if na is None:
        return ""
    return na.label_zh if lang == "zh-TW" else na.label_en


def _respondent_sheet(
    fw: Framework,
    meta: dict[str, str],
    lang: str,
    name: str,
    respondent: str,
    agreed: bool,
    prefill: pd.DataFrame | None,
    choices: list[str],
) -> FormSheet:
    zh = lang == "zh-TW"
    t = i18n.t
    inst = fw.instrument(meta["instrument"])
    scale = fw.scale(meta["instrument"])
    which = 0 if zh else 1
    letters = {k: _letter(i) for i, k in enumerate(FORM_COLUMNS, start=1)}
    title = t(
        "form.title",
        lang,
        annex=inst.annex if zh else inst.annex_en,
        instrument=inst.title_zh if zh else inst.title_en,
        agency=meta["agency_name"],
        agency_id=meta["agency_id"],
        round=meta["round"],
        version=meta["framework_version"],
    )
    row1 = [FormCell(title, "title")] + [FormCell() for _ in range(MARKER_COLUMN - 2)]
    row1.append(FormCell(sheet_marker(meta), "marker"))
    row2 = [
        FormCell(RESPONDENT_LABEL[which], "label"),
        FormCell(respondent, "value" if agreed else "input"),
    ]
    row2 += [
        FormCell(),
        FormCell(),
        FormCell(t("form.hint", lang, na=scale_na(scale, lang)), "label"),
    ]
    row3 = [FormCell(SERVICE_LABEL[which], "label"), FormCell(meta["service"], "input")]
    header = [FormCell(pair[which], "header") for pair in FORM_COLUMNS.values()]
    assert HEADER_ROW == 4
    rows = [row1, row2, row3, header]
    principle_seen = None
    for item in fw.items[meta["instrument"]]:
        principle = fw.principle(item.principle)
        dimension = fw.dimension(item.dimension)
        if principle.id != principle_seen:
            principle_seen = principle.id
            heading = f"{principle.number}. {principle.title_zh if zh else principle.title_en}"
            cells = [FormCell() for _ in FORM_COLUMNS]
            cells[list(FORM_COLUMNS).index("text")] = FormCell(heading, "heading")
            rows.append(cells)
        answer = note = reason = ""
        if prefill is not None and item.id in prefill.index:
            got = prefill.loc[item.id]
            if isinstance(got, pd.DataFrame):
                got = got.iloc[0]
            code = got["answer"]
            note_text = "" if pd.isna(got["note"]) else str(got["note"])
            if not pd.isna(code) and str(code):
                option = scale.match(str(code))
                if isinstance(option, ScaleOption):
                    answer = option.label_zh if zh else option.label_en
                    if option.na:
                        reason, note_text = note_text, ""
                else:
                    answer = str(code)
            note = note_text
        cells = {
            "item_id": FormCell(item.id, "text"),
            "dimension": FormCell(dimension.title_zh if zh else dimension.title_en, "text"),
            "principle": FormCell(
                f"{principle.number}. {principle.title_zh if zh else principle.title_en}", "text"
            ),
            "major": FormCell("★" if item.major else "", "text"),
            "text": FormCell(item.text_zh if zh else item.text_en, "text"),
            "help": FormCell(item.help_zh if zh else item.help_en, "text"),
            "answer": FormCell(answer, "answer"),
            "note": FormCell(note, "input"),
            "reason": FormCell(reason, "input"),
            "check": FormCell(
                t("form.check.na_reason", lang)
                if answer and answer == scale_na(scale, lang) and not reason.strip()
                else "",
                "check",
                (letters["answer"], letters["reason"]),
            ),
        }
        rows.append([cells[k] for k in FORM_COLUMNS])
    return FormSheet(name, rows, respondent=True)


def _actions_sheet(fw: Framework, lang: str, actions: Sequence[Action], name: str) -> FormSheet:
    """The actions sheet: row 1 the header (either language's, each an alias of its column),
    then one row per listed action (its id protected, the rest editable), then blank rows."""
    zh = lang == "zh-TW"
    fields = {f.name: f for f in ACTION_FIELDS}
    rows = [
        [FormCell(fields[k].zh if zh else fields[k].en, "header") for k in ACTION_SHEET_COLUMNS]
    ]
    for action in actions:
        values = action.row()
        values["status"] = STATUS_LABELS[action.status][0 if zh else 1]
        if action.target:
            option = fw.scale(action.instrument).option_for(action.target)
            if option is not None:
                values["target"] = option.label_zh if zh else option.label_en
        rows.append(
            [
                FormCell(values[k], "value" if k in ("action_id", "item_id") else "input")
                for k in ACTION_SHEET_COLUMNS
            ]
        )
    for _ in range(ACTION_BLANK_ROWS):
        rows.append(
            [FormCell("", "value" if k == "action_id" else "input") for k in ACTION_SHEET_COLUMNS]
        )
    return FormSheet(name, rows, widths=list(ACTION_SHEET_COLUMNS.values()))
