"""Problems found in input data, and the exceptions that carry them.

Every reader in guidekit collects *all* problems in a file before raising, so a
user fixes a file in one pass.  A :class:`Problem` names where it is (file,
row, column), what was found (value), what was wrong and what was expected.
Its texts come from ``guidekit/locales/problems.yaml`` in Traditional Chinese
(default) or English.

Row numbers follow what a person sees in a spreadsheet: for CSV/xlsx the
header is row 1 and the first data row is row 2; for YAML files the row is the
1-based line number of the record.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

_CATALOG = Path(__file__).with_name("locales") / "problems.yaml"


class Severity(enum.StrEnum):
    """How bad a problem is.

    ``error`` stops the data from being used; ``warning`` means the data was
    read but something was cleaned up or looks suspicious and the user should
    know (nothing is changed silently).
    """

    ERROR = "error"
    WARNING = "warning"


@functools.cache
def catalog() -> dict[str, dict[str, dict[str, str]]]:
    """Problem texts: code → {"message"|"expected": {lang: template}}."""
    return YAML(typ="safe").load(_CATALOG.read_text(encoding="utf-8"))


def _lang(lang: str) -> str:
    return "en" if lang.casefold().startswith("en") else "zh-TW"


class _Defaults(dict):
    def __missing__(self, key: str) -> str:
        return ""


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem in one place of one input file.

    Attributes
    ----------
    file : str
        Path of the file as given by the user.
    row : int or None
        Spreadsheet row (header = 1) or YAML line; ``None`` for whole-file problems.
    column : str or None
        Column or field name as it appears in the file.
    value : str or None
        The offending value, as read (before clean-up).
    code : str
        Stable machine-readable code, a key of ``locales/problems.yaml``
        (e.g. ``"unknown-item"``).
    params : mapping
        Values for the message templates.
    severity : Severity
    also_rows : tuple of int
        Other rows with the same problem and value (repeated warnings are grouped).
    sheet : str or None
        The worksheet, for files read sheet by sheet (a guidekit form, issue 10).
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    code: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False, compare=False)
    severity: Severity = Severity.ERROR
    also_rows: tuple[int, ...] = ()
    sheet: str | None = None

    @classmethod
    def about_file(
        cls,
        file: Any,
        code: str,
        params: Mapping[str, Any] | None = None,
        severity: Severity = Severity.ERROR,
    ) -> Problem:
        """A problem of a whole file (no row, column or value): unreadable, missing …"""
        return cls(str(file), None, None, None, code, dict(params or {}), severity)

    @classmethod
    def about_rows(
        cls,
        file: Any,
        rows: Sequence[int],
        column: str | None,
        code: str,
        params: Mapping[str, Any] | None = None,
        severity: Severity = Severity.ERROR,
    ) -> Problem:
        """One problem of a column found in several ``rows`` (sorted): named at the first,
        the others listed in ``also_rows``."""
        return cls(
            str(file), rows[0], column, None, code, dict(params or {}), severity, tuple(rows[1:])
        )

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def _text(self, part: str, lang: str) -> str:
        entry = catalog().get(self.code)
        if entry is None:
            return str(self.params.get("detail", self.code)) if part == "message" else ""
        return entry[part][_lang(lang)].format_map(_Defaults(self.params))

    def message(self, lang: str = "zh-TW") -> str:
        """What is wrong, in ``lang`` (zh-TW by default)."""
        text = self._text("message", lang)
        if self.also_rows:
            shown = ", ".join(str(r) for r in self.also_rows[:5])
            more = "…" if len(self.also_rows) > 5 else ""
            n = len(self.also_rows) + (1 if self.row is not None else 0)
            rows = f"{self.row}, {shown}" if self.row is not None else shown
            text += catalog()["more-rows"]["message"][_lang(lang)].format(n=n, rows=rows, more=more)
        return text

    def expected(self, lang: str = "zh-TW") -> str:
        """What would have been accepted, in ``lang``."""
        return self._text("expected", lang)

    def location(self) -> str:
        """``file:row [column]`` as one string (``file › sheet:row [column]`` with a sheet)."""
        where = self.file + (f" › {self.sheet}" if self.sheet else "")
        where += f":{self.row}" if self.row is not None else ""
        return where + (f" [{self.column}]" if self.column else "")

    def format(self, lang: str = "zh-TW") -> str:
        """One readable line: location, severity, message, value and what was expected."""
        zh = _lang(lang) == "zh-TW"
        severity = (
            {"error": "錯誤", "warning": "提醒"}[self.severity.value] if zh else self.severity.value
        )
        value = "" if self.value is None else (f"：{self.value!r}" if zh else f": {self.value!r}")
        expected = self.expected(lang)
        hint = (f"（應為：{expected}）" if zh else f" (expected: {expected})") if expected else ""
        sep = "：" if zh else ": "
        return f"{self.location()} {severity}{sep}{self.message(lang)}{value}{hint}"

    def to_dict(self, lang: str = "zh-TW") -> dict[str, Any]:
        """Plain record (for JSON output): location fields, severity, code, message, expected."""
        return {
            "file": self.file,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message(lang),
            "expected": self.expected(lang),
            "also_rows": list(self.also_rows),
        }


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems ordered by file, then row, then column (whole-file problems first)."""
    return sorted(
        problems,
        key=lambda p: (
            p.file,
            p.sheet or "",
            -1 if p.row is None else p.row,
            p.column or "",
            p.code,
        ),
    )


class GuidekitError(Exception):
    """Base class of every error guidekit raises on purpose.

    Parameters
    ----------
    message : str
        The message in English (``str(error)``, logs, tracebacks).
    zh : str, optional
        The same message in Traditional Chinese, shown to users by default.
    """

    def __init__(self, message: str = "", *, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = zh

    def text(self, lang: str = "zh-TW") -> str:
        """The message in ``lang`` (English when no Chinese text was given)."""
        if _lang(lang) == "zh-TW" and self.zh:
            return self.zh
        return str(self)


class DataError(GuidekitError):
    """Input data that cannot be used; carries every :class:`Problem` found.

    Parameters
    ----------
    problems : sequence of Problem
        All problems found (errors and warnings).
    summary : str, optional
        One line describing what was being read.
    """

    def __init__(
        self,
        problems: Sequence[Problem],
        summary: str = "invalid data",
        summary_zh: str = "資料有誤",
    ) -> None:
        self.problems = sort_problems(problems)
        self.summary = summary
        self.summary_zh = summary_zh
        super().__init__(self.format("en"))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    def text(self, lang: str = "zh-TW") -> str:
        return self.format(lang)

    def format(self, lang: str = "zh-TW") -> str:
        n = len(self.errors)
        if _lang(lang) == "zh-TW":
            head = f"{self.summary_zh}：{n} 個錯誤"
        else:
            head = f"{self.summary}: {n} error{'s' if n != 1 else ''}"
        return "\n".join([head] + ["  " + p.format(lang) for p in self.problems])


class FrameworkError(DataError):
    """A framework folder (principles, items, scales, measures) is invalid."""


class ResponsesError(DataError):
    """An answer file is invalid."""


class ReportError(GuidekitError):
    """A report notebook failed for one agency.

    Attributes
    ----------
    agency_id : str
    cell : int or None
        Index of the failing cell.
    ename, evalue : str
        Exception name and value raised in the kernel.
    """

    def __init__(
        self,
        agency_id: str,
        message: str,
        cell: int | None = None,
        ename: str = "",
        evalue: str = "",
    ) -> None:
        self.agency_id = agency_id
        self.cell = cell
        self.ename = ename
        self.evalue = evalue
        super().__init__(f"{agency_id}: {message}")
