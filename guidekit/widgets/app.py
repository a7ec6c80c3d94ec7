"""The workshop page: choose what to answer, then the questionnaire or the facilitator view.

:func:`workshop` is what ``notebooks/workshop.ipynb`` (served by ``guidekit
workshop`` through Voilà) displays.  The start form picks or creates the round,
agency, service, form and respondent; every field is prefilled from what the
store already holds, so a respondent reopening the page finds their sheet and
resumes where they were.

The page address may carry the choices (``?round=2026&agency=A1&name=…&service=…
&form=service&respondent=R1``, or ``&view=team`` for the facilitator view); with
every field given, the page opens the sheet directly.

Privacy: the agency list offers only the bundled register of agencies (public
names), never what other agencies answered in the store; the facilitator view
(every respondent's names, answers and notes, exports) needs the facilitator
key when one is set (:data:`KEY_ENV`; ``guidekit workshop`` always sets one and
prints it for the facilitator only).  Use one store per workshop.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import hmac
import os
import time
import urllib.parse
from pathlib import Path
from typing import Any

from guidekit import i18n
from guidekit.answers import AGREED_RESPONDENT, clean_name, is_reserved_name
from guidekit.framework import Framework
from guidekit.intake.register import agencies
from guidekit.problems import GuidekitError
from guidekit.render.html import TEMPLATES, render
from guidekit.store import (
    ResponseStore,
    Sheet,
    open_store,
    text_problem,
)
from guidekit.text import clean
from guidekit.widgets import controls, server, wire
from guidekit.widgets.errors import ErrorPanel, guarded, setup_logging
from guidekit.widgets.facilitator import FacilitatorView
from guidekit.widgets.model import Facilitator, Questionnaire, new_session
from guidekit.widgets.questionnaire import QuestionnaireView, running_loop

#: Environment variable with the page language (``guidekit workshop --lang`` sets it).
LANG_ENV = "GUIDEKIT_LANG"

#: After a start click: seconds without any field change before the form is read (values
#: typed before the click may still be on their way), seconds between further looks while
#: fields look incomplete, and the longest wait before saying what is missing.
QUIET_S = 0.6
SETTLE_S = 0.8
SETTLE_MAX_S = 4.0

#: The facilitator key's environment variable (``guidekit workshop`` sets it): when set, the
#: facilitator view opens only with this key (start form field or ``&key=`` in the address).
KEY_ENV = server.KEY_ENV


def stylesheet() -> str:
    """The workshop page CSS (inlined; no external resource)."""
    return (TEMPLATES / "workshop" / "style.css").read_text(encoding="utf-8")


def known_agencies() -> dict[str, str]:
    """Agency code → zh-TW name from the bundled ``data/agencies/agencies.csv``, read by
    :func:`guidekit.research.agencies` (the one reader of the register).

    Raises
    ------
    GuidekitError
        If the register cannot be read or has problems (each named with its row).
    """

    register = agencies()
    return dict(zip(register["agency_id"], register["name_zh"], strict=True))


def query_choices(query: str | None = None) -> dict[str, str]:
    """Choices carried by the page address (Voilà passes it as ``$QUERY_STRING``)."""
    query = os.environ.get("QUERY_STRING", "") if query is None else query
    parsed = urllib.parse.parse_qs(query.lstrip("?"), keep_blank_values=True)
    names = ("round", "agency", "name", "service", "form", "respondent", "view", "lang", "key")
    return {k: parsed[k][-1] for k in names if k in parsed}


#: Width of the sign-in screen's fields (narrower than a questionnaire's notes).
SIGN_IN = "min(560px, 98%)"


class Workshop:
    """The whole workshop page.

    Parameters
    ----------
    store : ResponseStore or path, optional
        Default :func:`guidekit.store.default_store_path` (``$GUIDEKIT_STORE``).
    lang : {"zh-TW", "en"}, optional
        Default ``$GUIDEKIT_LANG`` or zh-TW.
    framework : Framework or path, optional
    query : str, optional
        The page address's query string (default ``$QUERY_STRING``).
    facilitator_key : str, optional
        Key the facilitator view needs (default ``$GUIDEKIT_FACILITATOR_KEY``; none
        needed when neither is set, e.g. in the facilitator's own JupyterLab).

    Attributes
    ----------
    widget : ipywidgets.VBox
        The page (displayed by Jupyter / Voilà).
    view : QuestionnaireView or FacilitatorView or None
        The open sheet, if any.
    """

    def __init__(
        self,
        store: ResponseStore | str | Path | None = None,
        lang: str | None = None,
        framework: Framework | str | Path | None = None,
        query: str | None = None,
        facilitator_key: str | None = None,
    ) -> None:
        import ipywidgets as w

        setup_logging()
        # A note with half an emoji reaches the page and is refused aloud.
        in_kernel = wire.use_in_kernel()
        key = facilitator_key if facilitator_key is not None else os.environ.get(KEY_ENV, "")
        self.facilitator_key = key.strip()
        self._owns_store = not isinstance(store, ResponseStore)
        self.store = store if isinstance(store, ResponseStore) else open_store(store, framework)
        if in_kernel:
            # The kernel is shut down (page closed, server stopped): save a resting choice and
            # close the store, which copies the -wal file's changes into the .sqlite file.
            atexit.register(self.at_exit)
        choices = query_choices(query)
        self.lang = i18n.normalise_lang(
            choices.get("lang") or lang or os.environ.get(LANG_ENV) or None
        )
        self.session = new_session()
        self._looking = False  # a start click waits for values still on their way
        self._changed_at = 0.0  # time.monotonic() of the start form's last field change
        self.errors = ErrorPanel(self.lang)
        self.view: Any = None
        self.style = w.HTML(value=f"<style>{stylesheet()}</style>")
        self.body = w.VBox()
        self.widget = w.VBox([self.style, self.body])
        self.widget.add_class("gk-ws")
        self._build_start(choices)
        # An address asking for a page opens it, or says at once why it cannot.
        if choices.get("view") == "team":
            self.open_facilitator()
        elif (choices.get("respondent") or "").strip():
            self.open_questionnaire()

    def t(self, key: str, **values: Any) -> str:
        return i18n.t(key, self.lang, **values)

    def at_exit(self) -> None:
        """Save what the open page still holds (a resting choice) and close the store if
        this page opened it; called when the kernel exits."""
        flush = getattr(self.view, "flush", None)
        if callable(flush):
            with contextlib.suppress(Exception):
                flush()
        if self._owns_store:
            self.store.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- the start form -------------------------------------------------------------------
    def _build_start(self, choices: dict[str, str] | None = None) -> None:
        import ipywidgets as w

        choices = choices or {}
        fw = self.store.framework
        sheets = self.store.sheets()
        answers = sheets[sheets["kind"] == "answer"]
        rounds = sorted(set(answers["round"]), reverse=True)
        default_round = rounds[0] if rounds else str(dt.date.today().year)
        # Public names only: the bundled register, never the agencies other workshops
        # answered in this store (a participant need not learn who else was assessed).
        try:
            self.agencies = known_agencies()
        except GuidekitError as exc:  # the page still works, without suggestions: said, logged
            self.agencies = {}
            self.errors.exception(exc, "agency register")
        #: The agency name this form filled in itself (it follows the code until edited).
        self._auto_name = ""

        self.intro = w.HTML(
            value=render(
                "workshop/start.html.j2",
                css="",
                title=self.t("workshop.title"),
                intro=self.t("workshop.intro"),
            )
        )
        self.lang_pick = controls.field(
            "Dropdown",
            "語言 Language",
            None,
            options=[("中文（臺灣）", "zh-TW"), ("English", "en")],
            value=self.lang,
        )

        def typed(kind: str, key: str, value: str, **options: Any) -> Any:
            # Text fields send every change as it is typed: a field whose value only travels
            # when it is left shows the kernel's value again whenever the kernel changes
            # anything else about it (e.g. the suggested names), which wiped half-typed names.
            return controls.field(
                kind, self.t(key), SIGN_IN, value=value, continuous_update=True, **options
            )

        def suggest(key: str, value: str, options: list[str]) -> Any:
            return typed("Combobox", key, value, options=options, ensure_option=False)

        self.round = suggest("report.meta.round", choices.get("round", default_round), rounds)
        self.round.placeholder = "2026"
        self.agency_pick = controls.field(
            "Dropdown",
            self.t("workshop.field.agency_list"),
            SIGN_IN,
            options=[(self.t("workshop.field.agency_own"), None)]
            + [(f"{name}（{code}）", code) for code, name in sorted(self.agencies.items())],
            value=None,
        )
        agency = choices.get("agency", "")
        self.agency_id = typed("Text", "report.meta.agency_id", agency)
        name = choices.get("name", self.agencies.get(agency, ""))
        self.agency_name = typed("Text", "workshop.field.agency_name", name)
        self.service = suggest("workshop.field.service", choices.get("service", ""), [])
        form = choices.get("form")
        self.instrument = controls.field(
            "Dropdown",
            self.t("report.meta.instrument"),
            SIGN_IN,
            options=[
                (
                    f"{i.text('title', self.lang)}（{i.annex}）"
                    if i.annex
                    else i.text("title", self.lang),
                    i.id,
                )
                for i in fw.instruments
            ],
            value=form if form and fw.has_instrument(form) else None,
        )
        self.respondent = suggest(
            "workshop.field.respondent_hint", choices.get("respondent", ""), []
        )
        self.key = typed("Password", "workshop.field.key", choices.get("key", ""))
        if not self.facilitator_key:
            self.key.layout = w.Layout(display="none")
        self.start_button = controls.button(self.t("workshop.start"), "pencil", True)
        self.team_button = controls.button(self.t("workshop.team.open"), "users")
        self.message = w.HTML()

        self.lang_pick.observe(guarded(self.errors, "language")(self._on_lang), names="value")
        self.agency_pick.observe(guarded(self.errors, "agency list")(self._on_pick), names="value")
        for field in (self.round, self.agency_id, self.service, self.instrument):
            field.observe(
                guarded(self.errors, "suggestions")(lambda _c: self._suggest()), names="value"
            )
        fields = (
            self.round,
            self.agency_pick,
            self.agency_id,
            self.agency_name,
            self.service,
            self.instrument,
            self.respondent,
            self.key,
        )
        for field in fields:
            field.observe(self._typed, names="value")
        self.start_button.on_click(lambda _b: self._after_typing(self.open_questionnaire, "start"))
        self.team_button.on_click(
            lambda _b: self._after_typing(self.open_facilitator, "facilitator")
        )
        self._suggest()
        self.start = w.VBox(
            [
                self.intro,
                self.lang_pick,
                self.errors.widget,
                *fields,
                w.HBox(
                    [self.start_button, self.team_button], layout=w.Layout(flex_flow="row wrap")
                ),
                self.message,
            ]
        )
        self.body.children = (self.start,)

    def _after_typing(self, action: Any, where: str) -> None:
        """Run a button's action once the start form's values have all arrived.

        The browser sends each typed change, but ipywidgets holds a value back while an
        earlier one is unacknowledged, and a click is sent at once: a click right after
        typing reaches the kernel before the last value (a name typed as 「鍵盤」 would
        arrive as 「鍵」, or not at all).  So in a kernel the action waits until no field
        has changed for :data:`QUIET_S`, and while fields still look incomplete, up to
        :data:`SETTLE_MAX_S`; then it runs (and says what is missing, if anything).
        """
        run = guarded(self.errors, where)(action)
        team = action == self.open_facilitator
        loop = running_loop()
        if loop is None:
            run()
            return
        if self._looking:
            return  # a second click while the first still waits for the values
        self._looking = True
        clicked = time.monotonic()
        deadline = clicked + SETTLE_MAX_S

        def look_again() -> None:
            now = time.monotonic()
            settling = now - max(clicked, self._changed_at) < QUIET_S
            if (settling or self.problems(team=team)) and now + SETTLE_S <= deadline:
                loop.call_later(SETTLE_S if not settling else QUIET_S / 2, look_again)
                return
            self._looking = False
            run()

        loop.call_later(QUIET_S, look_again)

    def _typed(self, _change: Any = None) -> None:
        """A start-form field changed (the click waits for the last change, see above)."""
        self._changed_at = time.monotonic()

    def _on_lang(self, change: dict[str, Any]) -> None:
        self.lang = i18n.normalise_lang(change["new"])
        self.errors.lang = self.lang
        self._build_start(self._kept())

    def _kept(self) -> dict[str, str]:
        """The start form's choices, to rebuild it (e.g. in another language)."""
        kept = self._values()
        return {
            "round": kept["round"],
            "agency": kept["agency_id"],
            "name": kept["agency_name"],
            "service": kept["service"],
            "form": kept["instrument"] or "",
            "respondent": kept["respondent"],
            "key": self.key.value or "",
        }

    def _registered(self) -> str | None:
        """The agency name the store holds for the chosen round and agency code."""
        v = self._values()
        if not v["round"] or not v["agency_id"]:
            return None
        if text_problem(v["round"]) or text_problem(v["agency_id"]):
            return None
        return self.store.agency_name(v["round"], v["agency_id"])

    def _on_pick(self, change: dict[str, Any]) -> None:
        code = change["new"]
        if code is None:
            return
        self.agency_id.value = code
        self._auto_name = self.agencies.get(code, "")
        self.agency_name.value = self._auto_name

    def _suggest(self) -> None:
        """Offer the services and respondents the store already has for these choices."""
        v = self._values()
        sheets = self.store.sheets(round=v["round"] or None, agency_id=v["agency_id"] or None)
        sheets = sheets[sheets["kind"] == "answer"]
        registered = self._registered()
        # The name follows the code while it is the one this form filled in (typing a code
        # passes over shorter codes: their names must not stay); a typed name is kept.
        shown = self.agency_name.value or ""
        if not shown.strip() or shown == self._auto_name:
            name = (registered or self.agencies.get(v["agency_id"]) or "") if v["agency_id"] else ""
            self._auto_name = name
            if shown != name:
                self.agency_name.value = name
        self.service.options = sorted({str(s) for s in sheets["service"] if str(s)})
        if v["instrument"]:
            sheets = sheets[
                (sheets["instrument"] == v["instrument"]) & (sheets["service"] == v["service"])
            ]
        self.respondent.options = sorted({str(r) for r in sheets["respondent"]})

    def _values(self) -> dict[str, Any]:
        return {
            "round": clean(self.round.value or ""),
            "agency_id": clean(self.agency_id.value or ""),
            "agency_name": clean_name(self.agency_name.value or ""),
            "service": clean(self.service.value or ""),
            "instrument": self.instrument.value,
            "respondent": clean(self.respondent.value or ""),
        }

    def _text_fields(self) -> list[tuple[str, Any, str, Any]]:
        """(key, widget, label key, clean-up) of the typed fields, as the file reader
        cleans the same columns (:mod:`guidekit.intake.responses`)."""
        return [
            ("round", self.round, "report.meta.round", clean),
            ("agency_id", self.agency_id, "report.meta.agency_id", clean),
            ("agency_name", self.agency_name, "workshop.field.agency_name", clean_name),
            ("service", self.service, "workshop.field.service", clean),
            ("respondent", self.respondent, "workshop.field.respondent", clean),
        ]

    def problems(self, team: bool = False) -> list[str]:
        """What is missing or wrong in the start form (every problem at once).

        Codes and names follow the store's rules (:func:`guidekit.store.text_problem`:
        no control or text-direction characters, the answer-file reader's rule), the
        reserved name 「團隊共識」 and its look-alikes are refused, an agency name must
        match the one the store holds for the code in this round, and the facilitator
        view needs the facilitator key when one is set.
        """
        v = self._values()
        out = []
        for key, widget, label, _ in self._text_fields():
            if team and key not in ("round", "agency_id"):
                continue
            problem = text_problem(widget.value or "")
            if problem:
                which = (
                    "workshop.start.control"
                    if problem == "control-char"
                    else ("workshop.start.surrogate")
                )
                out.append(self.t(which, field=self.t(label)))
        needed = [("round", "report.meta.round"), ("agency_id", "report.meta.agency_id")]
        if not team:
            needed += [
                ("agency_name", "workshop.field.agency_name"),
                ("instrument", "report.meta.instrument"),
                ("respondent", "workshop.field.respondent"),
            ]
        for key, label in needed:
            if not v[key]:
                out.append(self.t("workshop.start.missing", field=self.t(label)))
        if not team and v["respondent"] and is_reserved_name(v["respondent"]):
            out.append(self.t("store.error.reserved", name=AGREED_RESPONDENT))
        if not team and v["agency_name"] and not out:
            registered = self._registered()
            if registered is not None and registered != v["agency_name"]:
                out.append(
                    self.t(
                        "store.error.agency-name",
                        agency_id=v["agency_id"],
                        round=v["round"],
                        registered=registered,
                        given=v["agency_name"],
                    )
                )
        if team and self.facilitator_key:
            given = (self.key.value or "").strip()
            if not given:
                out.append(self.t("workshop.start.key"))
            elif not hmac.compare_digest(
                given.encode("utf-8", "replace"), self.facilitator_key.encode("utf-8")
            ):
                out.append(self.t("workshop.start.key_wrong"))
        return out

    def _tidy(self, team: bool) -> list[str]:
        """Put the cleaned values into the fields; one message per field that changed
        beyond surrounding spaces (full-width letters, invisible characters), so the
        respondent sees what will be stored before it is (nothing changes silently)."""
        out = []
        for key, widget, label, cleaner in self._text_fields():
            if team and key not in ("round", "agency_id"):
                continue
            raw = widget.value or ""
            cleaned = cleaner(raw)
            if cleaned != raw.strip():
                widget.value = cleaned
                out.append(self.t("workshop.start.cleaned", field=self.t(label), cleaned=cleaned))
        return out

    def fields_ready(self, team: bool) -> bool:
        return not self.problems(team)

    def _refuse(self, problems: list[str]) -> None:
        self.message.value = render(
            "workshop/error.html.j2",
            heading=self.t("workshop.start.cannot"),
            message="",
            detail="；".join(problems) if self.lang == "zh-TW" else "; ".join(problems),
            dismiss_hint=self.t("workshop.start.fix"),
        )

    # -- opening a page ---------------------------------------------------------------------
    def _checked(self, team: bool) -> dict[str, Any] | None:
        """The sign-in values, tidied, or None when they are refused (the page says why)."""
        problems = self.problems(team=team) or self._tidy(team=team)
        if problems:
            self._refuse(problems)
            return None
        return self._values()

    def open_questionnaire(self) -> QuestionnaireView | None:
        """Open the respondent's sheet (resuming what the store holds)."""
        v = self._checked(team=False)
        if v is None:
            return None
        sheet = Sheet(
            v["round"],
            v["agency_id"],
            v["agency_name"],
            v["service"],
            v["instrument"],
            v["respondent"],
        )
        model = Questionnaire(self.store, sheet, lang=self.lang, session=self.session)
        self.errors.clear()
        self.view = QuestionnaireView(model, on_back=self.close_view, errors=self.errors)
        self.body.children = (self.view.widget,)
        return self.view

    def open_facilitator(self) -> FacilitatorView | None:
        """Open the facilitator view of the chosen agency and round."""
        v = self._checked(team=True)
        if v is None:
            return None
        model = Facilitator(
            self.store, v["round"], v["agency_id"], lang=self.lang, session=self.session
        )
        if v["instrument"] and (v["service"], v["instrument"]) in model.assessments():
            model.select(v["service"], v["instrument"])
        self.errors.clear()
        self.view = FacilitatorView(model, on_back=self.close_view, errors=self.errors)
        self.body.children = (self.view.widget,)
        return self.view

    def close_view(self) -> None:
        """Back to the start form (keeping the choices)."""
        kept = self._kept()
        self.view = None
        self.errors.clear()
        self._build_start(kept)


def workshop(
    store: ResponseStore | str | Path | None = None,
    lang: str | None = None,
    framework: Framework | str | Path | None = None,
) -> Workshop:
    """The workshop page (display it, e.g. as the last line of a notebook cell).

    See :class:`Workshop`.  If the page cannot be built (e.g. the store cannot be
    opened), the error is logged with its traceback and the returned object shows
    it as a readable message instead.
    """
    try:
        return Workshop(store=store, lang=lang, framework=framework)
    except Exception as exc:
        panel = ErrorPanel(i18n.normalise_lang(lang or os.environ.get(LANG_ENV) or None))
        panel.exception(exc, "open the workshop page")
        return panel  # type: ignore[return-value]
