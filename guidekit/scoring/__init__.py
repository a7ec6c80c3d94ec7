"""Scoring: the one home of the rules that turn answers into numbers.

不適用 (not applicable), unanswered, how respondents are combined, weights, aggregation,
coverage, bands, peers and recommended supporting measures.  Boundary: takes a
:class:`~guidekit.framework.Framework` and :class:`~guidekit.answers.Responses`, reads no
files and renders nothing.
"""

from __future__ import annotations

from guidekit.scoring.actions import (
    OUTCOME_COLUMNS,
    Outcome,
    classify_outcomes,
    is_gap,
    item_statuses,
    outcome_counts,
    unmatched_actions,
)
from guidekit.scoring.recommend import (
    Priority,
    measures_for_item,
    priorities,
    ranked,
    recommend,
)
from guidekit.scoring.rules import (
    KEY,
    QUARTILES,
    Scores,
    answer_values,
    overall_from_principle_scores,
    quartile_band,
    respondent_scores,
    score,
    weighted_mean,
    weighted_means,
)

__all__ = [
    "KEY",
    "OUTCOME_COLUMNS",
    "QUARTILES",
    "Outcome",
    "Priority",
    "Scores",
    "answer_values",
    "classify_outcomes",
    "is_gap",
    "item_statuses",
    "measures_for_item",
    "outcome_counts",
    "overall_from_principle_scores",
    "priorities",
    "quartile_band",
    "ranked",
    "recommend",
    "respondent_scores",
    "score",
    "unmatched_actions",
    "weighted_mean",
    "weighted_means",
]
