"""Batch reports at scale: a 300-agency round against the naive chain and a kernel-free floor.

    python benchmarks/bench_batch_scale.py [--agencies 300] [--naive-sample 5]

In one run, on one synthetic round made by the seeded example script
(``data/examples/make_example.py --agencies N``), this script times

* **naive** — per agency of a sample, the ``papermill`` CLI then the ``jupyter
  nbconvert --to html`` CLI (two new Python processes and a new kernel per report);
* **guidekit** — ``guidekit reports`` with default settings on every agency
  (a subprocess, start-up and reading the round included);
* **floor** — the same report rendered without a kernel, papermill or nbconvert:
  :class:`guidekit.report.AgencyReport` sections joined into a page by one Jinja2
  template, in one process (reading and scoring the round included);
* **rerun** — ``guidekit reports`` again with nothing changed, and again after one
  agency's answers changed (its name in every row of its file).

It prints seconds per report (the whole command's wall time divided by the number
of reports; for naive, the median agency), both ratios against the targets, the
peak memory of each run's whole process tree (the sum of the resident memory of the
process and all its descendants, sampled every 0.1 s), and the reports' sizes.
A benchmark, not a test: numbers vary with the machine and its load.

Targets (issue 13, 2 cores): guidekit >= 15x faster per report than naive, within 2.5x
of the floor, peak memory <= 1.5 GB, each report <= 150 KB, a rerun with nothing
changed <= 5 % of the first run's time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from naive_chain import naive_commands  # noqa: E402

FLOOR = r"""
import json, sys, time
started = time.perf_counter()
import jinja2
from guidekit.render.html import stylesheet
from guidekit.report import AgencyReport, load_round
page = jinja2.Environment(autoescape=True).from_string(
    "<!DOCTYPE html><html lang='{{ lang }}'><head><meta charset='utf-8'>"
    "<title>{{ title }}</title><style>{{ css | safe }}</style></head><body><main>"
    "{% for s in sections %}{{ s }}{% endfor %}</main></body></html>"
)
data = load_round(sys.argv[1])
ids = sorted(data.scores.overall["agency_id"].unique())
times = []
for agency_id in ids:
    t = time.perf_counter()
    report = AgencyReport(data, agency_id, "zh-TW")
    html = page.render(lang="zh-TW", title=report.agency_name, css=stylesheet(),
                       sections=report.sections())
    with open(f"{sys.argv[2]}/{len(times)}.html", "w", encoding="utf-8") as fh:
        fh.write(html)
    times.append(time.perf_counter() - t)
print(json.dumps({"n": len(ids), "total": time.perf_counter() - started, "times": times}))
"""


class PeakMemory:
    """Peak of the summed RSS of a process and all its descendants (sampled)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc, self.peak = proc, 0
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        try:
            root = psutil.Process(self.proc.pid)
        except psutil.NoSuchProcess:
            return
        while self.proc.poll() is None:
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            self.peak = max(self.peak, total)
            time.sleep(0.1)


def run(args: list[str]) -> tuple[float, int, str]:
    """Run a command; (wall seconds, peak tree RSS bytes, stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    memory = PeakMemory(proc)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    memory.thread.join(1)
    if proc.returncode != 0:
        sys.exit(f"{args[:4]} failed ({proc.returncode}):\n{err[-3000:]}")
    return seconds, memory.peak, out


def naive(agencies: list[str], responses: Path, out: Path) -> tuple[list[float], int]:
    times, peak = [], 0
    for agency_id in agencies:
        started = time.perf_counter()
        for command in naive_commands(agency_id, responses, out):
            _, mem, _ = run(command)
            peak = max(peak, mem)
        times.append(time.perf_counter() - started)
    return times, peak


def reports(responses: Path, out: Path) -> tuple[float, int, dict]:
    seconds, peak, _ = run(
        [
            sys.executable,
            "-m",
            "guidekit",
            "reports",
            "--responses",
            str(responses),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return seconds, peak, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=300, help="agencies in the round")
    parser.add_argument("--naive-sample", type=int, default=5, help="agencies run the naive way")
    args = parser.parse_args()
    for tool in ("papermill", "jupyter"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not on PATH: pip install -e . first")

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="guidekit-bench-") as tmp:
        tmp = Path(tmp)
        responses = tmp / "round"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "data/examples/make_example.py"),
                "--agencies",
                str(args.agencies),
                "--out",
                str(responses),
            ],
            check=True,
            capture_output=True,
        )
        ids = sorted(p.stem for p in responses.glob("*.csv"))
        n = len(ids)
        step = max(1, n // args.naive_sample)
        sample = ids[::step][: args.naive_sample]

        out = tmp / "guidekit"
        t_gk, mem_gk, manifest = reports(responses, out)
        durations = [a["duration_s"] for a in manifest["agencies"]]
        sizes = [p.stat().st_size for p in out.glob("*.html") if p.name != "index.html"]
        assert manifest["totals"]["ok"] == n, manifest["totals"]

        t_again, _mem_again, again = reports(responses, out)
        redone_again = sum(not a["reused"] for a in again["agencies"])

        changed = responses / f"{ids[n // 2]}.csv"
        raw = changed.read_bytes()
        encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "cp950"
        text = raw.decode(encoding)
        name = text.splitlines()[1].split(",")[2]
        changed.write_text(text.replace(name, name + "（更名）"), encoding=encoding)
        t_one, _, one = reports(responses, out)
        redone_one = [a["agency_id"] for a in one["agencies"] if not a["reused"]]

        floor_out = tmp / "floor"
        floor_out.mkdir()
        t_floor, mem_floor, printed = run(
            [sys.executable, "-c", FLOOR, str(responses), str(floor_out)]
        )
        floor = json.loads(printed.strip().splitlines()[-1])

        naive_out = tmp / "naive"
        naive_out.mkdir()
        t_naive, mem_naive = naive(sample, responses, naive_out)

    load_after = os.getloadavg()[0]
    per_gk = t_gk / n
    per_floor = t_floor / floor["n"]
    per_naive = statistics.median(t_naive)
    print(f"round: {n} agencies (make_example.py --agencies {args.agencies}), 2 workers default")
    print(
        f"machine: {os.cpu_count()} cores, load average {load_before:.1f} at the start, "
        f"{load_after:.1f} at the end (other work on the machine slows every pipeline)"
    )
    print(f"{'pipeline':<52}{'s/report':>10}{'total s':>10}{'peak tree RSS MB':>18}")
    print(
        f"{'naive: papermill CLI + nbconvert CLI (median of ' + str(len(sample)) + ')':<52}"
        f"{per_naive:>10.3f}{sum(t_naive):>10.1f}{mem_naive / 1e6:>18.0f}"
    )
    print(
        f"{'guidekit reports (whole command / reports)':<52}{per_gk:>10.3f}{t_gk:>10.1f}{mem_gk / 1e6:>18.0f}"
    )
    print(
        f"{'floor: kernel-free render, 1 process (whole / reports)':<52}"
        f"{per_floor:>10.3f}{t_floor:>10.1f}{mem_floor / 1e6:>18.0f}"
    )
    print(
        f"medians per report: guidekit in its worker {statistics.median(durations):.3f} s, "
        f"floor loop {statistics.median(floor['times']):.3f} s"
    )
    print(f"speed-up vs naive: {per_naive / per_gk:.1f}x (target >= 15x)")
    print(f"guidekit / floor: {per_gk / per_floor:.2f}x (target <= 2.5x)")
    print(f"peak memory, guidekit's whole process tree: {mem_gk / 1e9:.2f} GB (target <= 1.5 GB)")
    print(
        f"report sizes: median {statistics.median(sizes) / 1e3:.0f} KB, "
        f"max {max(sizes) / 1e3:.0f} KB (target <= 150 KB)"
    )
    print(
        f"rerun, nothing changed: {t_again:.1f} s = {100 * t_again / t_gk:.1f} % of the first run "
        f"(target <= 5 %), {redone_again} report(s) made again"
    )
    print(
        f"rerun, one agency's answers changed: {t_one:.1f} s, made again: {redone_one} "
        f"(changed: {ids[n // 2]})"
    )


if __name__ == "__main__":
    main()
