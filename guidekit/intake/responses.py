"""Reading answers from the files agencies send in, and validating them.

Files become the canonical long table of :mod:`guidekit.answers.columns` (one row per
round, agency, service, respondent and check item; its columns and dtypes are listed there).

Headers may be those English column names or zh-TW aliases (機關代碼, 機關名稱,
填答者, 題號, 答案, 說明 …), see :data:`HEADER_ALIASES`.  Reading never drops or
changes a value silently: every clean-up is reported as a warning, every
unusable value as an error, all at once (:class:`~guidekit.problems.ResponsesError`).
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from ruamel.yaml import YAML

from guidekit import i18n
from guidekit.answers.actions import is_action_header
from guidekit.answers.columns import (
    ALIAS_TO_COLUMN,
    COLUMNS,
    HEADER_ALIASES,
    ITEM_KEY,
    REQUIRED,
    empty_frame,
    header_key,
)
from guidekit.answers.model import Responses, SourceInfo
from guidekit.answers.rules import (
    AGREED_RESPONDENT,
    METADATA_FLAGS,
    clean_name,
    is_reserved_name,
    lacks_reason,
    name_key,
    service_lookalikes,
    settle_agreed,
)
from guidekit.framework import TIDY_KINDS, Framework, ScaleOption, load_framework
from guidekit.framework.history import load_history
from guidekit.intake.forms import is_form, read_form
from guidekit.intake.tabular import FOLDER_SUFFIXES, SUFFIXES, Table, read_table
from guidekit.problems import GuidekitError, Problem, ResponsesError, Severity, sort_problems
from guidekit.store import StoreError, is_store_url, mask_url, open_store
from guidekit.text import CONTROL, clean, clean_key, flag_spellings, parse_flag

#: A round Excel may store as a number without losing anything: a whole year-like number.
_PLAIN_ROUND = re.compile(r"[0-9]{1,6}")


def _missing_columns(header: Sequence[str]) -> list[str]:
    """The required columns a header row lacks (by alias, after clean-up)."""
    found = {ALIAS_TO_COLUMN.get(header_key(clean(h))) for h in header}
    return [c for c in REQUIRED if c not in found]


def _is_answer_header(header: list[str]) -> bool:
    """True when a sheet's row 1 names every required column: the sheet that holds answers."""
    return not _missing_columns(header)


@dataclasses.dataclass
class ValidationReport:
    """Result of :func:`validate_responses`: every problem, and what was read."""

    problems: list[Problem]
    sources: list[SourceInfo]
    responses: Responses | None
    #: The rows that could be read, errors or not (rows with an error left out).
    read: Responses | None = None
    #: (file, row) -> (round, agency_id) as written, for every row of every file read.
    row_keys: dict[tuple[str, int], tuple[str, str]] = dataclasses.field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclasses.dataclass
class AgencySplit:
    """Answers split by agency: those without errors, and the errors of the others.

    Attributes
    ----------
    responses : Responses or None
        The answers of every (round, agency) none of whose rows has an error;
        None when no agency is left.
    failed : dict
        ``(round, agency_id) -> [Problem]``: the errors of each agency left out.
    unplaced : list of Problem
        Errors that name no agency (an unreadable file, a missing column, a
        row without an agency code in a file with no other agency): the
        answers they concern are unknown and not included.
    names : dict
        ``(round, agency_id) -> agency name`` of the agencies left out, where known.
    """

    responses: Responses | None
    failed: dict[tuple[str, str], list[Problem]]
    unplaced: list[Problem]
    names: dict[tuple[str, str], str]


def split_by_agency(report: ValidationReport) -> AgencySplit:
    """Keep the agencies whose answers have no error; name the errors of the others.

    An error on a row belongs to that row's (round, agency); an error without a
    row, or on a row without an agency code, belongs to every agency of its file.
    An agency with one error anywhere is left out whole (a report on part of its
    answers would be wrong), in every file.  For ``guidekit reports
    --skip-invalid``: one broken file does not stop hundreds of reports, and
    nothing is dropped without being named.
    """
    failed: dict[tuple[str, str], list[Problem]] = collections.defaultdict(list)
    unplaced: list[Problem] = []
    by_file: dict[str, set[tuple[str, str]]] = collections.defaultdict(set)
    for (file, _row), key in report.row_keys.items():
        if key[1]:
            by_file[file].add(key)
    for problem in report.errors:
        key = report.row_keys.get((problem.file, problem.row)) if problem.row else None
        if key and key[1]:
            failed[key].append(problem)
        elif by_file.get(problem.file):
            for key in sorted(by_file[problem.file]):
                failed[key].append(problem)
        else:
            unplaced.append(problem)
    read = report.read
    if read is None or read.frame.empty:
        return AgencySplit(None, dict(failed), unplaced, {})
    frame = read.frame
    keys = pd.MultiIndex.from_frame(frame[["round", "agency_id"]])
    out = keys.isin(list(failed)) if failed else pd.Series(False, index=frame.index).to_numpy()
    names = {
        (r, a): n
        for r, a, n in frame.loc[out, ["round", "agency_id", "agency_name"]].itertuples(index=False)
    }
    kept = frame[~out].reset_index(drop=True)
    responses = dataclasses.replace(read, frame=kept) if not kept.empty else None
    return AgencySplit(responses, dict(failed), unplaced, names)


#: Response stores (SQLite) accepted wherever answer files are (named explicitly).
STORE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def _read_store(
    path: Path | str, fw: Framework, problems: list[Problem]
) -> tuple[dict[str, list[Any]] | None, Any]:
    """The current answers of a workshop store (an SQLite file or a ``postgresql://``
    URL), as one more part of the canonical table (the team's agreed answers take the
    place of the respondents', see guidekit.store).

    The store is opened read-only: reading never changes the file, and a file that
    is not a guidekit store is reported, not turned into one.  Rows the file reader
    would refuse are reported as problems of the store (row = log id)."""

    try:
        with open_store(path, fw, readonly=True) as store:
            responses = store.responses(fw)
    except ResponsesError as exc:
        problems.extend(exc.problems)
        return None, None
    except (StoreError, GuidekitError) as exc:
        problems.append(
            Problem.about_file(
                mask_url(str(path)),
                "store-unreadable",
                {"detail_zh": exc.text("zh-TW"), "detail_en": exc.text("en")},
            )
        )
        return None, None
    # look-alike services are checked over every file read together (_check_across)
    problems.extend(p for p in responses.problems if p.code != "service-lookalike")
    frame = responses.frame
    part = {c: frame[c].astype(object).where(frame[c].notna(), None).tolist() for c in COLUMNS}
    kind = responses.sources[0].encoding  # "sqlite" or "postgresql"
    shown = str(path) if isinstance(path, Path) else mask_url(path)
    source = SourceInfo(shown, kind, len(frame), {c: c for c in COLUMNS[:11]})
    return part, source


#: Spreadsheet-like files in a folder that are not read, and said so.
_NOT_READ_IN_FOLDERS = {".txt", ".xlsb", ".numbers", ".et", ".ett", ".fods", ".xltx"}


def _collect(paths: str | Path | Iterable[str | Path], problems: list[Problem]) -> list[Path | str]:
    """The answer files to read, reporting what is skipped and what is given twice;
    ``postgresql://`` URLs of answer stores are kept as given (strings)."""
    if isinstance(paths, str | Path):
        paths = [paths]
    out: list[Path | str] = []
    seen: dict[Path, Path] = {}
    for raw in paths:
        if is_store_url(raw):
            out.append(str(raw).strip())
            continue
        path = Path(raw)
        if path.is_dir():
            found, skipped = _walk(path)
            for skip in skipped:
                problems.append(
                    Problem(str(skip), None, None, skip.suffix, "not-read", {}, Severity.WARNING)
                )
        else:
            found = [path]
        for file in found:
            key = file.resolve() if file.exists() else file
            if key in seen:
                problems.append(
                    Problem.about_file(
                        str(file),
                        "file-twice",
                        {"first": str(seen[key])},
                        Severity.WARNING,
                    )
                )
                continue
            seen[key] = file
            out.append(file)
    return out


def _walk(folder: Path) -> tuple[list[Path], list[Path]]:
    """Answer files under ``folder`` (recursively) and the spreadsheet-like files skipped.

    Hidden files and folders, folders starting with "_", Excel's "~$" lock files and
    guidekit's own report folders (holding a guidekit ``manifest.json``) are left out.
    """
    files: list[Path] = []
    skipped: list[Path] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith((".", "~$")):
            continue
        parents = path.relative_to(folder).parts[:-1]
        if any(part.startswith((".", "_")) for part in parents):
            continue
        if any(
            _is_report_folder(folder.joinpath(*parents[: n + 1])) for n in range(len(parents))
        ) or (_is_report_folder(path.parent)):
            continue
        suffix = path.suffix.lower()
        if suffix in FOLDER_SUFFIXES:
            files.append(path)
        elif suffix in _NOT_READ_IN_FOLDERS:
            skipped.append(path)
    return files, skipped


def _is_report_folder(folder: Path) -> bool:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        import json

        return "guidekit" in json.loads(manifest.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return False


def expand_paths(paths: str | Path | Iterable[str | Path]) -> list[Path | str]:
    """Files to read: each path, or the answer files (CSV/TSV/xlsx) in a folder and its
    subfolders (hidden files and folders, Excel's ``~$`` lock files and ``_notebooks``
    are skipped), in sorted order."""
    return _collect(paths, [])


def read_responses(
    paths: str | Path | Iterable[str | Path],
    framework: Framework | str | Path | None = None,
) -> Responses:
    """Read and validate answer files into the canonical table.

    Parameters
    ----------
    paths : path or iterable of paths
        CSV (UTF-8, UTF-8 with BOM, CP950), TSV, .xlsx, .ods or .xls files, workshop
        stores (.sqlite), guidekit's fillable forms (:mod:`guidekit.intake.forms`), or
        folders of them.
    framework : Framework or path, optional
        Default: the bundled 政府數位服務指引.

    Returns
    -------
    Responses

    Raises
    ------
    ResponsesError
        If any file has an error; lists every problem of every file.
    FileNotFoundError
        Never: a missing file is reported as a problem in the ResponsesError.
    """
    report = validate_responses(paths, framework)
    if report.errors:
        raise ResponsesError(
            report.problems, summary="the answers cannot be used", summary_zh="填答資料無法使用"
        )
    assert report.responses is not None
    return report.responses


def validate_responses(
    paths: str | Path | Iterable[str | Path],
    framework: Framework | str | Path | None = None,
    *,
    expect: Mapping[str, str | None] | None = None,
) -> ValidationReport:
    """Check answer files and return every problem without raising.

    See :func:`read_responses` for the accepted inputs; guidekit's fillable forms
    (:mod:`guidekit.intake.forms`) are read sheet by sheet into the same rows.
    ``expect`` (``round`` / ``agency_id`` / ``instrument``) refuses forms made for
    another.  ``report.responses`` is set when there are no errors.
    """
    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    if fw.lens is not None:
        # A lens reads its source framework's answer files (guidekit.framework.lens).

        return validate_through_lens(validate_responses(paths, fw.lens.source, expect=expect), fw)
    problems: list[Problem] = []
    files = _collect(paths, problems)
    sources: list[SourceInfo] = []
    parts: list[dict[str, list[Any]]] = []
    metadata: dict[str, Any] = {}
    row_keys: dict[tuple[str, int], tuple[str, str]] = {}
    meta_cache: dict[Path, dict[str, Any]] = {}
    suffixes = ", ".join(SUFFIXES)
    if not files:
        problems.append(Problem.about_file(_describe(paths), "no-files", {"suffixes": suffixes}))
    for path in files:
        if isinstance(path, str):  # a postgresql:// store
            part, source = _read_store(path, fw, problems)
            if part is not None:
                parts.append(part)
                sources.append(source)
            continue
        if not path.is_file():
            problems.append(
                Problem.about_file(
                    str(path),
                    "missing-file",
                    {"what": "存在的填答檔案", "what_en": "an existing answer file"},
                )
            )
            continue
        if path.suffix.lower() in STORE_SUFFIXES:
            part, source = _read_store(path, fw, problems)
            if part is not None:
                parts.append(part)
                sources.append(source)
            continue
        if is_form(path):
            meta = _sidecar(path, problems, meta_cache)
            for reader, source in _read_form(path, fw, expect, problems, row_keys):
                sources.append(dataclasses.replace(source, metadata=meta))
                parts.append(reader.out)
            metadata.update(meta)
            continue
        try:
            table = read_table(path, is_header=_is_answer_header)
        except ValueError:
            problems.append(
                Problem(str(path), None, None, path.suffix, "file-type", {"suffixes": suffixes})
            )
            continue
        except Exception as exc:  # a corrupt workbook: report, keep going with other files
            problems.append(
                Problem.about_file(
                    str(path),
                    "unreadable",
                    {"detail": f"{type(exc).__name__}: {exc}"},
                )
            )
            continue
        if is_action_header(table.header) and not _is_answer_header(table.header):
            # an improvement-actions table (an export's second file): not answers
            problems.append(Problem.about_file(str(path), "actions-file", {}, Severity.WARNING))
            continue
        reader = _FileReader(table, fw)
        columns = reader.read()
        problems += reader.problems
        meta = _sidecar(path, problems, meta_cache)
        sources.append(SourceInfo(str(path), table.encoding, len(table.rows), columns, meta))
        parts.append(reader.out)
        metadata.update(meta)
        row_keys.update({(reader.file, n): key for n, key in reader.row_keys.items()})

    frame = _concat(parts)
    problems += _check_across(frame, {s.file: s.columns for s in sources})
    problems += _check_values(frame, fw)
    if not frame.empty:
        frame, aside = settle_agreed(frame)
        problems += _settled_warnings(frame, aside)
    if files and frame.empty and not any(p.is_error for p in problems):
        problems.append(Problem.about_file(_describe(paths), "no-answers", {}, Severity.WARNING))
    problems = sort_problems(problems)
    read = Responses(
        frame=frame,
        framework=fw,
        problems=[p for p in problems if not p.is_error],
        sources=sources,
        metadata=metadata,
    )
    responses = None if any(p.is_error for p in problems) else read
    return ValidationReport(problems, sources, responses, read, row_keys)


def _read_form(
    path: Path,
    fw: Framework,
    expect: Mapping[str, str | None] | None,
    problems: list[Problem],
    row_keys: dict[tuple[str, int], tuple[str, str]],
) -> list[tuple[_FileReader, SourceInfo]]:
    """A guidekit form: each respondent sheet read by the answer-file reader, every
    problem naming its sheet.  Problems of the form as a whole belong to its agency
    (``row_keys`` gets the form's agency under row 0, see :func:`split_by_agency`)."""
    try:
        form = read_form(path, fw, expect)
    except Exception as exc:  # a corrupt workbook: report, keep going with other files
        problems.append(
            Problem(
                str(path),
                None,
                None,
                None,
                "unreadable",
                {"detail": f"{type(exc).__name__}: {exc}"},
            )
        )
        return []
    problems += form.problems
    if form.meta.get("agency_id"):
        row_keys[(str(path), 0)] = (form.meta.get("round", ""), form.meta["agency_id"])
    out = []
    for table in form.tables:
        reader = _FileReader(table, fw)
        columns = reader.read()
        problems += [dataclasses.replace(p, sheet=table.sheet) for p in reader.problems]
        row_keys.update({(reader.file, n): key for n, key in reader.row_keys.items()})
        source = SourceInfo(str(path), table.encoding, len(table.rows), columns, sheet=table.sheet)
        out.append((reader, source))
    return out


#: Metadata of a whole folder of answer files (e.g. ``synthetic: true``).
FOLDER_METADATA = "dataset.yaml"


def _sidecar(
    path: Path, problems: list[Problem], cache: dict[Path, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Metadata of an answer file: ``<folder>/dataset.yaml``, then ``<file>.meta.yaml``.

    ``cache`` keeps each metadata file read once per call of the reader (its
    problems are reported once, not once per answer file of the folder)."""
    cache = {} if cache is None else cache
    data: dict[str, Any] = {}
    for meta in (path.parent / FOLDER_METADATA, path.with_name(path.stem + ".meta.yaml")):
        if meta.is_file():
            if meta not in cache:
                cache[meta] = _read_metadata(meta, problems)
            data.update(cache[meta])
    return data


def _read_metadata(meta: Path, problems: list[Problem]) -> dict[str, Any]:
    """One metadata file (UTF-8 YAML mapping); its flags checked and read as booleans."""
    params = {"expected_zh": "YAML 對應表（key: value）", "expected_en": "a YAML mapping"}
    try:
        text = meta.read_text(encoding="utf-8")
        data = YAML(typ="safe").load(text)
    except Exception as exc:
        problems.append(Problem.about_file(str(meta), "yaml", {**params, "detail": str(exc)}))
        return {}
    if not isinstance(data, dict):
        problems.append(
            Problem.about_file(str(meta), "yaml", {**params, "detail": "not a mapping"})
        )
        return {}
    for key in METADATA_FLAGS:
        if key not in data:
            continue
        value = parse_flag(data[key])
        if value is None:
            line = next(
                (
                    n
                    for n, ln in enumerate(text.splitlines(), 1)
                    if re.match(rf"\s*['\"]?{re.escape(key)}['\"]?\s*:", ln)
                ),
                None,
            )
            problems.append(
                Problem(
                    str(meta),
                    line,
                    key,
                    "" if data[key] is None else str(data[key]),
                    "metadata-flag",
                    {
                        "key": key,
                        "spellings_zh": flag_spellings("zh-TW"),
                        "spellings_en": flag_spellings("en"),
                    },
                )
            )
            del data[key]
        else:
            data[key] = value
    return data


def _concat(parts: Sequence[dict[str, list[Any]]]) -> pd.DataFrame:
    if not parts:
        return empty_frame()
    data = {c: [v for part in parts for v in part[c]] for c in COLUMNS}
    frame = pd.DataFrame(data, columns=list(COLUMNS))
    for column in COLUMNS:
        frame[column] = frame[column].astype("Int64" if column == "source_row" else "string")
    return frame


class _FileReader:
    """Maps one :class:`Table` onto the canonical columns and checks every value."""

    def __init__(self, table: Table, framework: Framework) -> None:
        self.table = table
        self.fw = framework
        self.file = table.file
        self.problems: list[Problem] = list(table.problems)
        self.out: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        # row number -> (round, agency_id) as written, for every row, errors or not
        self.row_keys: dict[int, tuple[str, str]] = {}
        # how the answers were written: tidy-ups and 1/0 codes, reported per file
        self.answers = _AnswerSpellings(self.file)
        # headers as shown in messages (cleaned: no zero-width characters)
        self.display: dict[int, str] = {}
        # repeated warnings are grouped: key -> (first problem, other rows)
        self._grouped: dict[tuple[str, ...], tuple[Problem, list[int]]] = {}

    def error(
        self, row: int | None, column: str | None, value: str | None, code: str, **params: Any
    ) -> None:
        self.problems.append(Problem(self.file, row, column, value, code, params))

    def blank(self, row: int, column: str | None, value: str | None, field: str) -> None:
        """A required ``field`` (a canonical column) is blank."""
        what_zh, what_en = i18n.pair(f"answers.blank.{field}")
        self.error(row, column, value, "blank", what_zh=what_zh, what_en=what_en)

    def warn_grouped(self, row: int, column: str, value: str, code: str, **params: Any) -> None:
        key = (code, column, value)
        if key not in self._grouped:
            self._grouped[key] = (
                Problem(self.file, row, column, value, code, params, Severity.WARNING),
                [],
            )
        else:
            self._grouped[key][1].append(row)

    def _flush_grouped(self) -> None:
        for first, rows in self._grouped.values():
            self.problems.append(dataclasses.replace(first, also_rows=tuple(rows)))

    def map_header(self) -> dict[str, int]:
        mapping: dict[str, int] = {}
        seen_clean: dict[str, int] = {}
        for index, raw in enumerate(self.table.header):
            cleaned = clean(raw)
            if cleaned and cleaned != raw.strip(" "):
                # full-width forms, U+3000, BOM or zero-width characters: cleaned, and said so
                self.problems.append(
                    Problem(
                        self.file,
                        1,
                        cleaned,
                        raw,
                        "header-cleaned",
                        {"cleaned": cleaned},
                        Severity.WARNING,
                    )
                )
            self.display[index] = cleaned or raw
            raw = self.display[index]
            if not cleaned:
                if any(
                    index < len(cells) and cells[index].text.strip() for _, cells in self.table.rows
                ):
                    self.error(1, None, raw, "header-blank", index=index + 1)
                continue
            if cleaned in seen_clean:
                self.error(1, raw, raw, "duplicate-column", index=seen_clean[cleaned] + 1)
                continue
            seen_clean[cleaned] = index
            column = ALIAS_TO_COLUMN.get(header_key(cleaned))
            if column is None:
                self.problems.append(
                    Problem(
                        self.file,
                        1,
                        raw,
                        raw,
                        "unknown-column",
                        {"columns": ", ".join(COLUMNS[:11])},
                        Severity.WARNING,
                    )
                )
                continue
            if column in mapping:
                first = self.display[mapping[column]]
                self.error(1, raw, raw, "duplicate-alias", header=raw, other=first, meaning=column)
                continue
            mapping[column] = index
        for column in REQUIRED:
            if column not in mapping:
                self.error(
                    1,
                    column,
                    None,
                    "missing-column",
                    aliases=" / ".join(HEADER_ALIASES[column][:4]),
                )
        return mapping

    def read(self) -> dict[str, str]:
        if not self.table.header and not self.table.rows:
            if not self.problems:
                self.error(
                    None,
                    None,
                    None,
                    "empty",
                    expected_zh="標題列與填答",
                    expected_en="a header row and answers",
                )
            return {}
        mapping = self.map_header()
        columns = {c: self.display[i] for c, i in mapping.items()}
        if any(column not in mapping for column in REQUIRED):
            self._other_sheets_lack()
            if self._hint_header_row():  # the real header is lower down: say only that
                self.problems = [
                    p
                    for p in self.problems
                    if p.code not in {"missing-column", "unknown-column", "header-cleaned"}
                ]
            return columns  # rows cannot be read without their required columns
        width = len(self.table.header)
        required_at = max(mapping[c] for c in REQUIRED)
        for number, cells in self.table.rows:
            if len(cells) > width and any(c.text.strip() for c in cells[width:]):
                self.error(number, None, None, "fields", found=len(cells), width=width)
                continue
            if len(cells) < width and self.table.encoding not in {"xlsx", "ods", "xls"}:
                if len(cells) <= required_at:  # a required value is not there at all
                    self.error(number, None, None, "short-row", found=len(cells), width=width)
                    continue
                self.warn_grouped(
                    number, "", f"{len(cells)}/{width}", "short-row", found=len(cells), width=width
                )
            self.read_row(number, cells, mapping, columns)
        self._flush_grouped()
        self.problems += self.answers.problems(columns.get("answer", "answer"))
        return columns

    def _other_sheets_lack(self) -> None:
        """When no sheet of a workbook has the answer columns, say what each other sheet lacks
        (the one read gets its own missing-column errors)."""
        for sheet, header in self.table.sheet_headers.items():
            if sheet == self.table.sheet:
                continue
            missing = _missing_columns(header)
            self.error(
                None,
                None,
                sheet,
                "sheet-lacks-columns",
                sheet=sheet,
                missing="、".join(
                    next(a for a in HEADER_ALIASES[c] if not a.isascii()) for c in missing
                ),
                missing_en=", ".join(missing),
            )

    def _hint_header_row(self) -> bool:
        """When the header is not on row 1 (a title row above it), say where it seems to be."""
        for number, cells in self.table.rows[:6]:
            keys = {ALIAS_TO_COLUMN.get(header_key(clean(c.text))) for c in cells}
            if sum(1 for c in REQUIRED if c in keys) >= 3:
                self.problems.append(
                    Problem(self.file, number, None, None, "header-row", {"row": number})
                )
                return True
        return False

    def cell(self, cells: list[Any], mapping: dict[str, int], column: str) -> Any:
        index = mapping.get(column)
        if index is None or index >= len(cells):
            return None
        return cells[index]

    def read_row(
        self, number: int, cells: list[Any], mapping: dict[str, int], columns: dict[str, str]
    ) -> None:
        values: dict[str, str] = {}
        ok = True
        for column in (
            "round",
            "agency_id",
            "respondent",
            "item_id",
            "service",
            "answered_at",
            "framework_version",
        ):
            cell = self.cell(cells, mapping, column)
            raw = cell.text if cell is not None else ""
            header = columns.get(column, column)
            if (
                cell is not None
                and cell.converted_from == "number"
                and column in ("agency_id", "item_id", "respondent")
            ):
                self.warn_grouped(number, header, raw, "excel-number")
            if (
                cell is not None
                and cell.converted_from == "number"
                and column == "round"
                and not _PLAIN_ROUND.fullmatch(raw)
            ):
                # 2026.10 stored as a number reads 2026.1: one round would split in two.
                self.error(number, header, raw, "excel-number-round")
                ok = False
            if (
                cell is not None
                and cell.converted_from in {"date", "boolean"}
                and column != "answered_at"
            ):
                self.warn_grouped(number, header, raw, "excel-converted", kind=cell.converted_from)
            if cell is not None and cell.converted_from == "formula":
                self.error(number, header, None, "excel-formula")
                ok = False
                values[column] = ""
                continue
            if CONTROL.search(raw):
                self.error(number, header, raw, "control-char")
                ok = False
                values[column] = raw
                continue
            if column == "agency_id" and _SCIENTIFIC.fullmatch(raw.strip()):
                self.warn_grouped(number, header, raw, "scientific-id")
            value = clean(raw)
            if value != raw and raw.strip() != value:
                self.warn_grouped(number, header, raw, "cleaned", cleaned=value)
            if column == "respondent" and value != AGREED_RESPONDENT and is_reserved_name(value):
                self.error(number, header, raw, "reserved-lookalike", name=AGREED_RESPONDENT)
                ok = False
            if not value and column in REQUIRED and cell is not None and cell.merged:
                ok = False  # the merged range is named once (merged-cells), not every blank
            elif not value and column in REQUIRED:
                self.blank(number, header, raw, column)
                ok = False
            values[column] = value
        self.row_keys[number] = (values.get("round", ""), values.get("agency_id", ""))

        name_cell = self.cell(cells, mapping, "agency_name")
        raw_name = name_cell.text if name_cell is not None else ""
        if name_cell is not None and name_cell.converted_from == "formula":
            self.error(number, columns.get("agency_name", "agency_name"), None, "excel-formula")
            ok = False
        elif CONTROL.search(raw_name):
            self.error(number, columns.get("agency_name", "agency_name"), raw_name, "control-char")
            ok = False
        name = clean_name(raw_name)
        if name != raw_name.strip():
            self.warn_grouped(
                number, columns.get("agency_name", "agency_name"), raw_name, "cleaned", cleaned=name
            )
        if not name and name_cell is not None and name_cell.merged:
            ok = False  # named once as merged-cells
        elif not name and not (name_cell is not None and name_cell.converted_from == "formula"):
            self.blank(number, columns.get("agency_name", "agency_name"), raw_name, "agency_name")
            ok = False
        values["agency_name"] = name

        note_cell = self.cell(cells, mapping, "note")
        values["note"] = note_cell.text if note_cell is not None else ""
        if note_cell is not None and note_cell.converted_from == "formula":
            # Not blank: the note is there but was never computed (and 不適用 would
            # then be said to have no reason).
            self.error(number, columns.get("note", "note"), None, "excel-formula")
            ok = False

        item = None
        if values["item_id"]:
            item = self.fw.find_item(values["item_id"])
            header = columns.get("item_id", "item_id")
            if item is None:
                self.error(
                    number,
                    header,
                    self.cell(cells, mapping, "item_id").text,
                    "unknown-item",
                    framework=self.fw.id,
                    version=self.fw.version,
                    examples=_suggest_item(self.fw, values["item_id"]),
                )
                ok = False
            elif item.id != values["item_id"]:
                self.warn_grouped(number, header, values["item_id"], "item-case", item=item.id)

        instrument = None
        inst_cell = self.cell(cells, mapping, "instrument")
        if inst_cell is not None and clean(inst_cell.text):
            instrument = _match_instrument(self.fw, inst_cell.text)
            header = columns["instrument"]
            if instrument is None:
                self.error(
                    number,
                    header,
                    inst_cell.text,
                    "unknown-instrument",
                    instruments=", ".join(f"{i.id}（{i.title_zh}）" for i in self.fw.instruments),
                )
                ok = False
            elif item is not None and item.instrument != instrument:
                self.error(
                    number,
                    header,
                    inst_cell.text,
                    "instrument-mismatch",
                    item=item.id,
                    instrument=item.instrument,
                )
                ok = False
        elif item is not None:
            instrument = item.instrument

        answer: str | None = None
        answer_cell = self.cell(cells, mapping, "answer")
        raw_answer = answer_cell.text if answer_cell is not None else ""
        if answer_cell is not None and answer_cell.converted_from == "formula":
            self.error(number, columns["answer"], None, "excel-formula")
            ok = False
        elif raw_answer and not clean(raw_answer):
            # only spaces: read as unanswered, and said so
            self.warn_grouped(number, columns["answer"], raw_answer, "blank-answer")
        if item is not None and clean(raw_answer):
            scale = self.fw.scale(item.instrument)
            matched = scale.match(raw_answer)
            if matched is None:
                self.error(
                    number,
                    columns["answer"],
                    raw_answer,
                    "yes-no-answer"
                    if parse_flag(raw_answer) is not None and _ends(scale)
                    else "unknown-answer",
                    choices_zh=scale.expected("zh-TW"),
                    choices_en=scale.expected("en"),
                    **_ends(scale),
                )
                ok = False
            else:
                self.answers.note(number, values["respondent"], raw_answer, scale, matched)
            if isinstance(matched, ScaleOption):
                answer = matched.code
                note_is_formula = note_cell is not None and note_cell.converted_from == "formula"
                if lacks_reason(matched, values["note"]) and not note_is_formula:
                    self.warn_grouped(number, columns.get("note", "note"), "", "na-without-reason")
            elif matched is not None:
                answer = (
                    repr(float(matched)) if not float(matched).is_integer() else str(int(matched))
                )

        if not ok:
            return
        out = self.out
        out["round"].append(values["round"])
        out["agency_id"].append(values["agency_id"])
        out["agency_name"].append(values["agency_name"])
        out["service"].append(values["service"])
        out["instrument"].append(instrument)
        out["respondent"].append(values["respondent"])
        out["item_id"].append(item.id if item else values["item_id"])
        out["answer"].append(answer)
        out["note"].append(values["note"])
        out["answered_at"].append(values["answered_at"])
        out["framework_version"].append(values["framework_version"] or self.fw.version)
        out["source_file"].append(self.file)
        out["source_row"].append(number)


def _ends(scale: Any) -> dict[str, str]:
    """The top and bottom options of an ordinal scale, for messages (codes and labels)."""
    valued = sorted((o for o in scale.options if o.value is not None), key=lambda o: o.value)
    if scale.kind != "ordinal" or not valued:
        return {}
    top, bottom = valued[-1], valued[0]
    return {
        "top_code": top.code,
        "top_zh": top.label_zh,
        "top_en": top.label_en,
        "top_value": f"{top.value:g}",
        "bottom_code": bottom.code,
        "bottom_zh": bottom.label_zh,
        "bottom_en": bottom.label_en,
        "bottom_value": f"{bottom.value:g}",
    }


class _AnswerSpellings:
    """How the answers of one file were written, reported once per file and kind.

    Every clean-up :meth:`guidekit.framework.Scale.tidying` names (full-width
    forms, spaces, invisible characters, case, aliases such as ``Yes`` or
    ``部份規劃``) becomes one warning per kind, with each spelling, what it was
    read as and how often; and a respondent who answered a 2/1/0 scale only with
    the numbers 1 and 0 (no 2 anywhere in the file: a yes/no sheet coded 1/0?) is
    named, because 1 means the middle option there, not the top one.  Nothing is
    re-mapped: the answers are read as the scale says.
    """

    def __init__(self, file: str) -> None:
        self.file = file
        # kind -> {(raw, code): [rows]}
        self.tidied: dict[str, dict[tuple[str, str], list[int]]] = collections.defaultdict(dict)
        # (respondent, scale id) -> {"numbers": {text: [rows]}, "words": n}
        self.written: dict[tuple[str, str], dict[str, Any]] = {}
        self.scales: dict[str, Any] = {}
        self.top_as_number: set[str] = set()

    def note(self, row: int, respondent: str, raw: str, scale: Any, matched: Any) -> None:
        """Record one answer as written (``matched``: what :meth:`Scale.match` read it as)."""
        code = matched.code if isinstance(matched, ScaleOption) else clean(raw)
        for kind in scale.tidying(raw):
            self.tidied[kind].setdefault((raw, code), []).append(row)
        if not isinstance(matched, ScaleOption) or matched.value is None:
            return  # 不適用 and numbers on a continuous scale say nothing about 1/0 codes
        self.scales[scale.id] = scale
        seen = self.written.setdefault((respondent, scale.id), {"numbers": {}, "words": 0})
        text = clean(raw)
        if text == f"{matched.value:g}":
            seen["numbers"].setdefault(text, []).append(row)
            if matched.value == scale.high:
                self.top_as_number.add(scale.id)
        else:
            seen["words"] += 1

    def problems(self, column: str) -> list[Problem]:
        out: list[Problem] = []
        for kind in TIDY_KINDS:
            spellings = self.tidied.get(kind)
            if not spellings:
                continue
            rows = sorted(r for found in spellings.values() for r in found)
            shown = list(spellings.items())[:5]
            more = "…" if len(spellings) > 5 else ""
            examples_zh = "、".join(f"{raw!r} → {code}（{len(r)} 格）" for (raw, code), r in shown)
            examples_en = ", ".join(f"{raw!r} → {code} ({len(r)})" for (raw, code), r in shown)
            examples = {"examples_zh": examples_zh + more, "examples_en": examples_en + more}
            out.append(
                Problem.about_rows(
                    self.file, rows, column, f"answer-{kind}", examples, Severity.WARNING
                )
            )
        out += self._binary(column)
        return out

    def _binary(self, column: str) -> list[Problem]:
        """Respondents whose answers are only 1 and 0 on a scale that goes up to 2 (or more)."""
        out: list[Problem] = []
        for scale_id, scale in sorted(self.scales.items()):
            if scale_id in self.top_as_number or scale.high <= 1 or scale.low != 0:
                continue
            who: list[str] = []
            rows: list[int] = []
            for (respondent, sid), seen in self.written.items():
                numbers = seen["numbers"]
                if sid == scale_id and not seen["words"] and "1" in numbers:
                    if set(numbers) <= {"0", "1"}:
                        who.append(respondent)
                        rows += [r for found in numbers.values() for r in found]
            if not who:
                continue
            one, zero = scale.match("1"), scale.match("0")
            if not (isinstance(one, ScaleOption) and isinstance(zero, ScaleOption)):
                continue
            rows.sort()
            out.append(
                Problem.about_rows(  # named once, at the first row; n says how many
                    self.file,
                    rows[:1],
                    column,
                    "binary-codes",
                    {
                        "respondents": "、".join(who),
                        "respondents_en": ", ".join(who),
                        "n": len(rows),
                        "one_code": one.code,
                        "one_zh": one.label_zh,
                        "one_en": one.label_en,
                        "zero_code": zero.code,
                        "zero_zh": zero.label_zh,
                        "zero_en": zero.label_en,
                        **_ends(scale),
                    },
                    Severity.WARNING,
                )
            )
        return out


#: Control characters (but tab, line feed, carriage return) and bidirectional overrides:
#: never meaningful in a code or a name, and able to forge what a terminal or page shows.
#: An agency code Excel turned into scientific notation (1.23E+09): the code is already lost.
_SCIENTIFIC = re.compile(r"[0-9](?:\.[0-9]+)?[eE][+]?[0-9]+")


def _match_instrument(fw: Framework, raw: str) -> str | None:
    key = clean_key(raw)
    for inst in fw.instruments:
        names = {inst.id, inst.annex, inst.title_zh, inst.title_en}
        if key in {clean_key(n) for n in names if n}:
            return inst.id
    return None


def _suggest_item(fw: Framework, raw: str) -> str:
    """Item ids close to ``raw`` (or the first ids of the bank), for the error message."""
    import difflib

    ids = [i.id for bank in fw.items.values() for i in bank]
    close = difflib.get_close_matches(raw.upper(), ids, n=3, cutoff=0.6)
    return " / ".join(close or ids[:2])


def _describe(paths: Any) -> str:
    if isinstance(paths, str | Path):
        return str(paths)
    return ", ".join(str(p) for p in paths) or "(none)"


def _check_values(frame: pd.DataFrame, fw: Framework) -> list[Problem]:
    """Values that need the framework or every row: dates, bank versions, look-alike codes."""
    problems: list[Problem] = []
    if frame.empty:
        return problems
    known = {fw.version, *_history_versions(fw)}
    for version, group in frame.groupby("framework_version", sort=True):
        if version not in known:
            row = group.iloc[0]
            problems.append(
                Problem(
                    row.source_file,
                    int(row.source_row),
                    "framework_version",
                    version,
                    "unknown-version",
                    {"known": ", ".join(sorted(known))},
                    Severity.WARNING,
                    tuple(group["source_row"].iloc[1:6]),
                )
            )
    dated = frame[frame["answered_at"].fillna("") != ""]
    valid = [_is_iso_datetime(v) for v in dated["answered_at"]]
    bad = dated[[not ok for ok in valid]]
    for value, group in bad.groupby("answered_at", sort=True) if len(bad) else []:
        row = group.iloc[0]
        problems.append(
            Problem(
                row.source_file,
                int(row.source_row),
                "answered_at",
                value,
                "bad-date",
                {},
                Severity.WARNING,
                tuple(int(r) for r in group["source_row"].iloc[1:6]),
            )
        )
    ids = frame.drop_duplicates("agency_id")
    folded: dict[str, list[Any]] = {}
    for row in ids.itertuples():
        folded.setdefault(str(row.agency_id).casefold(), []).append(row)
    for rows in folded.values():
        if len(rows) > 1:
            problems.append(
                Problem(
                    rows[0].source_file,
                    int(rows[0].source_row),
                    "agency_id",
                    rows[0].agency_id,
                    "agency-id-case",
                    {"ids": ", ".join(r.agency_id for r in rows)},
                    Severity.WARNING,
                )
            )
    return problems


def _settled_warnings(kept: pd.DataFrame, aside: pd.DataFrame) -> list[Problem]:
    """One warning per file whose agreed answers set individual answers aside."""
    if aside.empty:
        return []
    key = list(ITEM_KEY)
    team = kept[(kept["respondent"] == AGREED_RESPONDENT) & kept["answer"].fillna("").ne("")]
    settling = team.merge(aside[key].drop_duplicates(), on=key, how="inner")
    problems = []
    for file, group in settling.groupby("source_file", sort=True):
        first = group.iloc[0]
        mine = aside.merge(group[key], on=key, how="inner")
        where = ", ".join(f"{r.source_file}:{r.source_row}" for r in mine.head(3).itertuples())
        problems.append(
            Problem(
                str(file),
                int(first.source_row),
                "respondent",
                AGREED_RESPONDENT,
                "agreed-settles",
                {"n": len(mine), "where": where + ("…" if len(mine) > 3 else "")},
                Severity.WARNING,
                tuple(int(r) for r in group["source_row"].iloc[1:6]),
            )
        )
    return problems


def _history_versions(fw: Framework) -> set[str]:
    """Question-bank versions the framework's history knows (data/frameworks/*/changes.yaml)."""

    try:
        revisions = load_history(fw)
    except GuidekitError:
        return set()
    return {v for r in revisions for v in (r.version, r.previous)}


def _is_iso_datetime(value: str) -> bool:
    import datetime as dt

    try:
        dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def _check_across(frame: pd.DataFrame, headers: dict[str, dict[str, str]]) -> list[Problem]:
    """Checks that need every row: duplicates, agency names per code.

    ``headers`` maps each file to its canonical column → header as written, so
    problems name the column the way the user wrote it.
    """
    problems: list[Problem] = []
    if frame.empty:
        return problems

    def header(file: str, column: str) -> str:
        return headers.get(file, {}).get(column, column)

    key = ["round", "agency_id", "service", "respondent", "item_id"]
    dup = frame[frame.duplicated(key, keep=False)]
    for _, group in dup.groupby(key, sort=False):
        first = group.iloc[0]
        for row in group.iloc[1:].itertuples():
            where = ", ".join(
                f"{r.source_file}:{r.source_row}"
                for r in group.itertuples()
                if r.Index != row.Index
            )
            problems.append(
                Problem(
                    row.source_file,
                    int(row.source_row),
                    header(row.source_file, "item_id"),
                    row.item_id,
                    "duplicate-answer",
                    {"respondent": first.respondent, "where": where},
                )
            )

    for (rnd, agency_id), group in frame.groupby(["round", "agency_id"], sort=True):
        names = collections.Counter(group["agency_name"])
        if len(names) > 1:
            rows = {
                n: ", ".join(
                    f"{r.source_file}:{r.source_row}"
                    for r in group[group["agency_name"] == n].head(3).itertuples()
                )
                for n in names
            }
            main_name, *others = names
            for name in others:
                first = group[group["agency_name"] == name].iloc[0]
                problems.append(
                    Problem(
                        first.source_file,
                        int(first.source_row),
                        header(first.source_file, "agency_name"),
                        name,
                        "agency-name-conflict",
                        {
                            "agency_id": agency_id,
                            "round": rnd,
                            "n": len(names),
                            "other": main_name,
                            "where": rows[main_name],
                        },
                    )
                )

    problems += service_lookalikes(frame, header)

    names = frame.drop_duplicates(["agency_id", "agency_name"])
    by_key: dict[str, list[Any]] = collections.defaultdict(list)
    for row in names.itertuples():
        by_key[name_key(row.agency_name)].append(row)
    for rows in by_key.values():
        ids = sorted({r.agency_id for r in rows})
        if len(ids) > 1:
            row = rows[0]
            problems.append(
                Problem(
                    row.source_file,
                    int(row.source_row),
                    header(row.source_file, "agency_id"),
                    row.agency_id,
                    "agency-name-lookalike",
                    {"agencies": ", ".join(f"{r.agency_id}（{r.agency_name}）" for r in rows)},
                    severity=Severity.WARNING,
                )
            )
    return problems


def validate_through_lens(report: ValidationReport, fw: Framework) -> ValidationReport:
    """Turn a validation of answers against the lens's *source* into one for the lens.

    Answers are checked against the source question bank (their real form).
    Rows of items the lens does not count stay out of the lens's canonical
    table, each such item reported once as a warning (``lens-not-counted``)
    naming the crosswalk's reason; nothing else changes (same item ids,
    answers, respondents and framework_version).
    """
    if report.responses is None:
        return report
    crosswalk = fw.lens.crosswalk
    excluded = crosswalk[crosswalk["principle_id"].isna()].set_index("item_id")
    frame = report.responses.frame
    dropped = frame["item_id"].isin(excluded.index)
    problems = list(report.problems)
    for item_id, rows in frame[dropped].groupby("item_id", sort=True):
        first = rows.iloc[0]
        problems.append(
            Problem(
                str(first["source_file"]),
                int(first["source_row"]),
                "item_id",
                str(item_id),
                "lens-not-counted",
                {
                    "lens": fw.id,
                    "n": len(rows),
                    "note_zh": excluded.at[item_id, "note_zh"] or "",
                    "note_en": excluded.at[item_id, "note_en"] or "",
                },
                Severity.WARNING,
            )
        )
    kept = frame[~dropped].reset_index(drop=True)
    responses = dataclasses.replace(
        report.responses,
        frame=kept,
        framework=fw,
        problems=[p for p in problems if not p.is_error],
    )
    return ValidationReport(problems, report.sources, responses)
