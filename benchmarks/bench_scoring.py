"""Scoring at scale: guidekit's scoring against a straightforward pandas group-by.

    python benchmarks/bench_scoring.py [--agencies 1000] [--respondents 5] [--repeat 3]

Makes one synthetic round in memory (seeded): ``--agencies`` agencies, each answering
one self-assessment form of the bundled framework (~90 check items) with
``--respondents`` respondents (answers Y / P / N, about 3 % 不適用 and 1 %
unanswered), then times, in this run:

* **guidekit** — :func:`guidekit.scoring.score` (items, principles, dimensions,
  overall, bands, coverage, peers and quartiles);
* **pandas group-by** — the obvious pandas version of the core of the same rules:
  answers mapped to values, the median per item, N/A when N/A answers outnumber
  the others, item scores on 0–100, the mean per principle and the mean of the
  principles per assessment (no bands, coverage, peers or quartiles).

Prints the best of ``--repeat`` runs of each and their ratio.  Target (issue 13):
guidekit scores 1,000 agencies × ~90 items × 5 respondents in ≤ 1 s.  A benchmark,
not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from guidekit.answers import Responses  # noqa: E402
from guidekit.framework import load_framework  # noqa: E402
from guidekit.scoring import score  # noqa: E402


def synthetic_round(n_agencies: int, n_respondents: int, seed: int = 13) -> Responses:
    """A canonical answer table (every column a string, as the intake gives it)."""
    fw = load_framework()
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_agencies):
        instrument = "plan" if k % 3 == 0 else "service"
        items = [i.id for i in fw.items[instrument]]
        n = len(items) * n_respondents
        level = rng.normal(0, 0.6)
        latent = level + rng.normal(0, 0.7, n)
        answer = np.where(latent > 0.5, "Y", np.where(latent > -0.5, "P", "N")).astype(object)
        answer[rng.random(n) < 0.03] = "NA"
        answer[rng.random(n) < 0.01] = None
        parts.append(
            pd.DataFrame(
                {
                    "round": "2026",
                    "agency_id": f"A{k:05d}",
                    "agency_name": f"機關{k:05d}",
                    "service": "線上申辦服務",
                    "instrument": instrument,
                    "respondent": np.tile([f"R{r}" for r in range(n_respondents)], len(items)),
                    "item_id": np.repeat(items, n_respondents),
                    "answer": answer,
                    "note": "",
                    "answered_at": "2026-10-01T09:30:00+08:00",
                    "framework_version": fw.version,
                    "source_file": "synthetic.csv",
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["source_row"] = pd.array(np.arange(2, len(frame) + 2), dtype="Int64")
    for column in frame.columns.drop("source_row"):
        frame[column] = frame[column].astype("string")
    return Responses(frame=frame, framework=fw)


def pandas_groupby(responses: Responses) -> pd.Series:
    """Overall score per assessment, the straightforward pandas way (equal weights)."""
    fw = responses.framework
    frame = responses.frame
    values = frame["answer"].map({"Y": 2.0, "P": 1.0, "N": 0.0})
    frame = frame.assign(value=values, is_na=frame["answer"].eq("NA").fillna(False))
    key = ["round", "agency_id", "service", "instrument", "item_id"]
    items = frame.groupby(key).agg(
        value=("value", "median"), n_answered=("value", "count"), n_na=("is_na", "sum")
    )
    items.loc[items["n_na"] > items["n_answered"], "value"] = np.nan
    items["score"] = items["value"] / 2 * 100
    bank = fw.items_frame().set_index("item_id")["principle_id"]
    items = items.reset_index()
    items["principle_id"] = items["item_id"].map(bank)
    principles = items.groupby(["round", "agency_id", "service", "instrument", "principle_id"])[
        "score"
    ].mean()
    return principles.groupby(["round", "agency_id", "service", "instrument"]).mean()


def best(function, argument, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function(argument)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=1000)
    parser.add_argument("--respondents", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    responses = synthetic_round(args.agencies, args.respondents)
    rows = len(responses.frame)
    items = rows // args.respondents // args.agencies
    score(responses)  # warm caches (framework tables), as a long-lived process has them
    t_guidekit = best(score, responses, args.repeat)
    t_pandas = best(pandas_groupby, responses, args.repeat)
    print(
        f"round: {args.agencies} agencies x ~{items} items x {args.respondents} respondents "
        f"= {rows:,} answers; best of {args.repeat}"
    )
    print(f"guidekit score():          {t_guidekit:7.3f} s   (target <= 1 s)")
    print(f"straightforward group-by:  {t_pandas:7.3f} s   (core rules only)")
    print(f"ratio guidekit / group-by: {t_guidekit / t_pandas:7.2f}x")


if __name__ == "__main__":
    main()
