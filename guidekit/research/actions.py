"""Improvement actions across agencies and rounds, for researchers.

What is counted, never why: a done action followed by a better answer next round is
*followed by*, not *caused*; agencies choose which gaps get actions, and answers move for
many reasons.  Every table is long (one row per round × principle or round), with its
columns in the function's docstring.  Outcomes come from :mod:`guidekit.scoring.actions`
(the one home of the outcome rule), overdue from :func:`guidekit.answers.is_overdue`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from guidekit import i18n
from guidekit.answers import (
    Action,
    ActionStatus,
    actions_frame,
    carried_forward,
    is_overdue,
    sorted_rounds,
)
from guidekit.framework import Framework
from guidekit.intake import read_actions
from guidekit.paths import example_actions
from guidekit.scoring import Outcome, Scores, classify_outcomes, is_gap

#: Extra columns :func:`load_actions` adds to the action table.
EXTRA_COLUMNS = ("principle_id", "overdue", "on_time")


def load_actions(
    paths: str | Path | Sequence[str | Path] | None = None,
    framework: Framework | str | Path | None = None,
    *,
    today: dt.date | None = None,
) -> list[Action]:
    """Improvement actions of every agency and round (default: the bundled example's).

    Read and checked by :func:`guidekit.intake.read_actions` (files, folders or answer
    stores); warnings such as "past due" do not stop reading.

    Raises
    ------
    ActionsError
        If any file has an error.
    """
    return read_actions(
        paths if paths is not None else example_actions(), framework, today=today
    ).actions


def action_table(
    actions: Iterable[Action], framework: Framework, *, on: dt.date | None = None
) -> pd.DataFrame:
    """Actions as a table: one row per (round, action_id), the latest record of each
    action in that round.

    Returns
    -------
    DataFrame
        :data:`guidekit.answers.ACTION_COLUMNS` (string) plus ``principle_id`` (string),
        ``overdue`` (bool: open and due before ``on``, default today in Taipei) and
        ``on_time`` (boolean: done with a completion date on or before the due date;
        <NA> when not done or the completion date is unknown).
    """
    on = on or i18n.today()
    listed = list(actions)
    frame = actions_frame(listed)
    by_key = {(a.round, a.action_id): a for a in listed}
    records = [by_key[(r, i)] for r, i in zip(frame["round"], frame["action_id"], strict=True)]
    principle = {i.id: i.principle for bank in framework.items.values() for i in bank}
    frame["principle_id"] = pd.Series(
        [principle.get(a.item_id, "") for a in records], index=frame.index, dtype="string"
    )
    frame["overdue"] = pd.Series(
        [is_overdue(a, on) for a in records], index=frame.index, dtype=bool
    )
    frame["on_time"] = pd.Series(
        [
            (a.completed <= a.due)
            if a.status is ActionStatus.DONE and a.completed is not None
            else pd.NA
            for a in records
        ],
        index=frame.index,
        dtype="boolean",
    )
    return frame


def actions_by_principle(table: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    """Actions per round × principle, government-wide (every agency).

    Parameters
    ----------
    table : DataFrame
        :func:`action_table`.

    Returns
    -------
    DataFrame
        ``round, principle_id`` (string), ``n_actions, n_open`` (planned or in progress),
        ``n_done, n_dropped, n_overdue`` (int), in round and framework order; principles
        without actions have zeros.
    """
    rows = []
    for round_id in sorted_rounds(table["round"]):
        part = table[table["round"] == round_id]
        for p in framework.principles:
            mine = part[part["principle_id"] == p.id]
            status = mine["status"]
            rows.append(
                {
                    "round": round_id,
                    "principle_id": p.id,
                    "n_actions": len(mine),
                    "n_open": int(status.isin(["planned", "in_progress"]).sum()),
                    "n_done": int((status == "done").sum()),
                    "n_dropped": int((status == "dropped").sum()),
                    "n_overdue": int(mine["overdue"].sum()),
                }
            )
    out = pd.DataFrame(
        rows,
        columns=[
            "round",
            "principle_id",
            "n_actions",
            "n_open",
            "n_done",
            "n_dropped",
            "n_overdue",
        ],
    )
    return out.astype({"round": "string", "principle_id": "string"})


def gap_coverage(scores: Scores, actions: Iterable[Action]) -> pd.DataFrame:
    """The share of gaps with an action, per round × principle.

    A gap is an assessment × item whose combined status is partial or not met
    (:func:`guidekit.scoring.is_gap`); it has an action when an action of that round (or an
    earlier round's action still open, carried forward) names the item.

    Returns
    -------
    DataFrame
        ``round, principle_id`` (string), ``n_gaps, n_with_action`` (int), ``share``
        (float 0–1, NaN without gaps).
    """
    listed = list(actions)
    covered: set[tuple[str, str, str, str, str]] = set()
    for round_id in sorted_rounds(scores.items["round"]):
        for a in [*(a for a in listed if a.round == round_id), *carried_forward(listed, round_id)]:
            covered.add((round_id, a.agency_id, a.service, a.instrument, a.item_id))
    items = scores.items[scores.items["status"].astype(str).map(is_gap)]
    keys = zip(
        items["round"],
        items["agency_id"],
        items["service"],
        items["instrument"],
        items["item_id"],
        strict=True,
    )
    items = items.assign(with_action=[k in covered for k in keys])
    rows = []
    for round_id in sorted_rounds(scores.items["round"]):
        part = items[items["round"] == round_id]
        for p in scores.framework.principles:
            mine = part[part["principle_id"] == p.id]
            n = len(mine)
            k = int(mine["with_action"].sum())
            rows.append(
                {
                    "round": round_id,
                    "principle_id": p.id,
                    "n_gaps": n,
                    "n_with_action": k,
                    "share": k / n if n else float("nan"),
                }
            )
    out = pd.DataFrame(rows, columns=["round", "principle_id", "n_gaps", "n_with_action", "share"])
    return out.astype({"round": "string", "principle_id": "string"})


def completion(table: pd.DataFrame) -> pd.DataFrame:
    """Completion against due dates, per round (the status recorded in that round).

    Returns
    -------
    DataFrame
        ``round`` (string), ``n_actions, n_done, n_done_on_time, n_done_late,
        n_done_date_unknown, n_open, n_open_overdue, n_dropped`` (int).
    """
    rows = []
    for round_id in sorted_rounds(table["round"]):
        part = table[table["round"] == round_id]
        done = part[part["status"] == "done"]
        on_time = done["on_time"]
        open_ = part[part["status"].isin(["planned", "in_progress"])]
        rows.append(
            {
                "round": round_id,
                "n_actions": len(part),
                "n_done": len(done),
                "n_done_on_time": int((on_time == True).sum()),  # noqa: E712 - boolean with <NA>
                "n_done_late": int((on_time == False).sum()),  # noqa: E712
                "n_done_date_unknown": int(on_time.isna().sum()),
                "n_open": len(open_),
                "n_open_overdue": int(open_["overdue"].sum()),
                "n_dropped": int((part["status"] == "dropped").sum()),
            }
        )
    columns = [
        "round",
        "n_actions",
        "n_done",
        "n_done_on_time",
        "n_done_late",
        "n_done_date_unknown",
        "n_open",
        "n_open_overdue",
        "n_dropped",
    ]
    return pd.DataFrame(rows, columns=columns).astype({"round": "string"})


def followed_by(
    actions: Iterable[Action], scores: Scores, *, on: dt.date | None = None
) -> pd.DataFrame:
    """What followed each round's actions in the next round, per principle: counts of
    :class:`guidekit.scoring.Outcome` (done and the item's answer higher next round, done
    without a higher answer, not done, dropped).  Counts, not a causal claim.

    Returns
    -------
    DataFrame
        ``round`` (the round judged), ``principle_id`` (string), ``done_improved,
        done_no_change, done_unknown, not_done, dropped`` (int); rounds without an earlier round are left
        out.
    """
    listed = list(actions)
    outcomes = [
        classify_outcomes(listed, scores, r, on=on)
        for r in sorted_rounds([*scores.items["round"], *(a.round for a in listed)])[1:]
    ]
    columns = ["round", "principle_id", *(o.value for o in Outcome)]
    frames = [o for o in outcomes if not o.empty]
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype="string" if c in columns[:2] else "int64") for c in columns}
        )
    all_ = pd.concat(frames, ignore_index=True)
    counts = (
        all_.groupby(["round", "principle_id", "outcome"]).size().unstack("outcome", fill_value=0)
    )
    for outcome in columns[2:]:
        if outcome not in counts:
            counts[outcome] = 0
    out = counts[columns[2:]].reset_index()
    order = {p.id: n for n, p in enumerate(scores.framework.principles)}
    out = (
        out.assign(_o=out["principle_id"].map(order))
        .sort_values(["round", "_o"])
        .drop(columns="_o")
    )
    return out.astype({"round": "string", "principle_id": "string"}).reset_index(drop=True)
