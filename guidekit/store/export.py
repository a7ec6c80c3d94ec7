"""The answers table out of a store, as an answer file: CSV (UTF-8 with BOM) or .xlsx.

Boundary: turns canonical :class:`~guidekit.answers.Responses` into the 11 columns of
an answer file (:data:`EXPORT_COLUMNS`, zh-TW or canonical headers) and writes it through
:mod:`guidekit.files` (a file guidekit did not write is never replaced).  Knows nothing of
any database; :meth:`guidekit.store.ResponseStore.export_file` calls it.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Literal

import pandas as pd

from guidekit.answers import (
    ACTION_ZH_HEADERS,
    COLUMNS,
    HEADER_ALIASES,
    STATUS_LABELS,
    ZH_HEADERS,
    ActionStatus,
    Responses,
)
from guidekit.files import ods_table_bytes, table_csv, write_output, xlsx_text

#: Header of exported files: canonical names, or the zh-TW names people use (first zh alias).
EXPORT_COLUMNS = COLUMNS[:11]
assert all(ZH_HEADERS[c] in HEADER_ALIASES[c] for c in EXPORT_COLUMNS)


@dataclasses.dataclass(frozen=True)
class ExportedFile:
    """What :meth:`ResponseStore.export_file` wrote.

    ``rows``: answer rows (header not counted).  ``replaced``: the .xlsx cells
    whose control characters were written as visible escapes (``\\x0b``), as
    (spreadsheet row, header) pairs; always empty for CSV.
    """

    path: Path
    rows: int
    replaced: tuple[tuple[int, str], ...] = ()
    #: The improvement actions written: their rows, and for a CSV export the second file
    #: holding them (:func:`actions_csv_path`; None when there were none to write).
    action_rows: int = 0
    actions_path: Path | None = None


#: Sheet of an .xlsx / .ods export holding the improvement actions (the second table).
ACTIONS_SHEET = "改善行動"


def actions_csv_path(path: str | Path) -> Path:
    """Where a CSV export's actions go: ``答案.csv`` → ``答案-actions.csv`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}-actions{path.suffix}")


def export_actions_table(
    actions: pd.DataFrame, headers: Literal["zh-TW", "canonical"] = "zh-TW"
) -> pd.DataFrame:
    """The actions table of an export (all cells ``str``): ``actions`` is an action table
    (:func:`guidekit.answers.actions_frame`); with zh-TW headers the status is its word
    (規劃中 …), which :func:`guidekit.intake.actions.read_actions` reads back."""
    frame = actions.copy()
    if headers == "zh-TW":
        frame["status"] = [STATUS_LABELS[ActionStatus(s)][0] for s in frame["status"]]
        frame = frame.rename(columns=ACTION_ZH_HEADERS)
    return frame.astype(object).where(frame.notna(), "").astype(str)


def export_table(
    responses: Responses, headers: Literal["zh-TW", "canonical"] = "zh-TW"
) -> pd.DataFrame:
    """The answer-file table of :meth:`ResponseStore.export` (all cells plain ``str``)."""
    fw = responses.framework
    frame = responses.frame.loc[:, list(EXPORT_COLUMNS)].copy()
    if headers == "zh-TW":
        labels = {
            inst.id: {o.code: o.label_zh for o in fw.scale(inst.id).options}
            for inst in fw.instruments
        }
        frame["answer"] = [
            labels.get(inst, {}).get(code, code) if isinstance(code, str) else None
            for inst, code in zip(frame["instrument"], frame["answer"], strict=True)
        ]
        frame = frame.rename(columns=ZH_HEADERS)
    elif headers != "canonical":
        raise ValueError(f"headers must be 'zh-TW' or 'canonical', not {headers!r}")
    return frame.astype(object).where(frame.notna(), "").astype(str)


def answer_file(
    path: str | Path,
    responses: Responses,
    headers: Literal["zh-TW", "canonical"] = "zh-TW",
    actions: pd.DataFrame | None = None,
) -> ExportedFile:
    """Write ``responses`` as an answer file: ``.csv`` (UTF-8 with BOM, CRLF) or ``.xlsx``
    (every cell text), through :func:`guidekit.files.write_output` (a temporary file renamed;
    a file guidekit did not write is refused).  The caller checks the suffix (and, for a
    CSV with actions, :func:`actions_csv_path` too).

    ``actions`` (an action table) are the second table: the sheet :data:`ACTIONS_SHEET` of
    an .xlsx / .ods file, or the CSV file :func:`actions_csv_path` (written only when
    there are actions).

    Raises
    ------
    WriteRefused
        If ``path`` holds a file guidekit did not write, or changed since.
    """
    path = Path(path)
    table = export_table(responses, headers)
    acts = export_actions_table(actions, headers) if actions is not None else None
    replaced: list[tuple[int, str]] = []
    actions_path = None
    if path.suffix.lower() == ".csv":
        # read back exactly by guidekit: nothing escaped; CRLF and a BOM, as Excel writes
        write_output(path, table_csv(table, excel=False, lineterminator="\r\n"))
        if acts is not None and len(acts):
            actions_path = actions_csv_path(path)
            write_output(actions_path, table_csv(acts, excel=False, lineterminator="\r\n"))
    elif path.suffix.lower() == ".ods":  # OpenDocument (ODF-CNS15251), every cell text
        rows = list(table.itertuples(index=False, name=None))
        more = []
        if acts is not None:
            more.append(
                (ACTIONS_SHEET, acts.columns, list(acts.itertuples(index=False, name=None)))
            )
        write_output(path, ods_table_bytes(table.columns, rows, "answers", more))
    else:
        data, replaced = _xlsx_bytes(table, acts)
        write_output(path, data)
    n_actions = 0 if acts is None else len(acts)
    return ExportedFile(path, len(table), tuple(replaced), n_actions, actions_path)


def _xlsx_bytes(
    table: pd.DataFrame, actions: pd.DataFrame | None = None
) -> tuple[bytes, list[tuple[int, str]]]:
    """The .xlsx file of ``table`` (every cell text; ``actions`` on a second sheet) and the
    answer cells whose control characters (which the file format cannot hold) were written
    as visible escapes."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    replaced: list[tuple[int, str]] = []

    workbook = Workbook()
    sheets = [("answers", table)] + ([(ACTIONS_SHEET, actions)] if actions is not None else [])
    for n, (title, frame) in enumerate(sheets):
        sheet = workbook.active if n == 0 else workbook.create_sheet()
        sheet.title = title
        for c, name in enumerate(frame.columns, start=1):
            cell = sheet.cell(row=1, column=c, value=name)
            cell.data_type = TYPE_STRING
        for r, values in enumerate(frame.itertuples(index=False, name=None), start=2):
            for c, value in enumerate(values, start=1):
                cell = sheet.cell(row=r, column=c)
                text = xlsx_text(value, f"{title}!{cell.coordinate}")
                if text != value and n == 0:
                    replaced.append((r, str(frame.columns[c - 1])))
                cell.value = text
                # Text, always: a note starting with "=" must not become a formula, and
                # codes such as 0012 must keep their zeros when someone edits the file.
                cell.data_type = TYPE_STRING
                cell.number_format = "@"
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), replaced
