"""Weight sensitivity: how far agencies' scores and positions move when principle weights vary.

In the manner of the OECD/JRC *Handbook on Constructing Composite Indicators:
Methodology and User Guide* (OECD, 2008), §1.7 and Step 7 "Uncertainty and
sensitivity analysis": the weights are an uncertain input, so the composite is
recomputed under many plausible weightings and each unit's score and rank are
reported as **ranges** (5th–95th percentile, as in Saisana, Saltelli &
Tarantola, 2005, *J. R. Statist. Soc. A* 168(2), 307–323) rather than as one
league table.

Two designs:

* ``"montecarlo"`` (default): ``draws`` weighting schemes, each principle's
  weight multiplied by an independent uniform factor in
  ``[1 − spread, 1 + spread]`` (default ±20 %);
* ``"one_at_a_time"``: 2 × P schemes, one principle's weight at a time
  multiplied by ``1 − spread`` and by ``1 + spread``.

Principle scores do not depend on principle weights, so each scheme's overall
scores are re-aggregated from them with the rules of :mod:`guidekit.scoring`
(:func:`~guidekit.scoring.overall_from_principle_scores`); nothing is re-read
or re-scored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from guidekit import i18n
from guidekit.scoring import KEY, Scores, overall_from_principle_scores

__all__ = ["weight_schemes", "weight_sensitivity"]


def weight_schemes(
    base: np.ndarray,
    spread: float = 0.2,
    draws: int = 1000,
    seed: int = 20080101,
    method: str = "montecarlo",
) -> np.ndarray:
    """Weighting schemes around ``base`` weights.

    Returns
    -------
    ndarray, shape (S, P)
        ``montecarlo``: S = ``draws``; ``one_at_a_time``: S = 2P (rows 2i and
        2i+1 change principle i by −spread and +spread).

    Raises
    ------
    GuidekitError
        If ``spread`` is not in [0, 1), ``draws`` < 1 or the method is unknown.
    """
    base = np.asarray(base, dtype=float)
    if not 0 <= spread < 1:
        raise i18n.error(
            "research.error.argument",
            name="spread",
            allowed="0 ≤ spread < 1 (0.2 = ±20 %)",
            value=spread,
        )
    if method == "montecarlo":
        if draws < 1:
            raise i18n.error("research.error.argument", name="draws", allowed="≥ 1", value=draws)
        rng = np.random.default_rng(seed)
        return base * rng.uniform(1 - spread, 1 + spread, size=(draws, len(base)))
    if method == "one_at_a_time":
        schemes = np.repeat(base[None, :], 2 * len(base), axis=0)
        for i in range(len(base)):
            schemes[2 * i, i] *= 1 - spread
            schemes[2 * i + 1, i] *= 1 + spread
        return schemes
    raise i18n.error(
        "research.error.argument", name="method", allowed="montecarlo, one_at_a_time", value=method
    )


def _spread(values: np.ndarray, ends: tuple[str, str]) -> dict[str, np.ndarray]:
    """Lowest, 5th percentile, median, 95th percentile and highest of ``values`` (S, A) over
    the schemes (axis 0), NaN ignored; ``ends`` names the lowest and highest."""
    return {
        ends[0]: np.nanmin(values, axis=0),
        "p05": np.nanpercentile(values, 5, axis=0),
        "median": np.nanmedian(values, axis=0),
        "p95": np.nanpercentile(values, 95, axis=0),
        ends[1]: np.nanmax(values, axis=0),
    }


def _ranks(values: np.ndarray) -> np.ndarray:
    """Competition ranks per row (1 = highest; ties share the best rank; NaN stays NaN)."""
    out = np.full(values.shape, np.nan)
    for r in range(values.shape[0]):
        row = values[r]
        ok = ~np.isnan(row)
        s = pd.Series(row[ok])
        out[r, ok] = s.rank(ascending=False, method="min").to_numpy()
    return out


def weight_sensitivity(
    scores: Scores,
    spread: float = 0.2,
    draws: int = 1000,
    seed: int = 20080101,
    method: str = "montecarlo",
    round: str | None = None,
    instrument: str | None = None,
) -> pd.DataFrame:
    """Range of each assessment's overall score and rank when principle weights vary.

    Ranks are among the assessments of the same round and form (1 = highest
    score; ties share the best rank) and are shown as ranges, never as one
    position.

    Parameters
    ----------
    scores : Scores
    spread : float, default 0.2
        Relative change of each weight (0.2 = ±20 %).
    draws : int, default 1000
        Monte Carlo schemes (ignored for ``one_at_a_time``).
    seed : int
        Seed of the Monte Carlo draws (results are reproducible).
    method : {"montecarlo", "one_at_a_time"}
    round, instrument : str, optional
        Only these assessments (default: all, ranked within round × form).

    Returns
    -------
    DataFrame
        One row per assessment with a score: ``round, agency_id, service,
        instrument, agency_name``, ``score`` (with the framework's weights,
        0–100), ``score_min, score_p05, score_median, score_p95, score_max``
        over the schemes, ``rank`` (with the framework's weights), ``rank_best,
        rank_p05, rank_median, rank_p95, rank_worst`` (p05 ≤ p95 are the
        5th/95th percentiles of the rank, i.e. the better and worse end of the
        usual range), ``rank_span`` (rank_p95 − rank_p05), ``n_peers``
        (assessments ranked together).  ``.attrs`` records ``method, spread,
        draws, seed, schemes`` (number of schemes).
    """
    fw = scores.framework
    principle_ids = [p.id for p in fw.principles]
    overall = scores.overall
    if round is not None:
        overall = overall[overall["round"] == round]
    if instrument is not None:
        overall = overall[overall["instrument"] == instrument]
    overall = overall[overall["score"].notna()]
    base = np.array([scores.weights[p] for p in principle_ids], dtype=float)
    schemes = weight_schemes(base, spread, draws, seed, method)
    dim_weights = np.array([scores.weights[d.id] for d in fw.dimensions], dtype=float)
    matrix = scores.principles.pivot(index=KEY, columns="principle_id", values="score")
    matrix = matrix.reindex(columns=principle_ids)

    parts = []
    for (_rnd, _inst), group in overall.groupby(["round", "instrument"], sort=True):
        keys = pd.MultiIndex.from_frame(group[KEY])
        values = matrix.reindex(keys).to_numpy(dtype=float)  # (A, P)
        nominal = overall_from_principle_scores(values, fw, base, dim_weights)[0]
        varied = overall_from_principle_scores(values, fw, schemes, dim_weights)  # (S, A)
        ranks = _ranks(varied)
        nominal_rank = _ranks(nominal[None, :])[0]
        part = group[[*KEY, "agency_name"]].reset_index(drop=True)
        part["score"] = nominal
        for name, value in _spread(varied, ("min", "max")).items():
            part[f"score_{name}"] = value
        part["rank"] = nominal_rank
        for name, value in _spread(ranks, ("best", "worst")).items():
            part[f"rank_{name}"] = value
        part["rank_span"] = part["rank_p95"] - part["rank_p05"]
        part["n_peers"] = len(group)
        parts.append(part)
    columns = [
        *KEY,
        "agency_name",
        "score",
        "score_min",
        "score_p05",
        "score_median",
        "score_p95",
        "score_max",
        "rank",
        "rank_best",
        "rank_p05",
        "rank_median",
        "rank_p95",
        "rank_worst",
        "rank_span",
        "n_peers",
    ]
    out = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    out.attrs.update(
        {
            "method": method,
            "spread": spread,
            "draws": draws if method == "montecarlo" else 0,
            "seed": seed,
            "schemes": len(schemes),
        }
    )
    return out
