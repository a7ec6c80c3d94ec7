"""Filling guidekit forms the way an agency does, in both formats, without an office suite:
openpyxl for .xlsx, odfpy for .ods (cells found by the header labels, never by position)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import openpyxl
from odf.opendocument import load
from odf.table import Table, TableCell, TableRow
from odf.text import P

from guidekit.intake.forms import FORM_COLUMNS, RESPONDENT_LABEL

#: item id -> (answer as typed, evidence, reason)
Fill = Mapping[str, tuple[str, str, str]]


def _col(headers: list[str], key: str) -> int:
    labels = FORM_COLUMNS[key]
    return next(i for i, h in enumerate(headers) if h in labels)


# -- xlsx ----------------------------------------------------------------------------------


def fill_xlsx(path: Path, sheets: Mapping[str, tuple[str | None, Fill]], out: Path | None = None):
    """``sheets``: sheet name -> (respondent name or None to leave it, answers)."""
    wb = openpyxl.load_workbook(path)
    for name, (respondent, answers) in sheets.items():
        ws = wb[name]
        header_row = next(
            r for r in range(1, 12) if any(c.value in FORM_COLUMNS["item_id"] for c in ws[r])
        )
        headers = [c.value or "" for c in ws[header_row]]
        item, ans, note, reason = (
            _col(headers, k) + 1 for k in ("item_id", "answer", "note", "reason")
        )
        if respondent is not None:
            for r in range(1, header_row):
                for c in ws[r]:
                    if c.value in RESPONDENT_LABEL:
                        ws.cell(row=r, column=c.column + 1, value=respondent)
        for r in range(header_row + 1, ws.max_row + 1):
            got = ws.cell(row=r, column=item).value
            if got in answers:
                a, n, why = answers[got]
                for column, value in ((ans, a), (note, n), (reason, why)):
                    cell = ws.cell(row=r, column=column, value=value or None)
                    cell.data_type = "s"  # typed into a text cell: "=…" stays text
    wb.save(out or path)


def xlsx_meta(path: Path, key: str, value: str) -> None:
    """Change one key of the hidden metadata sheet (as someone unhiding it would)."""
    wb = openpyxl.load_workbook(path)
    ws = wb["guidekit-form"]
    for row in ws.iter_rows():
        if row[0].value == key:
            row[1].value = value
    wb.save(path)


# -- ods -----------------------------------------------------------------------------------


def _text(cell) -> str:
    return "\n".join(str(p) for p in cell.getElementsByType(P))


def _set(cell, text: str) -> None:
    for p in list(cell.getElementsByType(P)):
        cell.removeChild(p)
    for attr in ("valuetype", "value"):
        try:
            cell.removeAttribute(attr)
        except (KeyError, ValueError):
            pass
    if text:
        cell.setAttribute("valuetype", "string")
        cell.addElement(P(text=text))


def ods_tables(doc) -> dict[str, Table]:
    return {t.getAttribute("name"): t for t in doc.spreadsheet.getElementsByType(Table)}


def fill_ods(path: Path, sheets: Mapping[str, tuple[str | None, Fill]], out: Path | None = None):
    doc = load(str(path))
    tables = ods_tables(doc)
    for name, (respondent, answers) in sheets.items():
        rows = tables[name].getElementsByType(TableRow)
        header_at = next(
            i
            for i, row in enumerate(rows)
            if any(_text(c) in FORM_COLUMNS["item_id"] for c in row.getElementsByType(TableCell))
        )
        headers = [_text(c) for c in rows[header_at].getElementsByType(TableCell)]
        item, ans, note, reason = (
            _col(headers, k) for k in ("item_id", "answer", "note", "reason")
        )
        if respondent is not None:
            for row in rows[:header_at]:
                cells = row.getElementsByType(TableCell)
                for i, c in enumerate(cells):
                    if _text(c) in RESPONDENT_LABEL:
                        _set(cells[i + 1], respondent)
        for row in rows[header_at + 1 :]:
            cells = row.getElementsByType(TableCell)
            if len(cells) > item and _text(cells[item]) in answers:
                a, n, why = answers[_text(cells[item])]
                _set(cells[ans], a)
                _set(cells[note], n)
                _set(cells[reason], why)
    doc.save(str(out or path))


def ods_hand_edits(path: Path, sheet: str, new_name: str) -> None:
    """What people do to a sheet: rename it, put a column in front, reverse the item rows
    (a sort) and insert blank rows among them."""
    doc = load(str(path))
    table = ods_tables(doc)[sheet]
    table.setAttribute("name", new_name)
    rows = table.getElementsByType(TableRow)
    for row in rows:
        cells = row.getElementsByType(TableCell)
        extra = TableCell(valuetype="string")
        extra.addElement(P(text="內部備註" if row is rows[3] else ""))
        row.insertBefore(extra, cells[0])
    body = rows[4:]
    parent = body[0].parentNode
    # reorder the children directly (odfpy's removeChild trips over its own caches)
    kept = [child for child in parent.childNodes if not any(child is row for row in body)]
    for n, row in enumerate(reversed(body)):
        kept.append(row)
        if n % 10 == 3:
            blank = TableRow()
            blank.addElement(TableCell())
            blank.parentNode = parent
            kept.append(blank)
    parent.childNodes[:] = kept
    doc.save(str(path))


def xlsx_hand_edits(path: Path, sheet: str, new_name: str) -> None:
    """As :func:`ods_hand_edits`, in an .xlsx: rename, a column in front, rows reversed
    with blank rows among them."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    ws.title = new_name
    ws.insert_cols(1)
    ws.cell(row=4, column=1, value="內部備註")
    last = ws.max_row
    body = [[(c.value, c.data_type) for c in ws[r]] for r in range(5, last + 1)]
    for r in range(5, last + 1):
        for c in ws[r]:
            c.value = None
    r = 5
    for n, values in enumerate(reversed(body)):
        for c, (value, kind) in enumerate(values, start=1):
            ws.cell(row=r, column=c, value=value).data_type = kind
        r += 2 if n % 10 == 3 else 1
    wb.save(path)
