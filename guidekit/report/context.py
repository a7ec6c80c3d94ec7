"""What one agency's report shows, computed from the round's scores.

Nothing here decides a score: numbers come from :mod:`guidekit.scoring`,
recommended measures from :mod:`guidekit.scoring.recommend`; this module selects and
formats them, and renders each report section through an autoescaping template.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import pickle
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from guidekit import i18n
from guidekit.answers import (
    Action,
    ActionStatus,
    Responses,
    carried_forward,
    is_overdue,
    round_key,
    sorted_rounds,
)
from guidekit.answers import latest_round as answers_latest_round
from guidekit.files import write_atomic
from guidekit.framework import Framework, load_framework
from guidekit.intake.actions import read_actions
from guidekit.intake.register import agencies
from guidekit.intake.responses import read_responses
from guidekit.paths import example_actions, examples_dir
from guidekit.problems import GuidekitError
from guidekit.render import charts
from guidekit.render.html import HTML, css_string, render
from guidekit.scoring import KEY, Outcome, Scores, classify_outcomes, is_gap, score
from guidekit.scoring.recommend import Priority, priorities, ranked, recommend


def local_time(value: str) -> dt.datetime | None:
    """An ISO date-time as Taiwan time (naive times are taken as already local); None if unparseable.

    The store writes UTC: an answer given at 07:30 in Taipei is 23:30 the day before
    in UTC, and the report's "last answer" date must be the Taipei day.
    """
    from zoneinfo import ZoneInfo

    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(ZoneInfo(i18n.TIMEZONE)).replace(tzinfo=None)


def latest_round(rounds: pd.Series | list[str]) -> str:
    """The latest round id in natural order (``"2026-10"`` after ``"2026-9"``,
    :func:`guidekit.answers.latest_round`).

    Raises
    ------
    GuidekitError
        If there is no round.
    """
    latest = answers_latest_round(list(rounds))
    if latest is None:
        raise GuidekitError("no rounds in the answers", zh="填答中沒有評估回合")
    return latest


@dataclasses.dataclass
class RoundData:
    """Answers and scores of one round, computed once and shared by every report.

    Attributes
    ----------
    round : str
    responses : Responses
        Only this round's rows.
    scores : Scores
        Scores of every assessment of the round (peers need them all).
    """

    round: str
    responses: Responses
    scores: Scores
    #: Rounds in the answers that were not chosen → number of agencies in each.
    other_rounds: dict[str, int] = dataclasses.field(default_factory=dict)
    #: Improvement actions of every agency and round (:func:`guidekit.intake.read_actions`).
    actions: list[Action] = dataclasses.field(default_factory=list)
    #: Scores of the round before (None when not read): judge last round's actions.
    previous: Scores | None = None

    def save(self, path: str | Path) -> Path:
        """Pickle to ``path`` (a cache for the report notebooks of one batch)."""
        return write_atomic(path, pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL))

    @staticmethod
    def load(path: str | Path) -> RoundData:
        """Unpickle a cache written by :meth:`save`.

        The last cache loaded in this process is kept and returned again while the
        file is the same (path, size, modification time, inode): a report kernel reused
        across the agencies of one batch unpickles the round once, not once per agency
        (~0.2 s for 300 agencies).  Reports only read the round (pandas copy-on-write:
        a derived table never changes it).

        Raises
        ------
        GuidekitError
            If the file is not a round cache.
        """
        global _loaded
        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if _loaded is not None and _loaded[0] == key:
            return _loaded[1]
        with Path(path).open("rb") as fh:
            data = pickle.load(fh)
        if not isinstance(data, RoundData):
            raise GuidekitError(
                f"{path} is not a guidekit round cache", zh=f"{path} 不是 guidekit 的回合快取檔"
            )
        _loaded = (key, data)
        return data


#: The last round cache :meth:`RoundData.load` read: (file identity, data).
_loaded: tuple[tuple[Any, ...], RoundData] | None = None


def load_round(
    responses: str | Path | list[str | Path] | Responses | None = None,
    framework: Framework | str | Path | None = None,
    round: str | None = None,
    weights: dict[str, float] | None = None,
    actions: str | Path | list[str | Path] | list[Action] | None = None,
    previous: str | Path | list[str | Path] | Responses | None = None,
) -> RoundData:
    """Read answers, keep one round (default: the latest), and score it.

    ``responses`` defaults to the bundled example round.  ``actions``: improvement-action
    files, folders or stores (:func:`guidekit.intake.read_actions`; default with the bundled
    example: its actions), or :class:`~guidekit.answers.Action` records.  The round before (to judge last round's actions) is scored
    from ``responses`` when they hold it, else from ``previous`` (default with the bundled
    example: its previous round).

    Raises
    ------
    ResponsesError
        If the answers are invalid.
    GuidekitError
        If the round is not in the answers.
    """

    if isinstance(responses, Responses):
        data = responses
    else:
        fw = framework if isinstance(framework, Framework) else load_framework(framework)
        source = responses if responses is not None else default_responses(examples_dir())
        data = read_responses(source, fw)
    if data.frame.empty:
        raise GuidekitError("the answer files hold no answers", zh="填答檔中沒有任何答案")
    chosen = round if round is not None else latest_round(data.frame["round"].tolist())
    frame = data.frame[data.frame["round"] == chosen].reset_index(drop=True)
    if frame.empty:
        have = ", ".join(sorted_rounds(data.frame["round"]))
        hint = {"en": "", "zh-TW": ""}
        rounds = examples_dir() / "rounds"
        if responses is None and (rounds / chosen).is_dir():
            # the default answers are the example's latest round only: say where this one is
            folder = _shown_path(rounds)
            hint = {
                lang: ("；" if lang == "zh-TW" else "; ")
                + i18n.t("batch.round.elsewhere", lang, folder=folder, round=chosen)
                for lang in hint
            }
        raise GuidekitError(
            f"round {chosen!r} is not in the answers (rounds: {have}){hint['en']}",
            zh=f"填答中沒有評估回合 {chosen!r}（現有：{have}）{hint['zh-TW']}",
        )
    subset = dataclasses.replace(data, frame=frame)
    others = (
        data.frame[data.frame["round"] != chosen].groupby("round")["agency_id"].nunique().to_dict()
    )
    fw = data.framework
    if actions is None and responses is None and example_actions().is_dir():
        actions = example_actions()
    if actions is None:
        acts: list[Action] = []
    elif isinstance(actions, list) and all(isinstance(a, Action) for a in actions):
        acts = list(actions)  # type: ignore[arg-type]
    else:
        acts = read_actions(actions, fw).actions  # type: ignore[arg-type]
    before = [r for r in sorted_rounds(data.frame["round"]) if round_key(r) < round_key(chosen)]
    earlier = None
    if before:
        frame = data.frame[data.frame["round"] == before[-1]].reset_index(drop=True)
        earlier = score(dataclasses.replace(data, frame=frame), weights)
    elif acts or previous is not None:
        if previous is None and responses is None:
            rounds = sorted_rounds(p.name for p in (examples_dir() / "rounds").glob("*"))
            prior = [r for r in rounds if round_key(r) < round_key(chosen)]
            previous = examples_dir() / "rounds" / prior[-1] if prior else None
        if isinstance(previous, Responses):
            earlier = score(previous, weights)
        elif previous is not None:
            earlier = score(read_responses(previous, fw), weights)
    return RoundData(
        chosen,
        subset,
        score(subset, weights),
        {str(k): int(v) for k, v in others.items()},
        acts,
        earlier,
    )


def actions_of(actions: Iterable[Action], key: Mapping[str, str]) -> list[Action]:
    """The actions (any round) of one assessment's agency, service and instrument
    (``key``: ``agency_id, service, instrument``)."""
    return [
        a
        for a in actions
        if a.agency_id == key["agency_id"]
        and a.service == key["service"]
        and a.instrument == key["instrument"]
    ]


def actions_for_item(
    actions: list[Action],
    key: dict[str, str],
    item_id: str,
    lang: str = "zh-TW",
    today: dt.date | None = None,
) -> list[dict[str, Any]]:
    """The actions of one item of one assessment, as plain rows for a report section
    (e.g. a priority's ``actions`` slot): ``action_id, text, owner, due`` (ISO),
    ``due_label`` (both calendars), ``due_short`` (民國 date only in zh-TW), ``status`` (code), ``status_label``, ``measure_id``,
    ``overdue`` (bool).  ``key`` is the assessment (round, agency_id, service, instrument);
    the actions are this round's and earlier rounds' still-open ones
    (:func:`guidekit.answers.carried_forward`).  Empty list: a gap with no action."""
    today = today or i18n.today()
    mine = [a for a in actions_of(actions, key) if a.item_id == item_id]
    listed = [a for a in mine if a.round == key["round"]] + carried_forward(mine, key["round"])
    return [
        {
            "action_id": a.action_id,
            "text": a.text,
            "owner": a.owner,
            "due": a.due.isoformat(),
            "due_label": i18n.format_date(a.due, lang),
            "due_short": i18n.date_parts(a.due, lang)[0],
            "status": a.status.value,
            "status_label": a.status.label(lang),
            "measure_id": a.measure_id,
            "overdue": is_overdue(a, today),
        }
        for a in sorted(listed, key=lambda a: (a.due, a.action_id))
    ]


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is inside it (what a user
    types), else absolute."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def default_responses(folder: Path) -> Path:
    """The bundled example's latest round folder (``data/examples/rounds/<round>/``)."""
    rounds = sorted(
        (p for p in (folder / "rounds").glob("*") if p.is_dir()), key=lambda p: round_key(p.name)
    )
    if not rounds:
        raise GuidekitError(
            f"no bundled example answers in {folder / 'rounds'}",
            zh=f"找不到內附的範例填答：{folder / 'rounds'}",
        )
    return rounds[-1]


@dataclasses.dataclass
class _Assessment:
    key: dict[str, str]
    overall: dict[str, Any]
    principles: pd.DataFrame
    dimensions: pd.DataFrame
    items: pd.DataFrame
    answers: pd.DataFrame  # canonical rows of this assessment


class AgencyReport:
    """One agency's report for one round.

    Build it with :meth:`build`; each section method returns an :class:`~guidekit.html.HTML`
    that Jupyter displays.  All text is in ``lang`` (``"zh-TW"`` or ``"en"``).

    Attributes
    ----------
    agency_id, agency_name, round, lang : str
    framework : Framework
    data : RoundData
    assessments : list
        One per (service, instrument) this agency answered in the round.
    """

    def __init__(
        self, data: RoundData, agency_id: str, lang: str = "zh-TW", today: dt.date | None = None
    ) -> None:
        self.data = data
        self.framework = data.scores.framework
        self.lang = i18n.normalise_lang(lang)
        self.agency_id = agency_id
        self.round = data.round
        self.today = today or i18n.today()
        mine = data.scores.assessment(agency_id)
        if mine.overall.empty:
            raise GuidekitError(
                i18n.t("report.not_found", "en", agency_id=agency_id, round=self.round),
                zh=i18n.t("report.not_found", "zh-TW", agency_id=agency_id, round=self.round),
            )
        self.agency_name = str(mine.overall["agency_name"].iloc[0])
        frame = data.responses.frame
        own = frame[frame["agency_id"] == agency_id]
        self.assessments: list[_Assessment] = []
        for _, row in mine.overall.iterrows():
            key = {k: str(row[k]) for k in KEY}

            def pick(df: pd.DataFrame, key: dict[str, str] = key) -> pd.DataFrame:
                mask = pd.Series(True, index=df.index)
                for k, v in key.items():
                    mask &= df[k] == v
                return df[mask].reset_index(drop=True)

            self.assessments.append(
                _Assessment(
                    key=key,
                    overall=row.to_dict(),
                    principles=pick(mine.principles),
                    dimensions=pick(mine.dimensions),
                    items=pick(mine.items),
                    answers=pick(own),
                )
            )

    @classmethod
    def build(
        cls,
        agency_id: str,
        responses: str | Path | list[str | Path] | None = None,
        framework: str | Path | None = None,
        round: str | None = None,
        lang: str = "zh-TW",
        cache: str | Path | None = None,
        today: str | dt.date | None = None,
        actions: str | Path | list[str | Path] | None = None,
    ) -> AgencyReport:
        """Build the report of ``agency_id``.

        Parameters
        ----------
        agency_id : str
            機關代碼, exactly as in the answers.
        responses : path(s), optional
            Answer files; default the bundled example.
        framework : path, optional
            Framework folder; default the bundled 政府數位服務指引.
        round : str, optional
            Default: the latest round in the answers.
        lang : {"zh-TW", "en"}
        cache : path, optional
            A :class:`RoundData` pickle written by the batch (skips reading and scoring).
        today : date or ISO string, optional
            The report date (default: today).
        actions : path(s), optional
            Improvement-action files or stores (:func:`load_round`).

        Raises
        ------
        GuidekitError
            If the agency has no answers in the round.
        """
        data = (
            RoundData.load(cache)
            if cache
            else load_round(responses, framework, round, actions=actions)
        )
        day = dt.date.fromisoformat(today) if isinstance(today, str) else today
        return cls(data, str(agency_id), lang, day)

    # -- helpers -------------------------------------------------------------------
    def t(self, key: str, **values: Any) -> str:
        """A message in the report's language, in the framework's own terms."""
        return i18n.t(key, self.lang, **{**self.framework.names(self.lang), **values})

    def _text(self, record: Any, field: str) -> str:
        return record.text(field, self.lang)

    def _principle_label(self, principle_id: str) -> str:
        p = self.framework.principle(principle_id)
        if self.lang == "zh-TW":
            return f"{p.numeral_zh or p.number}、{p.title_zh}"
        return f"{p.number}. {p.title_en}"

    def _assessment_label(self, a: _Assessment) -> str:
        inst = self.framework.instrument(a.key["instrument"])
        service = a.key["service"]
        suffix = f"：{service}" if self.lang == "zh-TW" else f": {service}"
        return self.t(
            "report.assessment",
            instrument=self._text(inst, "title"),
            service=suffix if service else "",
        )

    def _annex(self, instrument: Any) -> str:
        annex = (
            instrument.annex if self.lang == "zh-TW" else (instrument.annex_en or instrument.annex)
        )
        if not annex:
            return ""
        return f"（{annex}）" if self.lang == "zh-TW" else f" ({annex})"

    def _result_label(self, item: Any) -> str:
        """An item's combined result: the scale's word, or the value on a continuous scale."""
        scale = self.framework.scale(item["instrument"])
        if scale.kind == "continuous" and item["status"] in {"met", "partial", "not_met"}:
            return self.t("status.value", value=f"{item['value']:g}")
        return self._status_label(item["instrument"], item["status"])

    def _status_label(self, instrument: str, status: str) -> str:
        """An item's combined result in the words of its own scale (符合 / 已規劃 …)."""
        scale = self.framework.scale(instrument)
        if scale.kind == "continuous" and status in {"met", "partial", "not_met"}:
            return self.t(f"status.continuous.{status}")
        return scale.status_label(status, self.lang) or self.t(f"status.{status}")

    @property
    def display_name(self) -> str:
        """The agency's name as the reader sees it: in English reports, the register's
        English name with the name as answered, when the register knows this code
        under that name.

        Raises
        ------
        GuidekitError
            If the register (:func:`guidekit.intake.register.agencies`) cannot be read: an
            English report does not quietly lose the English names.
        """
        if self.lang != "en":
            return self.agency_name
        register = agencies().set_index("agency_id")
        if self.agency_id in register.index:
            record = register.loc[self.agency_id]
            if record["name_zh"] == self.agency_name and record["name_en"]:
                return f"{record['name_en']} ({self.agency_name})"
        return self.agency_name

    def _band_label(self, code: Any) -> str:
        return self.framework.band_label(code, self.lang)

    def _position(self, quartile: Any, peer_n: int) -> str:
        minimum = self.framework.scoring.min_peer_group
        if isinstance(quartile, str):
            return self.t(f"position.{quartile}")
        if peer_n < minimum:
            return self.t("position.suppressed", minimum=minimum)
        return self.t("position.none")

    def _answer_label(self, instrument: str, code: Any) -> str:
        if not isinstance(code, str):
            return self.t("label.no_answer")
        scale = self.framework.scale(instrument)
        try:
            return scale.option(code).text("label", self.lang)
        except KeyError:
            return code

    def _is_na(self, instrument: str, code: Any) -> bool:
        if not isinstance(code, str):
            return False
        try:
            return self.framework.scale(instrument).option(code).na
        except KeyError:  # a number on a continuous scale
            return False

    def _median(self, instrument: str, level: str, level_id: str) -> float:
        peers = self.data.scores.peers
        row = peers[
            (peers["round"] == self.round)
            & (peers["instrument"] == instrument)
            & (peers["level"] == level)
            & (peers["level_id"] == level_id)
        ]
        return float(row["median"].iloc[0]) if not row.empty else math.nan

    def _anchor(self, a: _Assessment, item_id: str) -> str:
        """The id of the one row that details ``item_id`` (unique across assessments)."""
        return f"a{self.assessments.index(a) + 1}-{item_id}"

    @staticmethod
    def _home(status: str) -> str:
        """The section that details an item with this result (each item in one place):
        gaps for not met / partly met, not-applicable items, else disagreements."""
        if status in {"not_met", "partial"}:
            return "section-gaps"
        return "section-na" if status == "na" else "section-disagreements"

    def _answer_summary(self, instrument: str, answers: pd.DataFrame) -> list[dict[str, Any]]:
        """How many respondents gave each answer, in the scale's order (then unanswered)."""
        scale = self.framework.scale(instrument)
        codes = [c if isinstance(c, str) else None for c in answers["answer"]]
        order = [o.code for o in scale.options] + sorted(
            {c for c in codes if c is not None and c not in {o.code for o in scale.options}}
        )
        counts = [(code, codes.count(code)) for code in order] + [(None, codes.count(None))]
        return [{"label": self._answer_label(instrument, code), "n": n} for code, n in counts if n]

    def _item_rows(self, a: _Assessment, items: pd.DataFrame) -> list[dict[str, Any]]:
        rows = []
        for _, item in items.iterrows():
            spec = self.framework.item(item["item_id"])
            answers = a.answers[a.answers["item_id"] == item["item_id"]].sort_values("respondent")
            rows.append(
                {
                    "id": item["item_id"],
                    "anchor": self._anchor(a, item["item_id"]),
                    "home": self._home(str(item["status"])),
                    "summary": self._answer_summary(a.key["instrument"], answers),
                    "text": self._text(spec, "text"),
                    "major": bool(item["major"]),
                    "status": item["status"],
                    "status_label": self._result_label(item),
                    "spread": item["spread"],
                    "mixed_na": int(item["n_na"]) > 0 and int(item["n_answered"]) > 0,
                    "principle": self._principle_label(item["principle_id"]),
                    "answers": [
                        {
                            "respondent": r.respondent,
                            "answer": self._answer_label(r.instrument, r.answer),
                        }
                        for r in answers.itertuples()
                    ],
                    "notes": [
                        {"respondent": r.respondent, "note": r.note}
                        for r in answers.itertuples()
                        if isinstance(r.note, str) and r.note.strip()
                    ],
                    "na_reasons": [
                        {"respondent": r.respondent, "note": r.note}
                        for r in answers.itertuples()
                        if self._is_na(r.instrument, r.answer)
                        and isinstance(r.note, str)
                        and r.note.strip()
                    ],
                }
            )
        return rows

    def _words(self) -> dict[str, str]:
        """The scale's own words for results ("未規劃" in a plan report, "不符合" in a
        service one), as ``met``, ``partial``, ``not_met``."""
        instrument = self.assessments[0].key["instrument"]
        return {s: self._status_label(instrument, s) for s in ("met", "partial", "not_met")}

    def _section(self, template: str, key: str, **context: Any) -> HTML:
        words = self._words()

        def t(message: str, **values: Any) -> str:
            return self.t(message, **{**words, **values})

        html = render(
            template,
            t=t,
            lang=self.lang,
            heading=self.t(key),
            section_id=key.replace(".", "-"),
            multi=len(self.assessments) > 1,
            **context,
        )
        return HTML(html, text=self.t(key))

    # -- sections ------------------------------------------------------------------
    def header(self) -> HTML:
        """Title, agency, round, dates (民國 and Gregorian), synthetic-data notice."""
        fw = self.framework
        moments = [
            local_time(v)
            for a in self.assessments
            for v in a.answers["answered_at"].tolist()
            if isinstance(v, str) and v.strip()
        ]
        known = [m for m in moments if m is not None]  # unparseable times were reported at intake
        last = i18n.date_parts(max(known).date(), self.lang) if known else None
        sep = "：" if self.lang == "zh-TW" else ": "
        assessments = [
            {
                "label": self._assessment_label(a),
                "text": self.t(
                    "report.meta.assessment",
                    instrument=self._text(fw.instrument(a.key["instrument"]), "title"),
                    annex=self._annex(fw.instrument(a.key["instrument"])),
                    service=f"{sep}{a.key['service']}" if a.key["service"] else "",
                    respondents=int(a.overall["n_respondents"]),
                    agreed=self.t("report.meta.agreed")
                    if bool(a.overall.get("has_agreed"))
                    else "",
                    version=a.overall["framework_version"],
                ),
            }
            for a in self.assessments
        ]
        html = render(
            "report_header.html.j2",
            t=self.t,
            title=self.t("report.title", agency=self.display_name),
            subtitle=self.t(
                "report.subtitle", framework=self._text(fw.meta, "title"), version=fw.version
            ),
            agency_name=self.agency_name,
            agency_id=self.agency_id,
            round=self.round,
            generated=i18n.date_parts(self.today, self.lang),
            last_answer=last,
            synthetic=self.data.responses.synthetic,
            assessments=assessments,
            notice=self._text(fw.meta, "notice"),
            page_label=css_string(
                self.t("report.page_label", agency=self.display_name, round=self.round)
            ),
        )
        return HTML(html, text=self.t("report.title", agency=self.display_name))

    def overview(self) -> HTML:
        """The first page: overall score, band, coverage, position among the round's
        agencies, counts, then the priorities (:meth:`priorities`) with their meaning,
        major items not met and recommended supporting measures, and room for an owner,
        a due date and a status per priority."""
        blocks = []
        for a in self.assessments:
            o = a.overall
            blocks.append(
                {
                    "label": self._assessment_label(a),
                    "score": i18n.format_score(o["score"]),
                    "score_text": self.t("overview.score_of", score=i18n.format_score(o["score"])),
                    "band": self._band_label(o["band"]),
                    "coverage": i18n.format_pct(o["coverage"]),
                    "position": self._position(o["quartile"], int(o["peer_n"])),
                    "counts": self.t(
                        "overview.counts",
                        n_items=int(o["n_items"]),
                        n_scored=int(o["n_scored"]),
                        n_na=int(o["n_na"]),
                        n_unanswered=int(o["n_unanswered"]),
                    ),
                    "flags": self.t(
                        "overview.flags" if self._has_major else "overview.flags_nomajor",
                        n_major=int(o["n_major_not_met"]),
                        n_major_unanswered=int(
                            (a.items["major"] & (a.items["status"] == "unanswered")).sum()
                        ),
                        n_disagree=int(o["n_disagreements"]),
                    ),
                    "low_coverage": self.t(
                        "overview.low_coverage",
                        pct=i18n.format_pct(self.framework.scoring.low_coverage_below),
                    )
                    if bool(o["low_coverage"])
                    else "",
                    **self._guidance(a),
                }
            )
        return self._section(
            "section_overview.html.j2",
            "section.overview",
            blocks=blocks,
            intro=self.t(
                "priorities.intro" if self._has_major else "priorities.intro_gaps",
                measures=self.t("priorities.intro_measures") if self.framework.measures else "",
                **self._words(),
            ),
        )

    @property
    def _has_major(self) -> bool:
        """Whether the framework marks any major items (大項)."""
        return any(i.major for bank in self.framework.items.values() for i in bank)

    def priorities(self, a: _Assessment) -> list[Priority]:
        """What this assessment should do first (:func:`guidekit.scoring.priorities`), each
        with the improvement actions recorded for its principle's items
        (:func:`actions_for_item`, plus ``item_id``) when actions were collected."""
        out = priorities(a.items, a.principles, self.framework)
        if self.data.actions:
            for p in out:
                for item_id in a.items.loc[a.items["principle_id"] == p.principle_id, "item_id"]:
                    listed = actions_for_item(
                        self.data.actions, a.key, item_id, self.lang, self.today
                    )
                    link = self._item_link(a, item_id)
                    p.actions.extend({**row, "item_id": item_id, "item": link} for row in listed)
        return out

    @staticmethod
    def _gaps_of(a: _Assessment, principle_id: str) -> list[str]:
        """Items of one principle answered below the top of their scale (:func:`is_gap`)."""
        part = a.items[a.items["principle_id"] == principle_id]
        return [i for i, s in zip(part["item_id"], part["status"], strict=True) if is_gap(str(s))]

    def _item_link(self, a: _Assessment, item_id: str) -> dict[str, str]:
        return {
            "id": item_id,
            "anchor": self._anchor(a, item_id),
            "text": self._text(self.framework.item(item_id), "text"),
        }

    def _guidance(self, a: _Assessment) -> dict[str, Any]:
        """The first page's priorities, each with its meaning and measures, and the major
        items not met or unanswered that no priority names (so none is left out)."""
        fw = self.framework
        measures = {m.id: m for m in fw.measures}
        chosen = recommend(a.items, a.principles, fw)
        reasons = dict(zip(chosen["measure_id"], chosen["reasons"], strict=True))
        shown: set[str] = set()
        rows = []
        for p in self.priorities(a):
            principle = fw.principle(p.principle_id)
            mine = set(a.items.loc[a.items["principle_id"] == p.principle_id, "item_id"])
            shown.update(p.major_items)
            rows.append(
                {
                    "rank": p.rank,
                    "kind": p.kind,
                    "anchor": f"a{self.assessments.index(a) + 1}-priority-{p.rank}",
                    "label": self._principle_label(p.principle_id),
                    "score": i18n.format_score(p.score),
                    "band": self._band_label(
                        a.principles.set_index("principle_id").loc[p.principle_id, "band"]
                    ),
                    "meaning": self._text(principle, "requirement"),
                    "major_items": [self._item_link(a, i) for i in p.major_items],
                    "gap_note": self.t(
                        "priorities.gap" if self._has_major else "priorities.gap_nomajor",
                        **self._words(),
                    ),
                    "measures": [
                        {
                            "id": m,
                            "title": self._text(measures[m], "title"),
                            "items": [
                                self._item_link(a, r["item_id"])
                                for r in reasons[m]
                                if r["kind"] == "item" and r["item_id"] in mine
                            ],
                        }
                        for m in p.measures
                    ],
                    "actions": p.actions,
                    "tracked": bool(self.data.actions),
                    "without": [
                        self._item_link(a, i)
                        for i in self._gaps_of(a, p.principle_id)
                        if self.data.actions and i not in {x["item_id"] for x in p.actions}
                    ],
                }
            )
        majors = a.items[a.items["major"].astype(bool)]
        other = majors[majors["major_not_met"].astype(bool) & ~majors["item_id"].isin(shown)]
        unanswered = majors[majors["status"] == "unanswered"]
        return {
            "priorities": rows,
            "other_majors": [self._item_link(a, i) for i in other["item_id"]],
            "unanswered_majors": [
                {**self._item_link(a, i), "principle": self._principle_label(pid)}
                for i, pid in zip(unanswered["item_id"], unanswered["principle_id"], strict=True)
            ],
        }

    def contents(self) -> HTML:
        """Table of contents of the detail sections, and the way back to the round's index."""
        keys = ["principles", "dimensions", "gaps", "disagreements"]
        keys += ["measures"] if self.framework.measures else []
        keys += ["actions"] if self.data.actions else []
        keys += ["na", "method"]
        entries = [{"id": f"section-{k}", "heading": self.t(f"section.{k}")} for k in keys]
        return self._section("report_contents.html.j2", "section.contents", entries=entries)

    def principle_chart(self, a: _Assessment) -> charts.Chart:
        """The 13-axis radar chart of one assessment against the round's median."""
        labels = [self._principle_label(pid) for pid in a.principles["principle_id"]]
        values = a.principles["score"].tolist()
        medians = [
            self._median(a.key["instrument"], "principle", pid)
            for pid in a.principles["principle_id"]
        ]
        show_median = any(not math.isnan(m) for m in medians)
        finite = [(v, lbl) for v, lbl in zip(values, labels, strict=True) if not math.isnan(v)]
        description = (
            self.t("chart.radar.desc", agency=self.display_name)
            if show_median
            else self.t(
                "chart.radar.desc_nomedian",
                agency=self.display_name,
                minimum=self.framework.scoring.min_peer_group,
            )
        )
        if finite:
            high, low = max(v for v, _ in finite), min(v for v, _ in finite)
            description += " " + self.t(
                "chart.radar.summary",
                best=self._join_labels([lbl for v, lbl in finite if v == high]),
                best_score=i18n.format_score(high),
                worst=self._join_labels([lbl for v, lbl in finite if v == low]),
                worst_score=i18n.format_score(low),
            )
        return charts.radar(
            labels,
            values,
            medians if show_median else None,
            title=self.t("chart.radar.title"),
            description=description,
            legend=(self.t("chart.legend.agency"), self.t("chart.legend.median")),
            no_score=self.t("chart.no_score"),
            columns=(self.t("col.principle"), self.t("col.score"), self.t("col.median")),
        )

    def _join_labels(self, labels: list[str]) -> str:
        """Labels of tied principles: up to three, then how many more (:func:`i18n.join_labels`)."""
        return i18n.join_labels(labels, self.lang, limit=3)

    def principles(self) -> HTML:
        """Radar chart against the round's median, and the table of principle scores."""
        blocks = []
        low = self.t("label.low_coverage")
        for a in self.assessments:
            chart = self.principle_chart(a)
            rows = []
            for _, p in a.principles.iterrows():
                rows.append(
                    {
                        "label": self._principle_label(p["principle_id"]),
                        "dimension": p["dimension_id"],
                        "score": i18n.format_score(p["score"]),
                        "width": 0.0
                        if math.isnan(p["score"])
                        else max(0.0, min(100.0, p["score"])),
                        "median": i18n.format_score(
                            self._median(a.key["instrument"], "principle", p["principle_id"])
                        ),
                        "band": self._band_label(p["band"]),
                        "coverage": i18n.format_pct(p["coverage"]),
                        "low_coverage": low if p["low_coverage"] else "",
                        "answered": int(p["n_scored"]),
                        "na": int(p["n_na"]),
                        "unanswered": int(p["n_unanswered"]),
                        "position": self._position(p["quartile"], int(p["peer_n"])),
                    }
                )
            blocks.append({"label": self._assessment_label(a), "chart": chart, "rows": rows})
        return self._section("section_principles.html.j2", "section.principles", blocks=blocks)

    def dimensions(self) -> HTML:
        """Bar chart and table per dimension (構面)."""
        blocks = []
        for a in self.assessments:
            labels, values, medians, rows = [], [], [], []
            for _, d in a.dimensions.iterrows():
                dim = self.framework.dimension(d["dimension_id"])
                label = f"{dim.id} {self._text(dim, 'title')}"
                median = self._median(a.key["instrument"], "dimension", d["dimension_id"])
                labels.append(label)
                values.append(d["score"])
                medians.append(median)
                rows.append(
                    {
                        "label": label,
                        "principles": i18n.join_labels(
                            [
                                self._principle_label(p.id)
                                for p in self.framework.principles_of(dim.id)
                            ],
                            self.lang,
                        ),
                        "score": i18n.format_score(d["score"]),
                        "median": i18n.format_score(median),
                        "band": self._band_label(d["band"]),
                        "coverage": i18n.format_pct(d["coverage"]),
                    }
                )
            show_median = any(not math.isnan(m) for m in medians)
            chart = charts.bars(
                labels,
                values,
                title=self.t("chart.bars.title"),
                description=self.t("chart.bars.desc", agency=self.display_name),
                no_score=self.t("chart.no_score"),
                reference=medians if show_median else None,
                reference_label=self.t("chart.legend.median"),
                legend_agency=self.t("chart.legend.agency"),
                columns=(self.t("col.dimension"), self.t("col.score"), self.t("col.median")),
            )
            blocks.append({"label": self._assessment_label(a), "chart": chart, "rows": rows})
        return self._section("section_dimensions.html.j2", "section.dimensions", blocks=blocks)

    def gaps(self) -> HTML:
        """Items not met or partly met, grouped by principle, with respondents' notes."""
        blocks = []
        for a in self.assessments:
            gaps = a.items[a.items["status"].isin(["not_met", "partial"])]
            gaps = gaps.assign(_o=gaps["status"].map({"not_met": 0, "partial": 1}))
            groups = []
            for pid in [p.id for p in self.framework.principles]:
                part = gaps[gaps["principle_id"] == pid].sort_values(["_o"], kind="stable")
                if not part.empty:
                    groups.append(
                        {"principle": self._principle_label(pid), "items": self._item_rows(a, part)}
                    )
            blocks.append({"label": self._assessment_label(a), "groups": groups})
        return self._section("section_gaps.html.j2", "section.gaps", blocks=blocks)

    def disagreements(self) -> HTML:
        """Items where respondents disagree (discussion prompts)."""
        blocks = []
        for a in self.assessments:
            rows = a.items[a.items["disagreement"]]
            blocks.append(
                {
                    "label": self._assessment_label(a),
                    "single": int(a.overall["n_respondents"]) < 2,
                    "items": self._item_rows(a, rows),
                }
            )
        return self._section(
            "section_disagreements.html.j2", "section.disagreements", blocks=blocks
        )

    def measures(self) -> HTML:
        """Supporting measures recommended for these answers, with the reasons
        (nothing when the framework has no supporting measures)."""
        if not self.framework.measures:
            return HTML("", text="")
        blocks = []
        for a in self.assessments:
            chosen = recommend(a.items, a.principles, self.framework)
            measures = {m.id: m for m in self.framework.measures}
            rows = []
            by_id = chosen.set_index("measure_id")
            for measure_id in ranked(chosen, a.items):
                rec = by_id.loc[measure_id]
                m = measures[measure_id]
                reasons = []
                by_status: dict[str, list[dict[str, str]]] = {}
                for r in rec["reasons"]:
                    if r["kind"] == "item":
                        label = self._status_label(a.key["instrument"], r["status"])
                        by_status.setdefault(label, []).append(self._item_link(a, r["item_id"]))
                reasons += [{"status": k, "items": v} for k, v in by_status.items()]
                for r in rec["reasons"]:
                    if r["kind"] != "item":
                        reasons.append(
                            {
                                "text": self.t(
                                    "measures.score_reason",
                                    principle=self._principle_label(r["principle_id"]),
                                    score=i18n.format_score(r["score"]),
                                    threshold=f"{r['threshold']:g}",
                                )
                            }
                        )
                rows.append(
                    {
                        "id": m.id,
                        "title": self._text(m, "title"),
                        "description": self._text(m, "description"),
                        "stage": self._text(self.framework.stage(m.stage), "title"),
                        "principles": [self._principle_label(p) for p in m.principles],
                        "reasons": reasons,
                    }
                )
            blocks.append({"label": self._assessment_label(a), "measures": rows})
        return self._section("section_measures.html.j2", "section.measures", blocks=blocks)

    def actions(self) -> HTML:
        """The action plan (every gap and action, by principle; gaps with no action marked)
        and, in a later round, what became of last round's actions (overdue first).  Nothing
        when no actions were collected at all (no actions source: the gaps section lists
        the gaps)."""
        if not self.data.actions:
            return HTML("", text="")
        blocks = []
        fw = self.framework
        for a in self.assessments:
            items = a.items
            groups = []
            for p in fw.principles:
                part = items[items["principle_id"] == p.id]
                acts, without = [], []
                for item_id, status in zip(part["item_id"], part["status"], strict=True):
                    listed = actions_for_item(
                        self.data.actions, a.key, item_id, self.lang, self.today
                    )
                    link = self._item_link(a, item_id)
                    acts += [{**x, "item": link} for x in listed]
                    if not listed and is_gap(str(status)):
                        without.append(link)
                if acts or without:
                    groups.append(
                        {
                            "principle": self._principle_label(p.id),
                            "actions": acts,
                            "without": without,
                        }
                    )
            outcomes = []
            if self.data.previous is not None and self.data.actions:
                both = dataclasses.replace(
                    self.data.scores,
                    items=pd.concat([self.data.previous.items, self.data.scores.items]),
                )
                mine = actions_of(self.data.actions, a.key)
                frame = classify_outcomes(mine, both, self.round, on=self.today)
                for r in frame.itertuples():
                    outcomes.append(
                        {
                            "id": r.item_id,
                            "text": r.text,
                            "owner": r.owner,
                            "due_label": i18n.format_date(dt.date.fromisoformat(r.due), self.lang),
                            "status_label": ActionStatus(r.status).label(self.lang),
                            "outcome": r.outcome,
                            "outcome_label": Outcome(r.outcome).label(self.lang),
                            "reason": r.reason if r.status == ActionStatus.DROPPED else "",
                            "overdue": bool(r.overdue),
                            "round": r.recorded_round,
                        }
                    )
            blocks.append(
                {
                    "label": self._assessment_label(a),
                    "groups": groups,
                    "outcomes": outcomes,
                    "n_without": sum(len(g["without"]) for g in groups),
                }
            )
        return self._section("section_actions.html.j2", "section.actions", blocks=blocks)

    def not_applicable(self) -> HTML:
        """Items judged not applicable, with the reasons respondents gave."""
        blocks = []
        for a in self.assessments:
            rows = a.items[a.items["status"] == "na"]
            blocks.append({"label": self._assessment_label(a), "items": self._item_rows(a, rows)})
        return self._section("section_na.html.j2", "section.na", blocks=blocks)

    def _status_rule(self, scale: Any) -> str:
        """How a combined (median) value becomes the item's result on an ordinal scale,
        with a worked example of two respondents one level apart (Scale.status)."""

        def score(value: float) -> str:
            return f"{(value - scale.low) / (scale.high - scale.low) * 100:g}"

        def label(status: str) -> str:
            return scale.status_label(status, self.lang) or self.t(f"status.{status}")

        met = scale.met_value if scale.met_value is not None else scale.high
        below = scale.not_met_below if scale.not_met_below is not None else scale.low
        text = self.t(
            "method.status",
            met=score(met),
            below=score(below),
            met_label=label("met"),
            not_met_label=label("not_met"),
            partial_label=label("partial"),
        )
        valued = sorted((o for o in scale.options if o.value is not None), key=lambda o: o.value)
        if len(valued) >= 3:
            low, next_up = valued[0], valued[1]
            middle = (low.value + next_up.value) / 2
            text += self.t(
                "method.status_example",
                a=next_up.text("label", self.lang),
                b=low.text("label", self.lang),
                score=score(middle),
                result=label(scale.status(middle)),
            )
        return text

    def method(self) -> HTML:
        """What the score means and does not mean, in this framework's terms and rules."""
        fw = self.framework
        zh = self.lang == "zh-TW"
        sentences = [self.t("method.indicative")]
        scales = [fw.scale(inst.id) for inst in fw.instruments]
        ordinal = []
        for scale in scales:
            if scale.kind == "continuous":
                sentences.append(
                    self.t("method.scale_continuous", low=f"{scale.low:g}", high=f"{scale.high:g}")
                )
                continue
            parts = [
                f"{o.text('label', self.lang)} {((o.value - scale.low) / (scale.high - scale.low) * 100):.0f}"
                for o in scale.options
                if o.value is not None
            ]
            ordinal.append(("、" if zh else ", ").join(parts))
        if ordinal:
            joined = ("；" if zh else "; ").join(dict.fromkeys(ordinal))
            sentences.append(self.t("method.scale_ordinal", scale=joined))
            statuses = [self._status_rule(s) for s in scales if s.kind == "ordinal"]
            sentences.extend(dict.fromkeys(statuses))
        if any(o.na for scale in scales for o in scale.options):
            sentences.append(self.t("method.na"))
        if fw.scoring.normalisation != "none":
            sentences.append(self.t(f"method.normalised.{fw.scoring.normalisation}"))
        level = "principle" if fw.scoring.overall_from == "principles" else "dimension"
        sentences.append(
            self.t(
                "method.aggregate",
                mean=self.t(f"method.mean.{fw.scoring.aggregation}"),
                overall_from=fw.level_name(level, self.lang)
                if zh
                else fw.level_name(level, self.lang).lower(),
            )
        )
        bands = sorted(fw.bands, key=lambda b: b.min)
        sentences.append(
            self.t(
                "method.bands",
                bands=("、" if zh else ", ").join(
                    f"{b.text('label', self.lang)} ≥ {b.min:g}" for b in bands
                ),
            )
        )
        sentences.append(self.t("method.position", minimum=fw.scoring.min_peer_group))
        if any(i.major for bank in fw.items.values() for i in bank):
            sentences.append(self.t("method.major"))
        body = ("" if zh else " ").join(sentences)
        extra = [
            self.t("method.coverage"),
            self.t("method.low_coverage", pct=i18n.format_pct(fw.scoring.low_coverage_below)),
            self.t("method.version", version=fw.version),
        ]
        return self._section(
            "section_method.html.j2",
            "section.method",
            body=body,
            extra=extra,
        )

    def sections(self) -> list[HTML]:
        """Every section in report order."""
        return [
            self.header(),
            self.overview(),
            self.contents(),
            self.principles(),
            self.dimensions(),
            self.gaps(),
            self.disagreements(),
            self.measures(),
            self.actions(),
            self.not_applicable(),
            self.method(),
        ]

    def summary(self) -> list[dict[str, Any]]:
        """One plain record per assessment for the batch's ``summary.csv`` (JSON-safe)."""
        out = []
        for a in self.assessments:
            o = a.overall
            out.append(
                {
                    "round": self.round,
                    "agency_id": self.agency_id,
                    "agency_name": self.agency_name,
                    "service": a.key["service"],
                    "instrument": a.key["instrument"],
                    "n_respondents": int(o["n_respondents"]),
                    "score": None if math.isnan(o["score"]) else round(float(o["score"]), 2),
                    "band": o["band"] if isinstance(o["band"], str) else None,
                    "coverage": round(float(o["coverage"]), 4),
                    "quartile": o["quartile"] if isinstance(o["quartile"], str) else None,
                    "n_major_not_met": int(o["n_major_not_met"]),
                    "n_disagreements": int(o["n_disagreements"]),
                }
            )
        return out
