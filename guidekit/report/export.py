"""Executed report notebook → one self-contained HTML page (nbconvert).

The nbconvert template ``guidekit_report`` keeps only the ``text/html`` outputs
of code cells (the report sections guidekit renders), inside a page with the
report's ``lang``, ``<title>`` and inlined CSS.  Code, prompts, markdown cells,
streams, tracebacks, JavaScript and widget views are left out, so the page makes
no request to anything: it looks the same with the network off.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from guidekit.render.html import stylesheet
from guidekit.version import __version__

TEMPLATE_DIR = Path(__file__).with_name("nbconvert")
TEMPLATE_NAME = "guidekit_report"


@functools.cache
def exporter() -> Any:
    """A configured ``nbconvert.HTMLExporter`` (one per process; building one is slow).

    nbconvert and nbformat are imported here, not at the top: they take about a
    second to import (jsonschema's format checkers), which every ``guidekit``
    command would pay otherwise; only report workers need them."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.HTMLExporter.exclude_input = True
    config.HTMLExporter.exclude_input_prompt = True
    config.HTMLExporter.exclude_output_prompt = True
    config.HTMLExporter.exclude_markdown = True
    config.HTMLExporter.exclude_raw = True
    return HTMLExporter(
        config=config,
        template_name=TEMPLATE_NAME,
        extra_template_basedirs=[str(TEMPLATE_DIR)],
    )


def notebook_to_html(nb: Any, *, lang: str, title: str) -> str:
    """HTML page of an executed report notebook.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook.
    lang : str
        ``lang`` attribute of the page (``"zh-TW"`` or ``"en"``).
    title : str
        The page ``<title>`` (escaped by the template).
    """
    resources = {
        "guidekit": {"lang": lang, "title": title, "css": stylesheet(), "version": __version__}
    }
    body, _ = exporter().from_notebook_node(nb, resources=resources)
    return body
