"""Batch report cost: guidekit's batch against the naive per-agency CLI pipeline.

    python benchmarks/bench_reports.py [--agencies N] [--workers W]

Both pipelines run on the same bundled example round and the same agencies, in
this run, on this machine:

* **naive** — per agency, the ``papermill`` CLI executes notebooks/report.ipynb
  (re-reading and re-scoring the answers) and the ``jupyter nbconvert --to html
  --no-input`` CLI exports it: two new Python processes and a kernel per report;
* **guidekit** — ``guidekit reports``: the round is read and scored once,
  papermill and nbconvert are imported once per worker, reports run in W worker
  processes.

Each pipeline runs in a fresh process of its own; prints seconds per report
(wall clock), the peak resident memory of the largest process in that pipeline
(bytes, ``getrusage`` maxrss), and the ratios naive / guidekit.  A
benchmark, not a test: numbers vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from naive_chain import naive_commands  # noqa: E402

from guidekit.paths import examples_dir  # noqa: E402
from guidekit.report import load_round  # noqa: E402
from guidekit.report.context import default_responses  # noqa: E402


def peak_rss() -> int:
    """Largest resident set size of this process or any child it waited for, in bytes."""
    kib = max(
        resource.getrusage(who).ru_maxrss
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return kib * 1024  # Linux reports KiB


def naive(agencies: list[str], responses: Path, out: Path) -> float:
    started = time.perf_counter()
    for agency_id in agencies:
        for command in naive_commands(agency_id, responses, out):
            subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def batch(agencies: list[str], responses: Path, out: Path, workers: int = 2) -> float:
    started = time.perf_counter()
    args = [
        sys.executable,
        "-m",
        "guidekit",
        "reports",
        "--responses",
        str(responses),
        "--out",
        str(out),
        "--workers",
        str(workers),
        "--no-progress",
    ]
    for agency_id in agencies:
        args += ["--agency", agency_id]
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(pipeline: str, agencies: list[str], responses: Path, workers: int) -> tuple[float, int]:
    """Run one pipeline in a fresh Python process (this script with ``--run``); (seconds, peak RSS bytes)."""
    args = [
        sys.executable,
        __file__,
        "--run",
        pipeline,
        "--workers",
        str(workers),
        "--responses",
        str(responses),
    ]
    args += ["--ids", json.dumps(agencies)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    seconds, rss = json.loads(out.strip().splitlines()[-1])
    return seconds, rss


def run_one_pipeline(pipeline: str, agencies: list[str], responses: Path, workers: int) -> None:
    """The ``--run`` mode: one pipeline, its output in a temporary folder; prints [seconds, peak RSS]."""
    with tempfile.TemporaryDirectory() as tmp:
        if pipeline == "naive":
            seconds = naive(agencies, responses, Path(tmp))
        else:
            seconds = batch(agencies, responses, Path(tmp) / "out", workers)
    print(json.dumps([seconds, peak_rss()]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=6, help="number of agencies (default 6)")
    parser.add_argument(
        "--workers", type=int, default=2, help="guidekit worker processes (default 2)"
    )
    parser.add_argument("--run", choices=["naive", "batch"], help=argparse.SUPPRESS)
    parser.add_argument("--responses", help=argparse.SUPPRESS)
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_one_pipeline(args.run, json.loads(args.ids), Path(args.responses), args.workers)
        return
    for tool in ("papermill", "jupyter"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not on PATH: pip install -e . first")

    responses = default_responses(examples_dir())
    agencies = sorted(load_round(responses).scores.overall["agency_id"])[: args.agencies]
    n = len(agencies)
    t_batch, rss_batch = measure("batch", agencies, responses, args.workers)
    t_naive, rss_naive = measure("naive", agencies, responses, args.workers)
    print(f"reports: {n} agencies of round {responses.name}, guidekit workers={args.workers}")
    print(f"{'pipeline':<46}{'s/report':>10}{'total s':>10}{'peak RSS bytes':>16}")
    print(
        f"{'naive: papermill CLI + jupyter nbconvert CLI':<46}{t_naive / n:>10.2f}{t_naive:>10.1f}{rss_naive:>16,}"
    )
    print(f"{'guidekit reports':<46}{t_batch / n:>10.2f}{t_batch:>10.1f}{rss_batch:>16,}")
    print(f"time ratio (naive / guidekit): {t_naive / t_batch:.2f}x")
    print(f"peak memory ratio (naive / guidekit): {rss_naive / rss_batch:.2f}x")


if __name__ == "__main__":
    main()
