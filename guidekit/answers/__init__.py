"""Answers: the canonical answer table and the rules every answer obeys.

Boundary: what an answer *is*, wherever it comes from (a CSV, a form, a workshop
store): the canonical columns (:mod:`~guidekit.answers.columns`), the rules that
hold for every answer (:mod:`~guidekit.answers.rules`: 不適用 needs a reason, the team's
agreed answer, reserved and look-alike names) and :class:`Responses`
(:mod:`~guidekit.answers.model`), and improvement actions with their rules
(:mod:`~guidekit.answers.actions`).  Imports only the framework and the shared leaves;
reading files is :mod:`guidekit.intake`'s, storing them :mod:`guidekit.store`'s.
"""

from __future__ import annotations

from guidekit.answers.actions import (
    ACTION_ALIAS_TO_COLUMN,
    ACTION_COLUMNS,
    ACTION_FIELDS,
    ACTION_KEY,
    ACTION_REQUIRED,
    ACTION_ZH_HEADERS,
    NOT_GAP,
    OPEN_STATUSES,
    STATUS_LABELS,
    Action,
    ActionField,
    ActionRow,
    ActionStatus,
    action_schema,
    actions_frame,
    carried_forward,
    check_actions,
    frame_actions,
    is_action_header,
    is_overdue,
    latest_records,
    make_action_id,
    parse_status,
)
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
    "ACTION_ALIAS_TO_COLUMN",
    "ACTION_COLUMNS",
    "ACTION_FIELDS",
    "ACTION_KEY",
    "ACTION_REQUIRED",
    "ACTION_ZH_HEADERS",
    "AGREED_RESPONDENT",
    "ALIAS_TO_COLUMN",
    "COLUMNS",
    "HEADER_ALIASES",
    "ITEM_KEY",
    "NOT_GAP",
    "OPEN_STATUSES",
    "OPTIONAL",
    "REQUIRED",
    "STATUS_LABELS",
    "ZH_HEADERS",
    "Action",
    "ActionField",
    "ActionRow",
    "ActionStatus",
    "Responses",
    "SourceInfo",
    "action_schema",
    "actions_frame",
    "carried_forward",
    "check_actions",
    "clean_name",
    "empty_frame",
    "frame_actions",
    "header_key",
    "is_action_header",
    "is_overdue",
    "is_reserved_name",
    "lacks_reason",
    "latest_records",
    "latest_round",
    "make_action_id",
    "metadata_flag",
    "name_key",
    "parse_status",
    "round_key",
    "service_lookalikes",
    "settle_agreed",
    "sorted_rounds",
]
