"""HTML rendering: one Jinja2 environment with autoescaping for every template.

Free text (agency names, notes, evidence) only ever reaches HTML through these
templates, so it is always escaped; nothing builds HTML by concatenating user
text.  Templates live in ``guidekit/templates``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from guidekit import i18n
from guidekit.text import printable

TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES), encoding="utf-8"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_visible,
    )
    env.globals.update(
        t=i18n.t,
        fmt_score=i18n.format_score,
        fmt_pct=i18n.format_pct,
    )
    return env


def _visible(value: Any) -> Any:
    """Every text shown in a page, before escaping: control characters (NUL …) and
    text-direction overrides (U+202E …) become visible escapes such as ``\\u202e``, so a
    note cannot reverse or hide what the reader sees; CR/CRLF are line breaks.  Markup
    built by guidekit (charts, ``| safe``) is left alone."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return printable(value.replace("\r\n", "\n").replace("\r", "\n"))
    return value


def css_string(text: str) -> Markup:
    """``text`` as the inside of a CSS string (for ``content: "…"`` in ``@page`` margin
    boxes): every character but ASCII letters, digits and spaces becomes a six-digit CSS
    escape, so no quote, backslash or ``</style>`` in an agency's name can end the string
    or the style element."""
    return Markup(
        "".join(
            ch if ch.isascii() and (ch.isalnum() or ch == " ") else f"\\{ord(ch):06X}"
            for ch in text
        )
    )


def render(template: str, **context: Any) -> str:
    """Render ``guidekit/templates/<template>`` with autoescaping."""
    return environment().get_template(template).render(**context)


def stylesheet() -> str:
    """The report / index CSS (inlined into every page: no external resource)."""
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


class HTML:
    """A piece of HTML that Jupyter displays as ``text/html`` (and prints as text)."""

    def __init__(self, html: str, text: str = "") -> None:
        self.html = html
        self.text = text or "[HTML]"

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.html
