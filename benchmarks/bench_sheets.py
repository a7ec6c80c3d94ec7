"""Reading a workbook whose declared size is huge: time follows the cells that hold data.

    python benchmarks/bench_sheets.py [--repeat 5] [--rows 50000]

Measured in one run, on one machine, with :func:`guidekit.tabular.read_table`:

* **normal** — ``x3_visible_only.xlsx`` of the hidden-rows case: 182 answers, 10 columns,
  declared size A1:J183;
* **runaway** — ``runaway-wide.xlsx`` of the runaway-sheet-dimension case: the same 182
  answers plus two formatted empty cells at XFD2 and A1048576, so the sheet declares
  A1:XFD1048576 (17 billion cells).  Before the fix this read for about 4 hours;
* **runaway, generated** — a copy of the normal file with formatted empty cells added at
  row 1,048,576 and column XFD, to show the ratio does not depend on the case file;
* **large** — ``--rows`` real answer rows (10 columns), for the throughput in cells per
  second and so the time a sheet at :data:`guidekit.tabular.MAX_CELLS` would take
  before it is refused.

Prints the median CPU time of ``--repeat`` reads and the ratio to **normal**.  A
benchmark, not a test: numbers vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import PatternFill

from guidekit.intake.tabular import MAX_CELLS, read_table

CASES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cases"
NORMAL = CASES / "hidden-rows" / "x3_visible_only.xlsx"
RUNAWAY = CASES / "runaway-sheet-dimension" / "runaway-wide.xlsx"


def cpu_seconds(path: Path, repeat: int) -> tuple[float, int]:
    times, rows = [], 0
    for _ in range(repeat):
        started = time.process_time()
        table = read_table(path)
        times.append(time.process_time() - started)
        rows = len(table.rows)
    return statistics.median(times), rows


def runaway_copy(folder: Path) -> Path:
    workbook = load_workbook(NORMAL)
    ws = workbook.active
    fill = PatternFill("solid", fgColor="FFFF00")
    ws.cell(row=3, column=16384).fill = fill
    ws.cell(row=1048576, column=2).fill = fill
    path = folder / "runaway-generated.xlsx"
    workbook.save(path)
    return path


def large(folder: Path, rows: int) -> Path:
    source = load_workbook(NORMAL, read_only=True)
    template = [list(r) for r in source.active.iter_rows(values_only=True)]
    source.close()
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet("填答")
    ws.append(template[0])
    for n in range(rows):
        row = list(template[1 + n % (len(template) - 1)])
        row[5] = f"填答者{n // 182}"  # a new respondent every 182 rows: no duplicates
        ws.append(row)
    path = folder / "large.xlsx"
    workbook.save(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        normal, n_rows = cpu_seconds(NORMAL, args.repeat)
        print(f"normal                 {normal * 1000:8.1f} ms  ({n_rows} rows)")
        for name, path in (
            ("runaway (case file)", RUNAWAY),
            ("runaway (generated)", runaway_copy(folder)),
        ):
            seconds, n_rows = cpu_seconds(path, args.repeat)
            print(
                f"{name:22} {seconds * 1000:8.1f} ms  ({n_rows} rows)  "
                f"ratio to normal {seconds / normal:5.2f}"
            )
        big = large(folder, args.rows)
        seconds, n_rows = cpu_seconds(big, 1)
        cells = (n_rows + 1) * 10
        rate = cells / seconds
        print(
            f"large                  {seconds * 1000:8.1f} ms  ({n_rows} rows, {cells:,} cells)  "
            f"ratio to normal {seconds / normal:5.1f}; {rate:,.0f} cells/s, so "
            f"MAX_CELLS ({MAX_CELLS:,}) ≈ {MAX_CELLS / rate:,.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
