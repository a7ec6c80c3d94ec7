"""Research: all agencies and rounds as pandas data, for notebooks.

``from guidekit import research as rs`` gives the loaders and tables of
:mod:`~guidekit.research.load`; :mod:`~guidekit.research.consistency` (Cronbach's and
Krippendorff's alpha), :mod:`~guidekit.research.sensitivity` (weight Monte Carlo),
:mod:`~guidekit.research.plots` (matplotlib charts with their numbers) and
:mod:`~guidekit.research.opendata` (a Frictionless Data Package) are its submodules;
:mod:`~guidekit.research.actions` (improvement actions across agencies and rounds) is
offered here too.
"""

from __future__ import annotations

from guidekit.research.actions import (
    action_table,
    actions_by_principle,
    completion,
    followed_by,
    gap_coverage,
    load_actions,
)
from guidekit.research.load import (
    AGENCY_COLUMNS,
    ENCODING,
    VersionMismatchWarning,
    agencies,
    as_records,
    example_rounds,
    group_summary,
    load,
    main_instrument,
    only_round,
    principle_correlations,
    round_changes,
    rounds,
    score,
    score_table,
    version_warning,
    warning_html,
    weakest_principles,
)

__all__ = [
    "AGENCY_COLUMNS",
    "ENCODING",
    "VersionMismatchWarning",
    "action_table",
    "actions_by_principle",
    "agencies",
    "as_records",
    "completion",
    "example_rounds",
    "followed_by",
    "gap_coverage",
    "group_summary",
    "load",
    "load_actions",
    "main_instrument",
    "only_round",
    "principle_correlations",
    "round_changes",
    "rounds",
    "score",
    "score_table",
    "version_warning",
    "warning_html",
    "weakest_principles",
]
