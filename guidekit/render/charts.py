"""Static, accessible SVG charts with CJK text.

Charts are drawn as SVG markup with real ``<text>`` elements, so Chinese is
rendered by the reader's browser fonts (no font is embedded, no glyph boxes in
Python, no image files) and text can be selected, searched and read by screen
readers.  Every chart returns its numbers as a DataFrame beside the SVG, and
carries a title and description for ``role="img"``.  Meaning never rests on
colour alone: series differ by line style and marker shape too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import textwrap
import unicodedata
from collections.abc import Sequence
from typing import Any

import pandas as pd

from guidekit.render.html import render

#: Colours with at least 4.5:1 contrast on white (WCAG 2.1 SC 1.4.11 asks 3:1 for graphics).
AGENCY_COLOUR = "#1d4f91"
MEDIAN_COLOUR = "#8a4600"
GRID_COLOUR = "#6b6b6b"
#: The colours as the chart templates name them.
COLOURS = {
    "agency_colour": AGENCY_COLOUR,
    "median_colour": MEDIAN_COLOUR,
    "grid_colour": GRID_COLOUR,
}


@dataclasses.dataclass
class Chart:
    """An SVG chart and the data behind it.

    Attributes
    ----------
    svg : str
        An ``<svg role="img">`` element with ``<title>`` and ``<desc>``.
    table : DataFrame
        The numbers drawn, one row per axis / bar.
    title, description : str
        Text alternative of the chart.
    """

    svg: str
    table: pd.DataFrame
    title: str
    description: str

    def _repr_html_(self) -> str:
        return self.svg


def _wrap(text: str, width: int) -> list[str]:
    """Split a label into a few short lines.

    Latin text is wrapped at word boundaries (``textwrap``) into at most three
    lines of about twice ``width`` characters, CJK text is split into two balanced lines of at most
    about ``width`` characters, preferring a break after "、".  What does not fit
    ends with an ellipsis (the full text is in the data table and the description).
    """
    if not _is_cjk(text):
        return textwrap.wrap(text, width=width * 2 - 2, max_lines=3, placeholder="…") or [text]
    if len(text) <= width:
        return [text]
    middle = math.ceil(len(text) / 2)
    cut = middle
    candidates = [i + 1 for i, ch in enumerate(text) if ch in "、 "]
    near = [c for c in candidates if abs(c - middle) <= 3 and c <= width]
    if near:
        cut = min(near, key=lambda c: abs(c - middle))
    first, rest = text[:cut].strip(), text[cut:].strip()
    if len(rest) > width + 1:
        rest = rest[:width] + "…"
    return [first, rest]


def _is_cjk(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def _finite(value: float | None) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def radar(
    labels: Sequence[str],
    values: Sequence[float | None],
    median: Sequence[float | None] | None,
    *,
    title: str,
    description: str,
    legend: tuple[str, str],
    no_score: str,
    columns: tuple[str, str, str] = ("label", "score", "median"),
) -> Chart:
    """A radar (spider) chart of scores 0–100 on ``len(labels)`` axes.

    Parameters
    ----------
    labels : sequence of str
        Axis labels, clockwise from the top.
    values : sequence of float or None
        This agency's scores (None/NaN = no score: no marker, and the label says so).
    median : sequence of float or None, or None
        The comparison series (dashed line, square markers); None to omit.
    title, description : str
        Text alternative (``<title>``, ``<desc>``).
    legend : (str, str)
        Legend texts for the two series.
    no_score : str
        Text appended to labels of axes without a score.
    columns : (str, str, str)
        Column names of the returned table.
    """
    n = len(labels)
    cx, cy, radius = 360.0, 265.0, 190.0

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * max(0.0, min(100.0, value)) / 100
        return round(cx + r * math.cos(angle), 1), round(cy + r * math.sin(angle), 1)

    axes = []
    for i, label in enumerate(labels):
        angle = -math.pi / 2 + 2 * math.pi * i / n
        cos, sin = math.cos(angle), math.sin(angle)
        lx, ly = cx + (radius + 18) * cos, cy + (radius + 18) * sin
        anchor = "middle" if abs(cos) < 0.25 else ("start" if cos > 0 else "end")
        lines = _wrap(label, 10)
        if not _finite(values[i]):
            lines.append(f"（{no_score}）" if _is_cjk(no_score) else f"({no_score})")
        dy = -6 * (len(lines) - 1) + (8 if sin > 0.5 else (-4 if sin < -0.5 else 4))
        axes.append(
            {
                "x2": round(cx + radius * cos, 1),
                "y2": round(cy + radius * sin, 1),
                "lx": round(lx, 1),
                "ly": round(ly + dy, 1),
                "anchor": anchor,
                "lines": lines,
            }
        )

    def series(vals: Sequence[float | None]) -> dict:
        pts = [point(i, v) if _finite(v) else None for i, v in enumerate(vals)]  # type: ignore[arg-type]
        complete = all(p is not None for p in pts)
        segments = []
        if not complete:
            for i in range(n):
                a, b = pts[i], pts[(i + 1) % n]
                if a is not None and b is not None:
                    segments.append((a, b))
        return {
            "points": [p for p in pts if p is not None],
            "polygon": " ".join(f"{x},{y}" for x, y in pts) if complete else "",  # type: ignore[misc]
            "segments": segments,
        }

    rings = [
        {"r": radius * k / 5, "label": str(k * 20), "y": round(cy - radius * k / 5 - 3, 1)}
        for k in range(1, 6)
    ]
    ring_polys = []
    for ring in rings:
        pts = [point(i, float(ring["label"])) for i in range(n)]
        ring_polys.append(" ".join(f"{x},{y}" for x, y in pts))
    svg = _svg(
        "radar",
        title,
        description,
        (labels, values, median),
        cx=cx,
        cy=cy,
        axes=axes,
        rings=rings,
        ring_polys=ring_polys,
        agency=series(values),
        median=series(median) if median is not None else None,
        legend=legend,
    )
    data = {columns[0]: list(labels), columns[1]: [_num(v) for v in values]}
    if median is not None:
        data[columns[2]] = [_num(v) for v in median]
    return Chart(svg=svg, table=pd.DataFrame(data), title=title, description=description)


def bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    description: str,
    no_score: str,
    reference: Sequence[float | None] | None = None,
    reference_label: str = "",
    legend_agency: str = "",
    columns: tuple[str, str, str] = ("label", "score", "median"),
) -> Chart:
    """Horizontal bars of scores 0–100, one per label, with an optional reference tick.

    Bars without a score are drawn as the text ``no_score`` (never as a zero bar).
    """
    left, width, row_h = 230.0, 380.0, 34.0
    rows = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 28 + i * row_h
        ref = reference[i] if reference is not None else None
        rows.append(
            {
                "y": y,
                "label": label,
                "has": _finite(value),
                "w": round(width * max(0.0, min(100.0, value)) / 100, 1) if _finite(value) else 0,  # type: ignore[arg-type]
                "value": f"{value:.1f}" if _finite(value) else no_score,
                "ref_x": round(left + width * ref / 100, 1) if _finite(ref) else None,  # type: ignore[operator]
            }
        )
    height = 28 + len(rows) * row_h + (40 if reference is not None else 20)
    ticks = [{"x": round(left + width * k / 5, 1), "label": str(k * 20)} for k in range(6)]
    svg = _svg(
        "bars",
        title,
        description,
        (labels, values, reference),
        rows=rows,
        left=left,
        width=width,
        height=height,
        ticks=ticks,
        reference=reference is not None,
        reference_label=reference_label,
        legend_agency=legend_agency,
        bottom=28 + len(rows) * row_h,
    )
    data = {columns[0]: list(labels), columns[1]: [_num(v) for v in values]}
    if reference is not None:
        data[columns[2]] = [_num(v) for v in reference]
    return Chart(svg=svg, table=pd.DataFrame(data), title=title, description=description)


def _num(value: float | None) -> float:
    return float(value) if _finite(value) else math.nan  # type: ignore[arg-type]


def _svg(
    kind: str, title: str, description: str, content: tuple[object, ...], **context: Any
) -> str:
    """Render the template ``chart_<kind>.svg.j2`` with its title, description, colours
    and an element id that is stable for the chart's content (same input, same HTML)."""
    digest = hashlib.sha1(repr((kind, title, description, *content)).encode("utf-8"))
    return render(
        f"chart_{kind}.svg.j2",
        id="gk-" + digest.hexdigest()[:10],
        title=title,
        description=description,
        **COLOURS,
        **context,
    )
