"""Batch reports: run the report notebook per agency and export each to HTML.

Steps, each kept apart so a later version can rerun one agency or swap the
executor (see ``reference/batch-performance-notes.md``):

1. **read + score** the round once in this process (:func:`guidekit.report.load_round`;
   kept between runs by the digest of its inputs, :func:`guidekit.report.incremental.cached_round`)
   and write it to a cache file every notebook reads (no notebook re-reads or
   re-scores the answers);
2. **execute** ``notebooks/report.ipynb`` per agency with papermill (parameters
   passed as plain JSON values through the Python API, never ``-p`` strings),
   in ``workers`` processes, each with one kernel reused across its agencies and
   reset before each (:mod:`guidekit.report.engine`), or on a Dask cluster
   (``scheduler``);
3. **export** each executed notebook with nbconvert's ``guidekit_report``
   template to one self-contained HTML page, in the worker, which sends it back;
   this process writes it (atomically, recorded as guidekit's own);
4. **record**: ``index.html``, ``summary.csv`` and ``manifest.json`` are written
   before the first report (``state: running``, agencies ``pending``), again as
   agencies finish (at most once a second), and at the end (``complete``, or
   ``interrupted`` with the reason): the folder never says more than it holds.
   Each manifest entry is one agency's result with its key, the digest of what its
   report is made from (:mod:`guidekit.report.incremental`): a rerun keeps every
   finished report whose key is unchanged, so nothing is redone that has not
   changed, and a stopped batch resumes where it stopped.

One batch at a time writes to a folder (:class:`OutputLock`); Ctrl+C, SIGTERM
or a full disk stop the workers and their kernels and mark the folder
interrupted; the same command then finishes it.

A failing agency does not stop the batch: its error (cell, exception name and
value) goes to the manifest and the index, and its executed notebook is kept
in ``_notebooks/`` as the log.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import datetime as dt
import difflib
import functools
import hashlib
import json
import math
import multiprocessing
import os
import re
import shlex
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import unicodedata
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import filelock
import pandas as pd

from guidekit import i18n
from guidekit.answers import Responses, round_key
from guidekit.files import (
    check_targets,
    excel_safe,
    is_own,
    remember,
    remove_output,
    table_csv,
    write_atomic,
)
from guidekit.framework import load_framework
from guidekit.intake.responses import AgencySplit, split_by_agency, validate_responses
from guidekit.intake.tabular import UNREAD_CODES
from guidekit.paths import examples_dir, notebooks_dir
from guidekit.problems import GuidekitError, ResponsesError
from guidekit.render.html import css_string, render, stylesheet
from guidekit.report import RoundData, incremental, kernels
from guidekit.report.context import default_responses
from guidekit.report.export import exporter, notebook_to_html
from guidekit.report.kernels import KERNEL_NAME, check_kernel_python
from guidekit.report.pdf import pdf_bytes, pdf_name, require_engine
from guidekit.scoring import unmatched_actions
from guidekit.store import is_store_url
from guidekit.text import clean, natural_key
from guidekit.version import __version__

#: The batch's record of a run, rewritten as each agency finishes (:class:`_Ledger`).
OWN_OUTPUTS = ("manifest.json", "summary.csv", "index.html")

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


@dataclasses.dataclass(frozen=True)
class ReportTask:
    """One agency's report, as a worker process receives it (plain values, picklable).

    ``parameters`` go to the report notebook through papermill's Python API
    (JSON-compatible: no numpy scalars, NaN as None); ``html`` and ``log`` are the
    report and the executed notebook's paths in the output folder (the worker writes
    neither: it returns the content, :class:`ReportOutput`, and the batch writes it);
    ``timeout`` is seconds per cell, ``agency_timeout`` seconds for the whole notebook
    (None: no limit but the cell's); ``cwd`` the notebook's folder; ``kernel_log`` the
    file kernel processes write their own output to (None: inherited).

    Every field that is not in :data:`guidekit.report.incremental.EXECUTION_ONLY` is
    part of the report's key: a new option is hashed without further change.
    """

    agency_id: str
    agency_name: str
    notebook: str
    parameters: dict[str, Any]
    html: str
    log: str
    lang: str
    title: str
    timeout: int
    keep_notebook: bool
    cwd: str
    agency_timeout: int | None = None
    kernel_log: str | None = None
    #: Also print the report to a PDF beside it (:mod:`guidekit.report.pdf`).
    pdf: bool = False


@dataclasses.dataclass
class AgencyResult:
    """Outcome of one agency's report.

    ``status`` is ``"ok"``, ``"failed"`` or ``"pending"`` (planned, not done
    yet: what an interrupted run's manifest shows); ``duration_s`` in seconds;
    ``error`` a readable message, ``ename`` / ``evalue`` / ``cell`` from the
    kernel when a notebook cell failed (``cell`` indexes the executed notebook,
    which has papermill's injected-parameters cell); ``timed_out`` when a cell
    ran past ``--timeout``; ``warnings`` what the notebook wrote to stderr;
    ``finished_at`` when this agency's report was done (ISO 8601); ``key`` the
    SHA-256 of what the report is made from (:mod:`guidekit.report.incremental`):
    a rerun keeps a finished report whose key has not changed.
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
    timed_out: bool = False
    finished_at: str | None = None
    key: str | None = None


@dataclasses.dataclass
class ReportOutput:
    """What a worker sends back for one agency: its result, the report page (None when
    it failed) and the executed notebook as JSON text when it is kept (a failed cell,
    or ``keep_notebook``).  The batch writes both in the output folder, so a worker on
    another machine (Dask) needs no access to it."""

    result: AgencyResult
    html: str | None = None
    notebook: str | None = None
    #: The report printed to PDF (with ``ReportTask.pdf``), made in the worker.
    pdf: bytes | None = None


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
        return [r for r in self.results if r.status == "failed"]

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


def _warm_up(worker: bool = True) -> None:
    """Import papermill and the warm-kernel engine and build the exporter, once per
    worker process; the worker's kernel is shut down when the process ends.

    A worker ignores SIGINT: Ctrl+C reaches every process of the terminal, and the
    main process alone decides what happens (it stops the workers)."""
    if worker:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    # heavy (papermill, nbclient, nbconvert: ~1.5 s): only report workers import them
    from multiprocessing.util import Finalize

    from guidekit.report import engine

    exporter()
    if worker:
        Finalize(None, engine.shutdown_kernel, exitpriority=100)


@functools.lru_cache(maxsize=4)
def _notebook_node(path: str, stamp: tuple[int, int]) -> Any:
    import nbformat

    return nbformat.read(path, as_version=4)


def run_one(task: ReportTask) -> ReportOutput:
    """Execute and export one agency's report on this worker's warm kernel.

    The kernel (:mod:`guidekit.report.engine`) is started on first use and reset
    before every agency.  Failures become a result with ``status="failed"``.  A
    failure outside the notebook's cells (a kernel that does not start or dies) is
    retried once with a fresh kernel; a failing cell is not, and neither is a
    notebook that ran past its time limit (it would only double the wait; its
    kernel, still busy, is replaced).  The executed notebook comes back as the log
    when a cell failed (and with ``keep_notebook``); after a timeout or a dead
    kernel there is none.  Nothing is written here: the batch writes the output.
    """

    started = time.perf_counter()
    kernels.kernel_log = task.kernel_log  # for a kernel started now (None: inherited)
    output = _attempt(task)
    result = output.result
    if result.status != "ok" and result.cell is None and not result.timed_out:
        # not a cell's own error (that would fail again): the kernel did not start,
        # died or lost messages; one more try with a fresh kernel
        output = _attempt(task)
        output.result.warnings = [f"retried after: {result.error}", *output.result.warnings]
    if task.pdf and output.html is not None:
        try:
            output.pdf = pdf_bytes(output.html, Path(task.html).name)
        except GuidekitError as exc:  # the page itself is fine: it is kept, the agency retried
            output.result.status, output.result.error = "failed", exc.text(task.lang)
    output.result.duration_s = round(time.perf_counter() - started, 3)
    output.result.finished_at = _now()
    return output


def _attempt(task: ReportTask) -> ReportOutput:
    # heavy imports, each worker pays them once (_warm_up)
    import copy

    import nbformat
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    from guidekit.report import engine

    result = AgencyResult(task.agency_id, task.agency_name, Path(task.html).name)
    output = ReportOutput(result)
    deadline = time.monotonic() + task.agency_timeout if task.agency_timeout else None
    stat = os.stat(task.notebook)
    source = _notebook_node(task.notebook, (stat.st_mtime_ns, stat.st_size))
    nb = None
    try:
        warm = engine.worker_kernel(task.cwd)
        nb = pm.execute_notebook(
            copy.deepcopy(source),
            None,
            parameters=task.parameters,
            engine_name=engine.ENGINE_NAME,
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
            execution_timeout=task.timeout,
            warm=warm,
            deadline=deadline,
            kernel_cwd=task.cwd,
        )
        result.warnings = _stderr(nb)
        output.html = notebook_to_html(nbformat.from_dict(nb), lang=task.lang, title=task.title)
        if task.keep_notebook:
            output.notebook = nbformat.writes(nb)
    except PapermillExecutionError as exc:
        result.status = "failed"
        result.ename, result.evalue, result.cell = exc.ename, exc.evalue, exc.cell_index
        result.error = f"{exc.ename}: {exc.evalue} (cell {exc.cell_index})"
        failed_nb = engine.last_notebook()
        output.notebook = nbformat.writes(failed_nb) if failed_nb is not None else None
    except CellTimeoutError as exc:
        engine.replace_kernel()  # still busy with the cell: a fresh one for the next agency
        result.status, result.timed_out = "failed", True
        result.ename, result.evalue = type(exc).__name__, str(exc)  # evalue shows the cell
        whole = deadline is not None and time.monotonic() >= deadline - 1
        result.error = (
            i18n.t("batch.agency_timeout", task.lang, timeout=task.agency_timeout)
            if whole and (not task.timeout or task.agency_timeout < task.timeout)
            else i18n.t("batch.timeout", task.lang, timeout=task.timeout)
        )
    except Exception as exc:  # kernel died, export error: record, never stop the batch
        engine.replace_kernel()
        _failed(result, exc)
    return output


def _failed(result: AgencyResult, exc: BaseException) -> None:
    result.status = "failed"
    result.ename, result.evalue = type(exc).__name__, str(exc)
    result.error = f"{type(exc).__name__}: {exc}"
    result.warnings.append(traceback.format_exc(limit=5))


def _stderr(nb: Any) -> list[str]:
    out = []
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                out.append(str(output.get("text", "")).strip())
    return [w for w in out if w]


# -- the batch ------------------------------------------------------------------------


class BatchInterrupted(GuidekitError):
    """The batch stopped before every report was done (Ctrl+C, SIGTERM, a full disk).

    The output folder says so: ``manifest.json`` has ``"state": "interrupted"``
    (or still ``"running"`` when even that could not be written), and
    ``index.html`` / ``summary.csv`` mark the agencies without a report as not
    done.  Running the same command again finishes the work.  ``exit_code`` is
    what the command exits with (130 for Ctrl+C, 143 for SIGTERM, 2 otherwise).
    """

    def __init__(self, message: str, *, zh: str, exit_code: int, out: Path) -> None:
        super().__init__(message, zh=zh)
        self.exit_code = exit_code
        self.out = out


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so the batch can stop its workers and say so
    in the folder (a BaseException: no ``except Exception`` on the way swallows it)."""


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
    notify: Callable[[tuple[str, str]], None] | None = None,
    force: bool = False,
    only_failed: bool = False,
    agency_timeout: int | None = None,
    scheduler: Any = None,
    pdf: bool = False,
    actions: Any = None,
    previous: Any = None,
) -> BatchResult:
    """Write one HTML report per agency of a round, plus ``index.html``,
    ``summary.csv`` and ``manifest.json``.

    The three are written before the first report, saying the run is under way
    (``manifest.json`` ``"state": "running"``, every agency to do
    ``"status": "pending"``), rewritten as each agency finishes, and at the end
    (``"complete"``), or, when the run stops early, ``"interrupted"`` with the
    reason: at every moment they agree with the reports in the folder, or say the
    run did not finish.  A lock file (``.guidekit-reports.lock``) keeps a second
    batch out of the folder while one runs.

    Parameters
    ----------
    responses : path(s), optional
        Answer files or folders; default the bundled example (latest round).
    out : path, optional
        Output folder (created); default ``reports/example`` for zh-TW and
        ``reports/example-en`` for English, so the two never overwrite each other.
        Reports of an earlier run in the folder are kept when they belong to the
        same round, language, framework version and answers and are not redone
        now (a rerun of a few agencies keeps the others in the index); every
        other report of an earlier run is removed before this run starts.
    agencies : sequence of str, optional
        Agency codes to report on, tidied like the answers' own codes
        (:func:`guidekit.text.clean`: full-width digits, spaces); default every
        agency of the round.
    workers : int, optional
        Worker processes; default ``min(2, CPU count)``; more than the CPU
        cores available are cut to that number, with a note.
    lang : {"zh-TW", "en"}
    framework : path, optional
    round : str, optional
        Default: the latest round in the answers.
    timeout : int
        Seconds a notebook cell may run; a cell that runs longer fails its agency
        and is not retried (its kernel, still busy, is replaced).
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
    notify : callable, optional
        Called with each note (a (zh-TW, English) pair) as soon as it is known;
        every note is also in :attr:`BatchResult.notes`.
    force : bool
        Rebuild every report asked for, even those whose inputs have not changed.
        By default a finished report is kept when nothing it is made from has
        changed (its key, :mod:`guidekit.report.incremental`) and its file is
        guidekit's own, unchanged since; an agency that failed with the same
        inputs is not retried either (see ``only_failed``).
    only_failed : bool
        Retry only the agencies the folder's manifest lists as failed (with
        ``agencies``: only those of them); the other reports stay.
    agency_timeout : int, optional
        Seconds the whole notebook of one agency may run (default: no limit but
        ``timeout`` per cell); a report past it fails and is not retried.
    scheduler : str, optional
        Run on a Dask distributed cluster: ``"tcp://HOST:PORT"`` of a running
        scheduler, or ``"local"`` to start a ``distributed.LocalCluster`` of
        ``workers`` processes here (its dashboard address is told through
        ``notify``); a ``distributed.Client`` or cluster object works too.  Workers
        need guidekit (with the same version) installed; the reports come back to
        this process, which writes them as a local run does.
    pdf : bool
        Also print each report to a text-based PDF beside it (same name, ``.pdf``),
        in the workers (:mod:`guidekit.report.pdf`); the index links both.
    actions, previous : optional
        Improvement actions (files, folders, stores or :class:`~guidekit.answers.Action`
        records) and the previous round's answers for the reports' actions section
        (:func:`guidekit.report.load_round`; the bundled example brings its own).

    Returns
    -------
    BatchResult

    Raises
    ------
    ResponsesError
        If the answers are invalid (nothing is written); with ``skip_invalid``,
        only when no agency is left.
    GuidekitError
        If the round is missing, an agency code is not in the round (nothing is
        written; the message names close codes), ``lang`` is unsupported, this
        Python cannot run a report kernel, or another batch is writing to ``out``
        (the message names it: process, host, start time, command).
    PdfEngineMissing
        With ``pdf``, when there is no headless Chromium (nothing is written).
    BatchInterrupted
        If the run stopped early (Ctrl+C, SIGTERM, a full disk); the folder says so.
    """
    started = time.perf_counter()
    lang = i18n.normalise_lang(lang)
    today = today or i18n.today()
    notes: list[tuple[str, str]] = []

    def tell(pair: tuple[str, str]) -> None:
        notes.append(pair)
        if notify is not None:
            notify(pair)

    def note(key: str, **values: Any) -> None:
        tell((i18n.t(key, "zh-TW", **values), i18n.t(key, "en", **values)))

    if round is not None:
        round = clean(str(round))
    source: Any = responses
    split = None
    if skip_invalid and not isinstance(responses, Responses):
        split = _valid_part(responses, framework)
        source = split.responses
    if pdf:
        require_engine()
    check_scheduler(scheduler)
    data = incremental.cached_round(source, framework, round, actions=actions, previous=previous)
    # absolute: papermill changes the working directory while a notebook runs
    out = Path(out if out is not None else default_out(lang, responses)).resolve()
    if out.exists() and not out.is_dir():
        raise GuidekitError(
            f"--out {out} is a file, not a folder", zh=f"--out {out} 是檔案，不是資料夾"
        )
    _check_out(out, data.responses)
    _tell_unmatched(data, note)
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
    every = sorted([*names, *invalid], key=natural_key)
    wanted = _wanted_agencies(agencies, every, data.round, note) if agencies else every
    # names over every agency of the round, so a partial run names files as a full one
    files = report_filenames([*every, *wanted])
    key = _run_key(data, lang)
    notebook_path = Path(notebook) if notebook else notebooks_dir() / "report.ipynb"
    if not notebook_path.is_file():
        raise GuidekitError(
            f"report notebook not found: {notebook_path}", zh=f"找不到報告筆記本：{notebook_path}"
        )
    workers = worker_count(workers, note)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GuidekitError(
            f"cannot create the output folder {out}: {exc.strerror}",
            zh=f"無法建立輸出資料夾 {out}：{exc.strerror}",
        ) from None

    run_info = _run_info()
    lock = OutputLock(out, run_info)
    with _sigterm_raises():
        stale = lock.acquire()
        try:
            if stale is not None:
                note("batch.lock.stale", out=out, **_holder_fields(stale, lang))
            return _run_locked(
                data=data,
                out=out,
                lang=lang,
                today=today,
                key=key,
                run_info=run_info,
                wanted=wanted,
                every=every,
                files=files,
                names=names,
                invalid=invalid,
                split=split,
                notebook_path=notebook_path,
                workers=workers,
                timeout=timeout,
                keep_notebooks=keep_notebooks,
                progress=progress,
                round_given=round is not None,
                started=started,
                notes=notes,
                tell=tell,
                agency_timeout=agency_timeout,
                force=force,
                only_failed=only_failed,
                scheduler=scheduler,
                pdf=pdf,
            )
        finally:
            lock.release()


def _run_locked(
    *,
    data: RoundData,
    out: Path,
    lang: str,
    today: dt.date,
    key: dict[str, Any],
    run_info: dict[str, Any],
    wanted: list[str],
    every: list[str],
    files: dict[str, str],
    names: dict[str, str],
    invalid: dict[str, Any],
    split: AgencySplit | None,
    notebook_path: Path,
    workers: int | None,
    timeout: int,
    keep_notebooks: bool,
    progress: bool | None,
    round_given: bool,
    started: float,
    notes: list[tuple[str, str]],
    tell: Callable[[tuple[str, str]], None],
    agency_timeout: int | None = None,
    force: bool = False,
    only_failed: bool = False,
    scheduler: Any = None,
    pdf: bool = False,
) -> BatchResult:
    """The batch, once the folder's lock is held: plan, record, run, record."""
    notebook_dir = out / "_notebooks"
    fw_names = data.scores.framework.names(lang)
    options = {}
    for agency_id in names:
        task = _task(agency_id, names, files, data, lang, today, "", out, notebook_path, fw_names)
        options[agency_id] = incremental.task_options(task)
    shared = incremental.shared_digests(data, notebook_path)
    keys = incremental.agency_keys(data, shared, options, today)
    if only_failed:
        failed_before = _failed_before(out)
        wanted = [a for a in wanted if a in failed_before]
        if not wanted:
            tell(
                (
                    i18n.t("batch.only_failed.none", "zh-TW", out=out),
                    i18n.t("batch.only_failed.none", "en", out=out),
                )
            )
        force = True
    carried, stale_files, removed = _previous_results(out, keys, set(wanted), force, pdf)
    kept = {r.agency_id for r in carried}
    # every file this run replaces or removes must be guidekit's own, unchanged since it
    # was written (guidekit.files): a report or index someone edited is never lost
    replaced = [*OWN_OUTPUTS, *stale_files, *(files[a] for a in wanted if a not in kept)]
    replaced += [pdf_name(name) for name in replaced if name.endswith(".html")]
    check_targets([out / name for name in replaced if os.path.lexists(out / name)])
    unread = [p.format(lang) for p in split.unplaced] if split else []
    everyone = [*every, *wanted]
    order = {a: n for n, a in reversed(list(enumerate(everyone)))}
    ledger = _Ledger(out, data, lang, today, key, unread, run_info, order, shared)
    for result in carried:
        ledger.add(result)
    with tempfile.TemporaryDirectory(prefix="guidekit-") as tmp:
        tasks: list[ReportTask] = []
        cache = None
        for agency_id in wanted:
            if agency_id in invalid:
                problems = invalid[agency_id]
                ledger.add(
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
            if agency_id in kept:
                continue  # nothing it is made from has changed: its report stays
            if cache is None:
                cache = data.save(Path(tmp) / "round.pkl")
            task = _task(
                agency_id, names, files, data, lang, today, str(cache), out, notebook_path, fw_names
            )
            task = dataclasses.replace(
                task,
                timeout=timeout,
                agency_timeout=agency_timeout,
                keep_notebook=keep_notebooks,
                kernel_log=None if scheduler is not None else str(notebook_dir / "kernels.log"),
                pdf=pdf,
            )
            ledger.add(
                AgencyResult(
                    agency_id, names[agency_id], files[agency_id], "pending", key=keys[agency_id]
                )
            )
            tasks.append(task)
        executed: list[AgencyResult] = []
        if tasks and scheduler is None:
            check_kernel_python(notebook_path.parent)  # only when a report is to be made
            notebook_dir.mkdir(exist_ok=True)
        runs = _execute(tasks, workers, progress, scheduler, tell)
        try:
            # the record says "running" before any earlier report goes or a new one comes
            ledger.write(round_s(time.perf_counter() - started))
            _remove(out, stale_files)
            if not pdf:  # a report redone without --pdf keeps no PDF of its old version
                for task in tasks:
                    remove_output(Path(task.html).with_name(pdf_name(Path(task.html).name)))
            last, pause = time.monotonic(), LEDGER_INTERVAL
            for output in runs:
                result = output.result
                result.key = keys.get(result.agency_id)
                if output.notebook is not None:
                    log = notebook_dir / Path(result.file).with_suffix(".ipynb")
                    notebook_dir.mkdir(exist_ok=True)
                    _write_atomic(log, output.notebook)
                    result.notebook = str(log)
                if output.html is not None:
                    _write_report(ledger, out / result.file, output.html, output.pdf)
                executed.append(result)
                ledger.add(result)
                # the record is rewritten as reports come in, but spending at most ~5 % of
                # the time on it (300 agencies: ~0.2 s to rewrite the index, summary and
                # manifest; this process shares the cores with the workers), and always
                # at the end
                if time.monotonic() - last >= pause:
                    began = time.monotonic()
                    ledger.write(round_s(time.perf_counter() - started))
                    last = time.monotonic()
                    pause = max(LEDGER_INTERVAL, 20 * (last - began))
        except BaseException as exc:
            runs.close()  # ends the workers and kernels before anything else
            # an earlier run's reports (and a report written but not yet recorded) never
            # stay beside this run's record, even when the stop came while they were removed
            recorded = {r.file for r in executed if r.status == "ok"}
            planned = [Path(task.html).name for task in tasks]
            _remove(out, [n for n in {*stale_files, *planned} if n not in recorded])
            reason, code = _interruption(exc, lang)
            ledger.interrupt(reason)
            try:
                ledger.write(round_s(time.perf_counter() - started))
            except OSError:
                pass  # a full disk: the folder still says "running", which is true enough
            if code is None:
                raise
            done = sum(r.status != "pending" for r in ledger.results())
            pending = sum(r.status == "pending" for r in ledger.results())
            values = {"reason": reason, "ok": done, "pending": pending, "index": out / "index.html"}
            raise BatchInterrupted(
                i18n.t(
                    "batch.interrupted", "en", **{**values, "reason": _interruption(exc, "en")[0]}
                ),
                zh=i18n.t(
                    "batch.interrupted",
                    "zh-TW",
                    **{**values, "reason": _interruption(exc, "zh-TW")[0]},
                ),
                exit_code=code,
                out=out,
            ) from None

    _tidy_logs(out / "_notebooks", executed)  # the kernels' log tells of notebooks run
    duration = round_s(time.perf_counter() - started)
    ledger.state = "complete"
    ledger.write(duration)
    results = ledger.results()
    skipped = [p.format(lang) for p in data.responses.problems if p.code in UNREAD_CODES]
    if skipped:  # hidden rows, sheets, columns: what the scores leave out
        tell(
            (
                "填答檔中下列部分未讀取，不計分：\n  " + "\n  ".join(skipped),
                "these parts of the answer files were not read and are not scored:\n  "
                + "\n  ".join(skipped),
            )
        )
    if unread:
        tell(
            (
                "下列問題無法對應到機關，相關的答案未納入任何報告：\n  " + "\n  ".join(unread),
                "these problems name no agency; the answers they concern are in no report:\n  "
                + "\n  ".join(unread),
            )
        )
    if data.other_rounds and not round_given:
        listed = ", ".join(
            f"{r} ({n})"
            for r, n in sorted(data.other_rounds.items(), key=lambda x: round_key(x[0]))
        )
        tell(
            (
                f"填答中還有其他評估回合（括號內為機關數）：{listed}；只產製最新的 {data.round}，"
                "其他回合請用 --round 指定。",
                f"the answers hold other rounds (agencies in brackets): {listed}; only the latest, "
                f"{data.round}, was reported. Use --round for another.",
            )
        )
    return BatchResult(
        out,
        data.round,
        results,
        out / "index.html",
        out / "summary.csv",
        out / "manifest.json",
        duration,
        removed,
        notes,
        unread,
    )


#: Least seconds between two rewrites of the run's record while reports come in.
LEDGER_INTERVAL = 1.0


def _task(
    agency_id: str,
    names: dict[str, str],
    files: dict[str, str],
    data: RoundData,
    lang: str,
    today: dt.date,
    cache: str,
    out: Path,
    notebook_path: Path,
    fw_names: dict[str, str],
) -> ReportTask:
    """The task of one agency (its time limits and logging are set by the run)."""
    return ReportTask(
        agency_id=agency_id,
        agency_name=names[agency_id],
        notebook=str(notebook_path),
        parameters={
            k: _json_value(v)
            for k, v in {
                "agency_id": agency_id,
                "round_id": data.round,
                "lang": lang,
                "cache": cache,
                "today": today.isoformat(),
            }.items()
        },
        html=str(out / files[agency_id]),
        log=str(out / "_notebooks" / Path(files[agency_id]).with_suffix(".ipynb")),
        lang=lang,
        title=i18n.t("report.title", lang, **fw_names, agency=names[agency_id]),
        timeout=DEFAULT_TIMEOUT,
        keep_notebook=False,
        cwd=str(notebook_path.parent),
    )


def _write_report(ledger: _Ledger, path: Path, html: str, pdf: bytes | None = None) -> None:
    """Write one agency's report (and its PDF) and record them as guidekit's own at once
    (a run killed before its next record rewrite leaves no report guidekit would not
    replace)."""
    written = [path]
    _write_atomic(path, html)  # OSError here stops the batch
    if pdf is not None:
        written.append(write_atomic(path.with_name(pdf_name(path.name)), pdf))
    remember(written)
    ledger.recorded.update(p.name for p in written)


def _failed_before(out: Path) -> set[str]:
    """Agencies the folder's manifest lists as failed (``--only-failed``)."""
    try:
        entries = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["agencies"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {
        str(e.get("agency_id"))
        for e in entries
        if isinstance(e, dict) and e.get("status") == "failed"
    }


def _interruption(exc: BaseException, lang: str) -> tuple[str, int | None]:
    """Why the run stopped, in ``lang``, and the exit code (None: not an interruption
    the user can act on by running again, e.g. a bug: the exception goes on as it is)."""
    if isinstance(exc, KeyboardInterrupt):
        return i18n.t("batch.reason.SIGINT", lang), 130
    if isinstance(exc, _Terminated):
        return i18n.t("batch.reason.SIGTERM", lang), 143
    if isinstance(exc, OSError):
        return (
            i18n.t(
                "batch.reason.write",
                lang,
                file=exc.filename or "",
                reason=exc.strerror or type(exc).__name__,
            ),
            2,
        )
    return f"{type(exc).__name__}: {exc}", None


class _Ledger:
    """The run's record in the output folder: ``manifest.json``, ``summary.csv`` and
    ``index.html``, always rewritten together from one list of agency results, each
    file atomically.  ``state`` is ``running``, ``complete`` or ``interrupted``."""

    def __init__(
        self,
        out: Path,
        data: RoundData,
        lang: str,
        today: dt.date,
        key: dict[str, Any],
        unread: list[str],
        run_info: dict[str, Any],
        order: dict[str, int],
        digests: dict[str, str] | None = None,
    ) -> None:
        self.out, self.data, self.lang, self.today, self.key = out, data, lang, today, key
        self.unread, self.run_info, self.order = unread, run_info, order
        self.digests = digests or {}
        self.entries: dict[str, AgencyResult] = {}
        self.state = "running"
        self.interrupted: dict[str, str] | None = None
        self.recorded: set[str] = set()

    def add(self, result: AgencyResult) -> None:
        self.entries[result.agency_id] = result

    def interrupt(self, reason: str) -> None:
        self.state = "interrupted"
        self.interrupted = {"at": _now(), "reason": reason}

    def results(self) -> list[AgencyResult]:
        return sorted(
            self.entries.values(), key=lambda r: self.order.get(r.agency_id, len(self.order))
        )

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "run": self.run_info, "interrupted": self.interrupted}

    def write(self, duration: float) -> None:
        results = self.results()
        status = self.status()
        # guidekit's own files (guidekit.files): a rerun replaces them only while nobody
        # has changed them.  What was written is recorded even when a write fails half-way
        # (a full disk), so no file of guidekit's is left unrecorded; one record update.
        new = [
            r.file
            for r in results
            if r.status == "ok" and r.file not in self.recorded and (self.out / r.file).is_file()
        ]
        written = list(new)
        try:
            # the manifest first: it is what the next run reads
            _write_manifest(
                self.out,
                self.data,
                results,
                self.lang,
                duration,
                self.today,
                self.key,
                self.unread,
                status,
                self.digests,
            )
            written.append("manifest.json")
            _write_summary(self.out, self.data, results, self.lang)
            written.append("summary.csv")
            _write_index(self.out, self.data, results, self.lang, self.today, self.unread, status)
            written.append("index.html")
        finally:
            remember([self.out / n for n in written])
            self.recorded.update(new)


# -- what the run touches: agencies asked for, workers, the folder's lock, processes ---


def _wanted_agencies(
    agencies: Sequence[str], every: list[str], round_id: str, note: Callable[..., None]
) -> list[str]:
    """The agency codes asked for, tidied like the answers' own codes
    (:func:`guidekit.text.clean`); an unknown code stops the batch before anything
    is written, with the closest codes of the round."""
    wanted = []
    for raw in agencies:
        code = clean(str(raw))
        if code != raw:
            note("batch.agency.tidied", raw=raw, code=code)
        wanted.append(code)
    wanted = list(dict.fromkeys(wanted))
    known = set(every)
    unknown = [a for a in wanted if a not in known]
    if not unknown:
        return wanted
    folded: dict[str, str] = {}
    for code in every:
        folded.setdefault(code.casefold(), code)

    def message(lang: str) -> str:
        lines = [i18n.t("batch.agency.unknown", lang, round=round_id)]
        for code in unknown:
            close = [folded[c] for c in difflib.get_close_matches(code.casefold(), folded, 3, 0.6)]
            lines.append(
                "  "
                + (
                    i18n.t("batch.agency.close", lang, code=code, matches=", ".join(close))
                    if close
                    else i18n.t("batch.agency.none_close", lang, code=code)
                )
            )
        shown = ", ".join(every[:20]) + (", …" if len(every) > 20 else "")
        lines.append("  " + i18n.t("batch.agency.exists", lang, n=len(every), codes=shown))
        return "\n".join(lines)

    raise GuidekitError(message("en"), zh=message("zh-TW"))


def available_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS says, else the count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def worker_count(requested: int | None, note: Callable[..., None]) -> int:
    """Workers to start: default ``min(2, cores)``; more than the cores are cut to the
    cores, with a note (each worker and its kernel take ~0.3–0.5 GB, and on 2 cores
    8 workers ran slower than 2)."""
    cores = available_cores()
    if requested is None:
        return min(2, cores)
    if requested > cores:
        note("batch.workers.capped", asked=requested, cores=cores)
        return cores
    return max(1, requested)


LOCK_NAME = ".guidekit-reports.lock"
#: Who holds the lock (written after taking it, removed on release).
HOLDER_NAME = ".guidekit-reports.lock.json"


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _run_info() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": _now(),
        "command": shlex.join(sys.argv),
    }


def _holder_fields(holder: dict[str, Any] | None, lang: str) -> dict[str, Any]:
    unknown = i18n.t("batch.lock.unknown", lang)
    holder = holder or {}
    return {
        field: holder.get(name) or unknown
        for field, name in (
            ("pid", "pid"),
            ("host", "host"),
            ("started", "started_at"),
            ("command", "command"),
        )
    }


class OutputLock:
    """The output folder's lock, held for the whole run (``filelock``: an OS lock,
    released by the OS when the holding process dies, so a lock left by a killed
    run is free and is taken over).  Beside it, who holds it: pid, host, start
    time and command, for the message a second run gets."""

    def __init__(self, out: Path, run_info: dict[str, Any]) -> None:
        self.out = out
        self.run_info = run_info
        self.lock = filelock.FileLock(str(out / LOCK_NAME))
        self.holder = out / HOLDER_NAME

    def _read_holder(self) -> dict[str, Any] | None:
        try:
            holder = json.loads(self.holder.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return holder if isinstance(holder, dict) else None

    def acquire(self) -> dict[str, Any] | None:
        """Take the lock; return the holder left by a run that died holding it, if any.

        Raises GuidekitError, naming the holder, when another run holds it."""
        try:
            self.lock.acquire(timeout=0)
        except filelock.Timeout:

            def message(lang: str) -> str:
                return i18n.t(
                    "batch.lock.busy",
                    lang,
                    out=self.out,
                    **_holder_fields(self._read_holder(), lang),
                )

            raise GuidekitError(message("en"), zh=message("zh-TW")) from None
        stale = self._read_holder()
        try:
            write_atomic(self.holder, json.dumps(self.run_info, ensure_ascii=False) + "\n", "utf-8")
        except BaseException:
            self.lock.release()
            raise
        return stale

    def release(self) -> None:
        try:
            self.holder.unlink(missing_ok=True)
        finally:
            self.lock.release()


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While the batch runs, SIGTERM raises :class:`_Terminated` in the main thread
    (as Ctrl+C raises KeyboardInterrupt), so the batch stops its workers and
    records the interruption; a second SIGTERM ends the process at once."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _descendants() -> set[int]:
    import psutil

    return {p.pid for p in psutil.Process().children(recursive=True)}


def _stop_processes(before: set[int]) -> None:
    """End the processes this run started (workers and their kernels), not the ones
    that were there before it, nor multiprocessing's resource tracker (it ignores
    SIGTERM and ends by itself once this process exits, cleaning up after the pool)."""
    import psutil

    procs = []
    for proc in psutil.Process().children(recursive=True):
        if proc.pid in before:
            continue
        try:
            if any("resource_tracker" in part for part in proc.cmdline()):
                continue
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        procs.append(proc)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    alive = _wait_ended(procs, 10)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    _wait_ended(alive, 5)


def _wait_ended(procs: list[Any], timeout: float) -> list[Any]:
    """Wait until the processes have ended (a zombie counts: it is not reaped here, so
    ``multiprocessing`` and ``subprocess`` still see their children's exit); return
    the ones still running."""
    import psutil

    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for proc in procs:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


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
        if is_store_url(first):  # a store database: its name, never its login
            stem = urllib.parse.urlsplit(str(first)).path.strip("/") or "store"
            name = re.sub(r"[^\w-]+", "-", stem, flags=re.UNICODE).strip("-") or "store"
        elif first is not None and not hasattr(first, "frame"):
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
    A run writes its manifest before its first report, so a folder it leaves
    when interrupted (Ctrl+C, SIGTERM, a full disk) is one of guidekit's and the
    same command accepts it.
    """
    for source in responses.sources:
        if is_store_url(source.file):
            continue  # answers in a database: nothing in this folder
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
    out: Path, keys: dict[str, str], wanted: set[str], force: bool = False, pdf: bool = False
) -> tuple[list[AgencyResult], list[str], list[str]]:
    """What an earlier run in ``out`` left: the results this run keeps, and the report
    files it removes before it starts.

    Kept (``reused``): a finished report (``status: ok``) whose key — what it is made
    from, :mod:`guidekit.report.incremental` — equals the agency's key now and whose
    file is guidekit's own, unchanged since (:func:`guidekit.files.is_own`); and an
    agency whose notebook cell failed with the same key (it would fail again;
    ``only_failed`` retries it; a timeout or a dead kernel is retried anyway).  With ``pdf``
    a report is kept only with its PDF (guidekit's own, unchanged).  With ``force``,
    nothing asked for now is kept.  Removed: every
    other report file the earlier manifest lists — another key's (stale), an agency
    redone now, one an interrupted run left unfinished — so the folder never mixes
    runs.  Returns (kept, files to remove, the stale ones among them: not redone now).
    """
    path = out / "manifest.json"
    if not path.is_file():
        return [], [], []
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        entries = previous["agencies"]
    except (ValueError, KeyError, TypeError):
        return [], [], []
    fields = {f.name for f in dataclasses.fields(AgencyResult)}
    carried: list[AgencyResult] = []
    remove: list[str] = []
    stale: list[str] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        agency_id = entry.get("agency_id")
        key = entry.get("key")
        current = (
            isinstance(key, str)
            and key == keys.get(str(agency_id))
            and not (force and agency_id in wanted)
        )
        name = str(entry.get("file") or "")
        if not (name.endswith(".html") and "/" not in name and "\\" not in name):
            continue
        if entry.get("status") == "failed" and current and entry.get("cell") is not None:
            # a cell's own error with the same inputs: it would fail again
            carried.append(AgencyResult(**{k: v for k, v in entry.items() if k in fields}))
            carried[-1].reused = True
            continue
        if not (out / name).is_file():
            continue
        # with --pdf an agency asked for is made again when its PDF is missing (deleted
        # since, or never made); the others stay as they are
        pdf_ok = not pdf or agency_id not in wanted or is_own(out / pdf_name(name))
        if entry.get("status") == "ok" and current and is_own(out / name) and pdf_ok:
            carried.append(AgencyResult(**{k: v for k, v in entry.items() if k in fields}))
            carried[-1].reused = True
            continue
        remove.append(name)
        if agency_id not in wanted:
            stale.append(name)
    return carried, remove, stale


def _remove(out: Path, names: Iterable[str]) -> None:
    """Remove reports an earlier run left that this run does not keep."""
    for name in names:
        (out / name).unlink(missing_ok=True)
        (out / pdf_name(name)).unlink(missing_ok=True)


def _tidy_logs(folder: Path, results: list[AgencyResult]) -> None:
    """Keep kernels.log only when an agency failed; drop the log folder when it is empty."""
    log = folder / "kernels.log"
    if log.exists() and all(r.status == "ok" for r in results):
        log.unlink()
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def round_s(seconds: float) -> float:
    return float(f"{seconds:.3f}")


def _execute(
    tasks: list[ReportTask],
    workers: int | None,
    progress: bool | None,
    scheduler: str | None = None,
    tell: Callable[[tuple[str, str]], None] | None = None,
) -> Iterator[ReportOutput]:
    """Run the tasks; yield each agency's output as it finishes.

    ``workers`` processes (spawned), each with one warm kernel reused across its
    agencies (:mod:`guidekit.report.engine`); or, with ``scheduler``, the tasks of a
    Dask cluster (:func:`_execute_dask`).  When the run stops early — Ctrl+C, SIGTERM,
    an error, or the caller closing this generator — the workers and their kernels
    are ended before the exception goes on, so nothing keeps running (or holding
    memory) after the batch.  A worker process that dies breaks the pool: the
    agencies it left unfinished get one more try in a fresh pool, then are listed as
    failed.
    """
    from tqdm.auto import tqdm

    if not tasks:
        return
    bar = tqdm(
        total=len(tasks),
        unit="report",
        desc="guidekit reports",
        disable=None if progress is None else not progress,
    )
    try:
        if scheduler is not None:
            for output in _execute_dask(tasks, scheduler, workers, tell):
                bar.update()
                yield output
            return
        workers = max(1, min(workers or 1, len(tasks)))
        if workers == 1:
            yield from _execute_here(tasks, bar)
            return
        yield from _execute_pool(tasks, workers, bar)
    finally:
        bar.close()


def _execute_here(tasks: list[ReportTask], bar: Any) -> Iterator[ReportOutput]:
    """One worker: this process and one warm kernel, shut down at the end."""
    from guidekit.report import engine  # heavy: papermill, nbclient

    _warm_up(worker=False)
    before = _descendants()
    try:
        for task in tasks:
            output = run_one(task)
            bar.update()
            yield output
    except BaseException:
        _stop_processes(before)
        raise
    finally:
        engine.shutdown_kernel()


def _execute_pool(tasks: list[ReportTask], workers: int, bar: Any) -> Iterator[ReportOutput]:
    context = multiprocessing.get_context("spawn")
    queue = list(tasks)
    again: dict[str, str] = {}  # agency → why it is run a second time
    for attempt in (1, 2):
        broken: list[tuple[ReportTask, BaseException]] = []
        before = _descendants()
        pool = cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_warm_up)
        finished = False
        try:
            futures = {pool.submit(run_one, task): task for task in queue}
            for future in cf.as_completed(futures):
                try:
                    output = future.result()
                except BrokenProcessPool as exc:  # a worker process itself died
                    broken.append((futures[future], exc))
                    continue
                if output.result.agency_id in again:
                    output.result.warnings.insert(
                        0, f"retried after: {again[output.result.agency_id]}"
                    )
                bar.update()
                yield output
            finished = True
        finally:
            if finished and not broken:
                pool.shutdown(wait=True)
            else:
                pool.shutdown(wait=False, cancel_futures=True)
                _stop_processes(before)
        if not broken:
            return
        queue = [task for task, _ in broken]
        again = {t.agency_id: f"worker failed: {type(e).__name__}: {e}" for t, e in broken}
        if attempt == 2:
            for task, exc in broken:
                bar.update()
                yield _worker_failed(task, exc)


# -- Dask: the same tasks on a cluster -------------------------------------------------


#: A Dask scheduler address: tcp:// (or tls://, ucx://), a host name, IPv4 or [IPv6], a port;
#: or an in-process scheduler's inproc:// address (a cluster started in this process).
_SCHEDULER = re.compile(
    r"^(tcp|tls|ucx)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$|^inproc://\S+$"
)


def check_scheduler(scheduler: Any) -> None:
    """Refuse a ``--scheduler`` that is neither ``local`` nor an address before anything is
    written (a Client or cluster object given by a caller passes).

    Raises
    ------
    GuidekitError
        With the value and the forms accepted.
    """
    if isinstance(scheduler, str) and scheduler != "local" and not _SCHEDULER.match(scheduler):
        raise GuidekitError(
            i18n.t("batch.dask.address", "en", scheduler=scheduler),
            zh=i18n.t("batch.dask.address", "zh-TW", scheduler=scheduler),
        )


def _tell_unmatched(data: RoundData, note: Callable[..., None]) -> None:
    """Say which improvement actions no report will show (:func:`unmatched_actions`): those
    of agencies in this round by action id (a service or form that does not match), the
    others (agencies not in these answers) as a count."""
    unmatched = unmatched_actions(data.actions, data.scores, data.previous)
    in_round = set(data.scores.overall["agency_id"])
    named = [a for a in unmatched if a.agency_id in in_round]
    if named:
        shown = "; ".join(
            f"{a.action_id} {a.agency_id}「{a.service}」{a.instrument} {a.item_id}"
            for a in named[:8]
        )
        note(
            "batch.actions.unmatched",
            n=len(named),
            actions=shown + (" …" if len(named) > 8 else ""),
        )
    if len(unmatched) > len(named):
        note("batch.actions.elsewhere", n=len(unmatched) - len(named))


def _worker_failed(task: ReportTask, exc: BaseException) -> ReportOutput:
    """The result of an agency whose worker itself failed (died twice, was lost)."""
    return ReportOutput(
        AgencyResult(
            task.agency_id,
            task.agency_name,
            Path(task.html).name,
            status="failed",
            error=f"worker failed: {type(exc).__name__}: {exc}",
            finished_at=_now(),
        )
    )


def run_one_remote(task: ReportTask, round_pickle: bytes, notebook_json: str) -> ReportOutput:
    """:func:`run_one` on a Dask worker, which may be another machine: the round cache
    and the notebook come with the task (the client's paths mean nothing there) and are
    kept in the worker's temporary folder, once per content; the report comes back to
    the client, which writes it."""
    folder = Path(tempfile.gettempdir()) / "guidekit-dask"
    folder.mkdir(exist_ok=True)
    cache = _local_copy(folder, round_pickle, ".pkl")
    notebook = _local_copy(folder, notebook_json.encode("utf-8"), ".ipynb")
    here = dataclasses.replace(
        task,
        notebook=str(notebook),
        cwd=str(folder),
        kernel_log=None,
        parameters={**task.parameters, "cache": str(cache)},
    )
    return run_one(here)


def _local_copy(folder: Path, content: bytes, suffix: str) -> Path:
    path = folder / f"{hashlib.sha256(content).hexdigest()[:32]}{suffix}"
    if not path.is_file():
        write_atomic(path, content)
    return path


def _execute_dask(
    tasks: list[ReportTask],
    scheduler: str,
    workers: int | None,
    tell: Callable[[tuple[str, str]], None] | None,
) -> Iterator[ReportOutput]:
    """The tasks on a Dask distributed cluster: ``scheduler`` is ``tcp://HOST:PORT`` of
    a running scheduler, or ``local`` for a :class:`distributed.LocalCluster` of
    ``workers`` processes started here (its dashboard address is told).  Each worker
    thread keeps one warm kernel; reports come back to this process (it writes them).
    Stopping the run cancels what is still queued and closes what was started here."""
    try:
        import distributed
    except ImportError:
        raise GuidekitError(
            i18n.t("batch.dask.missing", "en"), zh=i18n.t("batch.dask.missing", "zh-TW")
        ) from None
    cluster = None
    try:
        if scheduler == "local":
            cluster = distributed.LocalCluster(
                n_workers=max(1, workers or 1),
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            )
            client = distributed.Client(cluster)
            if tell is not None:
                values = {"url": client.dashboard_link}
                tell(
                    (
                        i18n.t("batch.dask.dashboard", "zh-TW", **values),
                        i18n.t("batch.dask.dashboard", "en", **values),
                    )
                )
        elif isinstance(scheduler, str):
            client = distributed.Client(scheduler, timeout="30s")
        else:  # a Client or a cluster object given by the caller (tests, notebooks)
            client = distributed.Client(scheduler)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        values = {"scheduler": scheduler, "reason": f"{type(exc).__name__}: {exc}"}
        raise GuidekitError(
            i18n.t("batch.dask.connect", "en", **values),
            zh=i18n.t("batch.dask.connect", "zh-TW", **values),
        ) from None
    futures: list[Any] = []
    try:
        round_pickle = Path(tasks[0].parameters["cache"]).read_bytes()
        notebook_json = Path(tasks[0].notebook).read_text(encoding="utf-8")
        shared = client.scatter(round_pickle, broadcast=True, hash=True)
        futures = client.map(
            run_one_remote,
            tasks,
            round_pickle=shared,
            notebook_json=notebook_json,
            pure=False,
            key=[f"guidekit-report-{uuid.uuid4().hex}" for _ in tasks],
        )
        for future in distributed.as_completed(futures):
            try:
                output = future.result()
            except Exception as exc:  # the worker itself failed (died twice, lost)
                task = tasks[futures.index(future)]
                output = _worker_failed(task, exc)
            yield output
    finally:
        if futures:
            client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


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
    overall["band_label"] = overall["band"].map(lambda b: fw.band_label(b, lang))
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
            {
                "round": data.round,
                "agency_id": r.agency_id,
                "agency_name": r.agency_name,
                "status": r.status,
                "report": "",
            }
            for r in missing
        ]
    )
    frame = pd.concat([overall, extra], ignore_index=True) if missing else overall
    frame = frame.reindex(columns=SUMMARY_COLUMNS)
    for column in ("n_respondents", "n_major_not_met", "n_disagreements"):
        frame[column] = frame[column].astype("Int64")
    return frame


def excel_text(value: str) -> str:
    """A CSV cell that Excel opens as this exact text: ``="0012"``.

    Excel reads a CSV cell that looks like a number, a date or a fraction as one
    (``0012`` → 12, ``1-2`` → 2 Jan) and offers no per-column type when a CSV
    file is double-clicked; a cell written as the formula ``="…"`` is a text
    constant it keeps as written (quotes inside doubled, so the cell can only
    ever be that string).  LibreOffice does the same with "Evaluate formulas"
    on; other readers see the ``="…"`` and can strip it (``manifest.json``
    holds the plain codes).
    """
    return '="' + value.replace('"', '""') + '"'


def _write_summary(out: Path, data: RoundData, results: list[AgencyResult], lang: str) -> Path:
    """``summary.csv``: UTF-8 with BOM (Excel on zh-TW Windows reads the names right),
    text that starts like a formula escaped (:func:`guidekit.files.excel_safe`), and
    agency codes written as text constants (:func:`excel_text`: ``0012`` stays 0012)."""
    path = out / "summary.csv"
    table = excel_safe(_summary_frame(data, results, lang))
    table["agency_id"] = table["agency_id"].map(lambda a: excel_text(str(a)))
    _write_atomic(path, table_csv(table, excel=False))  # escaped above, before the ="…" codes
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
    status: dict[str, Any] | None = None,
    digests: dict[str, str] | None = None,
) -> Path:
    """``manifest.json``: what the run is (inputs, key, state) and each agency's
    result as it finished (``status`` ok / failed / pending, file, time, ``key``:
    what its report is made from, :mod:`guidekit.report.incremental`); ``digests``
    the inputs every report shares (framework, notebook, guidekit)."""
    fw = data.scores.framework
    status = status or {"state": "complete", "run": None, "interrupted": None}
    manifest = {
        "guidekit": __version__,
        # running | complete | interrupted: a folder whose manifest is not "complete"
        # lacks the reports of its pending agencies
        "state": status["state"],
        "run": status["run"],
        "interrupted": status["interrupted"],
        "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "report_date": today.isoformat(),
        "framework": {"id": fw.id, "version": fw.version},
        "round": data.round,
        "lang": lang,
        "run_key": key,
        "digests": digests or {},
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
            "failed": sum(r.status == "failed" for r in results),
            "pending": sum(r.status == "pending" for r in results),
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
    status: dict[str, Any] | None = None,
) -> Path:
    fw = data.scores.framework
    summary = _summary_frame(data, results, lang, rounded=False)
    banner = _state_banner(status, lang)
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
                "band": fw.band_label(record.get("band"), lang),
                "file": result.file if result.status == "ok" else "",
                "pdf": pdf_name(result.file)
                if result.status == "ok" and (out / pdf_name(result.file)).is_file()
                else "",
                "status": result.status,
                "error": result.error or "",
            }
        )
    html = render(
        "index.html.j2",
        t=lambda key, **kw: i18n.t(key, lang, **{**fw.names(lang), **kw}),
        lang=lang,
        css=stylesheet(),
        page_label=css_string(f"{i18n.t('index.title', lang, **fw.names(lang))} · {data.round}"),
        title=i18n.t("index.title", lang, **fw.names(lang)),
        intro=i18n.t(
            "index.intro",
            lang,
            rounds=data.round,
            n=len(results),
            ok=sum(r.status == "ok" for r in results),
            failed=sum(r.status == "failed" for r in results),
            date=i18n.format_date(today, lang),
        ),
        banner=banner,
        synthetic=data.responses.synthetic,
        framework=f"{fw.meta.text('title', lang)} {fw.version}",
        rows=rows,
        reading=_index_reading(fw, {r["instrument"] for r in rows if r["instrument"]}, lang),
        unread=unread or [],
    )
    path = out / "index.html"
    _write_atomic(path, html)
    return path


def _state_banner(status: dict[str, Any] | None, lang: str) -> str:
    """What the index says above its table when the run has not finished."""
    if not status or status.get("state") == "complete":
        return ""
    run = status.get("run") or {}
    fields = _holder_fields(run, lang)
    if status.get("state") == "interrupted":
        stopped = status.get("interrupted") or {}
        return i18n.t(
            "index.state.interrupted",
            lang,
            when=stopped.get("at", ""),
            reason=stopped.get("reason", ""),
            command=fields["command"],
        )
    return i18n.t("index.state.running", lang, **fields)


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
