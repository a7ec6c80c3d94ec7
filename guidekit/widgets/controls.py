"""The workshop's recurring controls, built one way everywhere (ipywidgets).

Every view of the workshop (the sign-in screen, the questionnaire, the facilitator's
team view) asks for answers and notes and offers buttons; each kind of control is made
here once, so they look and behave alike: labels never cut short
(``description_width: initial``), text boxes as wide as the page allows, notes sent when
the box loses focus.  ipywidgets is imported when a control is made (the package works
without a display)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from guidekit.render.html import render

#: Width of text boxes and wide choices: the page's, at most 760 px.
WIDE = "min(760px, 98%)"
#: Labels are shown in full, never cut to ipywidgets' default width.
STYLE = {"description_width": "initial"}


def button(description: str, icon: str = "", primary: bool = False, **options: Any) -> Any:
    """A button as wide as its words (``primary``: the main action of its view)."""
    import ipywidgets as w

    if primary:
        options.setdefault("button_style", "primary")
    return w.Button(description=description, icon=icon, layout=w.Layout(width="auto"), **options)


def answer_choice(options: Sequence[Any], value: str | None, description: str) -> Any:
    """The answer scale as one row of radio buttons; ``value=None`` chooses nothing (an
    item is not answered until someone answers it)."""
    import ipywidgets as w

    return w.RadioButtons(
        options=list(options),
        value=value,
        description=description,
        orientation="horizontal",
        style=STYLE,
        layout=w.Layout(width="auto"),
    )


def note_box(value: str, description: str, placeholder: str = "", rows: int = 2) -> Any:
    """A note or reason, sent when the box loses focus (saved on blur, not per key)."""
    import ipywidgets as w

    return w.Textarea(
        value=value,
        description=description,
        placeholder=placeholder,
        continuous_update=False,
        rows=rows,
        style=STYLE,
        layout=w.Layout(width=WIDE),
    )


def field(kind: str, description: str, width: str | None = WIDE, **options: Any) -> Any:
    """An input of ipywidgets class ``kind`` (``"Dropdown"``, ``"Text"`` …) with its label
    in full, ``width`` wide (CSS; None: ipywidgets' own)."""
    import ipywidgets as w

    if width is not None:
        options.setdefault("layout", w.Layout(width=width))
    return getattr(w, kind)(description=description, style=STYLE, **options)


def item_context(item: Any, t: Callable[..., str], lang: str) -> dict[str, Any]:
    """What an item's heading shows in every view: its id, whether it is a major item
    (大項) and its text, in ``lang`` (``t`` gives the view's messages)."""
    return {
        "item_id": item.id,
        "major": item.major,
        "major_label": t("col.major"),
        "text": item.text("text", lang),
    }


def heading(text: str, level: int = 3) -> Any:
    """A heading inside a view (``<h3>`` by default: the page and the view have theirs)."""
    import ipywidgets as w

    return w.HTML(value=render("workshop/heading.html.j2", level=level, text=text))
