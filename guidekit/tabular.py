"""Reading spreadsheets as people make them: CSV in UTF-8 / UTF-8 with BOM / CP950, and .xlsx.

This module only turns a file into a header and rows of text with their
spreadsheet row numbers; what the columns mean is decided by the caller
(:mod:`guidekit.responses`).  The encoding is detected, not guessed silently:
:class:`Table` records which one was used.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import math
from pathlib import Path

from .problems import Problem, Severity

#: Encodings tried, in order, for CSV files without a byte-order mark.  CP950 is
#: Microsoft's Big5 (what Excel on zh-TW Windows writes as "CSV"); it accepts
#: characters strict Big5 rejects (裏, 碁, 銹 …).
CSV_ENCODINGS = ("utf-8", "cp950")

CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
SUFFIXES = tuple(sorted({*CSV_SUFFIXES, *EXCEL_SUFFIXES}))


@dataclasses.dataclass
class Cell:
    """A cell's text plus a note on how a non-text spreadsheet value was turned into text."""

    text: str
    converted_from: str | None = None  # e.g. "number", "date" (xlsx only)


@dataclasses.dataclass
class Table:
    """A file read as text.

    Attributes
    ----------
    file : str
        The path as given.
    encoding : str
        ``"utf-8"``, ``"utf-8-sig"`` (BOM), ``"cp950"``, ``"utf-16"`` or ``"xlsx"``.
    header : list of str
        Header cells exactly as read (row 1).
    rows : list of (int, list of Cell)
        Data rows with their spreadsheet row number (header = 1); entirely
        blank rows are skipped.
    problems : list of Problem
        Problems found while reading (e.g. a ragged row).
    """

    file: str
    encoding: str
    header: list[str]
    rows: list[tuple[int, list[Cell]]]
    problems: list[Problem]


def read_table(path: str | Path) -> Table:
    """Read a CSV/TSV/.xlsx file into a :class:`Table`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the suffix is not one of :data:`SUFFIXES`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        return _read_xlsx(path)
    if suffix in CSV_SUFFIXES:
        return _read_csv(path, CSV_SUFFIXES[suffix])
    raise ValueError(
        f"{path}: unsupported file type {suffix!r} (expected one of {', '.join(SUFFIXES)})"
    )


def decode(data: bytes, file: str) -> tuple[str | None, str, list[Problem]]:
    """Decode bytes of a text file: BOM first, then strict UTF-8, then strict CP950.

    Returns ``(text, encoding, problems)``; ``text`` is None when no encoding fits,
    and the problem names the first undecodable line.
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
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError as exc:
            return (
                None,
                "utf-16",
                [_decode_problem(file, data, exc, "BOM 之後為 UTF-16", "UTF-16 after its BOM")],
            )
    first_error: UnicodeDecodeError | None = None
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding), encoding, []
        except UnicodeDecodeError as exc:
            first_error = first_error or exc
    assert first_error is not None
    guess = _guess(data)
    problem = _decode_problem(
        file,
        data,
        first_error,
        "UTF-8、含 BOM 的 UTF-8 或 CP950（Big5）",
        "UTF-8, UTF-8 with BOM or CP950 (Big5)",
    )
    if guess:
        params = dict(problem.params)
        params["guess_zh"] = f"（可能是 {guess}；請在 Excel 另存為「CSV UTF-8」）"
        params["guess_en"] = f' (it may be {guess}; save it as "CSV UTF-8" in Excel)'
        problem = dataclasses.replace(problem, params=params)
    return None, "unknown", [problem]


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
    if encoding == "utf-16" and delimiter == ",":
        # Excel's "Unicode text" is UTF-16 with tabs whatever the file is called.
        first = text.split("\n", 1)[0]
        if "\t" in first and "," not in first:
            delimiter = "\t"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    rows: list[tuple[int, list[Cell]]] = []
    try:
        for number, record in enumerate(reader, start=1):
            if number == 1:
                header = record
                continue
            if not any(cell.strip() for cell in record):
                continue
            rows.append((number, [Cell(cell) for cell in record]))
    except csv.Error as exc:
        problems.append(
            Problem(str(path), reader.line_num, None, None, "csv", {"detail": str(exc)})
        )
    return Table(str(path), encoding, header, rows, problems)


def _read_xlsx(path: Path) -> Table:
    from openpyxl import load_workbook

    problems: list[Problem] = []
    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheets = workbook.worksheets
        sheet = sheets[0]
        header: list[str] = []
        rows: list[tuple[int, list[Cell]]] = []
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_xlsx_cell(v) for v in values]
            if number == 1:
                header = [c.text for c in cells]
                continue
            if not any(c.text.strip() for c in cells):
                continue
            rows.append((number, cells))
        for other in sheets[1:]:
            if other.max_row and other.max_row > 1:
                problems.append(
                    Problem(
                        str(path),
                        None,
                        None,
                        other.title,
                        "extra-sheet",
                        {"sheet": other.title},
                        severity=Severity.WARNING,
                    )
                )
    finally:
        workbook.close()
    # Trim trailing empty header cells (Excel's used range often runs wider).
    while header and not header[-1].strip():
        header.pop()
    return Table(str(path), "xlsx", header, rows, problems)


def _xlsx_cell(value: object) -> Cell:
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
    return Cell(str(value), type(value).__name__)
