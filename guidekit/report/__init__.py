"""Per-agency report: the helpers behind ``notebooks/report.ipynb``.

The notebook holds no rules: it builds an :class:`AgencyReport` and displays
its sections, each a piece of static, escaped HTML (tables and SVG charts).
:func:`guidekit.report.export.notebook_to_html` then turns the executed
notebook into a self-contained HTML page, and :func:`guidekit.report.pdf.html_to_pdf`
prints that page to PDF (``guidekit reports --pdf``).
"""

from __future__ import annotations

from guidekit.report.context import (
    AgencyReport,
    RoundData,
    actions_for_item,
    latest_round,
    load_round,
)
from guidekit.report.pdf import PdfEngineMissing, html_to_pdf

__all__ = [
    "AgencyReport",
    "PdfEngineMissing",
    "RoundData",
    "actions_for_item",
    "html_to_pdf",
    "latest_round",
    "load_round",
]
