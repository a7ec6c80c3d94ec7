"""Errors in widget callbacks: shown on the page and logged with the traceback.

Voilà swallows ``print`` and shows failed callbacks as a generic message (voila
#483, #499), so every callback the workshop registers goes through
:func:`guarded`: an exception is written with its traceback to the workshop
log file (:func:`log_path`) and shown, escaped and in the page's language, in
an :class:`ErrorPanel` — never swallowed.
"""

from __future__ import annotations

import functools
import logging
import logging.handlers
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from guidekit import i18n
from guidekit.problems import GuidekitError
from guidekit.render.html import render

#: Environment variable naming the log file (``guidekit workshop`` sets it).
LOG_ENV = "GUIDEKIT_WORKSHOP_LOG"

LOGGER = logging.getLogger("guidekit.workshop")

_setup_lock = threading.Lock()
_handler_path: Path | None = None

F = TypeVar("F", bound=Callable[..., Any])


def log_path() -> Path:
    """The workshop log file: ``$GUIDEKIT_WORKSHOP_LOG``, else ``workshop.log`` in the
    user's log directory (platformdirs, e.g. ``~/.local/state/guidekit/log`` on Linux)."""
    named = os.environ.get(LOG_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    import platformdirs

    return platformdirs.user_log_path("guidekit", appauthor=False) / "workshop.log"


def setup_logging() -> Path:
    """Send ``guidekit.workshop`` records (INFO and up) to :func:`log_path` (UTF-8,
    rotated at 5 MB, 3 old files kept); idempotent.  Returns the file."""
    global _handler_path
    path = log_path()
    with _setup_lock:
        if _handler_path == path:
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=5_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s pid=%(process)d %(name)s: %(message)s")
        )
        for old in [h for h in LOGGER.handlers if getattr(h, "_guidekit", False)]:
            LOGGER.removeHandler(old)
            old.close()
        handler._guidekit = True  # type: ignore[attr-defined]
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
        LOGGER.propagate = False
        _handler_path = path
    return path


class ErrorPanel:
    """A place on the page for error messages (an ``ipywidgets.HTML``, hidden when empty).

    Attributes
    ----------
    widget : ipywidgets.HTML
    messages : list of str
        Plain-text messages shown so far (newest last), for tests.
    """

    def __init__(self, lang: str = "zh-TW") -> None:
        import ipywidgets as w

        self.lang = lang
        self.messages: list[str] = []
        self.widget = w.HTML(value="", layout=w.Layout(display="none"))
        self.widget.add_class("gk-errors")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def show(self, message: str, detail: str = "") -> None:
        """Show ``message`` (plain text; escaped here) with an optional detail line."""
        self.messages.append(message if not detail else f"{message} {detail}")
        self.widget.value = render(
            "workshop/error.html.j2",
            heading=i18n.t("workshop.error.heading", self.lang),
            message=message,
            detail=detail,
            dismiss_hint=i18n.t("workshop.error.next", self.lang),
        )
        self.widget.layout.display = None

    def clear(self) -> None:
        """Hide the panel."""
        self.widget.value = ""
        self.widget.layout.display = "none"

    def exception(self, exc: BaseException, where: str) -> None:
        """Log ``exc`` with its traceback and show a readable message."""
        path = setup_logging()
        LOGGER.error("error in %s", where, exc_info=(type(exc), exc, exc.__traceback__))
        if isinstance(exc, GuidekitError) and callable(getattr(exc, "text", None)):
            message = exc.text(self.lang)  # guidekit's own errors carry a text for people
        else:
            message = i18n.t(
                "workshop.error.unexpected", self.lang, error=f"{type(exc).__name__}: {exc}"
            )
        self.show(message, i18n.t("workshop.error.logged", self.lang, path=str(path)))


def guarded(panel: ErrorPanel, where: str) -> Callable[[F], F]:
    """Decorator for widget callbacks: exceptions are logged and shown in ``panel``.

    Parameters
    ----------
    panel : ErrorPanel
    where : str
        What the callback does (goes to the log), e.g. ``"answer SV-P01-01"``.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                panel.exception(exc, where)
                return None

        return wrapper  # type: ignore[return-value]

    return decorate
