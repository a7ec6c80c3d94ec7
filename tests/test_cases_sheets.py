"""Spreadsheets as people make them (issue 8, field cases hidden-rows, misnamed-file-types,
runaway-sheet-dimension): what a user hid is not read and is named, merged cells are
named as merged cells, an instructions sheet is passed over, a file is read as what its
bytes are, and a sheet's declared size does not decide how long reading takes.

Every expectation was worked out from the files (their rows, their XML, or the rows the
test itself writes), not taken from guidekit's output.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from guidekit import research
from guidekit.cli import main
from guidekit.intake import tabular
from guidekit.intake.responses import read_responses, validate_responses
from guidekit.intake.tabular import read_table, sniff, spans_text
from guidekit.scoring import score

from .conftest import FIXTURES, ZH_HEADER

CASES = FIXTURES / "cases"
HIDDEN = CASES / "hidden-rows"
MISNAMED = CASES / "misnamed-file-types"
RUNAWAY = CASES / "runaway-sheet-dimension" / "runaway-wide.xlsx"

#: Six answers of two respondents (rows 2–7 of the sheets written below).
ROWS = [
    ["2026", "0010", "試算機關", "甲", "SV-P01-01", "符合", ""],
    ["2026", "0010", "試算機關", "甲", "SV-P01-02", "部分符合", ""],
    ["2026", "0010", "試算機關", "甲", "SV-P01-03", "不符合", ""],
    ["2026", "0010", "試算機關", "乙", "SV-P01-01", "符合", ""],
    ["2026", "0010", "試算機關", "乙", "SV-P01-02", "符合", ""],
    ["2026", "0010", "試算機關", "乙", "SV-P01-03", "符合", "佐證"],
]


def codes(problems):
    return sorted((p.code, p.row, p.severity.value) for p in problems)


def only(problems, code):
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, [p.format() for p in problems]
    return found[0]


# -- writers ---------------------------------------------------------------------------


def write_xlsx(
    path: Path,
    sheets=(("填答", [ZH_HEADER, *ROWS]),),
    hidden_rows=(),
    hidden_columns=(),
    merges=(),
    autofilter=None,
) -> Path:
    """A workbook as Excel users make it; hidden rows/columns and merges on the first sheet."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for index, (title, rows) in enumerate(sheets):
        ws = workbook.create_sheet(title)
        for row in rows:
            ws.append(row)
        if index == 0:
            for number in hidden_rows:
                ws.row_dimensions[number].hidden = True
            for letter in hidden_columns:
                ws.column_dimensions[letter].hidden = True
            for ref in merges:
                ws.merge_cells(ref)
            if autofilter:
                ws.auto_filter.ref = autofilter
    workbook.save(path)
    return path


def write_ods(
    path: Path,
    sheets=(("填答", [ZH_HEADER, *ROWS]),),
    hidden_rows=(),
    filtered_rows=(),
    hidden_columns=(),
    merges=(),
) -> Path:
    """An OpenDocument spreadsheet as LibreOffice writes one (odfpy): rows hidden by hand
    are ``table:visibility="collapse"``, by a filter ``"filter"``; a merged range is a cell
    with ``number-rows-spanned`` / ``number-columns-spanned`` over covered cells.
    ``merges`` holds (first row, first column, last row, last column), 1-based."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import CoveredTableCell, Table, TableCell, TableColumn, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for index, (title, rows) in enumerate(sheets):
        first = index == 0
        table = Table(name=title)
        width = max(len(r) for r in rows)
        for column in range(1, width + 1):
            hidden = first and column in hidden_columns
            table.addElement(TableColumn(visibility="collapse" if hidden else "visible"))
        spans, covered = {}, set()
        for r1, c1, r2, c2 in merges if first else ():
            spans[(r1, c1)] = (r2 - r1 + 1, c2 - c1 + 1)
            covered |= {(r, c) for r in range(r1, r2 + 1) for c in range(c1, c2 + 1)} - {(r1, c1)}
        for number, row in enumerate(rows, start=1):
            visibility = "visible"
            if first and number in hidden_rows:
                visibility = "collapse"
            if first and number in filtered_rows:
                visibility = "filter"
            element = TableRow(visibility=visibility)
            for column in range(1, width + 1):
                if (number, column) in covered:
                    element.addElement(CoveredTableCell())
                    continue
                extra = {}
                if (number, column) in spans:
                    down, across = spans[(number, column)]
                    extra = {"numberrowsspanned": down, "numbercolumnsspanned": across}
                value = row[column - 1] if column <= len(row) else ""
                if value == "":
                    element.addElement(TableCell(**extra))
                else:
                    cell = TableCell(valuetype="string", **extra)
                    cell.addElement(P(text=value))
                    element.addElement(cell)
            table.addElement(element)
        doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


def blank_below(rows, column):
    """``rows`` with ``column`` (0-based) blank after the first row: what a merge leaves."""
    return [rows[0], *([*r[:column], "", *r[column + 1 :]] for r in rows[1:])]


# -- hidden rows and columns -----------------------------------------------------------


def test_hidden_rows_of_the_field_case_are_not_read_and_are_named(fw):
    # rows 184–274 (91 answers of 已離職同仁(作廢)) are hidden; rows 2–183 hold the
    # answers of 研考單位專員 and 業務單位科長, the same as x3_visible_only.xlsx
    hidden = read_responses(HIDDEN / "x3_hidden_rows.xlsx", fw)
    visible = read_responses(HIDDEN / "x3_visible_only.xlsx", fw)
    assert set(hidden.frame["respondent"]) == {"研考單位專員", "業務單位科長"}
    columns = [c for c in hidden.frame.columns if c != "source_file"]
    assert hidden.frame[columns].equals(visible.frame[columns])
    overall = score(hidden).overall.iloc[0]
    assert overall["n_respondents"] == 2
    assert overall["score"] == score(visible).overall.iloc[0]["score"]
    problem = only(hidden.problems, "hidden-rows")
    assert problem.row == 184 and problem.file.endswith("x3_hidden_rows.xlsx")
    assert problem.message() == (
        "工作表「Sheet」有 91 列隱藏的資料未讀取（手動隱藏或篩選而隱藏）：第 184–274 列"
    )
    assert "rows 184–274" in problem.message("en")
    assert [p.code for p in hidden.problems] == ["hidden-rows"]


def test_scattered_and_filtered_hidden_rows_are_condensed_in_xlsx(tmp_path, fw):
    # rows 3, 5 and 6 hidden by hand, row 7 by the autofilter (Excel writes both as
    # <row hidden="1">); row 9 is hidden but empty: nothing is lost there
    path = write_xlsx(tmp_path / "a.xlsx", hidden_rows=(3, 5, 6, 7, 9), autofilter="A1:G7")
    responses = read_responses(path, fw)
    assert responses.frame["source_row"].tolist() == [2, 4]
    problem = only(responses.problems, "hidden-rows")
    assert "第 3、5–7 列" in problem.message() and "有 4 列" in problem.message()
    assert "rows 3, 5–7" in problem.message("en")


def test_hidden_rows_in_ods_by_hand_and_by_filter(tmp_path, fw):
    path = write_ods(tmp_path / "a.ods", hidden_rows=(3, 4), filtered_rows=(7,))
    responses = read_responses(path, fw)
    assert responses.frame["source_row"].tolist() == [2, 5, 6]
    problem = only(responses.problems, "hidden-rows")
    assert problem.row == 3 and "「填答」" in problem.message()
    assert "第 3–4、7 列" in problem.message()


@pytest.mark.parametrize("writer", [write_xlsx, write_ods], ids=["xlsx", "ods"])
def test_a_hidden_column_is_not_read_and_is_named(tmp_path, fw, writer):
    # column G (說明) hidden: the note of row 7, 佐證, is not read
    kwargs = {"hidden_columns": ("G",)} if writer is write_xlsx else {"hidden_columns": (7,)}
    suffix = ".xlsx" if writer is write_xlsx else ".ods"
    responses = read_responses(writer(tmp_path / f"a{suffix}", **kwargs), fw)
    assert set(responses.frame["note"]) == {""}
    problem = only(responses.problems, "hidden-columns")
    assert problem.message() == "工作表「填答」的隱藏欄未讀取：G（說明）"
    assert problem.message("en") == "hidden columns of sheet '填答' were not read: G (說明)"


def test_a_hidden_required_column_is_missing_and_says_why(tmp_path, fw):
    path = write_xlsx(tmp_path / "a.xlsx", hidden_columns=("B",))
    report = validate_responses(path, fw)
    assert codes(report.problems) == [
        ("hidden-columns", None, "warning"),
        ("missing-column", 1, "error"),
    ]
    assert "B（機關代碼）" in only(report.problems, "hidden-columns").message()


def test_spans_text():
    assert spans_text([31, 12, 13, 14, 20, 15, 16, 17, 18, 19]) == "12–20、31"
    assert spans_text([12, 13, 31], "en") == "12–13, 31"
    assert spans_text([]) == ""


# -- merged cells ----------------------------------------------------------------------


def test_merged_cells_of_the_field_case_are_one_error_per_range(fw):
    # columns A–D merged over rows 2–183: 4 ranges, not 4 × 181 "blank" errors
    report = validate_responses(HIDDEN / "x2_merged.xlsx", fw)
    assert codes(report.problems) == [("merged-cells", 2, "error")] * 4
    by_range = {p.params["range"]: p for p in report.problems}
    assert sorted(by_range) == ["A2:A183", "B2:B183", "C2:C183", "D2:D183"]
    b = by_range["B2:B183"]
    assert (b.column, b.value) == ("機關代碼", "XL02")
    assert b.format() == (
        f"{HIDDEN / 'x2_merged.xlsx'}:2 [機關代碼] 錯誤：合併儲存格 B2:B183（工作表「Sheet」）："
        "只有第一格有值，其餘 181 格讀到的是空白：'XL02'（應為：取消合併儲存格，並在每一列填入值）"
    )
    assert "unmerged and every row filled in" in b.format("en")


@pytest.mark.parametrize("kind", ["xlsx", "ods"])
def test_merged_cells_are_named_in_xlsx_and_ods(tmp_path, fw, kind):
    # 機關代碼 (column B) merged over rows 2–4; row 5 on has its own code
    rows = [ZH_HEADER, *ROWS]
    rows = [*rows[:2], *blank_below(rows[1:4], 1)[1:], *rows[4:]]
    if kind == "xlsx":
        path = write_xlsx(tmp_path / "a.xlsx", sheets=(("填答", rows),), merges=("B2:B4",))
    else:
        path = write_ods(tmp_path / "a.ods", sheets=(("填答", rows),), merges=((2, 2, 4, 2),))
    report = validate_responses(path, fw)
    assert codes(report.problems) == [("merged-cells", 2, "error")]
    assert report.problems[0].params["range"] == "B2:B4"
    assert report.problems[0].value == "0010"
    # the rows the merge leaves blank are not read, the others are
    assert report.read.frame["source_row"].tolist() == [2, 5, 6, 7]


def test_a_title_merged_across_row_1_is_the_header_problem_only(fw):
    # existing case: a title merged over A1:G1 above the real header on row 2
    report = validate_responses(FIXTURES / "cases" / "18-xlsx-title-row.xlsx", fw)
    assert codes(report.problems) == [("header-row", 2, "error")]


# -- an instructions sheet first ---------------------------------------------------------


def test_instructions_sheet_first_in_the_field_case(fw):
    responses = read_responses(HIDDEN / "x1_instructions_first.xlsx", fw)
    assert len(responses.frame) == 182
    problem = only(responses.problems, "answers-sheet")
    assert (
        problem.message()
        == "填答是從第 2 個工作表「填答」讀取（前面的工作表「填答說明」沒有填答欄位）"
    )
    assert problem.message("en").startswith("answers were read from sheet 2 “填答”")
    assert [p.code for p in responses.problems] == ["answers-sheet"]


@pytest.mark.parametrize("writer", [write_xlsx, write_ods], ids=["xlsx", "ods"])
def test_instructions_sheets_before_the_answers(tmp_path, fw, writer):
    # two instruction sheets, the answers third, a notes sheet after them
    sheets = (
        ("說明", [["請於「填答」工作表填寫"]]),
        ("代碼表", [["答案", "意義"], ["Y", "符合"]]),
        ("填答", [ZH_HEADER, *ROWS]),
        ("備註", [["其他"], ["x"]]),
    )
    suffix = ".xlsx" if writer is write_xlsx else ".ods"
    responses = read_responses(writer(tmp_path / f"a{suffix}", sheets=sheets), fw)
    assert len(responses.frame) == 6
    assert codes(responses.problems) == [
        ("answers-sheet", None, "warning"),
        ("extra-sheet", None, "warning"),
    ]
    assert "第 3 個工作表「填答」" in only(responses.problems, "answers-sheet").message()
    assert "「說明」、「代碼表」" in only(responses.problems, "answers-sheet").message()
    assert only(responses.problems, "extra-sheet").value == "備註"


def test_no_sheet_with_the_answer_columns_lists_what_each_lacks(tmp_path, fw):
    header = [h for h in ZH_HEADER if h != "題號"]
    sheets = (("說明", [["請填寫"]]), ("填答", [header, [r for r in ROWS[0] if r != "SV-P01-01"]]))
    report = validate_responses(write_xlsx(tmp_path / "a.xlsx", sheets=sheets), fw)
    lacks = only(report.problems, "sheet-lacks-columns")
    assert lacks.is_error and lacks.value == "填答"
    assert lacks.message() == "工作表「填答」也沒有填答欄位，缺少：題號"
    assert lacks.message("en") == "sheet '填答' has no answer columns either; it lacks: item_id"
    # the first sheet is the one read: its missing columns are errors as before
    missing = sorted(p.column for p in report.problems if p.code == "missing-column")
    assert missing == sorted(
        ["round", "agency_id", "agency_name", "respondent", "item_id", "answer"]
    )


# -- files whose suffix lies -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "encoding", "zh", "suffix"),
    [
        ("really_xlsx.csv", "xlsx", "Excel 活頁簿 (.xlsx)", ".xlsx"),
        ("really_xlsx.ods", "xlsx", "Excel 活頁簿 (.xlsx)", ".xlsx"),
        ("really_csv.xlsx", "utf-8-sig", "CSV 文字檔", ".csv"),
    ],
)
def test_misnamed_field_cases_are_read_as_what_they_are(fw, name, encoding, zh, suffix):
    responses = read_responses(MISNAMED / name, fw)
    assert len(responses.frame) == 182
    assert responses.sources[0].encoding == encoding
    problem = only(responses.problems, "wrong-suffix")
    assert problem.format() == (
        f"{MISNAMED / name} 提醒：檔案內容其實是 {zh}，已依實際格式讀取；請把副檔名改為 {suffix}"
        f"：'{Path(name).suffix}'（應為：副檔名與檔案格式一致）"
    )
    assert f"rename it to end in {suffix}" in problem.message("en")


def test_sniff_reads_the_zip_not_the_name(tmp_path):
    ods = write_ods(tmp_path / "x.ods")
    assert [
        sniff(MISNAMED / n) for n in ("really_xlsx.csv", "really_xlsx.ods", "really_csv.xlsx")
    ] == [
        "xlsx",
        "xlsx",
        "text",
    ]
    assert sniff(ods) == "ods"
    docx = tmp_path / "memo.xlsx"  # a Word document: a zip, but no workbook
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    assert sniff(docx) == "other"
    odt = tmp_path / "memo.ods"  # an OpenDocument text, not a spreadsheet
    with zipfile.ZipFile(odt, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
    assert sniff(odt) == "other"


def test_ods_named_csv_and_tab_text_named_xlsx(tmp_path, fw):
    ods = write_ods(tmp_path / "x.ods").rename(tmp_path / "answers.csv")
    responses = read_responses(ods, fw)
    assert len(responses.frame) == 6 and responses.sources[0].encoding == "ods"
    assert "OpenDocument 試算表 (.ods)" in only(responses.problems, "wrong-suffix").message()
    tsv = tmp_path / "tabs.xlsx"  # Excel's "Unicode text" saved under a workbook's name
    lines = ["\t".join(r) for r in [ZH_HEADER, *ROWS]]
    tsv.write_text("\r\n".join(lines) + "\r\n", encoding="utf-16")
    responses = read_responses(tsv, fw)
    assert len(responses.frame) == 6 and responses.sources[0].encoding == "utf-16"
    assert "CSV 文字檔" in only(responses.problems, "wrong-suffix").message()


def test_a_file_that_is_no_spreadsheet_is_named_so(tmp_path, fw):
    docx = tmp_path / "memo.xlsx"
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<document/>")
    binary = tmp_path / "scan.xlsx"
    binary.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    report = validate_responses([docx, binary], fw)
    assert codes(report.problems) == [("not-a-spreadsheet", None, "error")] * 2
    assert report.problems[0].message() == (
        "檔案內容不是試算表，也不是文字檔（可能是其他程式的檔案，或檔案已損毀）"
    )


# -- a sheet's declared size ---------------------------------------------------------------


def test_runaway_declared_size_reads_only_the_cells_stored(fw, monkeypatch):
    # runaway-wide.xlsx declares A1:XFD1048576 (formatted empty cells at XFD2 and
    # A1048576): 17 billion cells.  The cells that hold data are 183 rows × 10 columns:
    # under a bound of 20,000 cells (a row padded out to XFD alone is 16,384) it must read.
    monkeypatch.setattr(tabular, "MAX_CELLS", 20_000)
    responses = read_responses(RUNAWAY, fw)
    assert len(responses.frame) == 182 and responses.problems == []
    table = read_table(RUNAWAY)
    assert table.header == [*ZH_HEADER[:3], "服務名稱", "自評表", *ZH_HEADER[3:], "填答時間"]
    assert table.rows[-1][0] == 183


@pytest.mark.parametrize("kind", ["csv", "xlsx", "ods"])
def test_more_cells_than_the_bound_is_refused(tmp_path, fw, monkeypatch, kind, write_csv):
    # 7 rows × 7 cells = 49 cells; with a bound of 30 a CSV stops at row 5 (35 cells),
    # a workbook is refused before its rows are read (calamine knows the sheet's size)
    monkeypatch.setattr(tabular, "MAX_CELLS", 30)
    if kind == "csv":
        path = write_csv(ROWS)
    elif kind == "xlsx":
        path = write_xlsx(tmp_path / "a.xlsx")
    else:
        path = write_ods(tmp_path / "a.ods")
    report = validate_responses(path, fw)
    problem = only(report.problems, "too-many-cells")
    assert problem.is_error and report.read.frame.empty
    assert "的資料超過 30 格，未讀取：一份自評填答不會這麼大" in problem.message()
    assert problem.row == (5 if kind == "csv" else None)


def test_sibling_commands_use_the_same_reader(fw):
    # research loading: the same reader, the same warning
    loaded = research.load(HIDDEN / "x3_hidden_rows.xlsx", fw)
    assert set(loaded.frame["respondent"]) == {"研考單位專員", "業務單位科長"}
    assert [p.code for p in loaded.problems] == ["hidden-rows"]
    runner = CliRunner()
    result = runner.invoke(main, ["--lang", "zh-TW", "validate", str(RUNAWAY)])
    assert result.exit_code == 0, result.output
    assert "182 筆答案" in result.output
    result = runner.invoke(
        main,
        ["--lang", "zh-TW", "score", str(HIDDEN / "x3_hidden_rows.xlsx"), "--level", "overall"],
    )
    assert result.exit_code == 0, result.output
    # the score is the visible rows' (2 respondents), and the user is told (stderr)
    assert ",2,False,76.923" in result.stdout
    assert "有 91 列隱藏的資料未讀取" in result.stderr


# -- Excel 97–2003 (.xls) --------------------------------------------------------------


def test_xls_hidden_rows_merges_and_instructions_sheet(fw):
    # x4_merged_hidden.xls, written once with xlwt 1.3.0: sheet 1 「說明」 (instructions),
    # sheet 2 「填答」 with the six answers of ROWS, 機關代碼 merged over B2:B4 and
    # row 7 (乙, SV-P01-03) hidden
    report = validate_responses(HIDDEN / "x4_merged_hidden.xls", fw)
    assert codes(report.problems) == [
        ("answers-sheet", None, "warning"),
        ("hidden-rows", 7, "warning"),
        ("merged-cells", 2, "error"),
    ]
    assert only(report.problems, "merged-cells").params["range"] == "B2:B4"
    assert "第 7 列" in only(report.problems, "hidden-rows").message()
    assert report.read.frame["source_row"].tolist() == [2, 5, 6]
