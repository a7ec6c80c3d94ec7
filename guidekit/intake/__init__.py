"""Intake: finding answer files, reading CSV / Excel / ODF tables and validating them.

Every reader collects all problems of a file before raising; values are tidied only
with a warning.  Boundary: produces :class:`~guidekit.answers.Responses`; scores nothing.
"""

from __future__ import annotations

from guidekit.intake.actions import (
    ActionsError,
    ActionsRead,
    actions_beside,
    read_actions,
    with_actions,
)
from guidekit.intake.register import AGENCY_COLUMNS, agencies
from guidekit.intake.responses import (
    AgencySplit,
    ValidationReport,
    expand_paths,
    read_responses,
    split_by_agency,
    validate_responses,
)
from guidekit.intake.status import FileStatus, file_status
from guidekit.intake.tabular import (
    Table,
    read_table,
)

__all__ = [
    "AGENCY_COLUMNS",
    "ActionsError",
    "ActionsRead",
    "AgencySplit",
    "FileStatus",
    "Table",
    "ValidationReport",
    "actions_beside",
    "agencies",
    "expand_paths",
    "file_status",
    "read_actions",
    "read_responses",
    "read_table",
    "split_by_agency",
    "validate_responses",
    "with_actions",
]
