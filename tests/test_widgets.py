"""Workshop widgets without a browser: they start unanswered, write one log row per change,
refuse 不適用 without a reason, resume every answer, show errors, and several processes
answering at once lose nothing."""

from __future__ import annotations

import math
import multiprocessing
import re
from pathlib import Path

import ipywidgets as w
import pandas as pd
import pytest

from guidekit import scoring
from guidekit.answers import AGREED_RESPONDENT
from guidekit.intake.responses import validate_responses
from guidekit.store import open_store
from guidekit.widgets import Workshop
from guidekit.widgets.app import query_choices

from .helpers import HOSTILE_NOTE

AGENCY = "0012"
NAME = '研考會 <i>"測試"</i>'


@pytest.fixture(autouse=True)
def _log(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIDEKIT_WORKSHOP_LOG", str(tmp_path / "workshop.log"))


@pytest.fixture
def store(tmp_path, fw):
    with open_store(tmp_path / "store.sqlite", fw) as s:
        yield s


def query(respondent: str, **extra: str) -> str:
    from urllib.parse import urlencode

    return urlencode(
        {
            "round": "2026",
            "agency": AGENCY,
            "name": NAME,
            "service": "線上申辦",
            "form": "service",
            "respondent": respondent,
            **extra,
        }
    )


def sheet_view(store, respondent="甲"):
    page = Workshop(store, query=query(respondent))
    assert page.view is not None, page.message.value
    return page.view


def test_every_answer_starts_unanswered(store, fw):
    view = sheet_view(store)
    assert len(view.rows) == len(fw.items["service"])
    for row in view.rows.values():
        assert row.answer.value is None and row.answer.index is None
        assert row.note.value == ""
        assert "尚未作答" in row.status.value
    assert view.overall.value == 0
    assert store.log().empty
    assert (view.scores()["n_done"] == 0).all() and view.scores()["score"].isna().all()


def test_each_answer_change_writes_exactly_one_log_row(store, fw):
    view = sheet_view(store)
    ids = [i.id for i in fw.items["service"]][:12]
    for n, item in enumerate(ids):
        view.answer(item, ("Y", "P", "N")[n % 3])
        assert len(store.log()) == n + 1
    view.answer(ids[0], "Y")  # the value it already has: no change, no row
    assert len(store.log()) == 12
    view.answer(ids[0], "N")
    view.write(ids[0], "有訪談紀錄")  # a note is saved when the box sends its value (on blur)
    log = store.log()
    assert len(log) == 14
    assert log.iloc[-2][["old_answer", "new_answer"]].tolist() == ["Y", "N"]
    assert log.iloc[-1][["old_note", "new_note"]].tolist() == ["", "有訪談紀錄"]
    assert "已儲存" in view.rows[ids[0]].status.value
    assert view.overall.value == 12


def test_notes_are_not_saved_per_keystroke(store):
    view = sheet_view(store)
    note = next(iter(view.rows.values())).note
    assert note.continuous_update is False  # the browser sends the text on blur only


def test_not_applicable_without_a_reason_is_refused_with_a_message(store, fw):
    view = sheet_view(store)
    item = fw.items["service"][0].id
    view.answer(item, "NA")
    assert store.log().empty
    status = view.rows[item].status.value
    assert "不適用" in status and "理由" in status and 'role="alert"' in status
    assert view.overall.value == 0
    view.write(item, "   ")  # blank is no reason
    assert store.log().empty
    view.write(item, "本服務無臨櫃")
    log = store.log()
    assert len(log) == 1  # answer and reason saved together, one row
    assert log.iloc[0][["new_answer", "new_note"]].tolist() == ["NA", "本服務無臨櫃"]
    # The reason of a saved 不適用 cannot be emptied: refused, the box shows the saved reason.
    view.write(item, "")
    assert len(store.log()) == 1
    assert view.rows[item].note.value == "本服務無臨櫃"
    assert "不可清空" in view.rows[item].status.value


def test_english_page(store, fw):
    page = Workshop(store, query=query("R1", lang="en"))
    item = fw.items["service"][0].id
    page.view.answer(item, "NA")
    assert "has no reason yet" in page.view.rows[item].status.value
    assert page.view.rows[item].answer.options[0][0] == "Met"


def test_resume_restores_every_answer(store, fw):
    view = sheet_view(store)
    bank = [i.id for i in fw.items["service"]]
    expected = {}
    for n, item in enumerate(bank):
        code = ("Y", "P", "N", "NA", None)[n % 5]
        note = f"說明 {n}" if code == "NA" or n % 7 == 0 else ""
        if n == 3:
            note = HOSTILE_NOTE
        if note:
            view.write(item, note)
        if code is not None:
            view.answer(item, code)
        expected[item] = (code, note)
    again = sheet_view(store)  # a new page: another kernel opening the same sheet
    for item, (code, note) in expected.items():
        assert again.rows[item].answer.value == code, item
        assert again.rows[item].note.value == note, item
    assert again.overall.value == sum(code is not None for code, _ in expected.values())
    other = sheet_view(store, "乙")
    assert all(row.answer.value is None for row in other.rows.values())


def test_chart_shows_scoring_of_this_respondent(store, fw):
    view = sheet_view(store)
    empty_chart = view.chart.value
    p01 = [i.id for i in fw.items["service"] if i.principle == "P01"]
    assert len(p01) == 7
    for item, code in zip(p01, ("Y", "Y", "Y", "P", "P", "N", "NA"), strict=True):
        if code == "NA":
            view.write(item, "不涉及")
        view.answer(item, code)
    table = view.scores().set_index("principle_id")
    # By hand: values 2, 2, 2, 1, 1, 0 on a 0–2 scale (N/A left out) → 8 / 12 → 66.67.
    assert table.loc["P01", "score"] == pytest.approx(200 / 3)
    assert table.loc["P01", "n_done"] == 7
    assert math.isnan(table.loc["P02", "score"])
    svg = view.chart.value
    assert svg.count("<svg") == 1 and svg != empty_chart
    assert "13 項原則中有 1 項已有分數" in svg  # the chart's text alternative
    assert "66.7" in view.progress.value  # its numbers, in the table beside it
    assert len(table) == 13


def test_free_text_is_escaped(store, fw):
    view = sheet_view(store)
    assert "&lt;i&gt;" in view.header.value and "<i>" not in view.header.value
    item = fw.items["service"][0].id
    view.write(item, HOSTILE_NOTE)
    view.answer(item, "Y")
    page = Workshop(store, query=query("乙"))
    page.view.answer(item, "N")
    team = Workshop(store, query=query("", view="team")).view
    html = team.table.value + "".join(e.box.children[0].value for e in team.editors.values())
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<i>" not in team.header.value


def _controls(widget):
    out = []
    stack = [widget]
    while stack:
        node = stack.pop()
        stack.extend(getattr(node, "children", ()))
        if isinstance(node, w.DOMWidget) and not isinstance(node, w.Box | w.HTML | w.IntProgress):
            out.append(node)
    return out


def test_every_control_has_a_visible_label(store, fw):
    page = Workshop(store)
    controls = _controls(page.widget)
    view = sheet_view(store)
    controls += _controls(view.widget)
    view.answer(fw.items["service"][0].id, "Y")
    sheet_view(store, "乙").answer(fw.items["service"][0].id, "N")
    team = Workshop(store, query=query("", view="team")).view
    controls += _controls(team.widget)
    assert len(controls) > 200
    for control in controls:
        assert control.description.strip(), control
        assert not control.disabled or isinstance(control, w.Button)


def test_start_form_lists_every_missing_field(store):
    page = Workshop(store)
    page.round.value = ""
    page.start_button.click()
    message = page.message.value
    for field in ("評估回合", "機關代碼", "機關名稱", "自評表", "填答者"):
        assert field in message
    assert page.view is None
    page.round.value = "2026"
    page.agency_pick.value = "301000000A"
    assert page.agency_name.value == "內政部"
    page.instrument.value = "plan"
    page.respondent.value = AGREED_RESPONDENT
    page.start_button.click()
    assert "保留" in page.message.value and page.view is None
    page.respondent.value = "  研考科　"  # cleaned as answer files are
    page.start_button.click()
    assert page.view is not None and page.view.model.sheet.respondent == "研考科"


def test_query_string():
    assert query_choices("?round=2026&agency=A&respondent=%E7%94%B2") == {
        "round": "2026",
        "agency": "A",
        "respondent": "甲",
    }


def test_errors_in_callbacks_are_shown_and_logged(store, fw, tmp_path):
    view = sheet_view(store)
    item = fw.items["service"][0].id
    store.close()  # the store goes away under the page
    view.answer(item, "Y")
    shown = view.errors.widget.value
    assert view.errors.widget.layout.display != "none"
    assert "已關閉" in shown and "workshop.log" in shown
    assert "未儲存" in view.rows[item].status.value
    log = (tmp_path / "workshop.log").read_text(encoding="utf-8")
    assert "Traceback" in log and "StoreError" in log and f"answer {item}" in log


def test_unexpected_errors_are_shown_with_their_type(store, fw, tmp_path, monkeypatch):
    view = sheet_view(store)

    def boom(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(view.model, "choose", boom)
    view.answer(fw.items["service"][1].id, "Y")
    assert "ZeroDivisionError" in view.errors.widget.value
    assert "ZeroDivisionError" in (tmp_path / "workshop.log").read_text(encoding="utf-8")


# -- the facilitator view ---------------------------------------------------------------------


def two_respondents(store, fw):
    bank = [i.id for i in fw.items["service"]]
    a, b = sheet_view(store, "甲"), sheet_view(store, "乙")
    for n, item in enumerate(bank[:20]):
        a.answer(item, "Y")
        b.answer(item, "N" if n < 3 else ("P" if n < 6 else "Y"))
    return bank


def test_facilitator_lists_disagreements_first(store, fw):
    bank = two_respondents(store, fw)
    team = Workshop(store, query=query("", view="team")).view
    # By the scale's rule (disagreement_spread 2): Y vs N disagree, Y vs P do not.
    assert list(team.editors) == bank[:3]
    items = team.model.items()
    assert items["item_id"].tolist()[:3] == bank[:3] and items["disagreement"].sum() == 3
    independent = scoring.score(store.responses(fw, agreed="individual")).items
    assert set(independent.loc[independent["disagreement"], "item_id"]) == set(bank[:3])
    assert "甲" in team.summary.value and "乙" in team.summary.value


def test_facilitator_records_agreed_answers(store, fw, tmp_path):
    bank = two_respondents(store, fw)
    team = Workshop(store, query=query("", view="team")).view
    team.agree(bank[0], "P", "兩位同意部分符合")
    team.agree(bank[1], "NA")  # no reason: not saved
    assert "理由" in team.editors[bank[1]].status.value
    team.agree(bank[40], "Y", "另一個項目")  # picked from the other items
    agreed = store.current(kind="agreed")
    got = dict(zip(agreed["item_id"], agreed["answer"], strict=True))
    assert got == {bank[0]: "P", bank[40]: "Y"}
    assert set(agreed["respondent"]) == {AGREED_RESPONDENT}
    team.refresh()
    assert "已記錄團隊共識 2 項" in team.summary.value
    # The export carries the team rule and is valid.
    team.export_button.click()
    exported = team.last_export
    for path in (exported.csv, exported.xlsx):
        report = validate_responses(path, fw)
        assert report.ok and not report.problems, [p.format() for p in report.problems]
        frame = report.responses.frame
        first = frame[frame["item_id"] == bank[0]]
        assert first["respondent"].tolist() == [AGREED_RESPONDENT] and first["answer"].tolist() == [
            "P"
        ]
    assert "data:text/csv;base64," in team.files.value


@pytest.mark.slow
def test_report_button_makes_the_same_report_as_guidekit_reports(store, fw, tmp_path):
    from click.testing import CliRunner

    from guidekit.cli import main

    bank = two_respondents(store, fw)
    team = Workshop(store, query=query("", view="team")).view
    team.agree(bank[0], "P", "討論後")
    team.report_button.click()
    made = team.last_report
    assert made.ok, made.error
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        main,
        [
            "reports",
            "--responses",
            str(made.answers.csv),
            "--agency",
            AGENCY,
            "--round",
            "2026",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    ours = made.html.read_text(encoding="utf-8")
    theirs = (out / made.html.name).read_text(encoding="utf-8")
    assert ours == theirs
    assert "團隊共識" in ours and "&lt;i&gt;" in ours


# -- several kernels at once -------------------------------------------------------------------


#: Items each page answers in the multi-process test (all 94 take ~35 s on 2 cores).
PER_PAGE = 40


def _answer_everything(path: str, log: str, respondent: str, start) -> None:
    import os

    os.environ["GUIDEKIT_WORKSHOP_LOG"] = log
    from guidekit.store import open_store
    from guidekit.widgets import Workshop

    store = open_store(path)
    page = Workshop(store, query=query(respondent))
    start.wait()
    for n, item in enumerate(list(page.view.rows)[:PER_PAGE]):
        page.view.answer(item, ("Y", "P", "N")[(n + len(respondent)) % 3])
    store.close()


def test_several_pages_answering_at_once_lose_nothing(tmp_path, fw):
    path = str(tmp_path / "shared.sqlite")
    open_store(path, fw).close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    names = ["甲", "乙二", "丙三三"]
    workers = [
        context.Process(target=_answer_everything, args=(path, str(tmp_path / "ws.log"), r, start))
        for r in names
    ]
    for p in workers:
        p.start()
    start.set()
    for p in workers:
        p.join(180)
        assert p.exitcode == 0
    bank = fw.items["service"][:PER_PAGE]
    with open_store(path, fw) as store:
        assert len(store.log()) == PER_PAGE * len(names)
        current = store.current()
        for r in names:
            mine = current[current["respondent"] == r].set_index("item_id")["answer"]
            want = {item.id: ("Y", "P", "N")[(k + len(r)) % 3] for k, item in enumerate(bank)}
            assert mine.to_dict() == want


def test_notebook_is_thin_and_has_no_outputs():
    import nbformat

    from guidekit.paths import notebooks_dir

    nb = nbformat.read(notebooks_dir() / "workshop.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    source = "\n".join(c.source for c in code)
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) <= 3 and re.search(r"from guidekit\.widgets import workshop", source)


def test_store_path_in_questionnaire_frame_is_canonical(store, fw):
    view = sheet_view(store)
    item = fw.items["service"][0].id
    view.answer(item, "Y")
    frame = view.model.frame()
    assert str(frame["source_row"].dtype) == "Int64"
    assert frame["agency_id"].tolist() == [AGENCY]
    assert isinstance(frame, pd.DataFrame) and Path(frame["source_file"].iloc[0]) == Path(
        store.location
    )


def test_a_click_before_the_last_typed_value_is_checked_again(store):
    import asyncio

    from guidekit.widgets.app import QUIET_S, SETTLE_MAX_S, SETTLE_S

    page = Workshop(store, query=query(""))  # every field but the respondent
    assert page.view is None

    async def click_then_value_arrives():
        page.start_button.click()  # in a kernel: the click overtook the respondent's name
        assert page.view is None and page.message.value == ""
        page.respondent.value = "遲到"
        await asyncio.sleep(SETTLE_S + 0.4)

    asyncio.run(click_then_value_arrives())
    assert page.view is not None and page.view.model.sheet.respondent == "遲到"

    # On a busy computer the value may take longer: the form looks again until it is there.
    slow = Workshop(store, query=query(""))

    async def value_arrives_late():
        slow.start_button.click()
        slow.start_button.click()  # clicked twice while waiting: opened once
        await asyncio.sleep(2 * SETTLE_S + 0.2)
        assert slow.view is None and slow.message.value == ""
        slow.respondent.value = "很慢"
        await asyncio.sleep(SETTLE_S + 0.4)

    asyncio.run(value_arrives_late())
    assert slow.view is not None and slow.view.model.sheet.respondent == "很慢"

    still_missing = Workshop(store, query=query(""))

    async def nobody_types():
        still_missing.start_button.click()
        await asyncio.sleep(SETTLE_S + 0.4)
        assert still_missing.message.value == ""  # still looking …
        await asyncio.sleep(SETTLE_MAX_S)

    asyncio.run(nobody_types())
    assert still_missing.view is None and "填答者" in still_missing.message.value  # … then said

    # The click overtook the name's last keystroke: 「鍵」 is there, 「鍵盤」 on its way.
    partial = Workshop(store, query=query("鍵"))
    assert partial.view is not None  # (an address with every field opens at once)
    partial.close_view()

    async def last_keystroke_arrives_after_the_click():
        partial.start_button.click()
        await asyncio.sleep(0.2)
        partial.respondent.value = "鍵盤"
        await asyncio.sleep(QUIET_S + SETTLE_S + 0.2)

    asyncio.run(last_keystroke_arrives_after_the_click())
    assert partial.view is not None and partial.view.model.sheet.respondent == "鍵盤"


# -- hostile findings (second round) -----------------------------------------------------------


def test_the_same_sheet_open_twice_loses_nothing(store, fw):
    """Two tabs (or a laptop and a phone) on one sheet: each change writes only its own
    field, so an answer chosen in one tab keeps the note saved in the other, and the tab
    shows what the other saved."""
    first, second = fw.items["service"][0].id, fw.items["service"][1].id
    a, b = sheet_view(store, "甲"), sheet_view(store, "甲")  # b opened before a wrote anything
    a.write(first, "佐證：使用者訪談紀錄 2026-03")
    a.answer(second, "Y")
    b.answer(first, "P")
    b.write(second, "補充")
    current = store.current().set_index("item_id")
    assert current.loc[first, ["answer", "note"]].tolist() == ["P", "佐證：使用者訪談紀錄 2026-03"]
    assert current.loc[second, ["answer", "note"]].tolist() == ["Y", "補充"]
    # Tab b now shows what tab a saved, and says so.
    assert b.rows[first].note.value == "佐證：使用者訪談紀錄 2026-03"
    assert b.rows[second].answer.value == "Y"
    assert "另一個頁面" in b.rows[first].status.value
    log = store.log()
    assert len(log) == 4 and (log["new_note"] != "").sum() == 3  # no row erased a note


def test_editing_what_another_tab_changed_is_refused_and_the_typed_text_kept(store, fw):
    item = fw.items["service"][0].id
    a, b = sheet_view(store, "甲"), sheet_view(store, "甲")
    a.write(item, "甲分頁的說明")
    b.write(item, "乙分頁的說明")  # b never saw a's note
    assert store.current()["note"].tolist() == ["甲分頁的說明"]
    status = b.rows[item].status.value
    assert "另一個頁面" in status and "乙分頁的說明" in status  # what was not saved, shown
    assert b.rows[item].note.value == "甲分頁的說明"  # the page now shows the saved note
    b.write(item, "甲分頁的說明；乙補充")  # now based on what is saved
    assert store.current()["note"].tolist() == ["甲分頁的說明；乙補充"]

    other = fw.items["service"][1].id
    a.answer(other, "Y")
    b.answer(other, "N")
    assert store.current().set_index("item_id").loc[other, "answer"] == "Y"
    assert b.rows[other].answer.value == "Y" and "符合" in b.rows[other].status.value
    b.answer(other, "N")  # chosen again, on purpose
    assert store.current().set_index("item_id").loc[other, "answer"] == "N"
    assert len(store.log()) == 4


def test_two_facilitator_pages_do_not_overwrite_each_other(store, fw):
    bank = two_respondents(store, fw)
    one = Workshop(store, query=query("", view="team")).view
    two = Workshop(store, query=query("", view="team")).view
    one.agree(bank[0], None, "再查 2025 年研究報告")  # a note, no agreed answer yet
    two.agree(bank[0], "P")  # two never saw the note: only the answer is written
    agreed = store.current(kind="agreed").set_index("item_id")
    assert agreed.loc[bank[0], ["answer", "note"]].tolist() == ["P", "再查 2025 年研究報告"]
    assert two.editors[bank[0]].note.value == "再查 2025 年研究報告"
    one.agree(bank[0], "N")  # one still shows no agreed answer: refused, redrawn
    assert store.current(kind="agreed")["answer"].tolist() == ["P"]
    assert one.editors[bank[0]].answer.value == "P"
    assert "另一個頁面" in one.editors[bank[0]].status.value


def test_a_facilitator_note_without_an_answer_is_exported(store, fw, tmp_path):
    bank = two_respondents(store, fw)
    team = Workshop(store, query=query("", view="team")).view
    team.agree(bank[0], None, "下次會議再確認")
    assert "共識說明" in team.editors[bank[0]].status.value
    exported = team.model.export(tmp_path / "out")
    report = validate_responses(exported.csv, fw)
    assert report.ok, [p.format() for p in report.problems]
    frame = report.responses.frame
    rows = frame[frame["item_id"] == bank[0]].sort_values("respondent")
    got = [
        (r.respondent, None if pd.isna(r.answer) else r.answer, r.note) for r in rows.itertuples()
    ]
    # 甲 Y and 乙 N stay (no agreed answer); the team's note is kept without an answer.
    assert sorted(got) == sorted(
        [("甲", "Y", ""), ("乙", "N", ""), (AGREED_RESPONDENT, None, "下次會議再確認")]
    )
    scored = scoring.score(report.responses)
    item = scored.items.set_index("item_id").loc[bank[0]]
    assert int(item["n_respondents"]) == 2 and item["value"] == 1.0  # median of Y=2, N=0


@pytest.mark.parametrize("field", ["round", "agency_id", "agency_name", "service", "respondent"])
@pytest.mark.parametrize("char", ["\x00", "\x1b", "\u202e", "\u2067"])
def test_the_start_form_refuses_control_characters(store, field, char):
    page = Workshop(store, query=query("甲", form="service"))  # opens the sheet
    page.close_view()
    widget = {
        "round": page.round,
        "agency_id": page.agency_id,
        "agency_name": page.agency_name,
        "service": page.service,
        "respondent": page.respondent,
    }[field]
    widget.value = f"A{char}B"
    page.start_button.click()
    assert page.view is None, "a bidi override must not be stripped silently"
    assert "控制字元" in page.message.value
    assert store.log().empty


def test_the_start_form_shows_tidied_values_before_using_them(store):
    page = Workshop(store, query=query("ＲＡ１", form="service"))
    assert page.view is None  # not opened with a changed value
    assert page.respondent.value == "RA1" and "RA1" in page.message.value
    page.start_button.click()
    assert page.view is not None and page.view.model.sheet.respondent == "RA1"


def test_the_start_form_refuses_look_alikes_of_the_reserved_name(store):
    for name in ("團隊 共識", "团队共识", "團隊\u200b共識"):
        page = Workshop(store, query=query(name, form="service"))
        if page.view is None and "整理" in page.message.value:
            page.start_button.click()  # the tidied value is checked again
        assert page.view is None and "保留" in page.message.value, name
    assert store.log().empty


def test_the_start_form_keeps_one_agency_name_per_code(store):
    page = Workshop(store, query=query("甲"))
    page.view.answer("SV-P01-01", "Y")
    other = Workshop(store, query=query("乙", name="研考會（改名）"))
    assert other.view is None
    assert NAME in other.message.value.replace("&lt;", "<").replace("&gt;", ">").replace(
        "&#34;", '"'
    )
    fresh = Workshop(store)
    fresh.round.value, fresh.agency_id.value = "2026", AGENCY
    assert fresh.agency_name.value == NAME  # offered from the store


def test_participants_see_no_other_agency_and_need_the_key_for_the_team_view(store):
    from guidekit.store import Change, Sheet

    store.record(
        Change(
            Sheet("2025", "X-OLD", "上月的某機關", "", "service", "王小明"),
            "SV-P01-01",
            "N",
            "主管不支持，電話 0912-345-678",
        )
    )
    page = Workshop(store, facilitator_key="k3y-abc")
    assert all(code != "X-OLD" for _, code in page.agency_pick.options)
    assert "上月的某機關" not in str(page.agency_pick.options)
    team = Workshop(store, facilitator_key="k3y-abc", query="round=2025&agency=X-OLD&view=team")
    assert team.view is None and "主持人密碼" in team.message.value
    wrong = Workshop(
        store, facilitator_key="k3y-abc", query="round=2025&agency=X-OLD&view=team&key=guess"
    )
    assert wrong.view is None and "不正確" in wrong.message.value
    right = Workshop(
        store, facilitator_key="k3y-abc", query="round=2025&agency=X-OLD&view=team&key=k3y-abc"
    )
    assert right.view is not None
    # A respondent's own sheet needs no key.
    sheet = Workshop(store, facilitator_key="k3y-abc", query=query("甲"))
    assert sheet.view is not None


def test_a_lone_surrogate_in_a_note_is_said_on_the_page(store, fw):
    view = sheet_view(store)
    item = fw.items["service"][0].id
    view.write(item, "佐證 \ud83d")  # text cut in the middle of an emoji
    shown = view.errors.widget.value
    assert "無法儲存的字元" in shown and "未儲存" in view.rows[item].status.value
    shown.encode("utf-8")  # the page can be sent to the browser
    assert store.log().empty
    view.answer(item, "Y")  # the page goes on working
    assert store.current()["answer"].tolist() == ["Y"]


def test_the_shown_commands_are_quoted_for_a_shell(store, fw, tmp_path, monkeypatch):
    import shlex
    import types

    from guidekit.report import batch
    from guidekit.store import Change, Sheet
    from guidekit.widgets.model import Facilitator

    round_, agency = '2026"; echo INJECTED; "', "A1$(touch /tmp/PWNED)"
    store.record(Change(Sheet(round_, agency, "機關", "", "service", "R1"), "SV-P01-01", "Y"))
    calls = []

    def fake_run_reports(**kwargs):
        calls.append(kwargs)
        result = types.SimpleNamespace(status="ok", file="r.html", error=None)
        return types.SimpleNamespace(results=[result])

    monkeypatch.setattr(batch, "run_reports", fake_run_reports)
    made = Facilitator(store, round_, agency).report(tmp_path / "rep")
    assert shlex.split(made.command) == [
        "guidekit",
        "--lang",
        "zh-TW",
        "reports",
        "--responses",
        str(made.answers.csv),
        "--out",
        str(tmp_path / "rep" / "report"),
    ]
    assert calls[0]["agencies"] == [agency] and calls[0]["round"] == round_


def test_export_says_which_excel_cells_were_changed(store, fw, tmp_path):
    from guidekit.store import Change, Sheet

    store.record(
        Change(
            Sheet("2026", AGENCY, NAME, "", "service", "甲"), "SV-P01-01", "Y", "第一行\x0b第二行"
        )
    )
    team = Workshop(store, query="round=2026&agency=0012&view=team").view
    team.export_button.click()
    assert team.last_export.replaced == 1
    assert "\\x0b" in team.files.value and "CSV" in team.files.value
    assert validate_responses(team.last_export.xlsx, fw).ok
    csv_notes = validate_responses(team.last_export.csv, fw).responses.frame["note"].tolist()
    assert csv_notes == ["第一行\x0b第二行"]


# -- new-user trial findings -------------------------------------------------------------------


def _texts(widget) -> str:
    """Every text a widget tree shows (values, descriptions, options, tab titles)."""
    out = []
    for name in ("value", "description", "placeholder", "tooltip"):
        value = getattr(widget, name, None)
        if isinstance(value, str):
            out.append(value)
    out += [str(o) for o in getattr(widget, "options", ()) or ()]
    out += [str(t) for t in getattr(widget, "titles", ()) or ()]
    for child in getattr(widget, "children", ()) or ():
        out.append(_texts(child))
    return "\n".join(out)


def test_not_applicable_without_a_reason_says_which_answer_stays_saved(store, fw):
    """Chosen 不適用 with a blank reason: the page says it is not saved and names the
    stored answer; chart, progress, reopened page and facilitator all show that answer."""
    bank = [i.id for i in fw.items["service"]]
    item = bank[0]  # principle P01
    view = sheet_view(store, "甲")
    view.answer(item, "N")
    view.answer(item, "NA")  # e.g. arrowed on from 不符合; no reason yet
    assert store.current()[["item_id", "answer"]].values.tolist() == [[item, "N"]]
    status = view.rows[item].status.value
    assert "尚未儲存" in status and "目前儲存的答案仍是「不符合」" in status
    assert 'role="alert"' in status
    assert view.rows[item].answer.value == "NA"  # what was chosen stays on the page …
    assert item in view.unsaved.value and "1 題" in view.unsaved.value  # … and is listed
    # By hand: P01 holds one saved answer, 不符合 = 0 of 2 → 0; 1 item done.
    table = view.scores().set_index("principle_id")
    assert table.loc["P01", "n_done"] == 1 and table.loc["P01", "score"] == 0
    assert view.overall.value == 1
    other = sheet_view(store, "乙")
    other.answer(item, "N")
    team = Workshop(store, query=query("", view="team")).view
    assert team.model.items().set_index("item_id").loc[item, "disagreement"] == False  # noqa: E712
    again = sheet_view(store, "甲")  # reopened: the stored answer, as the message said
    assert again.rows[item].answer.value == "N" and again.unsaved.value == ""
    # The reason arrives: 不適用 saved with it, nothing left unsaved.
    view.write(item, "本服務沒有臨櫃")
    assert store.current(respondent="甲")[["answer", "note"]].values.tolist() == [
        ["NA", "本服務沒有臨櫃"]
    ]
    assert view.unsaved.value == "" and "已儲存" in view.rows[item].status.value
    # By hand: P01's only answer is 不適用 → no score, 1 item done.
    table = view.scores().set_index("principle_id")
    assert table.loc["P01", "n_done"] == 1 and math.isnan(table.loc["P01", "score"])
    # Unanswered before: the message names 尚未作答.
    view.answer(bank[1], "NA")
    assert "目前儲存的答案仍是「尚未作答」" in view.rows[bank[1]].status.value
    english = Workshop(store, query=query("甲", lang="en")).view
    english.answer(bank[2], "Y")
    english.answer(bank[2], "NA")
    assert "The saved answer is still “Met”" in english.rows[bank[2]].status.value


def test_arrowing_over_options_saves_only_where_it_stops(store, fw):
    """In a kernel (a running event loop) a choice is saved once it rests; passing over
    options with the arrow keys saves only the last; another item, a note or the kernel's
    exit saves a resting choice at once."""
    import asyncio

    from guidekit.widgets.questionnaire import SETTLE_S

    bank = [i.id for i in fw.items["service"]]
    page = Workshop(store, query=query("方向鍵"))
    view = page.view

    def answers():
        return [
            (r.item_id, r.new_answer, r.new_note)
            for r in store.log(respondent="方向鍵").itertuples()
        ]

    async def keyboard():
        for code in ("Y", "P", "N"):  # ArrowRight, ArrowRight, ArrowRight
            view.answer(bank[0], code)
        assert answers() == [] and "儲存中" in view.rows[bank[0]].status.value
        await asyncio.sleep(SETTLE_S + 0.4)
        assert answers() == [(bank[0], "N", "")]
        assert "已儲存" in view.rows[bank[0]].status.value
        # Onto 不適用 from unanswered, passing the others: nothing saved, said so.
        for code in ("Y", "P", "N", "NA"):
            view.answer(bank[1], code)
        await asyncio.sleep(SETTLE_S + 0.4)
        assert answers() == [(bank[0], "N", "")]
        assert "目前儲存的答案仍是「尚未作答」" in view.rows[bank[1]].status.value
        view.write(bank[1], "無此情境")  # the reason: 不適用 saved with it
        assert answers()[-1] == (bank[1], "NA", "無此情境")
        # Two items in a burst, each passing over an option (a browser may send an item's
        # later value after another item's first): each item rests on its own.
        view.answer(bank[2], "Y")
        view.answer(bank[3], "P")
        view.answer(bank[2], "P")
        view.answer(bank[3], "Y")
        await asyncio.sleep(SETTLE_S / 2)
        assert answers()[-1] == (bank[1], "NA", "無此情境")
        await asyncio.sleep(SETTLE_S / 2 + 0.4)
        assert answers()[-2:] == [(bank[2], "P", ""), (bank[3], "Y", "")]
        view.answer(bank[3], "N")
        # A choice, then at once its note: the answer first, then the note.
        view.write(bank[3], "有紀錄")
        assert answers()[-2:] == [(bank[3], "N", ""), (bank[3], "N", "有紀錄")]
        # A choice resting when the kernel exits is saved by the exit hook.
        view.answer(bank[4], "N")
        page.at_exit()
        assert answers()[-1] == (bank[4], "N", "")

    asyncio.run(keyboard())
    assert len(answers()) == 7  # N; NA+reason; P; Y; N; the note; N


def test_the_agreed_count_goes_up_when_an_agreed_answer_is_recorded(store, fw):
    bank = two_respondents(store, fw)
    team = Workshop(store, query=query("", view="team")).view
    assert "已記錄團隊共識 0 項" in team.summary.value
    team.agree(bank[0], "P", "討論後部分符合")
    assert "已記錄團隊共識 1 項" in team.summary.value
    team.agree(bank[40], "Y")  # an item picked from the list
    assert "已記錄團隊共識 2 項" in team.summary.value
    team.editors[bank[0]].clear.click()
    assert "已記錄團隊共識 1 項" in team.summary.value
    team.agree(bank[1], "NA")  # no reason: not saved, not counted, and said so
    assert "已記錄團隊共識 1 項" in team.summary.value
    assert "目前儲存的團隊共識仍是「尚未記錄共識」" in team.editors[bank[1]].status.value


def test_only_the_facilitator_sees_where_the_store_is(store, fw):
    path = store.location
    start = Workshop(store, facilitator_key="k3y")
    assert path not in _texts(start.widget)
    sheet = Workshop(store, query=query("甲"), facilitator_key="k3y")
    sheet.view.answer(fw.items["service"][0].id, "Y")
    assert path not in _texts(sheet.widget)
    team = Workshop(store, query=query("", view="team", key="k3y"), facilitator_key="k3y")
    assert path in team.view.header.value


def test_start_form_fields_send_every_change_and_the_filled_in_name_follows_the_code(store):
    """A field that sends its value only when left is reset in the browser whenever the kernel
    changes anything else about it (new suggestions): half-typed names vanished.  Typing a
    code passes over shorter codes; a name the form filled in for one of them must not stay."""
    from guidekit.store import Change, Sheet

    page = Workshop(store)
    for field in (page.round, page.agency_id, page.agency_name, page.service, page.respondent):
        assert field.continuous_update is True
    registered = dict(page.agencies)
    short, long = "A1", "A12"
    store.record(Change(Sheet("2026", short, "短代碼機關", "", "service", "甲"), "SV-P01-01", "Y"))
    page.round.value = "2026"
    for typed in ("A", short, long):  # typed one key at a time
        page.agency_id.value = typed
        if typed == short:
            assert page.agency_name.value == "短代碼機關"  # the recorded name for A1
    assert long not in registered and page.agency_name.value == ""  # not A1's name
    code, name = next(iter(sorted(registered.items())))
    page.agency_id.value = code
    assert page.agency_name.value == name
    page.agency_name.value = "自己輸入的名稱"
    page.agency_id.value = short
    assert page.agency_name.value == "自己輸入的名稱"  # a typed name is kept


def test_the_facilitator_arrowing_over_agreed_answers_saves_only_where_it_stops(store, fw):
    import asyncio

    from guidekit.widgets.questionnaire import SETTLE_S

    bank = two_respondents(store, fw)
    page = Workshop(store, query=query("", view="team"))
    team = page.view

    def agreed():
        return [
            (r.item_id, r.new_answer, r.new_note) for r in store.log(kind="agreed").itertuples()
        ]

    async def keyboard():
        editor = team.editors[bank[0]]
        for code in ("Y", "P"):
            editor.answer.value = code
        assert agreed() == [] and "儲存中" in editor.status.value
        await asyncio.sleep(SETTLE_S + 0.4)
        assert agreed() == [(bank[0], "P", "")]
        assert "已記錄團隊共識 1 項" in team.summary.value
        # Chosen, then at once the note: the answer first.
        second = team.editors[bank[1]]
        second.answer.value = "N"
        second.note.value = "維持不符合"
        assert agreed()[-2:] == [(bank[1], "N", ""), (bank[1], "N", "維持不符合")]
        # Chosen, then cleared before it rested: nothing saved for it.
        third = team.editors[bank[2]]
        third.answer.value = "Y"
        third.clear.click()
        await asyncio.sleep(SETTLE_S + 0.4)
        assert [row for row in agreed() if row[0] == bank[2]] == []
        # Resting when the kernel exits: saved by the exit hook.
        third.answer.value = "P"
        page.at_exit()
        assert agreed()[-1] == (bank[2], "P", "")

    asyncio.run(keyboard())
