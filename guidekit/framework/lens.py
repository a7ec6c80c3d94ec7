"""Lens frameworks: read one framework's answers through another standard's structure.

A *lens* is a framework folder that has no check items of its own.  It names a
**source** framework (e.g. ``tw-dsg``) and maps the source's items onto its
own principles with a ``crosswalk.csv``, so answers given against the source
question bank can be scored, reported and analysed in the lens's terms (for
example the 13 principles of 政府數位服務指引 read as the 13 plays of the US
Digital Services Playbook).  Nothing is re-answered and nothing is copied: the
lens's items *are* the source's items (same ids, texts, scales and
instruments), each assigned to one lens principle.

A lens folder::

    framework.yaml   id, version (of the crosswalk), titles, ``lens: {source, crosswalk}``,
                     dimensions, optional scoring and bands (default: the source's)
    principles.yaml  the lens's principles (e.g. the plays), same fields as any framework
    crosswalk.csv    source,principle,note_zh,note_en

``crosswalk.csv`` rules (checked on loading, every problem reported at once):

* ``source`` is a source principle id (maps all of its items) or a source
  item id (overrides its principle's row for that item);
* ``principle`` is a lens principle id, or blank: *deliberately not counted*
  (say why in the note);
* every source principle must be covered (by its own row or by rows for all of
  its items), so nothing is dropped silently;
* each source item counts toward **one** lens principle at most, so no answer
  is counted twice (OECD/JRC *Handbook on Constructing Composite Indicators*,
  2008, §1.5 warns against double counting); to split a source principle over
  several lens principles, map its items one by one;
* every lens principle must receive at least one item.

The loaded lens is an ordinary :class:`~guidekit.framework.Framework`:
``fw.version`` is the **question bank's** version (answers are given against the
source bank), ``fw.lens.version`` the crosswalk's own version, and
``fw.lens.crosswalk`` the resolved mapping (one row per source item).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import Field, ValidationError, field_validator

from guidekit.framework.loader import FOLDER_KINDS, FrameworkLoader, load_framework, yaml_line
from guidekit.framework.model import (
    Band,
    Dimension,
    Framework,
    FrameworkIdentity,
    FrameworkMeta,
    Item,
    Record,
    Scoring,
)
from guidekit.problems import FrameworkError

#: Columns of ``crosswalk.csv``.
CROSSWALK_COLUMNS = ("source", "principle", "note_zh", "note_en")


class LensSpec(Record):
    """The ``lens:`` block of a lens's ``framework.yaml``."""

    source: str = Field(
        min_length=1, description="source framework id or folder (relative to the lens)"
    )
    crosswalk: str = Field(default="crosswalk.csv", min_length=1)


class LensMeta(FrameworkIdentity):
    """Contents of a lens's ``framework.yaml`` (no scales, instruments or items: the source's are used)."""

    lens: LensSpec
    principles: str = "principles.yaml"
    dimensions: tuple[Dimension, ...] = Field(min_length=1)
    scoring: Scoring | None = None
    bands: tuple[Band, ...] = ()

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError('write the version as a quoted string, e.g. "2026.1"')
        return value


@dataclasses.dataclass(frozen=True)
class Lens:
    """What makes a framework a lens.

    Attributes
    ----------
    source : Framework
        The framework whose answers are read.
    version : str
        Version of the crosswalk itself (``version`` in the lens's framework.yaml).
    crosswalk : DataFrame
        One row per source item: ``item_id, instrument, source_principle_id,
        principle_id`` (lens principle, ``<NA>`` when not counted), ``via``
        (``"principle"`` or ``"item"``: which crosswalk row decided), ``note_zh,
        note_en`` (strings).
    """

    source: Framework
    version: str
    crosswalk: pd.DataFrame

    @property
    def excluded(self) -> list[str]:
        """Source item ids that the lens deliberately does not count."""
        return self.crosswalk.loc[self.crosswalk["principle_id"].isna(), "item_id"].tolist()


def load_lens(loader: FrameworkLoader, data: dict[str, Any], raw: Any) -> Framework:
    """Build a lens :class:`Framework` (called by the framework loader for a ``lens:`` folder).

    Raises
    ------
    FrameworkError
        Listing every problem of the lens folder (and of its source framework).
    """
    folder = loader.folder
    meta_path = folder / "framework.yaml"
    try:
        lmeta = LensMeta.model_validate(data)
    except ValidationError as exc:
        loader.validation_problems(meta_path, exc, lambda loc: yaml_line(raw, loc))
        raise FrameworkError(loader.problems, summary=f"cannot load framework {folder}") from None

    source = _load_source(loader, lmeta, meta_path, raw)
    principles = loader.load_principles(lmeta)  # type: ignore[arg-type]
    rows = loader.read_csv(lmeta.lens.crosswalk)
    if source is None or any(p.is_error for p in loader.problems):
        raise FrameworkError(loader.problems, summary=f"cannot load framework {folder}")

    crosswalk = _resolve_crosswalk(
        loader, folder / lmeta.lens.crosswalk, rows, source, {p.id for p in principles}
    )
    by_principle = {p.id: p for p in principles}
    items: dict[str, tuple[Item, ...]] = {}
    mapping = dict(zip(crosswalk["item_id"], crosswalk["principle_id"], strict=True))
    for inst in source.instruments:
        bank = []
        for item in source.items[inst.id]:
            target = mapping.get(item.id)
            if target is None or pd.isna(target):
                continue
            principle = by_principle[target]
            bank.append(
                item.model_copy(
                    update={
                        "principle": principle.id,
                        "dimension": principle.dimension,
                        # provenance: the clause of the *source* framework
                        "source": f"{source.id}:{item.source}"
                        if item.source
                        else f"{source.id}:{item.principle}",
                    }
                )
            )
        items[inst.id] = tuple(bank)
    used = {i.principle for bank in items.values() for i in bank}
    for n, principle in enumerate(principles):
        if principle.id not in used:
            loader.problem(
                folder / lmeta.principles,
                _principle_line(loader, lmeta, n),
                "id",
                principle.id,
                "lens-principle-empty",
                crosswalk=lmeta.lens.crosswalk,
            )
    if any(p.is_error for p in loader.problems):
        raise FrameworkError(loader.problems, summary=f"cannot load framework {folder}")

    # The lens's own identity (title, publisher, licence …), the source's version and forms.
    identity = lmeta.model_dump(include=set(FrameworkIdentity.model_fields) - {"version"})
    meta = FrameworkMeta(
        **identity,
        version=source.version,
        principles=lmeta.principles,
        measures=None,
        dimensions=lmeta.dimensions,
        stages=(),
        scales=source.meta.scales,
        instruments=source.meta.instruments,
        scoring=lmeta.scoring or source.scoring,
        bands=lmeta.bands or source.bands,
    )
    fw = Framework(folder, meta, principles, items, ())
    fw.lens = Lens(source=source, version=lmeta.version, crosswalk=crosswalk)
    return fw


def _principle_line(loader: FrameworkLoader, lmeta: LensMeta, n: int) -> int | None:
    _, raw = loader.read_yaml(lmeta.principles)
    return yaml_line(raw, [n]) if raw is not None else None


def _load_source(
    loader: FrameworkLoader, lmeta: LensMeta, meta_path: Path, raw: Any
) -> Framework | None:
    spec = lmeta.lens.source
    relative = loader.folder / spec
    target: str | Path = relative if (relative / "framework.yaml").is_file() else spec
    try:
        source = load_framework(target)
    except FrameworkError as exc:
        loader.problems.extend(exc.problems)
        return None
    if source.lens is not None:
        loader.unknown_ref(
            meta_path,
            yaml_line(raw, ["lens", "source"]),
            "lens.source",
            spec,
            ("來源框架（不可為另一個對照框架）", "source framework (not another lens)"),
            "a framework with its own items",
        )
        return None
    return source


def _resolve_crosswalk(
    loader: FrameworkLoader,
    path: Path,
    rows: list[tuple[int, dict[str, str]]],
    source: Framework,
    lens_principles: set[str],
) -> pd.DataFrame:
    header_ok = True
    if rows:
        missing = [c for c in ("source", "principle") if c not in rows[0][1]]
        for column in missing:
            loader.problem(path, 1, column, None, "missing-column", aliases=column)
            header_ok = False
    if not header_ok:
        return _empty_crosswalk()
    source_principles = {p.id for p in source.principles}
    source_items = {i.id: i for bank in source.items.values() for i in bank}
    by_principle: dict[str, tuple[str | None, str, str]] = {}
    by_item: dict[str, tuple[str | None, str, str]] = {}
    seen: dict[str, int] = {}
    for row, record in rows:
        key = record.get("source", "")
        target = record.get("principle", "") or None
        note = (record.get("note_zh", ""), record.get("note_en", ""))
        if key in seen:
            loader.problem(
                path,
                row,
                "source",
                key,
                "duplicate-id",
                first_zh=f"（已用於第 {seen[key]} 列）",
                first_en=f" (already used in row {seen[key]})",
            )
            continue
        seen[key] = row
        if target is not None and target not in lens_principles:
            what = ("對照框架的原則", "principle of this lens")
            loader.unknown_ref(path, row, "principle", target, what, lens_principles)
            continue
        if key in source_principles:
            by_principle[key] = (target, *note)
        elif key in source_items:
            by_item[key] = (target, *note)
        else:
            loader.unknown_ref(
                path,
                row,
                "source",
                key,
                (f"{source.id} 的原則或檢核項目", f"principle or item of {source.id}"),
                f"{source.id} principle ids (P01…) or item ids",
            )
    records = []
    unmapped: dict[str, list[str]] = {}
    for inst in source.instruments:
        for item in source.items[inst.id]:
            if item.id in by_item:
                target, note_zh, note_en = by_item[item.id]
                via = "item"
            elif item.principle in by_principle:
                target, note_zh, note_en = by_principle[item.principle]
                via = "principle"
            else:
                unmapped.setdefault(item.principle, []).append(item.id)
                continue
            records.append(
                {
                    "item_id": item.id,
                    "instrument": inst.id,
                    "source_principle_id": item.principle,
                    "principle_id": target,
                    "via": via,
                    "note_zh": note_zh,
                    "note_en": note_en,
                }
            )
    for principle_id, item_ids in unmapped.items():
        loader.problem(
            path,
            None,
            "source",
            principle_id,
            "crosswalk-unmapped",
            items=", ".join(item_ids[:5]) + (" …" if len(item_ids) > 5 else ""),
        )
    if not records:
        return _empty_crosswalk()
    frame = pd.DataFrame.from_records(records)
    for column in frame.columns:
        frame[column] = frame[column].astype("string")
    return frame


def _empty_crosswalk() -> pd.DataFrame:
    columns = [
        "item_id",
        "instrument",
        "source_principle_id",
        "principle_id",
        "via",
        "note_zh",
        "note_en",
    ]
    return pd.DataFrame({c: pd.Series(dtype="string") for c in columns})


FOLDER_KINDS["lens"] = load_lens
