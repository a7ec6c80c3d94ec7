"""The guideline as data: principles, dimensions (構面), instruments, items, scales, measures.

A framework lives in one folder (``data/frameworks/<id>/``)::

    framework.yaml      id, version, titles, dimensions, stages, scales, instruments,
                        scoring rules and bands
    principles.yaml     the principles (原則) with their official text
    items-<inst>.csv    one check-item (檢核項目) bank per instrument (自評表)
    measures.yaml       supporting measures (配套措施) and when they are recommended

:func:`load_framework` reads and validates the whole folder and raises
:class:`~guidekit.problems.FrameworkError` listing every problem (file, row,
field, value, expected) at once.  The record shapes are the pydantic models
below; :func:`json_schemas` exports them as JSON Schema for editors.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from .paths import frameworks_dir
from .problems import FrameworkError, GuidekitError, Problem, Severity
from .text import INVISIBLE, clean, clean_key, flag_spellings, has_hidden, parse_flag

ENCODING = "utf-8"

#: Aggregated item statuses, in order from best to worst; ``na`` and
#: ``unanswered`` are not on the scale.
STATUSES = ("met", "partial", "not_met", "na", "unanswered")
Status = Literal["met", "partial", "not_met", "na", "unanswered"]

_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

#: Bounds of every weight (items, principles, dimensions in framework files; ``--weight``
#: and ``score(weights=...)``): with scores on 0–100, no weighted sum of any realistic
#: number of parts can overflow to inf, and no weight is so small that its products
#: vanish to 0 (a ratio of 10¹² between two weights is more than any weighting needs).
WEIGHT_MIN = 1e-6
WEIGHT_MAX = 1e6


def check_weight(value: Any, where_en: str, where_zh: str) -> float:
    """A weight as a float, within [:data:`WEIGHT_MIN`, :data:`WEIGHT_MAX`].

    The one home of the rule for weights given in code or on the command line
    (framework files are checked by the same bounds in their fields).
    ``where_en`` / ``where_zh`` name where the weight was given (``--weight P08=1e308``).

    Raises
    ------
    GuidekitError
        If the value is not a number (true/false is not one), not finite, or out of bounds.
    """
    low, high = f"{WEIGHT_MIN:.6f}", f"{WEIGHT_MAX:.0f}"
    bounds_en = f"a number from {low} to {high}"
    bounds_zh = f"{low} 至 {high} 之間的數字"
    bad = GuidekitError(
        f"{where_en}: a weight must be {bounds_en}, not {value!r}",
        zh=f"{where_zh}：權重須為 {bounds_zh}，不是 {value!r}",
    )
    if isinstance(value, bool):
        raise bad
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise bad from None
    if not (math.isfinite(number) and WEIGHT_MIN <= number <= WEIGHT_MAX):
        raise bad
    return number


_WHAT_ZH = "含 framework.yaml 的框架資料夾及其檔案"
_WHAT_EN = "a framework folder with framework.yaml and its files"


def _rule(en: str, zh: str) -> PydanticCustomError:
    """A broken rule of a framework file, worded in English and Traditional Chinese."""
    return PydanticCustomError("rule", en, {"zh": zh})


class _Record(BaseModel):
    # allow_inf_nan=False: a weight or threshold of inf/nan would make scores vanish silently.
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_numbers(cls, value: Any, info: Any) -> Any:
        """YAML ``true``/``false`` is not a number (pydantic would read it as 1/0); a yes/no
        field (``major``, ``na``) reads the spellings of :func:`guidekit.text.parse_flag`
        (a blank CSV cell is no) and refuses anything else."""
        if (
            info.field_name in cls.model_fields
            and cls.model_fields[info.field_name].annotation is bool
            and not isinstance(value, bool)
        ):
            flag = False if isinstance(value, str) and not clean_key(value) else parse_flag(value)
            if flag is None:
                raise PydanticCustomError("bool_parsing", "Input should be yes or no")
            return flag
        if isinstance(value, bool) and info.field_name in cls.model_fields:
            annotation = cls.model_fields[info.field_name].annotation
            if "bool" not in str(annotation) and (
                "float" in str(annotation) or "int" in str(annotation)
            ):
                raise PydanticCustomError(
                    "number_not_bool", "Input should be a number, not true/false"
                )
        return value

    def text(self, field: str, lang: str = "zh-TW") -> str:
        """The ``field`` in ``lang`` (``title`` → ``title_zh`` / ``title_en``), falling back to zh."""
        suffix = "en" if lang.startswith("en") else "zh"
        value = getattr(self, f"{field}_{suffix}", None) or getattr(self, f"{field}_zh", "")
        return value or ""


class Dimension(_Record):
    """A lifecycle dimension (構面) grouping principles, e.g. A 探索需求與規劃方向."""

    id: str = Field(pattern=_ID)
    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    description_zh: str = ""
    description_en: str = ""
    weight: float = Field(default=1.0, ge=WEIGHT_MIN, le=WEIGHT_MAX)


class Stage(_Record):
    """A lifecycle stage a supporting measure applies to (計畫, 採購, 建置 …)."""

    id: str = Field(pattern=_ID)
    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)


class Principle(_Record):
    """One principle (原則) of the guideline, with its official text.

    ``requirement_zh`` is the one-line requirement after the title and
    ``explanation_zh`` the explanatory paragraph, both verbatim from the guideline.
    """

    id: str = Field(pattern=_ID)
    number: int = Field(ge=1)
    numeral_zh: str = ""
    dimension: str
    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    requirement_zh: str = ""
    requirement_en: str = ""
    explanation_zh: str = ""
    summary_en: str = ""
    weight: float = Field(default=1.0, ge=WEIGHT_MIN, le=WEIGHT_MAX)

    def clause(self, name: str) -> str:
        """Official text of a clause: ``"requirement"`` or ``"explanation"``."""
        return {"requirement": self.requirement_zh, "explanation": self.explanation_zh}.get(
            name, ""
        )


class ScaleOption(_Record):
    """One answer choice of a scale; ``na=True`` marks 不適用 (not applicable)."""

    code: str = Field(min_length=1)
    label_zh: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    value: float | None = None
    na: bool = False
    aliases: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _value_or_na(self) -> ScaleOption:
        if self.na and self.value is not None:
            raise _rule("an N/A option has no value", "不適用選項不可有數值")
        if not self.na and self.value is None:
            raise _rule("a non-N/A option needs a numeric value", "不適用以外的選項需要數值")
        return self


#: Kinds of clean-up :meth:`Scale.tidying` names, in the order they are applied.
TIDY_KINDS = ("invisible", "spaces", "width", "case", "alias")


class Scale(_Record):
    """An answer scale.

    ``ordinal`` scales have labelled options with values (e.g. 符合 2, 部分符合 1,
    不符合 0, 不適用 N/A).  ``continuous`` scales accept any number in
    ``[min, max]`` plus their N/A options (used for frameworks whose items are
    already indicator values).  Thresholds give the aggregated status of an item:
    ``value >= met_value`` → met; ``value < not_met_below`` → not met; else partial.
    """

    id: str = Field(pattern=_ID)
    kind: Literal["ordinal", "continuous"] = "ordinal"
    options: tuple[ScaleOption, ...] = ()
    min: float | None = None
    max: float | None = None
    met_value: float | None = None
    not_met_below: float | None = None
    disagreement_spread: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Scale:
        values = [o.value for o in self.options if o.value is not None]
        if self.kind == "ordinal":
            if len(values) < 2:
                raise _rule(
                    "an ordinal scale needs at least two options with values",
                    "順序量表至少需要兩個有數值的選項",
                )
        else:
            if self.min is None or self.max is None or not self.max > self.min:
                raise _rule("a continuous scale needs min < max", "連續量表需要 min 小於 max")
        broken: list[tuple[str, str]] = []  # every broken rule of the scale, reported at once
        codes = [clean_key(o.code) for o in self.options]
        if len(set(codes)) != len(codes):
            broken.append(("option codes must be unique", "選項代碼不可重複"))
        low, high = self.low, self.high
        for name in ("met_value", "not_met_below"):
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                broken.append(
                    (
                        f"{name} {value:g} must lie on the scale, from {low:g} to {high:g}",
                        f"{name} {value:g} 須在量表範圍 {low:g} 至 {high:g} 之內",
                    )
                )
        met = self.met_value if self.met_value is not None else high
        below = self.not_met_below if self.not_met_below is not None else low
        if below > met:
            broken.append(
                (
                    f"not_met_below {below:g} must not exceed met_value {met:g}",
                    f"not_met_below {below:g} 不可大於 met_value {met:g}",
                )
            )
        spread = self.disagreement_spread
        if spread is not None and not 0 < spread <= high - low:
            broken.append(
                (
                    f"disagreement_spread {spread:g} must be above 0 and at most "
                    f"the scale's range {high - low:g}",
                    f"disagreement_spread {spread:g} 須大於 0 且不超過量表全距 {high - low:g}",
                )
            )
        if broken:
            raise _rule("; ".join(en for en, _ in broken), "；".join(zh for _, zh in broken))
        return self

    @property
    def low(self) -> float:
        """Lowest value on the scale."""
        if self.kind == "continuous":
            return float(self.min)  # type: ignore[arg-type]
        return float(min(o.value for o in self.options if o.value is not None))  # type: ignore[type-var]

    @property
    def high(self) -> float:
        """Highest value on the scale."""
        if self.kind == "continuous":
            return float(self.max)  # type: ignore[arg-type]
        return float(max(o.value for o in self.options if o.value is not None))  # type: ignore[type-var]

    @property
    def answer_options(self) -> tuple[ScaleOption, ...]:
        """Options in display order (as in the file)."""
        return self.options

    @functools.cached_property
    def _lookup(self) -> dict[str, ScaleOption]:
        table: dict[str, ScaleOption] = {}
        for option in self.options:
            for key in (option.code, option.label_zh, option.label_en, *option.aliases):
                table.setdefault(clean_key(key), option)
        return table

    def match(self, raw: str) -> ScaleOption | float | None:
        """Interpret an answer as typed by a person.

        Returns the :class:`ScaleOption` whose code, zh/en label or alias matches
        (after NFKC, trimming and case folding), a float for a number within
        ``[min, max]`` on a continuous scale, or ``None`` if nothing matches.
        An empty string is *not* handled here: blank means unanswered.
        """
        key = clean_key(raw)
        option = self._lookup.get(key)
        if option is not None:
            return option
        if self.kind == "continuous":
            try:
                number = float(key)
            except ValueError:
                return None
            if math.isfinite(number) and self.low <= number <= self.high:
                return number
        return None

    def tidying(self, raw: str) -> tuple[str, ...]:
        """The clean-ups :meth:`match` applies to read ``raw`` (empty: written as the scale writes it).

        ``invisible`` (zero-width characters, no-break spaces, BOM removed),
        ``spaces`` (spaces around or doubled inside), ``width`` (full-width forms
        made half-width, NFKC), ``case`` (``y`` for ``Y``, ``planned`` for
        ``Planned``) and ``alias`` (a spelling other than the option's code, its
        zh/en label or its value as a number: ``Yes``, ``部份規劃``, ``N/A``).  The
        one home of what counts as a tidy-up of an answer: the answer-file reader
        lists each kind as a warning (nothing is changed silently).
        """
        kinds: list[str] = []
        if has_hidden(raw):
            kinds.append("invisible")
        text = re.sub(f"[{INVISIBLE}\u00a0]", "", raw)
        if text != text.strip() or re.search(r"\s\s|[^\S ]", text.strip()):
            kinds.append("spaces")
        stripped = re.sub(r"\s+", " ", text.strip())
        if unicodedata.normalize("NFKC", stripped) != stripped:
            kinds.append("width")
        matched = self.match(raw)
        if isinstance(matched, ScaleOption):
            written = re.sub(r"\s+", " ", clean(raw))
            value = matched.value
            number = f"{value:g}" if value is not None else None
            exact = {matched.code, matched.label_zh, matched.label_en, number} - {None}
            if written not in exact:
                folded = {e.casefold() for e in exact if e}
                kinds.append("case" if written.casefold() in folded else "alias")
        return tuple(kinds)

    def option(self, code: str) -> ScaleOption:
        """The option with this exact code (KeyError if none)."""
        for option in self.options:
            if option.code == code:
                return option
        raise KeyError(code)

    def status(self, value: float | None) -> Status:
        """Aggregated status of a value on this scale (``None`` → ``na``)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "na"
        met = self.met_value if self.met_value is not None else self.high
        below = self.not_met_below if self.not_met_below is not None else self.low
        if value >= met:
            return "met"
        if value < below:
            return "not_met"
        return "partial"

    def status_label(self, status: str, lang: str = "zh-TW") -> str | None:
        """The scale's own word for an aggregated status, or None to use a generic one.

        ``met`` is the highest option's label (符合 / 已規劃), ``not_met`` the lowest
        (不符合 / 未規劃), ``partial`` the single option between them (部分符合 /
        部分規劃) when there is exactly one, ``na`` the N/A option's label.
        """
        valued = sorted((o for o in self.options if o.value is not None), key=lambda o: o.value)
        if self.kind != "ordinal" or not valued:
            return None
        met = self.met_value if self.met_value is not None else self.high
        below = self.not_met_below if self.not_met_below is not None else self.low
        if status == "met":
            return valued[-1].text("label", lang)
        if status == "not_met":
            return valued[0].text("label", lang)
        if status == "partial":
            middle = [o for o in valued if below <= o.value < met]  # type: ignore[operator]
            return middle[0].text("label", lang) if len(middle) == 1 else None
        if status == "na":
            na = [o for o in self.options if o.na]
            return na[0].text("label", lang) if na else None
        return None

    def expected(self, lang: str = "zh-TW") -> str:
        """The accepted answers in words, for error messages (without "or blank")."""
        zh = not lang.startswith("en")
        labels = [
            f"{o.label_zh}（{o.code}）" if zh else f"{o.code} ({o.label_en})" for o in self.options
        ]
        if self.kind == "continuous":
            labels.insert(
                0,
                f"{self.low:g} 至 {self.high:g} 的數字"
                if zh
                else f"a number from {self.low:g} to {self.high:g}",
            )
        return ("、".join(labels) + " 之一") if zh else "one of " + ", ".join(labels)


class Item(_Record):
    """A check item (檢核項目) of one instrument.

    ``major`` marks a major item (大項) that everyone answers; ``source`` names the
    guideline clause the item derives from (``"P07.explanation"``) and
    ``source_quote`` is a verbatim phrase of that clause; ``form_ref`` optionally
    points at the official form item.
    """

    id: str = Field(pattern=_ID)
    instrument: str
    principle: str
    dimension: str
    major: bool = False
    weight: float = Field(default=1.0, ge=WEIGHT_MIN, le=WEIGHT_MAX)
    text_zh: str = Field(min_length=1)
    text_en: str = Field(min_length=1)
    help_zh: str = ""
    help_en: str = ""
    source: str = ""
    source_quote: str = ""
    form_ref: str = ""


class Instrument(_Record):
    """A self-assessment form (自評表), e.g. ``plan`` (附件1) or ``service`` (附件2)."""

    id: str = Field(pattern=_ID)
    annex: str = ""
    annex_en: str = ""
    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    description_zh: str = ""
    description_en: str = ""
    scale: str
    items: str = Field(min_length=1, description="CSV file of the items, relative to the folder")


class Condition(_Record):
    """When a supporting measure is recommended.

    Either ``items`` + ``status`` (any listed item's aggregated status is one of
    ``status``) or ``principle`` + ``score_below`` (that principle's score is
    below the value).
    """

    items: tuple[str, ...] = ()
    status: tuple[Status, ...] = ()
    principle: str | None = None
    score_below: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        by_items = bool(self.items) and bool(self.status)
        by_score = self.principle is not None and self.score_below is not None
        if by_items == by_score:
            raise _rule(
                "a condition is either {items, status} or {principle, score_below}",
                "條件須為 {items, status} 或 {principle, score_below} 其中一組",
            )
        return self


class Measure(_Record):
    """A supporting measure (配套措施) with the answers under which it is recommended."""

    id: str = Field(pattern=_ID)
    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    description_zh: str = ""
    description_en: str = ""
    stage: str
    principles: tuple[str, ...] = Field(min_length=1)
    when: tuple[Condition, ...] = Field(min_length=1)


class Band(_Record):
    """A score band (e.g. 起步 from 0, 發展中 from 40 …); a score gets the highest band it reaches."""

    code: str = Field(pattern=_ID)
    label_zh: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    min: float = Field(ge=0, le=100)


class Scoring(_Record):
    """Scoring rules of a framework (see :mod:`guidekit.scoring`)."""

    respondents: Literal["median"] = "median"
    normalisation: Literal["none", "minmax", "zscore"] = "none"
    aggregation: Literal["arithmetic", "geometric"] = "arithmetic"
    overall_from: Literal["principles", "dimensions"] = "principles"
    min_peer_group: int = Field(default=5, ge=1)
    low_coverage_below: float = Field(default=0.5, ge=0, le=1)


class LevelNames(_Record):
    dimension_zh: str = "構面"
    dimension_en: str = "Dimension"
    principle_zh: str = "原則"
    principle_en: str = "Principle"
    item_zh: str = "檢核項目"
    item_en: str = "Check item"


class FrameworkIdentity(_Record):
    """What every framework folder's ``framework.yaml`` says about itself."""

    id: str = Field(pattern=_ID)
    version: str = Field(min_length=1)
    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    publisher_zh: str = ""
    publisher_en: str = ""
    source_zh: str = ""
    source_en: str = ""
    licence: str = ""
    notice_zh: str = ""
    notice_en: str = ""
    level_names: LevelNames = LevelNames()


class FrameworkMeta(FrameworkIdentity):
    """Contents of ``framework.yaml``."""

    principles: str = "principles.yaml"
    measures: str | None = None
    dimensions: tuple[Dimension, ...] = Field(min_length=1)
    stages: tuple[Stage, ...] = ()
    scales: tuple[Scale, ...] = Field(min_length=1)
    instruments: tuple[Instrument, ...] = Field(min_length=1)
    scoring: Scoring = Scoring()
    bands: tuple[Band, ...] = Field(min_length=1)
    #: Optional question-bank history (``changes.yaml``: which items changed between
    #: versions), read by :mod:`guidekit.history`.
    changes: str | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        # ``version: 2026.11`` unquoted would be a float and lose a trailing zero.
        if not isinstance(value, str):
            raise _rule(
                'write the version as a quoted string, e.g. "2026.10"',
                '版本請寫成加引號的文字，例如 "2026.10"',
            )
        return value


class Framework:
    """A loaded, validated framework. Immutable after loading.

    Attributes
    ----------
    path : Path
        The framework folder.
    meta : FrameworkMeta
        ``framework.yaml``.
    principles : tuple of Principle
        In file order.
    items : dict of str to tuple of Item
        Items per instrument id, in file order.
    measures : tuple of Measure
    """

    def __init__(
        self,
        path: Path,
        meta: FrameworkMeta,
        principles: tuple[Principle, ...],
        items: dict[str, tuple[Item, ...]],
        measures: tuple[Measure, ...],
    ) -> None:
        self.path = path
        self.meta = meta
        self.principles = principles
        self.items = items
        self.measures = measures
        #: Set for a lens framework (:class:`guidekit.lens.Lens`): whose items it reads.
        self.lens: Any = None
        self._principles = {p.id: p for p in principles}
        self._dimensions = {d.id: d for d in meta.dimensions}
        self._instruments = {i.id: i for i in meta.instruments}
        self._scales = {s.id: s for s in meta.scales}
        self._items = {item.id: item for bank in items.values() for item in bank}
        self._items_key = {clean_key(k): v for k, v in self._items.items()}

    # -- identity -------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def version(self) -> str:
        """Version of the whole framework / question bank, e.g. ``"2026.11"``."""
        return self.meta.version

    def __repr__(self) -> str:
        n = sum(len(v) for v in self.items.values())
        return f"<Framework {self.id} {self.version}: {len(self.principles)} principles, {n} items>"

    # -- lookups --------------------------------------------------------------
    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return self.meta.dimensions

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        return self.meta.instruments

    @property
    def bands(self) -> tuple[Band, ...]:
        return self.meta.bands

    @property
    def scoring(self) -> Scoring:
        return self.meta.scoring

    def principle(self, principle_id: str) -> Principle:
        return self._principles[principle_id]

    def dimension(self, dimension_id: str) -> Dimension:
        return self._dimensions[dimension_id]

    def instrument(self, instrument_id: str) -> Instrument:
        return self._instruments[instrument_id]

    def has_instrument(self, instrument_id: str) -> bool:
        return instrument_id in self._instruments

    def scale(self, instrument_id: str) -> Scale:
        """The answer scale of an instrument."""
        return self._scales[self._instruments[instrument_id].scale]

    def item(self, item_id: str) -> Item:
        return self._items[item_id]

    def find_item(self, raw_id: str) -> Item | None:
        """The item whose id matches ``raw_id`` after clean-up and case folding, or None."""
        return self._items_key.get(clean_key(raw_id))

    def stage(self, stage_id: str) -> Stage:
        return {s.id: s for s in self.meta.stages}[stage_id]

    def band(self, score: float | None) -> Band | None:
        """The band a score (0–100) falls in; ``None`` for a missing score."""
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return None
        chosen = None
        for band in sorted(self.bands, key=lambda b: b.min):
            if score >= band.min:
                chosen = band
        return chosen

    def principles_of(self, dimension_id: str) -> list[Principle]:
        return [p for p in self.principles if p.dimension == dimension_id]

    def names(self, lang: str = "zh-TW") -> dict[str, str]:
        """Placeholders for user-facing messages in this framework's own terms.

        Keys: ``framework`` (title), ``principle``, ``dimension``, ``item`` (level
        names, e.g. 原則 / 構面 / 檢核項目), their lower-case forms ``*_lc`` (for
        English sentences) and ``n`` (number of principles).
        """
        out = {"framework": self.meta.text("title", lang), "n": str(len(self.principles))}
        for level in ("principle", "dimension", "item"):
            name = self.level_name(level, lang)
            out[level] = name
            out[f"{level}_lc"] = name.lower()
        return out

    def level_name(self, level: str, lang: str = "zh-TW") -> str:
        """Name of a level (``dimension``/``principle``/``item``) in this framework's terms."""
        return self.meta.level_names.text(level, lang)

    # -- tables ---------------------------------------------------------------
    def items_frame(self, instrument_id: str | None = None) -> pd.DataFrame:
        """Items as a DataFrame, one row per item.

        Columns: ``item_id, instrument, principle_id, dimension_id, major (bool),
        weight (float), text_zh, text_en, help_zh, help_en, source, source_quote,
        form_ref, order (int, position in its bank)``.  IDs are strings.
        """
        rows = []
        banks = [instrument_id] if instrument_id else list(self.items)
        for inst in banks:
            for order, item in enumerate(self.items[inst]):
                row = item.model_dump()
                row["item_id"] = row.pop("id")
                row["principle_id"] = row.pop("principle")
                row["dimension_id"] = row.pop("dimension")
                row["order"] = order
                rows.append(row)
        columns = [
            "item_id",
            "instrument",
            "principle_id",
            "dimension_id",
            "major",
            "weight",
            "text_zh",
            "text_en",
            "help_zh",
            "help_en",
            "source",
            "source_quote",
            "form_ref",
            "order",
        ]
        return pd.DataFrame(rows, columns=columns)

    def principles_frame(self) -> pd.DataFrame:
        """Principles as a DataFrame: ``principle_id, number, dimension_id, title_zh,
        title_en, weight`` (one row per principle, in order)."""
        return pd.DataFrame(
            [
                {
                    "principle_id": p.id,
                    "number": p.number,
                    "dimension_id": p.dimension,
                    "title_zh": p.title_zh,
                    "title_en": p.title_en,
                    "weight": p.weight,
                }
                for p in self.principles
            ]
        )


# -- loading ------------------------------------------------------------------


def default_framework_path() -> Path:
    """The bundled 政府數位服務指引 framework folder."""
    return frameworks_dir() / "tw-dsg"


def load_framework(path: str | Path | None = None) -> Framework:
    """Load and validate a framework folder.

    Parameters
    ----------
    path : str or Path, optional
        The folder holding ``framework.yaml``, or a framework id found under
        ``data/frameworks/``.  Default: the bundled ``tw-dsg``.

    Returns
    -------
    Framework

    Raises
    ------
    FrameworkError
        With every problem found (file, row/line, field, value, expected).
    """
    folder = _resolve(path)
    stamp = tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size)
        for p in sorted(folder.glob("*"))
        if p.is_file()
    )
    return _load_cached(str(folder), stamp)


def _resolve(path: str | Path | None) -> Path:
    if path is None:
        return default_framework_path()
    candidate = Path(path)
    if not candidate.exists() and not candidate.is_absolute() and "/" not in str(path):
        bundled = frameworks_dir() / str(path)
        if bundled.exists():
            candidate = bundled
    if candidate.is_file() and candidate.name == "framework.yaml":
        candidate = candidate.parent
    if not (candidate / "framework.yaml").is_file():
        raise FrameworkError(
            [
                Problem(
                    file=str(candidate / "framework.yaml"),
                    row=None,
                    column=None,
                    value=None,
                    code="missing-file",
                    params={"what": _WHAT_ZH, "what_en": _WHAT_EN},
                )
            ],
            summary=f"cannot load framework {path}",
            summary_zh=f"無法載入題庫 {path}",
        )
    return candidate.resolve()


@functools.lru_cache(maxsize=8)
def _load_cached(folder: str, stamp: tuple[Any, ...]) -> Framework:
    return _Loader(Path(folder)).load()


class _Loader:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[Problem] = []
        self.principles_ok = True
        # Ids of rows already reported as invalid: references to them are not flagged again.
        self.invalid_ids: set[str] = set()

    # -- problem helpers --
    def problem(
        self,
        file: Path | str,
        row: int | None,
        column: str | None,
        value: Any,
        code: str,
        severity: Severity = Severity.ERROR,
        **params: Any,
    ) -> None:
        self.problems.append(
            Problem(
                file=str(file),
                row=row,
                column=column,
                value=None if value is None else str(value),
                code=code,
                params=params,
                severity=severity,
            )
        )

    def validation_problems(self, file: Path, exc: ValidationError, row_of: Any) -> None:
        errors = exc.errors()
        for error in errors:
            loc = list(error["loc"])
            # A list whose only entries are broken is also "too short": one problem is enough.
            if error["type"] == "too_short" and any(
                len(other["loc"]) > len(loc) and list(other["loc"][: len(loc)]) == loc
                for other in errors
            ):
                continue
            field = ".".join(str(x) for x in loc)
            value = error.get("input")
            if isinstance(value, dict | list):
                value = None
            self.problem(
                file,
                row_of(loc),
                field or None,
                value,
                "schema",
                **_schema_params(error),
            )

    # -- readers --
    def read_text(self, name: str) -> tuple[Path, str | None]:
        """The file's UTF-8 text, or ``None`` after recording why it cannot be read."""
        path = self.folder / name
        try:
            return path, path.read_text(encoding=ENCODING)
        except FileNotFoundError:
            self.problem(path, None, None, None, "missing-file", what=_WHAT_ZH, what_en=_WHAT_EN)
        except UnicodeDecodeError:
            self.problem(
                path,
                None,
                None,
                None,
                "encoding",
                expected_zh="UTF-8 文字",
                expected_en="UTF-8 text",
            )
        return path, None

    def read_yaml(self, name: str) -> tuple[Any, Any]:
        path, text = self.read_text(name)
        if text is None:
            return None, None
        yaml = YAML(typ="rt")
        try:
            data = yaml.load(io.StringIO(text))
        except MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            self.problem(
                path,
                line,
                None,
                None,
                "yaml",
                detail=str(exc.problem),
                expected_zh="正確的 YAML",
                expected_en="valid YAML",
            )
            return None, None
        return _plain(data), data

    def read_yaml_list(self, name: str, what_zh: str, what_en: str) -> tuple[Any, Any]:
        """A YAML file that must hold a list (of principles, measures …): ``(data, raw)``,
        or ``(None, None)`` after recording why not."""
        data, raw = self.read_yaml(name)
        if data is not None and not isinstance(data, list):
            self.problem(
                self.folder / name,
                1,
                None,
                None,
                "schema",
                detail="not a list",
                detail_zh="不是清單",
                expected_en=f"a list of {what_en}",
                expected_zh=f"{what_zh}的清單（每項以 - 開頭）",
            )
            return None, None
        return data, raw

    def read_csv(self, name: str) -> list[tuple[int, dict[str, str]]]:
        path, text = self.read_text(name)
        if text is None:
            return []
        text = text.removeprefix("\ufeff")
        reader = csv.reader(io.StringIO(text, newline=""))
        rows = list(reader)
        if not rows:
            self.problem(
                path,
                None,
                None,
                None,
                "empty",
                expected_zh="標題列與資料",
                expected_en="a header row and rows",
            )
            return []
        header = [clean(h) for h in rows[0]]
        for n, h in enumerate(header):
            if header.index(h) != n:
                self.problem(path, 1, h, h, "duplicate-column", index=header.index(h) + 1)
        records = []
        for number, row in enumerate(rows[1:], start=2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                self.problem(path, number, None, None, "fields", found=len(row), width=len(header))
                continue
            records.append((number, {h: cell.strip() for h, cell in zip(header, row, strict=True)}))
        return records

    # -- load --
    def load(self) -> Framework:
        meta_path = self.folder / "framework.yaml"
        data, raw = self.read_yaml("framework.yaml")
        if isinstance(data, dict) and "lens" in data:
            # A lens reads another framework's items through a crosswalk (guidekit.lens).
            from .lens import load_lens

            return load_lens(self, data, raw)
        meta: FrameworkMeta | None = None
        if data is not None:
            try:
                meta = FrameworkMeta.model_validate(data)
            except ValidationError as exc:
                self.validation_problems(meta_path, exc, lambda loc: _yaml_line(raw, loc))
        if meta is None:
            raise FrameworkError(
                self.problems,
                summary=f"cannot load framework {self.folder}",
                summary_zh=f"無法載入題庫 {self.folder}",
            )

        n_before = len(self.problems)
        principles = self.load_principles(meta)
        # When principles.yaml itself is broken, items cannot be checked against it:
        # say so once instead of flagging every item's principle.
        self.principles_ok = len(self.problems) == n_before
        items = {inst.id: self.load_items(meta, inst, principles) for inst in meta.instruments}
        measures = self.load_measures(meta, principles, items) if meta.measures else ()
        self.check_meta(meta, meta_path, raw)
        if any(p.is_error for p in self.problems):
            raise FrameworkError(
                self.problems,
                summary=f"cannot load framework {self.folder}",
                summary_zh=f"無法載入題庫 {self.folder}",
            )
        return Framework(self.folder, meta, principles, items, measures)

    def check_meta(self, meta: FrameworkMeta, path: Path, raw: Any) -> None:
        scale_ids = {s.id for s in meta.scales}
        for n, inst in enumerate(meta.instruments):
            if inst.scale not in scale_ids:
                self.problem(
                    path,
                    _yaml_line(raw, ["instruments", n, "scale"]),
                    f"instruments.{n}.scale",
                    inst.scale,
                    "unknown-ref",
                    what_zh="答案量表",
                    what_en="scale",
                    allowed=", ".join(sorted(scale_ids)),
                )
        for name, values in (
            ("dimensions", [d.id for d in meta.dimensions]),
            ("instruments", [i.id for i in meta.instruments]),
            ("scales", [s.id for s in meta.scales]),
            ("stages", [s.id for s in meta.stages]),
            ("bands", [b.code for b in meta.bands]),
        ):
            for n, value in enumerate(values):
                if values.index(value) != n:
                    self.problem(path, _yaml_line(raw, [name, n]), name, value, "duplicate-id")
        mins = [b.min for b in meta.bands]
        if mins and (min(mins) != 0 or mins != sorted(mins) or len(set(mins)) != len(mins)):
            self.problem(path, _yaml_line(raw, ["bands"]), "bands.min", mins, "bands")
        for s_n, scale in enumerate(meta.scales):
            seen: dict[str, str] = {}
            for o_n, option in enumerate(scale.options):
                for key in (option.code, option.label_zh, option.label_en, *option.aliases):
                    k = clean_key(key)
                    if k in seen and seen[k] != option.code:
                        self.problem(
                            path,
                            _yaml_line(raw, ["scales", s_n, "options", o_n]),
                            f"scales.{s_n}.options.{o_n}",
                            key,
                            "ambiguous-answer",
                            other=seen[k],
                        )
                    seen[k] = option.code

    def load_principles(self, meta: FrameworkMeta) -> tuple[Principle, ...]:
        path = self.folder / meta.principles
        data, raw = self.read_yaml_list(meta.principles, "原則", "principles")
        if data is None:
            return ()
        dims = {d.id for d in meta.dimensions}
        out: list[Principle] = []
        for n, record in enumerate(data):
            line = _yaml_line(raw, [n])
            try:
                principle = Principle.model_validate(record)
            except ValidationError as exc:
                self.validation_problems(path, exc, lambda loc, n=n: _yaml_line(raw, [n, *loc]))
                continue
            if principle.dimension not in dims:
                self.problem(
                    path,
                    _yaml_line(raw, [n, "dimension"]),
                    "dimension",
                    principle.dimension,
                    "unknown-ref",
                    what_zh="構面",
                    what_en="dimension",
                    allowed=", ".join(sorted(dims)),
                )
            if any(p.id == principle.id for p in out):
                self.problem(path, line, "id", principle.id, "duplicate-id")
            out.append(principle)
        return tuple(out)

    def load_items(
        self, meta: FrameworkMeta, inst: Instrument, principles: tuple[Principle, ...]
    ) -> tuple[Item, ...]:
        path = self.folder / inst.items
        by_id = {p.id: p for p in principles}
        out: list[Item] = []
        seen: dict[str, int] = {}
        for row, record in self.read_csv(inst.items):
            record = {k: v for k, v in record.items()}
            if "instrument" in record and record["instrument"] and record["instrument"] != inst.id:
                self.problem(
                    path,
                    row,
                    "instrument",
                    record["instrument"],
                    "unknown-ref",
                    what_zh="自評表",
                    what_en="instrument",
                    allowed=inst.id,
                )
            record["instrument"] = inst.id
            for optional in ("weight",):
                if record.get(optional, None) == "":
                    record.pop(optional)
            try:
                item = Item.model_validate(record)
            except ValidationError as exc:
                if record.get("id"):
                    self.invalid_ids.add(str(record["id"]).strip())
                for error in exc.errors():
                    field = ".".join(str(x) for x in error["loc"])
                    self.problem(
                        path,
                        row,
                        field,
                        record.get(field, error.get("input")),
                        "schema",
                        **_schema_params(error),
                    )
                continue
            if clean_key(item.id) in seen:
                first = seen[clean_key(item.id)]
                self.problem(
                    path,
                    row,
                    "id",
                    item.id,
                    "duplicate-id",
                    first_zh=f"（已用於第 {first} 列）",
                    first_en=f" (already used in row {first})",
                )
            seen[clean_key(item.id)] = row
            principle = by_id.get(item.principle)
            if principle is None and not self.principles_ok:
                pass
            elif principle is None:
                self.problem(
                    path,
                    row,
                    "principle",
                    item.principle,
                    "unknown-ref",
                    what_zh="原則",
                    what_en="principle",
                    allowed=", ".join(sorted(by_id)),
                )
            else:
                if item.dimension != principle.dimension:
                    self.problem(
                        path,
                        row,
                        "dimension",
                        item.dimension,
                        "dimension-mismatch",
                        principle=principle.id,
                        dimension=principle.dimension,
                    )
                self.check_source(path, row, item, principle)
            out.append(item)
        if not out and not any(p.file == str(path) for p in self.problems):
            self.problem(
                path,
                None,
                None,
                None,
                "empty",
                expected_zh="至少一個檢核項目",
                expected_en="at least one item",
            )
        return tuple(out)

    def check_source(self, path: Path, row: int, item: Item, principle: Principle) -> None:
        if not item.source:
            return
        match = re.fullmatch(r"(?P<pid>[^.]+)\.(?P<clause>requirement|explanation)", item.source)
        if not match or match["pid"] != principle.id:
            self.problem(path, row, "source", item.source, "source-clause", principle=principle.id)
            return
        if item.source_quote:
            clause = _squash(principle.clause(match["clause"]))
            if _squash(item.source_quote) not in clause:
                self.problem(
                    path, row, "source_quote", item.source_quote, "source-quote", source=item.source
                )

    def load_measures(
        self,
        meta: FrameworkMeta,
        principles: tuple[Principle, ...],
        items: dict[str, tuple[Item, ...]],
    ) -> tuple[Measure, ...]:
        assert meta.measures
        path = self.folder / meta.measures
        data, raw = self.read_yaml_list(meta.measures, "配套措施", "measures")
        if data is None:
            return ()
        item_ids = {i.id for bank in items.values() for i in bank}
        principle_ids = {p.id for p in principles}
        stage_ids = {s.id for s in meta.stages}
        out: list[Measure] = []
        for n, record in enumerate(data):
            try:
                measure = Measure.model_validate(record)
            except ValidationError as exc:
                self.validation_problems(path, exc, lambda loc, n=n: _yaml_line(raw, [n, *loc]))
                continue
            principles_allowed = ", ".join(sorted(principle_ids))
            if measure.stage not in stage_ids:
                self.problem(
                    path,
                    _yaml_line(raw, [n, "stage"]),
                    "stage",
                    measure.stage,
                    "unknown-ref",
                    what_zh="階段",
                    what_en="stage",
                    allowed=", ".join(sorted(stage_ids)),
                )
            for k, pid in enumerate(measure.principles):
                if pid not in principle_ids and self.principles_ok:
                    self.problem(
                        path,
                        _yaml_line(raw, [n, "principles", k]),
                        "principles",
                        pid,
                        "unknown-ref",
                        what_zh="原則",
                        what_en="principle",
                        allowed=principles_allowed,
                    )
            for c, cond in enumerate(measure.when):
                for k, iid in enumerate(cond.items):
                    if iid not in item_ids and iid not in self.invalid_ids:
                        self.problem(
                            path,
                            _yaml_line(raw, [n, "when", c, "items", k]),
                            "when.items",
                            iid,
                            "unknown-ref",
                            what_zh="檢核項目",
                            what_en="item",
                            allowed="items-*.csv",
                        )
                if (
                    cond.principle is not None
                    and cond.principle not in principle_ids
                    and self.principles_ok
                ):
                    self.problem(
                        path,
                        _yaml_line(raw, [n, "when", c, "principle"]),
                        "when.principle",
                        cond.principle,
                        "unknown-ref",
                        what_zh="原則",
                        what_en="principle",
                        allowed=principles_allowed,
                    )
            if any(m.id == measure.id for m in out):
                self.problem(path, _yaml_line(raw, [n]), "id", measure.id, "duplicate-id")
            out.append(measure)
        return tuple(out)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


#: zh-TW wording of pydantic's error types: (what is wrong, what is expected).
_SCHEMA_ZH = {
    "missing": ("缺少必填欄位", "填入此欄位"),
    "extra_forbidden": ("未定義的欄位", "只使用文件列出的欄位"),
    "literal_error": ("不是允許的值", "允許的值之一：{expected}"),
    "finite_number": ("不是有限的數字", "有限的數字（不可為 inf 或 nan）"),
    "number_not_bool": ("是非值不是數字", "數字（不是 true／false）"),
    "string_pattern_mismatch": ("代碼格式不符", "由英數字、-、_ 或 . 組成的代碼"),
    "string_too_short": ("不可空白", "非空白的文字"),
    "float_parsing": ("不是數字", "數字"),
    "float_type": ("不是數字", "數字"),
    "int_parsing": ("不是整數", "整數"),
    "int_type": ("不是整數", "整數"),
    "bool_parsing": ("不是是非值", "是非值：" + flag_spellings("zh-TW")),
    "greater_than": ("數值太小", "大於 {gt} 的數字"),
    "greater_than_equal": ("數值太小", "至少 {ge} 的數字"),
    "less_than_equal": ("數值太大", "至多 {le} 的數字"),
    "too_short": ("項目太少", "至少 {min_length} 項"),
    "value_error": ("內容不符規則", "{msg}"),
    "rule": ("內容不符規則", "{zh}"),
}


def _schema_params(error: dict[str, Any]) -> dict[str, str]:
    """Message parameters of a pydantic error, in English and Traditional Chinese."""
    kind = error.get("type", "")
    ctx = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    detail_zh, expected_zh = _SCHEMA_ZH.get(kind, ("內容不符格式", _expected(error)))
    message = error["msg"].removeprefix("Value error, ")
    return {
        "detail": "breaks a rule of the file" if kind == "rule" else message,
        "detail_zh": detail_zh if kind != "value_error" else f"{detail_zh}（{message}）",
        "expected_en": _expected(error),
        "expected_zh": expected_zh.format(msg=message, **ctx)
        if "{" in expected_zh
        else expected_zh,
    }


def _expected(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "a value (the field is required)"
    if kind == "extra_forbidden":
        return "only the documented fields"
    if kind == "literal_error":
        return str(ctx.get("expected", "one of the allowed values"))
    if kind == "string_pattern_mismatch":
        return "an id of letters, digits, '-', '_' or '.'"
    if kind in {"greater_than", "greater_than_equal", "less_than_equal"}:
        return error["msg"].replace("Input should be ", "")
    if kind.startswith(("float", "int")):
        return "a number"
    if kind == "finite_number":
        return "a finite number (not inf or nan)"
    if kind == "number_not_bool":
        return "a number (not true/false)"
    if kind.startswith("bool"):
        return "yes or no: " + flag_spellings("en")
    return error["msg"].removeprefix("Value error, ")


def _plain(node: Any) -> Any:
    """ruamel round-trip objects → plain dict/list/str, keeping scalars' Python types."""
    if isinstance(node, CommentedMap):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def _yaml_line(raw: Any, loc: Iterable[Any]) -> int | None:
    """1-based line of the deepest node of ``loc`` that can be located in ``raw``."""
    line: int | None = None
    node = raw
    for key in loc:
        try:
            if isinstance(node, CommentedMap) and key in node:
                line = node.lc.key(key)[0] + 1
                node = node[key]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
                line = node.lc.item(key)[0] + 1
                node = node[key]
            else:
                break
        except (AttributeError, KeyError, TypeError, IndexError):
            break
    if line is None and hasattr(raw, "lc"):
        line = raw.lc.line + 1
    return line


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schemas of the framework files, keyed by file role.

    Keys: ``framework.yaml``, ``principles.yaml`` (array of principles),
    ``items.csv`` (one row), ``measures.yaml`` (array of measures).
    """
    return {
        "framework.yaml": FrameworkMeta.model_json_schema(),
        "principles.yaml": {"type": "array", "items": Principle.model_json_schema()},
        "items.csv": Item.model_json_schema(),
        "measures.yaml": {"type": "array", "items": Measure.model_json_schema()},
    }
