"""Reliability of the answers: internal consistency and agreement between respondents.

Two published statistics, each computed on answers' values on their scale
(:func:`guidekit.scoring.answer_values`; 不適用 and unanswered are missing,
never zero):

* **Cronbach's alpha** per principle — do the check items of one principle
  measure one thing?  Cronbach, L. J. (1951). Coefficient alpha and the
  internal structure of tests. *Psychometrika* 16(3), 297–334::

      α = k / (k − 1) · (1 − Σᵢ s²ᵢ / s²ₓ)

  with k items, s²ᵢ the variance of item i and s²ₓ the variance of the sum of
  the k items, over the rows (respondents or assessments) that answered all k
  items (listwise deletion).

* **Krippendorff's alpha** between the respondents of one assessment — do
  colleagues of one agency answer alike?  Krippendorff, K. (2011). *Computing
  Krippendorff's Alpha-Reliability*. Annenberg School for Communication,
  University of Pennsylvania, Departmental Papers 43; computed with the
  maintained ``krippendorff`` package (Castro, fast-krippendorff).  Items are
  the units, respondents the coders; missing answers are allowed; the
  *ordinal* metric for ordinal scales (符合 > 部分符合 > 不符合), *interval*
  for continuous ones.  α = 1 − D_o / D_e: 1 is perfect agreement, 0 is what
  chance would give, below 0 systematic disagreement.  It was chosen over
  r_wg (James, Demaree & Wolf, 1984) because it handles any number of
  respondents, missing answers and ordinal data in one coefficient.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from guidekit import i18n
from guidekit.answers import Responses
from guidekit.scoring import KEY, answer_values

__all__ = ["alpha_by_principle", "cronbach_alpha", "krippendorff_alpha", "respondent_agreement"]


def cronbach_alpha(matrix: pd.DataFrame | np.ndarray) -> float:
    """Cronbach's alpha of a rows × items matrix (rows with a missing value are dropped).

    Returns NaN when fewer than 2 items, fewer than 2 complete rows, or when
    the total score does not vary (alpha is undefined).  Rows with a missing or
    infinite value are dropped.

    Raises
    ------
    GuidekitError
        If ``matrix`` is not two-dimensional.
    """
    values = np.asarray(matrix, dtype=float)
    if values.ndim != 2:
        raise i18n.error("research.error.matrix")
    values = values[np.isfinite(values).all(axis=1)]
    n, k = values.shape
    if k < 2 or n < 2:
        return math.nan
    item_var = values.var(axis=0, ddof=1).sum()
    total_var = values.sum(axis=1).var(ddof=1)
    if total_var == 0:
        return math.nan
    return float(k / (k - 1) * (1 - item_var / total_var))


def alpha_by_principle(
    responses: Responses,
    unit: str = "respondent",
    round: str | None = None,
) -> pd.DataFrame:
    """Cronbach's alpha of each principle's items, per round and form.

    Parameters
    ----------
    responses : Responses
    unit : {"respondent", "assessment"}
        Rows of the matrix: each respondent's own answers (default), or each
        assessment's combined item value (the respondents' median, as scored).
    round : str, optional
        Only this round (default: every round, one row each).

    Returns
    -------
    DataFrame
        One row per (round, instrument, principle): ``round, instrument,
        principle_id, k`` (items), ``n`` (complete rows used), ``n_dropped``
        (rows with an N/A or unanswered item of the principle), ``alpha``
        (NaN when undefined: k < 2, n < 2 or no variance).
    """
    fw = responses.framework
    frame = responses.frame
    if round is not None:
        frame = frame[frame["round"] == round]
    valued = answer_values(frame, fw)
    bank = fw.items_frame()[["item_id", "principle_id"]]
    valued = valued.merge(bank, on="item_id", how="inner")
    rows_key = [*KEY, "respondent"] if unit == "respondent" else list(KEY)
    if unit not in ("respondent", "assessment"):
        raise i18n.error(
            "research.error.argument", name="unit", allowed="respondent, assessment", value=unit
        )
    out = []
    for (rnd, inst, pid), group in valued.groupby(
        ["round", "instrument", "principle_id"], sort=True
    ):
        items = [i.id for i in fw.items[inst] if i.principle == pid]
        # one value per row × item: a respondent's answer, or the respondents' median
        how = "first" if unit == "respondent" else "median"
        matrix = (
            group.groupby([*rows_key, "item_id"], sort=True)["value"].agg(how).unstack("item_id")
        )
        matrix = matrix.reindex(columns=items)
        complete = matrix.dropna(how="any")
        out.append(
            {
                "round": rnd,
                "instrument": inst,
                "principle_id": pid,
                "k": len(items),
                "n": len(complete),
                "n_dropped": len(matrix) - len(complete),
                "alpha": cronbach_alpha(complete),
            }
        )
    columns = ["round", "instrument", "principle_id", "k", "n", "n_dropped", "alpha"]
    result = pd.DataFrame(out, columns=columns)
    order = {p.id: n for n, p in enumerate(fw.principles)}
    result = result.assign(_o=result["principle_id"].map(order)).sort_values(
        ["round", "instrument", "_o"]
    )
    return result.drop(columns="_o").reset_index(drop=True)


def krippendorff_alpha(
    reliability: np.ndarray, level: str = "ordinal", value_domain: list[float] | None = None
) -> float:
    """Krippendorff's alpha of a coders × units matrix (NaN = missing), via ``krippendorff``.

    Returns NaN when it is undefined: fewer than 2 coders, no unit rated by two
    coders, or only one value ever used (no expected disagreement).
    """
    import krippendorff

    data = np.asarray(reliability, dtype=float)
    if data.ndim != 2 or data.shape[0] < 2:
        return math.nan
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    if not pairable.any():
        return math.nan
    data = data[:, pairable]
    observed = np.unique(data[~np.isnan(data)])
    if len(observed) < 2:
        return math.nan
    domain = (
        sorted(set(value_domain or []) | set(observed.tolist())) if level == "ordinal" else None
    )
    try:
        return float(
            krippendorff.alpha(
                reliability_data=data, level_of_measurement=level, value_domain=domain
            )
        )
    except (ValueError, ZeroDivisionError):
        return math.nan


def respondent_agreement(responses: Responses, by: str = "assessment") -> pd.DataFrame:
    """Agreement between the respondents of each assessment (Krippendorff's alpha).

    Parameters
    ----------
    responses : Responses
    by : {"assessment", "principle"}
        One coefficient per assessment (all its items are the units), or per
        assessment × principle (fewer units: less stable).

    Returns
    -------
    DataFrame
        One row per assessment (× principle): ``round, agency_id, service,
        instrument, agency_name`` [``principle_id``], ``n_respondents``,
        ``n_units`` (items answered substantively by at least two
        respondents), ``exact_agreement`` (share of those items on which every
        respondent gave the same answer, 0–1), ``alpha`` (Krippendorff's
        alpha; NaN when undefined, e.g. a single respondent or everybody
        always giving the same answer), ``metric`` (``ordinal`` /
        ``interval``).
    """
    if by not in ("assessment", "principle"):
        raise i18n.error(
            "research.error.argument", name="by", allowed="assessment, principle", value=by
        )
    fw = responses.framework
    valued = answer_values(responses.frame, fw)
    bank = fw.items_frame()[["item_id", "principle_id", "order"]]
    valued = valued.merge(bank, on="item_id", how="inner")
    group_key = list(KEY) + (["principle_id"] if by == "principle" else [])
    out = []
    for key, group in valued.groupby(group_key, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        record = dict(zip(group_key, key, strict=True))
        scale = fw.scale(record["instrument"])
        level = "ordinal" if scale.kind == "ordinal" else "interval"
        domain = sorted(o.value for o in scale.options if o.value is not None)
        matrix = group.pivot_table(
            index="respondent", columns="item_id", values="value", aggfunc="first", dropna=False
        )
        data = matrix.to_numpy(dtype=float)
        rated = (~np.isnan(data)).sum(axis=0)
        pairable = data[:, rated >= 2]
        same = [len(np.unique(col[~np.isnan(col)])) == 1 for col in pairable.T]
        out.append(
            {
                **record,
                "agency_name": group["agency_name"].iloc[0],
                "n_respondents": int(group["respondent"].nunique()),
                "n_units": int(pairable.shape[1]),
                "exact_agreement": float(np.mean(same)) if same else math.nan,
                "alpha": krippendorff_alpha(data, level, domain),
                "metric": level,
            }
        )
    columns = [
        *KEY,
        "agency_name",
        *(["principle_id"] if by == "principle" else []),
        "n_respondents",
        "n_units",
        "exact_agreement",
        "alpha",
        "metric",
    ]
    return pd.DataFrame(out, columns=columns)
