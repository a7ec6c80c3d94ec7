"""Supporting measures (配套措施, 附件3) recommended for an assessment's answers.

A measure is recommended when any of its ``when`` conditions holds (see
:class:`guidekit.framework.Condition`): one of the listed items has one of the
listed aggregated statuses, or a principle's score is below a threshold.  The
rule lives here only; the conditions themselves are data.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pandas as pd

from guidekit.framework import Framework

COLUMNS = ["measure_id", "stage", "principles", "reasons"]


def recommend(items: pd.DataFrame, principles: pd.DataFrame, framework: Framework) -> pd.DataFrame:
    """Measures recommended for ONE assessment.

    Parameters
    ----------
    items, principles : DataFrame
        ``Scores.items`` / ``Scores.principles`` rows of a single assessment.
    framework : Framework

    Returns
    -------
    DataFrame
        One row per recommended measure, in framework order: ``measure_id``,
        ``stage``, ``principles`` (tuple of principle ids), ``reasons`` (list of
        dicts: ``{"kind": "item", "item_id", "status"}`` or ``{"kind":
        "principle", "principle_id", "score", "threshold"}``).
    """
    status = dict(zip(items["item_id"], items["status"], strict=True))
    scores = dict(zip(principles["principle_id"], principles["score"], strict=True))
    rows = []
    for measure in framework.measures:
        reasons: list[dict] = []
        for cond in measure.when:
            if cond.items:
                for item_id in cond.items:
                    if item_id in status and status[item_id] in cond.status:
                        reasons.append(
                            {"kind": "item", "item_id": item_id, "status": status[item_id]}
                        )
            elif cond.principle is not None and cond.score_below is not None:
                value = scores.get(cond.principle)
                if value is not None and not math.isnan(value) and value < cond.score_below:
                    reasons.append(
                        {
                            "kind": "principle",
                            "principle_id": cond.principle,
                            "score": float(value),
                            "threshold": cond.score_below,
                        }
                    )
        if reasons:
            rows.append(
                {
                    "measure_id": measure.id,
                    "stage": measure.stage,
                    "principles": tuple(measure.principles),
                    "reasons": reasons,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def measures_for_item(framework: Framework, item_id: str) -> list[str]:
    """Ids of the supporting measures a gap in ``item_id`` recommends (a ``when`` condition
    naming the item), in framework order: what the workshop offers beside the item's
    "add an action"."""
    return [m.id for m in framework.measures if any(item_id in c.items for c in m.when)]


# -- priorities: what an agency should do first ----------------------------------------

#: How much one reason makes a measure relevant: a major item not met weighs most, then
#: a principle scoring below the measure's threshold, an item not met, an item partly met.
RELEVANCE = {"major": 3.0, "principle": 2.0, "not_met": 2.0, "partial": 1.0}


@dataclasses.dataclass
class Priority:
    """One thing to do first, as the report's first page shows it.

    A priority is a principle (原則): first the principles with major items (大項) not
    met, then the principles with the largest gaps.  Built by :func:`priorities` only.

    Attributes
    ----------
    rank : int
        1 for the first priority.
    principle_id : str
    kind : {"major", "gap"}
        ``"major"`` when major items of the principle are not met, else ``"gap"``.
    score : float
        The principle's score, 0–100 (NaN when no applicable answers).
    major_items : tuple of str
        Major items not met in this principle, in framework order.
    measures : tuple of str
        Recommended supporting measures (配套措施, 附件3) for it, most relevant first.
    actions : list
        Improvement actions recorded for this priority (owner, due date, status);
        empty until they are recorded.
    """

    rank: int
    principle_id: str
    kind: str
    score: float
    major_items: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()
    actions: list[Any] = dataclasses.field(default_factory=list)


def _weight(reason: dict, majors: set[str], principle_of: dict[str, str], within: str | None):
    """Relevance of one reason of a measure, to one principle (``within``) or overall."""
    if reason["kind"] == "principle":
        return RELEVANCE["principle"] if within in (None, reason["principle_id"]) else 0.0
    item = reason["item_id"]
    if within is not None and principle_of.get(item) != within:
        return 0.0
    if item in majors:
        return RELEVANCE["major"]
    return RELEVANCE.get(str(reason["status"]), 0.0)


def ranked(chosen: pd.DataFrame, items: pd.DataFrame, principle_id: str | None = None) -> list[str]:
    """Recommended measures (rows of :func:`recommend`) most relevant first.

    A measure that answers major items (大項) not met comes before one that answers none
    (the more such items, the earlier): the guideline's must-haves first.  Then relevance
    adds up the measure's reasons (:data:`RELEVANCE`).  With ``principle_id`` only the
    reasons about that principle count, and measures without one are left out.  Ties
    keep framework order.

    Parameters
    ----------
    chosen : DataFrame
        :func:`recommend`'s result for one assessment.
    items : DataFrame
        ``Scores.items`` rows of the same assessment (``item_id``, ``principle_id``,
        ``major_not_met``).
    principle_id : str, optional

    Returns
    -------
    list of str
        Measure ids.
    """
    majors = set(items.loc[items["major_not_met"].astype(bool), "item_id"])
    principle_of = dict(zip(items["item_id"], items["principle_id"], strict=True))
    scored = []
    for order, row in enumerate(chosen.itertuples(index=False)):
        weight = sum(_weight(r, majors, principle_of, principle_id) for r in row.reasons)
        answered = {
            r["item_id"]
            for r in row.reasons
            if r["kind"] == "item"
            and r["item_id"] in majors
            and principle_id in (None, principle_of.get(r["item_id"]))
        }
        if weight > 0:
            scored.append((-len(answered), -weight, order, row.measure_id))
    return [measure for *_, measure in sorted(scored)]


def priorities(
    items: pd.DataFrame,
    principles: pd.DataFrame,
    framework: Framework,
    limit: int = 3,
    per_priority: int = 3,
) -> list[Priority]:
    """What ONE assessment should do first: principles with major items not met (most
    such items first, then the lower score), then the principles with the largest gaps
    (lowest score first), each with its most relevant recommended measures.

    A principle is a gap when its score is below the framework's highest band (below
    100 when there are no bands).  A measure already listed under an earlier priority
    comes after the others, so the short lists name different measures where they can.

    Parameters
    ----------
    items, principles : DataFrame
        ``Scores.items`` / ``Scores.principles`` rows of a single assessment.
    framework : Framework
    limit : int
        Most priorities returned.
    per_priority : int
        Most measures per priority.

    Returns
    -------
    list of Priority
        Ranked 1, 2, …; empty when nothing falls short.
    """
    chosen = recommend(items, principles, framework)
    top = max((b.min for b in framework.bands), default=100.0)
    top = top if top > 0 else 100.0
    candidates = []
    for p in principles.itertuples(index=False):
        mine = items[
            (items["principle_id"] == p.principle_id) & items["major_not_met"].astype(bool)
        ]
        majors = tuple(mine["item_id"])
        value = float(p.score)
        if majors:
            candidates.append(((0, -len(majors), value), p.principle_id, "major", value, majors))
        elif not math.isnan(value) and value < top:
            candidates.append(((1, 0, value), p.principle_id, "gap", value, ()))
    candidates.sort(key=lambda c: c[0])
    out: list[Priority] = []
    seen: set[str] = set()
    for rank, (_, principle_id, kind, value, majors) in enumerate(candidates[:limit], start=1):
        order = ranked(chosen, items, principle_id)
        order = [m for m in order if m not in seen] + [m for m in order if m in seen]
        measures = tuple(order[:per_priority])
        seen.update(measures)
        out.append(Priority(rank, principle_id, kind, value, majors, measures))
    return out
