"""Meaning is never guessed silently (issue 8, item 4; tests/fixtures/cases/…).

* ``yaml-boolean-synthetic``: ``synthetic: no`` in dataset.yaml labelled real answers synthetic;
* ``binary-answer-codes``: yes/no sheets coded 1/0 are read as 部分/未 on a 2/1/0 scale;
* ``one-agency-split``: one agency's files with and without 服務名稱, or 計劃/計畫, split;
* ``weight-overflow``: ``--weight P08=1e308`` gave the score "inf", banded "leading";
* "silent tidying of answers": ``Ｙ``, `` Ｐ ``, ``Yes``, ``部份規劃`` accepted without a word.

Expected values are worked out from the files' bytes and the scale (see the comments),
not taken from guidekit's output.
"""

from __future__ import annotations

import csv
import io
import math
import shutil
import statistics
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from guidekit.answers import metadata_flag
from guidekit.cli import main
from guidekit.framework import WEIGHT_MAX, WEIGHT_MIN, load_framework
from guidekit.intake.responses import read_responses, validate_responses
from guidekit.problems import FrameworkError, GuidekitError, Severity
from guidekit.report import load_round
from guidekit.report.context import AgencyReport
from guidekit.scoring import score, weighted_mean, weighted_means
from guidekit.store import Change, Sheet, open_store
from guidekit.text import parse_flag

from .conftest import FIXTURES, ZH_HEADER

CASES = FIXTURES / "cases"
SYNTHETIC = CASES / "yaml-boolean-synthetic" / "answers"
BINARY = CASES / "binary-answer-codes"
SPLIT = CASES / "one-agency-split"
OVERFLOW = CASES / "weight-overflow" / "ok.csv"
BANNER = "示範資料：本報告的填答為程式產生的合成資料"
HEADER = [
    "評估回合",
    "機關代碼",
    "機關名稱",
    "服務名稱",
    "自評表",
    "填答者",
    "題號",
    "答案",
    "說明",
]


def write(path: Path, rows, header=HEADER, encoding="utf-8-sig") -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def xlsx(path: Path, rows, header=HEADER) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def plan_rows(answers, respondent="甲", service="數位服務精進計畫", agency="0012"):
    """Rows of the plan form (items PL-P01-01 …) with these answers, in order."""
    fw = load_framework()
    items = [i.id for i in fw.items["plan"]]
    return [
        ["2026", agency, "測試機關", service, "plan", respondent, items[n], answer, ""]
        for n, answer in enumerate(answers)
    ]


def warnings(report, code):
    return [p for p in report.problems if p.code == code]


# -- yaml-boolean-synthetic: one rule for yes/no flags ------------------------------------


def test_case_synthetic_no_is_real_data(fw):
    # dataset.yaml says `synthetic: no`: under YAML 1.2 that is the string "no", which
    # Python's truthiness called true; the report then said "示範資料" on real answers.
    responses = read_responses(SYNTHETIC, fw)
    assert responses.synthetic is False and responses.synthetic_for("OK01") is False
    assert responses.sources[0].metadata["synthetic"] is False
    html = AgencyReport(load_round(SYNTHETIC, fw), "OK01").header().html
    assert BANNER not in html


@pytest.mark.parametrize(
    "written, meant",
    [
        ("no", False),
        ("No", False),
        ("'no'", False),
        ("false", False),
        ("FALSE", False),
        ("off", False),
        ("n", False),
        ("0", False),
        ("否", False),
        ("假", False),
        ("ｎｏ", False),  # full-width
        ("yes", True),
        ("True", True),
        ("on", True),
        ("Y", True),
        ("1", True),
        ("是", True),
        ("'真'", True),
    ],
)
def test_synthetic_flag_spellings(tmp_path, fw, written, meant):
    folder = tmp_path / "answers"
    shutil.copy(SYNTHETIC / "ok.csv", folder.mkdir() or folder / "ok.csv")
    (folder / "dataset.yaml").write_text(f"synthetic: {written}\n", encoding="utf-8")
    responses = read_responses(folder, fw)
    assert responses.synthetic is meant
    assert (BANNER in AgencyReport(load_round(responses), "OK01").header().html) is meant


@pytest.mark.parametrize("written", ["maybe", "2", "''", "~", "[yes]", "是的"])
def test_a_flag_that_is_neither_yes_nor_no_is_refused(tmp_path, fw, written):
    folder = tmp_path / "answers"
    shutil.copy(SYNTHETIC / "ok.csv", folder.mkdir() or folder / "ok.csv")
    meta = folder / "dataset.yaml"
    meta.write_text(f"title: 測試\nsynthetic: {written}\n", encoding="utf-8")
    report = validate_responses(folder, fw)
    [error] = report.errors
    assert (error.file, error.row, error.column, error.code) == (
        str(meta),
        2,
        "synthetic",
        "metadata-flag",
    )
    text = error.format("zh-TW")
    assert "是非欄位" in text and "yes/no" in text and "是/否" in text
    assert "one of true/false, yes/no" in error.format("en")
    # the command line says the same and exits 1
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 1
    assert f"{meta}:2 [synthetic] 錯誤" in result.output


def test_every_dataset_yaml_error_is_reported_once(tmp_path, fw):
    folder = tmp_path / "answers"
    folder.mkdir()
    shutil.copy(SYNTHETIC / "ok.csv", folder / "a.csv")
    write(folder / "b.csv", plan_rows(["已規劃"]))
    (folder / "dataset.yaml").write_text("synthetic: maybe\n", encoding="utf-8")
    assert [p.code for p in validate_responses(folder, fw).errors] == ["metadata-flag"]


def test_a_file_sidecar_overrides_its_folder(tmp_path, fw):
    folder = tmp_path / "answers"
    folder.mkdir()
    shutil.copy(SYNTHETIC / "ok.csv", folder / "ok.csv")
    (folder / "dataset.yaml").write_text("synthetic: yes\n", encoding="utf-8")
    (folder / "ok.meta.yaml").write_text("synthetic: 否\n", encoding="utf-8")
    assert read_responses(folder, fw).synthetic is False


def test_metadata_made_in_code_goes_through_the_same_rule():
    assert metadata_flag({"synthetic": "no"}, "synthetic") is False
    assert metadata_flag({"synthetic": "是"}, "synthetic") is True
    assert metadata_flag({}, "synthetic") is False
    with pytest.raises(GuidekitError) as info:
        metadata_flag({"synthetic": "maybe"}, "synthetic")
    assert "'maybe'" in info.value.text("zh-TW") and "是/否" in info.value.text("zh-TW")
    assert parse_flag(2) is None and parse_flag(1.0) is None and parse_flag(None) is None


def _mini_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "mini"
    shutil.copytree(FIXTURES / "mini", folder)
    return folder


def test_framework_yes_no_fields_use_the_same_spellings(tmp_path):
    folder = _mini_copy(tmp_path)
    items = folder / "items-service.csv"
    text = items.read_text(encoding="utf-8")
    text = text.replace("S1,P01,A,true,", "S1,P01,A,是,").replace("S2,P01,A,false,", "S2,P01,A,No,")
    items.write_text(text, encoding="utf-8")
    fw = load_framework(folder)
    majors = {i.id: i.major for i in fw.items["service"]}
    assert (majors["S1"], majors["S2"]) == (True, False)

    items.write_text(text.replace("S3,P01,A,false,", "S3,P01,A,maybe,"), encoding="utf-8")
    with pytest.raises(FrameworkError) as info:
        load_framework(folder)
    [problem] = info.value.problems
    assert (problem.row, problem.column, problem.value) == (4, "major", "maybe")
    assert "是/否" in problem.format("zh-TW") and "yes/no" in problem.format("en")


# -- binary-answer-codes: 1/0 on a 2/1/0 scale ------------------------------------------


def test_case_answers_coded_1_and_0_are_named(fw):
    # binary_codes.csv: two respondents, answers only "1" (158), "0" (20) and blank (4);
    # no 2 anywhere.  On the plan scale 1 is 部分規劃 (P) and 0 未規劃 (N).
    report = validate_responses(BINARY / "binary_codes.csv", fw)
    assert report.ok
    [warning] = report.problems
    assert (warning.code, warning.row, warning.column, warning.severity) == (
        "binary-codes",
        2,
        "答案",
        Severity.WARNING,
    )
    text = warning.format("zh-TW")
    assert str(BINARY / "binary_codes.csv") in text
    assert "研考單位專員、業務單位科長" in text
    assert "1 是「部分規劃」（P），不是「已規劃」" in text
    assert "把 1 改為 Y（或 2）、0 改為 N" in text and "（178 格）" in text
    assert "1 means Partly planned (P), not Planned" in warning.format("en")
    # not re-mapped: read as the scale says, the same as the file with P and N written out
    frame = report.responses.frame
    assert frame["answer"].value_counts().to_dict() == {"P": 158, "N": 20}


def test_case_1_0_scores_as_the_scale_says_and_recoding_gives_the_yes_no_score(tmp_path, fw):
    # yn_codes.csv holds the same answers written Y/N (Y wherever binary has 1).
    binary = pd.read_csv(BINARY / "binary_codes.csv", dtype=str, keep_default_na=False)
    yes_no = pd.read_csv(BINARY / "yn_codes.csv", dtype=str, keep_default_na=False)
    assert (binary["答案"].replace({"1": "Y", "0": "N"}) == yes_no["答案"]).all()
    recoded = tmp_path / "recoded.csv"
    binary.assign(答案=binary["答案"].replace({"1": "Y", "0": "N"})).to_csv(
        recoded, index=False, encoding="utf-8-sig"
    )
    as_written = score(read_responses(BINARY / "binary_codes.csv", fw)).overall["score"].iloc[0]
    yn = score(read_responses(BINARY / "yn_codes.csv", fw)).overall["score"].iloc[0]
    assert score(read_responses(recoded, fw)).overall["score"].iloc[0] == pytest.approx(yn)
    # by hand: every item's median is 100 (Y/Y), 0 (N/N), 50 (Y/N) or the single answer;
    # read as P/N each of those halves (P = 50 where Y = 100), so the 1/0 score is half.
    assert as_written == pytest.approx(yn / 2)
    # by hand from the bytes: Y = 100, N = 0, an item's median over its answers, a
    # principle the mean of its answered items (all weights 1), overall the mean of the 13
    principle = {i.id: i.principle for i in fw.items["plan"]}
    per_item: dict[str, list[int]] = {}
    for item, answer in zip(yes_no["題號"], yes_no["答案"], strict=True):
        if answer:
            per_item.setdefault(item, []).append({"Y": 100, "N": 0}[answer])
    per_principle: dict[str, list[float]] = {}
    for item, values in per_item.items():
        per_principle.setdefault(principle[item], []).append(statistics.median(values))
    by_hand = statistics.mean(statistics.mean(v) for v in per_principle.values())
    assert len(per_principle) == 13 and yn == pytest.approx(by_hand)


def test_yes_no_codes_are_the_scales_own_and_say_nothing(fw):
    # Y and N are the codes of 已規劃 and 未規劃: their meaning is not in doubt
    assert validate_responses(BINARY / "yn_codes.csv", fw).problems == []


def test_case_true_false_answers_are_refused_with_how_to_write_them(tmp_path, fw):
    # bool_codes.csv: TRUE (158) and FALSE (20); neither is an option of the scale
    report = validate_responses(BINARY / "bool_codes.csv", fw)
    assert len(report.errors) == 178
    assert {p.code for p in report.errors} == {"yes-no-answer"}
    first = report.errors[0]
    assert (first.row, first.column, first.value) == (2, "答案", "TRUE")
    text = first.format("zh-TW")
    assert "不會猜測" in text and "請改填 Y" in text and "請改填 N" in text
    assert "if yes means Planned, write Y" in first.format("en")
    # an Excel sheet of TRUE/FALSE cells (booleans, not text) is refused the same way
    table = pd.read_csv(BINARY / "bool_codes.csv", dtype=str, keep_default_na=False).head(3)
    rows = [[*r[:7], r[7] == "TRUE", r[8]] for r in table.itertuples(index=False)]
    header = list(table.columns[:9])
    book = validate_responses(xlsx(tmp_path / "bool.xlsx", rows, header), fw)
    assert [(p.row, p.code, p.value) for p in book.errors] == [
        (2, "yes-no-answer", "TRUE"),
        (3, "yes-no-answer", "TRUE"),
        (4, "yes-no-answer", "TRUE"),
    ]


def test_only_the_respondent_coding_1_0_is_named(tmp_path, fw):
    rows = plan_rows(["1", "0", "1"], respondent="甲") + plan_rows(
        ["已規劃", "部分規劃", "未規劃"], respondent="乙"
    )
    report = validate_responses(write(tmp_path / "a.csv", rows), fw)
    [warning] = warnings(report, "binary-codes")
    assert warning.params["respondents"] == "甲" and warning.params["n"] == 3


def test_a_file_with_2_is_a_2_1_0_file(tmp_path, fw):
    # respondent 甲 answers only 1 and 0, but 乙 uses 2: the file is coded 2/1/0
    rows = plan_rows(["1", "0", "1"], respondent="甲") + plan_rows(["2", "1"], respondent="乙")
    assert warnings(validate_responses(write(tmp_path / "a.csv", rows), fw), "binary-codes") == []


def test_only_zeros_or_words_mixed_in_say_nothing(tmp_path, fw):
    zeros = plan_rows(["0", "0"], respondent="甲")  # 0 is 未規劃 in both codings
    mixed = plan_rows(["1", "0", "部分規劃"], respondent="乙")  # not a numeric sheet
    report = validate_responses(write(tmp_path / "a.csv", zeros + mixed), fw)
    assert warnings(report, "binary-codes") == []


@pytest.mark.parametrize("engine", ["xlsx", "ods"])
def test_1_0_in_a_workbook_is_named_too(tmp_path, fw, engine):
    # numbers stored as numbers (not text) in Excel / LibreOffice
    rows = [[*r[:7], int(r[7]), r[8]] for r in plan_rows(["1", "0", "1", "1"])]
    path = tmp_path / f"a.{engine}"
    pd.DataFrame(rows, columns=HEADER).to_excel(
        path, index=False, engine="openpyxl" if engine == "xlsx" else "odf"
    )
    [warning] = warnings(validate_responses(path, fw), "binary-codes")
    assert warning.file == str(path) and warning.params["n"] == 4


def test_the_score_command_shows_the_1_0_warning(fw):
    result = CliRunner().invoke(
        main, ["score", str(BINARY / "binary_codes.csv"), "--level", "overall"]
    )
    assert result.exit_code == 0, result.stderr
    assert "1 是「部分規劃」（P），不是「已規劃」" in result.stderr
    assert result.stdout.startswith("round,agency_id")  # the table stays clean


# -- one-agency-split: service names that look alike -------------------------------------


def test_case_one_agency_split_is_named(fw):
    # four files of SV01: 數位服務精進計畫 (with_service), the same with a trailing space
    # (trailing_space: the space is trimmed on reading), 數位服務精進計劃 (variant_char)
    # and no 服務名稱 column (without_service)
    report = validate_responses(SPLIT, fw)
    assert report.ok
    [warning] = warnings(report, "service-lookalike")
    text = warning.format("zh-TW")
    assert "機關代碼 SV01" in text and "分成 3 個評估" in text
    assert "「數位服務精進計畫」（" + str(SPLIT / "trailing_space.csv") in text
    assert "「數位服務精進計劃」（" + str(SPLIT / "variant_char.csv") + "）" in text
    assert "空白（" + str(SPLIT / "without_service.csv") + "）" in text
    assert "不會自動合併" in text
    assert "not merged automatically" in warning.format("en")
    # kept apart as written: nothing is guessed
    overall = score(report.responses).overall
    assert sorted(overall["service"]) == ["", "數位服務精進計劃", "數位服務精進計畫"]
    assert overall.set_index("service")["n_respondents"].to_dict() == {
        "": 1,
        "數位服務精進計劃": 1,
        "數位服務精進計畫": 2,
    }


@pytest.mark.parametrize(
    "one, other",
    [
        ("數位服務精進計畫", "數位服務精進計劃"),
        ("臺北市線上申辦", "台北市線上申辦"),
        ("部分補助申請", "部份補助申請"),
        ("線上 申辦", "線上申辦"),
        ("E化服務", "e化服務"),
        ("線上申辦", ""),
    ],
)
def test_service_names_that_look_alike_are_named(tmp_path, fw, one, other):
    write(tmp_path / "a.csv", plan_rows(["已規劃"], respondent="甲", service=one))
    write(tmp_path / "b.csv", plan_rows(["已規劃"], respondent="乙", service=other))
    [warning] = warnings(validate_responses(tmp_path, fw), "service-lookalike")
    assert warning.params["n"] == 2


def test_different_services_are_not_named(tmp_path, fw):
    write(tmp_path / "a.csv", plan_rows(["已規劃"], respondent="甲", service="線上申辦"))
    write(tmp_path / "b.csv", plan_rows(["已規劃"], respondent="乙", service="數位櫃檯"))
    write(
        tmp_path / "c.csv", plan_rows(["已規劃"], respondent="甲", service="線上申辦", agency="9")
    )
    assert warnings(validate_responses(tmp_path, fw), "service-lookalike") == []


def test_split_across_a_workbook_and_a_csv(tmp_path, fw):
    write(tmp_path / "a.csv", plan_rows(["已規劃"], respondent="甲", service="數位服務精進計畫"))
    xlsx(tmp_path / "b.xlsx", plan_rows(["已規劃"], respondent="乙", service="數位服務精進計劃"))
    [warning] = warnings(validate_responses(tmp_path, fw), "service-lookalike")
    assert str(tmp_path / "b.xlsx") in warning.params["names_zh"]


def test_split_across_a_store_and_a_csv(tmp_path, fw):
    item = fw.items["plan"][0].id
    sheet = Sheet("2026", "0012", "測試機關", "數位服務精進計劃", "plan", "乙")
    with open_store(tmp_path / "store.sqlite", fw) as store:
        store.record(Change(sheet, item, "Y"))
    csv_file = write(tmp_path / "a.csv", plan_rows(["已規劃"], service="數位服務精進計畫"))
    report = validate_responses([csv_file, tmp_path / "store.sqlite"], fw)
    [warning] = warnings(report, "service-lookalike")
    assert str(tmp_path / "store.sqlite") in warning.params["names_zh"]


def test_split_within_a_workshop_store(tmp_path, fw):
    # two workshop sheets of one agency, the service typed 計畫 in one and 計劃 in the other
    item = fw.items["plan"][0].id
    path = tmp_path / "store.sqlite"
    with open_store(path, fw) as store:
        for respondent, service in (("甲", "數位服務精進計畫"), ("乙", "數位服務精進計劃")):
            sheet = Sheet("2026", "0012", "測試機關", service, "plan", respondent)
            store.record(Change(sheet, item, "Y"))
        [warning] = warnings(store.responses(fw), "service-lookalike")
    assert "「數位服務精進計劃」" in warning.params["names_zh"]
    # read as an answer source, it is named once
    assert len(warnings(validate_responses(path, fw), "service-lookalike")) == 1


def test_the_score_command_shows_the_split(fw):
    result = CliRunner().invoke(main, ["score", str(SPLIT), "--level", "overall"])
    assert result.exit_code == 0, result.stderr
    assert "服務名稱寫法不同，答案被分成 3 個評估" in result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 + 3


# -- silent tidying of answers -----------------------------------------------------------

TIDY = [
    "Ｙ",
    " Ｐ ",
    "Yes",
    "部份規劃",
    "y",
    "已規劃\u200b",
    "Ｙ",
    "Ｙ",
    "Y",
    "已規劃",
    "Planned",
    "2",
]


def _tidy_warnings(report):
    return {p.code: (p.row, p.also_rows) for p in report.problems if p.code.startswith("answer-")}


def _check_tidy(report, file):
    # rows 2.. hold TIDY in order: Ｙ (2), ' Ｐ ' (3), Yes (4), 部份規劃 (5), y (6),
    # 已規劃+ZWSP (7), Ｙ (8), Ｙ (9); Y, 已規劃, Planned and 2 are the scale's own spellings
    assert _tidy_warnings(report) == {
        "answer-width": (2, (3, 8, 9)),
        "answer-spaces": (3, ()),
        "answer-alias": (4, (5,)),
        "answer-case": (6, ()),
        "answer-invisible": (7, ()),
    }
    width = next(p for p in report.problems if p.code == "answer-width")
    assert width.file == str(file)
    text = width.format("zh-TW")
    assert (
        "全形字元，已轉為半形" in text
        and "'Ｙ' → Y（3 格）" in text
        and "' Ｐ ' → P（1 格）" in text
    )
    assert "（共 4 列：第 2, 3, 8, 9 列）" in text
    alias = next(p for p in report.problems if p.code == "answer-alias").format("en")
    assert "'Yes' → Y (1)" in alias and "'部份規劃' → P (1)" in alias
    answers = report.responses.frame["answer"].tolist()
    assert answers == ["Y", "P", "Y", "P", "Y", "Y", "Y", "Y", "Y", "Y", "Y", "Y"]


def test_every_tidy_up_of_an_answer_is_listed_per_file_and_kind(tmp_path, fw):
    path = write(tmp_path / "a.csv", plan_rows(TIDY))
    _check_tidy(validate_responses(path, fw), path)


def test_tidy_ups_in_a_workbook_are_listed_alike(tmp_path, fw):
    rows = plan_rows(TIDY)
    rows[-1][7] = 2  # a number cell
    path = xlsx(tmp_path / "a.xlsx", rows)
    _check_tidy(validate_responses(path, fw), path)
    ods = tmp_path / "a.ods"
    pd.DataFrame(rows, columns=HEADER).to_excel(ods, index=False, engine="odf")
    _check_tidy(validate_responses(ods, fw), ods)


def test_answers_as_the_scale_writes_them_say_nothing(tmp_path, fw):
    rows = plan_rows(["Y", "P", "N", "NA", "已規劃", "部分規劃", "未規劃", "Planned", "2", "1"])
    rows[3][8] = "理由：不涉及"  # 不適用 with a reason
    assert validate_responses(write(tmp_path / "a.csv", rows), fw).problems == []


def test_a_store_keeps_codes_and_refuses_anything_else(tmp_path, fw):
    # the workshop store holds the scale's codes only: nothing there is ever tidied
    item = fw.items["plan"][0].id
    sheet = Sheet("2026", "0012", "測試機關", "", "plan", "甲")
    with open_store(tmp_path / "store.sqlite", fw) as store:
        with pytest.raises(GuidekitError):
            store.record(Change(sheet, item, "Yes"))
        store.record(Change(sheet, item, "Y"))
    assert validate_responses(tmp_path / "store.sqlite", fw).problems == []


# -- weight-overflow: bounded weights ----------------------------------------------------


def test_case_huge_weight_is_refused_naming_the_option(fw):
    result = CliRunner().invoke(
        main, ["score", str(OVERFLOW), "--level", "overall", "--weight", "P08=1e308"]
    )
    assert result.exit_code == 2
    assert result.stdout == ""  # no table with an "inf" score
    assert "--weight P08=1e308：權重須為 0.000001 至 1000000 之間的數字，不是 '1e308'" in (
        result.stderr
    )
    english = CliRunner().invoke(
        main, ["--lang", "en", "score", str(OVERFLOW), "--weight", "P08=1e7"]
    )
    assert "--weight P08=1e7: a weight must be a number from 0.000001 to 1000000" in english.stderr


@pytest.mark.parametrize("weight", [1e308, 1e7, 1e-7, 5e-324, 0, -1, math.inf, math.nan, True, "x"])
def test_weights_out_of_bounds_are_refused_by_the_api(fw, weight):
    responses = read_responses(OVERFLOW, fw)
    with pytest.raises(GuidekitError) as info:
        score(responses, {"P08": weight})
    assert "P08 的權重：權重須為 0.000001 至 1000000" in info.value.text("zh-TW")


def test_weights_at_the_bounds_score_by_hand(tmp_path, mini):
    # mini: P01 = items S1 (w1), S2 (w1), S3 (w2); P02 = S4, S5; P03 = S6.
    # One respondent: S1 符合 100, S2 部分符合 50, S3 不符合 0, S4 符合 100, S5 部分符合 50, S6 不符合 0
    # P01 = (100 + 50 + 0·2) / 4 = 37.5; P02 = (100 + 50) / 2 = 75; P03 = 0.
    answers = ["符合", "部分符合", "不符合", "符合", "部分符合", "不符合"]
    rows = [["2026", "0012", "測試機關", "甲", f"S{n}", a, ""] for n, a in enumerate(answers, 1)]
    responses = read_responses(write(tmp_path / "a.csv", rows, ZH_HEADER), mini)
    overall = score(responses, {"P02": WEIGHT_MAX, "P03": WEIGHT_MIN}).overall["score"].iloc[0]
    assert overall == pytest.approx((37.5 + 75 * 1e6 + 0 * 1e-6) / (1 + 1e6 + 1e-6))
    assert math.isfinite(overall)


def test_framework_file_weights_have_the_same_bounds(tmp_path):
    folder = _mini_copy(tmp_path)
    principles = folder / "principles.yaml"
    text = principles.read_text(encoding="utf-8")
    principles.write_text(
        text.replace("  dimension: B\n", "  dimension: B\n  weight: 1e308\n"), encoding="utf-8"
    )
    with pytest.raises(FrameworkError) as info:
        load_framework(folder)
    [problem] = info.value.problems
    assert (problem.file, problem.column, problem.value) == (str(principles), "weight", "1e+308")
    assert "1000000" in problem.format("zh-TW")


def test_geometric_aggregation_stays_finite_at_the_bounds():
    values = pd.Series([100.0, 1e-9, 50.0])
    weights = pd.Series([WEIGHT_MAX, WEIGHT_MIN, WEIGHT_MAX])
    mean = weighted_mean(values, weights, "geometric")
    # exp(Σ w ln x / Σ w) lies between the smallest and largest score
    expected = math.exp(
        (1e6 * math.log(100) + 1e-6 * math.log(1e-9) + 1e6 * math.log(50)) / (2e6 + 1e-6)
    )
    assert mean == pytest.approx(expected) and 1e-9 < mean <= 100


def test_a_sum_that_would_overflow_is_an_error_not_inf():
    # weights beyond the bounds can only come from code that skips check_weight
    with pytest.raises(GuidekitError) as info:
        weighted_mean(pd.Series([100.0, 100.0]), pd.Series([1e308, 1e308]))
    assert "溢位" in info.value.text("zh-TW")
    with pytest.raises(GuidekitError):
        weighted_means(np.array([[100.0, 100.0]]), np.array([[1e308, 1e308]]))
