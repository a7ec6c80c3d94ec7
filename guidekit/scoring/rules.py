"""Scoring: the one home of every rule that turns answers into indicative scores.

Rules (each tested against hand-computed values in ``tests/test_scoring.py``):

1. **Unit.** An *assessment* is one (round, agency, service, instrument); its
   answers come from one or more respondents (填答者).
2. **Respondents → item** (framework ``scoring.respondents: median``). Per item,
   the respondents' substantive answers are combined by their median on the
   scale (the mean of the two middle values when their number is even).  不適用
   answers are counted apart: the item is N/A for the agency only when N/A
   answers outnumber substantive ones.  An item nobody answered is
   *unanswered*; unanswered is never an answer and never a zero.
3. **Disagreement.** Respondents disagree on an item when their substantive
   answers span at least the scale's ``disagreement_spread`` points, or when
   some said N/A and others gave a substantive answer.
4. **Item score** = (value − scale low) / (scale high − scale low) × 100, then
   normalised across the assessments of a round and instrument when the
   framework asks for ``minmax`` or ``zscore`` (OECD/JRC *Handbook on
   Constructing Composite Indicators*, 2008, §5).
5. **Status** of an item from the scale thresholds: ``met`` (≥ met_value),
   ``not_met`` (< not_met_below), else ``partial``; plus ``na`` / ``unanswered``.
   A **major item (大項) not met** is flagged whatever the averages say.
6. **Aggregation** item → principle → dimension and principle (or dimension) →
   overall: weighted arithmetic (or geometric) means over the parts that have a
   score; N/A and unanswered parts are left out of the denominator and counted.
7. **Coverage** = (items answered + items N/A) / items in the bank, per level.
8. **Bands** come from the framework data (``bands``).
9. **Position against peers**: among the assessments of the same round and
   instrument, the quartile band of a score (``Q4`` = top quarter, score ≥ Q3;
   ``Q1`` = bottom quarter, score < Q1), quartiles by linear interpolation
   (numpy's default, Hyndman & Fan type 7).  Suppressed (NA) when fewer than
   ``min_peer_group`` assessments have a score.

Scores are floats 0–100 (z-score normalisation gives standard-deviation units
instead); NaN only where there are no applicable answers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from guidekit.answers import AGREED_RESPONDENT, Responses
from guidekit.framework import Framework, Scale, check_weight
from guidekit.problems import GuidekitError

#: Columns identifying an assessment.
KEY = ["round", "agency_id", "service", "instrument"]

#: Quartile band labels, from the bottom quarter to the top quarter.
QUARTILES = ("Q1", "Q2", "Q3", "Q4")


@dataclasses.dataclass
class Scores:
    """Scores of every assessment in a set of responses.

    Every table has the assessment key ``round, agency_id, service, instrument``
    and ``agency_name`` (strings).  Scores are float 0–100 (NaN = no applicable
    answers), counts are int, flags bool.

    Attributes
    ----------
    items : DataFrame
        One row per assessment × item of its instrument: key, ``agency_name,
        item_id, principle_id, dimension_id, major, weight, n_respondents,
        n_answered, n_na, na_reasons`` (the notes of the 不適用 answers, one
        "respondent: note" per line), ``n_unanswered, value`` (median on the scale), ``low,
        high`` (lowest / highest answer), ``spread``, ``score``, ``status``
        (met / partial / not_met / na / unanswered), ``disagreement``,
        ``major_not_met``.
    principles : DataFrame
        One row per assessment × principle: key, ``agency_name, principle_id,
        dimension_id, weight, score, band, n_items, n_scored, n_na,
        n_unanswered, coverage, low_coverage, n_major_not_met,
        n_disagreements, quartile, peer_n``.
    dimensions : DataFrame
        One row per assessment × dimension: key, ``agency_name, dimension_id,
        weight, score, band, n_items, n_scored, n_na, n_unanswered, coverage,
        low_coverage``.
    overall : DataFrame
        One row per assessment: key, ``agency_name, n_respondents`` (people who
        answered at least one item), ``has_agreed`` (the team recorded agreed
        answers), ``score, band,
        n_items, n_scored, n_na, n_unanswered, coverage, low_coverage,
        n_major_not_met, n_disagreements, quartile, peer_n, framework_version``.
        ``low_coverage`` (every level): coverage below the framework's
        ``scoring.low_coverage_below`` — read such a score with care.
    peers : DataFrame
        One row per (round, instrument, level, level_id): ``n`` (assessments with
        a score), ``q1, median, q3`` (NaN when suppressed), ``suppressed``.
        ``level`` is ``principle``, ``dimension`` or ``overall`` (level_id ``""``).
    framework : Framework
    weights : dict
        The weights used (principle, dimension and item ids → weight).
    """

    items: pd.DataFrame
    principles: pd.DataFrame
    dimensions: pd.DataFrame
    overall: pd.DataFrame
    peers: pd.DataFrame
    framework: Framework
    weights: dict[str, float]

    def assessment(
        self,
        agency_id: str,
        round: str | None = None,
        instrument: str | None = None,
        service: str | None = None,
    ) -> Scores:
        """Scores of one agency only (optionally one round / instrument / service).

        Peer statistics are kept whole (they describe the round).
        """

        def pick(df: pd.DataFrame) -> pd.DataFrame:
            mask = df["agency_id"] == agency_id
            if round is not None:
                mask &= df["round"] == round
            if instrument is not None:
                mask &= df["instrument"] == instrument
            if service is not None:
                mask &= df["service"] == service
            return df[mask].reset_index(drop=True)

        return dataclasses.replace(
            self,
            items=pick(self.items),
            principles=pick(self.principles),
            dimensions=pick(self.dimensions),
            overall=pick(self.overall),
        )

    def wide(self, level: str = "principle") -> pd.DataFrame:
        """Scores as a wide table: one row per assessment, one column per principle
        (or dimension) id, plus ``overall``."""
        table = self.principles if level == "principle" else self.dimensions
        column = "principle_id" if level == "principle" else "dimension_id"
        # unstack keeps only the assessments that exist (pivot_table with dropna=False
        # would cross every key column with every other).
        wide = table.set_index([*KEY, "agency_name", column])["score"].unstack(column)
        order = list(dict.fromkeys(table[column]))
        wide = wide[order]
        wide.columns.name = None
        overall = self.overall.set_index([*KEY, "agency_name"])["score"].rename("overall")
        return wide.join(overall).reset_index()


#: Column score() adds to its copy of the answers: the assessment's number.
_ASSESSMENT = "_assessment"


def score(
    responses: Responses,
    weights: Mapping[str, float] | None = None,
) -> Scores:
    """Score every assessment in ``responses``.

    Parameters
    ----------
    responses : Responses
        As returned by :func:`guidekit.read_responses`.
    weights : mapping of id to float, optional
        Overrides of the framework's weights, keyed by principle id (``"P01"``),
        dimension id (``"A"``) or item id.  Each weight is a number from
        ``WEIGHT_MIN`` (1e-6) to ``WEIGHT_MAX`` (1e6), :func:`guidekit.framework.check_weight`,
        so no weighted sum overflows.  Default: the weights in the framework data
        (equal by default).

    Returns
    -------
    Scores

    Raises
    ------
    GuidekitError
        If a weight names an unknown id or is not a number within those bounds.
    """
    fw = responses.framework
    used = _weights(fw, weights)
    # each assessment numbered once (factorising its four text columns over every answer
    # is most of the cost of grouping): the steps below group by the number
    frame = responses.frame.assign(
        **{_ASSESSMENT: responses.frame.groupby(KEY, sort=False, dropna=False).ngroup()}
    )
    assessments = _assessments(frame)
    items = _item_table(frame, fw, used, assessments)
    principles = _principle_table(items, fw, used)
    dimensions = _dimension_table(items, principles, fw, used)
    overall = _overall_table(frame, items, principles, dimensions, fw, used, assessments)
    peers = _peers(principles, dimensions, overall, fw)
    principles = _attach_quartiles(principles, peers, "principle", "principle_id")
    overall = _attach_quartiles(overall, peers, "overall", None)
    return Scores(items, principles, dimensions, overall, peers, fw, used)


# -- weights ----------------------------------------------------------------------


def _weights(fw: Framework, overrides: Mapping[str, float] | None) -> dict[str, float]:
    weights: dict[str, float] = {p.id: p.weight for p in fw.principles}
    weights.update({d.id: d.weight for d in fw.dimensions})
    weights.update({i.id: i.weight for bank in fw.items.values() for i in bank})
    for key, value in (overrides or {}).items():
        if key not in weights:
            raise GuidekitError(
                f"weight for unknown id {key!r} (expected a principle, dimension or item id)",
                zh=f"權重的代碼 {key!r} 不存在（應為原則、構面或檢核項目代碼）",
            )
        weights[key] = check_weight(value, f"weight of {key}", f"{key} 的權重")
    return weights


# -- items --------------------------------------------------------------------------


def answer_values(frame: pd.DataFrame, fw: Framework) -> pd.DataFrame:
    """The canonical table with each answer's place on its scale.

    Adds ``is_na`` (bool, 不適用), ``is_answered`` (bool, a substantive answer)
    and ``value`` (float on the instrument's scale; NaN for N/A and unanswered).
    """
    out = frame.copy()
    values = np.full(len(out), np.nan)
    is_na = np.zeros(len(out), dtype=bool)
    answers = out["answer"].to_numpy(dtype=object, na_value=None)
    instruments = out["instrument"].to_numpy(dtype=object, na_value=None)
    lookup: dict[str, tuple[Scale, dict[str, tuple[float | None, bool]]]] = {}
    for inst in fw.instruments:
        scale = fw.scale(inst.id)
        lookup[inst.id] = (scale, {o.code: (o.value, o.na) for o in scale.options})
    for inst, (_scale, codes) in lookup.items():
        rows = np.flatnonzero((instruments == inst) & (answers != None))  # noqa: E711
        if not len(rows):
            continue
        given = pd.Series(answers[rows], dtype=object)
        coded = given.isin(list(codes)).to_numpy()
        value_of = {c: np.nan if na else float(v) for c, (v, na) in codes.items()}  # type: ignore[arg-type]
        values[rows[coded]] = given[coded].map(value_of).to_numpy(dtype=float)
        is_na[rows[coded]] = given[coded].isin([c for c, (_, na) in codes.items() if na])
        for n, answer in zip(rows[~coded], given[~coded], strict=True):
            values[n] = float(answer)  # a number on a continuous scale
    out["is_na"] = is_na
    out["value"] = values
    out["is_answered"] = ~np.isnan(values)
    return out


def _assessments(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per assessment: key, agency_name, n_respondents, has_agreed.

    ``n_respondents`` counts the people who gave at least one answer (不適用
    included): a respondent whose every row is blank, and the team's agreed
    answers (:data:`~guidekit.intake.responses.AGREED_RESPONDENT`, not a person), are
    not respondents.  ``has_agreed`` says whether the team recorded agreed answers.
    """
    if frame.empty:
        return pd.DataFrame(columns=[*KEY, "agency_name", "n_respondents", "has_agreed"])
    answered = frame["answer"].notna()
    people = frame["respondent"].where(answered & (frame["respondent"] != AGREED_RESPONDENT))
    marked = frame.assign(
        _person=people, _agreed=answered & (frame["respondent"] == AGREED_RESPONDENT)
    )
    counts = {
        "agency_name": ("agency_name", "first"),
        "n_respondents": ("_person", "nunique"),
        "has_agreed": ("_agreed", "any"),
    }
    if _ASSESSMENT in frame.columns:  # numbered once by score(): group by the number
        table = (
            marked.groupby(_ASSESSMENT, sort=False)
            .agg(**{k: (k, "first") for k in KEY}, **counts)
            .sort_values(KEY, kind="stable", na_position="last")
            .reset_index(drop=True)
        )
    else:
        table = marked.groupby(KEY, sort=True, dropna=False).agg(**counts).reset_index()
    table["has_agreed"] = table["has_agreed"].astype(bool)
    return table


def _item_table(
    frame: pd.DataFrame,
    fw: Framework,
    weights: Mapping[str, float],
    assessments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    valued = answer_values(frame, fw)
    assessments = _assessments(frame) if assessments is None else assessments
    bank = fw.items_frame()[
        ["item_id", "instrument", "principle_id", "dimension_id", "major", "order"]
    ]
    grid = assessments.merge(bank, on="instrument", how="inner")
    grid["weight"] = grid["item_id"].map(weights).astype(float)

    ikey = [*KEY, "item_id"]
    # one integer per assessment × item, factorised once: the aggregations below group
    # by it (not by five text columns each time) and one merge brings them to the grid
    by = [_ASSESSMENT, "item_id"] if _ASSESSMENT in valued.columns else ikey
    valued["_g"] = valued.groupby(by, sort=False, dropna=False).ngroup().to_numpy()
    subst = valued[valued["is_answered"]]
    agg = subst.groupby("_g", sort=False)["value"].agg(
        value="median", low="min", high="max", n_answered="count"
    )
    na_rows = valued[valued["is_na"]]
    n_na = na_rows.groupby("_g", sort=False).size().rename("n_na")
    # The reasons respondents gave for 不適用, "respondent: note" per line (notes kept verbatim).
    reasons = (
        na_rows[na_rows["note"].fillna("").str.strip() != ""]
        .assign(_reason=lambda d: d["respondent"] + ": " + d["note"])
        .groupby("_g", sort=False)["_reason"]
        .agg("\n".join)
        .rename("na_reasons")
    )
    per_item = (
        valued.drop_duplicates("_g")[[*ikey, "_g"]]
        .set_index("_g")
        .join(agg)
        .join(n_na)
        .join(reasons)
        .reset_index(drop=True)
    )
    table = grid.merge(per_item, on=ikey, how="left")
    table["na_reasons"] = table["na_reasons"].fillna("").astype("string")
    table["n_answered"] = table["n_answered"].fillna(0).astype(int)
    table["n_na"] = table["n_na"].fillna(0).astype(int)
    # respondents who gave no answer here (the team's agreed answer is not a respondent's)
    table["n_unanswered"] = (
        (table["n_respondents"] - table["n_answered"] - table["n_na"]).clip(lower=0).astype(int)
    )
    table["spread"] = table["high"] - table["low"]

    # N/A for the agency only when N/A answers outnumber substantive ones.
    na_item = table["n_na"] > table["n_answered"]
    table.loc[na_item, ["value"]] = np.nan

    scores = np.full(len(table), np.nan)
    statuses = np.empty(len(table), dtype=object)
    disagreement = np.zeros(len(table), dtype=bool)
    for inst in fw.instruments:
        scale = fw.scale(inst.id)
        mask = (table["instrument"] == inst.id).to_numpy()
        if not mask.any():
            continue
        value = table.loc[mask, "value"].to_numpy(dtype=float)
        scores[mask] = (value - scale.low) / (scale.high - scale.low) * 100
        status = scale.statuses(value)
        n_ans = table.loc[mask, "n_answered"].to_numpy()
        n_na_m = table.loc[mask, "n_na"].to_numpy()
        status[na_item.to_numpy()[mask]] = "na"
        status[(n_ans == 0) & (n_na_m == 0)] = "unanswered"
        statuses[mask] = status
        spread_limit = scale.disagreement_spread
        spread = table.loc[mask, "spread"].to_numpy(dtype=float)
        mixed = (n_ans > 0) & (n_na_m > 0)
        wide = (spread >= spread_limit) if spread_limit is not None else np.zeros(mask.sum(), bool)
        disagreement[mask] = np.nan_to_num(wide, nan=0).astype(bool) | mixed
    table["score"] = scores
    table["status"] = statuses
    table["disagreement"] = disagreement
    table["major_not_met"] = table["major"].astype(bool) & (table["status"] == "not_met")
    table["score"] = _normalise(table, fw.scoring.normalisation)

    columns = [
        *KEY,
        "agency_name",
        "item_id",
        "principle_id",
        "dimension_id",
        "major",
        "weight",
        "n_respondents",
        "n_answered",
        "n_na",
        "na_reasons",
        "n_unanswered",
        "value",
        "low",
        "high",
        "spread",
        "score",
        "status",
        "disagreement",
        "major_not_met",
    ]
    table = table.sort_values([*KEY, "instrument", "order"], kind="stable")
    return table[columns].reset_index(drop=True)


def _normalise(table: pd.DataFrame, method: str) -> pd.Series:
    """Normalise item scores across the assessments of a round and instrument (per item)."""
    if method == "none":
        return table["score"]
    groups = table.groupby(["round", "instrument", "item_id"], sort=False)["score"]
    if method == "minmax":
        low, high = groups.transform("min"), groups.transform("max")
        span = (high - low).replace(0, np.nan)
        # every agency equal on an item: no information, all at 100
        return (
            ((table["score"] - low) / span * 100)
            .where(span.notna(), 100.0)
            .where(table["score"].notna())
        )
    if method == "zscore":
        mean, std = groups.transform("mean"), groups.transform("std", ddof=1)
        return (
            ((table["score"] - mean) / std.replace(0, np.nan))
            .fillna(0)
            .where(table["score"].notna())
        )
    raise GuidekitError(f"unknown normalisation {method!r}")


# -- aggregation --------------------------------------------------------------------


def weighted_mean(values: pd.Series, weights: pd.Series, method: str = "arithmetic") -> float:
    """Weighted mean of the non-NaN values (NaN if none).

    ``geometric``: exp(Σ wᵢ ln xᵢ / Σ wᵢ), which is 0 if any xᵢ is 0 (and
    undefined for negative values, e.g. z-scores: raises GuidekitError).
    """
    v = pd.Series(values).to_numpy(dtype=float, na_value=np.nan)
    w = pd.Series(weights).to_numpy(dtype=float, na_value=np.nan)
    return float(weighted_means(v, w, method))


def _finite(score: Any) -> Any:
    """A weighted mean that must be a number: never inf or NaN from overflowing sums.

    Weights are bounded (:func:`guidekit.framework.check_weight`) so this cannot happen
    with scores on 0–100; should it, an error is better than an "inf" banded 領先."""
    if np.any(~np.isfinite(np.asarray(score, dtype=float))):
        raise GuidekitError(
            "a weighted score overflowed (not a finite number): check the weights",
            zh="加權分數溢位（不是有限的數字）：請檢查權重",
        )
    return score


def _group_scores(parts: pd.DataFrame, by: list[str], method: str) -> pd.DataFrame:
    """Weighted mean ``score`` of ``parts`` per group: columns ``by + ["score"]``.

    The same computation as :func:`weighted_mean` on each group's rows in their order,
    run as one :func:`weighted_means` call per group size (the rows of all groups of
    ``k`` rows stacked into a ``(groups, k)`` array): identical numbers, without a
    Python call per group (1,000 agencies: ~18,000 groups).
    """
    if parts.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=parts[c].dtype) for c in by} | {"score": pd.Series(dtype=float)}
        )
    grouped = parts.groupby(by, sort=False, dropna=False)
    codes = grouped.ngroup().to_numpy()
    keys = grouped.size().index  # in the order of first appearance, as ngroup numbers them
    sizes = np.bincount(codes, minlength=len(keys))
    order = np.argsort(codes, kind="stable")  # each group's rows together, in their order
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    scores = parts["score"].to_numpy(dtype=float, na_value=np.nan)[order]
    weights = parts["weight"].to_numpy(dtype=float, na_value=np.nan)[order]
    means = np.full(len(keys), np.nan)
    for size in np.unique(sizes):
        groups = np.flatnonzero(sizes == size)
        rows = starts[groups][:, None] + np.arange(size)
        means[groups] = weighted_means(scores[rows], weights[rows], method)
    return pd.Series(means, index=keys, name="score").reset_index()


def _counts(items: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    status = items["status"]
    counts = items.assign(
        _scored=status.isin(["met", "partial", "not_met"]),
        _na=status.eq("na"),
        _un=status.eq("unanswered"),
    ).groupby(by, sort=False, dropna=False)
    out = counts.agg(
        agency_name=("agency_name", "first"),
        n_items=("item_id", "size"),
        n_scored=("_scored", "sum"),
        n_na=("_na", "sum"),
        n_unanswered=("_un", "sum"),
        n_major_not_met=("major_not_met", "sum"),
        n_disagreements=("disagreement", "sum"),
    ).reset_index()
    out["coverage"] = (out["n_scored"] + out["n_na"]) / out["n_items"]
    return out


#: Columns of :attr:`Scores.principles` and :attr:`Scores.dimensions`, in order (see
#: :class:`Scores`): one spec per table, used to build it.
_COUNTED = ("n_items", "n_scored", "n_na", "n_unanswered", "coverage", "low_coverage")
PRINCIPLE_COLUMNS = (
    *KEY,
    "agency_name",
    "principle_id",
    "dimension_id",
    "weight",
    "score",
    "band",
    *_COUNTED,
    "n_major_not_met",
    "n_disagreements",
)
DIMENSION_COLUMNS = (*KEY, "agency_name", "dimension_id", "weight", "score", "band", *_COUNTED)


def _level_table(
    items: pd.DataFrame,
    parts: pd.DataFrame,
    fw: Framework,
    weights: Mapping[str, float],
    level: str,
    order: Sequence[str],
) -> pd.DataFrame:
    """Counts over ``items`` and weighted scores over ``parts`` per assessment × ``level``
    (``principle_id`` or ``dimension_id``), in the framework's ``order``."""
    by = [*KEY, level]
    table = _counts(items, by)
    table = table.merge(_group_scores(parts, by, fw.scoring.aggregation), on=by, how="left")
    table["weight"] = table[level].map(weights).astype(float)
    table["band"] = table["score"].map(lambda s: _band(fw, s))
    table["low_coverage"] = table["coverage"] < fw.scoring.low_coverage_below
    rank = {key: n for n, key in enumerate(order)}
    return table.assign(_o=table[level].map(rank)).sort_values([*KEY, "_o"]).drop(columns="_o")


def _principle_table(
    items: pd.DataFrame, fw: Framework, weights: Mapping[str, float]
) -> pd.DataFrame:
    table = _level_table(items, items, fw, weights, "principle_id", [p.id for p in fw.principles])
    table["dimension_id"] = table["principle_id"].map({p.id: p.dimension for p in fw.principles})
    return table[list(PRINCIPLE_COLUMNS)].reset_index(drop=True)


def _dimension_table(
    items: pd.DataFrame, principles: pd.DataFrame, fw: Framework, weights: Mapping[str, float]
) -> pd.DataFrame:
    order = [d.id for d in fw.dimensions]
    table = _level_table(items, principles, fw, weights, "dimension_id", order)
    return table[list(DIMENSION_COLUMNS)].reset_index(drop=True)


def _overall_table(
    frame: pd.DataFrame,
    items: pd.DataFrame,
    principles: pd.DataFrame,
    dimensions: pd.DataFrame,
    fw: Framework,
    weights: Mapping[str, float],
    assessments: pd.DataFrame | None = None,
) -> pd.DataFrame:
    method = fw.scoring.aggregation
    table = _counts(items, KEY)
    parts = principles if fw.scoring.overall_from == "principles" else dimensions
    table = table.merge(_group_scores(parts, KEY, method), on=KEY, how="left")
    assessments = _assessments(frame) if assessments is None else assessments
    table = table.merge(assessments[[*KEY, "n_respondents", "has_agreed"]], on=KEY, how="left")
    # the versions of each assessment's answers, sorted and joined ("2025.10, 2026.11"):
    # grouped over the distinct (assessment, version) pairs, not every answer
    if _ASSESSMENT in frame.columns:
        pairs = frame[[_ASSESSMENT, "framework_version"]].drop_duplicates()
        keys = frame.drop_duplicates(_ASSESSMENT)[[*KEY, _ASSESSMENT]]
        pairs = pairs.merge(keys, on=_ASSESSMENT)
    else:
        pairs = frame[[*KEY, "framework_version"]].drop_duplicates()
    versions = (
        pairs.sort_values("framework_version", kind="stable")
        .groupby(KEY, sort=False, dropna=False)["framework_version"]
        .agg(", ".join)
    )
    table = table.merge(versions.rename("framework_version").reset_index(), on=KEY, how="left")
    table["band"] = table["score"].map(lambda s: _band(fw, s))
    table["low_coverage"] = table["coverage"] < fw.scoring.low_coverage_below
    columns = [
        *KEY,
        "agency_name",
        "n_respondents",
        "has_agreed",
        "score",
        "band",
        "n_items",
        "n_scored",
        "n_na",
        "n_unanswered",
        "coverage",
        "low_coverage",
        "n_major_not_met",
        "n_disagreements",
        "framework_version",
    ]
    return table.sort_values(KEY, kind="stable")[columns].reset_index(drop=True)


def _band(fw: Framework, score: float) -> str | None:
    band = fw.band(score)
    return band.code if band else None


# -- peers -------------------------------------------------------------------------


def _peer_rows(table: pd.DataFrame, level: str, column: str | None, minimum: int) -> list[dict]:
    rows = []
    by = ["round", "instrument"] + ([column] if column else [])
    for key, group in table.groupby(by, sort=True, dropna=False):
        values = group["score"].dropna().to_numpy(dtype=float)
        n = len(values)
        suppressed = n < minimum
        q1, med, q3 = (np.nan, np.nan, np.nan)
        if not suppressed:
            q1, med, q3 = (float(x) for x in np.percentile(values, [25, 50, 75]))
        rows.append(
            {
                "round": key[0],
                "instrument": key[1],
                "level": level,
                "level_id": key[2] if column else "",
                "n": n,
                "q1": q1,
                "median": med,
                "q3": q3,
                "suppressed": suppressed,
            }
        )
    return rows


def _peers(
    principles: pd.DataFrame, dimensions: pd.DataFrame, overall: pd.DataFrame, fw: Framework
) -> pd.DataFrame:
    minimum = fw.scoring.min_peer_group
    rows = (
        _peer_rows(principles, "principle", "principle_id", minimum)
        + _peer_rows(dimensions, "dimension", "dimension_id", minimum)
        + _peer_rows(overall, "overall", None, minimum)
    )
    columns = ["round", "instrument", "level", "level_id", "n", "q1", "median", "q3", "suppressed"]
    return pd.DataFrame(rows, columns=columns)


def quartile_band(score: float, q1: float, median: float, q3: float) -> str | None:
    """``Q4`` if score ≥ q3, ``Q3`` if ≥ median, ``Q2`` if ≥ q1, else ``Q1``; None for NaN."""
    if any(math.isnan(x) for x in (score, q1, median, q3)):
        return None
    if score >= q3:
        return "Q4"
    if score >= median:
        return "Q3"
    if score >= q1:
        return "Q2"
    return "Q1"


def _attach_quartiles(
    table: pd.DataFrame, peers: pd.DataFrame, level: str, column: str | None
) -> pd.DataFrame:
    stats = peers[peers["level"] == level].drop(columns="level")
    left_on = ["round", "instrument"] + ([column] if column else [])
    if column:
        stats = stats.rename(columns={"level_id": column})
    else:
        stats = stats.drop(columns="level_id")
    merged = table.merge(stats, on=left_on, how="left")
    merged["quartile"] = [
        quartile_band(s, a, b, c)
        for s, a, b, c in zip(
            merged["score"], merged["q1"], merged["median"], merged["q3"], strict=True
        )
    ]
    merged["peer_n"] = merged["n"].astype(int)
    return merged.drop(columns=["n", "q1", "median", "q3", "suppressed"])


def respondent_scores(responses: Responses) -> pd.DataFrame:
    """Principle scores of each respondent on their own (for live charts and agreement).

    Returns
    -------
    DataFrame
        One row per respondent × principle: key, ``respondent, principle_id,
        score`` (0–100, NaN when the respondent has no substantive answer
        there), ``n_scored``, ``n_na``.  Items are averaged with the
        framework's item weights, the same aggregation as :func:`score`.
    """
    fw = responses.framework
    valued = answer_values(responses.frame, fw)
    bank = fw.items_frame()[["item_id", "principle_id", "weight"]]
    valued = valued.merge(bank, on="item_id", how="left")
    lows = {i.id: fw.scale(i.id).low for i in fw.instruments}
    highs = {i.id: fw.scale(i.id).high for i in fw.instruments}
    low = valued["instrument"].map(lows).astype(float)
    high = valued["instrument"].map(highs).astype(float)
    valued["score"] = (valued["value"] - low) / (high - low) * 100
    by = [*KEY, "respondent", "principle_id"]
    method = fw.scoring.aggregation
    grouped = valued.groupby(by, sort=True, dropna=False)
    out = grouped.apply(
        lambda g: pd.Series(
            {
                "score": weighted_mean(g["score"], g["weight"], method),
                "n_scored": int(g["is_answered"].sum()),
                "n_na": int(g["is_na"].sum()),
            }
        ),
        include_groups=False,
    ).reset_index()
    return out


# -- re-aggregation under other weights (vectorised; used by guidekit.research.sensitivity) ----------


def weighted_means(
    values: np.ndarray, weights: np.ndarray, method: str = "arithmetic"
) -> np.ndarray:
    """:func:`weighted_mean` over the last axis of arrays, many at once.

    ``values`` (``(..., n)``, NaN = no score) and ``weights`` (> 0), broadcast
    against each other, give one mean per leading index; NaN where no value is present.
    Same rules as :func:`weighted_mean` (geometric: 0 if any value is 0;
    negative values raise GuidekitError).
    """
    values, weights = np.broadcast_arrays(
        np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    )
    present = ~np.isnan(values)
    w = np.where(present, weights, 0.0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        total = w.sum(axis=-1)
        if method == "arithmetic":
            out = (np.where(present, values, 0.0) * w).sum(axis=-1) / total
        elif method == "geometric":
            if (values[present] < 0).any():
                raise GuidekitError(
                    "geometric aggregation needs non-negative scores (not z-scores)"
                )
            zero = (np.where(present, values, 1.0) == 0).any(axis=-1)
            logs = np.log(np.where(present & (values > 0), values, 1.0))
            out = np.exp((logs * w).sum(axis=-1) / total)
            out = np.where(zero, 0.0, out)
        else:
            raise GuidekitError(f"unknown aggregation {method!r}")
    _finite(out[total > 0])
    return np.where(total > 0, out, np.nan)


def overall_from_principle_scores(
    principle_scores: np.ndarray,
    fw: Framework,
    principle_weights: np.ndarray,
    dimension_weights: np.ndarray | None = None,
) -> np.ndarray:
    """Overall scores from principle scores under other weights (rule 6, vectorised).

    Principle scores do not depend on principle or dimension weights, so a
    weighting scheme can be re-evaluated from them alone; this gives exactly
    what :func:`score` gives with those weights (tested).

    Parameters
    ----------
    principle_scores : ndarray, shape (A, P)
        One row per assessment, one column per principle in ``fw.principles``
        order (NaN = no score).
    fw : Framework
        For the principles' dimensions and the aggregation rules
        (``aggregation``, ``overall_from``).
    principle_weights : ndarray, shape (D, P) or (P,)
        D weighting schemes (> 0).
    dimension_weights : ndarray, shape (D, K) or (K,), optional
        Dimension weights in ``fw.dimensions`` order; default the framework's.

    Returns
    -------
    ndarray, shape (D, A)
        Overall score of each assessment under each scheme.
    """
    method = fw.scoring.aggregation
    scores = np.asarray(principle_scores, dtype=float)
    pw = np.atleast_2d(np.asarray(principle_weights, dtype=float))
    if fw.scoring.overall_from == "principles":
        return weighted_means(scores[None, :, :], pw[:, None, :], method)
    dims = [d.id for d in fw.dimensions]
    member = np.array([[p.dimension == d for p in fw.principles] for d in dims])  # (K, P)
    dw = np.atleast_2d(
        np.asarray(
            dimension_weights
            if dimension_weights is not None
            else [d.weight for d in fw.dimensions],
            dtype=float,
        )
    )
    per_dim = []
    for k in range(len(dims)):
        cols = member[k]
        if not cols.any():
            per_dim.append(np.full((pw.shape[0], scores.shape[0]), np.nan))
            continue
        per_dim.append(weighted_means(scores[None, :, cols], pw[:, None, cols], method))
    dim_scores = np.stack(per_dim, axis=-1)  # (D, A, K)
    return weighted_means(dim_scores, dw[:, None, :], method)
