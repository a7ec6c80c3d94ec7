"""Improvement actions: dates in both calendars, the rules of an action, reading action
files, and the outcome of last round's actions (hand-made cases on the mini framework)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from guidekit import i18n
from guidekit.answers import (
    ACTION_COLUMNS,
    Action,
    ActionRow,
    ActionStatus,
    action_schema,
    actions_frame,
    carried_forward,
    check_actions,
    frame_actions,
    latest_records,
    make_action_id,
)
from guidekit.intake.actions import ActionsError, read_actions
from guidekit.scoring import classify_outcomes, item_statuses, measures_for_item

TODAY = dt.date(2026, 3, 1)


# -- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-31", dt.date(2026, 3, 31)),
        ("2026/3/31", dt.date(2026, 3, 31)),
        ("115/3/31", dt.date(2026, 3, 31)),
        ("115-03-31", dt.date(2026, 3, 31)),
        ("115.3.31", dt.date(2026, 3, 31)),
        ("115年3月31日", dt.date(2026, 3, 31)),
        ("民國115年3月31日", dt.date(2026, 3, 31)),
        ("民國 99年1月2日", dt.date(2010, 1, 2)),
        ("１１５／３／３１", dt.date(2026, 3, 31)),  # full-width, as typed with a CJK IME
        ("2026-03-31 00:00:00", dt.date(2026, 3, 31)),  # an Excel date cell read as text
    ],
)
def test_parse_date_accepts_both_calendars(text, expected):
    assert i18n.parse_date(text) == expected


@pytest.mark.parametrize(
    "text", ["", "下個月", "115/2/30", "2026-13-01", "31/3/2026", "民國2026年1月1日", "115/3"]
)
def test_parse_date_refuses_what_is_not_a_date(text):
    assert i18n.parse_date(text) is None


# -- the rules of an action ------------------------------------------------------------------


def _row(n: int = 2, **values: str) -> ActionRow:
    base = {
        "round": "2025",
        "agency_id": "A1",
        "agency_name": "甲機關",
        "item_id": "S1",
        "text": "訪談 5 位使用者",
        "owner": "資訊室",
        "due": "115/6/30",
        "status": "規劃中",
    }
    return ActionRow("actions.csv", n, {**base, **values})


def _codes(problems):
    return sorted((p.row, p.column, p.code, p.severity.value) for p in problems)


def test_a_valid_action_is_typed_and_gets_a_stable_id(mini):
    actions, problems = check_actions([_row(measure_id="M1", target="符合")], mini, today=TODAY)
    assert problems == []
    (action,) = actions
    assert action.due == dt.date(2026, 6, 30)
    assert action.status is ActionStatus.PLANNED
    assert action.instrument == "service"  # from the item
    assert action.target == "Y"  # the label read as the scale's code
    assert action.action_id == make_action_id("2025", "A1", "", "service", "S1", "訪談 5 位使用者")
    assert action.action_id.startswith("A-") and len(action.action_id) == 12
    # the row holds text only and reads back as the same record
    assert Action.from_row(action.row()) == action


def test_every_rule_is_reported_at_once_with_file_row_and_field(mini):
    rows = [
        _row(2, item_id="S9"),  # unknown item
        _row(3, owner=""),  # no owner
        _row(4, due="明年"),  # not a date
        _row(5, status="dropped"),  # dropped without a reason
        _row(6, measure_id="M7"),  # unknown measure
        _row(7, status="finished?"),  # unknown status
        _row(8, target="不適用"),  # a target that is no answer to aim for
        _row(9, text=""),  # blank action
    ]
    actions, problems = check_actions(rows, mini, today=TODAY)
    assert actions == []
    assert _codes(problems) == [
        (2, "題號", "unknown-item", "error"),
        (3, "負責單位", "action-no-owner", "error"),
        (4, "預定完成日", "action-bad-date", "error"),
        (5, "理由或說明", "action-dropped-no-reason", "error"),
        (6, "配套措施", "action-unknown-measure", "error"),
        (7, "辦理情形", "action-bad-status", "error"),
        (8, "目標答案", "action-bad-target", "error"),
        (9, "改善行動", "blank", "error"),
    ]
    assert problems[2].value == "明年" and problems[2].file == "actions.csv"


def test_planned_past_due_is_a_warning_relative_to_the_reference_date(mini):
    row = _row(due="2026-02-28")
    _, problems = check_actions([row], mini, today=dt.date(2026, 3, 1))
    assert _codes(problems) == [(2, "預定完成日", "action-past-due", "warning")]
    _, problems = check_actions([row], mini, today=dt.date(2026, 2, 28))  # due today: not past
    assert problems == []
    _, problems = check_actions([_row(due="2026-02-28", status="done")], mini, today=TODAY)
    assert problems == []  # done actions are not past due


def test_an_action_for_an_item_at_the_top_is_a_warning_not_an_error(mini):
    status = {("2025", "A1", "", "service", "S1"): "met"}
    actions, problems = check_actions([_row()], mini, today=TODAY, item_status=status)
    assert len(actions) == 1  # kept: e.g. last round's action whose item has since improved
    assert _codes(problems) == [(2, "題號", "action-not-gap", "warning")]
    status = {("2025", "A1", "", "service", "S1"): "partial"}
    _, problems = check_actions([_row()], mini, today=TODAY, item_status=status)
    assert problems == []


def test_the_same_action_id_twice_in_a_round_is_an_error(mini):
    rows = [_row(2, action_id="A-1"), _row(3, action_id="A-1", text="另一件事")]
    actions, problems = check_actions(rows, mini, today=TODAY)
    assert [a.action_id for a in actions] == ["A-1"]
    assert _codes(problems) == [(3, "行動編號", "action-duplicate", "error")]
    assert "actions.csv:2" in problems[0].message("en")


def test_read_actions_file_in_zh_headers_with_roc_dates(tmp_path, mini, write_csv):
    header = [
        "評估回合",
        "機關代碼",
        "機關名稱",
        "題號",
        "改善行動",
        "負責單位",
        "預定完成日",
        "辦理情形",
    ]
    path = write_csv(
        [
            ["2025", "0012", "甲機關", "S1", "訪談使用者", "資訊室", "115年3月31日", "進行中"],
            ["2025", "0012", "甲機關", "S2", "寫測試", "", "115/13/31", "完成"],
        ],
        header=header,
        name="actions.csv",
    )
    with pytest.raises(ActionsError) as caught:
        read_actions(path, mini, today=TODAY)
    assert _codes(caught.value.problems) == [
        (3, "負責單位", "action-no-owner", "error"),
        (3, "預定完成日", "action-bad-date", "error"),
    ]
    read = read_actions(path, mini, today=TODAY, strict=False)
    assert [(a.agency_id, a.due.isoformat()) for a in read.actions] == [("0012", "2026-03-31")]
    assert list(read.frame.columns) == list(ACTION_COLUMNS)


def test_a_file_without_action_columns_is_refused(mini, write_csv):
    path = write_csv([["2026", "A1", "甲", "R1", "S1", "Y", ""]], name="answers.csv")
    read = read_actions(path, mini, strict=False)
    assert [p.code for p in read.errors] == ["missing-column"]


def test_frame_and_schema_come_from_one_spec(mini):
    actions, _ = check_actions([_row()], mini, today=TODAY)
    frame = actions_frame(actions)
    schema = action_schema()
    assert [f["name"] for f in schema["fields"]] == list(frame.columns) == list(ACTION_COLUMNS)
    assert frame_actions(frame) == actions
    assert all(str(dtype) == "string" for dtype in frame.dtypes)


def test_carried_forward_lists_last_rounds_open_actions_under_the_same_id(mini):
    rows = [
        _row(2, text="一", status="planned"),
        _row(3, text="二", status="done", item_id="S2"),
        _row(4, text="三", status="in_progress", item_id="S4"),
    ]
    actions, _ = check_actions(rows, mini, today=TODAY)
    carried = carried_forward(actions, "2026")
    assert [(a.text, a.round) for a in carried] == [("一", "2026"), ("三", "2026")]
    assert {a.action_id for a in carried} <= {a.action_id for a in actions}
    # once updated in the new round it is not carried again
    updated = [*actions, Action(**{**carried[0].__dict__, "status": ActionStatus.DONE})]
    assert [a.text for a in carried_forward(updated, "2026")] == ["三"]
    assert {a.action_id: a.round for a in latest_records(updated)}[carried[0].action_id] == "2026"


def test_measures_for_item_are_those_naming_it(mini, fw):
    assert measures_for_item(mini, "S1") == ["M1"]
    assert measures_for_item(mini, "S6") == []  # M2 is about a principle score only
    assert "M04" in measures_for_item(fw, "SV-P01-01")


# -- outcomes: hand-made cases ------------------------------------------------------------------


def _action(item: str, status: str, round: str = "2025", due: str = "2026-01-31", **kw):
    return Action(
        action_id=f"A-{item}",
        round=round,
        agency_id="A1",
        agency_name="甲機關",
        service="",
        instrument="service",
        item_id=item,
        text=f"改善 {item}",
        owner="資訊室",
        due=dt.date.fromisoformat(due),
        status=ActionStatus(status),
        **kw,
    )


def test_outcomes_of_last_rounds_actions(two_rounds):
    actions = [
        _action("S1", "planned"),
        _action("S1", "done", round="2026"),  # updated in 2026: done, and S1 went N -> Y
        _action("S2", "done"),  # done, P -> P
        _action("S3", "done"),  # done, P -> N: not improved
        _action("S4", "in_progress"),  # still open, due 2026-01-31: overdue on 2026-03-01
        _action("S5", "dropped", reason="改採他案"),
        _action("S6", "planned", round="2024"),  # two rounds back: not last round's
    ]
    out = classify_outcomes(actions, two_rounds, "2026", on=TODAY)
    got = dict(zip(out["item_id"], zip(out["outcome"], out["overdue"], strict=True), strict=True))
    assert got == {
        "S1": ("done_improved", False),
        "S2": ("done_no_change", False),
        "S3": ("done_no_change", False),
        "S4": ("not_done", True),
        "S5": ("dropped", False),
    }
    assert out["item_id"].iloc[0] == "S4"  # overdue first
    s1 = out[out["item_id"] == "S1"].iloc[0]
    assert (s1["value_before"], s1["value_after"], s1["status"]) == (0.0, 2.0, "done")
    assert s1["recorded_round"] == "2025" and s1["round"] == "2026"


def test_done_but_unanswered_this_round_cannot_be_compared(two_rounds):
    # never counted as "no change": the answers say nothing either way
    out = classify_outcomes([_action("S5", "done")], two_rounds, "2026", on=TODAY)
    assert out["outcome"].tolist() == ["done_unknown"]
    assert pd.isna(out["value_after"].iloc[0])


def test_target_reached(two_rounds):
    actions = [_action("S4", "done", target="Y"), _action("S1", "done", target="Y")]
    out = classify_outcomes(actions, two_rounds, "2026", on=TODAY).set_index("item_id")
    assert not bool(out.loc["S4", "target_reached"])  # P reached, Y aimed for
    assert bool(out.loc["S1", "target_reached"]) is True


def test_no_earlier_round_no_outcomes(two_rounds):
    assert classify_outcomes([_action("S1", "done")], two_rounds, "2025").empty


def test_item_statuses_feed_the_gap_rule(two_rounds):
    status = item_statuses(two_rounds)
    assert status[("2026", "A1", "", "service", "S1")] == "met"
    assert status[("2026", "A1", "", "service", "S2")] == "partial"
    assert status[("2026", "A1", "", "service", "S5")] == "unanswered"


def test_validate_checks_the_actions_that_come_with_answers(tmp_path):
    # an actions table beside the answers (or alone) is checked, not passed over: its
    # errors are listed with file, row and column, and the command fails
    from click.testing import CliRunner

    from guidekit.cli import main

    (tmp_path / "act.csv").write_text(
        "評估回合,機關代碼,機關名稱,服務名稱,自評表,題號,改善行動,負責單位,預定完成日,辦理情形\n"
        "2026,301000000A,內政部,數位服務精進計畫,plan,PL-P99-01,做事,,115/2/30,亂寫\n",
        encoding="utf-8-sig",
    )
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "act.csv")])
    assert result.exit_code == 1, result.output
    for column in ("[負責單位]", "[題號]", "[預定完成日]", "[辦理情形]"):
        assert f"act.csv:2 {column}" in result.output
    assert result.output.splitlines()[-1].startswith("未通過")
    # a workshop export folder (answers.csv + answers-actions.csv) reads as actions:
    # the answers file in it is passed over with a warning, not an error
    from guidekit.intake import read_actions

    (tmp_path / "answers.csv").write_text("評估回合,機關代碼\n2026,301000000A\n", encoding="utf-8")
    read = read_actions(tmp_path, strict=False)
    assert [p.code for p in read.problems if p.file.endswith("answers.csv")] == ["not-actions-file"]
    assert not any(p.is_error for p in read.problems if p.file.endswith("answers.csv"))


def test_text_longer_than_an_excel_cell_is_refused_not_cut(tmp_path):
    # openpyxl would keep the first 32,767 characters and drop the rest without a word
    from guidekit.files import XLSX_CELL_LIMIT, xlsx_text
    from guidekit.problems import GuidekitError
    from guidekit.store import open_store

    assert xlsx_text("a\x0bb", "answers!B2") == "a\\x0bb"
    with pytest.raises(GuidekitError) as caught:
        xlsx_text("長" * (XLSX_CELL_LIMIT + 1), "answers!K2")
    assert "answers!K2" in caught.value.text("zh-TW") and ".ods" in caught.value.text("en")
    long_note = "說明" * 20_000
    from guidekit.store import Change, Sheet

    with open_store(tmp_path / "w.sqlite") as store:
        sheet = Sheet("2026", "301000000A", "內政部", "", "service", "R1")
        store.record(Change(sheet, "SV-P01-01", "Y", long_note))
        with pytest.raises(GuidekitError):
            store.export_file(tmp_path / "out.xlsx")
        assert not (tmp_path / "out.xlsx").exists()
        store.export_file(tmp_path / "out.ods")  # .ods keeps it whole
