"""Reading guidekit's fillable self-assessment forms (自評表) back: the layout both sides share.

A form is a workbook (.ods or .xlsx) written by :mod:`guidekit.forms` for one agency,
round and instrument.  It is recognised by its hidden sheet :data:`META_SHEET`
(row 1 :data:`FORM_MARKER`, then key/value rows :data:`META_KEYS`) and each
respondent sheet by a marker cell (:data:`SHEET_MARKER` followed by JSON naming the
form) above its header row.  One sheet per respondent: the name goes in the cell
right of the 「填答者」 label; the team's agreed answers (團隊共識) have a sheet of their
own.

Reading does not trust positions more than a person editing the file would break:
the header row is found by its labels (either language), columns by their
headers (a column added, moved or a sheet renamed changes nothing), answer rows
by their item id (rows re-sorted, blank or heading rows anywhere).  Each
respondent sheet becomes a :class:`~guidekit.intake.tabular.Table` in the
canonical long layout, validated by the same reader as every answer file
(:mod:`guidekit.intake.responses`): the same answer tidy-ups
(:meth:`guidekit.framework.Scale.tidying`), the same 不適用-needs-a-reason rule,
every problem named with its sheet.

A form for another framework, question-bank version, layout, or (when the
caller says what it expects) round, agency or instrument is refused with a
message saying which.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

from guidekit import i18n
from guidekit.answers.columns import COLUMNS, ZH_HEADERS, header_key
from guidekit.answers.rules import AGREED_RESPONDENT
from guidekit.framework import Framework, ScaleOption
from guidekit.intake.tabular import Cell, Table, read_sheets, sheet_names, sniff
from guidekit.problems import Problem, Severity
from guidekit.text import clean

#: Name of the hidden sheet holding the form's identity (and row 1, column A of it).
META_SHEET = "guidekit-form"
FORM_MARKER = "guidekit-form"
#: Text a respondent sheet's marker cell starts with (JSON follows).
SHEET_MARKER = "guidekit-form:"
#: Layout versions this reader understands (the writer writes the last).
LAYOUT_VERSIONS = ("1",)
LAYOUT_VERSION = LAYOUT_VERSIONS[-1]

#: Keys of the metadata sheet, in order.
META_KEYS = (
    "layout",
    "form_id",
    "framework",
    "framework_version",
    "agency_id",
    "agency_name",
    "round",
    "instrument",
    "service",
    "lang",
)
#: Keys a respondent sheet's marker repeats (a sheet copied from another form is caught).
SHEET_KEYS = ("agency_id", "round", "instrument", "framework_version", "form_id")

#: Columns of a respondent sheet, in the order written: key -> (zh-TW, English) header.
FORM_COLUMNS: dict[str, tuple[str, str]] = {
    "item_id": ("題號", "Item ID"),
    "dimension": ("構面", "Dimension"),
    "principle": ("原則", "Principle"),
    "major": ("大項", "Major"),
    "text": ("檢核項目", "Check item"),
    "help": ("填答提示", "Help"),
    "answer": ("答案", "Answer"),
    "note": ("佐證說明", "Evidence / note"),
    "reason": ("不適用理由", "Reason if not applicable"),
    "check": ("檢查", "Check"),
}
#: Labels of the editable cells above the header (the value is the next cell to the right).
RESPONDENT_LABEL = ("填答者（姓名或代號）", "Respondent (name or pseudonym)")
SERVICE_LABEL = ("服務／計畫名稱", "Service / plan name")
#: Row of the header in the layout written (the reader looks for it anyway).
HEADER_ROW = 4
#: How far down the reader looks for the header row.
_HEADER_SEARCH = 20

_COLUMN_KEYS = {header_key(t): key for key, pair in FORM_COLUMNS.items() for t in pair}
_RESPONDENT_KEYS = {header_key(t) for t in RESPONDENT_LABEL}
_SERVICE_KEYS = {header_key(t) for t in SERVICE_LABEL}


def sheet_marker(meta: Mapping[str, str]) -> str:
    """The marker cell text of a respondent sheet of the form described by ``meta``."""
    return SHEET_MARKER + json.dumps(
        {k: meta[k] for k in SHEET_KEYS}, ensure_ascii=False, separators=(",", ":")
    )


def is_form(path: str | Path) -> bool:
    """True when ``path`` is a workbook holding a guidekit form's metadata sheet."""
    try:
        if sniff(path) not in {"xlsx", "ods"}:
            return False
        return META_SHEET in sheet_names(path)
    except Exception:  # unreadable: the ordinary reader says why
        return False


@dataclasses.dataclass
class FormRead:
    """What :func:`read_form` found in one form.

    Attributes
    ----------
    meta : dict
        The form's identity (:data:`META_KEYS`), as written in its metadata sheet.
    tables : list of Table
        One canonical long table per respondent sheet that holds answers
        (columns: round, agency_id, agency_name, service, instrument, respondent,
        item_id, answer, note, framework_version; rows keep their sheet row number).
    problems : list of Problem
        Problems of the form as a whole and of its sheets (each naming its sheet).
    refused : bool
        True when the form cannot be read at all (another bank version, agency …).
    """

    meta: dict[str, str]
    tables: list[Table]
    problems: list[Problem]
    refused: bool = False


def _mismatch(file: str, sheet: str | None, key: str, found: str, wanted: str) -> Problem:
    zh, en = i18n.pair(f"form.field.{key}")
    return Problem(
        file,
        None,
        None,
        found,
        "form-other",
        {"what_zh": zh, "what_en": en, "found": found, "wanted": wanted},
        sheet=sheet,
    )


def read_form(
    path: str | Path, fw: Framework, expect: Mapping[str, str | None] | None = None
) -> FormRead:
    """Read a guidekit form into canonical long tables, one per respondent sheet.

    Parameters
    ----------
    path : path
        A workbook :func:`is_form` accepts.
    fw : Framework
        The question bank the answers are read against: the form's framework id and
        version must be this one's (a form made for another version is refused: its
        items may differ).
    expect : mapping, optional
        ``round`` / ``agency_id`` / ``instrument`` the caller expects (e.g.
        ``guidekit intake --round 2026``); a form for another is refused.

    Returns
    -------
    FormRead
        Never raises for bad content: every problem is in ``problems``.
    """
    file = str(path)
    problems: list[Problem] = []
    sheets = read_sheets(path)
    meta_table = next((t for t, _ in sheets if t.sheet == META_SHEET), None)
    meta = _read_meta(meta_table) if meta_table is not None else {}
    missing = [k for k in META_KEYS if k not in meta]
    if meta.get("_marker") != FORM_MARKER or missing:
        problems.append(
            Problem(
                file,
                None,
                None,
                ", ".join(missing) or None,
                "form-meta",
                {"sheet": META_SHEET, "missing": ", ".join(missing) or FORM_MARKER},
                sheet=META_SHEET,
            )
        )
        return FormRead(meta, [], problems, refused=True)
    meta.pop("_marker", None)
    if meta["layout"] not in LAYOUT_VERSIONS:
        problems.append(_mismatch(file, META_SHEET, "layout", meta["layout"], LAYOUT_VERSION))
    if meta["framework"] != fw.id:
        problems.append(_mismatch(file, None, "framework", meta["framework"], fw.id))
    elif meta["framework_version"] != fw.version:
        problems.append(
            _mismatch(file, None, "framework_version", meta["framework_version"], fw.version)
        )
    if not fw.has_instrument(meta["instrument"]):
        problems.append(
            _mismatch(
                file,
                None,
                "instrument",
                meta["instrument"],
                ", ".join(i.id for i in fw.instruments),
            )
        )
    for key, wanted in (expect or {}).items():
        if wanted is not None and meta.get(key) != wanted:
            problems.append(_mismatch(file, None, key, meta.get(key, ""), wanted))
    if problems:
        return FormRead(meta, [], problems, refused=True)

    tables: list[Table] = []
    named: dict[str, str] = {}
    for table, _visible in sheets:
        if table.sheet == META_SHEET:
            continue
        sheet_problems: list[Problem] = []
        out = _read_sheet(table, meta, fw, sheet_problems)
        problems += [dataclasses.replace(p, sheet=table.sheet) for p in sheet_problems]
        if out is None:
            continue
        respondent = out.rows[0][1][5].text if out.rows else ""
        key = clean(respondent)
        if key and key in named:
            problems.append(
                Problem(
                    file,
                    None,
                    None,
                    respondent,
                    "form-respondent-twice",
                    {"first": named[key], "sheet": table.sheet},
                    sheet=table.sheet,
                )
            )
            continue
        named[key] = str(table.sheet)
        tables.append(out)
    refused = any(p.is_error and p.code.startswith("form-") for p in problems)
    return FormRead(meta, tables, problems, refused)


def read_form_meta(path: str | Path) -> dict[str, str]:
    """The identity of a form (:data:`META_KEYS` as written in its metadata sheet);
    ``{}`` when the file has no metadata sheet."""
    table = next((t for t, _ in read_sheets(path) if t.sheet == META_SHEET), None)
    if table is None:
        return {}
    meta = _read_meta(table)
    meta.pop("_marker", None)
    return meta


def _read_meta(table: Table) -> dict[str, str]:
    """The metadata sheet as a dict (row 1: the marker; then key / value rows)."""
    meta: dict[str, str] = {}
    if table.header:
        meta["_marker"] = clean(table.header[0])
    for _, cells in table.rows:
        if len(cells) >= 1 and clean(cells[0].text) in META_KEYS:
            meta[clean(cells[0].text)] = clean(cells[1].text) if len(cells) > 1 else ""
    return meta


def _all_rows(table: Table) -> list[tuple[int, list[Cell]]]:
    """Row 1 (the Table's header) and the other rows, as (row number, cells)."""
    first = [(1, [Cell(t) for t in table.header])] if table.header else []
    return first + table.rows


def _label_value(cells: list[Cell], keys: set[str]) -> str | None:
    """The first non-blank cell right of a cell whose text is one of ``keys``, or ``""``."""
    for index, cell in enumerate(cells):
        if header_key(clean(cell.text)) in keys:
            for right in cells[index + 1 : index + 4]:
                if right.text.strip():
                    return right.text
            return ""
    return None


def _read_sheet(
    table: Table, meta: dict[str, str], fw: Framework, problems: list[Problem]
) -> Table | None:
    """One respondent sheet as a canonical long Table, or None (not a respondent sheet,
    an unused spare sheet, or refused: then ``problems`` says why)."""
    file = table.file
    problems += table.problems
    rows = _all_rows(table)
    header_at: int | None = None
    columns: dict[str, int] = {}
    marker: str | None = None
    respondent: str | None = None
    service: str | None = None
    for position, (number, cells) in enumerate(rows[:_HEADER_SEARCH]):
        for cell in cells:
            if cell.text.startswith(SHEET_MARKER):
                marker = cell.text
        found = {_COLUMN_KEYS.get(header_key(clean(c.text))): i for i, c in enumerate(cells)}
        if "item_id" in found and "answer" in found:
            header_at = position
            columns = {k: i for k, i in found.items() if k is not None}
            extra = [
                c.text
                for c in cells
                if c.text.strip() and header_key(clean(c.text)) not in _COLUMN_KEYS
            ]
            if extra:
                problems.append(
                    Problem(
                        file,
                        number,
                        None,
                        "、".join(extra),
                        "form-extra-columns",
                        {"columns": "、".join(extra), "columns_en": ", ".join(extra)},
                        Severity.WARNING,
                    )
                )
            break
        value = _label_value(cells, _RESPONDENT_KEYS)
        if value is not None and respondent is None:
            respondent = value
            name_row = number
        value = _label_value(cells, _SERVICE_KEYS)
        if value is not None and service is None:
            service = value
    if marker is None:
        if header_at is not None:  # a sheet that looks like a form sheet but lost its marker
            problems.append(Problem(file, None, None, None, "form-sheet-marker", {}))
        return None  # the instructions sheet, or a sheet the agency added
    try:
        identity = json.loads(marker[len(SHEET_MARKER) :])
    except ValueError:
        identity = {}
    for key in SHEET_KEYS:
        if str(identity.get(key, "")) != meta[key]:
            problems.append(_mismatch(file, None, key, str(identity.get(key, "")), meta[key]))
            return None
    if header_at is None:
        problems.append(
            Problem.about_file(
                file,
                "form-no-header",
                {
                    "item_zh": FORM_COLUMNS["item_id"][0],
                    "item_en": FORM_COLUMNS["item_id"][1],
                    "answer_zh": FORM_COLUMNS["answer"][0],
                    "answer_en": FORM_COLUMNS["answer"][1],
                },
            )
        )
        return None

    def text(cells: list[Cell], key: str) -> Cell:
        index = columns.get(key)
        return cells[index] if index is not None and index < len(cells) else Cell("")

    scale = fw.scale(meta["instrument"])
    body = []
    seen_items: set[str] = set()
    for number, cells in rows[header_at + 1 :]:
        item, answer = text(cells, "item_id"), text(cells, "answer")
        evidence, reason = text(cells, "note"), text(cells, "reason")
        if not any(c.text.strip() or c.converted_from for c in (answer, evidence, reason)):
            if item.text.strip():
                seen_items.add(clean(item.text).upper())
            continue  # unanswered, a heading or a blank row
        seen_items.add(clean(item.text).upper())
        matched = scale.match(answer.text) if clean(answer.text) else None
        is_na = isinstance(matched, ScaleOption) and matched.na
        note = _note(evidence.text, reason.text, is_na)
        note_from = (
            "formula" if "formula" in (evidence.converted_from, reason.converted_from) else None
        )
        if reason.text.strip() and not is_na:
            problems.append(
                Problem(
                    file,
                    number,
                    FORM_COLUMNS["reason"][0 if meta["lang"] != "en" else 1],
                    reason.text,
                    "form-reason-not-na",
                    {},
                    Severity.WARNING,
                )
            )
        body.append((number, item, answer, Cell(note, note_from)))
    if not body:
        if respondent and clean(respondent) and respondent != AGREED_RESPONDENT:
            problems.append(
                Problem(
                    file,
                    name_row,
                    None,
                    respondent,
                    "form-sheet-empty",
                    {"name": clean(respondent)},
                    Severity.WARNING,
                )
            )
        return None  # a spare sheet nobody used
    if respondent is None or not clean(respondent):
        problems.append(
            Problem(
                file,
                None if respondent is None else name_row,
                RESPONDENT_LABEL[0 if meta["lang"] != "en" else 1],
                "",
                "form-no-respondent",
                {"n": len(body)},
            )
        )
        return None
    known = {i.id.upper() for i in fw.items[meta["instrument"]]}
    lost = sorted(known - seen_items)
    if lost:
        problems.append(
            Problem.about_file(
                file,
                "form-items-missing",
                {"n": len(lost), "items": ", ".join(lost[:10]) + ("…" if len(lost) > 10 else "")},
                Severity.WARNING,
            )
        )
    en = meta["lang"] == "en"
    header = list(_CANONICAL_EN if en else _CANONICAL_ZH)
    fixed = {
        "round": meta["round"],
        "agency_id": meta["agency_id"],
        "agency_name": meta["agency_name"],
        "service": clean(service) if service else meta["service"],
        "instrument": meta["instrument"],
        "respondent": respondent,
        "framework_version": meta["framework_version"],
    }
    out_rows = []
    for number, item, answer, note in body:
        values = {**{k: Cell(v) for k, v in fixed.items()}, "item_id": item}
        values.update(answer=answer, note=note)
        out_rows.append((number, [values[c] for c in _CANONICAL]))
    return Table(file, table.encoding, header, out_rows, [], table.sheet)


def _note(evidence: str, reason: str, is_na: bool) -> str:
    """The canonical note of a form row: the 不適用 reason first when the answer is 不適用
    (so the reason is what the rule reads), the evidence otherwise; both kept when both
    are written (nothing is dropped), one per line."""
    parts = [reason, evidence] if is_na else [evidence, reason]
    return "\n".join(p for p in parts if p.strip())


#: The canonical columns a form sheet becomes (the order of the Table's cells).
_CANONICAL = (*COLUMNS[:9], "framework_version")
#: Their headers as messages show them (the form's own word for the note: 佐證說明).
_CANONICAL_ZH = tuple({**ZH_HEADERS, "note": "佐證說明"}[c] for c in _CANONICAL)
_CANONICAL_EN = _CANONICAL
