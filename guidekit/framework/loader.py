"""Loading a framework folder: reading its YAML and CSV files and validating them.

:func:`load_framework` reads ``framework.yaml``, ``principles.yaml``, one
``items-<instrument>.csv`` per self-assessment form (自評表) and ``measures.yaml`` and
raises :class:`~guidekit.problems.FrameworkError` listing every problem (file, row,
field, value, expected) at once, in zh-TW and English.

Other kinds of framework folder (a *lens* that reads another framework's answers
through a crosswalk) register a loader in :data:`FOLDER_KINDS`, keyed by the
top-level key of ``framework.yaml`` that marks them (papermill's engine registry is
the model): the loader never imports them.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from guidekit import i18n
from guidekit.framework.model import (
    ENCODING,
    Framework,
    FrameworkMeta,
    Instrument,
    Item,
    Measure,
    Principle,
    Record,
)
from guidekit.paths import frameworks_dir
from guidekit.problems import FrameworkError, Problem, Severity
from guidekit.text import clean, clean_key, flag_spellings

RecordT = TypeVar("RecordT", bound=Record)

_WHAT_ZH = "含 framework.yaml 的框架資料夾及其檔案"
_WHAT_EN = "a framework folder with framework.yaml and its files"

#: Loaders of other kinds of framework folder, keyed by the ``framework.yaml`` key that
#: marks them; each is called as ``load(loader, data, raw)`` and returns a
#: :class:`Framework`.  :mod:`guidekit.framework.lens` registers ``"lens"``.
FOLDER_KINDS: dict[str, Callable[[FrameworkLoader, dict[str, Any], Any], Framework]] = {}


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
    return FrameworkLoader(Path(folder)).load()


class FrameworkLoader:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.problems: list[Problem] = []
        self.principles_ok = True
        # Ids of rows already reported as invalid: references to them are not flagged again.
        self.invalid_ids: set[str] = set()

    # -- problem helpers --
    def unknown_ref(
        self,
        file: Path | str,
        row: int | None,
        column: str | None,
        value: Any,
        what: str | tuple[str, str],
        allowed: str | Iterable[str],
    ) -> None:
        """``value`` names a ``what`` (``scale``, ``dimension``, ``instrument``, ``principle``,
        ``stage``, ``item``: named by the messages ``framework.ref.<what>``; or a (zh-TW,
        English) pair) that the framework does not have; ``allowed`` lists what it has (ids
        are sorted and joined)."""
        what_zh, what_en = i18n.pair(f"framework.ref.{what}") if isinstance(what, str) else what
        if not isinstance(allowed, str):
            allowed = ", ".join(sorted(allowed))
        self.problem(
            file,
            row,
            column,
            value,
            "unknown-ref",
            what_zh=what_zh,
            what_en=what_en,
            allowed=allowed,
        )

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

    def file_problem(
        self, file: Path | str, code: str, severity: Severity = Severity.ERROR, **params: Any
    ) -> None:
        """A problem of a whole file (no row, column or value)."""
        self.problems.append(Problem.about_file(file, code, params, severity))

    def yaml_records(
        self, path: Path, raw: str, data: list[Any], model: type[RecordT]
    ) -> Iterator[tuple[int, RecordT]]:
        """Each entry of a YAML list as a ``model``, with its index; an entry that breaks the
        model is reported (with its YAML line) and skipped."""
        for n, record in enumerate(data):
            try:
                yield n, model.model_validate(record)
            except ValidationError as exc:
                self.validation_problems(path, exc, lambda loc, n=n: yaml_line(raw, [n, *loc]))

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
            self.file_problem(path, "missing-file", what=_WHAT_ZH, what_en=_WHAT_EN)
        except UnicodeDecodeError:
            self.file_problem(
                path,
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
            self.file_problem(
                path,
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
        if isinstance(data, dict):
            for key, load_kind in FOLDER_KINDS.items():
                if key in data:  # e.g. a lens (guidekit.framework.lens)
                    return load_kind(self, data, raw)
        meta: FrameworkMeta | None = None
        if data is not None:
            try:
                meta = FrameworkMeta.model_validate(data)
            except ValidationError as exc:
                self.validation_problems(meta_path, exc, lambda loc: yaml_line(raw, loc))
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
                at = yaml_line(raw, ["instruments", n, "scale"])
                self.unknown_ref(path, at, f"instruments.{n}.scale", inst.scale, "scale", scale_ids)
        for name, values in (
            ("dimensions", [d.id for d in meta.dimensions]),
            ("instruments", [i.id for i in meta.instruments]),
            ("scales", [s.id for s in meta.scales]),
            ("stages", [s.id for s in meta.stages]),
            ("bands", [b.code for b in meta.bands]),
        ):
            for n, value in enumerate(values):
                if values.index(value) != n:
                    self.problem(path, yaml_line(raw, [name, n]), name, value, "duplicate-id")
        mins = [b.min for b in meta.bands]
        if mins and (min(mins) != 0 or mins != sorted(mins) or len(set(mins)) != len(mins)):
            self.problem(path, yaml_line(raw, ["bands"]), "bands.min", mins, "bands")
        for s_n, scale in enumerate(meta.scales):
            seen: dict[str, str] = {}
            for o_n, option in enumerate(scale.options):
                for key in (option.code, option.label_zh, option.label_en, *option.aliases):
                    k = clean_key(key)
                    if k in seen and seen[k] != option.code:
                        self.problem(
                            path,
                            yaml_line(raw, ["scales", s_n, "options", o_n]),
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
        for n, principle in self.yaml_records(path, raw, data, Principle):
            line = yaml_line(raw, [n])
            if principle.dimension not in dims:
                at = yaml_line(raw, [n, "dimension"])
                self.unknown_ref(path, at, "dimension", principle.dimension, "dimension", dims)
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
                self.unknown_ref(
                    path, row, "instrument", record["instrument"], "instrument", inst.id
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
                self.unknown_ref(path, row, "principle", item.principle, "principle", by_id)
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
            self.file_problem(
                path,
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
        for n, measure in self.yaml_records(path, raw, data, Measure):
            if measure.stage not in stage_ids:
                at = yaml_line(raw, [n, "stage"])
                self.unknown_ref(path, at, "stage", measure.stage, "stage", stage_ids)
            for k, pid in enumerate(measure.principles):
                if pid not in principle_ids and self.principles_ok:
                    at = yaml_line(raw, [n, "principles", k])
                    self.unknown_ref(path, at, "principles", pid, "principle", principle_ids)
            for c, cond in enumerate(measure.when):
                for k, iid in enumerate(cond.items):
                    if iid not in item_ids and iid not in self.invalid_ids:
                        at = yaml_line(raw, [n, "when", c, "items", k])
                        self.unknown_ref(path, at, "when.items", iid, "item", "items-*.csv")
                if (
                    cond.principle is not None
                    and cond.principle not in principle_ids
                    and self.principles_ok
                ):
                    at = yaml_line(raw, [n, "when", c, "principle"])
                    self.unknown_ref(
                        path, at, "when.principle", cond.principle, "principle", principle_ids
                    )
            if any(m.id == measure.id for m in out):
                self.problem(path, yaml_line(raw, [n]), "id", measure.id, "duplicate-id")
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


def yaml_line(raw: Any, loc: Iterable[Any]) -> int | None:
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
