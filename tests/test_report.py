"""Report sections rendered in-process: content, numbers from the scoring API, escaping,
accessibility, both languages."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest

from guidekit import i18n
from guidekit.intake.responses import read_responses
from guidekit.render.charts import bars, radar
from guidekit.report import AgencyReport, load_round
from guidekit.scoring.recommend import priorities, ranked, recommend

from .helpers import write_round


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, fw):
    """Three agencies answering the service form; notes and a name carry markup."""
    agencies = [("0001", '研考會 <i>"測試"</i>'), ("0002", "交通部/觀光署"), ("0003", "普通機關")]
    path = write_round(tmp_path_factory.mktemp("hostile"), fw, agencies)
    return load_round(read_responses(path, fw))


def build(data, agency_id, lang="zh-TW"):
    return AgencyReport(data, agency_id, lang, today=dt.date(2026, 11, 29))


def html_of(report):
    return "\n".join(section.html for section in report.sections())


class _Outline(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings: list[int] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.append((tag, dict(attrs)))
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))


def test_report_shows_every_principle_and_the_api_scores(hostile, fw):
    report = build(hostile, "0003")
    html = html_of(report)
    for p in fw.principles:
        assert p.title_zh in html
    principles = hostile.scores.assessment("0003").principles
    for value in principles["score"]:
        assert f"{value:.1f}" in html
    overall = hostile.scores.assessment("0003").overall["score"].iloc[0]
    assert f'<span class="gk-big">{overall:.1f}</span>' in html


def test_dates_in_roc_and_gregorian(hostile):
    header = re.sub(r"<[^>]+>", "", build(hostile, "0003").header().html)
    assert "民國115年11月29日（2026-11-29）" in header
    english = re.sub(r"<[^>]+>", "", build(hostile, "0003", "en").header().html)
    assert "29 November 2026 (ROC year 115)" in english


def test_free_text_is_escaped(hostile):
    html = html_of(build(hostile, "0001"))
    assert "<script>" not in html and "<b>粗體</b>" not in html and "<i>" not in html
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;粗體&lt;/b&gt; &#34;引號&#34;"
        in html
    )
    assert "研考會 &lt;i&gt;&#34;測試&#34;&lt;/i&gt;" in html


def test_headings_in_order_and_tables_have_headers(hostile):
    outline = _Outline()
    outline.feed(html_of(build(hostile, "0002")))
    assert outline.headings[0] == 1 and outline.headings.count(1) == 1
    for previous, current in zip(outline.headings, outline.headings[1:], strict=False):
        assert current <= previous + 1  # never skip a level
    assert (
        outline.tags.count("table") == outline.tags.count("thead") == outline.tags.count("caption")
    )
    for tag, attrs in outline.attrs:
        if tag == "th":
            assert attrs.get("scope") in {"col", "row"}
        if tag == "svg":
            assert attrs["role"] == "img" and attrs["aria-labelledby"]


def test_sections_follow_the_answers(hostile, fw):
    report = build(hostile, "0002")
    a = report.assessments[0]
    gaps = report.gaps().html
    for item_id in a.items.loc[a.items["status"].isin(["not_met", "partial"]), "item_id"]:
        assert item_id in gaps
    na = report.not_applicable().html
    for item_id in a.items.loc[a.items["status"] == "na", "item_id"]:
        assert item_id in na
    assert "理由：不涉及" in na
    disagree = report.disagreements().html
    for item_id in a.items.loc[a.items["disagreement"], "item_id"]:
        assert item_id in disagree
    # each item is detailed in one row of one section; the first page links to its major items
    html = html_of(report)
    overview = report.overview().html
    for item_id in a.items.loc[a.items["status"].isin(["not_met", "partial", "na"]), "item_id"]:
        assert html.count(f'id="a1-{item_id}"') == 1, item_id
    for item_id in a.items.loc[a.items["major_not_met"], "item_id"]:
        assert f'<tr id="a1-{item_id}">' in gaps
        assert f'href="#a1-{item_id}"' in overview
    measures = report.measures().html
    chosen = recommend(a.items, a.principles, fw)
    assert len(chosen) > 0
    for measure_id in chosen["measure_id"]:
        assert fw.measures[[m.id for m in fw.measures].index(measure_id)].title_zh in measures


def test_position_is_suppressed_with_three_agencies(hostile):
    html = build(hostile, "0003").overview().html
    assert i18n.t("position.suppressed", "zh-TW", minimum=5) in html


def test_english_report(hostile, fw):
    html = html_of(build(hostile, "0003", "en"))
    for p in fw.principles:
        assert p.title_en in html
    assert "Overall indicative score" in html and "About the method" in html


def test_synthetic_banner_on_bundled_example():
    data = load_round()
    html = AgencyReport(data, data.scores.overall["agency_id"].iloc[0]).header().html
    assert i18n.t("report.synthetic", "zh-TW") in html


def test_unknown_agency_is_an_error(hostile):
    from guidekit.problems import GuidekitError

    with pytest.raises(GuidekitError, match="9999"):
        build(hostile, "9999")


# -- recommendations follow the answers ---------------------------------------------------


def test_different_answers_give_different_recommendations(hostile, fw):
    chosen = {}
    for agency_id in ("0001", "0002", "0003"):
        a = build(hostile, agency_id).assessments[0]
        chosen[agency_id] = set(recommend(a.items, a.principles, fw)["measure_id"])
    assert len({frozenset(v) for v in chosen.values()}) > 1
    all_met = build(hostile, "0003").assessments[0]
    items = all_met.items.assign(status="met")
    principles = all_met.principles.assign(score=100.0)
    assert recommend(items, principles, fw).empty


def test_score_condition(mini):
    import pandas as pd

    items = pd.DataFrame({"item_id": ["S1"], "status": ["met"]})
    low = pd.DataFrame({"principle_id": ["P03"], "score": [49.9]})
    high = pd.DataFrame({"principle_id": ["P03"], "score": [50.0]})
    assert recommend(items, low, mini)["measure_id"].tolist() == ["M2"]
    assert recommend(items, high, mini).empty
    partial = pd.DataFrame({"item_id": ["S1"], "status": ["partial"]})
    [reason] = recommend(partial, high, mini)["reasons"].iloc[0]
    assert reason == {"kind": "item", "item_id": "S1", "status": "partial"}


def _mini_assessment(statuses, scores):
    import pandas as pd

    principle = {"S1": "P01", "S2": "P01", "S3": "P01", "S4": "P02", "S5": "P02", "S6": "P03"}
    major = {"S1", "S5"}
    items = pd.DataFrame(
        {
            "item_id": list(statuses),
            "status": list(statuses.values()),
            "principle_id": [principle[i] for i in statuses],
            "major_not_met": [i in major and s == "not_met" for i, s in statuses.items()],
        }
    )
    principles = pd.DataFrame({"principle_id": list(scores), "score": list(scores.values())})
    return items, principles


def test_priorities_major_items_first_then_largest_gaps(mini):
    # mini: S1 (P01) and S5 (P02) are major; bands start at 0, 50, 80 (top band 80);
    # M1 when S1 not met / partial, M2 when P03 scores below 50.
    items, principles = _mini_assessment(
        {"S1": "not_met", "S2": "met", "S4": "met", "S5": "not_met", "S6": "partial"},
        {"P01": 20.0, "P02": 70.0, "P03": 40.0},
    )
    got = priorities(items, principles, mini, limit=5)
    # one major item each in P01 and P02: the lower score first; then P03 (40 < 80)
    assert [(p.rank, p.principle_id, p.kind) for p in got] == [
        (1, "P01", "major"),
        (2, "P02", "major"),
        (3, "P03", "gap"),
    ]
    assert got[0].major_items == ("S1",) and got[0].measures == ("M1",)
    assert got[1].measures == () and got[2].measures == ("M2",)
    assert all(p.actions == [] for p in got)
    assert len(priorities(items, principles, mini, limit=2)) == 2
    # a principle in the top band is no priority; nothing falls short: no priorities
    top = _mini_assessment({"S1": "met", "S5": "met"}, {"P01": 90.0, "P02": 80.0, "P03": 85.0})
    assert priorities(*top, mini) == []


def test_measures_are_ranked_by_relevance(mini):
    # M1: S1 major not met = 3; M2: P03 below 50 = 2 → M1 first
    items, principles = _mini_assessment(
        {"S1": "not_met", "S6": "partial"}, {"P01": 0.0, "P02": 90.0, "P03": 40.0}
    )
    chosen = recommend(items, principles, mini)
    assert ranked(chosen, items) == ["M1", "M2"]
    assert ranked(chosen, items, "P03") == ["M2"]
    # S1 only partly met (1) now weighs less than P03's low score (2)
    items, principles = _mini_assessment(
        {"S1": "partial", "S6": "partial"}, {"P01": 50.0, "P02": 90.0, "P03": 40.0}
    )
    assert ranked(recommend(items, principles, mini), items) == ["M2", "M1"]


def test_first_page_lists_priorities_with_measures_and_room_for_owner(hostile, fw):
    report = build(hostile, "0001")
    a = report.assessments[0]
    expected = priorities(a.items, a.principles, fw)
    assert expected
    overview = report.overview().html
    text = re.sub(r"<[^>]+>", "", overview)
    # no actions collected: room to write an owner (a unit), a due date and a status
    assert "優先處理事項" in text and "負責單位" in text and "預定完成日" in text
    positions = [text.index(report._principle_label(p.principle_id)) for p in expected]
    assert positions == sorted(positions)
    for p in expected:
        for m in p.measures:
            assert next(x for x in fw.measures if x.id == m).title_zh in text


def test_recorded_actions_are_shown_and_escaped(hostile):
    priority = {
        "label": "一、原則",
        "actions": [
            {
                "action_id": "A1",
                "item_id": "SV-P01-01",
                "item": {"id": "SV-P01-01", "anchor": "a1-SV-P01-01"},
                "text": "<b>訪談</b>使用者",
                "owner": "資訊室",
                "due_label": "2027-03-31",
                "due_short": "民國116年3月31日",
                "status_label": "進行中",
                "overdue": True,
            }
        ],
        "tracked": True,
        "without": [{"id": "SV-P01-02", "anchor": "a1-SV-P01-02"}],
    }
    from guidekit.render.html import environment

    macro = environment().get_template("_macros.html.j2").module.priority_actions
    t = build(hostile, "0001").t
    html = str(macro(priority, t))
    assert "&lt;b&gt;訪談&lt;/b&gt;使用者" in html and "<b>" not in html
    assert "資訊室" in html and "民國116年3月31日" in html and "進行中" in html
    assert 'id="action-A1"' in html and "逾期" in html
    # a gap with no action is named, linked to its detail row; no blank lines to fill in
    assert 'href="#a1-SV-P01-01"' in html and 'href="#section-actions"' in html
    assert "1 個待改善項目尚無改善行動" in html and "SV-P01-02" in html
    assert "gk-blank" not in html


def test_contents_links_reach_every_detail_section(hostile):
    html = html_of(build(hostile, "0002"))
    targets = re.findall(r'<a href="#([^"]+)"', html)
    assert targets
    for target in targets:
        assert f'id="{target}"' in html, target
    assert '<a href="index.html">' in html


def test_page_label_cannot_break_out_of_the_style_element():
    from guidekit.render import css_string

    label = css_string('部 "x" </style>')
    # 部 U+90E8, quote U+22, < U+3C, / U+2F, > U+3E: six-digit escapes; letters and spaces stay
    assert label == "\\0090E8 \\000022x\\000022 \\00003C\\00002Fstyle\\00003E"


# -- charts --------------------------------------------------------------------------------


def test_radar_escapes_labels_and_skips_missing():
    chart = radar(
        ["<b>一</b>", "二", "三"],
        [50.0, float("nan"), 100.0],
        [40.0, 60.0, 80.0],
        title="t<",
        description="d&",
        legend=("本機關", "中位數"),
        no_score="無分數",
    )
    assert "<b>" not in chart.svg and "&lt;b&gt;一&lt;/b&gt;" in chart.svg
    assert "<title" in chart.svg and "t&lt;" in chart.svg and "d&amp;" in chart.svg
    assert chart.svg.count("<circle") == 2 + 1  # two agency points + legend marker
    assert ">二</tspan>" in chart.svg and ">（無分數）</tspan>" in chart.svg  # a line of its own
    assert chart.table["score"].isna().tolist() == [False, True, False]


def test_bars_label_missing_scores_in_text():
    chart = bars(["A", "B"], [75.0, float("nan")], title="t", description="d", no_score="無分數")
    assert "無分數" in chart.svg and chart.svg.count("<rect") == 1


def test_plan_form_results_use_the_plan_scale_words(tmp_path, fw):
    path = write_round(tmp_path, fw, [("0001", "甲機關")], instrument="plan")
    data = load_round(read_responses(path, fw))
    html = build(data, "0001").gaps().html
    assert "部分規劃" in html and "未規劃" in html
    assert "部分符合" not in html and "未符合" not in html
    assert "（附件1）" in build(data, "0001").header().html
    assert "(Annex 1)" in build(data, "0001", "en").header().html


def test_low_overall_coverage_is_cautioned(write_csv, fw):
    rows = [
        ["2026", "0001", "甲機關", "甲", "SV-P01-01", "符合", ""],
        ["2026", "0001", "甲機關", "甲", "SV-P02-01", "部分符合", ""],
    ]
    data = load_round(read_responses(write_csv(rows), fw))
    overall = data.scores.overall.iloc[0]
    assert overall["coverage"] == pytest.approx(2 / 94) and bool(overall["low_coverage"])
    html = build(data, "0001").overview().html
    assert i18n.t("overview.low_coverage", "zh-TW", pct="50%") in html
    full = build(load_round(), "379000000A").overview().html
    assert i18n.t("label.low_coverage", "zh-TW") not in full


def test_ties_are_all_named(write_csv, fw):
    items = [i for i in fw.items["service"] if i.principle in {"P01", "P02", "P03"}]
    rows = [["2026", "0001", "甲機關", "甲", i.id, "符合", ""] for i in items]
    data = load_round(read_responses(write_csv(rows), fw))
    description = (
        build(data, "0001").principle_chart(build(data, "0001").assessments[0]).description
    )
    assert (
        "「一、了解使用者需求」、「二、建立跨領域合作機制」、「三、規劃多元服務管道」（100.0分）"
        in description
    )


def test_english_report_uses_the_registers_english_name():
    data = load_round()
    assert build(data, "379000000A", "en").display_name == "Taipei City Government (臺北市政府)"
    assert build(data, "379000000A").display_name == "臺北市政府"


def test_last_answer_date_is_the_taipei_day():
    from guidekit.report.context import local_time

    # 23:30 UTC on 13 October is 07:30 on 14 October in Taipei
    assert local_time("2026-10-13T23:30:00+00:00").date().isoformat() == "2026-10-14"
    assert local_time("2026-10-14T09:30:00").isoformat() == "2026-10-14T09:30:00"
    assert local_time("昨天下午") is None


def test_report_of_a_continuous_index_speaks_its_own_terms():
    """An EGDI-style framework (values 0–1, no major items, no measures): no guideline wording."""
    from guidekit.paths import data_dir

    data = load_round(
        data_dir() / "examples" / "egdi-2022" / "answers", data_dir() / "frameworks" / "egdi-2022"
    )
    lowest = data.scores.overall.sort_values("score")["agency_id"].iloc[0]
    report = build(data, lowest)
    method = re.sub(r"<[^>]+>", "", report.method().html)
    assert "（）" not in method and "0 至 1" in method and "大項" not in method
    assert report.measures().html == ""
    overview = re.sub(r"<[^>]+>", "", report.overview().html)
    assert "大項" not in overview and "配套措施" not in overview
    gaps = report.gaps().html
    assert "數值 0." in gaps and "部分符合" not in gaps


def test_overview_counts_unanswered_major_items(write_csv, fw):
    rows = [
        ["2026", "0001", "甲機關", "甲", "SV-P01-01", "符合", ""],
        ["2026", "0001", "甲機關", "甲", "SV-P02-01", "部分符合", ""],
    ]
    data = load_round(read_responses(write_csv(rows), fw))
    majors = [i.id for i in fw.items["service"] if i.major]
    expected = len([m for m in majors if m not in {"SV-P01-01", "SV-P02-01"}])
    html = build(data, "0001").overview().html
    assert f"未作答的大項 {expected} 項" in html


def test_default_output_folders():
    from pathlib import Path

    from guidekit.report.batch import default_out

    assert default_out("zh-TW") == Path("reports/example")
    assert default_out("en") == Path("reports/example-en")
    assert default_out("zh-TW", ["匯出/answers.csv"]) == Path("reports/answers")
    assert default_out("en", "data/my round/") == Path("reports/my-round-en")


def test_method_note_says_how_a_median_between_levels_becomes_a_result(hostile):
    # tw-dsg service scale: 符合 2, 部分符合 1, 不符合 0; met at 2, not met below 1.
    # 部分符合 + 不符合 → median 0.5 → 25 on 0–100 → below 50 → 不符合 (by hand).
    method = re.sub(r"<[^>]+>", "", build(hostile, "0003").method().html)
    assert "綜合後達 100 分為「符合」，低於 50 分為「不符合」，其間為「部分符合」。" in method
    assert "分別答「部分符合」與「不符合」時，中位數為 25 分，綜合結果為「不符合」。" in method
    english = re.sub(r"<[^>]+>", "", build(hostile, "0003", "en").method().html)
    assert "median of 25, so the combined result is &#34;Not met&#34;" in english


def test_control_and_direction_characters_in_notes_are_shown_not_obeyed(tmp_path, fw):
    # U+202E would show the rest of the note reversed; NUL becomes U+FFFD in browsers.
    path = write_round(tmp_path, fw, [("0001", "普通機關")])
    text = path.read_bytes().decode("utf-8-sig")
    text = text.replace("理由：不涉及", "付款\u202e帳號\x00尾", 1)  # an N/A reason
    path.write_bytes(text.encode("utf-8-sig"))
    html = html_of(build(load_round(read_responses(path, fw)), "0001"))
    assert "付款\\u202e帳號\\x00尾" in html
    assert "\u202e" not in html and "\x00" not in html


def test_a_measure_for_a_major_item_not_met_comes_before_heavier_others(mini):
    # MA answers two ordinary items not met (2 + 2 = 4), MB one major item not met (3):
    # the major item is the guideline's must-have, so MB is named first
    import pandas as pd

    items, _ = _mini_assessment({"S1": "not_met", "S2": "not_met", "S3": "not_met"}, {"P01": 0.0})
    chosen = pd.DataFrame(
        {
            "measure_id": ["MA", "MB"],
            "reasons": [
                [
                    {"kind": "item", "item_id": "S2", "status": "not_met"},
                    {"kind": "item", "item_id": "S3", "status": "not_met"},
                ],
                [{"kind": "item", "item_id": "S1", "status": "not_met"}],
            ],
        }
    )
    assert ranked(chosen, items) == ["MB", "MA"]
    assert ranked(chosen, items, "P01") == ["MB", "MA"]
