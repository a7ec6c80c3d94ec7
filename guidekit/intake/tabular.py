"""Reading spreadsheets as people make them: CSV in UTF-8 / UTF-8 with BOM / CP950,
UTF-16 "Unicode text", .xlsx, and the OpenDocument (.ods) and old Excel (.xls)
workbooks agencies exchange.

This module only turns a file into a header and rows of text with their
spreadsheet row numbers; what the columns mean is decided by the caller
(:mod:`guidekit.intake.responses`).  The encoding is detected, not guessed silently:
:class:`Table` records which one was used, and every doubt becomes a Problem.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import io
import math
import re
import sys
from pathlib import Path

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
    not hold: the text is then empty).
    """

    text: str
    converted_from: str | None = None


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
    """

    file: str
    encoding: str
    header: list[str]
    rows: list[tuple[int, list[Cell]]]
    problems: list[Problem]
    sheet: str | None = None


def read_table(path: str | Path) -> Table:
    """Read a CSV/TSV/text or workbook file into a :class:`Table`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the suffix is not one of :data:`SUFFIXES`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    kind = _sniff(path)
    if suffix in EXCEL_SUFFIXES or suffix in OTHER_WORKBOOK_SUFFIXES:
        if (
            kind in {"xls", "ods"}
            and suffix in EXCEL_SUFFIXES | {".ods", ".xls"}
            and f".{kind}" != suffix
        ):
            table = _read_calamine(path, kind)
            table.problems.append(
                Problem(
                    str(path),
                    None,
                    None,
                    path.suffix,
                    "wrong-suffix",
                    {"kind": f".{kind}"},
                    Severity.WARNING,
                )
            )
            return table
        if suffix in OTHER_WORKBOOK_SUFFIXES:
            return _read_calamine(path, suffix.lstrip("."))
        return _read_xlsx(path)
    if suffix in CSV_SUFFIXES:
        return _read_csv(path, CSV_SUFFIXES[suffix])
    raise ValueError(
        f"{path}: unsupported file type {suffix!r} (expected one of {', '.join(SUFFIXES)})"
    )


def _sniff(path: Path) -> str | None:
    """What a workbook file really is, from its first bytes: "xls", "ods", "xlsx" or None."""
    try:
        with path.open("rb") as fh:
            head = fh.read(120)
    except OSError:
        return None
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2 compound file: Excel 97–2003
        return "xls"
    if head.startswith(b"PK"):
        if b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet" in head:
            return "ods"
        return "xlsx"
    return None


# -- text files ----------------------------------------------------------------------


def decode(data: bytes, file: str) -> tuple[str | None, str, list[Problem]]:
    """Decode bytes of a text file: BOM first, then strict UTF-8, then strict CP950.

    Returns ``(text, encoding, problems)``; ``text`` is None when no encoding
    fits, and the problem names the line and bytes where CP950 failed.  A file
    that decodes as CP950 but looks like Simplified Chinese (GB18030) gets a
    warning: its names would be garbled.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig", []
        except UnicodeDecodeError as exc:
            return (
                None,
                "utf-8-sig",
                [_decode_problem(file, data[3:], exc, "BOM 之後為 UTF-8", "UTF-8 after its BOM")],
            )
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        try:  # before UTF-16: a UTF-32 BOM starts like UTF-16's
            return data.decode("utf-32"), "utf-32", []
        except UnicodeDecodeError as exc:
            return (
                None,
                "utf-32",
                [_decode_problem(file, data, exc, "BOM 之後為 UTF-32", "UTF-32 after its BOM")],
            )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError as exc:
            return (
                None,
                "utf-16",
                [_decode_problem(file, data, exc, "BOM 之後為 UTF-16", "UTF-16 after its BOM")],
            )
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
    if path.suffix.lower() == ".txt" or encoding.startswith(("utf-16", "utf-32")):
        # Excel's "Unicode text" is tab-separated whatever the file is called; a .txt
        # file may also be comma-separated: follow the header line.
        if "\t" in first:
            delimiter = "\t"
        elif "," in first:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] = []
    rows: list[tuple[int, list[Cell]]] = []
    number = 0
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


def _read_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook

    problems: list[Problem] = []
    workbook = load_workbook(path, read_only=True, data_only=True)
    formulas = load_workbook(path, read_only=True, data_only=False)
    try:
        sheets = workbook.worksheets
        visible = [ws for ws in sheets if getattr(ws, "sheet_state", "visible") == "visible"]
        sheet = (visible or sheets)[0]
        for other in sheets:
            if other is sheet or not (other.max_row and other.max_row > 1):
                continue
            code = (
                "hidden-sheet"
                if getattr(other, "sheet_state", "visible") != "visible"
                else "extra-sheet"
            )
            problems.append(
                Problem(
                    str(path),
                    None,
                    None,
                    other.title,
                    code,
                    {"sheet": other.title, "read": sheet.title},
                    Severity.WARNING,
                )
            )
        raw_formulas = formulas[sheet.title].iter_rows(values_only=True)
        header: list[str] = []
        rows: list[tuple[int, list[Cell]]] = []
        for number, (values, source) in enumerate(
            zip(sheet.iter_rows(values_only=True), raw_formulas, strict=False), start=1
        ):
            cells = []
            for value, original in zip(values, source, strict=False):
                if value is None and isinstance(original, str) and original.startswith("="):
                    cells.append(Cell("", "formula"))
                else:
                    cells.append(_workbook_cell(value))
            if number == 1:
                header = [c.text for c in cells]
                continue
            if not any(c.text.strip() or c.converted_from == "formula" for c in cells):
                continue
            rows.append((number, cells))
    finally:
        workbook.close()
        formulas.close()
    while header and not header[-1].strip():  # Excel's used range often runs wider
        header.pop()
    return Table(str(path), "xlsx", header, rows, problems, sheet.title)


def _read_calamine(path: Path, kind: str) -> Table:
    from python_calamine import CalamineWorkbook, SheetVisibleEnum

    problems: list[Problem] = []
    # from the bytes, not the name: calamine picks the format by the file's content
    with path.open("rb") as fh:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(fh.read()))
    try:
        meta = workbook.sheets_metadata
        visible = [m for m in meta if m.visible == SheetVisibleEnum.Visible]
        chosen = (visible or meta)[0]
        values = workbook.get_sheet_by_name(chosen.name).to_python(skip_empty_area=False)
        for other in meta:
            if other.name == chosen.name:
                continue
            content = workbook.get_sheet_by_name(other.name).to_python()
            if len(content) > 1:
                code = (
                    "hidden-sheet" if other.visible != SheetVisibleEnum.Visible else "extra-sheet"
                )
                problems.append(
                    Problem(
                        str(path),
                        None,
                        None,
                        other.name,
                        code,
                        {"sheet": other.name, "read": chosen.name},
                        Severity.WARNING,
                    )
                )
    finally:
        workbook.close()
    header: list[str] = []
    rows: list[tuple[int, list[Cell]]] = []
    for number, record in enumerate(values, start=1):
        cells = [_workbook_cell(v) for v in record]
        if number == 1:
            header = [c.text for c in cells]
            continue
        if not any(c.text.strip() for c in cells):
            continue
        rows.append((number, cells))
    while header and not header[-1].strip():
        header.pop()
    return Table(str(path), kind, header, rows, problems, chosen.name)


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
