"""Research: all agencies and rounds as pandas data, for notebooks.

``from guidekit import research as rs`` gives the loaders and tables of
:mod:`~guidekit.research.load`; :mod:`~guidekit.research.consistency` (Cronbach's and
Krippendorff's alpha), :mod:`~guidekit.research.sensitivity` (weight Monte Carlo),
:mod:`~guidekit.research.plots` (matplotlib charts with their numbers) and
:mod:`~guidekit.research.opendata` (a Frictionless Data Package) are its submodules.
"""

from __future__ import annotations

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
    "agencies",
    "as_records",
    "example_rounds",
    "group_summary",
    "load",
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
