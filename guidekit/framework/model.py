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

import enum
import functools
import math
import re
import unicodedata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from guidekit.problems import GuidekitError
from guidekit.text import INVISIBLE, clean, clean_key, has_hidden, parse_flag

ENCODING = "utf-8"


#: Aggregated item statuses, in order from best to worst; ``na`` and
#: ``unanswered`` are not on the scale.
class Status(enum.StrEnum):
    """An item's aggregated status (the scale's thresholds decide met / partial / not met)."""

    MET = "met"
    PARTIAL = "partial"
    NOT_MET = "not_met"
    NA = "na"
    UNANSWERED = "unanswered"


STATUSES = tuple(Status)

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


def _rule(en: str, zh: str) -> PydanticCustomError:
    """A broken rule of a framework file, worded in English and Traditional Chinese."""
    return PydanticCustomError("rule", en, {"zh": zh})


class Record(BaseModel):
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


class Titled(Record):
    """A record with a title in both languages (``title_zh`` required, ``title_en`` required)."""

    title_zh: str = Field(min_length=1)
    title_en: str = Field(min_length=1)


class Described(Titled):
    """A titled record with an optional description in both languages."""

    description_zh: str = ""
    description_en: str = ""


class Dimension(Described):
    """A lifecycle dimension (構面) grouping principles, e.g. A 探索需求與規劃方向."""

    id: str = Field(pattern=_ID)
    weight: float = Field(default=1.0, ge=WEIGHT_MIN, le=WEIGHT_MAX)


class Stage(Titled):
    """A lifecycle stage a supporting measure applies to (計畫, 採購, 建置 …)."""

    id: str = Field(pattern=_ID)


class Principle(Titled):
    """One principle (原則) of the guideline, with its official text.

    ``requirement_zh`` is the one-line requirement after the title and
    ``explanation_zh`` the explanatory paragraph, both verbatim from the guideline.
    """

    id: str = Field(pattern=_ID)
    number: int = Field(ge=1)
    numeral_zh: str = ""
    dimension: str
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


class ScaleOption(Record):
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


class Scale(Record):
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

    def option_for(self, code: Any) -> ScaleOption | None:
        """The option with exactly this code, or None (not a code of this scale)."""
        return next((o for o in self.options if isinstance(code, str) and o.code == code), None)

    def option(self, code: str) -> ScaleOption:
        """The option with this exact code (KeyError if none)."""
        for option in self.options:
            if option.code == code:
                return option
        raise KeyError(code)

    @property
    def met_threshold(self) -> float:
        """The lowest value that is ``met``: ``met_value``, or the top of the scale."""
        return self.met_value if self.met_value is not None else self.high

    @property
    def not_met_threshold(self) -> float:
        """Values below this are ``not_met``: ``not_met_below``, or the bottom of the scale."""
        return self.not_met_below if self.not_met_below is not None else self.low

    def statuses(self, values: Any) -> np.ndarray:
        """Aggregated status of each value (an array of :class:`Status`; NaN → ``na``).

        The one home of the threshold rule: ``met`` at or above :attr:`met_threshold`,
        ``not_met`` below :attr:`not_met_threshold`, ``partial`` between (scoring rule 5).
        """
        value = np.asarray(values, dtype=float)
        out = np.full(value.shape, Status.PARTIAL, dtype=object)
        out[value >= self.met_threshold] = Status.MET
        out[value < self.not_met_threshold] = Status.NOT_MET
        out[np.isnan(value)] = Status.NA
        return out

    def status(self, value: float | None) -> Status:
        """Aggregated status of a value on this scale (``None`` → ``na``)."""
        return self.statuses(math.nan if value is None else value)[()]

    def status_label(self, status: str, lang: str = "zh-TW") -> str | None:
        """The scale's own word for an aggregated status, or None to use a generic one.

        ``met`` is the highest option's label (符合 / 已規劃), ``not_met`` the lowest
        (不符合 / 未規劃), ``partial`` the single option between them (部分符合 /
        部分規劃) when there is exactly one, ``na`` the N/A option's label.
        """
        valued = sorted((o for o in self.options if o.value is not None), key=lambda o: o.value)
        if self.kind != "ordinal" or not valued:
            return None
        met, below = self.met_threshold, self.not_met_threshold
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


class Item(Record):
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


class Instrument(Described):
    """A self-assessment form (自評表), e.g. ``plan`` (附件1) or ``service`` (附件2)."""

    id: str = Field(pattern=_ID)
    annex: str = ""
    annex_en: str = ""
    scale: str
    items: str = Field(min_length=1, description="CSV file of the items, relative to the folder")


class Condition(Record):
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


class Measure(Described):
    """A supporting measure (配套措施) with the answers under which it is recommended."""

    id: str = Field(pattern=_ID)
    stage: str
    principles: tuple[str, ...] = Field(min_length=1)
    when: tuple[Condition, ...] = Field(min_length=1)


class Band(Record):
    """A score band (e.g. 起步 from 0, 發展中 from 40 …); a score gets the highest band it reaches."""

    code: str = Field(pattern=_ID)
    label_zh: str = Field(min_length=1)
    label_en: str = Field(min_length=1)
    min: float = Field(ge=0, le=100)


class Scoring(Record):
    """Scoring rules of a framework (see :mod:`guidekit.scoring`)."""

    respondents: Literal["median"] = "median"
    normalisation: Literal["none", "minmax", "zscore"] = "none"
    aggregation: Literal["arithmetic", "geometric"] = "arithmetic"
    overall_from: Literal["principles", "dimensions"] = "principles"
    min_peer_group: int = Field(default=5, ge=1)
    low_coverage_below: float = Field(default=0.5, ge=0, le=1)


class LevelNames(Record):
    dimension_zh: str = "構面"
    dimension_en: str = "Dimension"
    principle_zh: str = "原則"
    principle_en: str = "Principle"
    item_zh: str = "檢核項目"
    item_en: str = "Check item"


class FrameworkIdentity(Titled):
    """What every framework folder's ``framework.yaml`` says about itself."""

    id: str = Field(pattern=_ID)
    version: str = Field(min_length=1)
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
    #: versions), read by :mod:`guidekit.framework.history`.
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
        #: Set for a lens framework (:class:`guidekit.framework.lens.Lens`): whose items it reads.
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

    def band_label(self, code: Any, lang: str = "zh-TW") -> str:
        """The label of band ``code`` in ``lang`` (the code itself if unknown, "—" if none).

        The one home of band labels: reports, the index and summary.csv show these."""
        if not isinstance(code, str):
            return "—"
        band = next((b for b in self.bands if b.code == code), None)
        return band.text("label", lang) if band is not None else code

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
