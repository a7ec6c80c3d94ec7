"""Writing one fillable form per agency of the bundled register (``guidekit form --all``).

    python benchmarks/bench_forms.py [--agencies 55] [--repeat 3]

Measured in one run, on one machine, for the first ``--agencies`` agencies of the
bundled register and the service form (附件2):

* **csv** — the baseline: the plain CSV long table (one row per agency × check item,
  answers blank) written with the csv module, what a facilitator could send instead;
* **ods** / **xlsx** — :func:`guidekit.forms.write_forms`: the same agencies' forms
  with protection, drop-downs, the reason check and print setup.

Prints seconds per form (median of ``--repeat`` runs, wall time) and the ratio to the
CSV baseline.  A benchmark, not a test: numbers vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import tempfile
import time
from pathlib import Path

from guidekit.forms import write_forms
from guidekit.framework import load_framework
from guidekit.intake import agencies


def _csv(folder: Path, fw, table) -> None:
    for row in table.itertuples(index=False):
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(["評估回合", "機關代碼", "機關名稱", "填答者", "題號", "答案", "說明"])
        for item in fw.items["service"]:
            writer.writerow(["2026", row.agency_id, row.name_zh, "", item.id, "", ""])
        (folder / f"{row.agency_id}.csv").write_bytes(buffer.getvalue().encode("utf-8-sig"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agencies", type=int, default=0, help="0: the whole register")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fw = load_framework()
    table = agencies()
    if args.agencies:
        table = table.head(args.agencies)
    n = len(table)
    timings: dict[str, list[float]] = {"csv": [], "ods": [], "xlsx": []}
    for _ in range(args.repeat):
        for kind in timings:
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                if kind == "csv":
                    _csv(Path(tmp), fw, table)
                else:
                    write_forms(tmp, fw, table, round="2026", instrument="service", fmt=kind)
                timings[kind].append(time.perf_counter() - started)
    base = statistics.median(timings["csv"]) / n
    print(f"{n} agencies, {len(fw.items['service'])} check items, median of {args.repeat} runs")
    print(f"{'format':<6} {'s/form':>9} {'total s':>9} {'× csv':>8}")
    for kind, values in timings.items():
        total = statistics.median(values)
        print(f"{kind:<6} {total / n:9.4f} {total:9.2f} {total / n / base:8.1f}")


if __name__ == "__main__":
    main()
