"""Charts for the analysis notebook (matplotlib, Chinese text), each with its numbers.

Every function returns a :class:`Chart`: the figure, the DataFrame it was drawn
from (``chart.data``) and a title.  In Jupyter a chart displays as a PNG; its
numbers are one ``chart.data`` away.  Charts call
:func:`guidekit.render.fonts.use_cjk_font` first so Chinese labels are drawn with an
installed CJK font (Noto Sans CJK TC on Debian: ``fonts-noto-cjk``).

No chart here ranks agencies by score: positions are shown as ranges, in the
agency register's order (OECD/JRC 2008; the World Bank presents its GovTech
index as a baseline, not a ranking).
"""

from __future__ import annotations

import dataclasses
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from guidekit import i18n
from guidekit.files import write_output
from guidekit.framework import Framework
from guidekit.render.fonts import use_cjk_font

__all__ = [
    "Chart",
    "agreement",
    "alpha",
    "changes",
    "correlation",
    "distributions",
    "heatmap",
    "peer_groups",
    "sensitivity",
    "weakest",
]

_BLUE = "#1f5fa8"
_GREY = "#8a8f98"
_RED = "#b3261e"


@dataclasses.dataclass
class Chart:
    """A figure and the numbers behind it.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    data : DataFrame
        Exactly what was drawn (documented per chart function).
    title : str
    """

    figure: Figure
    data: pd.DataFrame
    title: str

    def png(self, dpi: int = 110) -> bytes:
        """The chart as PNG bytes."""
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        return buffer.getvalue()

    def save(self, path: str | Path, dpi: int = 110) -> Path:
        """Write the chart as a PNG file (binary, atomically).

        Raises
        ------
        WriteRefused
            If ``path`` holds a file guidekit did not write, or changed since
            (:mod:`guidekit.files`); a chart saved there earlier is replaced.
        """

        return write_output(path, self.png(dpi))

    def _repr_png_(self) -> bytes:
        return self.png()


def _t(key: str, lang: str, **values: object) -> str:
    return i18n.t(f"plot.{key}", lang, **values)


def _figure(width: float, height: float) -> Figure:
    use_cjk_font()
    return Figure(figsize=(width, height), layout="constrained")


def _axes(width: float, height: float, lang: str, *, blank: bool = False) -> tuple[Figure, Any]:
    """A figure (inches) with one axes; ``blank``: the axes says "no data" instead."""
    fig = _figure(width, height)
    ax = fig.add_subplot()
    if blank:
        _empty(ax, lang)
    return fig, ax


def _principle_label(fw: Framework, pid: str, lang: str) -> str:
    p = fw.principle(pid)
    if lang == "zh-TW":
        return f"{p.numeral_zh or p.number}、{p.title_zh}"
    return f"{p.number}. {p.title_en}"


def _empty(ax, lang: str) -> None:
    ax.text(0.5, 0.5, _t("no_data", lang), ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def distributions(table: pd.DataFrame, fw: Framework, lang: str = "zh-TW") -> Chart:
    """Box plots of principle scores across assessments.

    ``table``: a long principle table (:func:`guidekit.research.score_table`),
    already filtered to one round (and form).  ``chart.data``: one row per
    principle: ``principle_id, label, n, min, q1, median, q3, max, mean``.
    """
    lang = i18n.normalise_lang(lang)
    ids = [p.id for p in fw.principles]
    rows, series = [], []
    for pid in ids:
        values = table.loc[table["principle_id"] == pid, "score"].dropna().to_numpy(dtype=float)
        series.append(values)
        q = np.percentile(values, [0, 25, 50, 75, 100]) if len(values) else [np.nan] * 5
        rows.append(
            {
                "principle_id": pid,
                "label": _principle_label(fw, pid, lang),
                "n": len(values),
                "min": q[0],
                "q1": q[1],
                "median": q[2],
                "q3": q[3],
                "max": q[4],
                "mean": float(values.mean()) if len(values) else np.nan,
            }
        )
    data = pd.DataFrame(rows)
    title = _t("distributions.title", lang)
    has_data = any(len(s) for s in series)
    fig, ax = _axes(8, 0.42 * len(ids) + 1.2, lang, blank=not has_data)
    if has_data:
        ax.boxplot(
            [s if len(s) else [np.nan] for s in series][::-1],
            orientation="horizontal",
            tick_labels=data["label"].tolist()[::-1],
            widths=0.6,
            patch_artist=True,
            boxprops={"facecolor": "#dbe7f5", "edgecolor": _BLUE},
            medianprops={"color": _BLUE, "linewidth": 2},
            flierprops={"markersize": 3, "markeredgecolor": _GREY},
        )
        ax.set_xlim(-2, 102)
        ax.set_xlabel(_t("score_axis", lang))
        ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    return Chart(fig, data, title)


def heatmap(wide: pd.DataFrame, fw: Framework, lang: str = "zh-TW") -> Chart:
    """Agency × principle heat map of scores.

    ``wide``: a wide principle table (:func:`guidekit.research.score_table`,
    ``form="wide"``) of one round and form.  ``chart.data``: one row per
    assessment, ``agency_id, agency_name`` and one column per principle id
    (scores 0–100, NaN = no score), in the table's order.
    """
    lang = i18n.normalise_lang(lang)
    ids = [p.id for p in fw.principles if p.id in wide.columns]
    data = wide[["agency_id", "agency_name", *ids]].reset_index(drop=True)
    title = _t("heatmap.title", lang)
    fig, ax = _axes(9, 0.24 * len(data) + 2.2, lang, blank=data.empty)
    if not data.empty:
        matrix = data[ids].to_numpy(dtype=float)
        image = ax.imshow(
            np.ma.masked_invalid(matrix), aspect="auto", cmap="YlGnBu", vmin=0, vmax=100
        )
        ax.set_xticks(range(len(ids)), [fw.principle(p).number for p in ids])
        ax.set_yticks(range(len(data)), data["agency_name"].tolist(), fontsize=8)
        ax.set_xlabel(_t("principle_axis", lang))
        fig.colorbar(image, ax=ax, label=_t("score_axis", lang), shrink=0.6)
    ax.set_title(title)
    return Chart(fig, data, title)


def weakest(summary: pd.DataFrame, lang: str = "zh-TW") -> Chart:
    """Median principle score government-wide with its interquartile range, weakest at the top.

    ``summary``: :func:`guidekit.research.weakest_principles`.  ``chart.data``:
    that table.
    """
    lang = i18n.normalise_lang(lang)
    data = summary.reset_index(drop=True)
    title = _t("weakest.title", lang)
    fig, ax = _axes(8, 0.42 * len(data) + 1.2, lang)
    y = np.arange(len(data))[::-1]
    labels = [
        f"{pid} {title_}" for pid, title_ in zip(data["principle_id"], data["title"], strict=True)
    ]
    ax.barh(y, data["median"], color="#dbe7f5", edgecolor=_BLUE)
    ax.errorbar(
        data["median"],
        y,
        xerr=[data["median"] - data["q1"], data["q3"] - data["median"]],
        fmt="none",
        ecolor=_BLUE,
        capsize=3,
    )
    ax.set_yticks(y, labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel(_t("median_iqr_axis", lang))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    return Chart(fig, data, title)


def peer_groups(
    summary: pd.DataFrame, group: str, label: str | None = None, lang: str = "zh-TW"
) -> Chart:
    """Median and interquartile range of scores per peer group.

    ``summary``: :func:`guidekit.research.group_summary` grouped by ``group``
    (e.g. ``level_zh`` or ``kind_zh``) for one round and form.  Suppressed
    groups (too few agencies) are drawn as a note, not a number.
    ``chart.data``: ``summary``.
    """
    lang = i18n.normalise_lang(lang)
    data = summary.reset_index(drop=True)
    title = _t("peers.title", lang, group=label or group)
    fig, ax = _axes(7.5, 0.5 * len(data) + 1.4, lang)
    y = np.arange(len(data))[::-1]
    for yi, (_, row) in zip(y, data.iterrows(), strict=True):
        if row["suppressed"]:
            ax.text(2, yi, _t("peers.suppressed", lang, n=int(row["n"])), va="center", color=_GREY)
            continue
        ax.plot(
            [row["q1"], row["q3"]],
            [yi, yi],
            color=_BLUE,
            linewidth=6,
            alpha=0.35,
            solid_capstyle="butt",
        )
        ax.plot([row["median"]], [yi], "o", color=_BLUE)
    ax.set_ylim(-0.7, len(data) - 0.3)
    ax.set_yticks(
        y,
        [
            f"{g}（n={n}）" if lang == "zh-TW" else f"{g} (n={n})"
            for g, n in zip(data[group], data["n"], strict=True)
        ],
    )
    ax.set_xlim(0, 100)
    ax.set_xlabel(_t("median_iqr_axis", lang))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    return Chart(fig, data, title)


def correlation(corr: pd.DataFrame, fw: Framework, lang: str = "zh-TW") -> Chart:
    """Correlation matrix of principle scores (:func:`guidekit.research.principle_correlations`).

    ``chart.data``: the matrix.
    """
    lang = i18n.normalise_lang(lang)
    title = _t("correlation.title", lang, n=corr.attrs.get("n", "?"))
    fig, ax = _axes(7.5, 6.5, lang, blank=corr.empty)
    if not corr.empty:
        image = ax.imshow(corr.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
        numbers = [fw.principle(p).number for p in corr.columns]
        ax.set_xticks(range(len(numbers)), numbers)
        ax.set_yticks(range(len(numbers)), numbers)
        for i in range(len(numbers)):
            for j in range(len(numbers)):
                v = corr.iat[i, j]
                if not math.isnan(v):
                    ax.text(
                        j,
                        i,
                        f"{v:.1f}",
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if abs(v) > 0.6 else "black",
                    )
        ax.set_xlabel(_t("principle_axis", lang))
        ax.set_ylabel(_t("principle_axis", lang))
        fig.colorbar(image, ax=ax, shrink=0.7)
    ax.set_title(title)
    return Chart(fig, corr, title)


def alpha(table: pd.DataFrame, fw: Framework, lang: str = "zh-TW", reference: float = 0.7) -> Chart:
    """Cronbach's alpha per principle (:func:`guidekit.research.consistency.alpha_by_principle`, one round and form).

    A dashed line marks ``reference`` (0.7, a common rule of thumb, Nunnally
    1978).  ``chart.data``: the table.
    """
    lang = i18n.normalise_lang(lang)
    data = table.reset_index(drop=True)
    title = _t("alpha.title", lang)
    fig, ax = _axes(8, 0.42 * len(data) + 1.2, lang, blank=data.empty)
    if not data.empty:
        y = np.arange(len(data))[::-1]
        ax.barh(y, data["alpha"].fillna(0), color="#dbe7f5", edgecolor=_BLUE)
        ax.axvline(reference, color=_RED, linestyle="--", linewidth=1)
        ax.set_yticks(y, [_principle_label(fw, p, lang) for p in data["principle_id"]])
        ax.set_xlim(min(0.0, float(np.nanmin(data["alpha"].to_numpy(dtype=float), initial=0))), 1)
        ax.set_xlabel(_t("alpha.axis", lang))
        ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    return Chart(fig, data, title)


def agreement(table: pd.DataFrame, lang: str = "zh-TW") -> Chart:
    """Distribution of Krippendorff's alpha between respondents, one value per assessment.

    ``table``: :func:`guidekit.research.consistency.respondent_agreement` (one round).
    ``chart.data``: the table.
    """
    lang = i18n.normalise_lang(lang)
    data = table.reset_index(drop=True)
    values = data["alpha"].dropna().to_numpy(dtype=float)
    title = _t("agreement.title", lang, n=len(values))
    fig, ax = _axes(7, 3.6, lang, blank=not len(values))
    if len(values):
        ax.hist(values, bins=np.linspace(-0.2, 1, 25), color="#dbe7f5", edgecolor=_BLUE)
        ax.axvline(0, color=_GREY, linewidth=1)
        ax.axvline(
            float(np.median(values)),
            color=_BLUE,
            linestyle="--",
            label=_t("agreement.median", lang, value=f"{np.median(values):.2f}"),
        )
        ax.set_xlabel(_t("agreement.axis", lang))
        ax.set_ylabel(_t("count_axis", lang))
        ax.legend(loc="upper left")
    ax.set_title(title)
    return Chart(fig, data, title)


def changes(table: pd.DataFrame, before: str, after: str, lang: str = "zh-TW") -> Chart:
    """Overall score in two rounds per agency (:func:`guidekit.research.round_changes`, overall level).

    Points above the diagonal improved.  Agencies whose two rounds used
    different question-bank versions *and* whose score involves a changed
    item are drawn hollow and counted in the title.  ``chart.data``: the table.
    """
    lang = i18n.normalise_lang(lang)
    data = table.reset_index(drop=True)
    caution = ~data["comparable"].astype(bool)
    title = _t("changes.title", lang, before=before, after=after)
    if caution.any():
        title += "\n" + _t("changes.caution", lang, n=int(caution.sum()))
    fig, ax = _axes(6.5, 6, lang, blank=data.empty)
    if not data.empty:
        ok = data[~caution]
        warn = data[caution]
        ax.plot([0, 100], [0, 100], color=_GREY, linewidth=1)
        ax.scatter(
            ok["score_before"],
            ok["score_after"],
            color=_BLUE,
            s=22,
            label=_t("changes.same_bank", lang),
        )
        ax.scatter(
            warn["score_before"],
            warn["score_after"],
            facecolors="none",
            edgecolors=_RED,
            s=26,
            label=_t("changes.other_bank", lang),
        )
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_xlabel(_t("changes.before_axis", lang, round=before))
        ax.set_ylabel(_t("changes.after_axis", lang, round=after))
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
    ax.set_title(title)
    return Chart(fig, data, title)


def sensitivity(table: pd.DataFrame, lang: str = "zh-TW", order: list[str] | None = None) -> Chart:
    """Range of each agency's rank under varied weights (:func:`guidekit.research.sensitivity.weight_sensitivity`).

    One row per assessment of one round and form, in ``order`` (agency ids,
    e.g. the agency register's order) — not sorted by score.  The bar spans
    the 5th–95th percentile of the rank, the thin line best to worst, the dot
    the rank under the framework's weights.  ``chart.data``: the table in
    drawing order.
    """
    lang = i18n.normalise_lang(lang)
    data = table.copy()
    if order is not None:
        position = {a: n for n, a in enumerate(order)}
        data = (
            data.assign(_o=data["agency_id"].map(position).fillna(len(position)))
            .sort_values(["_o", "agency_id"], kind="stable")
            .drop(columns="_o")
        )
    data = data.reset_index(drop=True)
    attrs = table.attrs
    title = _t(
        "sensitivity.title",
        lang,
        spread=f"{attrs.get('spread', 0) * 100:.0f}",
        schemes=attrs.get("schemes", "?"),
    )
    fig, ax = _axes(8, 0.24 * len(data) + 1.8, lang, blank=data.empty)
    if not data.empty:
        y = np.arange(len(data))[::-1]
        ax.hlines(y, data["rank_best"], data["rank_worst"], color=_GREY, linewidth=1)
        ax.hlines(y, data["rank_p05"], data["rank_p95"], color=_BLUE, linewidth=5, alpha=0.5)
        ax.plot(data["rank"], y, "o", color=_BLUE, markersize=4)
        ax.set_yticks(y, data["agency_name"].tolist(), fontsize=8)
        ax.set_xlim(0.5, float(data["n_peers"].max()) + 0.5)
        ax.set_xlabel(_t("sensitivity.axis", lang))
        ax.grid(axis="x", alpha=0.3)
    ax.set_title(title)
    return Chart(fig, data, title)
