"""The facilitator's checklist when answers come back: one status per file read.

:func:`file_status` turns one :func:`~guidekit.intake.responses.validate_responses` run
over a folder (forms, CSV and long tables mixed, read together so the checks across
files apply) into one row per file: accepted with what was read, or to be returned
with its problems.  ``guidekit intake DIR`` prints it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

from guidekit.answers.rules import AGREED_RESPONDENT
from guidekit.intake.responses import ValidationReport, expand_paths
from guidekit.problems import Problem


@dataclasses.dataclass
class FileStatus:
    """One file of an intake.

    Attributes
    ----------
    file : str
    accepted : bool
        No error in this file (warnings allowed) and at least one answer row read from
        it: a form sent back blank is returned too.
    agencies : list of str
        ``agency_id（agency_name）`` of the answers read from it; for a file nothing was
        read from, the agency codes its rows (or a form's identity sheet) give.
    respondents : int
        Distinct respondents answering in it (團隊共識 not counted).
    agreed : bool
        The file holds the team's agreed answers.
    answers : int
        Answer rows read (blank answers with a note included).
    errors, warnings : list of Problem
    """

    file: str
    accepted: bool
    agencies: list[str]
    respondents: int
    agreed: bool
    answers: int
    errors: list[Problem]
    warnings: list[Problem]


def file_status(
    paths: str | Path | Iterable[str | Path], report: ValidationReport
) -> list[FileStatus]:
    """One :class:`FileStatus` per file of ``paths`` (folders expanded as the reader does),
    in the reader's order, from the ``report`` of reading them all together."""
    frame = report.read.frame if report.read is not None else None
    out = []
    for path in expand_paths(paths):
        file = str(path)
        mine = [p for p in report.problems if p.file == file]
        rows = frame[frame["source_file"] == file] if frame is not None else None
        agencies: list[str] = []
        respondents = answers = 0
        agreed = False
        if rows is not None and not rows.empty:
            pairs = rows[["agency_id", "agency_name"]].drop_duplicates()
            agencies = [f"{a}（{n}）" for a, n in pairs.itertuples(index=False)]
            people = set(rows["respondent"])
            agreed = AGREED_RESPONDENT in people
            respondents = len(people - {AGREED_RESPONDENT})
            answers = len(rows)
        else:  # nothing read (a refused form): the agency its rows or identity name
            agencies = sorted({k[1] for (f, _), k in report.row_keys.items() if f == file and k[1]})
        errors = [p for p in mine if p.is_error]
        out.append(
            FileStatus(
                file,
                not errors and answers > 0,
                agencies,
                respondents,
                agreed,
                answers,
                errors,
                [p for p in mine if not p.is_error],
            )
        )
    return out
