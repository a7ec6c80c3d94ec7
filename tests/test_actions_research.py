"""Actions in the research API: hand-made cases on the mini framework (two rounds)."""

from __future__ import annotations

import datetime as dt
import math

from guidekit import research as rs
from guidekit.answers import ActionStatus

from .test_actions import TODAY, _action


def _actions():
    return [
        _action("S1", "planned"),  # 2025; updated 2026: done on time; S1 N -> Y
        _action("S1", "done", round="2026", completed=dt.date(2026, 1, 15)),
        _action("S2", "planned"),  # 2025; done late in 2026; S2 P -> P
        _action("S2", "done", round="2026", completed=dt.date(2026, 2, 20)),
        _action("S4", "in_progress"),  # 2025; never updated: carried, overdue on TODAY
        _action("S5", "dropped", round="2026", reason="改採他案"),
    ]


def test_action_table_and_completion(mini):
    table = rs.action_table(_actions(), mini, on=TODAY)
    assert len(table) == 6
    got = {(r.round, r.item_id): (r.principle_id, r.overdue, r.on_time) for r in table.itertuples()}
    assert bool(got[("2026", "S1")][2])  # completed 2026-01-15, due 2026-01-31
    assert not bool(got[("2026", "S2")][2])  # completed 2026-02-20: late
    assert got[("2025", "S4")][0] == "P02" and bool(got[("2025", "S4")][1])
    done = rs.completion(table).set_index("round").loc["2026"]
    assert (done["n_done"], done["n_done_on_time"], done["n_done_late"], done["n_dropped"]) == (
        2,
        1,
        1,
        1,
    )


def test_actions_by_principle_counts_every_principle(mini):
    table = rs.action_table(_actions(), mini, on=TODAY)
    out = rs.actions_by_principle(table, mini).set_index(["round", "principle_id"])
    assert out.loc[("2025", "P01"), "n_actions"] == 2 and out.loc[("2025", "P01"), "n_open"] == 2
    assert out.loc[("2025", "P02"), "n_overdue"] == 1
    assert out.loc[("2026", "P01"), "n_done"] == 2
    assert out.loc[("2026", "P03"), "n_actions"] == 0  # listed with zeros


def test_gap_coverage_counts_carried_actions(two_rounds):
    out = rs.gap_coverage(two_rounds, _actions()).set_index(["round", "principle_id"])
    # 2025 gaps: S1 (N), S2 (P), S3 (P) in P01, S4 (N), S5 (N) in P02; actions on S1, S2, S4
    assert tuple(out.loc[("2025", "P01"), ["n_gaps", "n_with_action"]]) == (3, 2)
    assert tuple(out.loc[("2025", "P02"), ["n_gaps", "n_with_action"]]) == (2, 1)
    # 2026 gaps: S2 (P), S3 (N) in P01; S4 (P) in P02, its 2025 action still open (carried)
    assert tuple(out.loc[("2026", "P01"), ["n_gaps", "n_with_action"]]) == (2, 1)
    assert tuple(out.loc[("2026", "P02"), ["n_gaps", "n_with_action"]]) == (1, 1)
    assert math.isnan(out.loc[("2026", "P03"), "share"])


def test_followed_by_counts_outcomes_per_principle(two_rounds):
    out = rs.followed_by(_actions(), two_rounds, on=TODAY).set_index("principle_id")
    assert out.loc["P01", ["done_improved", "done_no_change", "not_done", "dropped"]].tolist() == [
        1,
        1,
        0,
        0,
    ]
    assert out.loc["P02", "not_done"] == 1
    assert ActionStatus.DONE.value == "done"
