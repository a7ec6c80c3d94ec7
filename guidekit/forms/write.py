"""Writing form files: one agency (:func:`write_form`) or a whole register (:func:`write_forms`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from guidekit.answers import Action, carried_forward
from guidekit.answers.rules import AGREED_RESPONDENT
from guidekit.files import check_targets, write_output
from guidekit.forms.model import build_form
from guidekit.forms.writer import FORMATS, form_bytes
from guidekit.framework import Framework
from guidekit.intake import read_responses
from guidekit.problems import GuidekitError


@dataclasses.dataclass(frozen=True)
class WrittenForm:
    """One form written: where, for whom, and how many respondent sheets it has."""

    path: Path
    agency_id: str
    agency_name: str
    respondent_sheets: int
    prefilled: int = 0
    prefill_round: str = ""


def prefill_rows(
    source: str | Path, fw: Framework, agency_id: str, instrument: str, service: str = ""
) -> tuple[pd.DataFrame, str]:
    """Answers to pre-fill one agency's form with, and their round.

    ``source``: an answer file, a folder of them, a workshop store (.sqlite) or a
    returned form; read and validated as every answer source
    (:func:`guidekit.intake.read_responses`; the team's agreed answer settles an
    item as everywhere).  The latest round of this agency and instrument (and
    ``service``, when given) is taken.  Returns the canonical rows (possibly none) and the round.

    Raises
    ------
    ResponsesError
        If ``source`` has errors.
    GuidekitError
        If no service is given and the agency answered for several in that round.
    """
    return latest_answers(read_responses(source, fw).frame, agency_id, instrument, service, source)


def latest_answers(
    frame: pd.DataFrame,
    agency_id: str,
    instrument: str,
    service: str = "",
    source: str | Path = "",
) -> tuple[pd.DataFrame, str]:
    """The rows of ``frame`` (canonical) that pre-fill one agency's form: its latest round
    for ``instrument`` (and ``service`` when given), and that round (``""`` when none).

    Raises
    ------
    GuidekitError
        If no service is given and that round holds several services of the agency
        (which one to carry over is not guessed).
    """
    mine = frame[(frame["agency_id"] == agency_id) & (frame["instrument"] == instrument)]
    if service:
        mine = mine[mine["service"].fillna("") == service]
    if mine.empty:
        return mine, ""
    latest = max(mine["round"])
    mine = mine[mine["round"] == latest]
    services = sorted(set(mine["service"].fillna("")))
    if len(services) > 1:
        raise GuidekitError(
            f"{source}: agency {agency_id} answered {instrument} for several services in round "
            f"{latest} ({', '.join(services)}); choose one with --service",
            zh=f"{source}：機關 {agency_id} 在評估回合 {latest} 有多項服務的 {instrument} 答案"
            f"（{'、'.join(services)}）；請以 --service 指定一項",
        )
    return mine, str(latest)


def write_form(
    path: str | Path,
    fw: Framework,
    *,
    agency_id: str,
    agency_name: str,
    round: str,
    instrument: str,
    service: str = "",
    lang: str = "zh-TW",
    fmt: str | None = None,
    respondents: int = 3,
    prefill: pd.DataFrame | None = None,
    actions: Sequence[Action] = (),
) -> WrittenForm:
    """Write one agency's form to ``path`` (format from ``fmt`` or the suffix: .ods/.xlsx).

    ``respondents``: blank respondent sheets when nothing is pre-filled (the
    pre-filled answers bring one sheet per respondent found).  ``actions``: improvement
    actions of any agencies and rounds; the form lists this agency's open ones from
    earlier rounds (:func:`form_actions`) on its actions sheet.

    Raises
    ------
    ValueError
        For an unknown format or instrument.
    WriteRefused
        If ``path`` holds a file guidekit did not write (:mod:`guidekit.files`).
    """
    path = Path(path)
    fmt = fmt or path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"unknown form format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not fw.has_instrument(instrument):
        raise ValueError(f"unknown instrument {instrument!r}")
    form = build_form(
        fw,
        agency_id=agency_id,
        agency_name=agency_name,
        round=round,
        instrument=instrument,
        service=service,
        lang=lang,
        respondents=[""] * respondents,
        prefill=prefill,
        actions=form_actions(actions, agency_id, round, instrument, service),
    )
    write_output(path, form_bytes(form, fmt))
    sheets = sum(1 for s in form.sheets if s.respondent and s.name != AGREED_RESPONDENT)
    return WrittenForm(
        path,
        agency_id,
        agency_name,
        sheets,
        0 if prefill is None else int(prefill["answer"].notna().sum()),
        "" if prefill is None or prefill.empty else str(prefill["round"].iloc[0]),
    )


def form_actions(
    actions: Sequence[Action], agency_id: str, round: str, instrument: str, service: str = ""
) -> list[Action]:
    """The actions one agency's form for ``round`` lists: its open actions of earlier rounds
    for this instrument and service, as records of ``round``
    (:func:`guidekit.answers.carried_forward`), in item order."""
    mine = [
        a
        for a in actions
        if a.agency_id == agency_id and a.instrument == instrument and a.service == service
    ]
    return sorted(carried_forward(mine, round), key=lambda a: (a.item_id, a.action_id))


def write_forms(
    folder: str | Path,
    fw: Framework,
    agencies: pd.DataFrame,
    *,
    round: str,
    instrument: str,
    lang: str = "zh-TW",
    fmt: str = "ods",
    respondents: int = 3,
    prefill: pd.DataFrame | None = None,
    stems: dict[str, str] | None = None,
    actions: Sequence[Action] = (),
) -> list[WrittenForm]:
    """One form per agency of ``agencies`` (columns ``agency_id``, ``name_zh``, ``name_en``)
    in ``folder``, named ``<stem>.<fmt>``: ``stems`` maps each agency id to a safe, unique
    file stem (the CLI passes the report file names' stems,
    :func:`guidekit.report.batch.report_filenames`); default the id itself.  Every target is checked before the first
    is written (:func:`guidekit.files.check_targets`): nothing is written when one is
    refused.  ``prefill``: canonical rows of any agencies; each form gets its own
    agency's latest round.
    """
    folder = Path(folder)
    stems = stems or {a: a for a in agencies["agency_id"]}
    targets = [folder / f"{stems[a]}.{fmt}" for a in agencies["agency_id"]]
    # every agency's pre-filled answers chosen (and every doubt raised) before writing
    chosen: dict[str, pd.DataFrame | None] = {}
    for agency_id in agencies["agency_id"]:
        rows = None
        if prefill is not None:
            rows, _round = latest_answers(prefill, agency_id, instrument)
        chosen[agency_id] = rows if rows is not None and not rows.empty else None
    check_targets(targets)
    out = []
    name_column = "name_en" if lang == "en" else "name_zh"
    for target, row in zip(targets, agencies.itertuples(index=False), strict=True):
        mine = chosen[row.agency_id]
        out.append(
            write_form(
                target,
                fw,
                agency_id=row.agency_id,
                agency_name=getattr(row, name_column) or row.name_zh,
                round=round,
                instrument=instrument,
                service="" if mine is None else str(mine["service"].iloc[0] or ""),
                lang=lang,
                fmt=fmt,
                respondents=respondents,
                prefill=mine,
                actions=actions,
            )
        )
    return out


__all__: Sequence[str] = (
    "WrittenForm",
    "form_actions",
    "latest_answers",
    "prefill_rows",
    "write_form",
    "write_forms",
)
