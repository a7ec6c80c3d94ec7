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
from .files import write_atomic
from .html import render, stylesheet
from .paths import notebooks_dir
from .problems import GuidekitError
from .report import RoundData, load_round

#: Seconds a single notebook cell may run before the agency is marked failed.
DEFAULT_TIMEOUT = 600

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_WINDOWS_RESERVED = (
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)

SUMMARY_COLUMNS = [
    "round",
    "agency_id",
    "agency_name",
    "service",
    "instrument",
    "n_respondents",
    "score",
    "band",
    "coverage",
    "quartile",
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

    @property
    def failed(self) -> list[AgencyResult]:
        return [r for r in self.results if r.status != "ok"]

    @property
    def ok(self) -> bool:
        return not self.failed


def report_filenames(agency_ids: Iterable[str]) -> dict[str, str]:
    """A safe, unique HTML file name per agency id.

    An id of ASCII letters, digits, ``-`` and ``_`` (at most 64, not a Windows
    device name) is used as it is; any other id becomes an ASCII slug plus a
    hash of the exact id.  Names that would collide on a case-insensitive file
    system (Windows, macOS) all get the hash.  The raw agency *name* is never
    used.  Injective: two different ids never share a file.
    """
    ids = list(dict.fromkeys(agency_ids))

    def digest(agency_id: str) -> str:
        return hashlib.sha256(agency_id.encode("utf-8")).hexdigest()[:10]

    stems: dict[str, str] = {}
    for agency_id in ids:
        if _SAFE_ID.match(agency_id) and agency_id.casefold() not in _WINDOWS_RESERVED:
            stems[agency_id] = agency_id
        else:
            ascii_part = unicodedata.normalize("NFKD", agency_id).encode("ascii", "ignore").decode()
            slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_part).strip("-")[:40] or "agency"
            stems[agency_id] = f"{slug}-{digest(agency_id)}"
    folded: dict[str, list[str]] = {}
    for agency_id, stem in stems.items():
        folded.setdefault(stem.casefold(), []).append(agency_id)
    for group in folded.values():
        if len(group) > 1:
            for agency_id in group:
                if not stems[agency_id].endswith(digest(agency_id)):
                    stems[agency_id] = f"{stems[agency_id]}-{digest(agency_id)}"
    return {agency_id: f"{stem}.html" for agency_id, stem in stems.items()}


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
    ``AgencyResult`` with ``status="failed"``.  A kernel that fails to start is
    retried once (see :mod:`guidekit.kernels`); a failing cell is not.
    """
    from . import kernels

    started = time.perf_counter()
    log = Path(task["log"])
    log.parent.mkdir(parents=True, exist_ok=True)
    kernels.kernel_log = str(log.parent / "kernels.log")
    result = _attempt(task, log)
    if result.status != "ok" and result.cell is None and "kernel" in (result.error or "").lower():
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
    out: str | Path = "reports/example",
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
) -> BatchResult:
    """Write one HTML report per agency of a round, plus ``index.html``,
    ``summary.csv`` and ``manifest.json``.

    Parameters
    ----------
    responses : path(s), optional
        Answer files or folders; default the bundled example (latest round).
    out : path
        Output folder (created).
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
        Keep every executed notebook in ``out/_notebooks`` (failed ones are always kept).
    progress : bool, optional
        Show a progress bar; default: only on a terminal.
    today : date, optional
        The date printed in the reports (default today).
    notebook : path, optional
        The report notebook; default ``notebooks/report.ipynb``.

    Returns
    -------
    BatchResult

    Raises
    ------
    ResponsesError
        If the answers are invalid (nothing is written).
    GuidekitError
        If the round is missing or ``lang`` is unsupported.
    """
    started = time.perf_counter()
    lang = i18n.normalise_lang(lang)
    today = today or dt.date.today()
    data = load_round(responses, framework, round)
    # absolute: papermill changes the working directory while a notebook runs
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    names = (
        data.scores.overall.drop_duplicates("agency_id")
        .set_index("agency_id")["agency_name"]
        .to_dict()
    )
    wanted = list(dict.fromkeys(agencies)) if agencies else sorted(names, key=_natural)
    files = report_filenames(wanted)
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
        results += _execute(tasks, workers, progress)

    order = {a: n for n, a in enumerate(wanted)}
    results.sort(key=lambda r: order[r.agency_id])
    _tidy_logs(out / "_notebooks", results)
    duration = round_s(time.perf_counter() - started)
    summary = _write_summary(out, data, results)
    manifest = _write_manifest(out, data, results, lang, duration, today)
    index = _write_index(out, data, results, lang, today)
    return BatchResult(out, data.round, results, index, summary, manifest, duration)


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


def _summary_frame(data: RoundData, results: list[AgencyResult]) -> pd.DataFrame:
    by_id = {r.agency_id: r for r in results}
    overall = data.scores.overall
    overall = overall[overall["agency_id"].isin(by_id)].copy()
    overall["report"] = overall["agency_id"].map(
        lambda a: by_id[a].file if by_id[a].status == "ok" else ""
    )
    overall["status"] = overall["agency_id"].map(lambda a: by_id[a].status)
    overall["score"] = overall["score"].round(2)
    overall["coverage"] = overall["coverage"].round(4)
    missing = [r for r in results if r.agency_id not in set(overall["agency_id"])]
    extra = pd.DataFrame(
        [
            {"round": data.round, "agency_id": r.agency_id, "status": r.status, "report": ""}
            for r in missing
        ]
    )
    frame = pd.concat([overall, extra], ignore_index=True) if missing else overall
    return frame.reindex(columns=SUMMARY_COLUMNS)


def _write_summary(out: Path, data: RoundData, results: list[AgencyResult]) -> Path:
    path = out / "summary.csv"
    # UTF-8 with BOM so Excel on zh-TW Windows opens the Chinese names correctly.
    _write_atomic(path, _summary_frame(data, results).to_csv(index=False), encoding="utf-8-sig")
    return path


def _write_manifest(
    out: Path,
    data: RoundData,
    results: list[AgencyResult],
    lang: str,
    duration: float,
    today: dt.date,
) -> Path:
    fw = data.scores.framework
    manifest = {
        "guidekit": __version__,
        "generated_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "report_date": today.isoformat(),
        "framework": {"id": fw.id, "version": fw.version},
        "round": data.round,
        "lang": lang,
        "synthetic": data.responses.synthetic,
        "inputs": [
            {"file": s.file, "encoding": s.encoding, "rows": s.rows} for s in data.responses.sources
        ],
        "input_warnings": [p.format() for p in data.responses.problems],
        "totals": {
            "agencies": len(results),
            "ok": sum(r.status == "ok" for r in results),
            "failed": sum(r.status != "ok" for r in results),
            "duration_s": duration,
        },
        "agencies": [dataclasses.asdict(r) for r in results],
    }
    path = out / "manifest.json"
    _write_atomic(path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return path


def _write_index(
    out: Path, data: RoundData, results: list[AgencyResult], lang: str, today: dt.date
) -> Path:
    fw = data.scores.framework
    summary = _summary_frame(data, results)
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
    )
    path = out / "index.html"
    _write_atomic(path, html)
    return path


def _band_label(fw: Any, code: Any, lang: str) -> str:
    if not isinstance(code, str):
        return "—"
    for band in fw.bands:
        if band.code == code:
            return band.text("label", lang)
    return code
