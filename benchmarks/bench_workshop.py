"""Workshop latency: from choosing an answer to "saved and chart updated".

    python benchmarks/bench_workshop.py [--answers N] [--instrument service]

A questionnaire page for the service form (94 items) is built without a
browser; each measured step sets one item's answer the way a click does
(``RadioButtons.value``), which runs the page's observer: the change is
written to a fresh SQLite store (one ``BEGIN IMMEDIATE`` transaction,
``synchronous=FULL``), then progress, the principle scores
(:func:`guidekit.scoring.respondent_scores`) and the radar chart are redrawn.
The browser's own rendering and the websocket are not included, nor the deliberate
rest before saving in a kernel (:data:`guidekit.widgets.questionnaire.SETTLE_S`,
0.4 s, so arrow keys passing over options save only where they stop): this is
the work after it.

Baselines measured in the same run, on the same machine:

* **insert** — the store write alone (``store.record``): the floor, what saving
  costs without any redrawing;
* **insert, default checkpoints** — the same write in a store left at SQLite's
  default checkpoint interval (1000 WAL pages, i.e. a whole workshop in the
  ``-wal`` file) instead of guidekit's
  :data:`~guidekit.store.WAL_AUTOCHECKPOINT_PAGES`: what the frequent
  checkpoints cost;
* **rescore** — the naive page: after the write, re-read the whole store and
  run the full :func:`guidekit.score` before drawing the same chart.

Prints the median and 90th percentile in milliseconds and the ratios to the
page's median, with the target (≤ 150 ms).  A benchmark, not a test: numbers
vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MS = 150.0


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p90 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=120, help="Measured answers per variant.")
    parser.add_argument("--instrument", default="service", help="Form (service: 94 items).")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="guidekit-bench-") as tmp:
        os.environ["GUIDEKIT_WORKSHOP_LOG"] = str(Path(tmp) / "workshop.log")
        from guidekit import scoring
        from guidekit.render import charts
        from guidekit.store import Change, Sheet, open_store
        from guidekit.widgets.model import Questionnaire, principle_label
        from guidekit.widgets.questionnaire import QuestionnaireView

        store = open_store(Path(tmp) / "bench.sqlite")
        fw = store.framework
        bank = [i.id for i in fw.items[args.instrument]]
        codes = ("Y", "P", "N")

        def answers(k: int) -> tuple[str, str]:
            # cycle through the items; each pass moves every item to another code
            item = bank[k % len(bank)]
            return item, codes[(k // len(bank) + k) % len(codes)]

        # The page, as the browser would drive it (one warm-up answer first).
        sheet = Sheet("2026", "BENCH", "測試機關", "", args.instrument, "page")
        view = QuestionnaireView(Questionnaire(store, sheet))
        view.answer(bank[0], "N")
        page: list[float] = []
        for k in range(args.answers):
            item, code = answers(k + 1)
            started = time.perf_counter()
            view.answer(item, code)
            page.append(time.perf_counter() - started)
            assert view.model.state[item].answer == code  # saved (and the chart redrawn)

        # Baseline 1: the store write alone.
        raw_sheet = Sheet("2026", "BENCH", "測試機關", "", args.instrument, "insert")
        insert: list[float] = []
        for k in range(args.answers):
            item, code = answers(k)
            started = time.perf_counter()
            store.record(Change(raw_sheet, item, code))
            insert.append(time.perf_counter() - started)

        # Baseline 1b: the same write with SQLite's default checkpoint interval.
        lazy = open_store(Path(tmp) / "default-checkpoints.sqlite")
        lazy._db.execute("PRAGMA wal_autocheckpoint = 1000")  # type: ignore[attr-defined]
        lazy_insert: list[float] = []
        for k in range(args.answers):
            item, code = answers(k)
            started = time.perf_counter()
            lazy.record(Change(raw_sheet, item, code))
            lazy_insert.append(time.perf_counter() - started)
        lazy.close()

        # Baseline 2: the naive page: write, re-read the store, full rescore, same chart.
        naive_sheet = Sheet("2026", "BENCH", "測試機關", "", args.instrument, "rescore")
        rescore: list[float] = []
        for k in range(args.answers):
            item, code = answers(k)
            started = time.perf_counter()
            store.record(Change(naive_sheet, item, code))
            responses = store.responses(respondent="rescore")
            scores = scoring.score(responses)
            mine = scores.principles
            labels = [principle_label(fw, pid, "zh-TW") for pid in mine["principle_id"]]
            charts.radar(
                labels,
                mine["score"].tolist(),
                None,
                title="t",
                description="d",
                legend=("a", "b"),
                no_score="—",
            )
            rescore.append(time.perf_counter() - started)
        store.close()

    page_med, page_p90 = _ms(page)
    rows = [
        ("page: answer → saved + chart", page),
        ("baseline insert: store write only", insert),
        ("baseline insert, SQLite default checkpoints", lazy_insert),
        ("baseline rescore: write + re-read + full score", rescore),
    ]
    print(
        f"workshop latency, {args.instrument} form ({len(bank)} items), {args.answers} answers "
        f"per variant, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    print(f"{'variant':50} {'median ms':>10} {'p90 ms':>9} {'ratio to page':>14}")
    for name, samples in rows:
        med, p90 = _ms(samples)
        print(f"{name:50} {med:10.1f} {p90:9.1f} {med / page_med:14.2f}")
    verdict = "meets" if page_med <= TARGET_MS else "MISSES"
    print(
        f"target: median ≤ {TARGET_MS:.0f} ms → {verdict} ({page_med:.1f} ms; p90 {page_p90:.1f} ms)"
    )
    from guidekit.widgets.questionnaire import SETTLE_S

    print(
        f"in a kernel a choice first rests {SETTLE_S * 1000:.0f} ms (arrow keys), not counted here"
    )


if __name__ == "__main__":
    main()
