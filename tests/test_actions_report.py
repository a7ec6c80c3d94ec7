"""The report's actions section: the action plan by principle (gaps without an action
marked), last round's actions with their outcome (overdue first), text escaped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

from guidekit.answers import Action, ActionStatus
from guidekit.paths import example_actions, examples_dir
from guidekit.report import AgencyReport, actions_for_item, load_round

from .helpers import HOSTILE_NOTE

AGENCY = "301000000A"
TODAY = dt.date(2026, 11, 30)


def _report(actions):
    rounds = examples_dir() / "rounds"
    data = load_round(rounds / "2026", actions=actions, previous=rounds / "2025")
    return AgencyReport(data, AGENCY, "zh-TW", TODAY), data


def _gaps(data, round_id="2026"):
    items = data.scores.items if round_id == "2026" else data.previous.items
    mine = items[(items["agency_id"] == AGENCY) & items["status"].isin(["partial", "not_met"])]
    return mine


def _action(row, round_id, status, due, text, action_id):
    return Action(
        action_id=action_id,
        round=round_id,
        agency_id=AGENCY,
        agency_name=row.agency_name,
        service=row.service,
        instrument=row.instrument,
        item_id=row.item_id,
        text=text,
        owner="資訊室",
        due=due,
        status=status,
    )


def test_plan_outcomes_and_gaps_without_action():
    report, data = _report([])
    gaps25 = list(_gaps(data, "2025").itertuples())
    # 2026 gaps other than the items of the 2025 actions (those are listed too, carried)
    taken = {gaps25[0].item_id, gaps25[1].item_id}
    gaps26 = [g for g in _gaps(data).itertuples() if g.item_id not in taken]
    done = _action(gaps25[0], "2025", ActionStatus.PLANNED, dt.date(2026, 3, 1), "做完的事", "A-1")
    late = _action(gaps25[1], "2025", ActionStatus.IN_PROGRESS, dt.date(2026, 1, 1), "逾期", "A-2")
    plan = _action(
        gaps26[0], "2026", ActionStatus.PLANNED, dt.date(2027, 5, 1), HOSTILE_NOTE, "A-3"
    )
    actions = [
        done,
        late,
        plan,
        Action(**{**done.__dict__, "round": "2026", "status": ActionStatus.DONE}),
    ]
    report, data = _report(actions)
    html = str(report.actions())
    assert "<script>" not in html and "&lt;script&gt;" in html  # free text escaped
    outcomes = html[html.index("gk-outcomes") : html.index("改善行動計畫")]
    # overdue first: the open one (due 2026-01-01) before the done one
    assert outcomes.index("逾期") < outcomes.index("做完的事")
    assert "gk-overdue" in outcomes and "尚未完成" in outcomes
    # every 2026 gap without an action is marked, and counted
    listed = {plan.item_id, done.item_id, late.item_id}
    n_without = sum(1 for g in _gaps(data).itertuples() if g.item_id not in listed)
    without = re.findall(r'<p class="gk-noaction">尚無改善行動的待改善項目：(.*?)</p>', html)
    named = [
        i for part in without for i in re.findall(r'class="gk-id" href="#[^"]+">([^<]+)<', part)
    ]
    expected = [g.item_id for g in _gaps(data).itertuples() if g.item_id not in listed]
    assert sorted(named) == sorted(expected) and len(named) == n_without
    assert f"{n_without} 個待改善項目尚無改善行動" in html
    # the hook for the first page's priorities: the actions of one item
    key = {k: getattr(gaps26[0], k) for k in ("round", "agency_id", "service", "instrument")}
    (row,) = actions_for_item(actions, key, gaps26[0].item_id, "zh-TW", TODAY)
    assert row["action_id"] == "A-3" and row["status_label"] == "規劃中" and not row["overdue"]
    assert actions_for_item(actions, key, gaps26[1].item_id, "zh-TW", TODAY) == []


def test_the_bundled_example_report_has_actions_and_outcomes():
    report = AgencyReport.build(AGENCY, today=TODAY)
    assert report.data.actions and report.data.previous is not None
    html = str(report.actions())
    assert "上一回合改善行動的結果" in html and "改善行動計畫" in html


def test_no_actions_collected_no_section():
    report, _data = _report([])
    assert str(report.actions()) == ""


def test_first_page_priorities_show_their_actions_and_gaps_without_one():
    report, data = _report([])
    a = report.assessments[0]
    first = report.priorities(a)[0]
    items = a.items[a.items["principle_id"] == first.principle_id]
    gaps = items[items["status"].isin(["partial", "not_met"])]["item_id"].tolist()
    assert len(gaps) >= 2
    act = _action(
        next(gaps_row for gaps_row in _gaps(data).itertuples() if gaps_row.item_id == gaps[0]),
        "2026",
        ActionStatus.IN_PROGRESS,
        dt.date(2027, 6, 30),
        HOSTILE_NOTE,
        "P-1",
    )
    report, _ = _report([act])
    a = report.assessments[0]
    [listed] = [p for p in report.priorities(a) if p.principle_id == first.principle_id]
    assert [(x["action_id"], x["item_id"]) for x in listed.actions] == [("P-1", gaps[0])]
    page = report.overview().html
    assert 'id="action-P-1"' in page and "<script" not in page  # the note is escaped
    # every other gap of that principle is named as having no action (the action plan
    # section lists them with links)
    start = page.index(f"{len(gaps) - 1} 個待改善項目尚無改善行動")
    named = page[start : page.index("</p>", start)]
    ids = named[named.index("gk-screen") :].split("：", 1)[1].removesuffix("</span>").split("、")
    assert ids == gaps[1:]
    assert "gk-blank" not in page  # actions are tracked: no blank lines to fill in


def test_an_agency_s_changed_action_changes_only_its_report_key(tmp_path):
    # the batch rebuilds a report when its key changes (guidekit.report.incremental):
    # an improvement action is part of what its agency's report is made from
    from guidekit.report import incremental

    _, data = _report(example_actions())
    mine = [a for a in data.actions if a.agency_id == AGENCY]
    assert mine and any(a.agency_id != AGENCY for a in data.actions)
    options = {a: {"lang": "zh-TW"} for a in data.scores.overall["agency_id"].unique()}
    shared = {"framework": "x"}
    before = incremental.agency_keys(data, shared, options)
    edited = [
        dataclasses.replace(a, owner=a.owner + "（改）") if a is mine[0] else a
        for a in data.actions
    ]
    after = incremental.agency_keys(dataclasses.replace(data, actions=edited), shared, options)
    assert {a for a in before if before[a] != after[a]} == {AGENCY}
    # and the round before counts too (what became of last round's actions)
    assert data.previous is not None
    items = data.previous.items.copy()
    items.loc[items["agency_id"] == AGENCY, "status"] = "met"
    earlier = dataclasses.replace(data.previous, items=items)
    moved = incremental.agency_keys(dataclasses.replace(data, previous=earlier), shared, options)
    assert {a for a in before if before[a] != moved[a]} == {AGENCY}


def test_a_report_key_changes_when_one_of_its_actions_falls_overdue():
    # a kept report must not go on showing an action as on time after its due date
    from guidekit.report import incremental

    _, data = _report(example_actions())
    open_action = next(a for a in data.actions if a.status.is_open)
    agency = open_action.agency_id
    options = {a: {"lang": "zh-TW"} for a in data.scores.overall["agency_id"].unique()}
    shared = {"framework": "x"}
    day_before = open_action.due - dt.timedelta(days=1)
    day_after = open_action.due + dt.timedelta(days=1)
    before = incremental.agency_keys(data, shared, options, day_before)
    same_day = incremental.agency_keys(data, shared, options, day_before)
    after = incremental.agency_keys(data, shared, options, day_after)
    assert before == same_day
    changed = {a for a in before if before[a] != after[a]}
    assert agency in changed
    # only agencies with an open action due on that day change
    due_then = {a.agency_id for a in data.actions if a.status.is_open and a.due == open_action.due}
    assert changed == due_then


def test_actions_that_match_no_assessment_are_named(tmp_path):
    # a blank service, 計劃 for 計畫, an agency not in the answers: no report can show
    # them, so the batch says which (they used to vanish without a word)
    from guidekit.report import batch
    from guidekit.scoring import unmatched_actions

    _, data = _report([])
    row = next(_gaps(data).itertuples())
    good = _action(row, "2026", ActionStatus.PLANNED, dt.date(2027, 1, 1), "對得到", "M-1")
    blank = dataclasses.replace(good, action_id="M-2", service="")
    variant = dataclasses.replace(
        good, action_id="M-3", service=good.service.replace("計畫", "計劃") + "x"
    )
    stranger = dataclasses.replace(good, action_id="M-4", agency_id="999999999Z")
    data = dataclasses.replace(data, actions=[good, blank, variant, stranger])
    assert [a.action_id for a in unmatched_actions(data.actions, data.scores)] == [
        "M-2",
        "M-3",
        "M-4",
    ]
    notes = []
    batch._tell_unmatched(data, lambda key, **kw: notes.append((key, kw)))
    assert notes[0][0] == "batch.actions.unmatched" and notes[0][1]["n"] == 2
    assert "M-2" in notes[0][1]["actions"] and "M-3" in notes[0][1]["actions"]
    assert notes[1] == ("batch.actions.elsewhere", {"n": 1})


def test_a_dropped_action_shows_its_reason():
    rounds = examples_dir() / "rounds"
    data = load_round(rounds / "2026", actions=example_actions(), previous=rounds / "2025")
    dropped = next(
        a for a in data.actions if a.status is ActionStatus.DROPPED and a.round == "2026"
    )
    assert dropped.reason
    html = str(AgencyReport(data, dropped.agency_id, "zh-TW", TODAY).actions())
    assert f"取消理由：{dropped.reason}" in html
