"""What became of improvement actions: the one home of the outcome rule.

Last round's actions are judged against this round's answers:

* ``dropped``         — the action's latest status is dropped;
* ``not_done``        — still planned or in progress;
* ``done_improved``   — done, and the item's combined answer (:class:`~guidekit.scoring.Scores`
  ``items.value``, the respondents' median on the scale) is higher this round than last;
* ``done_no_change``  — done, but the item's answer is not higher (the same or lower);
* ``done_unknown``    — done, but the answers cannot be compared: the item has no
  combined answer in one of the rounds (unanswered, not applicable, or that round's
  answers were not read) — never counted as "no change".

``overdue``: the action is still open and its due date is before the reference date
(:func:`guidekit.answers.is_overdue`).  Counts describe what happened; they do not say
that an action caused a change.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import pandas as pd

from guidekit import i18n
from guidekit.answers import (
    ACTION_COLUMNS,
    Action,
    ActionStatus,
    is_overdue,
    latest_records,
    round_key,
    sorted_rounds,
)
from guidekit.scoring.rules import KEY, Scores


class Outcome(i18n.LabelledEnum):
    """What became of one of last round's actions (see the module docstring); words in
    the messages (``action.outcome.<value>``)."""

    DONE_IMPROVED = "done_improved"
    DONE_NO_CHANGE = "done_no_change"
    DONE_UNKNOWN = "done_unknown"
    NOT_DONE = "not_done"
    DROPPED = "dropped"

    @classmethod
    def messages_key(cls) -> str:
        return "action.outcome"


#: Columns of :func:`classify_outcomes`, in order.
OUTCOME_COLUMNS = (
    *ACTION_COLUMNS,
    "principle_id",
    "recorded_round",
    "outcome",
    "overdue",
    "value_before",
    "value_after",
    "status_before",
    "status_after",
    "target_reached",
)


def item_statuses(scores: Scores) -> dict[tuple[str, str, str, str, str], str]:
    """Combined status of every assessment × item (``met`` / ``partial`` / ``not_met`` /
    ``na`` / ``unanswered``), keyed (round, agency_id, service, instrument, item_id): what
    :func:`guidekit.answers.check_actions` needs for its gap rule."""
    items = scores.items
    keys = zip(*(items[c] for c in (*KEY, "item_id")), strict=True)
    return dict(zip(keys, items["status"].astype(str), strict=True))


def is_gap(status: str) -> bool:
    """True when an item's combined status leaves something to act on (partial, not met)."""
    return status in ("partial", "not_met")


def classify_outcomes(
    actions: Iterable[Action],
    scores: Scores,
    round: str,
    *,
    on: dt.date | None = None,
) -> pd.DataFrame:
    """Last round's actions with what became of them in ``round``.

    Parameters
    ----------
    actions : iterable of Action
        Records of any rounds (an action updated in ``round`` — same ``action_id`` — gives
        its latest status; its record of the round before gives the action).
    scores : Scores
        Scores of both rounds (``items.value`` and ``items.status`` per assessment × item).
    round : str
        The round whose answers judge the actions: the actions recorded in the round
        before it (:func:`guidekit.answers.sorted_rounds` of the actions' and scores'
        rounds) are classified.
    on : date, optional
        Reference date of ``overdue`` (default: today in Taipei).

    Returns
    -------
    DataFrame
        One row per action of the previous round, columns :data:`OUTCOME_COLUMNS`: the
        action's columns with its latest ``status`` (strings; ``round`` is ``round``,
        ``recorded_round`` the round it was recorded in), ``principle_id``, ``outcome``
        (:class:`Outcome` value), ``overdue`` (bool), ``value_before`` / ``value_after``
        (float, the item's combined answer on its scale; NaN: none), ``status_before`` /
        ``status_after`` (the item's combined status, ``""`` if the assessment is missing)
        and ``target_reached`` (boolean; <NA> without a target or a value).  Overdue
        actions first, then by agency, principle and item.  Empty when there is no
        earlier round.
    """
    on = on or i18n.today()
    actions = list(actions)
    rounds = sorted_rounds([*(a.round for a in actions), *scores.items["round"], round])
    earlier = [r for r in rounds if round_key(r) < round_key(round)]
    if not earlier:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in OUTCOME_COLUMNS})
    previous = earlier[-1]
    updates = {a.action_id: a for a in actions if a.round == round}
    items = scores.items
    by_slot = {
        key: (value, status)
        for key, value, status in zip(
            zip(*(items[c] for c in (*KEY, "item_id")), strict=True),
            items["value"].astype(float),
            items["status"].astype(str),
            strict=True,
        )
    }
    fw = scores.framework
    rows = []
    for action in latest_records(actions, before=round):
        if action.round != previous:
            continue
        latest = updates.get(action.action_id, action)
        before = by_slot.get(_slot(action, previous), (math.nan, ""))
        after = by_slot.get(_slot(action, round), (math.nan, ""))
        outcome = _outcome(latest.status, before[0], after[0])
        target = _target_reached(fw, action, after[0])
        item = fw.find_item(action.item_id)
        rows.append(
            {
                **latest.row(),
                "round": round,
                "principle_id": item.principle if item is not None else "",
                "recorded_round": action.round,
                "outcome": outcome.value,
                "overdue": is_overdue(latest, on),
                "value_before": before[0],
                "value_after": after[0],
                "status_before": before[1],
                "status_after": after[1],
                "target_reached": target,
            }
        )
    frame = pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))
    for column in OUTCOME_COLUMNS:
        if column in ("value_before", "value_after"):
            frame[column] = frame[column].astype(float)
        elif column == "overdue":
            frame[column] = frame[column].astype(bool)
        elif column == "target_reached":
            frame[column] = frame[column].astype("boolean")
        else:
            frame[column] = frame[column].astype("string")
    order = {p.id: n for n, p in enumerate(fw.principles)}
    return (
        frame.assign(_p=frame["principle_id"].map(order), _o=~frame["overdue"])
        .sort_values(["_o", "agency_id", "_p", "item_id", "action_id"], kind="stable")
        .drop(columns=["_p", "_o"])
        .reset_index(drop=True)
    )


def _slot(action: Action, round: str) -> tuple[str, str, str, str, str]:
    return (round, action.agency_id, action.service, action.instrument, action.item_id)


def _outcome(status: ActionStatus, before: float, after: float) -> Outcome:
    if status is ActionStatus.DROPPED:
        return Outcome.DROPPED
    if status is not ActionStatus.DONE:
        return Outcome.NOT_DONE
    if math.isnan(before) or math.isnan(after):
        return Outcome.DONE_UNKNOWN
    return Outcome.DONE_IMPROVED if after > before else Outcome.DONE_NO_CHANGE


def _target_reached(fw: object, action: Action, value: float) -> bool | None:
    if not action.target or math.isnan(value):
        return None
    scale = fw.scale(action.instrument)  # type: ignore[attr-defined]
    option = scale.option_for(action.target)
    if option is None or option.value is None:
        return None
    return bool(value >= option.value)


def outcome_counts(outcomes: pd.DataFrame) -> pd.DataFrame:
    """How many of last round's actions had each outcome (and how many were overdue).

    Returns
    -------
    DataFrame
        One row per :class:`Outcome` in order: ``outcome``, ``n`` (int), ``n_overdue`` (int).
    """
    rows = []
    for outcome in Outcome:
        part = outcomes[outcomes["outcome"] == outcome.value]
        rows.append(
            {"outcome": outcome.value, "n": len(part), "n_overdue": int(part["overdue"].sum())}
        )
    return pd.DataFrame(rows, columns=["outcome", "n", "n_overdue"])


def unmatched_actions(actions: Iterable[Action], *scores: Scores | None) -> list[Action]:
    """Actions that belong to no assessment of ``scores`` (their agency, service and
    instrument): a service spelt another way or left blank, an agency not in the answers.
    No report shows them, so the batch names them."""
    known = {
        (r.agency_id, r.service, r.instrument)
        for s in scores
        if s is not None
        for r in s.overall.itertuples()
    }
    return [a for a in actions if (a.agency_id, a.service, a.instrument) not in known]
