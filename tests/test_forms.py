"""Agency forms (issue 10): written by guidekit.forms, filled as agencies do, read back by
guidekit.intake.forms through the answer-file reader."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from guidekit.answers.rules import AGREED_RESPONDENT
from guidekit.cli import main
from guidekit.forms import write_form
from guidekit.intake import file_status, read_responses, validate_responses
from guidekit.store import open_store
from tests.formfill import (
    fill_ods,
    fill_xlsx,
    ods_hand_edits,
    xlsx_hand_edits,
    xlsx_meta,
)

AGENCY = {"agency_id": "301000000A", "agency_name": "內政部", "round": "2026"}


def make(tmp_path: Path, fw, fmt: str, name: str = "form", **kw) -> Path:
    args = {**AGENCY, "instrument": "service", **kw}
    return write_form(tmp_path / f"{name}.{fmt}", fw, fmt=fmt, **args).path


def items(fw, n: int, instrument: str = "service") -> list[str]:
    return [i.id for i in fw.items[instrument][:n]]


def answers_of(frame: pd.DataFrame) -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (r.respondent, r.item_id): (r.answer if pd.notna(r.answer) else "", r.note)
        for r in frame.itertuples()
    }


FILL = {"ods": fill_ods, "xlsx": fill_xlsx}
EDITS = {"ods": ods_hand_edits, "xlsx": xlsx_hand_edits}


@pytest.mark.parametrize("fmt", ["ods", "xlsx"])
def test_round_trip_with_hand_edits_reads_exactly_the_answers(tmp_path, fw, fmt):
    path = make(tmp_path, fw, fmt)
    ids = items(fw, 8)
    first = {
        ids[0]: ("符合", "訪談紀錄 12 份", ""),
        ids[1]: ("  部分符合 ", "", ""),  # typed with spaces
        ids[2]: ("不適用", "", "本服務無臨櫃"),
        ids[3]: ("ＮＡ", "", "僅內部使用"),  # full-width code
        ids[4]: ("不符合", "=SUM(A1)", ""),  # a note starting with "=" stays text
        ids[5]: ("", "尚在研議", ""),  # a note without an answer
    }
    second = {ids[0]: ("部分符合", "", ""), ids[6]: ("2", "", "")}
    agreed = {ids[0]: ("符合", "會議決議", "")}
    FILL[fmt](
        path,
        {"填答者1": ("王小明", first), "填答者2": ("R2", second), "團隊共識": (None, agreed)},
    )
    EDITS[fmt](path, "填答者1", "小明的答案")

    report = validate_responses(path, fw)
    assert report.ok, [p.format() for p in report.errors]
    got = answers_of(report.responses.frame)
    assert got == {
        ("王小明", ids[1]): ("P", ""),
        ("王小明", ids[2]): ("NA", "本服務無臨櫃"),
        ("王小明", ids[3]): ("NA", "僅內部使用"),
        ("王小明", ids[4]): ("N", "=SUM(A1)"),
        ("王小明", ids[5]): ("", "尚在研議"),
        ("R2", ids[6]): ("Y", ""),
        (AGREED_RESPONDENT, ids[0]): ("Y", "會議決議"),
    }  # ids[0] of 王小明 and R2 are settled by the agreed answer (the workshop's rule)
    frame = report.responses.frame
    assert set(frame["agency_id"]) == {"301000000A"} and set(frame["round"]) == {"2026"}
    assert set(frame["instrument"]) == {"service"}
    assert set(frame["framework_version"]) == {fw.version}
    codes = {(p.code, p.sheet) for p in report.problems}
    assert ("answer-spaces", "小明的答案") in codes
    assert ("answer-width", "小明的答案") in codes
    assert ("form-extra-columns", "小明的答案") in codes
    assert ("agreed-settles", None) in codes
    # rows named as the person sees them: the sheet and its row
    spaces = next(p for p in report.problems if p.code == "answer-spaces")
    assert "小明的答案" in spaces.format() and spaces.row > 4


@pytest.mark.parametrize("fmt", ["ods", "xlsx"])
def test_prefilled_form_carries_the_answers_over(tmp_path, fw, fmt):
    ids = items(fw, 3)
    old = pd.DataFrame(
        {
            "round": "2025",
            "agency_id": "301000000A",
            "agency_name": "內政部",
            "service": "",
            "instrument": "service",
            "respondent": ["甲", "甲", "乙"],
            "item_id": [ids[0], ids[1], ids[2]],
            "answer": ["Y", "NA", "P"],
            "note": ["證據", "不涉及", ""],
        }
    )
    path = make(tmp_path, fw, fmt, prefill=old)
    frame = read_responses(path, fw).frame
    assert answers_of(frame) == {
        ("甲", ids[0]): ("Y", "證據"),
        ("甲", ids[1]): ("NA", "不涉及"),
        ("乙", ids[2]): ("P", ""),
    }
    assert set(frame["round"]) == {"2026"}  # the new round's form


def test_form_from_a_workshop_store_via_cli(tmp_path, fw):
    from guidekit.store import Change, Sheet

    store = tmp_path / "ws.sqlite"
    ids = items(fw, 2)
    sheet = Sheet("2025", "301000000A", "內政部", "", "service", "R1")
    with open_store(store, fw) as s:
        s.record(Change(sheet, ids[0], "Y", "有紀錄"))
        s.record(Change(sheet, ids[1], "N"))
    out = tmp_path / "next.ods"
    result = CliRunner().invoke(
        main,
        [
            "form",
            "--agency",
            "301000000A",
            "--round",
            "2026",
            "--from",
            str(store),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert answers_of(read_responses(out, fw).frame) == {
        ("R1", ids[0]): ("Y", "有紀錄"),
        ("R1", ids[1]): ("N", ""),
    }


# -- refusals ---------------------------------------------------------------------------------


def test_form_for_another_bank_version_is_refused_naming_both(tmp_path, fw):
    path = make(tmp_path, fw, "xlsx")
    fill_xlsx(path, {"填答者1": ("R1", {items(fw, 1)[0]: ("符合", "", "")})})
    xlsx_meta(path, "framework_version", "2020.01")
    report = validate_responses(path, fw)
    (error,) = report.errors
    assert error.code == "form-other"
    text = error.format()
    assert "題庫版本「2020.01」" in text and f"「{fw.version}」" in text
    assert "question-bank version '2020.01'" in error.format("en")
    assert report.read.frame.empty  # nothing of a refused form is read


@pytest.mark.parametrize(
    ("expect", "field", "found"),
    [
        ({"round": "2027"}, "評估回合", "2026"),
        ({"agency_id": "315000000H"}, "機關", "301000000A"),
        ({"instrument": "plan"}, "自評表", "service"),
    ],
)
def test_form_for_another_round_agency_or_instrument_is_refused(tmp_path, fw, expect, field, found):
    path = make(tmp_path, fw, "ods")
    fill_ods(path, {"填答者1": ("R1", {items(fw, 1)[0]: ("符合", "", "")})})
    report = validate_responses(path, fw, expect=expect)
    (error,) = report.errors
    wanted = next(iter(expect.values()))
    assert f"這是{field}「{found}」的自評表，不是{field}「{wanted}」的" in error.format()


def test_sheet_copied_from_another_agencys_form_is_refused(tmp_path, fw):
    ours = make(tmp_path, fw, "xlsx")
    theirs = make(tmp_path, fw, "xlsx", name="other", agency_id="315000000H", agency_name="法務部")
    other = openpyxl.load_workbook(theirs)["填答者1"]
    wb = openpyxl.load_workbook(ours)
    ws = wb["填答者2"]
    for row in other.iter_rows():
        for cell in row:
            ws.cell(row=cell.row, column=cell.column, value=cell.value)
    wb.save(ours)
    fill_xlsx(ours, {"填答者2": ("R2", {items(fw, 1)[0]: ("符合", "", "")})})
    errors = validate_responses(ours, fw).errors
    assert [(e.code, e.sheet, e.value) for e in errors] == [("form-other", "填答者2", "315000000H")]


def test_sheet_problems_name_sheet_row_column_value_and_expected(tmp_path, fw):
    path = make(tmp_path, fw, "xlsx")
    ids = items(fw, 3)
    fill_xlsx(
        path,
        {
            "填答者1": ("", {ids[0]: ("符合", "", "")}),  # answers, no respondent
            "填答者2": ("R2", {ids[1]: ("大致符合", "", "")}),  # not on the scale
            "填答者3": ("R2", {ids[2]: ("符合", "", "")}),  # the same respondent again
        },
    )
    report = validate_responses(path, fw)
    by_code = {e.code: e for e in report.errors}
    assert set(by_code) == {"form-no-respondent", "unknown-answer", "form-respondent-twice"}
    assert by_code["form-no-respondent"].sheet == "填答者1"
    bad = by_code["unknown-answer"]
    assert (bad.sheet, bad.column, bad.value) == ("填答者2", "答案", "大致符合")
    assert bad.row == 7  # row 4 header, row 5 principle heading, rows 6, 7 the first items
    assert "符合（Y）" in bad.format() and "填答者2:7" in bad.format()
    assert by_code["form-respondent-twice"].params["first"] == "填答者2"


def test_reason_on_an_answer_that_is_not_na_is_kept_and_said(tmp_path, fw):
    path = make(tmp_path, fw, "ods")
    item = items(fw, 1)[0]
    fill_ods(path, {"填答者1": ("R1", {item: ("符合", "有佐證", "原本想填不適用")})})
    report = validate_responses(path, fw)
    assert report.ok
    assert answers_of(report.responses.frame) == {("R1", item): ("Y", "有佐證\n原本想填不適用")}
    assert "form-reason-not-na" in {p.code for p in report.problems}


def test_na_without_reason_is_flagged_in_the_sheet_and_on_import(tmp_path, fw):
    item = items(fw, 1)[0]
    old = pd.DataFrame(
        {
            "round": "2025",
            "agency_id": "301000000A",
            "agency_name": "內政部",
            "service": "",
            "instrument": "service",
            "respondent": ["R1"],
            "item_id": [item],
            "answer": ["NA"],
            "note": [""],
        }
    )
    path = make(tmp_path, fw, "xlsx", prefill=old)
    ws = openpyxl.load_workbook(path)["R1"]
    assert ws["J6"].value.startswith('=IF(AND(TRIM(G6)="不適用",I6="")')
    report = validate_responses(path, fw)
    assert [p.code for p in report.problems if p.code == "na-without-reason"] == [
        "na-without-reason"
    ]


# -- the folder a facilitator gets back ------------------------------------------------------


def _returned_folder(tmp_path: Path, fw, example_round: Path) -> tuple[Path, list[str]]:
    """20 returned files: 6 .ods and 6 .xlsx forms, 6 CSV long tables (18 good), an
    .ods for another bank version and an .xlsx with an answer off the scale."""
    folder = tmp_path / "returned"
    folder.mkdir()
    csvs = sorted(example_round.glob("*.csv"))
    ids = items(fw, 5)
    agencies = [p.stem for p in csvs]
    good = []
    for n, agency in enumerate(agencies[:12]):
        fmt = "ods" if n % 2 == 0 else "xlsx"
        path = write_form(
            folder / f"{agency}.{fmt}",
            fw,
            agency_id=agency,
            agency_name=f"機關{n}",
            round="2026",
            instrument="service",
            fmt=fmt,
        ).path
        FILL[fmt](path, {"填答者1": ("R1", {i: ("符合", "", "") for i in ids})})
        good.append(agency)
    for csv in csvs[12:18]:
        shutil.copy(csv, folder / csv.name)
        good.append(csv.stem)
    broken_version = make(folder, fw, "ods", name="broken-version", agency_id=agencies[18])
    fill_ods(broken_version, {"填答者1": ("R1", {ids[0]: ("符合", "", "")})})
    doc = zipfile.ZipFile(broken_version)
    parts = {n: doc.read(n) for n in doc.namelist()}
    doc.close()
    parts["content.xml"] = parts["content.xml"].replace(f">{fw.version}<".encode(), b">2020.01<")
    with zipfile.ZipFile(broken_version, "w") as out:
        for n, data in parts.items():
            out.writestr(n, data, zipfile.ZIP_STORED if n == "mimetype" else zipfile.ZIP_DEFLATED)
    broken_answer = make(folder, fw, "xlsx", name="broken-answer", agency_id=agencies[19])
    fill_xlsx(broken_answer, {"填答者1": ("R1", {ids[0]: ("yes!", "", "")})})
    return folder, good


def example_round_ids(example_round: Path) -> list[str]:
    return [p.stem for p in sorted(example_round.glob("*.csv"))]


def test_folder_of_twenty_returned_files_intake_table(tmp_path, fw, example_round):
    folder, _good = _returned_folder(tmp_path, fw, example_round)
    report = validate_responses(folder, fw)
    statuses = file_status(folder, report)
    assert len(statuses) == 20
    assert sum(s.accepted for s in statuses) == 18
    refused = {Path(s.file).name: s.errors for s in statuses if not s.accepted}
    named = {Path(s.file).name: s.agencies for s in statuses if not s.accepted}
    assert named["broken-version.ods"] == [example_round_ids(example_round)[18]]
    accepted = [s for s in statuses if s.accepted]
    assert all(s.answers > 0 and s.respondents >= 1 for s in accepted)
    assert set(refused) == {"broken-version.ods", "broken-answer.xlsx"}
    (version,) = refused["broken-version.ods"]
    assert version.code == "form-other" and version.value == "2020.01"
    (answer,) = refused["broken-answer.xlsx"]
    assert (answer.code, answer.sheet, answer.column, answer.value) == (
        "unknown-answer",
        "填答者1",
        "答案",
        "yes!",
    )

    result = CliRunner().invoke(main, ["intake", str(folder)])
    assert result.exit_code == 1
    assert "共 20 個檔案：18 個接受，2 個需退回機關修正" in result.output
    assert "broken-answer.xlsx（1 個錯誤）" in result.output
    assert "broken-answer.xlsx › 填答者1:6 [答案] 錯誤" in result.output


@pytest.mark.slow
def test_reports_on_the_returned_folder_cover_the_eighteen(tmp_path, fw, example_round):
    folder, good = _returned_folder(tmp_path, fw, example_round)
    out = tmp_path / "reports"
    result = CliRunner().invoke(
        main, ["reports", "--responses", str(folder), "--out", str(out), "--skip-invalid"]
    )
    assert result.exit_code == 1  # two agencies failed, named
    written = {p.stem for p in out.glob("*.html")} - {"index"}
    assert written == set(good)


def test_cli_form_all_writes_one_form_per_register_agency(tmp_path, fw, agencies_csv):
    out = tmp_path / "forms"
    result = CliRunner().invoke(main, ["form", "--all", "--out", str(out), "--format", "xlsx"])
    assert result.exit_code == 0, result.output
    register = pd.read_csv(agencies_csv, dtype=str, encoding="utf-8-sig")
    assert sorted(p.stem for p in out.glob("*.xlsx")) == sorted(register["agency_id"])
    again = CliRunner().invoke(main, ["form", "--all", "--out", str(out), "--format", "xlsx"])
    assert again.exit_code == 0  # its own files are replaced
    (out / "301000000A.xlsx").write_bytes(b"an agency's returned copy")
    third = CliRunner().invoke(main, ["form", "--all", "--out", str(out), "--format", "xlsx"])
    assert third.exit_code == 2 and "301000000A.xlsx" in third.output


def test_answers_export_as_ods_reads_back(tmp_path, fw):
    from guidekit.store import Change, Sheet

    ids = items(fw, 2)
    sheet = Sheet("2026", "301000000A", "內政部", "", "service", "R1")
    with open_store(tmp_path / "s.sqlite", fw) as s:
        s.record(Change(sheet, ids[0], "Y", '=HYPERLINK("x")\n第二行'))
        s.record(Change(sheet, ids[1], "NA", "不涉及"))
        exported = s.export_file(tmp_path / "answers.ods")
    assert exported.rows == 2
    frame = read_responses(exported.path, fw).frame
    assert answers_of(frame) == {
        ("R1", ids[0]): ("Y", '=HYPERLINK("x")\n第二行'),
        ("R1", ids[1]): ("NA", "不涉及"),
    }


# -- LibreOffice ---------------------------------------------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
libreoffice = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui "
    "(tests/run.sh installs it)",
)


def convert(path: Path, fmt: str, outdir: Path, profile: Path) -> Path:
    outdir.mkdir(exist_ok=True)
    subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    out = outdir / f"{path.stem}.{fmt}"
    assert out.is_file(), f"LibreOffice wrote no {out}"
    return out


@pytest.mark.libreoffice
@libreoffice
@pytest.mark.parametrize("fmt", ["ods", "xlsx"])
def test_libreoffice_opens_converts_and_keeps_dropdowns_and_protection(tmp_path, fw, fmt):
    path = make(tmp_path, fw, fmt)
    other = "xlsx" if fmt == "ods" else "ods"
    profile = tmp_path / "profile"
    converted = convert(path, other, tmp_path / "lo", profile)
    if other == "xlsx":
        wb = openpyxl.load_workbook(converted)
        ws = wb["填答者1"]
        assert ws.protection.sheet
        assert ws["E6"].protection.locked and not ws["G6"].protection.locked
        (dv,) = [d for d in ws.data_validations.dataValidation if "G6" in d.sqref]
        assert dv.type == "list" and "不適用" in dv.formula1
        assert wb["guidekit-form"].sheet_state == "hidden"
    else:
        content = zipfile.ZipFile(converted).read("content.xml").decode("utf-8")
        assert 'table:protected="true"' in content
        assert "cell-content-is-in-list(&quot;符合&quot;;&quot;部分符合&quot;" in content
        assert 'table:display="false"' in zipfile.ZipFile(converted).read("content.xml").decode()
    # filled in a file the office suite itself wrote, saved by it again, read back exactly
    lo_xlsx = converted if other == "xlsx" else convert(path, "xlsx", tmp_path / "lo1", profile)
    ids = items(fw, 2)
    filled = tmp_path / "filled.xlsx"
    fill_xlsx(
        lo_xlsx,
        {"填答者1": ("R1", {ids[0]: ("符合", "有", ""), ids[1]: ("不適用", "", "無")})},
        out=filled,
    )
    saved = [
        filled,
        convert(filled, "ods", tmp_path / "lo2", profile),
        convert(filled, "xlsx", tmp_path / "lo3", profile),
    ]
    for file in saved:
        assert answers_of(read_responses(file, fw).frame) == {
            ("R1", ids[0]): ("Y", "有"),
            ("R1", ids[1]): ("NA", "無"),
        }, file


def test_english_form_round_trip_and_cli_validate(tmp_path, fw):
    path = make(tmp_path, fw, "xlsx", lang="en")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:2] == ["Instructions", "Respondent 1"]
    assert wb["Respondent 1"]["G4"].value == "Answer"
    ids = items(fw, 2)
    fill_xlsx(
        path,
        {
            "Respondent 1": (
                "R1",
                {ids[0]: ("Met", "", ""), ids[1]: ("Not applicable", "", "no counter")},
            )
        },
    )
    result = CliRunner().invoke(main, ["--lang", "en", "validate", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert answers_of(read_responses(path, fw).frame) == {
        ("R1", ids[0]): ("Y", ""),
        ("R1", ids[1]): ("NA", "no counter"),
    }


def test_workbook_that_is_not_a_form_is_read_as_before(tmp_path, fw):
    wb = openpyxl.Workbook()
    wb.active.append(["評估回合", "機關代碼", "機關名稱", "填答者", "題號", "答案"])
    wb.active.append(["2026", "301000000A", "內政部", "R1", items(fw, 1)[0], "符合"])
    wb.save(tmp_path / "plain.xlsx")
    frame = read_responses(tmp_path / "plain.xlsx", fw).frame
    assert frame["answer"].tolist() == ["Y"] and frame["source_row"].tolist() == [2]


def _edit(path: Path, sheet: str, cell: str, value) -> None:
    wb = openpyxl.load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)


@pytest.mark.parametrize(
    ("sheet", "cell", "code", "said"),
    [
        ("guidekit-form", "", "form-meta", "缺少：agency_id"),
        ("填答者1", "A4", "form-no-header", "找不到標題列（「題號」與「答案」兩欄）"),
        ("填答者1", "K1", "form-sheet-marker", "表單識別格被刪除"),
    ],
)
def test_damaged_forms_are_refused_saying_what_is_damaged(tmp_path, fw, sheet, cell, code, said):
    path = make(tmp_path, fw, "xlsx")
    fill_xlsx(path, {"填答者1": ("R1", {items(fw, 1)[0]: ("符合", "", "")})})
    if code == "form-meta":
        wb = openpyxl.load_workbook(path)
        ws = wb["guidekit-form"]
        row = next(r for r in ws.iter_rows() if r[0].value == "agency_id")
        row[0].value = None
        wb.save(path)
    else:
        _edit(path, sheet, cell, None)
    report = validate_responses(path, fw)
    (error,) = report.errors
    assert error.code == code and said in error.format()
    assert report.read.frame.empty


def test_cli_form_refuses_an_unknown_agency_and_instrument(tmp_path):
    out = tmp_path / "x.ods"
    unknown = CliRunner().invoke(main, ["form", "--agency", "999999999Z", "--out", str(out)])
    assert unknown.exit_code == 2 and "機關名冊中沒有機關代碼 999999999Z" in unknown.output
    wrong = CliRunner().invoke(
        main, ["form", "--agency", "301000000A", "--instrument", "annex9", "--out", str(out)]
    )
    assert wrong.exit_code == 2 and "沒有自評表 'annex9'；應為 plan, service" in wrong.output
    assert not out.exists()


def test_blank_form_sent_back_is_returned_not_accepted(tmp_path, fw):
    path = make(tmp_path, fw, "ods")
    result = CliRunner().invoke(main, ["intake", str(path)])
    assert result.exit_code == 1
    assert "1 個需退回機關修正" in result.output and "沒有讀到任何答案" in result.output


@pytest.mark.parametrize("fmt", ["ods", "xlsx"])
def test_generated_form_has_dropdowns_protection_and_print_setup(tmp_path, fw, fmt):
    path = make(tmp_path, fw, fmt)
    n_rows = 4 + len(fw.items["service"]) + len({i.principle for i in fw.items["service"]})
    if fmt == "xlsx":
        wb = openpyxl.load_workbook(path)
        ws = wb["填答者1"]
        assert ws.protection.sheet and wb["guidekit-form"].sheet_state == "hidden"
        assert ws["E6"].protection.locked and ws["C1"].protection.locked
        assert not ws["G6"].protection.locked and not ws["B2"].protection.locked
        (dv,) = ws.data_validations.dataValidation
        assert dv.formula1 == '"符合,部分符合,不符合,不適用"' and dv.errorStyle == "stop"
        assert ws.freeze_panes == "A5" and ws.print_title_rows == "$4:$4"
        assert ws.print_area == f"'填答者1'!$A$1:$J${n_rows}"
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
        assert ws["E6"].alignment.wrap_text
    else:
        content = zipfile.ZipFile(path).read("content.xml").decode("utf-8")
        assert content.count('table:protected="true"') == 7  # every sheet (actions too)
        assert 'of:cell-content-is-in-list("符合";"部分符合";"不符合";"不適用")' in content
        assert content.count('table:content-validation-name="val1"') == len(fw.items["service"])
        assert f"table:print-ranges=\"$'填答者1'.$A$1:.$J${n_rows}\"" in content
        assert "<table:table-header-rows>" in content
        styles = zipfile.ZipFile(path).read("styles.xml").decode("utf-8")
        assert (
            'style:print-orientation="landscape"' in styles and 'fo:page-width="29.7cm"' in styles
        )
