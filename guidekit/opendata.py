"""Open data: scores and answers as a Frictionless Data Package.

:func:`export_package` writes a folder that any Frictionless tool (and pandas)
can read::

    datapackage.json         metadata: licence, framework and versions, creation date,
                             what was suppressed and why, a table schema per file
    scores_overall.csv       one row per assessment (round × agency × service × form)
    scores_dimensions.csv    one row per assessment × dimension (構面)
    scores_principles.csv    one row per assessment × principle (原則)
    item_results.csv         one row per assessment × check item: the agency's combined result
    answers.csv              one row per respondent × item, pseudonymised, large groups only
    groups.csv               overall scores summarised by kind of agency, small groups suppressed

**What a respondent can be recognised by, and what is done about it.**

* *Names.* Respondents (填答者) are replaced by labels ``R1``, ``R2`` … drawn
  in a random order for each assessment (:mod:`secrets`); the mapping is
  never written anywhere, so the package cannot be linked back to a name, nor
  across assessments or rounds.
* *Small groups.* A **respondent group** is the set of respondents of one
  assessment (same round, agency, service and form).  Item-level answers of a
  respondent group are published only when it has at least ``min_group``
  (default 5) respondents; with fewer, colleagues could tell who answered
  what.  Their agency-level results (scores, each item's combined status)
  are still published — they are the agency's self-assessment, not a
  person's — and ``scores_overall.answers_published`` says which groups
  were withheld.  A **peer group** (``groups.csv``: the assessments of one
  round and form by level or kind of agency) is summarised only when it has
  at least ``min_group`` assessments.
* *Free text and traces.* Notes and evidence (說明／佐證說明) are **not
  exported**: they are free text that can name people, phone numbers or
  e-mail addresses, and no automatic filter can promise to catch all of
  them.  Answer timestamps (their order can reveal who answered first) and
  source file names and rows are not exported either.

Frictionless Data Package v1 (https://specs.frictionlessdata.io/data-package/);
built and validated with the ``frictionless`` library.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from .problems import GuidekitError
from .research import agencies, group_summary, rounds
from .responses import Responses
from .scoring import KEY, Scores, score

__all__ = ["LICENCES", "MIN_GROUP", "ExportResult", "export_package", "pseudonymise"]

#: Smallest respondent group whose item-level answers are published (and smallest peer group).
MIN_GROUP = 5

ENCODING = "utf-8"

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


def _score_field(name: str, title: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "number",
        "title": title,
        "description": "0–100 (indicative); blank = no applicable answers",
    }


def _int(name: str, title: str) -> dict[str, Any]:
    return {"name": name, "type": "integer", "title": title, "constraints": {"minimum": 0}}


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
        Respondent groups whose item-level answers were withheld.
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


def pseudonymise(frame: pd.DataFrame) -> pd.Series:
    """Random, non-reversible respondent labels ``R1..Rn`` per assessment.

    The order is drawn with :mod:`secrets` (not seedable); nothing that links a
    label to a name is kept.  Returns a string Series aligned with ``frame``.
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


def _round_scores(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = out[column].astype(float).round(6)
    return out


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == bool or str(out[column].dtype) == "boolean":
            out[column] = out[column].map({True: "true", False: "false"})
    out.to_csv(path, index=False, encoding=ENCODING, lineterminator="\n")


def export_package(
    data: Responses | Scores,
    out: str | Path,
    round: str | None = None,
    min_group: int = MIN_GROUP,
    licence: str = "OGDL-Taiwan-1.0",
    today: dt.date | None = None,
    agency_register: pd.DataFrame | None = None,
) -> ExportResult:
    """Write scores and pseudonymised answers as a Frictionless Data Package.

    Parameters
    ----------
    data : Responses or Scores
        Answers (scored here) or scores; Scores carry no individual answers, so
        ``answers.csv`` is then empty.
    out : path
        Output folder; created, or replaced when it already holds a
        ``datapackage.json`` (a non-empty folder without one is refused).
    round : str, optional
        Only this round (default: every round in the data).
    min_group : int, default 5
        Smallest respondent group whose item-level answers are published, and
        smallest peer group summarised (at least 5).
    licence : str
        A key of :data:`LICENCES`.
    today : date, optional
        The package's creation date (default today).
    agency_register : DataFrame, optional
        Agency attributes for ``groups.csv`` (default :func:`guidekit.research.agencies`).

    Returns
    -------
    ExportResult

    Raises
    ------
    GuidekitError
        For an unknown licence or round, ``min_group`` below 5, or an output
        folder that is not a package.
    """
    if licence not in LICENCES:
        raise GuidekitError(f"unknown licence {licence!r}: use one of {', '.join(LICENCES)}")
    if min_group < MIN_GROUP:
        raise GuidekitError(f"min_group must be at least {MIN_GROUP}")
    responses = data if isinstance(data, Responses) else None
    if responses is not None and round is not None:
        if round not in set(responses.frame["round"]):
            raise GuidekitError(
                f"round {round!r} is not in the answers (rounds: {', '.join(rounds(responses))})"
            )
        responses = dataclasses.replace(
            responses,
            frame=responses.frame[responses.frame["round"] == round].reset_index(drop=True),
        )
    scores = score(responses) if responses is not None else data
    assert isinstance(scores, Scores)
    if responses is None and round is not None:
        scores = dataclasses.replace(
            scores,
            **{
                name: getattr(scores, name)[getattr(scores, name)["round"] == round]
                for name in ("items", "principles", "dimensions", "overall")
            },
        )
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "datapackage.json").is_file():
        raise GuidekitError(
            f"{out} is not empty and holds no datapackage.json; choose an empty folder"
        )
    created = dt.datetime.combine(today or dt.date.today(), dt.time(0, 0), dt.UTC)

    tables, schemas = _tables(scores, responses, min_group, agency_register)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".guidekit-export-", dir=out.parent))
    try:
        for name, frame in tables.items():
            _write_csv(frame, tmp / f"{name}.csv")
        descriptor = _descriptor(scores, responses, tables, schemas, licence, created, min_group)
        _build(descriptor, tmp)
        valid, errors = _validate(tmp / "datapackage.json")
        tmp.chmod(0o755)  # mkdtemp makes it private; a published package is not
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    overall = tables["scores_overall"]
    return ExportResult(
        folder=out,
        descriptor=out / "datapackage.json",
        resources={name: len(frame) for name, frame in tables.items()},
        suppressed_groups=int((~overall["answers_published"]).sum())
        if responses is not None
        else 0,
        valid=valid,
        errors=errors,
    )


def _tables(
    scores: Scores, responses: Responses | None, min_group: int, register: pd.DataFrame | None
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, Any]]]:
    overall = scores.overall.copy()
    large = overall["n_respondents"] >= min_group
    overall["answers_published"] = large if responses is not None else False
    overall = _round_scores(overall, ["score", "coverage"])
    overall_cols = [
        *KEY,
        "agency_name",
        "n_respondents",
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
        "answers_published",
    ]
    dims = _round_scores(scores.dimensions, ["score", "coverage"])
    dim_cols = [
        *KEY,
        "dimension_id",
        "score",
        "band",
        "coverage",
        "n_items",
        "n_scored",
        "n_na",
        "n_unanswered",
    ]
    principles = _round_scores(scores.principles, ["score", "coverage"])
    pr_cols = [
        *KEY,
        "principle_id",
        "dimension_id",
        "score",
        "band",
        "coverage",
        "n_items",
        "n_scored",
        "n_na",
        "n_unanswered",
        "n_major_not_met",
    ]
    items = _round_scores(scores.items, ["score"])
    item_cols = [*KEY, "item_id", "principle_id", "major", "status", "score"]

    if responses is not None:
        frame = responses.frame
        published = overall.loc[overall["answers_published"].astype(bool), KEY]
        keep = frame.merge(published, on=KEY, how="inner")
        answers = pd.DataFrame(
            {
                **{k: keep[k] for k in KEY},
                "respondent": pseudonymise(keep),
                "item_id": keep["item_id"],
                "answer": keep["answer"],
                "framework_version": keep["framework_version"],
            }
        ).sort_values([*KEY, "respondent", "item_id"], kind="stable")
    else:
        answers = pd.DataFrame(
            columns=[*KEY, "respondent", "item_id", "answer", "framework_version"]
        )

    attrs = register if register is not None else agencies()
    with_attrs = scores.overall.merge(
        attrs[["agency_id", "level", "kind"]], on="agency_id", how="left"
    )
    with_attrs[["level", "kind"]] = with_attrs[["level", "kind"]].fillna("unknown")
    groups = pd.concat(
        [
            group_summary(
                with_attrs.assign(group_by="level", group=with_attrs["level"]),
                ["round", "instrument", "group_by", "group"],
                min_group=min_group,
            ),
            group_summary(
                with_attrs.assign(group_by="kind", group=with_attrs["kind"]),
                ["round", "instrument", "group_by", "group"],
                min_group=min_group,
            ),
        ],
        ignore_index=True,
    )
    groups = _round_scores(groups, ["mean", "sd", "min", "q1", "median", "q3", "max"])

    scale_codes = sorted(
        {
            o.code
            for inst in scores.framework.instruments
            for o in scores.framework.scale(inst.id).options
        }
    )
    continuous = any(
        scores.framework.scale(i.id).kind == "continuous" for i in scores.framework.instruments
    )
    answer_field: dict[str, Any] = {
        "name": "answer",
        "type": "string",
        "title": "答案 Answer",
        "description": "the answer scale's option code"
        + (" or a number" if continuous else "")
        + "; blank = unanswered (never 0)",
    }
    if scale_codes and not continuous:
        answer_field["constraints"] = {"enum": scale_codes}
    band_field = {
        "name": "band",
        "type": "string",
        "title": "等級 Band",
        "constraints": {"enum": [b.code for b in scores.framework.bands]},
    }
    schemas = {
        "scores_overall": {
            "fields": [
                *_KEY_FIELDS,
                {"name": "agency_name", "type": "string", "title": "機關名稱 Agency name"},
                _int("n_respondents", "填答人數 Respondents"),
                _score_field("score", "整體分數 Overall score"),
                band_field,
                _COVERAGE,
                *_COUNTS,
                _int("n_major_not_met", "未符合的大項 Major items not met"),
                _int("n_disagreements", "意見不一致項目 Items where respondents disagree"),
                {
                    "name": "framework_version",
                    "type": "string",
                    "title": "題庫版本 Question-bank version",
                },
                {
                    "name": "answers_published",
                    "type": "boolean",
                    "title": "是否公開個別答案 Respondent-level answers published",
                    "description": f"false when the assessment had fewer than {min_group} respondents",
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
            ],
            "primaryKey": [*KEY, "item_id"],
        },
        "answers": {
            "fields": [
                *_KEY_FIELDS,
                {
                    "name": "respondent",
                    "type": "string",
                    "title": "填答者代號 Respondent (pseudonym)",
                    "description": "R1..Rn in random order per assessment; not linkable across assessments",
                },
                {"name": "item_id", "type": "string", "title": "檢核項目 Check item"},
                answer_field,
                {
                    "name": "framework_version",
                    "type": "string",
                    "title": "題庫版本 Question-bank version",
                },
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
                _int("n", "評估數 Assessments"),
                *[_score_field(c, c) for c in ("mean", "sd", "min", "q1", "median", "q3", "max")],
                {
                    "name": "suppressed",
                    "type": "boolean",
                    "title": "不公開 Suppressed",
                    "description": f"true when the group has fewer than {min_group} assessments",
                },
            ],
            "primaryKey": ["round", "instrument", "group_by", "group"],
        },
    }
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
                "suppressed",
            ]
        ],
    }
    return tables, schemas


_DESCRIPTIONS = {
    "scores_overall": "每個評估（回合×機關×服務×自評表）的整體指標分數。One row per assessment: overall indicative score.",
    "scores_dimensions": "各構面分數。Scores per dimension (構面).",
    "scores_principles": "各原則分數。Scores per principle (原則).",
    "item_results": "機關對每個檢核項目的綜合結果（填答者中位數）。The agency's combined result per check item.",
    "answers": "個別填答（填答者以隨機代號表示；填答人數少於門檻的評估不公開）。Respondent-level answers, "
    "pseudonymised; withheld for assessments with fewer respondents than the threshold.",
    "groups": "依機關層級與類型彙整的整體分數（少於門檻的組別不公開）。Overall scores by level and kind of agency; "
    "small groups suppressed.",
}


def _descriptor(
    scores: Scores,
    responses: Responses | None,
    tables: dict[str, pd.DataFrame],
    schemas: dict[str, dict[str, Any]],
    licence: str,
    created: dt.datetime,
    min_group: int,
) -> dict[str, Any]:
    fw = scores.framework
    round_ids = rounds(scores)
    versions = sorted(set(scores.overall["framework_version"].dropna()))
    return {
        "name": f"guidekit-{fw.id}-{'-'.join(round_ids) or 'empty'}".lower().replace("_", "-"),
        "title": f"{fw.meta.title_zh}自評結果 · {fw.meta.title_en} self-assessment results",
        "description": (
            "機關自評的指標性分數與去識別化的填答。分數僅供參考，不代表合格與否。"
            " Indicative self-assessment scores and pseudonymised answers; scores are not pass/fail."
        ),
        "licenses": [LICENCES[licence]],
        "created": created.isoformat().replace("+00:00", "Z"),
        "resources": [
            {
                "name": name,
                "path": f"{name}.csv",
                "title": name,
                "description": _DESCRIPTIONS[name],
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
                "pseudonymisation": "respondents relabelled R1..Rn in a random order per assessment; "
                "the mapping is not kept",
                "min_group": min_group,
                "respondent_group": "the respondents of one assessment (round, agency, service, form); "
                "its item-level answers are published only with at least min_group "
                "respondents",
                "peer_group": "the assessments of one round and form with the same level or kind of "
                "agency; summarised only with at least min_group assessments",
                "not_exported": [
                    "note (free text: may name people)",
                    "answered_at",
                    "source_file",
                    "source_row",
                    "respondent names",
                ],
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
    (folder / "datapackage.json").write_text(text, encoding=ENCODING)


def _validate(path: Path) -> tuple[bool, list[str]]:
    from frictionless import validate

    report = validate(str(path))
    errors = [f"{e.type}: {e.message}" for task in report.tasks for e in task.errors]
    errors += [f"{e.type}: {e.message}" for e in report.errors]
    return bool(report.valid), errors
