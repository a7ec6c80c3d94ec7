"""The agency register (機關名冊): ``data/agencies/agencies.csv``, read in one place.

Research tables, English report names and the workshop's start form all read the
register through :func:`agencies`, so a register saved by Excel as "CSV UTF-8" (with a
byte-order mark) reads the same everywhere and a broken one is reported the same way:
every problem with its row (a missing column, a row of the wrong width, a blank or
duplicate code) at once.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import pandas as pd

from guidekit import i18n
from guidekit.paths import agencies_file
from guidekit.problems import DataError, Problem

#: Columns of :func:`agencies` (all strings).
AGENCY_COLUMNS = (
    "agency_id",
    "name_zh",
    "name_en",
    "short_name_zh",
    "level",
    "kind",
    "parent_id",
    "parent_name_zh",
    "level_zh",
    "level_en",
    "kind_zh",
    "kind_en",
)

REGISTER_ENCODING = "utf-8-sig"
#: Columns the agency register must have.
REGISTER_COLUMNS = ("agency_id", "name_zh", "name_en", "level", "kind", "parent_id")


def agencies(path: str | Path | None = None) -> pd.DataFrame:
    """Agency attributes for grouping, from the agency register: the one reader of
    ``data/agencies/agencies.csv`` (research tables, the English agency names of
    reports, the workshop's agency suggestions).

    Parameters
    ----------
    path : path, optional
        An agency register CSV (UTF-8, with or without a byte-order mark) with the
        columns of ``data/agencies/agencies.csv``; default that file.

    Returns
    -------
    DataFrame
        One row per agency, all strings: ``agency_id, name_zh, name_en,
        short_name_zh, level`` (``central`` / ``local``), ``kind`` (``ministry``,
        ``council``, ``independent``, ``other_central``,
        ``special_municipality``, ``provincial_city``, ``county``,
        ``cabinet``), ``parent_id`` (the supervising agency; ``A00000000A``
        行政院 for second-level agencies, ``""`` for local governments),
        ``parent_name_zh``, and labels ``level_zh, level_en, kind_zh, kind_en``.

    Raises
    ------
    GuidekitError
        If the file cannot be read (missing, not UTF-8).
    DataError
        With every problem found, each with its row (header = row 1): a missing
        column, a row with more or fewer fields than the header, a blank agency
        code, an agency code listed twice.
    """
    path = Path(path) if path is not None else agencies_file()
    try:
        stat = path.stat()
    except OSError as exc:
        raise i18n.error(
            "research.error.register_read", path=path, detail=i18n.os_detail(exc)
        ) from None
    return _read_register(str(path), (stat.st_mtime_ns, stat.st_size)).copy()


@functools.lru_cache(maxsize=4)
def _read_register(name: str, stamp: tuple[int, int]) -> pd.DataFrame:
    path = Path(name)
    try:
        with path.open(encoding=REGISTER_ENCODING, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            lines = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except OSError as exc:
        raise i18n.error(
            "research.error.register_read", path=path, detail=i18n.os_detail(exc)
        ) from None
    except UnicodeDecodeError:
        raise i18n.error("research.error.register_read", path=path, detail="UTF-8") from None
    except csv.Error as exc:
        raise i18n.error("research.error.register_read", path=path, detail=str(exc)) from None
    file = str(path)
    problems = [
        Problem(file, 1, column, None, "missing-column", {"aliases": column})
        for column in REGISTER_COLUMNS
        if column not in header
    ]
    if problems or not lines:
        if not lines:
            problems.append(
                Problem.about_file(
                    file,
                    "empty",
                    {
                        "expected_zh": "機關名冊（每個機關一列）",
                        "expected_en": "one row per agency",
                    },
                )
            )
        raise DataError(problems, f"agency register {path}", f"機關名冊 {path}")
    width = len(header)
    rows, first = [], {}
    for line, row in lines:
        if len(row) != width:
            problems.append(
                Problem(file, line, None, None, "short-row", {"found": len(row), "width": width})
            )
            continue
        record = dict(zip(header, row, strict=True))
        agency_id = record["agency_id"]
        if not agency_id.strip():
            what = {"what_zh": "機關代碼", "what_en": "an agency code"}
            problems.append(Problem(file, line, "agency_id", agency_id, "blank", what))
        elif agency_id in first:
            problems.append(
                Problem(
                    file,
                    line,
                    "agency_id",
                    agency_id,
                    "duplicate-id",
                    {
                        "first_zh": f"（已用於第 {first[agency_id]} 列）",
                        "first_en": f" (already used in row {first[agency_id]})",
                    },
                )
            )
        else:
            first[agency_id] = line
        rows.append(record)
    if problems:
        raise DataError(problems, f"agency register {path}", f"機關名冊 {path}")
    frame = pd.DataFrame(rows, columns=header).astype("string")
    if "short_name_zh" not in frame:
        frame["short_name_zh"] = ""
    names = dict(zip(frame["agency_id"], frame["name_zh"], strict=True))
    frame["parent_id"] = frame["parent_id"].fillna("")
    frame["parent_name_zh"] = (
        frame["parent_id"].map(lambda p: names.get(p, "") if p else "").astype("string")
    )
    for code in ("level", "kind"):
        labels = frame[code].map(lambda v, code=code: i18n.label_pair(f"register.{code}", v))
        frame[f"{code}_zh"] = labels.str[0].astype("string")
        frame[f"{code}_en"] = labels.str[1].astype("string")
    return frame[list(AGENCY_COLUMNS)].reset_index(drop=True)
