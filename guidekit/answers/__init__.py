"""Answers: the canonical answer table and the rules every answer obeys.

Boundary: what an answer *is*, wherever it comes from (a CSV, a form, a workshop
store): the canonical columns (:mod:`~guidekit.answers.columns`), the rules that
hold for every answer (:mod:`~guidekit.answers.rules`: 不適用 needs a reason, the team's
agreed answer, reserved and look-alike names) and :class:`Responses`
(:mod:`~guidekit.answers.model`).  Imports only the framework and the shared leaves;
reading files is :mod:`guidekit.intake`'s, storing them :mod:`guidekit.store`'s.
"""

from __future__ import annotations

from guidekit.answers.columns import (
    ALIAS_TO_COLUMN,
    COLUMNS,
    HEADER_ALIASES,
    ITEM_KEY,
    OPTIONAL,
    REQUIRED,
    ZH_HEADERS,
    empty_frame,
    header_key,
)
from guidekit.answers.model import Responses, SourceInfo
from guidekit.answers.rules import (
    AGREED_RESPONDENT,
    clean_name,
    is_reserved_name,
    lacks_reason,
    latest_round,
    metadata_flag,
    name_key,
    round_key,
    service_lookalikes,
    settle_agreed,
    sorted_rounds,
)

__all__ = [
    "AGREED_RESPONDENT",
    "ALIAS_TO_COLUMN",
    "COLUMNS",
    "HEADER_ALIASES",
    "ITEM_KEY",
    "OPTIONAL",
    "REQUIRED",
    "ZH_HEADERS",
    "Responses",
    "SourceInfo",
    "clean_name",
    "empty_frame",
    "header_key",
    "is_reserved_name",
    "lacks_reason",
    "latest_round",
    "metadata_flag",
    "name_key",
    "round_key",
    "service_lookalikes",
    "settle_agreed",
    "sorted_rounds",
]
