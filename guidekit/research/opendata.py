"""Open data: scores and answers as a Frictionless Data Package.

:func:`export_package` writes a folder that any Frictionless tool (and pandas)
can read::

    datapackage.json         metadata: licence, framework and versions, creation date,
                             what is protected and what is not, a table schema per file
    scores_overall.csv       one row per assessment (round × agency × service × form)
    scores_dimensions.csv    one row per assessment × dimension (構面)
    scores_principles.csv    one row per assessment × principle (原則)
    item_results.csv         one row per assessment × check item: the agency's combined result
                             (large respondent groups only)
    answers.csv              one row per respondent × item, pseudonymised (large groups only)
    groups.csv               overall scores summarised by level and kind of agency
    actions.csv              improvement actions, pseudonymised, owners generalised (large
                             groups only)

**What the package protects, and what it cannot.**

* *Protected: respondents (填答者) inside an agency.*  Names become labels
  ``R1``, ``R2`` … drawn in a random order for each assessment
  (:mod:`secrets`); the mapping is never written anywhere, so labels cannot be
  reversed, nor linked across assessments or rounds.  A **respondent group**
  is the people who answered at least one item of one assessment (same
  round, agency, service and form) — :func:`guidekit.scoring.score`'s
  ``n_respondents``: the team's agreed answers
  (:data:`~guidekit.intake.responses.AGREED_RESPONDENT`) and people whose every row
  is blank are not respondents.  With fewer than ``min_group`` (default 5)
  respondents, **no figure about a single check item** is published: not the
  answers (``answers.csv``), not the agency's combined result per item
  (``item_results.csv``: with one respondent it *is* their answer, with two it
  gives the pair), not the number of items on which respondents disagreed
  (``scores_overall.n_disagreements`` is blank).
  ``scores_overall.item_level_published`` says which assessments are
  published at item level.
* *Not protected: agencies' scores.*  Agencies are public bodies and their
  self-assessment results are public by design, so every assessment's
  overall, dimension and principle scores and item counts are published,
  small groups included.  For a small group these summarise few people's
  answers: at their ends (a principle score of 100 with coverage 1 means every
  item of the principle got the top answer) or when they cover a single
  answered item (``n_scored == 1``) they reveal item-level results — never
  which respondent gave which answer.  This is said in the package, not
  hidden.
* *Peer groups.*  ``groups.csv`` summarises ``scores_overall.csv`` (which
  carries each agency's ``level`` and ``kind`` from the agency register) and
  therefore withholds nothing; it carries no "suppressed" flag.  Statistics of
  groups with fewer than ``min_group`` assessments are unstable and the
  package says so.
* *Free text and traces.*  Notes and evidence (說明／佐證說明) are **not
  exported**: free text can name people, phone numbers or e-mail addresses,
  and no automatic filter can promise to catch all of them.  Answer
  timestamps (their order can reveal who answered first) and source file
  names and rows are not exported either.
* *Improvement actions* (``actions.csv``) are item-level data (an action names a gap),
  published for the same assessments as ``answers.csv``.  Each action gets a label
  ``A1``, ``A2`` … per agency in a random order (the same action keeps its label across
  the rounds of one package; the mapping is not kept); the action's text is free text
  and is **not exported**, like notes; its owner (a unit, which in a small agency can be
  one person) is published only as a generalised kind of unit
  (:func:`generalise_owner`: 資訊單位, 研考單位, 業務單位, 服務單位, 行政單位, 其他單位).
* *Spreadsheets.*  Text cells that a spreadsheet would run as a formula get a
  leading apostrophe (:func:`guidekit.files.excel_safe`, as ``summary.csv``);
  the package description says so and counts them.
* *Reading.*  The answer code ``NA`` means 不適用 (not applicable) and a blank
  means unanswered; pandas and R read ``NA`` as missing unless told not to
  (``keep_default_na=False``; ``na.strings = ""``), so ``answer_label``
  carries the Chinese label as well and the description says how to read.

**The output folder.**  A new or empty folder receives the package.  A folder
that holds a package written by guidekit earlier gets its files replaced:
only the files that package lists (and ``datapackage.json``) are replaced or,
when no longer written, removed, and only while they are guidekit's own
unchanged files (:mod:`guidekit.files`: no command replaces a file it did not
write); every other file in the folder is left alone.  Anything else is
refused before a file is written: a non-empty folder without such a package, a
``datapackage.json`` not written by guidekit (or changed since), or a file in
the way that guidekit did not write.

Frictionless Data Package v1 (https://specs.frictionlessdata.io/data-package/);
built and validated with the ``frictionless`` library.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from guidekit import i18n
from guidekit.answers import AGREED_RESPONDENT, Action, Responses, action_schema, actions_frame
from guidekit.files import (
    RECORD,
    check_targets,
    excel_safe,
    install_output,
    is_own,
    remove_output,
    table_csv,
    write_atomic,
)
from guidekit.research.load import agencies, group_summary, rounds
from guidekit.scoring import KEY, Scores, score
from guidekit.version import __version__

__all__ = [
    "LICENCES",
    "MIN_GROUP",
    "OWNER_KINDS",
    "RESOURCES",
    "ExportResult",
    "export_package",
    "generalise_owner",
    "pseudonymise",
]

#: Smallest respondent group published at item level (answers and item results).
MIN_GROUP = 5

ENCODING = "utf-8"

#: The package's data files, in the order they are listed in ``datapackage.json``.
RESOURCES = (
    "scores_overall",
    "scores_dimensions",
    "scores_principles",
    "item_results",
    "answers",
    "groups",
    "actions",
)

DESCRIPTOR = "datapackage.json"

#: Licences the package can carry (``--licence``).
LICENCES: dict[str, dict[str, str]] = {
    "OGDL-Taiwan-1.0": {
        "name": "OGDL-Taiwan-1.0",
        "path": "https://data.gov.tw/license",
        "title": "政府資料開放授權條款－第1版 (Open Government Data License, version 1.0)",
    },
    "CC-BY-4.0": {
        "name": "CC-BY-4.0",
        "path": "https://creativecommons.org/licenses/by/4.0/",
        "title": "Creative Commons Attribution 4.0",
    },
    "CC0-1.0": {
        "name": "CC0-1.0",
        "path": "https://creativecommons.org/publicdomain/zero/1.0/",
        "title": "CC0 1.0 Universal",
    },
}

_KEY_FIELDS = [
    {
        "name": "round",
        "type": "string",
        "title": "評估回合 Round",
        "constraints": {"required": True},
    },
    {
        "name": "agency_id",
        "type": "string",
        "title": "機關代碼 Agency code",
        "constraints": {"required": True},
    },
    {"name": "service", "type": "string", "title": "服務／計畫 Service or plan (blank if none)"},
    {
        "name": "instrument",
        "type": "string",
        "title": "自評表 Self-assessment form",
        "constraints": {"required": True},
    },
]


def _both(key: str, **params: Any) -> str:
    """A text in Traditional Chinese, then English (for the descriptor)."""
    return i18n.t(key, "zh-TW", **params) + "\n\n" + i18n.t(key, "en", **params)


def _score_field(name: str, title: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "number",
        "title": title,
        "description": "0–100 (indicative); blank = no applicable answers",
    }


def _int(name: str, title: str, description: str | None = None) -> dict[str, Any]:
    field: dict[str, Any] = {
        "name": name,
        "type": "integer",
        "title": title,
        "constraints": {"minimum": 0},
    }
    if description:
        field["description"] = description
    return field


_COUNTS = [
    _int("n_items", "檢核項目數 Items in the form"),
    _int("n_scored", "已作答項目 Items answered"),
    _int("n_na", "不適用項目 Items not applicable"),
    _int("n_unanswered", "未作答項目 Items unanswered"),
]
_COVERAGE = {
    "name": "coverage",
    "type": "number",
    "title": "涵蓋率 Coverage",
    "description": "(answered + not applicable) / items, 0–1",
    "constraints": {"minimum": 0, "maximum": 1},
}


@dataclasses.dataclass
class ExportResult:
    """What :func:`export_package` wrote.

    Attributes
    ----------
    folder : Path
    descriptor : Path
        ``datapackage.json``.
    resources : dict of str to int
        Rows per resource name.
    suppressed_groups : int
        Assessments whose item-level data (answers, item results, disagreement
        count) was withheld: fewer than ``min_group`` respondents.
    escaped_cells : int
        Text cells given a leading apostrophe so spreadsheets do not run them
        as formulas.
    removed : list of str
        Files of the previous package in the folder that this package no
        longer writes, removed (never any other file).
    kept : list of str
        Other entries of the folder, left untouched.
    valid : bool
        Frictionless validation result of the written package.
    errors : list of str
        Validation errors (empty when valid).
    """

    folder: Path
    descriptor: Path
    resources: dict[str, int]
    suppressed_groups: int
    valid: bool
    errors: list[str]
    escaped_cells: int = 0
    removed: list[str] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)


#: Kinds of unit an action's owner is generalised to (keyword → kind; first match wins).
OWNER_KINDS = (
    ("資訊", "資訊單位"),
    ("研考", "研考單位"),
    ("綜合規劃", "研考單位"),
    ("業務", "業務單位"),
    ("服務", "服務單位"),
    ("客服", "服務單位"),
    ("秘書", "行政單位"),
    ("總務", "行政單位"),
    ("行政", "行政單位"),
)
OTHER_OWNER = "其他單位"


def generalise_owner(owner: str) -> str:
    """The kind of unit an action's owner is (:data:`OWNER_KINDS`; 其他單位 otherwise): what
    the open data publishes instead of the owner itself (a small unit can be one person)."""
    return next((kind for key, kind in OWNER_KINDS if key in owner), OTHER_OWNER)


def _action_labels(frame: pd.DataFrame) -> pd.Series:
    """Random, non-reversible labels ``A1..An`` per agency for its action ids (the same id
    keeps its label across rounds of one export); the mapping is not kept."""
    rng = secrets.SystemRandom()
    mapping: dict[tuple[str, str], str] = {}
    for agency, group in frame.groupby("agency_id", sort=False):
        ids = list(dict.fromkeys(group["action_id"].tolist()))
        rng.shuffle(ids)
        for n, action_id in enumerate(ids, start=1):
            mapping[(str(agency), action_id)] = f"A{n}"
    return pd.Series(
        [mapping[(a, i)] for a, i in zip(frame["agency_id"], frame["action_id"], strict=True)],
        index=frame.index,
        dtype="string",
    )


def _actions_table(actions: Sequence[Action], large: pd.DataFrame, fw: Any) -> pd.DataFrame:
    """The published actions: those of assessments in ``large`` (item level published)."""
    columns = [c for c, _ in _ACTION_OUT]
    frame = actions_frame(actions)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
    frame = frame.merge(large, on=KEY, how="inner")
    principle = {i.id: i.principle for bank in fw.items.values() for i in bank}
    frame["action"] = _action_labels(frame)
    frame["principle_id"] = frame["item_id"].map(principle).astype("string")
    frame["owner_kind"] = frame["owner"].map(generalise_owner).astype("string")
    return frame[columns].sort_values([*KEY, "action"], kind="stable").reset_index(drop=True)


def pseudonymise(frame: pd.DataFrame) -> pd.Series:
    """Random, non-reversible respondent labels ``R1..Rn`` per assessment.

    Every distinct ``respondent`` of an assessment in ``frame`` gets a label
    (filter the rows first to label only some).  The order is drawn with
    :mod:`secrets` (not seedable); nothing that links a label to a name is
    kept.  Returns a string Series aligned with ``frame``.
    """
    rng = secrets.SystemRandom()
    mapping: dict[tuple[Any, ...], str] = {}
    for key, group in frame.groupby(KEY, sort=False, dropna=False):
        names = list(dict.fromkeys(group["respondent"].tolist()))
        rng.shuffle(names)
        for n, name in enumerate(names, start=1):
            mapping[(*key, name)] = f"R{n}"
    labels = [
        mapping[tuple(row)]
        for row in frame[[*KEY, "respondent"]].itertuples(index=False, name=None)
    ]
    return pd.Series(labels, index=frame.index, dtype="string")


def respondent_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of people who are respondents: not the team's agreed answers, and
    not someone whose every row in the assessment is blank (the rule of
    ``n_respondents`` in :mod:`guidekit.scoring`)."""
    person = frame["respondent"] != AGREED_RESPONDENT
    answered = frame["answer"].notna() & person
    who = frame.loc[answered, [*KEY, "respondent"]].drop_duplicates()
    return frame[person].merge(who, on=[*KEY, "respondent"], how="inner")


def _round_scores(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = out[column].astype(float).round(6)
    return out


def _escape(tables: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], int]:
    """Every table through :func:`excel_safe`; also the number of cells it changed."""
    out, changed = {}, 0
    for name, frame in tables.items():
        safe = excel_safe(frame)
        for column in frame.columns:
            before = frame[column].astype("string").fillna("\0")
            after = safe[column].astype("string").fillna("\0")
            changed += int((before != after).sum())
        out[name] = safe
    return out, changed


def _select(data: Responses | Scores, round: str | None) -> tuple[Scores, Responses | None]:
    responses = data if isinstance(data, Responses) else None
    have = rounds(data)
    if round is not None and round not in have:
        raise i18n.error("research.error.round", round=round, rounds=", ".join(have) or "—")
    if responses is not None:
        if round is not None:
            responses = dataclasses.replace(
                responses,
                frame=responses.frame[responses.frame["round"] == round].reset_index(drop=True),
            )
        return score(responses), responses
    assert isinstance(data, Scores)
    scores = data
    if round is not None:
        scores = dataclasses.replace(
            scores,
            **{
                name: getattr(scores, name)[getattr(scores, name)["round"] == round]
                for name in ("items", "principles", "dimensions", "overall")
            },
        )
    return scores, None


def export_package(
    data: Responses | Scores,
    out: str | Path,
    round: str | None = None,
    min_group: int = MIN_GROUP,
    licence: str = "OGDL-Taiwan-1.0",
    today: dt.date | None = None,
    agency_register: pd.DataFrame | None = None,
    actions: Sequence[Action] = (),
) -> ExportResult:
    """Write scores and pseudonymised answers as a Frictionless Data Package.

    Parameters
    ----------
    data : Responses or Scores
        Answers (scored here) or scores; Scores carry no individual answers, so
        ``answers.csv`` is then empty.
    out : path
        Output folder: new, empty, or holding a package guidekit wrote earlier
        (only that package's files are replaced; other files stay).
    round : str, optional
        Only this round (default: every round in the data).
    min_group : int, default 5
        Smallest respondent group published at item level (at least 5).
    licence : str
        A key of :data:`LICENCES`.
    today : date, optional
        The package's creation date (default today).
    agency_register : DataFrame, optional
        Agency attributes (``level``, ``kind``) for ``scores_overall`` and
        ``groups.csv`` (default :func:`guidekit.research.agencies`).
    actions : sequence of Action, optional
        Improvement actions (:func:`guidekit.research.load_actions`) for ``actions.csv``
        (of the exported rounds; pseudonymised, owners generalised, text left out).

    Returns
    -------
    ExportResult

    Raises
    ------
    GuidekitError
        For an unknown licence or round, ``min_group`` below 5, an output
        folder that cannot take the package (a file, a non-empty folder
        without a guidekit package, a file in the way), or a failed write
        (the message says which files were already replaced).  Nothing is
        written when the folder is refused.
    """
    if licence not in LICENCES:
        raise i18n.error("export.error.licence", licence=licence, allowed=", ".join(LICENCES))
    if min_group < MIN_GROUP:
        raise i18n.error("export.error.min_group", minimum=MIN_GROUP, value=min_group)
    scores, responses = _select(data, round)
    out = Path(out)
    names = [f"{name}.csv" for name in RESOURCES] + [DESCRIPTOR]
    owned, kept = _check_folder(out, names)
    created = dt.datetime.combine(today or dt.date.today(), dt.time(0, 0), dt.UTC)

    tables, schemas = _tables(scores, responses, min_group, agency_register, actions)
    tables, escaped = _escape(tables)
    descriptor = _descriptor(
        scores, responses, tables, schemas, licence, created, min_group, escaped
    )
    replaced: list[str] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".guidekit-export-", dir=out))
    except OSError as exc:
        raise i18n.error("export.error.write", path=out, detail=i18n.os_detail(exc)) from None
    try:
        for name, frame in tables.items():
            write_atomic(
                tmp / f"{name}.csv",
                table_csv(frame, excel=False, bom=False, booleans=("true", "false")),
            )
        _build(descriptor, tmp)
        valid, errors = _validate(tmp / DESCRIPTOR)
        for name in names:  # the descriptor last: it names the files that are now in place
            install_output(tmp / name, out / name)
            replaced.append(name)
        removed = [name for name in sorted(owned - set(names)) if remove_output(out / name)]
    except OSError as exc:
        if replaced:
            raise i18n.error(
                "export.error.write_partial",
                path=out,
                detail=i18n.os_detail(exc),
                files=", ".join(replaced),
            ) from None
        raise i18n.error("export.error.write", path=out, detail=i18n.os_detail(exc)) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    overall = tables["scores_overall"]
    return ExportResult(
        folder=out,
        descriptor=out / DESCRIPTOR,
        resources={name: len(frame) for name, frame in tables.items()},
        suppressed_groups=int((~overall["item_level_published"].astype(bool)).sum()),
        valid=valid,
        errors=errors,
        escaped_cells=escaped,
        removed=removed,
        kept=kept,
    )


def _texts(key: str, **params: Any) -> dict[str, str]:
    return {lang: i18n.t(key, lang, **params) for lang in i18n.LANGS}


def _plain_name(value: Any) -> bool:
    """A file name directly inside the folder (no folders, no parent, not hidden)."""
    return (
        isinstance(value, str)
        and value == Path(value).name
        and value not in ("", ".", "..")
        and not value.startswith(".")
        and "\\" not in value
    )


def _check_folder(out: Path, names: list[str]) -> tuple[set[str], list[str]]:
    """Which files of ``out`` the previous guidekit package owns, and which others
    stay; raise before anything is written when the folder cannot take the package.

    The package's files are replaced only while they are guidekit's own unchanged
    files (:func:`guidekit.files.check_targets`)."""
    if out.exists() and not out.is_dir():
        raise i18n.error("export.error.not_folder", path=out)
    if not out.exists():
        return set(), []
    try:
        present = sorted(p.name for p in out.iterdir() if p.name != RECORD)
    except OSError as exc:
        raise i18n.error("export.error.write", path=out, detail=i18n.os_detail(exc)) from None
    if not present:
        check_targets([out / name for name in names])  # an odd record file is not replaced
        return set(), []
    previous = out / DESCRIPTOR
    if not os.path.lexists(previous):
        raise i18n.error("export.error.not_empty", path=out)
    if not is_own(previous):
        raise i18n.error("export.error.foreign", path=out, detail=_texts("export.detail.not_own"))
    old = json.loads(previous.read_text(encoding=ENCODING))
    owned = {DESCRIPTOR}
    resources = old.get("resources") if isinstance(old, dict) else None
    for resource in resources if isinstance(resources, list) else []:
        path = resource.get("path") if isinstance(resource, dict) else None
        if not _plain_name(path) or (out / path).is_symlink() or (out / path).is_dir():
            detail = _texts("export.detail.odd_path", value=path)
            raise i18n.error("export.error.foreign", path=out, detail=detail)
        owned.add(path)
    check_targets([out / name for name in names])  # every file in the way, named at once
    return owned, [name for name in present if name not in owned]


def _tables(
    scores: Scores,
    responses: Responses | None,
    min_group: int,
    register: pd.DataFrame | None,
    actions: Sequence[Action] = (),
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, Any]]]:
    fw = scores.framework
    attrs = register if register is not None else agencies()
    overall = scores.overall.merge(
        attrs[["agency_id", "level", "kind"]].drop_duplicates("agency_id"),
        on="agency_id",
        how="left",
    )
    overall[["level", "kind"]] = overall[["level", "kind"]].fillna("unknown").astype("string")
    published = overall["n_respondents"] >= min_group
    overall["item_level_published"] = published
    # how respondents differed: an item-level figure, withheld with the rest
    overall["n_disagreements"] = overall["n_disagreements"].astype("Int64").where(published)
    overall = _round_scores(overall, ["score", "coverage"])
    overall_cols = [
        *KEY,
        "agency_name",
        "level",
        "kind",
        "n_respondents",
        "has_agreed",
        "score",
        "band",
        "coverage",
        "n_items",
        "n_scored",
        "n_na",
        "n_unanswered",
        "n_major_not_met",
        "n_disagreements",
        "framework_version",
        "item_level_published",
    ]
    dims = _round_scores(scores.dimensions, ["score", "coverage"])
    counted = ["score", "band", "coverage", "n_items", "n_scored", "n_na", "n_unanswered"]
    dim_cols = [*KEY, "dimension_id", *counted]
    principles = _round_scores(scores.principles, ["score", "coverage"])
    pr_cols = [*KEY, "principle_id", "dimension_id", *counted, "n_major_not_met"]

    large = overall.loc[published, KEY]
    items = _round_scores(scores.items, ["score"]).merge(large, on=KEY, how="inner")
    if responses is not None:
        frame = responses.frame
        team = frame[(frame["respondent"] == AGREED_RESPONDENT) & frame["answer"].notna()]
        settled = team[[*KEY, "item_id"]].drop_duplicates().assign(agreed=True)
        items = items.merge(settled, on=[*KEY, "item_id"], how="left")
        items["agreed"] = items["agreed"].fillna(False).astype("boolean")
        keep = respondent_rows(frame).merge(large, on=KEY, how="inner")
        labels = {
            (inst.id, o.code): o.label_zh
            for inst in fw.instruments
            for o in fw.scale(inst.id).options
        }
        answers = pd.DataFrame(
            {
                **{k: keep[k] for k in KEY},
                "agency_name": keep["agency_name"],
                "respondent": pseudonymise(keep),
                "item_id": keep["item_id"],
                "answer": keep["answer"],
                "answer_label": [
                    labels.get((i, a), "") if isinstance(a, str) else ""
                    for i, a in zip(keep["instrument"], keep["answer"], strict=True)
                ],
                "framework_version": keep["framework_version"],
            }
        ).sort_values([*KEY, "respondent", "item_id"], kind="stable")
    else:
        items["agreed"] = pd.Series(pd.NA, index=items.index, dtype="boolean")
        answers = pd.DataFrame(
            columns=[
                *KEY,
                "agency_name",
                "respondent",
                "item_id",
                "answer",
                "answer_label",
                "framework_version",
            ]
        )
    item_cols = [*KEY, "item_id", "principle_id", "major", "status", "score", "agreed"]

    # A summary of published scores: nothing to withhold (min_group=None).
    groups = pd.concat(
        [
            group_summary(
                overall.assign(group_by=by, group=overall[by]),
                ["round", "instrument", "group_by", "group"],
                min_group=None,
            )
            for by in ("level", "kind")
        ],
        ignore_index=True,
    )
    groups = _round_scores(groups, ["mean", "sd", "min", "q1", "median", "q3", "max"])

    schemas = _schemas(fw, min_group)
    tables = {
        "scores_overall": overall[overall_cols],
        "scores_dimensions": dims[dim_cols],
        "scores_principles": principles[pr_cols],
        "item_results": items[item_cols],
        "answers": answers,
        "groups": groups[
            [
                "round",
                "instrument",
                "group_by",
                "group",
                "n",
                "mean",
                "sd",
                "min",
                "q1",
                "median",
                "q3",
                "max",
            ]
        ],
        "actions": _actions_table(
            [a for a in actions if a.round in set(overall["round"])], large, fw
        ),
    }
    return tables, schemas


#: Columns of ``actions.csv``: a field of :func:`guidekit.answers.action_schema` (None) or
#: the field of a column made here (pseudonym, principle, generalised owner).
_ACTION_OUT: tuple[tuple[str, dict[str, Any] | None], ...] = (
    ("round", None),
    ("agency_id", None),
    ("service", None),
    ("instrument", None),
    (
        "action",
        {
            "name": "action",
            "type": "string",
            "title": "改善行動代號 Action (pseudonym)",
            "description": "A1..An in random order per agency; the same action keeps its label "
            "across the rounds of this package",
        },
    ),
    ("item_id", None),
    ("principle_id", {"name": "principle_id", "type": "string", "title": "原則 Principle"}),
    (
        "owner_kind",
        {
            "name": "owner_kind",
            "type": "string",
            "title": "負責單位類別 Kind of owning unit",
            "description": "the owner generalised to a kind of unit (a small unit can be one "
            "person)",
        },
    ),
    ("due", None),
    ("status", None),
    ("completed", None),
    ("measure_id", None),
    ("target", None),
)


def _schemas(fw: Any, min_group: int) -> dict[str, dict[str, Any]]:
    options = [(inst.id, o) for inst in fw.instruments for o in fw.scale(inst.id).options]
    scale_codes = sorted({o.code for _, o in options})
    continuous = any(fw.scale(i.id).kind == "continuous" for i in fw.instruments)
    legend = "; ".join(f"{inst}: {o.code} = {o.label_zh} {o.label_en}" for inst, o in options)
    answer_field: dict[str, Any] = {
        "name": "answer",
        "type": "string",
        "title": "答案代碼 Answer code",
        "description": "the answer scale's option code"
        + (" or a number" if continuous else "")
        + f" ({legend}); blank = unanswered (never 0). "
        "NA is a code (not applicable), not a missing value: read with keep_default_na=False "
        '(pandas) or na.strings = "" (R).',
    }
    if scale_codes and not continuous:
        answer_field["constraints"] = {"enum": scale_codes}
    band_field = {
        "name": "band",
        "type": "string",
        "title": "等級 Band",
        "constraints": {"enum": [b.code for b in fw.bands]},
    }
    version_field = {
        "name": "framework_version",
        "type": "string",
        "title": "題庫版本 Question-bank version",
    }
    published = f"published only for assessments with at least {min_group} respondents"
    schemas: dict[str, dict[str, Any]] = {
        "scores_overall": {
            "fields": [
                *_KEY_FIELDS,
                {"name": "agency_name", "type": "string", "title": "機關名稱 Agency name"},
                {
                    "name": "level",
                    "type": "string",
                    "title": "機關層級 Level of agency",
                    "description": "from the agency register: central / local; unknown if not listed",
                },
                {
                    "name": "kind",
                    "type": "string",
                    "title": "機關類型 Kind of agency",
                    "description": "from the agency register; unknown if not listed",
                },
                _int(
                    "n_respondents",
                    "填答人數 Respondents",
                    "people who answered at least one item; the team's agreed answers and "
                    "people who answered nothing are not counted",
                ),
                {
                    "name": "has_agreed",
                    "type": "boolean",
                    "title": "有團隊共識 Team's agreed answers recorded",
                },
                _score_field("score", "整體分數 Overall score"),
                band_field,
                _COVERAGE,
                *_COUNTS,
                _int("n_major_not_met", "未符合的大項 Major items not met"),
                _int(
                    "n_disagreements",
                    "意見不一致項目 Items where respondents disagree",
                    f"blank unless item_level_published ({published})",
                ),
                version_field,
                {
                    "name": "item_level_published",
                    "type": "boolean",
                    "title": "是否公開項目層級資料 Item-level data published",
                    "description": "true when answers.csv and item_results.csv hold this "
                    f"assessment: it had at least {min_group} respondents",
                },
            ],
            "primaryKey": list(KEY),
        },
        "scores_dimensions": {
            "fields": [
                *_KEY_FIELDS,
                {"name": "dimension_id", "type": "string", "title": "構面 Dimension"},
                _score_field("score", "構面分數 Dimension score"),
                band_field,
                _COVERAGE,
                *_COUNTS,
            ],
            "primaryKey": [*KEY, "dimension_id"],
        },
        "scores_principles": {
            "fields": [
                *_KEY_FIELDS,
                {"name": "principle_id", "type": "string", "title": "原則 Principle"},
                {"name": "dimension_id", "type": "string", "title": "構面 Dimension"},
                _score_field("score", "原則分數 Principle score"),
                band_field,
                _COVERAGE,
                *_COUNTS,
                _int("n_major_not_met", "未符合的大項 Major items not met"),
            ],
            "primaryKey": [*KEY, "principle_id"],
        },
        "item_results": {
            "fields": [
                *_KEY_FIELDS,
                {"name": "item_id", "type": "string", "title": "檢核項目 Check item"},
                {"name": "principle_id", "type": "string", "title": "原則 Principle"},
                {"name": "major", "type": "boolean", "title": "大項 Major item"},
                {
                    "name": "status",
                    "type": "string",
                    "title": "結果 Combined result",
                    "constraints": {"enum": ["met", "partial", "not_met", "na", "unanswered"]},
                },
                _score_field("score", "項目分數 Item score"),
                {
                    "name": "agreed",
                    "type": "boolean",
                    "title": "團隊共識 Team's agreed answer",
                    "description": "the team recorded an agreed answer (團隊共識) for this item; in "
                    "a workshop store it replaces the respondents' answers, which are then not in "
                    "answers.csv; blank when exported from scores",
                },
            ],
            "primaryKey": [*KEY, "item_id"],
        },
        "answers": {
            "fields": [
                *_KEY_FIELDS,
                {"name": "agency_name", "type": "string", "title": "機關名稱 Agency name"},
                {
                    "name": "respondent",
                    "type": "string",
                    "title": "填答者代號 Respondent (pseudonym)",
                    "description": "R1..Rn in random order per assessment; not linkable across "
                    "assessments",
                },
                {"name": "item_id", "type": "string", "title": "檢核項目 Check item"},
                answer_field,
                {
                    "name": "answer_label",
                    "type": "string",
                    "title": "答案 Answer (label)",
                    "description": "the option's Traditional Chinese label (不適用 = not "
                    "applicable); blank = unanswered",
                },
                version_field,
            ],
            "primaryKey": [*KEY, "respondent", "item_id"],
        },
        "groups": {
            "fields": [
                {"name": "round", "type": "string", "title": "評估回合 Round"},
                {"name": "instrument", "type": "string", "title": "自評表 Self-assessment form"},
                {
                    "name": "group_by",
                    "type": "string",
                    "title": "分組方式 Grouped by",
                    "constraints": {"enum": ["level", "kind"]},
                },
                {"name": "group", "type": "string", "title": "組別 Group"},
                _int(
                    "n",
                    "評估數 Assessments with a score",
                    f"statistics of fewer than {min_group} assessments are unstable",
                ),
                *[
                    _score_field(c, t)
                    for c, t in (
                        ("mean", "平均 Mean"),
                        ("sd", "標準差 Standard deviation (n − 1)"),
                        ("min", "最小值 Minimum"),
                        ("q1", "第一四分位數 First quartile"),
                        ("median", "中位數 Median"),
                        ("q3", "第三四分位數 Third quartile"),
                        ("max", "最大值 Maximum"),
                    )
                ],
            ],
            "primaryKey": ["round", "instrument", "group_by", "group"],
        },
    }
    shared = {f["name"]: f for f in action_schema()["fields"]}
    schemas["actions"] = {
        "fields": [dict(shared[name]) if field is None else field for name, field in _ACTION_OUT],
        "primaryKey": [*KEY, "action"],
    }
    for schema in schemas.values():
        schema["missingValues"] = [""]  # only a blank is missing: NA is an answer code
    return schemas


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._") or "empty"


def _descriptor(
    scores: Scores,
    responses: Responses | None,
    tables: dict[str, pd.DataFrame],
    schemas: dict[str, dict[str, Any]],
    licence: str,
    created: dt.datetime,
    min_group: int,
    escaped: int,
) -> dict[str, Any]:
    fw = scores.framework
    round_ids = rounds(scores)
    versions = sorted(set(scores.overall["framework_version"].dropna()))
    texts = {"agreed": AGREED_RESPONDENT, "min_group": min_group, "escaped": escaped}
    return {
        "name": _slug(f"guidekit-{fw.id}-{'-'.join(round_ids)}")[:100],
        "title": i18n.t("opendata.title", "zh-TW", framework=fw.meta.title_zh)
        + " · "
        + i18n.t("opendata.title", "en", framework=fw.meta.title_en),
        "description": i18n.t("opendata.description", "zh-TW", framework=fw.meta.title_zh, **texts)
        + "\n\n"
        + i18n.t("opendata.description", "en", framework=fw.meta.title_en, **texts),
        "licenses": [LICENCES[licence]],
        "created": created.isoformat().replace("+00:00", "Z"),
        "resources": [
            {
                "name": name,
                "path": f"{name}.csv",
                "title": name,
                "description": _both(f"opendata.resource.{name}", min_group=min_group),
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": ENCODING,
                "schema": schemas[name],
            }
            for name in tables
        ],
        "guidekit": {
            "version": __version__,
            "framework": {
                "id": fw.id,
                "version": fw.version,
                "title_zh": fw.meta.title_zh,
                "title_en": fw.meta.title_en,
                "lens_of": fw.lens.source.id if fw.lens is not None else None,
            },
            "framework_versions_in_data": versions,
            "rounds": round_ids,
            "synthetic": bool(responses.synthetic) if responses is not None else None,
            "privacy": {
                "protects": "respondents inside an agency",
                "pseudonymisation": "respondents relabelled R1..Rn in a random order per "
                "assessment; the mapping is not kept",
                "min_group": min_group,
                "respondent": "a person who answered at least one item of the assessment; the "
                f"team's agreed answers ({AGREED_RESPONDENT}) and people who answered nothing "
                "are not respondents",
                "item_level_only_for_groups_of_min_group": [
                    "answers.csv",
                    "item_results.csv",
                    "scores_overall.n_disagreements",
                ],
                "public_by_design": [
                    "scores_overall.csv",
                    "scores_dimensions.csv",
                    "scores_principles.csv",
                    "groups.csv",
                ],
                "limits": "agency scores of a small group summarise few people's answers and "
                "reveal item results at their ends (0 or 100 with coverage 1) or when they "
                "cover one answered item (n_scored = 1); they never say which respondent gave "
                "which answer",
                "groups": "a summary of scores_overall.csv; nothing withheld",
                "not_exported": [
                    "note (free text: may name people)",
                    "answered_at",
                    "source_file",
                    "source_row",
                    "respondent names",
                ],
                "spreadsheet_escaped_cells": escaped,
            },
        },
    }


def _build(descriptor: dict[str, Any], folder: Path) -> None:
    """Build the package with frictionless and write ``datapackage.json``."""
    from frictionless import Package

    descriptor = json.loads(json.dumps(descriptor))  # no shared dicts: frictionless consumes them
    custom = descriptor.pop("guidekit")
    package = Package.from_descriptor(descriptor, basepath=str(folder))
    package.custom["guidekit"] = custom
    text = json.dumps(package.to_dict(), ensure_ascii=False, indent=2) + "\n"
    write_atomic(folder / DESCRIPTOR, text, encoding=ENCODING)


def _validate(path: Path) -> tuple[bool, list[str]]:
    from frictionless import validate

    report = validate(str(path))
    errors = [f"{e.type}: {e.message}" for task in report.tasks for e in task.errors]
    errors += [f"{e.type}: {e.message}" for e in report.errors]
    return bool(report.valid), errors
