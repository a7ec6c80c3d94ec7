"""The guideline as data: the bundled framework is faithful to the text, and broken
framework files fail with every problem named (file, row, field)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from guidekit.framework import load_framework
from guidekit.problems import FrameworkError

from .conftest import FIXTURES, GUIDELINE_TEXT

NUMERALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一", "十二", "十三"]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def guideline_titles() -> list[str]:
    """The 13 titles as listed in the guideline's 總說明 (independent of our data)."""
    text = GUIDELINE_TEXT.read_text(encoding="utf-8")
    overview = text.split("內容如下", 1)[1].split("另為協助", 1)[0]
    titles = re.findall(r"^\s*([一二三四五六七八九十]+)、(\S+)\s*$", overview, flags=re.M)
    return [title for _, title in titles]


def test_thirteen_principles_with_official_titles(fw):
    titles = guideline_titles()
    assert len(titles) == 13
    assert [p.title_zh for p in fw.principles] == titles
    assert [p.numeral_zh for p in fw.principles] == NUMERALS
    assert [p.id for p in fw.principles] == [f"P{n:02d}" for n in range(1, 14)]


def test_requirement_and_explanation_are_verbatim(fw):
    body = _squash(GUIDELINE_TEXT.read_text(encoding="utf-8"))
    for p in fw.principles:
        assert p.requirement_zh and _squash(p.requirement_zh) in body, p.id
        assert p.explanation_zh and _squash(p.explanation_zh) in body, p.id
        # the requirement follows the title, the explanation follows the requirement
        start = body.index(_squash(f"{p.numeral_zh}、{p.title_zh}{p.requirement_zh}"))
        assert body.index(_squash(p.explanation_zh), start) > start
        assert p.title_en and p.summary_en and p.requirement_en


def test_four_dimensions_group_principles(fw):
    groups = {d.id: [p.number for p in fw.principles_of(d.id)] for d in fw.dimensions}
    assert groups == {"A": [1, 2, 3], "B": [4, 5, 6], "C": [7, 8, 9, 10], "D": [11, 12, 13]}
    assert fw.dimension("A").title_zh == "探索需求與規劃方向"


@pytest.mark.parametrize("instrument", ["plan", "service"])
def test_item_banks(fw, instrument):
    items = fw.items[instrument]
    per_principle = {p.id: [i for i in items if i.principle == p.id] for p in fw.principles}
    for pid, bank in per_principle.items():
        assert 6 <= len(bank) <= 8, (instrument, pid, len(bank))
        assert any(i.major for i in bank), (instrument, pid)
    ids = [i.id for i in items]
    assert len(ids) == len(set(ids))
    for item in items:
        assert item.text_zh and item.text_en and item.help_zh and item.help_en
        assert item.dimension == fw.principle(item.principle).dimension
        assert item.source.startswith(item.principle + ".")
        clause = fw.principle(item.principle).clause(item.source.split(".")[1])
        assert _squash(item.source_quote) in _squash(clause), item.id


def test_scales_start_with_na_distinct_from_unanswered(fw):
    for inst in fw.instruments:
        scale = fw.scale(inst.id)
        na = [o for o in scale.options if o.na]
        assert len(na) == 1 and na[0].label_zh == "不適用" and na[0].value is None
        assert scale.match("") is None  # blank is never an answer
        assert scale.match("不適用").na and scale.match("N/A").na and scale.match(" n/a ").na
        assert scale.match("２").value == 2  # full-width digit
    assert fw.scale("service").match("符合").code == "Y"
    assert fw.scale("plan").match("已規劃").code == "Y"
    assert fw.scale("service").match("部分符合").code == "P"


def test_measures_reference_existing_items_of_both_forms(fw):
    item_ids = {i.id for bank in fw.items.values() for i in bank}
    stages = {s.id for s in fw.meta.stages}
    assert 20 <= len(fw.measures)
    for m in fw.measures:
        assert m.stage in stages
        referenced = {i for c in m.when for i in c.items}
        assert referenced <= item_ids
    assert {m.stage for m in fw.measures} == stages


def test_version_is_a_string(fw):
    assert isinstance(fw.version, str) and fw.version


# -- broken framework folders --------------------------------------------------------


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", folder)
    return folder


def _problems(folder: Path) -> list:
    with pytest.raises(FrameworkError) as info:
        load_framework(folder)
    return info.value.problems


def test_broken_item_rows_are_all_reported(broken):
    path = broken / "items-service.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = "S2,P09,A,false,1,項目二,Item two,,,,,"  # unknown principle (row 3)
    lines[3] = "S3,P01,B,false,abc,項目三,Item three,,,,,"  # wrong dimension + bad weight (row 4)
    lines[4] = "S1,P02,A,false,1,項目四,Item four,,,,,"  # duplicate id (row 5)
    lines[5] = "S5,P02,A,maybe,1,,Item five,,,,,"  # bad flag + empty text (row 6)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = {(p.file, p.row, p.column, p.code) for p in _problems(broken)}
    file = str(path)
    assert (file, 3, "principle", "unknown-ref") in found
    assert (file, 4, "weight", "schema") in found
    assert (file, 5, "id", "duplicate-id") in found
    assert (file, 6, "major", "schema") in found
    assert (file, 6, "text_zh", "schema") in found


def test_dimension_mismatch_is_reported(broken):
    path = broken / "items-service.csv"
    text = path.read_text(encoding="utf-8").replace("S6,P03,B,", "S6,P03,A,")
    path.write_text(text, encoding="utf-8")
    problems = _problems(broken)
    assert [(p.row, p.column, p.code, p.value) for p in problems] == [
        (7, "dimension", "dimension-mismatch", "A")
    ]
    assert "P03" in problems[0].message("en") and problems[0].expected("en") == "B"


def test_source_quote_must_be_verbatim(broken):
    path = broken / "items-service.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "P01.requirement,使用者需求,", "P01.requirement,使用者想要,"
        ),
        encoding="utf-8",
    )
    problems = _problems(broken)
    assert [(p.row, p.column, p.code) for p in problems] == [(2, "source_quote", "source-quote")]


def test_yaml_syntax_error_names_the_line(broken):
    path = broken / "principles.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = "  title_zh: [第一原則"  # line 4: unclosed flow sequence
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = _problems(broken)
    assert problems and all(p.code == "yaml" for p in problems)
    assert (
        problems[0].file.endswith("principles.yaml")
        and problems[0].row is not None
        and problems[0].row >= 4
    )


def test_principle_fields_are_located_by_line(broken):
    path = broken / "principles.yaml"
    text = path.read_text(encoding="utf-8").replace("  dimension: B\n", "  dimension: Z\n")
    text = text.replace("  number: 2\n", "  number: two\n")
    path.write_text(text, encoding="utf-8")
    found = {(p.row, p.column, p.code) for p in _problems(broken)}
    lines = text.splitlines()
    assert (lines.index("  number: two") + 1, "number", "schema") in found
    assert (lines.index("  dimension: Z") + 1, "dimension", "unknown-ref") in found


def test_unquoted_version_is_refused(broken):
    path = broken / "framework.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace('version: "1.0"', "version: 1.10"),
        encoding="utf-8",
    )
    problems = _problems(broken)
    assert [(p.column, p.code) for p in problems] == [("version", "schema")]
    assert "quoted" in problems[0].expected("en")
    assert "加引號" in problems[0].expected("zh-TW")


def test_measure_with_unknown_item(broken):
    path = broken / "measures.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("items: [S1]", "items: [S1, S99]"),
        encoding="utf-8",
    )
    problems = _problems(broken)
    assert [(p.column, p.value, p.code) for p in problems] == [("when.items", "S99", "unknown-ref")]
    assert problems[0].row == 7


def test_missing_folder():
    with pytest.raises(FrameworkError) as info:
        load_framework("/nonexistent/framework")
    assert info.value.problems[0].code == "missing-file"


def test_messages_in_both_languages(broken):
    path = broken / "items-service.csv"
    path.write_text(
        path.read_text(encoding="utf-8").replace("S6,P03,B,", "S6,P03,A,"), encoding="utf-8"
    )
    problem = _problems(broken)[0]
    assert "構面" in problem.format("zh-TW") and "錯誤" in problem.format("zh-TW")
    assert "dimension" in problem.format("en") and "error" in problem.format("en")


@pytest.mark.parametrize("weight", ["inf", "-inf", "nan", "1e400"])
def test_item_weight_must_be_finite(broken, weight):
    # An infinite weight made a principle's score vanish (inf/inf) without a word.
    path = broken / "items-service.csv"
    text = path.read_text(encoding="utf-8").replace(
        "S2,P01,A,false,1,", f"S2,P01,A,false,{weight},"
    )
    path.write_text(text, encoding="utf-8")
    problems = _problems(broken)
    assert [(p.row, p.column, p.value, p.code) for p in problems] == [
        (3, "weight", weight, "schema")
    ]
    assert "有限的數字" in problems[0].format("zh-TW")
    assert "finite number" in problems[0].format("en")


def test_broken_item_row_is_not_reported_again_by_measures(broken):
    # measures.yaml refers to S1; S1's own row is broken. One problem, not a second
    # "unknown item" for a row that is in the file.
    path = broken / "items-service.csv"
    text = path.read_text(encoding="utf-8").replace("S1,P01,A,true,1,", "S1,P01,A,true,inf,")
    path.write_text(text, encoding="utf-8")
    assert [(p.row, p.column, p.code) for p in _problems(broken)] == [(2, "weight", "schema")]


@pytest.mark.parametrize(
    ("old", "new", "column"),
    [
        ("  weight: 1\n", "  weight: .inf\n", "weight"),
        ("  weight: 1\n", "  weight: true\n", "weight"),
        ("  number: 2\n", "  number: true\n", "number"),
    ],
)
def test_principle_numbers_are_finite_and_not_true_false(broken, old, new, column):
    path = broken / "principles.yaml"
    text = path.read_text(encoding="utf-8")
    if old not in text:  # the fixture gives no weight: add one to the second principle
        text = text.replace("  number: 2\n", "  number: 2\n" + old)
    text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    problems = _problems(broken)
    assert [(p.row, p.column, p.code) for p in problems] == [
        (text.splitlines().index(new.rstrip("\n")) + 1, column, "schema")
    ]


def test_scale_thresholds_lie_on_the_scale_all_reported_at_once(broken):
    # met_value 7 on a 0–2 scale: no item could ever be met; a negative spread
    # flags every item as a disagreement. Both are named in one problem, in both languages.
    path = broken / "framework.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("    met_value: 2\n", "    met_value: 7\n")
    text = text.replace("    disagreement_spread: 2\n", "    disagreement_spread: -1\n")
    path.write_text(text, encoding="utf-8")
    problems = _problems(broken)
    assert [(p.column, p.code) for p in problems] == [("scales.0", "schema")]
    en, zh = problems[0].format("en"), problems[0].format("zh-TW")
    assert "met_value 7" in en and "from 0 to 2" in en and "disagreement_spread -1" in en
    assert "met_value 7 須在量表範圍 0 至 2 之內" in zh and "disagreement_spread -1 須大於 0" in zh


def test_not_met_below_above_met_value_is_refused(broken):
    path = broken / "framework.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "    met_value: 2\n    not_met_below: 1\n", "    met_value: 1\n    not_met_below: 2\n"
    )
    path.write_text(text, encoding="utf-8")
    problems = _problems(broken)
    assert "not_met_below 2 must not exceed met_value 1" in problems[0].format("en")


def test_unknown_scoring_choice_lists_the_allowed_values(broken):
    path = broken / "framework.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "scoring:\n", "scoring:\n  aggregation: median\n"
    )
    path.write_text(text, encoding="utf-8")
    problems = _problems(broken)
    assert [(p.column, p.value) for p in problems] == [("scoring.aggregation", "median")]
    assert "'arithmetic' or 'geometric'" in problems[0].format("en")
    assert "允許的值之一：'arithmetic' or 'geometric'" in problems[0].format("zh-TW")
