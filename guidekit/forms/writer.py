"""Writing a :class:`~guidekit.forms.model.Form` as an OpenDocument spreadsheet (odfpy)
or an Excel workbook (openpyxl).

Both files hold the same thing: protected sheets whose answer, evidence and reason
cells (and the respondent's name) stay editable; a drop-down list (data validation,
"stop" on other values) on every answer cell; a "check" formula flagging 不適用
without a reason; wrapped text, readable column widths, a frozen header, an A4
landscape print area one page wide with the header row repeated; and the hidden
identity sheet :data:`guidekit.intake.forms.META_SHEET`.  Sheets are protected
without a password (a protection against slips, not a lock).
"""

from __future__ import annotations

import io

from openpyxl.utils.cell import get_column_letter as _letter

from guidekit.files import xlsx_text
from guidekit.forms.model import MARKER_COLUMN, WIDTHS, Form, FormSheet
from guidekit.intake.forms import FORM_COLUMNS, HEADER_ROW

FORMATS = ("ods", "xlsx")


def form_bytes(form: Form, fmt: str) -> bytes:
    """The file's bytes in ``fmt`` (``"ods"`` or ``"xlsx"``).

    Raises
    ------
    ValueError
        For another format.
    """
    if fmt == "ods":
        return _ods(form)
    if fmt == "xlsx":
        return _xlsx(form)
    raise ValueError(f"unknown form format {fmt!r}: use one of {', '.join(FORMATS)}")


def _check_formula(form: Form, row: int, answer: str, reason: str, sep: str) -> str:
    na = form.na_label.replace('"', '""')
    text = form.check_text.replace('"', '""')
    a, r = (
        (f"[.{answer}{row}]", f"[.{reason}{row}]")
        if sep == ";"
        else (
            f"{answer}{row}",
            f"{reason}{row}",
        )
    )
    return f'IF(AND(TRIM({a})="{na}"{sep}{r}=""){sep}"{text}"{sep}"")'


# -- OpenDocument -------------------------------------------------------------------------


def _ods(form: Form) -> bytes:
    from odf.config import (
        ConfigItem,
        ConfigItemMapEntry,
        ConfigItemMapIndexed,
        ConfigItemMapNamed,
        ConfigItemSet,
    )
    from odf.namespaces import LOEXTNS
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import (
        MasterPage,
        PageLayout,
        PageLayoutProperties,
        ParagraphProperties,
        Style,
        TableCellProperties,
        TableColumnProperties,
        TableProperties,
        TextProperties,
    )
    from odf.table import (
        ContentValidation,
        ContentValidations,
        ErrorMessage,
        HelpMessage,
        Table,
        TableCell,
        TableColumn,
        TableHeaderRows,
        TableRow,
    )
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    layout = PageLayout(name="pmA4")
    props = PageLayoutProperties(
        pagewidth="29.7cm",
        pageheight="21cm",
        printorientation="landscape",
        margintop="1cm",
        marginbottom="1cm",
        marginleft="1cm",
        marginright="1cm",
    )
    props.setAttrNS(LOEXTNS, "scale-to-X", "1")
    props.setAttrNS(LOEXTNS, "scale-to-Y", "0")
    layout.addElement(props)
    doc.automaticstyles.addElement(layout)
    master = MasterPage(name="A4", pagelayoutname=layout)
    doc.masterstyles.addElement(master)

    def cell_style(
        name: str, *, protect: bool, bold=False, fill=None, wrap=True, size=None, colour=None
    ) -> Style:
        style = Style(name=name, family="table-cell")
        cp = {"cellprotect": "protected" if protect else "none", "verticalalign": "top"}
        if wrap:
            cp["wrapoption"] = "wrap"
        if fill:
            cp["backgroundcolor"] = fill
        cp["border"] = "0.5pt solid #999999"
        style.addElement(TableCellProperties(**cp))
        tp = {}
        if bold:
            tp["fontweight"] = "bold"
        if size:
            tp["fontsize"] = size
        if colour:
            tp["color"] = colour
        if tp:
            style.addElement(TextProperties(**tp))
        style.addElement(ParagraphProperties())
        doc.automaticstyles.addElement(style)
        return style

    styles = {
        "title": cell_style("ceTitle", protect=True, bold=True, wrap=False, size="13pt"),
        "label": cell_style("ceLabel", protect=True, bold=True, wrap=False),
        "value": cell_style("ceValue", protect=True, fill="#eeeeee", wrap=False),
        "input": cell_style("ceInput", protect=False, fill="#fff8dc"),
        "answer": cell_style("ceAnswer", protect=False, fill="#fff8dc", bold=True),
        "header": cell_style("ceHeader", protect=True, bold=True, fill="#d9e2f3"),
        "heading": cell_style("ceHeading", protect=True, bold=True, fill="#e2efda", wrap=False),
        "text": cell_style("ceText", protect=True, fill="#f2f2f2"),
        "check": cell_style("ceCheck", protect=True, colour="#c00000", bold=True),
        "marker": cell_style("ceMarker", protect=True, wrap=False, size="6pt", colour="#bbbbbb"),
        "plain": cell_style("cePlain", protect=True, wrap=False),
    }
    shown = Style(name="taShown", family="table", masterpagename=master)
    shown.addElement(TableProperties(display="true"))
    hidden = Style(name="taHidden", family="table", masterpagename=master)
    hidden.addElement(TableProperties(display="false"))
    doc.automaticstyles.addElement(shown)
    doc.automaticstyles.addElement(hidden)
    column_styles = {}
    for key, width in {**WIDTHS, "_marker": 4, "_wide": 60}.items():
        style = Style(name=f"co_{key}", family="table-column")
        style.addElement(TableColumnProperties(columnwidth=f"{width * 0.21 + 0.2:.2f}cm"))
        doc.automaticstyles.addElement(style)
        column_styles[key] = style

    validations = ContentValidations()
    listed = ";".join('"' + c.replace('"', '""') + '"' for c in form.choices)
    tables = []
    for sheet in form.sheets:
        table = Table(name=sheet.name, stylename=hidden if sheet.hidden else shown)
        if sheet.respondent:
            table.setAttribute("protected", "true")
            last = len(sheet.rows)
            end = _letter(len(FORM_COLUMNS))
            table.setAttribute("printranges", f"${_q(sheet.name)}.$A$1:.${end}${last}")
            name = f"val{len(tables)}"
            validation = ContentValidation(
                name=name,
                condition=f"of:cell-content-is-in-list({listed})",
                allowemptycell="true",
                displaylist="unsorted",
                basecelladdress=f"{_q(sheet.name)}.A1",
            )
            help_msg = HelpMessage(display="false")
            validation.addElement(help_msg)
            error = ErrorMessage(display="true", messagetype="stop")
            error.addElement(P(text=" / ".join(form.choices)))
            validation.addElement(error)
            validations.addElement(validation)
            for key in FORM_COLUMNS:
                table.addElement(TableColumn(stylename=column_styles[key]))
            table.addElement(TableColumn(stylename=column_styles["_marker"]))
        elif sheet.hidden:
            table.setAttribute("protected", "true")
            table.addElement(TableColumn(stylename=column_styles["principle"]))
            table.addElement(TableColumn(stylename=column_styles["_wide"]))
        elif sheet.widths:
            table.setAttribute("protected", "true")
            for width in sheet.widths:
                key = f"_w{width}"
                if key not in column_styles:
                    style = Style(name=f"co{key}", family="table-column")
                    style.addElement(
                        TableColumnProperties(columnwidth=f"{width * 0.21 + 0.2:.2f}cm")
                    )
                    doc.automaticstyles.addElement(style)
                    column_styles[key] = style
                table.addElement(TableColumn(stylename=column_styles[key]))
        else:
            table.setAttribute("protected", "true")
            table.addElement(TableColumn(stylename=column_styles["principle"]))
            table.addElement(TableColumn(stylename=column_styles["_wide"]))
        for number, cells in enumerate(sheet.rows, start=1):
            row = TableRow()
            for fc in cells:
                attrs = {"stylename": styles[fc.style]}
                if fc.style == "answer" and sheet.respondent:
                    attrs["contentvalidationname"] = name
                if fc.style == "check" and fc.formula:
                    attrs["formula"] = "of:=" + _check_formula(form, number, *fc.formula, ";")
                    attrs["valuetype"] = "string"
                    attrs["stringvalue"] = fc.text
                elif fc.text:
                    attrs["valuetype"] = "string"
                cell = TableCell(**attrs)
                if fc.text:
                    for line in fc.text.split("\n"):
                        cell.addElement(P(text=line))
                row.addElement(cell)
            if sheet.respondent and number == HEADER_ROW:
                headers = TableHeaderRows()
                headers.addElement(row)
                table.addElement(headers)
            else:
                table.addElement(row)
        tables.append(table)
    doc.spreadsheet.addElement(validations)
    for table in tables:
        doc.spreadsheet.addElement(table)

    # frozen header (rows above the first item) on every respondent sheet: view settings
    view_settings = ConfigItemSet(name="ooo:view-settings")
    views = ConfigItemMapIndexed(name="Views")
    view = ConfigItemMapEntry()
    view.addElement(ConfigItem(name="ViewId", type="string", text="view1"))
    named = ConfigItemMapNamed(name="Tables")
    for sheet in form.sheets:
        if not sheet.respondent:
            continue
        entry = ConfigItemMapEntry(name=sheet.name)
        for key, kind, value in (  # the items LibreOffice writes for "freeze rows"
            ("HorizontalSplitMode", "short", "0"),
            ("VerticalSplitMode", "short", "2"),
            ("HorizontalSplitPosition", "int", "0"),
            ("VerticalSplitPosition", "int", str(HEADER_ROW)),
            ("ActiveSplitRange", "short", "2"),
            ("PositionLeft", "int", "0"),
            ("PositionRight", "int", "0"),
            ("PositionTop", "int", "0"),
            ("PositionBottom", "int", str(HEADER_ROW)),
        ):
            entry.addElement(ConfigItem(name=key, type=kind, text=value))
        named.addElement(entry)
    view.addElement(named)
    view.addElement(ConfigItem(name="ActiveTable", type="string", text=form.sheets[0].name))
    views.addElement(view)
    view_settings.addElement(views)
    doc.settings.addElement(view_settings)

    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()


def _q(name: str) -> str:
    """A sheet name quoted for an ODF cell address."""
    return "'" + name.replace("'", "''") + "'"


# -- Excel ---------------------------------------------------------------------------------


def _xlsx(form: Form) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Protection, Side
    from openpyxl.worksheet.datavalidation import DataValidation

    side = Side(style="thin", color="999999")
    border = Border(left=side, right=side, top=side, bottom=side)

    def fill(colour: str) -> PatternFill:
        return PatternFill("solid", start_color=colour, end_color=colour)

    looks = {
        "title": (Font(bold=True, size=13), None, False, True),
        "label": (Font(bold=True), None, False, True),
        "value": (Font(), fill("EEEEEE"), False, True),
        "input": (Font(), fill("FFF8DC"), True, False),
        "answer": (Font(bold=True), fill("FFF8DC"), True, False),
        "header": (Font(bold=True), fill("D9E2F3"), True, True),
        "heading": (Font(bold=True), fill("E2EFDA"), False, True),
        "text": (Font(), fill("F2F2F2"), True, True),
        "check": (Font(bold=True, color="C00000"), None, True, True),
        "marker": (Font(size=6, color="BBBBBB"), None, False, True),
        "plain": (Font(), None, False, True),
    }
    workbook = Workbook()
    workbook.remove(workbook.active)
    # one named style per role: a cell then carries one style id (fast to write and small)
    for role, (font, colour, wrap, locked) in looks.items():
        named = NamedStyle(name=f"guidekit-{role}")
        named.font = font
        if colour is not None:
            named.fill = colour
        if role not in {"title", "label", "marker", "plain"}:
            named.border = border
        named.alignment = Alignment(wrap_text=wrap, vertical="top")
        named.protection = Protection(locked=locked)
        workbook.add_named_style(named)
    for sheet in form.sheets:
        ws = workbook.create_sheet(sheet.name)
        validation = None
        if sheet.respondent:
            validation = DataValidation(
                type="list",
                formula1='"' + ",".join(form.choices) + '"',
                allow_blank=True,
                showDropDown=False,
                showErrorMessage=True,
                errorStyle="stop",
                error=" / ".join(form.choices),
            )
            ws.add_data_validation(validation)
        for number, cells in enumerate(sheet.rows, start=1):
            for index, fc in enumerate(cells, start=1):
                if fc.style == "plain" and not fc.text:
                    continue
                cell = ws.cell(row=number, column=index)
                if fc.style == "check" and fc.formula:
                    cell.value = "=" + _check_formula(form, number, *fc.formula, ",")
                elif fc.text:
                    cell.value = xlsx_text(fc.text, f"{sheet.name}!{cell.coordinate}")
                    cell.data_type = TYPE_STRING  # text, never a formula
                cell.style = f"guidekit-{fc.style}"
                if fc.style == "answer" and validation is not None:
                    validation.add(cell)
        if sheet.respondent:
            for index, key in enumerate(FORM_COLUMNS, start=1):
                ws.column_dimensions[_letter(index)].width = WIDTHS[key] + 2
            ws.column_dimensions[_letter(MARKER_COLUMN)].width = 6
            ws.freeze_panes = f"A{HEADER_ROW + 1}"
            ws.print_area = f"A1:{_letter(len(FORM_COLUMNS))}{len(sheet.rows)}"
            ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
            ws.page_setup.orientation = "landscape"
            ws.page_setup.paperSize = ws.PAPERSIZE_A4
            ws.page_setup.fitToWidth = 1
            ws.page_setup.fitToHeight = 0
            ws.sheet_properties.pageSetUpPr.fitToPage = True
        elif sheet.widths:
            for index, width in enumerate(sheet.widths, start=1):
                ws.column_dimensions[_letter(index)].width = width + 2
            ws.freeze_panes = "A2"
        else:
            ws.column_dimensions["A"].width = 18
            ws.column_dimensions["B"].width = 100
        _protect(ws, sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _protect(ws, sheet: FormSheet) -> None:
    """Protect a sheet, allowing what a person filling it in does: sort, filter, insert
    rows, resize rows and columns."""
    ws.protection.sheet = True
    ws.protection.sort = False
    ws.protection.autoFilter = False
    ws.protection.insertRows = False
    ws.protection.formatRows = False
    ws.protection.formatColumns = False
    if sheet.hidden:
        ws.sheet_state = "hidden"
