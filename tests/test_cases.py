"""Hostile and messy files reported by testers (tests/fixtures/cases): each kind of
problem is found and named, and nothing is read wrongly in silence.

Every expectation below was worked out from the file's bytes (see the comment
beside it), not taken from guidekit's output.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from guidekit.cli import main
from guidekit.files import excel_safe
from guidekit.intake.responses import read_responses, validate_responses
from guidekit.report import load_round
from guidekit.report.batch import report_filenames
from guidekit.scoring import score
from guidekit.text import printable

from .conftest import FIXTURES, ZH_HEADER

CASES = FIXTURES / "cases"


def found(path, fw=None):
    report = validate_responses(path, fw)
    return report, sorted((p.code, p.row, p.severity.value) for p in report.problems)


def test_unclosed_quote_is_an_error_not_a_swallowed_file(fw):
    # row 3's note opens a quote that is never closed: rows 4–6 would become part of it
    _, codes = found(CASES / "41-unclosed-quote.csv", fw)
    assert codes == [("csv", 3, "error")]


def test_quotes_inside_an_unquoted_note_are_kept(fw):
    responses = read_responses(CASES / "41b-bare-quotes.csv", fw)
    assert responses.frame["note"].tolist()[1] == '依據"計畫書"第3頁'
    assert len(responses.frame) == 3


def test_rows_shorter_than_the_header(fw):
    # row 3 stops after the item id (5 of 7 fields: no answer at all); row 4 lacks only the note
    _, codes = found(CASES / "42-short-row.csv", fw)
    assert codes == [("short-row", 3, "error"), ("short-row", 4, "warning")]
    _, codes = found(CASES / "42b-truncated-midrow.csv", fw)
    assert ("short-row", 4, "error") in codes


def test_simplified_chinese_file_is_flagged(fw):
    # GB18030 bytes that happen to decode as CP950 (into nonsense names)
    report, codes = found(CASES / "04d-gb18030-codes-passes.csv", fw)
    assert ("maybe-simplified", None, "warning") in codes
    assert report.sources[0].encoding == "cp950"


def test_eudc_character_is_located(fw):
    # a CP950 file whose row 3 holds a user-defined (造字) character, bytes fa 40
    report, codes = found(CASES / "03d-cp950-eudc.csv", fw)
    assert codes == [("encoding", 3, "error")]
    problem = report.problems[0]
    assert problem.value.startswith("bytes fa 40") and "造字" in problem.message("zh-TW")


def test_truncated_cp950_file_is_located(fw):
    # the last line ends in half a CP950 character (lead byte f9)
    _, codes = found(CASES / "05c-truncated-cp950.csv", fw)
    assert codes == [("encoding", 4, "error")]


def test_a_very_long_note_is_read(tmp_path, write_csv, fw):
    note = "佐證" * 150_000  # 300,000 characters: over the csv module's default field limit
    rows = [
        ["2026", "0010", "機關", "R1", "SV-P01-01", "符合", note],
        ["2026", "0010", "機關", "R1", "SV-P99-99", "符合", ""],
    ]
    report, codes = found(write_csv(rows), fw)
    assert codes == [("unknown-item", 3, "error")]  # the row after the long note is still checked
    assert len(report.sources) == 1


def test_xlsx_dates_in_code_columns_are_warned(fw):
    # round 2026-10-01 and agency code 2026-01-10 typed as dates, a time as the round
    responses = read_responses(CASES / "11-xlsx-dates.xlsx", fw)
    converted = [p for p in responses.problems if p.code == "excel-converted"]
    assert {p.column for p in converted} == {"評估回合", "機關代碼", "填答者"}


def test_xlsx_formulas_without_values_are_errors(fw):
    # formulas saved by a program, never computed by Excel: the file holds no value.
    # Row 4's note (=HYPERLINK(...)) is not blank either: it is an error, not a lost note.
    _, codes = found(CASES / "12-xlsx-formulas-nocache.xlsx", fw)
    assert codes == [
        ("excel-formula", 2, "error"),
        ("excel-formula", 3, "error"),
        ("excel-formula", 3, "error"),
        ("excel-formula", 4, "error"),
    ]


def test_hidden_first_sheet_is_not_read(fw):
    # sheet 1 (hidden) holds 2025 answers of 舊資料; the visible sheet 填答1 holds the real ones
    responses = read_responses(CASES / "15-xlsx-hidden-first-sheet.xlsx", fw)
    assert "舊資料" not in set(responses.frame["agency_name"])
    assert [p.code for p in responses.problems] == ["hidden-sheet"]


def test_title_row_above_the_header(fw):
    _, codes = found(CASES / "18-xlsx-title-row.xlsx", fw)
    assert codes == [("header-row", 2, "error")]


@pytest.mark.parametrize(
    "name", ["29-hdr-newline-in-header.csv", "26-hdr-mixed-en-zh.csv", "03g-comma-in-txt.txt"]
)
def test_header_variants_and_delimiters(fw, name):
    # "機關\n代碼" (Alt+Enter in Excel), "機關 名稱", a comma-separated .txt
    report = validate_responses(CASES / name, fw)
    assert report.ok and len(report.responses.frame) >= 2


def test_codes_differing_in_case(fw):
    _, codes = found(CASES / "52b-case-ids.csv", fw)
    assert codes == [("agency-id-case", 2, "warning")]


def test_answered_at_and_bank_version_are_checked(fw):
    report, codes = found(CASES / "64-answered-at-version-garbage.csv", fw)
    assert ("unknown-version", 2, "warning") in codes and ("unknown-version", 3, "warning") in codes
    assert ("bad-date", 3, "warning") in codes and ("bad-date", 4, "warning") in codes
    assert report.ok


def test_control_characters_in_codes_are_errors(fw):
    _, codes = found(CASES / "07b-nul-in-id.csv", fw)
    assert codes == [("control-char", 2, "error")]


def test_header_only_file(fw):
    report, codes = found(CASES / "09-header-only.csv", fw)
    assert codes == [("no-answers", None, "warning")]
    empty = score(report.responses)
    assert empty.overall.empty and list(empty.overall.columns)[:4] == [
        "round",
        "agency_id",
        "service",
        "instrument",
    ]


def test_common_spellings_of_answers(fw):
    # 部份符合 is the common Taiwanese spelling; n.a without its final dot
    assert fw.scale("service").match("部份符合").code == "P"
    assert fw.scale("plan").match("部份規劃").code == "P"
    assert fw.scale("service").match("n.a").na


def test_whitespace_only_answer_is_unanswered_and_said(write_csv, fw):
    rows = [["2026", "0010", "機關", "R1", "SV-P01-01", "\u3000 ", ""]]
    responses = read_responses(write_csv(rows), fw)
    assert responses.frame["answer"].isna().all()
    assert [p.code for p in responses.problems] == ["blank-answer"]


# -- folders --------------------------------------------------------------------------


def test_folders_skip_guidekit_outputs_and_stray_text_files(tmp_path, write_csv, fw):
    write_csv([["2026", "0010", "機關", "R1", "SV-P01-01", "符合", ""]], name="a.csv")
    (tmp_path / "讀我.txt").write_text("說明文件", encoding="utf-8")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "manifest.json").write_text(json.dumps({"guidekit": "0.1.0"}), encoding="utf-8")
    (reports / "summary.csv").write_text("round,agency_id\n2026,0010\n", encoding="utf-8-sig")
    report = validate_responses(tmp_path, fw)
    assert report.ok
    assert [s.file for s in report.sources] == [str(tmp_path / "a.csv")]
    assert [(p.code, Path(p.file).name) for p in report.problems] == [("not-read", "讀我.txt")]


def test_same_file_twice(write_csv, fw):
    path = write_csv([["2026", "0010", "機關", "R1", "SV-P01-01", "符合", ""]])
    report = validate_responses([path, Path(os.path.relpath(path))], fw)
    assert report.ok and [p.code for p in report.problems] == ["file-twice"]


def test_synthetic_marking_stays_with_its_folder(tmp_path, write_csv, fw):
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    write_csv([["2026", "A1", "甲機關", "R1", "SV-P01-01", "符合", ""]], name="A/a.csv")
    write_csv([["2026", "B1", "乙機關", "R1", "SV-P01-01", "符合", ""]], name="B/b.csv")
    (tmp_path / "A" / "dataset.yaml").write_text("synthetic: true\n", encoding="utf-8")
    responses = read_responses(tmp_path, fw)
    assert responses.synthetic_for("A1") and not responses.synthetic_for("B1")
    assert not responses.synthetic


def test_ods_workbooks_are_read(tmp_path, fw):
    frame = pd.DataFrame(
        [["2026", "0010", "機關", "R1", "SV-P01-01", "部分符合", "說明"]], columns=ZH_HEADER
    )
    frame.to_excel(tmp_path / "answers.ods", engine="odf", index=False)
    (tmp_path / "answers.ods").rename(tmp_path / "renamed.xlsx")
    responses = read_responses(tmp_path / "renamed.xlsx", fw)
    assert responses.frame[["agency_id", "answer", "note"]].values.tolist() == [
        ["0010", "P", "說明"]
    ]
    assert responses.sources[0].encoding == "ods"
    assert [p.code for p in responses.problems] == ["wrong-suffix"]


# -- outputs ----------------------------------------------------------------------------


def test_excel_safe_neutralises_formulas_not_numbers():
    frame = pd.DataFrame(
        {
            "a": ["=1+1", "+cmd|' /C calc'!A0", "@SUM(A1)", "-3.5", "普通", "-x"],
            "n": [1, 2, 3, 4, 5, 6],
        }
    )
    safe = excel_safe(frame)
    assert safe["a"].tolist() == [
        "'=1+1",
        "'+cmd|' /C calc'!A0",
        "'@SUM(A1)",
        "-3.5",
        "普通",
        "'-x",
    ]
    assert safe["n"].tolist() == [1, 2, 3, 4, 5, 6]
    assert frame["a"].iloc[0] == "=1+1"  # the original is not changed


def test_score_file_for_excel_is_safe(tmp_path, fw):
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        main, ["score", str(CASES / "61-csv-injection.csv"), "--level", "overall", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8-sig")
    assert "\n=" not in text and ",=" not in text and ",+" not in text and ",@" not in text
    bad = CliRunner().invoke(
        main, ["score", str(CASES / "61-csv-injection.csv"), "-o", str(tmp_path)]
    )
    assert bad.exit_code == 2 and "資料夾" in bad.output


def test_filenames_never_collide():
    # "abc" and "ABC" collide on Windows, so both are hashed; "abc-ba7816bf8f" looks hashed
    names = report_filenames(["abc", "ABC", "abc-ba7816bf8f"])
    assert len({n.casefold() for n in names.values()}) == 3
    assert names["abc-ba7816bf8f"] != "abc-ba7816bf8f.html"


def test_other_rounds_are_noted():
    # A01 and A02 answered in 2026, A03 (a typo) in 2062: 2062 is "latest", the others must be named
    data = load_round(CASES / "63-round-typo.csv")
    assert data.round == "2062" and data.other_rounds == {"2026": 2}


def test_terminal_escapes_are_made_visible(fw):
    assert printable("機關\x1b[2K\u202egpj") == "機關\\x1b[2K\\u202egpj"
    assert printable("第一行\n第二行\t欄") == "第一行\n第二行\t欄"
    result = CliRunner().invoke(main, ["validate", str(CASES / "90-terminal-escape.csv")])
    assert "\x1b" not in result.output and "\\x1b" in result.output
    assert result.exit_code == 1  # control characters in a name are an error
