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
from guidekit.responses import validate_responses
from guidekit.store import AGREED_RESPONDENT, open_store
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

    return urlencode({"round": "2026", "agency": AGENCY, "name": NAME, "service": "線上申辦",
                      "form": "service", "respondent": respondent, **extra})


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
    assert "needs a reason" in page.view.rows[item].status.value
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
        "round": "2026", "agency": "A", "respondent": "甲"}


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
        assert first["respondent"].tolist() == [AGREED_RESPONDENT] and first["answer"].tolist() == ["P"]
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
    result = CliRunner().invoke(main, ["reports", "--responses", str(made.answers.csv),
                                       "--agency", AGENCY, "--round", "2026", "--out", str(out),
                                       "--no-progress"])
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
    workers = [context.Process(target=_answer_everything,
                               args=(path, str(tmp_path / "ws.log"), r, start)) for r in names]
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
    assert isinstance(frame, pd.DataFrame) and Path(frame["source_file"].iloc[0]) == Path(store.location)


def test_a_click_before_the_last_typed_value_is_checked_again(store):
    import asyncio

    from guidekit.widgets.app import SETTLE_S

    page = Workshop(store, query=query(""))  # every field but the respondent
    assert page.view is None

    async def click_then_value_arrives():
        page.start_button.click()  # in a kernel: the click overtook the respondent's name
        assert page.view is None and page.message.value == ""
        page.respondent.value = "遲到"
        await asyncio.sleep(SETTLE_S + 0.4)

    asyncio.run(click_then_value_arrives())
    assert page.view is not None and page.view.model.sheet.respondent == "遲到"

    still_missing = Workshop(store, query=query(""))

    async def nobody_types():
        still_missing.start_button.click()
        await asyncio.sleep(SETTLE_S + 0.4)

    asyncio.run(nobody_types())
    assert still_missing.view is None and "填答者" in still_missing.message.value
