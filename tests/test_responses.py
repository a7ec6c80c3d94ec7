"""Intake: answer files as agency staff make them are read exactly, or every problem is named."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from guidekit.answers import COLUMNS
from guidekit.intake.responses import read_responses, validate_responses
from guidekit.problems import ResponsesError, Severity

from .conftest import ZH_HEADER


def rows_for(agency_id="0012", name="測試機關", respondent="甲", answers=None):
    answers = answers or [("S1", "符合", ""), ("S2", "部分符合", ""), ("S3", "不符合", "")]
    return [
        ["2026", agency_id, name, respondent, item, answer, note] for item, answer, note in answers
    ]


def codes(report):
    return sorted((p.row, p.column, p.code) for p in report.problems)


# -- encodings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding, reported", [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp950", "cp950")]
)
def test_encodings_are_detected_and_reported(write_csv, mini, encoding, reported):
    note = "裏面的碁盤與「引號」"  # 裏 and 碁 exist in CP950 but not in strict Big5
    path = write_csv(rows_for(answers=[("S1", "符合", note)]), encoding=encoding)
    responses = read_responses(path, mini)
    assert [s.encoding for s in responses.sources] == [reported]
    assert responses.frame["note"].tolist() == [note]
    assert responses.problems == []


def test_big5_strict_would_fail_but_cp950_reads():
    assert "碁".encode("cp950")
    with pytest.raises(UnicodeEncodeError):
        "碁".encode("big5")


def test_unknown_encoding_names_the_line(tmp_path, mini):
    path = tmp_path / "gbk.csv"
    header = ",".join(ZH_HEADER) + "\r\n"
    body = (
        "2026,0012,测试机关,甲,S1,符合,\r\n"  # Simplified Chinese in GB18030: not UTF-8, not CP950
    )
    path.write_bytes(header.encode("utf-8") + body.encode("gb18030") + b"\xff\xfe\xfd\r\n")
    report = validate_responses(path, mini)
    assert [(p.code, p.row) for p in report.errors] == [("encoding", 2)]
    assert "UTF-8" in report.errors[0].expected("en")


# -- headers ---------------------------------------------------------------------------


def test_header_hygiene(write_csv, mini):
    header = ["\ufeff評估回合", "機關代碼\u200b", "　機關名稱　", "填答者", " 題號", "答案", "說明"]
    responses = read_responses(write_csv(rows_for(), header=header), mini)
    assert len(responses.frame) == 3
    assert list(responses.frame.columns) == list(COLUMNS)
    # every clean-up beyond plain spaces is reported, naming the cleaned header
    cleaned = sorted((p.code, p.column) for p in responses.problems)
    assert cleaned == [
        ("header-cleaned", "機關代碼"),
        ("header-cleaned", "機關名稱"),
        ("header-cleaned", "評估回合"),
    ]


def test_hidden_characters_in_answers_are_reported(write_csv, mini):
    responses = read_responses(
        write_csv(rows_for(answers=[("S1", "符合\u200b", ""), ("S2", "\u00a0部分符合", "")])), mini
    )
    assert responses.frame["answer"].tolist() == ["Y", "P"]
    # one warning per file and kind of clean-up, naming both cells (rows 2 and 3)
    [warning] = responses.problems
    assert (warning.code, warning.row, warning.also_rows) == ("answer-invisible", 2, (3,))


def test_agency_code_in_scientific_notation_is_flagged(write_csv, mini):
    responses = read_responses(write_csv(rows_for(agency_id="3.79E+09")), mini)
    [warning] = responses.problems
    assert (warning.code, warning.row, warning.also_rows, warning.value) == (
        "scientific-id",
        2,
        (3, 4),
        "3.79E+09",
    )


def test_english_headers_are_accepted(write_csv, mini):
    header = ["Round", "Agency ID", "agency_name", "respondent", "item_id", "Answer", "note"]
    assert len(read_responses(write_csv(rows_for(), header=header), mini).frame) == 3


def test_duplicate_and_missing_headers_are_errors(write_csv, mini):
    header = ["評估回合", "機關代碼", "機關代碼 ", "填答者", "題號", "答案", "answer"]
    rows = [["2026", "0012", "0012", "甲", "S1", "符合", "符合"]]
    report = validate_responses(write_csv(rows, header=header), mini)
    found = codes(report)
    assert (1, "機關代碼", "duplicate-column") in found
    assert (1, "answer", "duplicate-alias") in found
    assert (1, "agency_name", "missing-column") in found
    assert not report.ok


def test_all_required_columns_missing_listed_at_once(write_csv, mini):
    report = validate_responses(write_csv([["x"]], header=["備註"]), mini)
    missing = sorted(p.column for p in report.errors if p.code == "missing-column")
    assert missing == sorted(
        ["round", "agency_id", "agency_name", "respondent", "item_id", "answer"]
    )


# -- ids and names ---------------------------------------------------------------------


def test_ids_stay_strings_with_leading_zeros(write_csv, mini):
    rows = rows_for(agency_id="000120", respondent="007")
    frame = read_responses(write_csv(rows), mini).frame
    assert set(frame["agency_id"]) == {"000120"} and set(frame["respondent"]) == {"007"}
    assert frame["agency_id"].dtype == "string"


def test_full_width_id_is_cleaned_with_a_warning(write_csv, mini):
    rows = rows_for(agency_id="００１２")
    responses = read_responses(write_csv(rows), mini)
    assert set(responses.frame["agency_id"]) == {"0012"}
    [warning] = responses.problems
    assert (warning.code, warning.row, warning.also_rows, warning.severity) == (
        "cleaned",
        2,
        (3, 4),
        Severity.WARNING,
    )
    assert warning.value == "００１２"


def test_agency_name_keeps_full_width_punctuation_and_slash(write_csv, mini):
    name = "臺北市政府／資訊局 (測試)"
    frame = read_responses(write_csv(rows_for(name=name)), mini).frame
    assert set(frame["agency_name"]) == {name}


def test_invisible_characters_in_names_are_removed_with_a_warning(write_csv, mini):
    rows = rows_for(name="臺北市政府\u200b") + rows_for(name="臺北市政府", respondent="乙")
    responses = read_responses(write_csv(rows), mini)
    assert set(responses.frame["agency_name"]) == {"臺北市政府"}
    assert [p.code for p in responses.problems] == ["cleaned"]


def test_two_names_for_one_code_is_an_error(write_csv, mini):
    rows = rows_for(name="臺北市政府") + rows_for(name="台北市政府", respondent="乙")
    report = validate_responses(write_csv(rows), mini)
    [error] = report.errors
    assert (error.code, error.row, error.column, error.value) == (
        "agency-name-conflict",
        5,
        "機關名稱",
        "台北市政府",
    )
    assert "臺北市政府" in error.expected("zh-TW")


def test_lookalike_names_of_different_codes_are_kept_apart(write_csv, mini):
    rows = rows_for(agency_id="A01", name="臺北市政府") + rows_for(
        agency_id="A02", name="台北市 政府"
    )
    responses = read_responses(write_csv(rows), mini)
    assert set(responses.frame["agency_id"]) == {"A01", "A02"}
    [warning] = responses.problems
    assert (
        warning.code == "agency-name-lookalike"
        and "A01" in warning.message()
        and "A02" in warning.message()
    )


# -- answers ---------------------------------------------------------------------------


def test_answers_by_label_code_alias_and_full_width(write_csv, mini):
    answers = [
        ("S1", "符合", ""),
        ("S2", "p", ""),
        ("S3", "０", ""),
        ("S4", "N/A", "無此業務"),
        ("S5", " 不適用 ", "理由"),
        ("S6", "", ""),
    ]
    frame = read_responses(write_csv(rows_for(answers=answers)), mini).frame
    got = dict(zip(frame["item_id"], frame["answer"], strict=True))
    assert got["S1"] == "Y" and got["S2"] == "P" and got["S3"] == "N"
    assert got["S4"] == "NA" and got["S5"] == "NA"
    assert got["S6"] is pd.NA  # blank: unanswered, kept as a row, not 0, not N/A


def test_na_without_reason_is_a_warning(write_csv, mini):
    responses = read_responses(
        write_csv(rows_for(answers=[("S1", "不適用", ""), ("S2", "N/A", "")])), mini
    )
    [warning] = [p for p in responses.problems if p.column == "說明"]
    assert (warning.code, warning.row, warning.also_rows) == ("na-without-reason", 2, (3,))


def test_notes_are_kept_verbatim(write_csv, mini):
    note = '<script>alert("x")</script> & 「引號」, "quotes"\n第二行'
    frame = read_responses(write_csv(rows_for(answers=[("S1", "符合", note)])), mini).frame
    assert frame["note"].tolist() == [note]


def test_every_problem_of_a_file_at_once(write_csv, mini):
    rows = [
        ["2026", "0012", "測試機關", "甲", "S1", "好", ""],  # unknown answer (row 2)
        ["2026", "0012", "測試機關", "甲", "S99", "符合", ""],  # unknown item (row 3)
        ["2026", "", "測試機關", "甲", "S2", "符合", ""],  # blank agency code (row 4)
        ["2026", "0012", "測試機關", "甲", "S3", "符合", ""],
        ["2026", "0012", "測試機關", "甲", "S3", "不符合", ""],  # duplicate answer (row 6)
    ]
    path = write_csv(rows)
    report = validate_responses(path, mini)
    assert codes(report) == [
        (2, "答案", "unknown-answer"),
        (3, "題號", "unknown-item"),
        (4, "機關代碼", "blank"),
        (6, "題號", "duplicate-answer"),
    ]
    unknown = report.errors[0]
    assert unknown.file == str(path) and unknown.value == "好"
    assert "符合" in unknown.expected("zh-TW") and "不適用" in unknown.expected("zh-TW")
    assert "S1" in report.errors[1].expected("en")
    assert f"{path}:5" in report.errors[3].message("en")
    with pytest.raises(ResponsesError) as info:
        read_responses(path, mini)
    assert len(info.value.errors) == 4


def test_duplicates_across_files(write_csv, mini):
    a = write_csv(rows_for(), name="a.csv")
    b = write_csv(rows_for(answers=[("S1", "不符合", "")]), name="b.csv")
    report = validate_responses([a, b], mini)
    [dup] = report.errors
    assert dup.code == "duplicate-answer" and dup.file == str(b) and dup.row == 2
    assert f"{a}:2" in dup.message("en") and f"{b}:2" not in dup.message("en")


def test_instrument_column(write_csv, mini):
    header = [*ZH_HEADER, "自評表"]
    rows = [
        ["2026", "0012", "機關", "甲", "S1", "符合", "", "附件2"],
        ["2026", "0012", "機關", "甲", "S2", "符合", "", "plan"],
    ]
    report = validate_responses(write_csv(rows, header=header), mini)
    assert codes(report) == [(3, "自評表", "unknown-instrument")]


def test_item_id_case_is_reported(write_csv, mini):
    responses = read_responses(write_csv(rows_for(answers=[("s1", "符合", "")])), mini)
    assert responses.frame["item_id"].tolist() == ["S1"]
    assert [p.code for p in responses.problems] == ["item-case"]


def test_folder_of_files(tmp_path, write_csv, mini):
    write_csv(rows_for(agency_id="A1"), name="a.csv")
    (tmp_path / "sub").mkdir()
    write_csv(rows_for(agency_id="A2"), name="sub/b.csv", encoding="cp950")
    (tmp_path / "notes.txt.bak").write_text("ignored", encoding="utf-8")
    (tmp_path / "~$a.xlsx").write_bytes(b"lock")  # Excel's lock file
    (tmp_path / "_notebooks").mkdir()
    write_csv(rows_for(agency_id="A9"), name="_notebooks/skip.csv")
    responses = read_responses(tmp_path, mini)
    assert sorted(set(responses.frame["agency_id"])) == ["A1", "A2"]
    assert sorted(s.encoding for s in responses.sources) == ["cp950", "utf-8-sig"]


def test_missing_file_is_a_problem_not_a_crash(tmp_path, mini):
    report = validate_responses(tmp_path / "nope.csv", mini)
    assert [p.code for p in report.errors] == ["missing-file"]


# -- xlsx ------------------------------------------------------------------------------


def _xlsx(path: Path, rows: list[list[object]], header=ZH_HEADER) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_xlsx_text_ids_keep_zeros_numeric_ids_warn(tmp_path, mini):
    path = _xlsx(
        tmp_path / "a.xlsx",
        [
            ["2026", "0012", "測試機關", "甲", "S1", "符合", None],
            [2026, 12, "其他機關", "乙", "S1", 2, "數字答案"],
        ],
    )
    responses = read_responses(path, mini)
    frame = responses.frame
    assert frame["agency_id"].tolist() == ["0012", "12"]
    assert frame["round"].tolist() == ["2026", "2026"]
    assert frame["answer"].tolist() == ["Y", "Y"]
    assert responses.sources[0].encoding == "xlsx"
    warned = sorted((p.code, p.row, p.column) for p in responses.problems)
    # a numeric agency code may have lost its zeros; a numeric year cannot have
    assert warned == [("excel-number", 3, "機關代碼")]


def test_bundled_example_reads_cleanly(example_round, fw):
    responses = read_responses(example_round, fw)
    assert responses.problems == []
    assert responses.synthetic
    assert {s.encoding for s in responses.sources} == {"utf-8-sig", "cp950"}
    assert responses.frame["agency_id"].nunique() >= 50
    counts = responses.frame.groupby("agency_id")["respondent"].nunique()
    assert counts.between(2, 5).all()


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_without_a_bom_and_utf32_are_read(write_csv, mini, encoding):
    # UTF-32's BOM starts like UTF-16's: it was read as UTF-16 with garbled headers.
    note = "裏面的碁盤"
    path = write_csv(rows_for(answers=[("S1", "符合", note)]), encoding=encoding)
    responses = read_responses(path, mini)
    assert [s.encoding for s in responses.sources] == [encoding]
    assert responses.frame["note"].tolist() == [note] and responses.problems == []


def test_simplified_chinese_file_is_named_not_called_a_user_defined_character(write_csv, mini):
    path = write_csv(
        rows_for(
            name="简体中文机关测试单位", answers=[("S1", "符合", "这个说明是简体中文写的")] * 1
        ),
        encoding="gb18030",
    )
    report = validate_responses(path, mini)
    message = report.problems[0].format("zh-TW")
    assert report.problems[0].code == "encoding" and "造字" not in message
    assert "gb18030" in message.lower() or "gbk" in message.lower()


# -- the team's agreed answer in a file (團隊共識) ---------------------------------------


def test_agreed_answer_in_a_file_settles_the_item(write_csv, mini):
    # The workshop rule, applied to files too: an agreed answer is the agency's answer.
    path = write_csv(
        [
            *rows_for(respondent="甲", answers=[("S1", "不符合", ""), ("S2", "部分符合", "")]),
            *rows_for(respondent="乙", answers=[("S1", "不符合", ""), ("S2", "不符合", "")]),
            *rows_for(respondent="團隊共識", answers=[("S1", "符合", "討論後")]),
        ]
    )
    report = validate_responses(path, mini)
    assert [(p.row, p.code, p.severity) for p in report.problems] == [
        (6, "agreed-settles", Severity.WARNING)
    ]
    assert report.problems[0].params["n"] == 2
    frame = report.responses.frame
    assert sorted(zip(frame["respondent"], frame["item_id"], frame["answer"], strict=True)) == [
        ("乙", "S2", "N"),
        ("團隊共識", "S1", "Y"),
        ("甲", "S2", "P"),
    ]
    from guidekit.scoring import score

    items = score(report.responses).items.set_index("item_id")
    # S1: the agreed 符合 (2) alone, not the median of 0, 0, 2; S2: median of 1 and 0.
    assert (items.loc["S1", "value"], items.loc["S1", "status"]) == (2.0, "met")
    assert (items.loc["S2", "value"], items.loc["S2", "status"]) == (0.5, "not_met")


def test_agreed_note_without_an_answer_settles_nothing(write_csv, mini):
    path = write_csv(
        [
            *rows_for(respondent="甲", answers=[("S1", "不符合", "")]),
            *rows_for(respondent="團隊共識", answers=[("S1", "", "還在討論")]),
        ]
    )
    report = validate_responses(path, mini)
    assert report.problems == []
    assert sorted(report.responses.frame["respondent"]) == ["團隊共識", "甲"]


def test_lookalikes_of_the_reserved_name_are_refused(write_csv, mini):
    path = write_csv(
        [
            *rows_for(respondent="团队共识", answers=[("S1", "符合", "")]),
            *rows_for(respondent="團隊 共識", answers=[("S2", "符合", "")]),
        ]
    )
    report = validate_responses(path, mini)
    assert codes(report) == [
        (2, "填答者", "reserved-lookalike"),
        (3, "填答者", "reserved-lookalike"),
    ]
    assert "團隊共識" in report.problems[0].format("zh-TW")


# -- Excel cells that are not what they show ---------------------------------------------


def test_round_stored_as_a_decimal_number_is_an_error(tmp_path, mini):
    # 2026.10 typed into a number cell is stored as 2026.1; a whole 2026 loses nothing.
    path = _xlsx(
        tmp_path / "a.xlsx",
        [
            [2026.10, "0012", "測試機關", "甲", "S1", "符合", ""],
            [2026, "0012", "測試機關", "甲", "S2", "符合", ""],
        ],
    )
    report = validate_responses(path, mini)
    assert [(p.row, p.column, p.value, p.code) for p in report.problems] == [
        (2, "評估回合", "2026.1", "excel-number-round")
    ]


def test_uncomputed_formula_in_note_or_name_is_named_not_blank(tmp_path, mini):
    path = _xlsx(
        tmp_path / "a.xlsx",
        [
            ["2026", "0012", "測試機關", "甲", "S1", "不適用", '=A1&"理由"'],
            ["2026", "0012", '=B3&"機關"', "甲", "S2", "符合", ""],
        ],
    )
    report = validate_responses(path, mini)
    # one problem each, no "不適用 without a reason" and no "blank agency name"
    assert codes(report) == [(2, "說明", "excel-formula"), (3, "機關名稱", "excel-formula")]


def test_a_quote_that_swallows_a_whole_row_is_an_error(tmp_path, mini):
    # Row 3's answer (S2 = N) would vanish into row 2's note: an error, not a warning.
    path = tmp_path / "a.csv"
    path.write_text(
        ",".join(ZH_HEADER) + "\n"
        '2026,0012,測試機關,甲,S1,符合,"多行\n'
        '2026,0012,測試機關,甲,S2,不符合,說明"\n'
        "2026,0012,測試機關,甲,S3,符合,\n",
        encoding="utf-8",
    )
    report = validate_responses(path, mini)
    assert [(p.row, p.code, p.severity) for p in report.problems] == [
        (2, "swallowed-rows", Severity.ERROR)
    ]
    # a note whose second line merely has commas is a warning only
    path.write_text(
        ",".join(ZH_HEADER) + "\n" + '2026,0012,測試機關,甲,S1,符合,"一,二\n三,四,五,六,七"\n',
        encoding="utf-8",
    )
    report = validate_responses(path, mini)
    assert [(p.code, p.severity) for p in report.problems] == [("multiline-rows", Severity.WARNING)]
    assert report.responses.frame["note"].tolist() == ["一,二\n三,四,五,六,七"]


def test_a_malformed_csv_row_does_not_hide_the_problems_after_it(tmp_path, mini):
    path = tmp_path / "a.csv"
    path.write_text(
        ",".join(ZH_HEADER) + "\n"
        '2026,0012,測試機關,甲,S1,符合,"引號" 之後\n'  # row 2: text after a closing quote
        "2026,0012,測試機關,甲,S77,符合,\n"  # row 3: unknown item
        "2026,0012,測試機關,甲,S3,也許,\n",  # row 4: unknown answer
        encoding="utf-8",
    )
    report = validate_responses(path, mini)
    assert codes(report) == [
        (2, None, "csv"),
        (3, "題號", "unknown-item"),
        (4, "答案", "unknown-answer"),
    ]
    assert "結尾引號後面應緊接分隔符號" in report.problems[0].format("zh-TW")
    assert "closing quote must be followed by the delimiter" in report.problems[0].format("en")


# -- split by agency (guidekit reports --skip-invalid) -------------------------------------


def test_split_by_agency_keeps_clean_agencies_and_names_every_error(tmp_path, mini):
    from guidekit.intake.responses import split_by_agency

    good = rows_for("0012", "甲機關")
    bad = rows_for("0013", "乙機關", answers=[("S1", "符合", ""), ("S2", "也許", "")])
    (tmp_path / "a.csv").write_text(
        "\n".join(",".join(r) for r in [ZH_HEADER, *good, *bad]) + "\n", encoding="utf-8"
    )
    (tmp_path / "b.csv").write_bytes(b"\x81\x30\xff\xfe garbage \x80\x80\x80")  # unreadable
    report = validate_responses(tmp_path, mini)
    split = split_by_agency(report)
    # 0013's row 6 (header row 1, three 0012 rows, then S1 and S2 of 0013)
    assert {k: [(p.row, p.code) for p in v] for k, v in split.failed.items()} == {
        ("2026", "0013"): [(6, "unknown-answer")]
    }
    assert [(Path(p.file).name, p.code) for p in split.unplaced] == [("b.csv", "encoding")]
    assert split.names == {("2026", "0013"): "乙機關"}
    frame = split.responses.frame
    assert set(frame["agency_id"]) == {"0012"} and len(frame) == 3


def test_an_error_without_a_row_fails_every_agency_of_its_file(tmp_path, mini):
    from guidekit.intake.responses import split_by_agency

    path = tmp_path / "a.csv"
    path.write_text(
        "\n".join(
            ",".join(r)
            for r in [
                ZH_HEADER,
                *rows_for("0012", "甲機關"),
                ["2026", "", "無代碼", "甲", "S4", "符合", ""],
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    split = split_by_agency(validate_responses(path, mini))
    # the row without an agency code could belong to any agency of the file
    assert list(split.failed) == [("2026", "0012")] and split.responses is None
