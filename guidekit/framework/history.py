"""Question-bank history: which check items changed between versions of a framework.

A framework may name a history file in ``framework.yaml`` (``changes: changes.yaml``),
a YAML list, newest first, of revisions::

    - version: "2026.11"          # the new version
      previous: "2025.10"         # the version it replaced
      date: "2026-09-01"
      summary_zh: ... / summary_en: ...
      items:
        - id: SV-P11-02
          change: reworded        # added | removed | reworded | moved
          before_zh: ... / before_en: ...   (optional: the old wording)
          note_zh: ... / note_en: ...       (why results may not be comparable)

Results carry the version they were answered against (``framework_version``);
:func:`changed_items` lists what differs between two versions so that
comparisons across rounds can say exactly which items are affected
(users of other tools asked for this: see ``reference/what-users-ask.md``,
"keep the bank and the standard in step").  A lens framework
(:mod:`guidekit.framework.lens`) uses its source framework's history.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import Field, ValidationError, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from guidekit.framework.model import Framework, Record
from guidekit.problems import FrameworkError, Problem

ENCODING = "utf-8"

#: Columns of :func:`history_frame`.
HISTORY_COLUMNS = (
    "version",
    "previous",
    "date",
    "item_id",
    "change",
    "before_zh",
    "before_en",
    "note_zh",
    "note_en",
)


class ItemChange(Record):
    """One item's change in a revision."""

    id: str = Field(min_length=1)
    change: Literal["added", "removed", "reworded", "moved"]
    before_zh: str = ""
    before_en: str = ""
    note_zh: str = ""
    note_en: str = ""


class Revision(Record):
    """One revision of the question bank: ``previous`` → ``version``."""

    version: str = Field(min_length=1)
    previous: str = Field(min_length=1)
    date: str = ""
    summary_zh: str = ""
    summary_en: str = ""
    items: tuple[ItemChange, ...] = ()

    @field_validator("version", "previous", "date", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError('write versions and dates as quoted strings, e.g. "2025.10"')
        return value


def _history_owner(fw: Framework) -> Framework:
    return fw.lens.source if fw.lens is not None else fw


def load_history(fw: Framework) -> tuple[Revision, ...]:
    """The revisions recorded for ``fw`` (empty when the framework has no history file).

    Raises
    ------
    FrameworkError
        If the history file is missing, malformed, or names an item that the
        current bank does not have (except items ``removed``).
    """
    owner = _history_owner(fw)
    name = owner.meta.changes
    if not name:
        return ()
    path = owner.path / name
    stamp = (path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else None
    return _load(str(path), stamp, frozenset(owner._items))


@functools.lru_cache(maxsize=8)
def _load(
    path_text: str, stamp: tuple[int, int] | None, item_ids: frozenset[str]
) -> tuple[Revision, ...]:
    path = Path(path_text)
    problems: list[Problem] = []

    def problem(
        row: int | None,
        column: str | None,
        value: object,
        detail: str,
        expected_zh: str,
        expected_en: str,
    ) -> None:
        problems.append(
            Problem(
                str(path),
                row,
                column,
                None if value is None else str(value),
                "bank-change",
                {"detail": detail, "expected_zh": expected_zh, "expected_en": expected_en},
            )
        )

    if stamp is None:
        problems.append(
            Problem.about_file(
                str(path),
                "missing-file",
                {"what": "題庫版本紀錄檔", "what_en": "the question-bank history file"},
            )
        )
        raise FrameworkError(problems, summary=f"cannot read {path}")
    try:
        data = YAML(typ="safe").load(path.read_text(encoding=ENCODING))
    except (YAMLError, UnicodeDecodeError) as exc:
        problem(None, None, None, str(exc), "正確的 YAML（UTF-8）", "valid YAML (UTF-8)")
        raise FrameworkError(problems, summary=f"cannot read {path}") from None
    if not isinstance(data, list):
        problem(None, None, None, "not a list", "版本紀錄的清單", "a list of revisions")
        raise FrameworkError(problems, summary=f"cannot read {path}")
    revisions: list[Revision] = []
    for n, record in enumerate(data):
        try:
            revision = Revision.model_validate(record)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(x) for x in error["loc"])
                problem(
                    None,
                    f"[{n}].{field}",
                    error.get("input") if not isinstance(error.get("input"), dict | list) else None,
                    error["msg"],
                    "見 guidekit.framework.history 說明",
                    "see guidekit.framework.history",
                )
            continue
        for change in revision.items:
            if change.change != "removed" and change.id not in item_ids:
                problem(
                    None,
                    f"[{n}].items.id",
                    change.id,
                    f"unknown item in version {revision.version}",
                    "目前題庫中的檢核項目代碼",
                    "an item id of the current bank",
                )
        revisions.append(revision)
    if problems:
        raise FrameworkError(problems, summary=f"cannot read {path}")
    return tuple(revisions)


def history_frame(fw: Framework) -> pd.DataFrame:
    """Every recorded item change as a table.

    Returns
    -------
    DataFrame
        One row per (revision, item): ``version, previous, date, item_id,
        change, before_zh, before_en, note_zh, note_en`` (all strings).
    """
    rows = [
        {
            "version": r.version,
            "previous": r.previous,
            "date": r.date,
            "item_id": c.id,
            "change": c.change,
            "before_zh": c.before_zh,
            "before_en": c.before_en,
            "note_zh": c.note_zh,
            "note_en": c.note_en,
        }
        for r in load_history(fw)
        for c in r.items
    ]
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    return frame.astype("string")


def changed_items(fw: Framework, version_a: str, version_b: str) -> pd.DataFrame | None:
    """Item changes between two versions of the bank (in either order).

    Follows the chain of revisions ``previous → version`` from the older to the
    newer version.

    Returns
    -------
    DataFrame or None
        The rows of :func:`history_frame` on the path between the versions
        (empty when the versions are equal); ``None`` when the history does not
        connect them (the difference is unknown).
    """
    frame = history_frame(fw)
    if version_a == version_b:
        return frame.iloc[0:0]
    step = {r.version: r.previous for r in load_history(fw)}
    for old, new in ((version_a, version_b), (version_b, version_a)):
        path, current = [], new
        while current in step and current != old and len(path) <= len(step):
            path.append(current)
            current = step[current]
        if current == old:
            return frame[frame["version"].isin(path)].reset_index(drop=True)
    return None
