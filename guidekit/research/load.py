"""Research mode: every agency and round as pandas tables.

For policy researchers working in a notebook::

    from guidekit import research as rs
    responses = rs.load()                      # every bundled example round (or files, folders, a store)
    scores = rs.score(responses)               # = guidekit.score
    table = rs.score_table(scores, "principle")        # long: one row per assessment × principle
    wide = rs.score_table(scores, "principle", form="wide")
    rs.weakest_principles(scores)              # government-wide, weakest first
    rs.round_changes(scores, "2025", "2026")   # with a warning when question banks differ

Nothing here decides a score: numbers come from :mod:`guidekit.scoring`.
This module selects, joins and summarises them.  Reliability statistics live
in :mod:`guidekit.research.consistency`, weight sensitivity in
:mod:`guidekit.research.sensitivity`, charts in :mod:`guidekit.research.plots`, the
open-data package in :mod:`guidekit.research.opendata`.

Conventions of every table returned here: IDs are strings; scores are floats
0–100 (NaN = no applicable answers; z-score frameworks give SD units);
``round, agency_id, service, instrument`` identify an assessment.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from guidekit import i18n
from guidekit.answers import Responses, round_key, sorted_rounds
from guidekit.framework import Framework, load_framework
from guidekit.framework.history import changed_items
from guidekit.intake.register import AGENCY_COLUMNS, agencies
from guidekit.intake.responses import read_responses
from guidekit.paths import examples_dir
from guidekit.render.html import HTML
from guidekit.scoring import KEY, Scores
from guidekit.scoring import score as _score
from guidekit.store import is_store_url, open_store

ENCODING = "utf-8"


class VersionMismatchWarning(UserWarning):
    """Two rounds being compared were answered against different question-bank versions."""


# -- loading ----------------------------------------------------------------------------


def example_rounds() -> list[Path]:
    """The bundled example's round folders (``data/examples/rounds/<round>/``), oldest first."""
    folder = examples_dir() / "rounds"
    return sorted((p for p in folder.glob("*") if p.is_dir()), key=lambda p: round_key(p.name))


def load(
    paths: str | Path | Iterable[str | Path] | None = None,
    framework: Framework | str | Path | None = None,
    *,
    store: Any = None,
    agreed: str = "team",
) -> Responses:
    """Answers of any number of rounds and agencies in the canonical long table.

    Parameters
    ----------
    paths : path or iterable of paths, optional
        Answer files (CSV/TSV/xlsx) or folders of them, any number of rounds
        (:func:`guidekit.read_responses` does the reading and validation).
        Default, when neither ``paths`` nor ``store`` is given: every round of
        the bundled example (:func:`example_rounds`).
    framework : Framework or path or id, optional
        Default: the bundled 政府數位服務指引 (``tw-dsg``).  A lens framework
        (:mod:`guidekit.framework.lens`) reads the same files through its crosswalk.
    store : optional
        A response store (the workshop's :mod:`guidekit.store`: an object with
        ``responses(framework, agreed=...)``), or the path of a store file or a
        ``postgresql://`` URL of a store database,
        opened with ``guidekit.store.open_store(path, framework)``.  Combined
        with ``paths`` when both are given.
    agreed : {"team", "individual"}
        For a store: ``"team"`` (a team's agreed answer replaces its
        respondents' answers, as in reports) or ``"individual"`` (every
        respondent's own answers: use this for agreement between respondents).

    Returns
    -------
    Responses
        ``frame`` is the canonical table (columns in :mod:`guidekit.intake.responses`):
        one row per round × agency × service × respondent × item.

    Raises
    ------
    ResponsesError
        If any answer file has an error (every problem listed).
    GuidekitError
        If the store cannot be opened or both sources hold the same answers.
    """
    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    parts: list[Responses] = []
    if paths is not None or store is None:
        source = example_rounds() if paths is None else paths
        parts.append(read_responses(source, fw))
    if store is not None:
        parts.append(_store_responses(store, fw, agreed))
    if len(parts) == 1:
        return parts[0]
    frame = pd.concat([p.frame for p in parts], ignore_index=True)
    key = ["round", "agency_id", "service", "respondent", "item_id"]
    if frame.duplicated(key).any():
        raise i18n.error("research.error.overlap")
    metadata: dict[str, Any] = {}
    for part in parts:
        metadata.update(part.metadata)
    return Responses(
        frame=frame,
        framework=fw,
        problems=[p for part in parts for p in part.problems],
        sources=[s for part in parts for s in part.sources],
        metadata=metadata,
    )


def _store_responses(store: Any, fw: Framework, agreed: str) -> Responses:
    if hasattr(store, "responses") and callable(store.responses):
        return store.responses(fw, agreed=agreed)
    # the workshop's response store, read-only: reading never changes it
    location = store if is_store_url(store) else Path(store)
    with open_store(location, fw, readonly=True) as opened:
        return opened.responses(fw, agreed=agreed)


def _chosen_round(data: Responses | Scores, round: str | None) -> str:
    """``round`` if the data has it, else the latest round; an error when there is none."""
    have = rounds(data)
    if round is None:
        if not have:
            raise i18n.error("research.error.no_data")
        return have[-1]
    if round not in have:
        raise i18n.error("research.error.round", round=round, rounds=", ".join(have) or "—")
    return round


def rounds(data: Responses | Scores) -> list[str]:
    """Round ids present, oldest first (natural order: ``"2026-9"`` before ``"2026-10"``)."""
    frame = data.frame if isinstance(data, Responses) else data.overall
    return sorted_rounds(frame["round"].dropna())


def score(responses: Responses, weights: dict[str, float] | None = None) -> Scores:
    """Score every assessment of every round (:func:`guidekit.score`, nothing more)."""
    return _score(responses, weights)


# -- agency attributes --------------------------------------------------------------------


#: The agency register's encoding: UTF-8, with or without the byte-order mark Excel
#: writes when it saves "CSV UTF-8".
def _with_attributes(table: pd.DataFrame, attributes: pd.DataFrame | bool | None) -> pd.DataFrame:
    if attributes is None or attributes is False:
        return table
    attrs = agencies() if attributes is True else attributes
    keep = [
        c
        for c in (
            "agency_id",
            *AGENCY_COLUMNS[AGENCY_COLUMNS.index("level") :],
        )
        if c in attrs.columns
    ]
    return table.merge(attrs[keep], on="agency_id", how="left")


# -- score tables -----------------------------------------------------------------------


def score_table(
    data: Scores | Responses,
    level: str = "principle",
    form: str = "long",
    attributes: pd.DataFrame | bool | None = True,
    rounds: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Scores of every assessment, long or wide, with agency attributes joined.

    Parameters
    ----------
    data : Scores or Responses
        Responses are scored first (:func:`guidekit.score`).
    level : {"principle", "dimension", "overall"}
    form : {"long", "wide"}
    attributes : DataFrame or bool, default True
        Join agency attributes (:func:`agencies`; a DataFrame with the same
        columns to use another register; False for none).  Agencies missing
        from the register get ``<NA>``.
    rounds : sequence of str, optional
        Keep only these rounds.

    Returns
    -------
    DataFrame
        **long**, ``level="principle"``: one row per assessment × principle:
        ``round, agency_id, service, instrument, agency_name, principle_id,
        dimension_id, score`` (0–100), ``band, coverage`` (0–1, answered or
        N/A share of the principle's items), ``n_items, n_scored, n_na,
        n_unanswered, n_respondents, framework_version`` + attributes
        (``level, kind, parent_id, parent_name_zh, level_zh, level_en, kind_zh,
        kind_en``).  ``level="dimension"``: the same with ``dimension_id``
        instead of ``principle_id``.  ``level="overall"``: one row per
        assessment: ``score, band, coverage, n_items, n_scored, n_na,
        n_unanswered, n_respondents, framework_version`` + attributes.

        **wide**: one row per assessment: ``round, agency_id, service,
        instrument, agency_name, n_respondents, coverage`` (overall),
        ``framework_version``, one score column per principle (or dimension)
        id in framework order, ``overall`` + attributes.

    Raises
    ------
    GuidekitError
        For an unknown ``level`` or ``form``.
    """
    scores = data if isinstance(data, Scores) else _score(data)
    if level not in ("principle", "dimension", "overall"):
        raise i18n.error(
            "research.error.level", allowed="principle, dimension, overall", value=level
        )
    if form not in ("long", "wide"):
        raise i18n.error("research.error.form", value=form)
    overall = scores.overall
    if rounds is not None:
        wanted = set(rounds)
        overall = overall[overall["round"].isin(wanted)]
    per_assessment = overall[[*KEY, "n_respondents", "framework_version"]]
    common = ["score", "band", "coverage", "n_items", "n_scored", "n_na", "n_unanswered"]

    if form == "long":
        if level == "overall":
            table = overall[[*KEY, "agency_name", *common, "n_respondents", "framework_version"]]
        else:
            source = scores.principles if level == "principle" else scores.dimensions
            ids = ["principle_id", "dimension_id"] if level == "principle" else ["dimension_id"]
            table = source[[*KEY, "agency_name", *ids, *common]].merge(
                per_assessment, on=KEY, how="inner"
            )
        return _with_attributes(table.reset_index(drop=True), attributes)

    fw = scores.framework
    base = overall[[*KEY, "agency_name", "n_respondents", "coverage", "framework_version", "score"]]
    base = base.rename(columns={"score": "overall"})
    if level == "overall":
        table = base
    else:
        source = scores.principles if level == "principle" else scores.dimensions
        column = "principle_id" if level == "principle" else "dimension_id"
        order = (
            [p.id for p in fw.principles] if level == "principle" else [d.id for d in fw.dimensions]
        )
        wide = source.pivot(index=KEY, columns=column, values="score")
        wide = wide.reindex(columns=[c for c in order if c in wide.columns])
        wide.columns.name = None
        table = base.merge(wide.reset_index(), on=KEY, how="left")
        table = table[[c for c in table.columns if c != "overall"] + ["overall"]]
    return _with_attributes(table.reset_index(drop=True), attributes)


# -- summaries ----------------------------------------------------------------------------


def _quantiles(values: np.ndarray) -> tuple[float, float, float]:
    if len(values) == 0:
        return (np.nan, np.nan, np.nan)
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    return float(q1), float(med), float(q3)


def group_summary(
    table: pd.DataFrame,
    by: str | Sequence[str],
    value: str = "score",
    min_group: int | None = 5,
) -> pd.DataFrame:
    """Summary statistics of ``value`` per group, small groups suppressed.

    Parameters
    ----------
    table : DataFrame
        A long table from :func:`score_table` (or any table with ``value``).
    by : str or sequence of str
        Grouping columns, e.g. ``["round", "instrument", "level"]`` for central
        vs local, ``[..., "kind"]`` by kind of agency, ``[..., "principle_id"]``.
    value : str
        The column summarised (default ``score``).
    min_group : int or None, default 5
        Groups with fewer non-missing values than this have their statistics
        set to NaN and ``suppressed=True`` (the framework's ``min_peer_group``
        is the usual choice; None keeps every group).

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns, ``n`` (non-missing values, int),
        ``mean, sd`` (sample SD, ddof=1), ``min, q1, median, q3, max``
        (quartiles by linear interpolation, numpy's default), ``suppressed``
        (bool).
    """
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, group in table.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        values = group[value].dropna().to_numpy(dtype=float)
        n = len(values)
        suppressed = min_group is not None and n < min_group
        q1, med, q3 = _quantiles(values)
        stats = {
            "n": n,
            "mean": float(values.mean()) if n else np.nan,
            "sd": float(values.std(ddof=1)) if n > 1 else np.nan,
            "min": float(values.min()) if n else np.nan,
            "q1": q1,
            "median": med,
            "q3": q3,
            "max": float(values.max()) if n else np.nan,
        }
        if suppressed:
            stats = {k: (v if k == "n" else np.nan) for k, v in stats.items()}
        rows.append({**dict(zip(by, key, strict=True)), **stats, "suppressed": suppressed})
    columns = [*by, "n", "mean", "sd", "min", "q1", "median", "q3", "max", "suppressed"]
    out = pd.DataFrame(rows, columns=columns)
    out["n"] = out["n"].astype(int)
    return out


def weakest_principles(
    scores: Scores,
    round: str | None = None,
    instrument: str | None = None,
    lang: str = "zh-TW",
) -> pd.DataFrame:
    """Principles government-wide, weakest first.

    Parameters
    ----------
    scores : Scores
    round : str, optional
        Default: the latest round.
    instrument : str, optional
        Only this self-assessment form (default: both forms pooled; principle
        scores are on the same 0–100 scale whichever form they come from).
    lang : {"zh-TW", "en"}
        Language of ``title``.

    Returns
    -------
    DataFrame
        One row per principle, sorted by ``median`` then ``mean`` ascending:
        ``principle_id, title, dimension_id, n`` (assessments with a score),
        ``mean, median, q1, q3`` (0–100), ``share_below_40`` (share of those
        assessments scoring under 40, 0–1), ``items_not_met_share`` (share of
        the principle's scored item results that are *not met*, 0–1),
        ``rank_weakest`` (Int64, 1 = weakest; ``<NA>`` for a principle no
        assessment has a score for: it is listed last, in framework order,
        and not ranked).

    Raises
    ------
    GuidekitError
        If ``round`` is not in the scores, or there are no scores at all.
    """
    fw = scores.framework
    chosen = _chosen_round(scores, round)
    principles = scores.principles[scores.principles["round"] == chosen]
    items = scores.items[scores.items["round"] == chosen]
    if instrument is not None:
        principles = principles[principles["instrument"] == instrument]
        items = items[items["instrument"] == instrument]
    rows = []
    for p in fw.principles:
        values = (
            principles.loc[principles["principle_id"] == p.id, "score"]
            .dropna()
            .to_numpy(dtype=float)
        )
        status = items.loc[items["principle_id"] == p.id, "status"]
        scored = status.isin(["met", "partial", "not_met"]).sum()
        q1, med, q3 = _quantiles(values)
        rows.append(
            {
                "principle_id": p.id,
                "title": p.text("title", lang),
                "dimension_id": p.dimension,
                "n": len(values),
                "mean": float(values.mean()) if len(values) else np.nan,
                "median": med,
                "q1": q1,
                "q3": q3,
                "share_below_40": float((values < 40).mean()) if len(values) else np.nan,
                "items_not_met_share": float((status == "not_met").sum() / scored)
                if scored
                else np.nan,
            }
        )
    out = pd.DataFrame(rows).sort_values(["median", "mean"], kind="stable", na_position="last")
    out = out.reset_index(drop=True)
    ranked = out["n"] > 0  # only principles with a score are ranked
    out["rank_weakest"] = pd.Series(pd.NA, index=out.index, dtype="Int64")
    out.loc[ranked, "rank_weakest"] = np.arange(1, int(ranked.sum()) + 1)
    return out


def principle_correlations(
    scores: Scores,
    round: str | None = None,
    instrument: str | None = None,
    method: str = "spearman",
) -> pd.DataFrame:
    """Correlation between principle scores across assessments.

    Parameters
    ----------
    scores, round, instrument
        As in :func:`weakest_principles` (the latest round and both forms by default).
    method : {"spearman", "pearson", "kendall"}
        Spearman's rank correlation by default (scores are bounded and often skewed).

    Returns
    -------
    DataFrame
        Square, principle ids as index and columns, values in [-1, 1]
        (pairwise complete observations, pandas ``DataFrame.corr``).
        ``.attrs["n"]`` holds the number of assessments used.
    """
    chosen = _chosen_round(scores, round)
    wide = score_table(scores, "principle", form="wide", attributes=False, rounds=[chosen])
    if instrument is not None:
        wide = wide[wide["instrument"] == instrument]
    ids = [p.id for p in scores.framework.principles if p.id in wide.columns]
    corr = wide[ids].astype(float).corr(method=method)
    corr.index.name = None
    corr.attrs["n"] = len(wide)
    return corr


# -- change between rounds ------------------------------------------------------------------


def round_changes(
    scores: Scores,
    before: str,
    after: str,
    level: str = "overall",
    on: Sequence[str] = ("agency_id", "instrument", "service"),
    warn: bool = True,
) -> pd.DataFrame:
    """Change of each agency's scores from round ``before`` to round ``after``.

    Assessments are matched on ``on`` (default agency, form and service: a
    change of form or service is not a change of score).  When the two
    assessments were answered against different question-bank versions, the
    row says so and a :class:`VersionMismatchWarning` is issued (zh-TW and
    English text, see :func:`version_warning`); items that changed between the
    versions come from the framework's history (:mod:`guidekit.framework.history`).

    Parameters
    ----------
    scores : Scores
        Scores of (at least) both rounds.
    before, after : str
        Round ids.
    level : {"overall", "principle", "dimension"}
    on : sequence of str
        Matching columns.
    warn : bool
        Issue the warning (default True).

    Returns
    -------
    DataFrame
        One row per matched assessment (× principle / dimension): the ``on``
        columns, ``agency_name``, [``principle_id`` | ``dimension_id``],
        ``score_before, score_after, change`` (after − before, points),
        ``version_before, version_after``, ``versions_differ`` (bool),
        ``changed_items`` (ids of items that changed between the versions and
        belong to this row's principle/dimension — all for ``overall`` —
        comma-separated; ``"?"`` when the history does not connect the
        versions), ``comparable`` (bool: same version, or no changed item
        affects this row).

    Raises
    ------
    GuidekitError
        If a round is missing or ``level`` is unknown.
    """
    have = rounds(scores)
    for r in (before, after):
        if r not in have:
            raise i18n.error("research.error.round", round=r, rounds=", ".join(have) or "—")
    on = list(on)
    fw = scores.framework
    if level == "overall":
        table, ids = scores.overall, []
    elif level == "principle":
        table, ids = scores.principles, ["principle_id"]
    elif level == "dimension":
        table, ids = scores.dimensions, ["dimension_id"]
    else:
        raise i18n.error(
            "research.error.level", allowed="overall, principle, dimension", value=level
        )
    versions = scores.overall[[*KEY, "framework_version"]]
    if "framework_version" not in table.columns:
        table = table.merge(versions, on=KEY, how="left")
    cols = [*on, *ids, "agency_name", "score", "framework_version"]
    a = table[table["round"] == before][cols]
    b = table[table["round"] == after][cols]
    merged = a.merge(b, on=[*on, *ids], how="inner", suffixes=("_before", "_after"))
    merged = merged.rename(columns={"agency_name_after": "agency_name"}).drop(
        columns="agency_name_before"
    )
    merged = merged.rename(
        columns={
            "framework_version_before": "version_before",
            "framework_version_after": "version_after",
        }
    )
    merged["change"] = merged["score_after"] - merged["score_before"]
    merged["versions_differ"] = merged["version_before"] != merged["version_after"]

    bank = fw.items_frame()[["item_id", "instrument", "principle_id", "dimension_id"]]
    cache: dict[tuple[str, str], pd.DataFrame | None] = {}

    def affected(row: pd.Series) -> str:
        if not row["versions_differ"]:
            return ""
        pair = (str(row["version_before"]), str(row["version_after"]))
        if pair not in cache:
            cache[pair] = changed_items(fw, *pair)
        changes = cache[pair]
        if changes is None:
            return "?"
        owners = bank[bank["item_id"].isin(changes["item_id"].tolist())]
        if "instrument" in row.index:  # an item of the other form does not affect this one
            owners = owners[owners["instrument"] == row["instrument"]]
        if ids:
            owners = owners[owners[ids[0]] == row[ids[0]]]
        removed = changes.loc[~changes["item_id"].isin(bank["item_id"]), "item_id"].tolist()
        return ", ".join(owners["item_id"].tolist() + removed)

    merged["changed_items"] = (
        merged.apply(affected, axis=1) if len(merged) else pd.Series(dtype="string")
    )
    merged["comparable"] = ~merged["versions_differ"] | (merged["changed_items"] == "")
    columns = [
        *on,
        "agency_name",
        *ids,
        "score_before",
        "score_after",
        "change",
        "version_before",
        "version_after",
        "versions_differ",
        "changed_items",
        "comparable",
    ]
    out = merged[columns].reset_index(drop=True)
    out["changed_items"] = out["changed_items"].astype("string")
    if warn and out["versions_differ"].any():
        warnings.warn(
            version_warning(out, scores.framework, "zh-TW")
            + "\n"
            + version_warning(out, scores.framework, "en"),
            VersionMismatchWarning,
            stacklevel=2,
        )
    return out


def version_warning(changes: pd.DataFrame, framework: Framework, lang: str = "zh-TW") -> str | None:
    """A plain-language warning when compared rounds used different question banks.

    Parameters
    ----------
    changes : DataFrame
        From :func:`round_changes`.
    framework : Framework
        For the history of the bank (item changes and their notes).
    lang : {"zh-TW", "en"}

    Returns
    -------
    str or None
        None when every compared pair used the same version.
    """
    lang = i18n.normalise_lang(lang)
    differ = changes[changes["versions_differ"]]
    if differ.empty:
        return None
    pairs = sorted(
        {
            (str(a), str(b))
            for a, b in zip(differ["version_before"], differ["version_after"], strict=True)
        }
    )
    parts = []
    for before, after in pairs:
        history = changed_items(framework, before, after)
        if history is None:
            detail = i18n.t("research.version.unknown", lang)
        elif history.empty:
            detail = i18n.t("research.version.no_items", lang)
        else:
            note = "note_zh" if lang == "zh-TW" else "note_en"
            sep = "；" if lang == "zh-TW" else "; "
            detail = sep.join(
                i18n.t(
                    "research.version.item",
                    lang,
                    item=r["item_id"],
                    change=i18n.t(f"research.change.{r['change']}", lang),
                    note=(r[note] or "").rstrip("。. "),
                )
                for _, r in history.iterrows()
            )
        parts.append(
            i18n.t("research.version.pair", lang, before=before, after=after, detail=detail)
        )
    n = int(
        differ.drop_duplicates(
            [c for c in ("agency_id", "instrument", "service") if c in differ.columns]
        ).shape[0]
    )
    return i18n.t("research.version.warning", lang, n=n, pairs=" ".join(parts))


def as_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain JSON-safe records (NaN → None, numpy scalars → Python) of a table."""
    out = []
    for record in frame.to_dict("records"):
        clean = {}
        for key, value in record.items():
            if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                clean[key] = None
            elif hasattr(value, "item"):
                clean[key] = value.item()
            else:
                clean[key] = value
        out.append(clean)
    return out


def _replace(responses: Responses, frame: pd.DataFrame) -> Responses:
    return dataclasses.replace(responses, frame=frame.reset_index(drop=True))


def only_round(responses: Responses, round_ids: str | Sequence[str]) -> Responses:
    """The same answers restricted to some rounds.

    Raises
    ------
    GuidekitError
        If a round is not in the answers.
    """
    wanted = [round_ids] if isinstance(round_ids, str) else list(round_ids)
    have = set(responses.frame["round"])
    missing = [r for r in wanted if r not in have]
    if missing:
        raise i18n.error(
            "research.error.round", round=missing[0], rounds=", ".join(rounds(responses)) or "—"
        )
    return _replace(responses, responses.frame[responses.frame["round"].isin(wanted)])


def main_instrument(scores: Scores, round: str | None = None) -> str:
    """The self-assessment form most assessments of a round used (ties: framework order)."""
    chosen = _chosen_round(scores, round)
    counts = scores.overall.loc[scores.overall["round"] == chosen, "instrument"].value_counts()
    if counts.empty:
        raise i18n.error("research.error.no_assessments", round=chosen)
    order = [i.id for i in scores.framework.instruments]
    return max(counts.index, key=lambda i: (counts[i], -order.index(i) if i in order else 0))


def warning_html(text: str | None) -> Any:
    """A visible warning box (escaped text) for notebooks; an empty string when ``text`` is None."""
    import html as _html

    if not text:
        return HTML("", text="")
    body = _html.escape(text).replace("\n", "<br>")
    return HTML(
        f'<div role="alert" style="border:2px solid #b3261e;background:#fdecea;padding:0.6em 0.9em;'
        f'margin:0.5em 0;border-radius:4px">{body}</div>',
        text=text,
    )
