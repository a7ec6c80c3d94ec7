"""Reading improvement actions (改善行動) from files: action tables and forms' actions sheets.

An action table is a CSV / .xlsx / .ods file with one row per action and the headers of
:data:`guidekit.answers.ACTION_FIELDS` (zh-TW or English, matched as answer headers are).
A guidekit form (:mod:`guidekit.forms`) carries its actions on the sheet
:data:`ACTIONS_SHEET`; there a blank round, agency, service or form is the form's own.
Every row goes through :func:`guidekit.answers.check_actions` (the one home of the action
rules); every problem of every file is reported at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from guidekit.answers import (
    ACTION_ALIAS_TO_COLUMN,
    ACTION_FIELDS,
    ACTION_REQUIRED,
    Action,
    ActionRow,
    actions_frame,
    check_actions,
    header_key,
    is_action_header,
)
from guidekit.framework import Framework, load_framework
from guidekit.intake.forms import META_SHEET, is_form, read_form_meta
from guidekit.intake.responses import STORE_SUFFIXES, ValidationReport
from guidekit.intake.tabular import Table, read_sheets, read_table
from guidekit.problems import DataError, Problem, Severity
from guidekit.store import is_store_url, open_store
from guidekit.text import clean

#: The name of a form's actions sheet (zh-TW; found by its header, so a renamed sheet reads too).
ACTIONS_SHEET = "改善行動"

#: Columns a form's actions sheet may leave blank: the form's meta gives them.
FORM_DEFAULTS = ("round", "agency_id", "agency_name", "service", "instrument")


class ActionsError(DataError):
    """Action files that cannot be used; carries every :class:`~guidekit.problems.Problem`."""


@dataclasses.dataclass
class ActionsRead:
    """Actions read from files.

    Attributes
    ----------
    actions : list of Action
        The valid actions, in file order.
    problems : list of Problem
        Warnings and errors of every file (rows with an error are not in ``actions``).
    files : list of str
    """

    actions: list[Action]
    problems: list[Problem]
    files: list[str]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def frame(self) -> pd.DataFrame:
        """The action table (:func:`guidekit.answers.actions_frame`)."""
        return actions_frame(self.actions)


def table_rows(
    table: Table, defaults: Mapping[str, str] | None = None, header_row: int = 1
) -> tuple[list[ActionRow], list[Problem]]:
    """The action rows of one table (its header: row ``header_row``), and header problems.

    ``defaults`` fill blank cells of :data:`FORM_DEFAULTS` (a form's own round, agency …).
    A required column missing (``missing-column``) is an error unless a default gives it.
    """
    columns: dict[int, str] = {}
    headers: dict[str, str] = {}
    problems: list[Problem] = []
    for n, raw in enumerate(table.header):
        column = (
            ACTION_ALIAS_TO_COLUMN.get(header_key(clean(raw))) if isinstance(raw, str) else None
        )
        if column is not None and column not in headers:
            columns[n] = column
            headers[column] = raw
    defaults = dict(defaults or {})
    for name in ACTION_REQUIRED:
        if name not in headers and name not in defaults:
            field = next(f for f in ACTION_FIELDS if f.name == name)
            problems.append(
                Problem(
                    table.file,
                    header_row,
                    None,
                    field.zh,
                    "missing-column",
                    {"aliases": " / ".join((field.zh, field.en, field.name))},
                    sheet=table.sheet,
                )
            )
    rows: list[ActionRow] = []
    if any(p.is_error for p in problems):
        return rows, problems
    for number, cells in table.rows:
        values = {columns[n]: cells[n].text for n in columns if n < len(cells)}
        if not any(v.strip() for k, v in values.items() if k not in FORM_DEFAULTS):
            continue  # a blank (or only pre-filled) row: nothing recorded
        for key, value in defaults.items():
            if not values.get(key, "").strip():
                values[key] = value
        rows.append(ActionRow(table.file, number, values, table.sheet, headers))
    return rows, problems


def read_actions(
    paths: str | Path | Iterable[str | Path],
    framework: Framework | str | Path | None = None,
    *,
    today: dt.date | None = None,
    item_status: Mapping[tuple[str, str, str, str, str], str] | None = None,
    strict: bool = True,
) -> ActionsRead:
    """Read and check action files: action tables (.csv, .xlsx, .ods) and guidekit forms.

    Parameters
    ----------
    paths : path or iterable of paths
        Files or folders (folders: every .csv / .xlsx / .ods below them), or answer
        stores (.sqlite, ``postgresql://``: their actions, checked when written).
    framework : Framework or path, optional
        Default: the bundled 政府數位服務指引.
    today : date, optional
        Reference date of "past due" (default: today in Taipei).
    item_status : mapping, optional
        Combined item statuses (:func:`guidekit.scoring.item_statuses`) for the gap rule.
    strict : bool
        Raise :class:`ActionsError` when any file has an error (default); else return
        the valid actions with every problem.

    Returns
    -------
    ActionsRead
        ``frame`` has the columns of :data:`guidekit.answers.ACTION_COLUMNS`.

    Raises
    ------
    ActionsError
        With every problem of every file (``strict`` only).
    """
    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    if not isinstance(paths, str | Path):
        paths = list(paths)
    files = _files(paths)
    named = {Path(p) for p in ([paths] if isinstance(paths, str | Path) else paths)}
    listed = {p for p in files if isinstance(p, Path) and p not in named}  # found in folders
    rows: list[ActionRow] = []
    problems: list[Problem] = []
    stored: list[Action] = []
    for path in files:
        if is_store_url(str(path)) or path.suffix.lower() in STORE_SUFFIXES:
            with open_store(
                str(path) if is_store_url(str(path)) else path, fw, readonly=True
            ) as store:
                stored += store.actions()  # checked when they were written
            continue
        if not path.exists():
            problems.append(
                Problem.about_file(str(path), "missing-file", {"what": "", "what_en": ""})
            )
            continue
        found, found_problems = file_rows(path, in_folder=path in listed)
        rows += found
        problems += found_problems
    actions, checked = check_actions(rows, fw, today=today, item_status=item_status)
    actions = stored + actions
    problems += checked
    read = ActionsRead(actions, problems, [str(p) for p in files])
    if strict and read.errors:
        raise ActionsError(
            problems, summary="the actions cannot be used", summary_zh="改善行動資料無法使用"
        )
    return read


def actions_beside(
    report: ValidationReport, framework: Framework | str | Path | None = None
) -> ActionsRead | None:
    """The improvement actions that came with answers being validated — the action tables
    the answer reader passed over (``actions-file``) and the actions sheets of guidekit
    forms — read and checked (:func:`read_actions`, not strict); None when there are none.
    What ``guidekit validate`` and ``guidekit intake`` check beside the answers."""
    tables = [p.file for p in report.problems if p.code == "actions-file"]
    forms = [s.file for s in report.sources if s.sheet and is_form(Path(s.file))]
    files = list(dict.fromkeys([*tables, *forms]))
    return read_actions(files, framework, strict=False) if files else None


def with_actions(
    report: ValidationReport, framework: Framework | str | Path | None = None
) -> ValidationReport:
    """``report`` with the problems of the actions that came with the answers
    (:func:`actions_beside`) added, so a file is refused for a bad action as for a bad
    answer."""
    read = actions_beside(report, framework)
    if read is None:
        return report
    return dataclasses.replace(report, problems=[*report.problems, *read.problems])


def file_rows(path: Path, in_folder: bool = False) -> tuple[list[ActionRow], list[Problem]]:
    """The action rows of one file (a form's actions sheet, or a table) and its problems.
    A table without the action columns is an error when the file was named, and skipped
    with a warning when it was found in a folder (``in_folder``: e.g. the answers file of a
    workshop export)."""
    if is_form(path):
        meta = read_form_meta(path)
        defaults = {k: meta.get(k, "") for k in FORM_DEFAULTS}
        rows: list[ActionRow] = []
        problems: list[Problem] = []
        for table, _visible in read_sheets(path):
            if table.sheet == META_SHEET or not is_action_header(table.header):
                continue
            found, found_problems = table_rows(table, defaults)
            rows += found
            problems += found_problems
        return rows, problems
    table = read_table(path, is_action_header)
    problems = [p for p in table.problems if p.code != "answers-sheet"]
    if table.encoding == "unknown" or not table.header:
        return [], problems
    if not is_action_header(table.header) and in_folder:
        problems.append(Problem.about_file(str(path), "not-actions-file", {}, Severity.WARNING))
        return [], problems
    if not is_action_header(table.header):
        problems.append(
            Problem(
                str(path),
                1,
                None,
                None,
                "missing-column",
                {"aliases": "改善行動 / 負責單位 / 預定完成日 (action, owner, due)"},
                Severity.ERROR,
            )
        )
        return [], problems
    rows, header_problems = table_rows(table)
    return rows, problems + header_problems


def _files(paths: str | Path | Iterable[str | Path]) -> list[Path | str]:
    if isinstance(paths, str | Path):
        paths = [paths]
    out: list[Path | str] = []
    for raw in paths:
        if is_store_url(raw):
            out.append(str(raw))  # a database URL, kept as given
            continue
        path = Path(raw)
        if path.is_dir():
            out += sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in {".csv", ".xlsx", ".ods"} and not p.name.startswith(".")
            )
        else:
            out.append(path)
    return out
