"""Rendering: HTML through one autoescaping Jinja environment, SVG charts, fonts.

Boundary: turns already computed tables into escaped HTML and SVG; computes no score.
"""

from __future__ import annotations

from guidekit.render.charts import (
    Chart,
    bars,
    radar,
)
from guidekit.render.fonts import (
    CJK_FAMILIES,
    cjk_family,
    has_cjk_font,
    use_cjk_font,
)
from guidekit.render.html import (
    HTML,
    TEMPLATES,
    css_string,
    environment,
    render,
    stylesheet,
)

__all__ = [
    "CJK_FAMILIES",
    "HTML",
    "TEMPLATES",
    "Chart",
    "bars",
    "cjk_family",
    "css_string",
    "environment",
    "has_cjk_font",
    "radar",
    "render",
    "stylesheet",
    "use_cjk_font",
]
