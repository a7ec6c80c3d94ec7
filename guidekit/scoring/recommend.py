"""Supporting measures (配套措施, 附件3) recommended for an assessment's answers.

A measure is recommended when any of its ``when`` conditions holds (see
:class:`guidekit.framework.Condition`): one of the listed items has one of the
listed aggregated statuses, or a principle's score is below a threshold.  The
rule lives here only; the conditions themselves are data.
"""

from __future__ import annotations

import math

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
