"""Batch reports: run the report notebook per agency and export each to HTML.

Steps, each kept apart so a later version can rerun one agency or swap the
executor (see ``reference/batch-performance-notes.md``):

1. **read + score** the round once in this process (:func:`guidekit.report.load_round`)
   and write it to a cache file every notebook reads (no notebook re-reads or
   re-scores the answers);
2. **execute** ``notebooks/report.ipynb`` per agency with papermill (parameters
   passed as plain JSON values through the Python API, never ``-p`` strings),
   in ``workers`` processes, a fresh kernel per report;
3. **export** each executed notebook with nbconvert's ``guidekit_report``
   template to one self-contained HTML file, written atomically;
4. **collect**: ``index.html``, ``summary.csv`` and ``manifest.json``.

A failing agency does not stop the batch: its error (cell, exception name and
value) goes to the manifest and the index, and its executed notebook is kept
in ``_notebooks/`` as the log.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import datetime as dt
import hashlib
import json
import math
import multiprocessing
import os
import re
import tempfile
import time
import traceback
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__, i18n
from .files import excel_safe, write_atomic
from .html import render, stylesheet
from .paths import notebooks_dir
from .problems import GuidekitError, ResponsesError
from .report import RoundData, load_round
from .responses import AgencySplit, Responses
from .tabular import UNREAD_CODES

#: Seconds a single notebook cell may run before the agency is marked failed.
DEFAULT_TIMEOUT = 600

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
#: What hashed file names end with: a plain id ending like this is hashed too.
_HASHED = re.compile(r"-[0-9a-f]{10,}$")
_WINDOWS_RESERVED = (
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)
#: Stems of the batch's own files: an agency coded "index" must not overwrite index.html.
_OWN_STEMS = {"index"}

SUMMARY_COLUMNS = [
    "round",
    "agency_id",
    "agency_name",
    "service",
    "instrument",
    "n_respondents",
    "score",
    "band",
    "band_label",
    "coverage",
    "low_coverage",
    "quartile",
    "position",
    "n_major_not_met",
    "n_disagreements",
    "framework_version",
    "report",
    "status",
]


@dataclasses.dataclass
class AgencyResult:
    """Outcome of one agency's report.

    ``status`` is ``"ok"`` or ``"failed"``; ``duration_s`` in seconds;
    ``error`` a readable message, ``ename`` / ``evalue`` / ``cell`` from the
    kernel when a notebook cell failed (``cell`` indexes the executed notebook,
    which has papermill's injected-parameters cell); ``warnings`` what the
    notebook wrote to stderr.
    """

    agency_id: str
    agency_name: str
    file: str
    status: str = "ok"
    duration_s: float = 0.0
    error: str | None = None
    ename: str | None = None
    evalue: str | None = None
    cell: int | None = None
    notebook: str | None = None
    warnings: list[str] = dataclasses.field(default_factory=list)
    reused: bool = False


@dataclasses.dataclass
class BatchResult:
    """What :func:`run_reports` did: one :class:`AgencyResult` per agency, and the output paths."""

    out: Path
    round: str
    results: list[AgencyResult]
    index: Path
    summary: Path
    manifest: Path
    duration_s: float
    removed: list[str] = dataclasses.field(default_factory=list)
    #: Things the user should know, as (zh-TW, English) pairs.
    notes: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    #: With ``skip_invalid``: errors that name no agency (their answers are in no report).
    unread: list[str] = dataclasses.field(default_factory=list)

    @property
    def failed(self) -> list[AgencyResult]:
        return [r for r in self.results if r.status != "ok"]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unread


def report_filenames(agency_ids: Iterable[str]) -> dict[str, str]:
    """A safe, unique HTML file name per agency id.

    An id of ASCII letters, digits, ``-`` and ``_`` (at most 64, not a Windows
    device name, not ending like a hashed name) is used as it is, unless another
    id equals it ignoring case (Windows and macOS file systems ignore case) or
    it is ``index`` (the batch's own ``index.html``);
    every other id becomes an ASCII slug plus a hash of the exact id.  The raw
    agency *name* is never used.  Injective: two different ids never share a
    file — checked, with longer hashes if ever needed.
    """
    ids = list(dict.fromkeys(agency_ids))
    folded: dict[str, int] = {}
    for agency_id in ids:
        folded[agency_id.casefold()] = folded.get(agency_id.casefold(), 0) + 1

    def plain(agency_id: str) -> bool:
        return (
            bool(_SAFE_ID.match(agency_id))
            and agency_id.casefold() not in _WINDOWS_RESERVED | _OWN_STEMS
            and folded[agency_id.casefold()] == 1
            and not _HASHED.search(agency_id)
        )

    for length in (10, 16, 32, 64):
        stems = {}
        for agency_id in ids:
            if plain(agency_id):
                stems[agency_id] = agency_id
                continue
            ascii_part = unicodedata.normalize("NFKD", agency_id).encode("ascii", "ignore").decode()
            slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_part).strip("-")[:40] or "agency"
            digest = hashlib.sha256(agency_id.encode("utf-8")).hexdigest()[:length]
            stems[agency_id] = f"{slug}-{digest}"
        if len({stem.casefold() for stem in stems.values()}) == len(stems):
            return {agency_id: f"{stem}.html" for agency_id, stem in stems.items()}
    raise GuidekitError("could not give every agency its own report file name")  # pragma: no cover


def _json_value(value: Any) -> Any:
    """Plain JSON value for papermill: no numpy scalars, NaN → None, paths → str."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if hasattr(value, "item"):
        return _json_value(value.item())
    return value


def _write_atomic(path: Path, text: str, encoding: str = "utf-8") -> None:
    write_atomic(path, text, encoding)


# -- one agency (runs in a worker process) ------------------------------------------


def _warm_up() -> None:
    """Import papermill and build the exporter once per worker process."""
    import papermill  # noqa: F401

    from .report.export import exporter

    exporter()


def run_one(task: dict[str, Any]) -> AgencyResult:
    """Execute and export one agency's report (a plain-dict task, picklable).

    Keys: ``agency_id, agency_name, notebook, parameters, html, log, lang,
    title, timeout, keep_notebook, cwd``.  Never raises: failures become an
    ``AgencyResult`` with ``status="failed"``.  A failure outside the notebook's
    cells (a kernel that does not start or dies) is retried once with a fresh
    kernel; a failing cell is not.  The executed notebook is kept as the log when
    a cell failed; after a timeout or a dead kernel there is no notebook to keep.
    """
    from . import kernels

    started = time.perf_counter()
    log = Path(task["log"])
    log.parent.mkdir(parents=True, exist_ok=True)
    kernels.kernel_log = str(log.parent / "kernels.log")
    result = _attempt(task, log)
    if result.status != "ok" and result.cell is None:
        # not a cell's own error (that would fail again): the kernel did not start,
        # died or lost messages; one more try with a fresh kernel
        retry = _attempt(task, log)
        retry.warnings = [f"retried after: {result.error}", *retry.warnings]
        result = retry
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def _attempt(task: dict[str, Any], log: Path) -> AgencyResult:
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from .kernels import LocalKernelManager
    from .report.export import notebook_to_html

    result = AgencyResult(task["agency_id"], task["agency_name"], Path(task["html"]).name)
    try:
        nb = pm.execute_notebook(
            task["notebook"],
            str(log),
            parameters=task["parameters"],
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            execution_timeout=task["timeout"],
            cwd=task.get("cwd"),
            kernel_manager_class=LocalKernelManager,
        )
        result.warnings = _stderr(nb)
        html = notebook_to_html(nbformat.from_dict(nb), lang=task["lang"], title=task["title"])
        _write_atomic(Path(task["html"]), html)
        if not task["keep_notebook"]:
            log.unlink(missing_ok=True)
        else:
            result.notebook = str(log)
    except PapermillExecutionError as exc:
        result.status = "failed"
        result.ename, result.evalue, result.cell = exc.ename, exc.evalue, exc.cell_index
        result.error = f"{exc.ename}: {exc.evalue} (cell {exc.cell_index})"
        result.notebook = str(log) if log.exists() else None
    except Exception as exc:  # kernel died, timeout, export error: record, never stop the batch
        result.status = "failed"
        result.ename, result.evalue = type(exc).__name__, str(exc)
        result.error = f"{type(exc).__name__}: {exc}"
        result.warnings.append(traceback.format_exc(limit=5))
        result.notebook = str(log) if log.exists() else None
    return result


def _stderr(nb: Any) -> list[str]:
    out = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                out.append(str(output.get("text", "")).strip())
    return [w for w in out if w]


# -- the batch ------------------------------------------------------------------------


def run_reports(
    responses: str | Path | Sequence[str | Path] | None = None,
    out: str | Path | None = None,
    agencies: Sequence[str] | None = None,
    workers: int | None = None,
    lang: str = "zh-TW",
    framework: str | Path | None = None,
    round: str | None = None,
    timeout: int = DEFAULT_TIMEOUT,
    keep_notebooks: bool = False,
    progress: bool | None = None,
    today: dt.date | None = None,
    notebook: str | Path | None = None,
    skip_invalid: bool = False,
) -> BatchResult:
    """Write one HTML report per agency of a round, plus ``index.html``,
    ``summary.csv`` and ``manifest.json``.

    Parameters
    ----------
    responses : path(s), optional
        Answer files or folders; default the bundled example (latest round).
    out : path, optional
        Output folder (created); default ``reports/example`` for zh-TW and
        ``reports/example-en`` for English, so the two never overwrite each other.
        Reports of an earlier run in the folder are kept when they belong to the
        same round, language, framework version and answers (a rerun of a few
        agencies keeps the others in the index), and removed otherwise.
    agencies : sequence of str, optional
        Agency codes to report on; default every agency of the round.  A code
        without answers is recorded as failed, not skipped silently.
    workers : int, optional
        Worker processes; default ``min(2, CPU count)``.
    lang : {"zh-TW", "en"}
    framework : path, optional
    round : str, optional
        Default: the latest round in the answers.
    timeout : int
        Seconds a notebook cell may run.
    keep_notebooks : bool
        Keep every executed notebook in ``out/_notebooks`` (a notebook whose cell
        failed is always kept; a timed-out or dead kernel leaves none).
    progress : bool, optional
        Show a progress bar; default: only on a terminal.
    today : date, optional
        The date printed in the reports (default today).
    notebook : path, optional
        The report notebook; default ``notebooks/report.ipynb``.
    skip_invalid : bool
        Errors in the answers do not stop the batch: every agency with an error
        is listed as failed with its errors (index, summary, manifest), the
        others get their reports, and errors that name no agency (an unreadable
        file) are listed as unread (:func:`guidekit.responses.split_by_agency`).
        Default False: any error stops the batch before anything is written.

    Returns
    -------
    BatchResult

    Raises
    ------
    ResponsesError
        If the answers are invalid (nothing is written); with ``skip_invalid``,
        only when no agency is left.
    GuidekitError
        If the round is missing or ``lang`` is unsupported.
    """
    started = time.perf_counter()
    lang = i18n.normalise_lang(lang)
    today = today or i18n.today()
    source: Any = responses
    split = None
    if skip_invalid and not isinstance(responses, Responses):
        split = _valid_part(responses, framework)
        source = split.responses
    data = load_round(source, framework, round)
    # absolute: papermill changes the working directory while a notebook runs
    out = Path(out if out is not None else default_out(lang, responses)).resolve()
    if out.exists() and not out.is_dir():
        raise GuidekitError(
            f"--out {out} is a file, not a folder", zh=f"--out {out} 是檔案，不是資料夾"
        )
    _check_out(out, data.responses)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GuidekitError(
            f"cannot create the output folder {out}: {exc.strerror}",
            zh=f"無法建立輸出資料夾 {out}：{exc.strerror}",
        ) from None
    names = (
        data.scores.overall.drop_duplicates("agency_id")
        .set_index("agency_id")["agency_name"]
        .to_dict()
    )
    invalid = {
        a: problems
        for (r, a), problems in (split.failed if split else {}).items()
        if r in (data.round, "") and a not in names
    }
    every = sorted([*names, *invalid], key=_natural)
    wanted = list(dict.fromkeys(agencies)) if agencies else every
    # names over every agency of the round, so a partial run names files as a full one
    files = report_filenames([*every, *wanted])
    key = _run_key(data, lang)
    carried, removed = _previous_results(out, key, set(wanted))
    notebook_path = Path(notebook) if notebook else notebooks_dir() / "report.ipynb"
    if not notebook_path.is_file():
        raise GuidekitError(
            f"report notebook not found: {notebook_path}", zh=f"找不到報告筆記本：{notebook_path}"
        )

    fw_names = data.scores.framework.names(lang)
    with tempfile.TemporaryDirectory(prefix="guidekit-") as tmp:
        cache = data.save(Path(tmp) / "round.pkl")
        tasks, results = [], []
        for agency_id in wanted:
            if agency_id in invalid:
                problems = invalid[agency_id]
                results.append(
                    AgencyResult(
                        agency_id,
                        split.names.get((data.round, agency_id), "") if split else "",
                        files[agency_id],
                        status="failed",
                        error="\n".join(
                            [
                                i18n.t("report.invalid_answers", lang, n=len(problems)),
                                *(p.format(lang) for p in problems[:20]),
                                *(["…"] if len(problems) > 20 else []),
                            ]
                        ),
                    )
                )
                continue
            if agency_id not in names:
                results.append(
                    AgencyResult(
                        agency_id,
                        "",
                        files[agency_id],
                        status="failed",
                        error=i18n.t(
                            "report.not_found", lang, agency_id=agency_id, round=data.round
                        ),
                    )
                )
                continue
            title = i18n.t("report.title", lang, **fw_names, agency=names[agency_id])
            tasks.append(
                {
                    "agency_id": agency_id,
                    "agency_name": names[agency_id],
                    "notebook": str(notebook_path),
                    "parameters": {
                        k: _json_value(v)
                        for k, v in {
                            "agency_id": agency_id,
                            "round_id": data.round,
                            "lang": lang,
                            "cache": str(cache),
                            "today": today.isoformat(),
                        }.items()
                    },
                    "html": str(out / files[agency_id]),
                    "log": str(out / "_notebooks" / Path(files[agency_id]).with_suffix(".ipynb")),
                    "lang": lang,
                    "title": title,
                    "timeout": timeout,
                    "keep_notebook": keep_notebooks,
                    "cwd": str(notebook_path.parent),
                }
            )
        executed = _execute(tasks, workers, progress)
        results += executed

    _tidy_logs(out / "_notebooks", executed)  # the kernels' log tells of notebooks run
    results += carried
    everyone = [*every, *wanted]
    order = {a: n for n, a in reversed(list(enumerate(everyone)))}
    results.sort(key=lambda r: order.get(r.agency_id, len(order)))
    duration = round_s(time.perf_counter() - started)
    summary = _write_summary(out, data, results, lang)
    unread = [p.format(lang) for p in split.unplaced] if split else []
    manifest = _write_manifest(out, data, results, lang, duration, today, key, unread)
    index = _write_index(out, data, results, lang, today, unread)
    notes = []
    skipped = [p.format(lang) for p in data.responses.problems if p.code in UNREAD_CODES]
    if skipped:  # hidden rows, sheets, columns: what the scores leave out
        notes.append(
            (
                "填答檔中下列部分未讀取，不計分：\n  " + "\n  ".join(skipped),
                "these parts of the answer files were not read and are not scored:\n  "
                + "\n  ".join(skipped),
            )
        )
    if unread:
        notes.append(
            (
                "下列問題無法對應到機關，相關的答案未納入任何報告：\n  " + "\n  ".join(unread),
                "these problems name no agency; the answers they concern are in no report:\n  "
                + "\n  ".join(unread),
            )
        )
    if data.other_rounds and round is None:
        listed = ", ".join(
            f"{r} ({n})" for r, n in sorted(data.other_rounds.items(), key=lambda x: _natural(x[0]))
        )
        notes.append(
            (
                f"填答中還有其他評估回合（括號內為機關數）：{listed}；只產製最新的 {data.round}，"
                "其他回合請用 --round 指定。",
                f"the answers hold other rounds (agencies in brackets): {listed}; only the latest, "
                f"{data.round}, was reported. Use --round for another.",
            )
        )
    return BatchResult(
        out, data.round, results, index, summary, manifest, duration, removed, notes, unread
    )


def default_out(lang: str, responses: Any = None) -> Path:
    """The default output folder (relative to the working directory).

    ``reports/example`` for the bundled example; ``reports/<name>`` for answers
    given by the user (``<name>`` from the first file or folder, e.g.
    ``reports/answers`` for ``export/answers.csv``), so a user's reports never
    replace the example's; ``-en`` appended for English.
    """
    name = "example"
    if responses is not None:
        first = responses if isinstance(responses, str | Path) else next(iter(responses), None)
        if first is not None and not hasattr(first, "frame"):
            stem = Path(first).stem if Path(first).suffix else Path(first).name
            name = re.sub(r"[^\w-]+", "-", stem, flags=re.UNICODE).strip("-") or "answers"
        elif first is not None:
            name = "answers"
    suffix = "" if i18n.normalise_lang(lang) == "zh-TW" else "-en"
    return Path("reports") / f"{name}{suffix}"


def _run_key(data: RoundData, lang: str) -> dict[str, Any]:
    """What makes two runs' reports interchangeable: round, language, framework
    version and the answers themselves (a digest of the canonical rows)."""
    frame = data.responses.frame.drop(columns=["source_file", "source_row"])
    digest = hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()
    fw = data.scores.framework
    return {
        "round": data.round,
        "lang": lang,
        "framework": f"{fw.id} {fw.version}",
        "answers": digest,
    }


def _valid_part(responses: Any, framework: Any) -> AgencySplit:
    """The agencies whose answers have no error, and the errors of the others.

    Raises ResponsesError when no agency is left (as without ``skip_invalid``)."""
    from .framework import load_framework
    from .paths import examples_dir
    from .report.context import default_responses
    from .responses import split_by_agency, validate_responses

    fw = load_framework(framework)
    report = validate_responses(
        responses if responses is not None else default_responses(examples_dir()), fw
    )
    split = split_by_agency(report)
    if split.responses is None:
        raise ResponsesError(
            report.problems, summary="the answers cannot be used", summary_zh="填答資料無法使用"
        )
    return split


def _check_out(out: Path, responses: Responses) -> None:
    """Refuse an output folder the batch would damage (nothing is written then).

    The batch writes ``index.html``, ``summary.csv``, ``manifest.json`` and one
    file per agency, and removes reports of an earlier, different run.  So ``out``
    must be new, empty (hidden files aside) or a folder of an earlier guidekit run
    (its ``manifest.json`` names guidekit), and must not hold the answer files.
    """
    for source in responses.sources:
        file = Path(source.file).resolve()
        if file == out or out in file.parents:
            raise GuidekitError(
                f"--out {out} holds the answer file {file}: reports would be mixed with the "
                "answers; choose another folder",
                zh=f"--out {out} 裡有填答檔案 {file}：報告會和填答混在一起，請改用其他資料夾",
            )
    if not out.is_dir():
        return
    others = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    if not others or _is_guidekit_manifest(out / "manifest.json"):
        return
    shown = ", ".join(others[:5]) + ("…" if len(others) > 5 else "")
    raise GuidekitError(
        f"--out {out} already holds other files ({shown}) and is not a guidekit report "
        "folder: choose a new or empty folder, so nothing of yours is overwritten",
        zh=f"--out {out} 已有其他檔案（{shown}），不是 guidekit 的報告資料夾："
        "請指定新的或空的資料夾，以免覆寫您的檔案",
    )


def _is_guidekit_manifest(path: Path) -> bool:
    try:
        return "guidekit" in json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def _previous_results(
    out: Path, key: dict[str, Any], wanted: set[str]
) -> tuple[list[AgencyResult], list[str]]:
    """Reports of an earlier run in ``out`` that this run keeps or removes.

    Same run key: the earlier reports of agencies not rerun now stay, and are
    listed again in the index (a rerun of one agency does not drop the others).
    Different key (other round, language, framework version or answers): the
    earlier reports are stale and are removed, so the folder never mixes runs.
    """
    path = out / "manifest.json"
    if not path.is_file():
        return [], []
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        entries = previous["agencies"]
    except (ValueError, KeyError, TypeError):
        return [], []
    same = previous.get("run_key") == key
    fields = {f.name for f in dataclasses.fields(AgencyResult)}
    carried: list[AgencyResult] = []
    removed: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("agency_id") in wanted:
            continue
        name = str(entry.get("file") or "")
        report = out / name
        if not (name.endswith(".html") and "/" not in name and report.is_file()):
            continue
        if same and entry.get("status") == "ok":
            carried.append(
                AgencyResult(
                    **{k: v for k, v in entry.items() if k in fields},
                )
            )
            carried[-1].reused = True
        elif not same:
            report.unlink()
            removed.append(name)
    return carried, removed


def _tidy_logs(folder: Path, results: list[AgencyResult]) -> None:
    """Keep kernels.log only when an agency failed; drop the log folder when it is empty."""
    log = folder / "kernels.log"
    if log.exists() and all(r.status == "ok" for r in results):
        log.unlink()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def round_s(seconds: float) -> float:
    return float(f"{seconds:.3f}")


def _natural(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def _execute(
    tasks: list[dict[str, Any]], workers: int | None, progress: bool | None
) -> list[AgencyResult]:
    from tqdm.auto import tqdm

    if not tasks:
        return []
    workers = workers or min(2, os.cpu_count() or 1)
    workers = max(1, min(workers, len(tasks)))
    bar = tqdm(
        total=len(tasks),
        unit="report",
        desc="guidekit reports",
        disable=None if progress is None else not progress,
    )
    results: list[AgencyResult] = []
    try:
        if workers == 1:
            _warm_up()
            for task in tasks:
                results.append(run_one(task))
                bar.update()
        else:
            context = multiprocessing.get_context("spawn")
            with cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_warm_up) as pool:
                futures = {pool.submit(run_one, task): task for task in tasks}
                for future in cf.as_completed(futures):
                    task = futures[future]
                    try:
                        results.append(future.result())
                    except Exception as exc:  # the worker process itself died
                        results.append(
                            AgencyResult(
                                task["agency_id"],
                                task["agency_name"],
                                Path(task["html"]).name,
                                status="failed",
                                error=f"worker failed: {type(exc).__name__}: {exc}",
                            )
                        )
                    bar.update()
    finally:
        bar.close()
    return results


def _summary_frame(
    data: RoundData, results: list[AgencyResult], lang: str, rounded: bool = True
) -> pd.DataFrame:
    """One row per agency: scores from the round, file and status from the run.

    ``band_label`` and ``position`` are in the report language (``band`` and
    ``quartile`` are the stable codes: Q4 = top quarter of the round).  ``rounded``:
    score to 2 decimals and coverage to 4 for summary.csv; the index rounds the exact
    values once, as the reports do (rounding 57.5549 to 57.55 and then to 57.5 would
    disagree with the report's 57.6).
    """
    fw = data.scores.framework
    by_id = {r.agency_id: r for r in results}
    overall = data.scores.overall
    overall = overall[overall["agency_id"].isin(by_id)].copy()
    overall["report"] = overall["agency_id"].map(
        lambda a: by_id[a].file if by_id[a].status == "ok" else ""
    )
    overall["status"] = overall["agency_id"].map(lambda a: by_id[a].status)
    if rounded:
        overall["score"] = overall["score"].round(2)
        overall["coverage"] = overall["coverage"].round(4)
    overall["band_label"] = overall["band"].map(lambda b: _band_label(fw, b, lang))
    minimum = fw.scoring.min_peer_group
    overall["position"] = [
        i18n.t(f"position.{q}", lang)
        if isinstance(q, str)
        else i18n.t("position.suppressed", lang, minimum=minimum)
        for q in overall["quartile"]
    ]
    missing = [r for r in results if r.agency_id not in set(overall["agency_id"])]
    extra = pd.DataFrame(
        [
            {"round": data.round, "agency_id": r.agency_id, "status": r.status, "report": ""}
            for r in missing
        ]
    )
    frame = pd.concat([overall, extra], ignore_index=True) if missing else overall
    frame = frame.reindex(columns=SUMMARY_COLUMNS)
    for column in ("n_respondents", "n_major_not_met", "n_disagreements"):
        frame[column] = frame[column].astype("Int64")
    return frame


def _write_summary(out: Path, data: RoundData, results: list[AgencyResult], lang: str) -> Path:
    path = out / "summary.csv"
    # UTF-8 with BOM so Excel on zh-TW Windows opens the Chinese names correctly.
    table = excel_safe(_summary_frame(data, results, lang))
    _write_atomic(path, table.to_csv(index=False), encoding="utf-8-sig")
    return path


def _write_manifest(
    out: Path,
    data: RoundData,
    results: list[AgencyResult],
    lang: str,
    duration: float,
    today: dt.date,
    key: dict[str, Any],
    unread: list[str] | None = None,
) -> Path:
    fw = data.scores.framework
    manifest = {
        "guidekit": __version__,
        "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "report_date": today.isoformat(),
        "framework": {"id": fw.id, "version": fw.version},
        "round": data.round,
        "lang": lang,
        "run_key": key,
        "synthetic": data.responses.synthetic,
        "inputs": [
            {"file": s.file, "encoding": s.encoding, "rows": s.rows} for s in data.responses.sources
        ],
        "input_warnings": [p.format() for p in data.responses.problems],
        # --skip-invalid: errors naming no agency; their answers are in no report
        "unread": unread or [],
        "totals": {
            "agencies": len(results),
            "ok": sum(r.status == "ok" for r in results),
            "reused": sum(r.reused for r in results),
            "failed": sum(r.status != "ok" for r in results),
            "duration_s": duration,
        },
        "agencies": [dataclasses.asdict(r) for r in results],
    }
    path = out / "manifest.json"
    _write_atomic(path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return path


def _write_index(
    out: Path,
    data: RoundData,
    results: list[AgencyResult],
    lang: str,
    today: dt.date,
    unread: list[str] | None = None,
) -> Path:
    fw = data.scores.framework
    summary = _summary_frame(data, results, lang, rounded=False)
    rows = []
    by_id = {r.agency_id: r for r in results}
    for record in summary.to_dict("records"):
        result = by_id[record["agency_id"]]
        instrument = record.get("instrument")
        rows.append(
            {
                "agency_id": record["agency_id"],
                "agency_name": result.agency_name or record.get("agency_name") or "",
                "instrument": fw.instrument(instrument).text("title", lang)
                if isinstance(instrument, str) and fw.has_instrument(instrument)
                else "",
                "score": i18n.format_score(record.get("score")),
                "coverage": i18n.format_pct(record.get("coverage")),
                "low_coverage": record.get("low_coverage") is True,
                "reused": result.reused,
                "major": ""
                if pd.isna(record.get("n_major_not_met"))
                else int(record["n_major_not_met"]),
                "band": _band_label(fw, record.get("band"), lang),
                "file": result.file if result.status == "ok" else "",
                "status": result.status,
                "error": result.error or "",
            }
        )
    html = render(
        "index.html.j2",
        t=lambda key, **kw: i18n.t(key, lang, **{**fw.names(lang), **kw}),
        lang=lang,
        css=stylesheet(),
        title=i18n.t("index.title", lang, **fw.names(lang)),
        intro=i18n.t(
            "index.intro",
            lang,
            rounds=data.round,
            n=len(results),
            ok=sum(r.status == "ok" for r in results),
            failed=sum(r.status != "ok" for r in results),
            date=i18n.format_date(today, lang),
        ),
        synthetic=data.responses.synthetic,
        framework=f"{fw.meta.text('title', lang)} {fw.version}",
        rows=rows,
        reading=_index_reading(fw, {r["instrument"] for r in rows if r["instrument"]}, lang),
        unread=unread or [],
    )
    path = out / "index.html"
    _write_atomic(path, html)
    return path


def _index_reading(fw: Any, forms: set[str], lang: str) -> list[str]:
    """How to read the index, in the framework's terms: the same caveats as the reports'
    method note (indicative, not a ranking; bands; coverage), and a warning when the
    table mixes self-assessment forms, whose items differ."""
    names = fw.names(lang)
    zh = lang == "zh-TW"
    bands = sorted(fw.bands, key=lambda b: b.min)
    out = [
        i18n.t("method.indicative", lang),
        i18n.t(
            "method.bands",
            lang,
            bands=("、" if zh else ", ").join(
                f"{b.text('label', lang)} ≥ {b.min:g}" for b in bands
            ),
        ),
        i18n.t(
            "index.read.coverage",
            lang,
            pct=i18n.format_pct(fw.scoring.low_coverage_below),
            **names,
        ),
    ]
    if any(i.major for bank in fw.items.values() for i in bank):
        out.append(i18n.t("index.read.major", lang, **names))
    if len(forms) > 1:
        out.append(
            i18n.t("index.read.forms", lang, forms=("、" if zh else ", ").join(sorted(forms)))
        )
    out.append(i18n.t("index.read.method", lang))
    return out


def _band_label(fw: Any, code: Any, lang: str) -> str:
    if not isinstance(code, str):
        return "—"
    for band in fw.bands:
        if band.code == code:
            return band.text("label", lang)
    return code
