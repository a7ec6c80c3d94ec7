"""Actions captured where people work: the form's actions sheet and the workshop's
"add an action" give the same records; last round's open actions come back pre-filled."""

from __future__ import annotations

import datetime as dt

import openpyxl
from click.testing import CliRunner

from guidekit.answers import Action, ActionStatus, carried_forward
from guidekit.cli import main
from guidekit.forms import write_form
from guidekit.intake import read_actions, read_responses
from guidekit.paths import example_actions
from guidekit.widgets import Workshop

from . import test_widgets
from .test_widgets import AGENCY, NAME, query, sheet_view

# the workshop tests' fixtures: the workshop's log kept in tmp_path (autouse), a store
_log = test_widgets._log
store = test_widgets.store


def _agency_form(path, fw, **options):
    """The 2026 service form of the test agency (線上申辦)."""
    common = {"agency_id": AGENCY, "agency_name": NAME, "round": "2026"}
    write_form(path, fw, **common, instrument="service", service="線上申辦", **options)
    return path


def _gapped(store, fw) -> list[str]:
    """Two respondents answer the first items: item 0 not met, item 1 partly, item 2 met."""
    bank = [i.id for i in fw.items["service"]]
    for respondent in ("甲", "乙"):
        page = sheet_view(store, respondent)
        for item, code in zip(bank[:3], ("N", "P", "Y"), strict=True):
            page.answer(item, code)
    return bank


TYPED = {
    "text": "訪談 5 位使用者並整理需求",
    "owner": "資訊室",
    "due": "115/6/30",
    "measure_id": "M04",
    "target": "Y",
}


def _fill_form(path, item_id: str, values: dict[str, str], row: int | None = None) -> None:
    """Type a new action on the first blank row of the form's actions sheet (as a person would)."""
    wb = openpyxl.load_workbook(path)
    ws = wb["改善行動"]
    header = [c.value for c in ws[1]]
    if row is None:
        row = next(r for r in range(2, ws.max_row + 1) if not ws.cell(r, 3).value)
    cells = {"題號": item_id, "改善行動": values["text"], "負責單位": values["owner"]}
    cells |= {"預定完成日": values["due"], "辦理情形": values.get("status", "規劃中")}
    cells |= {"配套措施": values.get("measure_id", ""), "目標答案": values.get("target", "")}
    for name, value in cells.items():
        ws.cell(row, header.index(name) + 1, value)
    wb.save(path)


def test_the_same_action_from_a_form_and_from_the_workshop_is_the_same_record(store, fw, tmp_path):
    bank = _gapped(store, fw)
    team = Workshop(store, query=query("", view="team")).view
    assert team.model.gaps() == bank[:2]  # item 2 is met: no gap
    assert "M04" in [m for m, _ in team.model.measures(bank[0])]
    outcome = team.model.save_action(bank[0], **TYPED)
    assert outcome.status == "saved", outcome.message
    (from_workshop,) = store.actions()

    path = _agency_form(tmp_path / "form.xlsx", fw)
    _fill_form(path, bank[0], {**TYPED, "target": "符合"})
    (from_form,) = read_actions(path, fw, today=dt.date(2026, 1, 1)).actions
    assert from_form == from_workshop
    assert from_form.due == dt.date(2026, 6, 30) and from_form.target == "Y"
    # the answers of the form still read (its actions sheet is no answer sheet)
    assert read_responses(path, fw).frame.empty


def test_the_workshop_editor_saves_at_once_and_lists_the_action(store, fw):
    bank = _gapped(store, fw)
    team = Workshop(store, query=query("", view="team")).view
    editor = team.action_editor
    assert [v for _, v in editor.gap.options] == bank[:2]
    editor.gap.value = bank[1]
    editor.text.value = "<script>x</script> 改版表單"
    editor.owner.value = ""
    editor.due.value = "明年"
    refused = editor.submit()
    assert refused.status == "refused" and store.actions() == []
    assert "負責單位" in refused.message and "預定完成日" in refused.message
    editor.owner.value, editor.due.value = "服務設計小組", "2026-09-30"
    assert editor.submit().status == "saved"
    (saved,) = store.actions()
    assert saved.item_id == bank[1] and saved.owner == "服務設計小組"
    assert (
        "&lt;script&gt;" in team.actions_table.value and "<script>" not in team.actions_table.value
    )
    # update it: pick it, mark done
    editor.gap.value = bank[1]
    editor.which.value = saved.action_id
    assert editor.text.value == saved.text
    editor.status.value = "done"
    editor.submit()
    (done,) = store.actions()
    assert done.action_id == saved.action_id and done.status is ActionStatus.DONE
    assert len(store.action_log()) == 2


def test_next_rounds_form_lists_last_rounds_open_actions(store, fw, tmp_path):
    item = fw.items["service"][0].id
    base = dict(
        round="2025",
        agency_id=AGENCY,
        agency_name=NAME,
        service="線上申辦",
        instrument="service",
        item_id=item,
        owner="資訊室",
        due=dt.date(2025, 12, 31),
    )
    open_one = Action(
        action_id="A-open", text="開放原始碼", status=ActionStatus.IN_PROGRESS, **base
    )
    closed = Action(action_id="A-done", text="已做完", status=ActionStatus.DONE, **base)
    path = _agency_form(tmp_path / "form2026.ods", fw, actions=[open_one, closed])
    (listed,) = read_actions(path, fw, today=dt.date(2026, 1, 1)).actions
    # the same action, as a record of the new round, for the agency to update
    assert listed.action_id == "A-open" and listed.round == "2026"
    assert listed.status is ActionStatus.IN_PROGRESS and listed.text == "開放原始碼"


def test_guidekit_form_lists_open_actions_from_an_actions_file(tmp_path, fw):
    agency = "301000000A"
    example = read_actions(example_actions(), fw, strict=False).actions
    open_ = [a for a in carried_forward(example, "2027") if a.agency_id == agency]
    assert open_
    first = open_[0]
    mine = {
        a.action_id
        for a in open_
        if a.instrument == first.instrument and a.service == first.service
    }
    out = tmp_path / "form.xlsx"
    result = CliRunner().invoke(
        main,
        [
            "form",
            "--agency",
            agency,
            "--round",
            "2027",
            "--instrument",
            first.instrument,
            "--service",
            first.service,
            "--actions",
            str(example_actions()),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    listed = read_actions(out, fw, today=dt.date(2027, 1, 1), strict=False).actions
    assert {a.action_id for a in listed} == mine
    assert {a.round for a in listed} == {"2027"}


def test_a_form_without_service_lists_the_open_actions_of_the_agency_s_one_service(tmp_path):
    # the actions name their service; a form written without --service used to list none
    from click.testing import CliRunner

    from guidekit.cli import main
    from guidekit.intake import read_actions
    from guidekit.paths import example_actions

    out = tmp_path / "f.ods"
    result = CliRunner().invoke(
        main,
        [
            *("form", "--agency", "301000000A", "--round", "2027", "--instrument", "plan"),
            *("--actions", str(example_actions()), "--out", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "數位服務精進計畫" in result.output
    listed = read_actions(out, strict=False).actions
    # what a form given --service 數位服務精進計畫 lists (last round's still-open actions)
    from guidekit.forms.write import form_actions

    every = read_actions(example_actions()).actions
    expected = form_actions(every, "301000000A", "2027", "plan", "數位服務精進計畫")
    assert expected and {a.action_id for a in listed} == {a.action_id for a in expected}
