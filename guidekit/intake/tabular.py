"""Reading spreadsheets as people make them: CSV in UTF-8 / UTF-8 with BOM / CP950,
UTF-16 "Unicode text", .xlsx, and the OpenDocument (.ods) and old Excel (.xls)
workbooks agencies exchange.

Workbooks of every kind are read with python-calamine (its time follows the cells
that hold data, whatever size the sheet declares); what calamine does not say —
hidden rows and columns, merged ranges, formulas without a computed value — is
streamed from the sheet's XML (:func:`read_table` says how each is treated).

This module only turns a file into a header and rows of text with their
spreadsheet row numbers; what the columns mean is decided by the caller
(:mod:`guidekit.intake.responses`).  The encoding is detected, not guessed silently:
:class:`Table` records which one was used, and every doubt becomes a Problem.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import dataclasses
import datetime as dt
import io
import math
import posixpath
import re
import sys
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from openpyxl.utils.cell import get_column_letter

from guidekit.answers import is_action_header
from guidekit.problems import Problem, Severity

#: Encodings tried, in order, for CSV files without a byte-order mark.  CP950 is
#: Microsoft's Big5 (what Excel on zh-TW Windows writes as "CSV"); it accepts
#: characters strict Big5 rejects (裏, 碁, 銹 …).
CSV_ENCODINGS = ("utf-8", "cp950")

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
#: Workbooks read with python-calamine: OpenDocument spreadsheets and old Excel.
OTHER_WORKBOOK_SUFFIXES = {".ods", ".xls"}
SUFFIXES = tuple(sorted({*CSV_SUFFIXES, *EXCEL_SUFFIXES, *OTHER_WORKBOOK_SUFFIXES}))
#: Suffixes read when a whole folder is given (.txt only when named explicitly).
FOLDER_SUFFIXES = tuple(s for s in SUFFIXES if s != ".txt")

# Notes may be long (evidence pasted in); the csv module's default limit is 128 KiB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

_ROW_LIKE = re.compile(r"\n[^\n]*(,[^\n,]*){4,}")


@dataclasses.dataclass
class Cell:
    """A cell's text plus a note on how a non-text spreadsheet value became text.

    ``converted_from`` is ``None`` for text, else ``"number"``, ``"date"``,
    ``"boolean"`` or ``"formula"`` (a formula whose computed value the file does
    not hold: the text is then empty).  ``merged`` names the merged range a cell
    is covered by (its text is then empty: only a range's first cell holds a value).
    """

    text: str
    converted_from: str | None = None
    #: The merged range (e.g. ``"A2:A183"``) this blank cell is covered by, if any.
    merged: str | None = None


@dataclasses.dataclass
class Table:
    """A file read as text.

    Attributes
    ----------
    file : str
        The path as given.
    encoding : str
        ``"utf-8"``, ``"utf-8-sig"`` (BOM), ``"cp950"``, ``"utf-16"``, ``"xlsx"``,
        ``"ods"`` or ``"xls"``.
    header : list of str
        Header cells exactly as read (row 1).
    rows : list of (int, list of Cell)
        Data rows with their spreadsheet row number (header = 1); entirely
        blank rows are skipped.
    problems : list of Problem
        Problems found while reading (encoding doubts, ragged rows, sheets not read …).
    sheet : str or None
        The worksheet read (workbooks only).
    sheet_headers : dict of str to list of str
        Row 1 of every visible sheet, in order (workbooks only): what each sheet
        offers when none holds what the caller looks for.
    """

    file: str
    encoding: str
    header: list[str]
    rows: list[tuple[int, list[Cell]]]
    problems: list[Problem]
    sheet: str | None = None
    sheet_headers: dict[str, list[str]] = dataclasses.field(default_factory=dict)


#: Most cells one sheet (or text file) may hold: more than any self-assessment could
#: (a whole national round, 2,000 agencies × 5 respondents × 91 items × 10 columns, is
#: about 9 million).  Reading stops there with an error, so a file never reads for hours
#: (``benchmarks/bench_sheets.py`` measured about 120,000 cells a second: 85 s at the bound).
MAX_CELLS = 10_000_000

#: What a file really is (from its bytes) → (zh-TW, English) name and the suffix it should have.
KINDS = {
    "xlsx": ("Excel 活頁簿 (.xlsx)", "an Excel workbook (.xlsx)", ".xlsx"),
    "ods": ("OpenDocument 試算表 (.ods)", "an OpenDocument spreadsheet (.ods)", ".ods"),
    "xls": ("Excel 97–2003 活頁簿 (.xls)", "an Excel 97–2003 workbook (.xls)", ".xls"),
    "text": ("CSV 文字檔", "a text (CSV) file", ".csv"),
}

#: Codes of the warnings that say part of a file was not read: a command that prints
#: only some warnings prints these (``guidekit reports``).
UNREAD_CODES = frozenset({"hidden-sheet", "extra-sheet", "hidden-rows", "hidden-columns"})

_ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"

HeaderTest = Callable[[list[str]], bool]


def read_table(path: str | Path, is_header: HeaderTest | None = None) -> Table:
    """Read a CSV/TSV/text or workbook file into a :class:`Table`.

    What the file is comes from its content (:func:`sniff`), not its name: a
    workbook named ``.csv``, a CSV named ``.xlsx`` or an .xlsx named ``.ods`` is
    read as what it is, with a ``wrong-suffix`` warning naming the right suffix.

    Workbooks (.xlsx, .ods, .xls) are read the way hidden sheets always were: what
    the user hid is not read, and said so.

    * The first visible sheet is read — or, when ``is_header`` is given and the first
      visible sheet's row 1 fails it, the first later visible sheet whose row 1 passes
      (an instructions sheet in front of the answers), with an ``answers-sheet``
      warning.  Hidden sheets are never read (``hidden-sheet`` warning); other
      sheets with content get an ``extra-sheet`` warning.
    * Hidden rows — hidden by hand or by a filter — and hidden columns of the sheet
      are not read: one ``hidden-rows`` / ``hidden-columns`` warning names them.
    * Each merged range is one ``merged-cells`` error naming the range: only its
      first cell holds the value, the other cells read as blank (marked with
      :attr:`Cell.merged`).
    * Reading takes time in proportion to the cells that hold data, not the sheet's
      declared size; a sheet with more than :data:`MAX_CELLS` cells is not read
      (``too-many-cells`` error).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the suffix is not one of :data:`SUFFIXES`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"{path}: unsupported file type {suffix!r} (expected one of {', '.join(SUFFIXES)})"
        )
    if not path.exists():
        raise FileNotFoundError(path)
    named = "xlsx" if suffix in EXCEL_SUFFIXES else suffix.lstrip(".")
    if suffix in CSV_SUFFIXES:
        named = "text"
    kind = sniff(path)
    if kind == "other":
        return Table(str(path), "unknown", [], [], [_not_a_spreadsheet(path)])
    if kind == "text":
        table = _read_csv(path, CSV_SUFFIXES.get(suffix, ","))
        if named != "text" and table.encoding == "unknown":
            # neither a workbook nor text: say that, not which encoding it is not
            table.problems[:] = [_not_a_spreadsheet(path)]
    else:
        table = _read_calamine(path, kind, is_header)
    if kind != named and table.encoding != "unknown":
        zh, en, right = KINDS[kind]
        table.problems.insert(
            0,
            Problem(
                str(path),
                None,
                None,
                path.suffix,
                "wrong-suffix",
                {"kind": right, "kind_zh": zh, "kind_en": en, "suffix": right},
                Severity.WARNING,
            ),
        )
    return table


def sniff(path: str | Path) -> str:
    """What a file really is, from its content: ``"xlsx"``, ``"ods"``, ``"xls"``,
    ``"text"`` or ``"other"`` (a zip archive that is no spreadsheet, e.g. a Word file).

    An OLE2 compound file is taken for an old Excel workbook; a zip archive is an
    OpenDocument spreadsheet when its ``mimetype`` entry says so (ODF 1.2 part 3,
    §3.3) and an Excel workbook when it has ``[Content_Types].xml`` and an ``xl/``
    folder (ECMA-376 part 2).  Anything else is taken for text; whether it decodes is
    the CSV reader's business.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls"
    if not zipfile.is_zipfile(path):
        return "text"
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                return "ods" if mimetype == _ODS_MIMETYPE else "other"
            if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
                return "xlsx"
    except (zipfile.BadZipFile, OSError):
        pass
    return "other"


def _not_a_spreadsheet(path: Path) -> Problem:
    return Problem.about_file(
        str(path),
        "not-a-spreadsheet",
        {"suffixes": ", ".join(SUFFIXES)},
    )


def _too_many_cells(path: Path, sheet: str | None, row: int | None) -> Problem:
    return Problem(
        str(path),
        row,
        None,
        None,
        "too-many-cells",
        {"limit": f"{MAX_CELLS:,}", "sheet": sheet or path.name},
    )


# -- text files ----------------------------------------------------------------------


#: Byte-order marks: (marks, encoding reported, bytes skipped, codec that decodes the rest).
#: UTF-32 before UTF-16: a UTF-32 BOM starts like UTF-16's.
_BOMS = (
    ((b"\xef\xbb\xbf",), "utf-8-sig", 3, "utf-8"),
    ((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff"), "utf-32", 0, "utf-32"),
    ((b"\xff\xfe", b"\xfe\xff"), "utf-16", 0, "utf-16"),
)


def decode(data: bytes, file: str) -> tuple[str | None, str, list[Problem]]:
    """Decode bytes of a text file: BOM first, then strict UTF-8, then strict CP950.

    Returns ``(text, encoding, problems)``; ``text`` is None when no encoding
    fits, and the problem names the line and bytes where CP950 failed.  A file
    that decodes as CP950 but looks like Simplified Chinese (GB18030) gets a
    warning: its names would be garbled.
    """
    for boms, encoding, skip, codec in _BOMS:
        if data.startswith(boms):
            body = data[skip:]
            try:
                return body.decode(codec), encoding, []
            except UnicodeDecodeError as exc:
                name = codec.upper()
                problem = _decode_problem(
                    file, body, exc, f"BOM 之後為 {name}", f"{name} after its BOM"
                )
                return None, encoding, [problem]
    bom_less = _utf16_without_bom(data)
    if bom_less is not None:
        with contextlib.suppress(UnicodeDecodeError):
            return data.decode(bom_less), bom_less, []
    try:
        return data.decode("utf-8"), "utf-8", []
    except UnicodeDecodeError as utf8_error:
        first_error = utf8_error
    try:
        text = data.decode("cp950")
    except UnicodeDecodeError as cp950_error:
        # the encoding that read furthest is the one the file was meant to be in:
        # its failure is where the user should look
        exc = cp950_error if cp950_error.start >= first_error.start else first_error
        problem = _decode_problem(
            file,
            data,
            exc,
            "UTF-8、含 BOM 的 UTF-8 或 CP950（Big5）",
            "UTF-8, UTF-8 with BOM or CP950 (Big5)",
        )
        params = dict(problem.params)
        lead = data[exc.start] if exc.start < len(data) else 0
        guess = _guess(data)
        if guess and _normal(guess) in _OTHER_CJK:
            # GB18030 or Shift-JIS also fail CP950 at "user-defined" lead bytes: name them
            params["guess_zh"] = f"（看起來是 {guess} 編碼；請在 Excel 另存為「CSV UTF-8」）"
            params["guess_en"] = f' (it looks like {guess}; save it as "CSV UTF-8" in Excel)'
        elif exc is cp950_error and (0x81 <= lead <= 0xA0 or 0xFA <= lead <= 0xFE):
            params["guess_zh"] = (
                "（此處可能是造字／使用者自定字元，無法讀取；請改用標準字或另存為 UTF-8）"
            )
            params["guess_en"] = (
                " (this looks like a user-defined (EUDC) character, which cannot be read;"
                " use a standard character or save as UTF-8)"
            )
        else:
            if guess:
                params["guess_zh"] = f"（可能是 {guess}；請在 Excel 另存為「CSV UTF-8」）"
                params["guess_en"] = f' (it may be {guess}; save it as "CSV UTF-8" in Excel)'
        return None, "unknown", [dataclasses.replace(problem, params=params)]
    problems = []
    guess = _guess(data)
    if guess and guess.replace("_", "").lower() in {"gb18030", "gbk", "gb2312", "hz"}:
        problems.append(
            Problem(file, None, None, guess, "maybe-simplified", {"guess": guess}, Severity.WARNING)
        )
    return text, "cp950", problems


#: Encodings a CP950 failure is more likely to be than a user-defined character.
_OTHER_CJK = {"gb18030", "gbk", "gb2312", "hz", "shiftjis", "cp932", "eucjp", "euckr", "cp949"}


def _normal(encoding: str) -> str:
    return encoding.replace("_", "").replace("-", "").lower()


def _utf16_without_bom(data: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when the bytes look like UTF-16 without a BOM:
    NUL in most odd (LE) or even (BE) positions of mostly-ASCII text, as headers are."""
    sample = data[:4096]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    half = len(sample) // 2
    even = sample[0::2].count(0) / half
    odd = sample[1::2].count(0) / half
    if odd > 0.3 and even < 0.05:
        return "utf-16-le"
    if even > 0.3 and odd < 0.05:
        return "utf-16-be"
    return None


def _guess(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536]).best()
    return best.encoding if best is not None else None


def _decode_problem(
    file: str, data: bytes, exc: UnicodeDecodeError, expected_zh: str, expected_en: str
) -> Problem:
    line = data[: exc.start].count(b"\n") + 1
    snippet = data[exc.start : exc.start + 4].hex(" ")
    return Problem(
        file=file,
        row=line,
        column=None,
        value=f"bytes {snippet}",
        code="encoding",
        params={"expected_zh": expected_zh, "expected_en": expected_en},
    )


def _read_csv(path: Path, delimiter: str) -> Table:
    data = path.read_bytes()
    text, encoding, problems = decode(data, str(path))
    if text is None:
        return Table(str(path), encoding, [], [], problems)
    first = text.split("\n", 1)[0]
    if path.suffix.lower() not in {".csv", ".tsv"} or encoding.startswith(("utf-16", "utf-32")):
        # Excel's "Unicode text" is tab-separated whatever the file is called; a .txt
        # file (or a text file named like a workbook) may also be comma-separated:
        # follow the header line.
        if "\t" in first:
            delimiter = "\t"
        elif "," in first:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] = []
    rows: list[tuple[int, list[Cell]]] = []
    number = 0
    cells_read = 0
    while True:
        # A malformed record is reported and reading goes on with the next one, so every
        # problem of the file is found at once (csv.reader resumes after an Error).
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            number += 1
            problems.append(Problem(str(path), number, None, None, "csv", _csv_detail(str(exc))))
            continue
        number += 1
        cells_read += len(record)
        if cells_read > MAX_CELLS:
            problems.append(_too_many_cells(path, None, number))
            return Table(str(path), encoding, header, [], problems)
        if number == 1:
            header = record
            continue
        if not any(cell.strip() for cell in record):
            continue
        for cell in record:
            if "\n" in cell and _ROW_LIKE.search(cell):
                # A line inside the cell with a whole row's fields: a quote left open
                # has swallowed that row (its answer would be lost), an error; fewer
                # fields may be a note with commas, a warning.
                whole = any(
                    len(line.split(delimiter)) >= max(len(header) - 1, 2)
                    for line in cell.split("\n")[1:]
                )
                problems.append(
                    Problem(
                        str(path),
                        number,
                        None,
                        cell[:60] + "…",
                        "swallowed-rows" if whole else "multiline-rows",
                        {},
                        Severity.ERROR if whole else Severity.WARNING,
                    )
                )
                break
        rows.append((number, [Cell(cell) for cell in record]))
    return Table(str(path), encoding, header, rows, problems)


def _csv_detail(message: str) -> dict[str, str]:
    """Parameters of a ``csv`` problem: the csv module's message in both languages."""
    if "unexpected end of data" in message:
        return {
            "detail": 'a quoted value is never closed (a missing ")',
            "detail_zh": '引號未成對（缺少結尾的 "）',
        }
    if "expected after" in message:
        return {
            "detail": "a closing quote must be followed by the delimiter: "
            "quote the whole cell, or use 「」 inside the text",
            "detail_zh": "結尾引號後面應緊接分隔符號：請把整格文字放在一對引號內，或在文字中改用「」",
        }
    return {"detail": message, "detail_zh": message}


# -- workbooks -----------------------------------------------------------------------


class _Spans:
    """Sorted, merged ranges of 1-based row or column numbers (inclusive), for membership tests."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for first, last in sorted(spans):
            if merged and first <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], last)
            else:
                merged.append([first, last])
        self.starts = [a for a, _ in merged]
        self.ends = [b for _, b in merged]

    def __contains__(self, number: int) -> bool:
        at = bisect.bisect_right(self.starts, number) - 1
        return at >= 0 and number <= self.ends[at]

    def __bool__(self) -> bool:
        return bool(self.starts)


@dataclasses.dataclass
class _Layout:
    """What a sheet hides and merges: hidden rows and columns (1-based, inclusive
    spans) and merged ranges as ``(min_col, min_row, max_col, max_row)``."""

    hidden_rows: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    hidden_columns: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    merged: list[tuple[int, int, int, int]] = dataclasses.field(default_factory=list)
    #: Cells (row, column) holding a formula whose value the file does not hold (xlsx).
    formulas: set[tuple[int, int]] = dataclasses.field(default_factory=set)


def spans_text(numbers: Iterable[int], lang: str = "zh-TW") -> str:
    """Numbers as condensed ranges: ``[12, 13, …, 20, 31]`` → ``"12–20, 31"``
    (``"12–20、31"`` in zh-TW)."""
    parts: list[str] = []
    ordered = sorted(set(numbers))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}–{ordered[j]}")
        i = j + 1
    return ("、" if lang == "zh-TW" else ", ").join(parts)


def _choose_sheet(
    names: list[str], headers: dict[str, list[str]], is_header: HeaderTest | None
) -> tuple[str, list[str]]:
    """The sheet to read among ``names`` (visible sheets, in order), and the sheets
    skipped before it: the first one, or the first whose row 1 passes ``is_header``."""
    if is_header is not None and not is_header(headers.get(names[0], [])):
        for index, name in enumerate(names[1:], start=1):
            if is_header(headers.get(name, [])):
                return name, names[:index]
    return names[0], []


def _sheet_problems(
    path: Path,
    chosen: str,
    skipped: list[str],
    position: int,
    others: list[tuple[str, bool, bool]],
) -> list[Problem]:
    """Warnings about the sheets: which was read, and which were not.

    ``others`` holds (name, visible, has content) of every sheet but the one read.
    """
    problems = []
    if skipped:
        problems.append(
            Problem(
                str(path),
                None,
                None,
                chosen,
                "answers-sheet",
                {
                    "n": position,
                    "sheet": chosen,
                    "skipped": "、".join(f"「{s}」" for s in skipped),
                    "skipped_en": ", ".join(f"“{s}”" for s in skipped),
                },
                Severity.WARNING,
            )
        )
    for name, visible, content in others:
        if name in skipped or not content:
            continue
        problems.append(
            Problem(
                str(path),
                None,
                None,
                name,
                "extra-sheet" if visible else "hidden-sheet",
                {"sheet": name, "read": chosen},
                Severity.WARNING,
            )
        )
    return problems


def _header_texts(cells: Iterable[object]) -> list[str]:
    header = [_workbook_cell(v).text for v in cells]
    while header and not header[-1].strip():  # Excel's used range often runs wider
        header.pop()
    return header


def _finish(
    path: Path,
    kind: str,
    sheet: str,
    records: Iterable[tuple[int, list[Cell]]],
    layout: _Layout,
    problems: list[Problem],
    headers: dict[str, list[str]],
) -> Table:
    """The Table of one sheet: hidden rows and columns left out and named, merged
    cells marked and named, at most :data:`MAX_CELLS` cells read."""
    hidden_rows = _Spans(layout.hidden_rows)
    header: list[str] = []
    rows: list[tuple[int, list[Cell]]] = []
    hidden_read: list[int] = []
    cells_read = 0
    for number, cells in records:
        cells_read += len(cells)
        if cells_read > MAX_CELLS:
            problems.append(_too_many_cells(path, sheet, number))
            return Table(str(path), kind, [], [], problems, sheet, headers)
        if number == 1:
            header = [c.text for c in cells]
            continue
        if not any(c.text.strip() or c.converted_from == "formula" for c in cells):
            continue
        if number in hidden_rows:
            hidden_read.append(number)
            continue
        rows.append((number, cells))
    if hidden_read:
        problems.append(
            Problem(
                str(path),
                hidden_read[0],
                None,
                None,
                "hidden-rows",
                {
                    "sheet": sheet,
                    "n": len(hidden_read),
                    "rows": spans_text(hidden_read),
                    "rows_en": spans_text(hidden_read, "en"),
                },
                Severity.WARNING,
            )
        )
    hidden_columns = _Spans(layout.hidden_columns)
    if hidden_columns:
        width = max([len(header), *(len(cells) for _, cells in rows)])
        dropped = []
        for column in range(1, width + 1):
            if column not in hidden_columns:
                continue
            index = column - 1
            title = header[index] if index < len(header) else ""
            used = bool(title.strip()) or any(
                index < len(cells) and cells[index].text.strip() for _, cells in rows
            )
            if not used:
                continue
            dropped.append((column, title))
            if index < len(header):
                header[index] = ""
            for _, cells in rows:
                if index < len(cells):
                    cells[index] = Cell("")
        if dropped:
            problems.append(
                Problem.about_file(
                    str(path),
                    "hidden-columns",
                    {
                        "sheet": sheet,
                        "columns": "、".join(
                            get_column_letter(c) + (f"（{t}）" if t.strip() else "")
                            for c, t in dropped
                        ),
                        "columns_en": ", ".join(
                            get_column_letter(c) + (f" ({t})" if t.strip() else "")
                            for c, t in dropped
                        ),
                    },
                    Severity.WARNING,
                )
            )
    problems += _merged_problems(path, sheet, layout.merged, header, rows)
    while header and not header[-1].strip():  # Excel's used range often runs wider
        header.pop()
    return Table(str(path), kind, header, rows, problems, sheet, headers)


def _merged_problems(
    path: Path,
    sheet: str,
    merged: list[tuple[int, int, int, int]],
    header: list[str],
    rows: list[tuple[int, list[Cell]]],
) -> list[Problem]:
    """One error per merged range over the rows read (row 1 alone is the header's
    business); the cells it covers are marked (:attr:`Cell.merged`)."""
    if not merged:
        return []
    numbers = [n for n, _ in rows]
    problems = []
    for min_col, min_row, max_col, max_row in sorted(merged, key=lambda m: (m[1], m[0])):
        first = bisect.bisect_left(numbers, min_row)
        last = bisect.bisect_right(numbers, max_row)
        if first == last:
            # no row read lies in it: nothing is lost (a title merged across row 1
            # is the header's business: header-row, header-blank)
            continue
        ref = f"{get_column_letter(min_col)}{min_row}:{get_column_letter(max_col)}{max_row}"
        value = None
        for number, cells in rows[first:last]:
            for column in range(min_col, max_col + 1):
                index = column - 1
                if number == min_row and column == min_col:
                    value = cells[index].text if index < len(cells) else None
                    continue
                if index < len(cells) and not cells[index].text:
                    cells[index] = Cell("", merged=ref)
        if min_row == 1 and min_col - 1 < len(header):
            value = header[min_col - 1]
        title = header[min_col - 1] if min_col - 1 < len(header) else ""
        problems.append(
            Problem(
                str(path),
                min_row,
                title.strip() or get_column_letter(min_col),
                value or None,
                "merged-cells",
                {
                    "range": ref,
                    "sheet": sheet,
                    "n": (max_row - min_row + 1) * (max_col - min_col + 1) - 1,
                },
            )
        )
    return problems


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _attribute(element: ET.Element, name: str) -> str | None:
    """An attribute by its local name, whatever its namespace."""
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return None


def _xlsx_sheet_part(archive: zipfile.ZipFile, title: str) -> str | None:
    """The zip entry of the worksheet named ``title`` (ECMA-376 part 1, §12.3: the
    package relationships name the workbook, the workbook's relationships its sheets)."""
    workbook_part = "xl/workbook.xml"
    with contextlib.suppress(KeyError):
        for rel in ET.fromstring(archive.read("_rels/.rels")):
            if (_attribute(rel, "Type") or "").endswith("/officeDocument"):
                workbook_part = (_attribute(rel, "Target") or workbook_part).lstrip("/")
    folder = posixpath.dirname(workbook_part)
    rid = None
    for element in ET.fromstring(archive.read(workbook_part)).iter():
        if _local(element.tag) == "sheet" and _attribute(element, "name") == title:
            rid = _attribute(element, "id")
    rels = posixpath.join(folder, "_rels", posixpath.basename(workbook_part) + ".rels")
    for rel in ET.fromstring(archive.read(rels)):
        if _attribute(rel, "Id") == rid:
            target = _attribute(rel, "Target") or ""
            if target.startswith("/"):
                return target.lstrip("/")
            return posixpath.normpath(posixpath.join(folder, target))
    return None


def _xlsx_layout(path: Path, title: str) -> _Layout:
    """Hidden rows (by hand or by a filter: both are ``<row hidden="1">``), hidden
    columns (``<col hidden="1">``), merged ranges and formulas without a computed
    value (``<c><f>…</f></c>`` with no ``<v>``) of one worksheet, streamed."""
    from openpyxl.utils.cell import coordinate_to_tuple, range_boundaries

    layout = _Layout()
    with zipfile.ZipFile(path) as archive:
        part = _xlsx_sheet_part(archive, title)
        if part is None:
            return layout
        with archive.open(part) as source:
            number = column = 0
            formula = valued = False
            for event, element in ET.iterparse(source, events=("start", "end")):
                name = _local(element.tag)
                if event == "end":
                    if name == "v" and element.text:
                        valued = True
                    elif name == "c" and formula and not valued:
                        layout.formulas.add((number, column))
                    elif name == "row":
                        element.clear()
                    continue
                if name == "c":
                    given = element.get("r")
                    column = coordinate_to_tuple(given)[1] if given else column + 1
                    formula = valued = False
                elif name == "f":
                    formula = True
                elif name == "row":
                    given = element.get("r")
                    number = int(given) if given else number + 1
                    column = 0
                    if element.get("hidden") in {"1", "true"}:
                        layout.hidden_rows.append((number, number))
                elif name == "col" and element.get("hidden") in {"1", "true"}:
                    first = int(element.get("min") or 1)
                    layout.hidden_columns.append((first, int(element.get("max") or first)))
                elif name == "mergeCell":
                    ref = element.get("ref")
                    if ref and ":" in ref:
                        layout.merged.append(range_boundaries(ref))
    return layout


def _xls_layout(data: bytes, title: str) -> _Layout:
    """Hidden rows and columns and merged ranges of one sheet of an Excel 97–2003
    workbook, from xlrd's reading of its formatting records (calamine has no hidden rows)."""
    import xlrd

    book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
    try:
        sheet = book.sheet_by_name(title)
        return _Layout(
            hidden_rows=[(r + 1, r + 1) for r, info in sheet.rowinfo_map.items() if info.hidden],
            hidden_columns=[(c + 1, c + 1) for c, info in sheet.colinfo_map.items() if info.hidden],
            # xlrd's (first row, row after, first column, column after), 0-based
            merged=[(c0 + 1, r0 + 1, c1, r1) for r0, r1, c0, c1 in sheet.merged_cells],
        )
    finally:
        book.release_resources()


_ODF_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"


def _ods_layout(path: Path, title: str) -> _Layout:
    """Hidden rows and columns (``table:visibility`` "collapse" or "filter") and merged
    ranges (``table:number-rows-spanned`` / ``-columns-spanned``) of one table of an
    OpenDocument spreadsheet (ODF 1.2 part 1, §9.1–9.2), streamed from content.xml."""
    t = _ODF_TABLE
    layout = _Layout()
    depth = 0
    inside = False
    row = column = cell = 0
    with zipfile.ZipFile(path) as archive, archive.open("content.xml") as source:
        for event, element in ET.iterparse(source, events=("start", "end")):
            tag = element.tag
            if tag == t + "table":
                if event == "start":
                    depth += 1
                    inside = inside or (depth == 1 and element.get(t + "name") == title)
                    continue
                if inside and depth == 1:
                    break
                depth -= 1
                continue
            if not inside or depth != 1:
                continue
            if event == "end":
                if tag == t + "table-row":
                    element.clear()
                continue
            if tag == t + "table-column":
                n = int(element.get(t + "number-columns-repeated", "1"))
                if element.get(t + "visibility", "visible") != "visible":
                    layout.hidden_columns.append((column + 1, column + n))
                column += n
            elif tag == t + "table-row":
                n = int(element.get(t + "number-rows-repeated", "1"))
                if element.get(t + "visibility", "visible") != "visible":
                    layout.hidden_rows.append((row + 1, row + n))
                row += n
                cell = 0
                first_row = row - n + 1
            elif tag in {t + "table-cell", t + "covered-table-cell"}:
                n = int(element.get(t + "number-columns-repeated", "1"))
                down = int(element.get(t + "number-rows-spanned", "1"))
                across = int(element.get(t + "number-columns-spanned", "1"))
                if tag == t + "table-cell" and (down > 1 or across > 1):
                    layout.merged.append((cell + 1, first_row, cell + across, first_row + down - 1))
                cell += n
    return layout


def _read_calamine(path: Path, kind: str, is_header: HeaderTest | None) -> Table:
    from python_calamine import CalamineWorkbook, SheetVisibleEnum

    # from the bytes, not the name: calamine picks the format by the file's content
    data = path.read_bytes()
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    too_big: list[str] = []
    try:
        meta = workbook.sheets_metadata
        visible = [m.name for m in meta if m.visible == SheetVisibleEnum.Visible]
        names = visible or [m.name for m in meta]
        contents: dict[str, list[list[object]]] = {}
        for m in meta:
            ws = workbook.get_sheet_by_name(m.name)
            if ws.height * ws.width > MAX_CELLS:
                contents[m.name] = []
                too_big.append(m.name)
                continue
            contents[m.name] = ws.to_python(skip_empty_area=False)
        headers = {n: _header_texts(contents[n][0] if contents[n] else ()) for n in names}
        chosen, skipped = _choose_sheet(names, headers, is_header)
        others = [
            (
                m.name,
                m.visible == SheetVisibleEnum.Visible,
                m.name in too_big
                or any(
                    any(v is not None and str(v).strip() for v in row) for row in contents[m.name]
                ),
            )
            for m in meta
            # an actions sheet (an export's second table) is read by intake.actions, not here
            if m.name != chosen and not is_action_header(headers.get(m.name, []))
        ]
        problems = _sheet_problems(path, chosen, skipped, names.index(chosen) + 1, others)
        if chosen in too_big:
            problems.append(_too_many_cells(path, chosen, None))
            return Table(str(path), kind, [], [], problems, chosen, headers)
        if kind == "xlsx":
            layout = _xlsx_layout(path, chosen)
        elif kind == "ods":
            layout = _ods_layout(path, chosen)
        else:
            layout = _xls_layout(data, chosen)
    finally:
        workbook.close()
    return _finish(
        path, kind, chosen, _records(contents[chosen], layout.formulas), layout, problems, headers
    )


def _records(
    values: list[list[object]], formulas: set[tuple[int, int]]
) -> Iterator[tuple[int, list[Cell]]]:
    """Rows of cells with their row numbers; a formula without a computed value (which
    calamine reads as nothing) is marked as such, even beyond the range calamine saw."""
    by_row: dict[int, list[int]] = {}
    for number, column in formulas:
        by_row.setdefault(number, []).append(column)
    last = max([len(values), *by_row])
    for number in range(1, last + 1):
        record = values[number - 1] if number <= len(values) else []
        cells = [_workbook_cell(v) for v in record]
        for column in by_row.get(number, ()):
            cells.extend(Cell("") for _ in range(column - len(cells)))
            if not cells[column - 1].text:
                cells[column - 1] = Cell("", "formula")
        yield number, cells


def _workbook_cell(value: object) -> Cell:
    if value is None:
        return Cell("")
    if isinstance(value, str):
        return Cell(value)
    if isinstance(value, bool):
        return Cell("TRUE" if value else "FALSE", "boolean")
    if isinstance(value, int):
        return Cell(str(value), "number")
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return Cell(str(int(value)), "number")
        return Cell(repr(value), "number")
    if isinstance(value, dt.datetime):
        return Cell(value.isoformat(sep=" "), "date")
    if isinstance(value, dt.date | dt.time):
        return Cell(value.isoformat(), "date")
    if isinstance(value, dt.timedelta):
        return Cell(str(value), "date")
    return Cell(str(value), type(value).__name__)


def read_sheets(path: str | Path) -> list[tuple[Table, bool]]:
    """Every sheet of a workbook (.xlsx, .ods, .xls), each as a :class:`Table`, with
    whether it is visible, in workbook order.

    For readers that know which sheets they want (a guidekit form,
    :mod:`guidekit.intake.forms`): no sheet is chosen or skipped here.  Each Table
    has row 1 as its header; hidden rows and columns are left out and named and
    merged ranges named, as :func:`read_table` does.

    Raises
    ------
    ValueError
        If the file is not a workbook (by its content, :func:`sniff`).
    """
    from python_calamine import CalamineWorkbook, SheetVisibleEnum

    path = Path(path)
    kind = sniff(path)
    if kind not in {"xlsx", "ods", "xls"}:
        raise ValueError(f"{path}: not a workbook ({kind})")
    data = path.read_bytes()
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    out: list[tuple[Table, bool]] = []
    try:
        for m in workbook.sheets_metadata:
            ws = workbook.get_sheet_by_name(m.name)
            visible = m.visible == SheetVisibleEnum.Visible
            if ws.height * ws.width > MAX_CELLS:
                table = Table(str(path), kind, [], [], [_too_many_cells(path, m.name, None)])
                table.sheet = m.name
                out.append((table, visible))
                continue
            values = ws.to_python(skip_empty_area=False)
            if kind == "xlsx":
                layout = _xlsx_layout(path, m.name)
            elif kind == "ods":
                layout = _ods_layout(path, m.name)
            else:
                layout = _xls_layout(data, m.name)
            table = _finish(path, kind, m.name, _records(values, layout.formulas), layout, [], {})
            out.append((table, visible))
    finally:
        workbook.close()
    return out


def sheet_names(path: str | Path) -> list[str]:
    """The sheet names of a workbook, in order (cheap: no cell is read).

    Raises
    ------
    Exception
        Whatever python-calamine raises for a file it cannot open.
    """
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    try:
        return list(workbook.sheet_names)
    finally:
        workbook.close()
