"""Field cases of issue 8 about what reaches a console, a command line, a chart's font,
the agency register, the radar summary, colours and the README
(tests/fixtures/cases/cp950-console-output, stale-font-cache; shell-command-quoting).

Expected texts are written out by hand from the messages a user sees.
"""

from __future__ import annotations

import html
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from guidekit.cli import main
from guidekit.store import open_store
from guidekit.widgets import Workshop, model

from .conftest import FIXTURES

CASES = FIXTURES / "cases"
ROOT = Path(__file__).resolve().parents[1]

# -- text typed on the start page never reaches a command line ------------------------------

#: Every character cmd.exe, PowerShell or a POSIX shell reads as code.
HOSTILE = "A1$(calc)&calc|x^y%PATH%!v!`t;'q\"<in>out"


def _start(store, round_: str, agency: str, name: str) -> None:
    from urllib.parse import urlencode

    query = urlencode(
        {
            "round": round_,
            "agency": agency,
            "name": name,
            "service": "s",
            "form": "service",
            "respondent": "R1",
        }
    )
    page = Workshop(store, query=query)
    assert page.view is not None, page.message.value
    next(iter(page.view.rows.values())).answer.value = "Y"


@pytest.mark.parametrize(
    ("round_", "agency"),
    [
        ("2026", "A1$(calc)&calc"),  # the case: typed on the start page
        ("2026&calc", "A1|calc"),
        ("2026", "A1^&calc%PATH%!x!`$(y);'z'\"w\""),
        ("2026'\"<in>out;x", "B 2 (x) !y"),
    ],
)
def test_the_report_command_holds_no_typed_text(tmp_path, fw, round_, agency):
    from guidekit.store import Change, Sheet

    with open_store(tmp_path / "store.sqlite", fw) as store:
        store.record(Change(Sheet(round_, agency, HOSTILE, "", "service", "R1"), "SV-P01-01", "Y"))
        made = model.Facilitator(store, round_, agency).report(tmp_path / "rep")
        assert made.ok, made.error
        # POSIX: the line splits back into exactly the arguments of the run
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
        # the command needs no --agency/--round: the exported file holds only this one
        from guidekit.intake.responses import read_responses

        frame = read_responses(made.answers.csv, fw).frame
        assert set(frame["agency_id"]) == {agency} and set(frame["round"]) == {round_}
        # Windows: the same arguments as one line for cmd.exe and PowerShell
        line = model.shell_command(shlex.split(made.command), windows=True)
        assert line is not None
        for char in "&|^%!$`;'<>()\n":
            assert char not in line, char


def test_a_line_break_in_a_typed_code_never_gets_as_far(tmp_path, fw):
    from guidekit.store import Change, Sheet, StoreError

    with open_store(tmp_path / "store.sqlite", fw) as store:
        for sheet in (
            Sheet("2026", "A1\ncalc", "機關", "", "service", "R1"),
            Sheet("2026\r\ncalc", "A1", "機關", "", "service", "R1"),
            Sheet("2026", "A1", "機關\ncalc", "", "service", "R1"),
        ):
            with pytest.raises(StoreError):
                store.record(Change(sheet, "SV-P01-01", "Y"))
        assert store.log().empty


def test_the_facilitator_page_shows_the_command_without_the_typed_code(tmp_path, fw):
    # the case's own steps (repro.py), through the pages
    code = "A1$(calc)&calc"
    with open_store(tmp_path / "store.sqlite", fw) as store:
        _start(store, "2026", code, "x")
        team = Workshop(store, query=f"round=2026&agency={code.replace('&', '%26')}&view=team")
        page = team.view
        assert page is not None, team.message.value
        page.export_button.click()
        shown = page.files.value
        assert "可用以下指令檢查檔案：" in shown
        command = html.unescape(shown.split("<code>")[-1].split("</code>")[0])
        # the file's folder is named by guidekit (A1-calc-calc-<hash>): nothing to quote
        assert shlex.split(command) == ["guidekit", "validate", str(page.last_export.csv)]
        assert "$(" not in command and "&" not in command


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["guidekit", "validate", r"C:\Users\王喆\answers.csv"],
            r"guidekit validate C:\Users\王喆\answers.csv",
        ),
        (
            ["guidekit", "validate", r"C:\My Files (2026)\a&b;c.csv"],
            r'guidekit validate "C:\My Files (2026)\a&b;c.csv"',
        ),
        (
            ["guidekit", "validate", r"D:\it's\x.csv"],
            r'guidekit validate "D:\it' + "'" + r's\x.csv"',
        ),
    ],
)
def test_windows_lines_quote_what_cmd_and_powershell_both_take_literally(args, expected):
    # inside "…" cmd.exe reads only % ! " and PowerShell only $ ` " as code
    assert model.shell_command(args, windows=True) == expected


@pytest.mark.parametrize(
    "folder",
    [
        r"C:\100%\x",
        r"C:\wow!\x",
        r"C:\$(calc)\x",
        r"C:\a`b\x",
        'C:\\"q"\\x',
        "C:\\a\nb",
        "C:\\my dir\\",
    ],
)
def test_windows_lines_are_not_shown_when_a_shell_would_read_the_path(folder, tmp_path):
    assert model.shell_command(["guidekit", "validate", folder], windows=True) is None
    # and POSIX shells still get a line that splits back exactly
    line = model.shell_command(["guidekit", "validate", folder], windows=False)
    assert shlex.split(line) == ["guidekit", "validate", folder]


def test_the_page_says_why_it_shows_no_command(tmp_path, fw, monkeypatch):
    from guidekit.widgets import facilitator

    monkeypatch.setattr(facilitator, "shell_command", lambda args: None)
    with open_store(tmp_path / "store.sqlite", fw) as store:
        _start(store, "2026", "0012", "機關")
        page = Workshop(store, query="round=2026&agency=0012&view=team").view
        assert page is not None
        page.export_button.click()
        assert "不提供可複製的指令" in page.files.value
        assert "<code>guidekit" not in page.files.value


def test_the_backup_command_after_a_workshop_is_quoted(tmp_path):
    from guidekit.widgets.server import settle_message

    store = tmp_path / "工作坊 $(calc) & co" / "w.sqlite"
    zh, en = settle_message(store, done=False)
    zh_command = zh.split("請用 ")[1].split(" 製作完整備份")[0]
    assert shlex.split(zh_command) == ["guidekit", "backup", str(store), "備份.sqlite"]
    en_command = en.split("make a complete copy with ")[1].split(" rather than")[0]
    assert shlex.split(en_command) == ["guidekit", "backup", str(store), "copy.sqlite"]
    done_zh, _ = settle_message(store, done=True)
    assert done_zh == f"所有答案都已寫入 {store}：備份時只要複製這一個檔案。"


# -- a console that cannot show every character ---------------------------------------------


def _run(*args: str, cwd: Path, encoding: str = "cp950") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    return subprocess.run(
        [sys.executable, "-m", "guidekit", *args], cwd=cwd, env=env, capture_output=True
    )


def _emoji_agency(tmp_path: Path) -> str:
    """The case's file with an agency name outside cp950 and outside the BMP."""
    source = CASES / "cp950-console-output" / "王喆填答.csv"
    text = source.read_bytes().decode("utf-8-sig").replace("測試機關", "堃喆機關😀")
    (tmp_path / "in.csv").write_text(text, encoding="utf-8-sig")
    return "堃喆機關😀"


@pytest.mark.parametrize("command", [["score", "--level", "overall"], ["validate"]])
def test_json_to_a_cp950_file_stays_valid_json(tmp_path, command):
    # sibling of the case: --format json on a legacy console wrote \U0001f600, not JSON
    name = _emoji_agency(tmp_path)
    extra = ["--format", "json", "in.csv"]
    if command[0] == "validate":  # the file named with it: the name is in "sources"
        (tmp_path / "in.csv").rename(tmp_path / f"{name}.csv")
        extra = ["--format", "json", f"{name}.csv"]
    done = _run(*command, *extra, cwd=tmp_path)
    out = done.stdout.decode("cp950")
    data = json.loads(out)  # valid JSON: ASCII escapes, surrogate pairs beyond U+FFFF
    assert "\\U0001f600" not in out and "\\ud83d\\ude00" in out
    if command[0] == "score":
        assert data[0]["agency_name"] == name
    else:
        assert data["sources"][0]["file"] == f"{name}.csv"


def test_json_to_a_utf8_console_is_written_as_is(tmp_path):
    name = _emoji_agency(tmp_path)
    done = _run(
        "score", "--level", "overall", "--format", "json", "in.csv", cwd=tmp_path, encoding="utf-8"
    )
    assert name in done.stdout.decode("utf-8")


def test_validate_to_a_cp950_file_does_not_crash(tmp_path):
    # the case: PYTHONIOENCODING=cp950 guidekit validate 王喆填答.csv > log.txt
    source = CASES / "cp950-console-output" / "王喆填答.csv"
    (tmp_path / source.name).write_bytes(source.read_bytes())
    done = _run("validate", source.name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr.decode("cp950", "replace")
    out = done.stdout.decode("cp950")  # the log stays cp950
    # 喆 (U+5586) is not in cp950: written as an escape, every other character kept
    assert "已讀取 王\\u5586填答.csv：91 列，編碼 utf-8-sig" in out
    assert "通過：91 筆答案，1 個機關；提醒 0 項。" in out
    err = done.stderr.decode("cp950")
    assert "Traceback" not in err
    assert "提醒：有 1 個字元無法以主控台的編碼 cp950 輸出，已改寫為 \\uXXXX 形式" in err
    assert "PYTHONIOENCODING=utf-8" in err


def test_reports_to_a_cp950_file_prints_its_index(tmp_path):
    # the sibling: reports crashed at the end, before "索引：" (an output folder named with 堃)
    source = CASES / "cp950-console-output" / "王喆填答.csv"
    (tmp_path / "in.csv").write_bytes(source.read_bytes())
    done = _run("reports", "--responses", "in.csv", "--out", "堃報告", cwd=tmp_path)
    out, err = done.stdout.decode("cp950"), done.stderr.decode("cp950")
    assert done.returncode == 0, err
    assert f"索引：{tmp_path / '堃報告'}".replace("堃", "\\u5803") in out
    assert "Traceback" not in err
    assert (tmp_path / "堃報告" / "index.html").exists()


def test_a_mistyped_agency_to_a_cp950_console_is_a_message(tmp_path):
    source = CASES / "cp950-console-output" / "王喆填答.csv"
    (tmp_path / "in.csv").write_bytes(source.read_bytes())
    done = _run(
        "reports", "--responses", "in.csv", "--agency", "NOPE", "--out", "堃報告", cwd=tmp_path
    )
    err = done.stderr.decode("cp950")
    assert done.returncode == 2 and "Traceback" not in err
    assert "NOPE" in err and "ENC02" in err  # names what was asked and what exists
    assert not (tmp_path / "堃報告").exists()  # a mistyped agency writes no empty index


def test_a_console_that_can_show_everything_is_unchanged(tmp_path):
    source = CASES / "cp950-console-output" / "王喆填答.csv"
    (tmp_path / source.name).write_bytes(source.read_bytes())
    done = _run("validate", source.name, cwd=tmp_path, encoding="utf-8")
    assert "已讀取 王喆填答.csv：91 列" in done.stdout.decode("utf-8")
    assert "提醒" not in done.stderr.decode("utf-8")


# -- command-line usage errors: Traditional Chinese first, English beside -------------------


@pytest.mark.parametrize(
    ("args", "zh", "en"),
    [
        (["validate"], "錯誤：缺少引數 'PATHS...'。", "Error: Missing argument 'PATHS...'."),
        (
            ["reports", "--workers", "abc"],
            "錯誤：選項 '--workers' 的值不正確：應為 1 到 64 的整數。",
            "Error: Invalid value for '--workers': 'abc' is not a valid integer range.",
        ),
        (
            ["reports", "--workers", "0"],
            "錯誤：選項 '--workers' 的值不正確：應為 1 到 64 的整數。",
            "Error: Invalid value for '--workers': 0 is not in the range 1<=x<=64.",
        ),
        (
            ["reports", "--timeout", "0"],
            "錯誤：選項 '--timeout' 的值不正確：應為不小於 1 的整數。",
            "Error: Invalid value for '--timeout': 0 is not in the range x>=1.",
        ),
        (
            ["validate", "x.csv", "--format", "xml"],
            "錯誤：選項 '--format' 的值不正確：應為下列之一：text、json。",
            "Error: Invalid value for '--format': 'xml' is not one of 'text', 'json'.",
        ),
        (
            ["reports", "--nope"],
            "錯誤：沒有 --nope 這個選項。您是指 --force、--no-progress 嗎？",
            "Error: No such option '--nope'. (Did you mean one of: '--force', '--no-progress'?)",
        ),
        (
            ["reports", "--workers"],
            "錯誤：選項 --workers 後面需要給值。",
            "Error: Option '--workers' requires an argument.",
        ),
        (
            ["reports", "--keep-notebooks=yes"],
            "錯誤：選項 --keep-notebooks 不接受值。",
            "Error: Option '--keep-notebooks' does not take a value.",
        ),
        (
            ["--lang"],
            "錯誤：選項 --lang 後面需要給值。",
            "Error: Option '--lang' requires an argument.",
        ),
        (
            ["reprots"],
            "錯誤：沒有 reprots 這個指令。您是指 reports、export 嗎？",
            "Error: No such command 'reprots'.",
        ),
        (
            ["framework", "a", "b"],
            "錯誤：多出了引數：b（含空格的路徑請加引號）。",
            "Error: Got unexpected extra argument(s) (b).",
        ),
        (
            ["--lang", "fr", "framework"],
            "錯誤：--lang 的值不正確：不支援的語言 'fr'：請用 zh-TW 或 en",
            "Error: Invalid value for '--lang': unsupported language 'fr': use zh-TW or en",
        ),
    ],
)
def test_usage_errors_are_said_in_chinese_then_english(args, zh, en):
    result = CliRunner().invoke(main, args, prog_name="guidekit")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0].startswith("Usage: guidekit")
    assert "說明請執行 'guidekit" in lines[1] and "-h'。Try 'guidekit" in lines[1]
    zh_line = next(i for i, line in enumerate(lines) if line.startswith("錯誤："))
    assert lines[zh_line] == zh
    assert lines[zh_line + 1].startswith(en)


def test_a_bare_guidekit_still_shows_its_help():
    result = CliRunner().invoke(main, [])
    assert "guidekit validate 檔案" in result.output and "錯誤" not in result.output


# -- a CJK font installed after matplotlib built its font cache -----------------------------

_STALE_SCRIPT = """
import warnings, json, sys
warnings.simplefilter("error")  # a missing glyph (boxes) or a font warning fails the run
import pandas as pd
from guidekit.render import fonts
from guidekit.research import plots as research_plots
family = fonts.use_cjk_font()
summary = pd.DataFrame({"principle_id": ["P01", "P02"], "title": ["以使用者為中心", "無障礙、多元"],
                        "median": [50.0, 70.0], "q1": [40.0, 60.0], "q3": [60.0, 80.0]})
png = research_plots.weakest(summary).png()
print(json.dumps({"has": fonts.has_cjk_font(), "family": family, "png": png[:4].hex()}))
"""


@pytest.fixture
def stale_mplcache(tmp_path):
    """A copy of the case's matplotlib config folder (cache built before fonts-noto-cjk)."""
    folder = tmp_path / "mplcache"
    folder.mkdir()
    for source in (CASES / "stale-font-cache" / "mplcache").iterdir():
        (folder / source.name).write_bytes(source.read_bytes())
    return folder


def test_a_font_installed_after_the_cache_is_used(stale_mplcache):
    import json

    from guidekit.render.fonts import has_cjk_font

    if not has_cjk_font():
        pytest.skip("no Traditional Chinese font on this machine (fc-list :lang=zh-tw)")
    cached = json.loads((stale_mplcache / "fontlist-v3.11.0.json").read_text(encoding="utf-8"))
    assert not any("CJK" in f["name"] for f in cached["ttflist"])  # the case: a stale cache
    env = {**os.environ, "MPLCONFIGDIR": str(stale_mplcache)}
    done = subprocess.run(
        [sys.executable, "-c", _STALE_SCRIPT], env=env, capture_output=True, text=True, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    said = json.loads(done.stdout)
    assert said["has"] is True and said["family"] == "Noto Sans CJK TC"
    assert said["png"] == "89504e47"  # a PNG was drawn, with no missing-glyph warning
    assert "fonts-noto-cjk" not in done.stderr


def test_install_advice_only_when_no_font_is_installed(monkeypatch):
    import warnings

    from matplotlib import font_manager

    from guidekit.render import fonts

    without_cjk = [f for f in font_manager.fontManager.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", without_cjk)
    monkeypatch.setattr(fonts, "cjk_font_files", lambda: {})
    monkeypatch.setattr(fonts, "has_cjk_font", lambda: False)
    fonts.cjk_family.cache_clear()
    try:
        with pytest.warns(UserWarning, match="找不到中文字型.*請安裝 fonts-noto-cjk"):
            assert fonts.use_cjk_font() is None
        # fontconfig lists a font that matplotlib cannot read: no advice to install it
        fonts.cjk_family.cache_clear()
        monkeypatch.setattr(fonts, "cjk_font_files", lambda: {"某字型": ["/nonexistent/x.ttf"]})
        monkeypatch.setattr(fonts, "has_cjk_font", lambda: True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert fonts.use_cjk_font() is None
        [said] = [str(w.message) for w in caught]
        assert "已安裝中文字型（/nonexistent/x.ttf），但 matplotlib 無法讀取" in said
        assert "fontlist-*.json" in said and "install fonts-noto-cjk" not in said
    finally:
        fonts.cjk_family.cache_clear()


# -- one reader of the agency register, with or without a BOM -------------------------------


@pytest.fixture
def bom_register(tmp_path, monkeypatch):
    """The bundled register as Excel saves "CSV UTF-8": a BOM and CRLF line ends."""
    from guidekit.intake import register
    from guidekit.paths import agencies_file

    text = agencies_file().read_text(encoding="utf-8")
    copy = tmp_path / "agencies.csv"
    copy.write_bytes(b"\xef\xbb\xbf" + text.replace("\r\n", "\n").replace("\n", "\r\n").encode())
    monkeypatch.setattr(register, "agencies_file", lambda: copy)
    return copy


def test_a_register_with_a_bom_reads_the_same_everywhere(bom_register):
    import datetime as dt

    from guidekit import research
    from guidekit.paths import agencies_file
    from guidekit.report import AgencyReport, load_round
    from guidekit.widgets.app import known_agencies

    plain = research.agencies(agencies_file())
    with_bom = research.agencies()
    assert with_bom.columns[0] == "agency_id"  # not "\ufeffagency_id"
    assert with_bom.equals(plain)
    # the workshop's suggestions: the same codes and names
    assert known_agencies() == dict(zip(plain["agency_id"], plain["name_zh"], strict=True))
    assert known_agencies()["379000000A"] == "臺北市政府"
    # an English report keeps the register's English name
    data = load_round()
    report = AgencyReport(data, "379000000A", "en", today=dt.date(2026, 11, 29))
    assert report.display_name == "Taipei City Government (臺北市政府)"
    zh = AgencyReport(data, "379000000A", "zh-TW", today=dt.date(2026, 11, 29))
    assert zh.display_name == "臺北市政府"


def _broken_register(folder: Path) -> Path:
    path = folder / "broken.csv"
    path.write_bytes(
        "\ufeffagency_id,name_zh,name_en,level,kind,parent_id\r\n"
        "A1,甲機關,Agency A,central,ministry,\r\n"
        ",乙機關,Agency B,central,ministry,\r\n"
        "A1,丙機關,Agency C,central,ministry,\r\n"
        "A4,丁機關,Agency D,central\r\n".encode()
    )
    return path


def test_register_problems_are_listed_with_their_rows(tmp_path):
    from guidekit import research
    from guidekit.problems import DataError

    path = _broken_register(tmp_path)
    with pytest.raises(DataError) as caught:
        research.agencies(path)
    said = caught.value.format("zh-TW")
    # rows as a spreadsheet shows them: header = row 1
    assert said.startswith(f"機關名冊 {path}：3 個錯誤")
    assert [(p.row, p.code) for p in caught.value.problems] == [
        (3, "blank"),
        (4, "duplicate-id"),
        (5, "short-row"),
    ]
    assert "（已用於第 2 列）" in said and "這一列只有 4 欄，標題有 6 欄" in said
    english = caught.value.format("en")
    assert "already used in row 2" in english

    headless = tmp_path / "headless.csv"
    headless.write_text("agency_id,name_zh\r\nA1,甲\r\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        research.agencies(headless)
    missing = sorted(p.column for p in caught.value.problems if p.code == "missing-column")
    assert missing == ["kind", "level", "name_en", "parent_id"]


def test_a_broken_register_is_not_swallowed(tmp_path, monkeypatch):
    import datetime as dt

    from guidekit.intake import register
    from guidekit.problems import DataError
    from guidekit.report import AgencyReport, load_round

    broken = _broken_register(tmp_path)
    monkeypatch.setattr(register, "agencies_file", lambda: broken)
    data = load_round()
    with pytest.raises(DataError, match="already used in row 2"):
        _name = AgencyReport(data, "379000000A", "en", today=dt.date(2026, 11, 29)).display_name
    # the workshop page still opens, says what is wrong, and offers no suggestions
    with open_store(tmp_path / "store.sqlite") as store:
        page = Workshop(store)
        assert page.agencies == {}
        shown = page.errors.widget.value
        assert "機關名冊" in shown and "已用於第 2 列" in shown


# -- the radar summary names ties without ambiguity and counts the rest right --------------


def _tied(write_csv, fw, met: set[str]):
    """Answers with every item of the principles in ``met`` 符合 and one item of P06 不符合."""
    from guidekit.intake.responses import read_responses
    from guidekit.report import AgencyReport, load_round

    rows = [
        ["2026", "0001", "甲機關", "甲", i.id, "符合", ""]
        for i in fw.items["service"]
        if i.principle in met
    ]
    low = next(i for i in fw.items["service"] if i.principle == "P06")
    rows.append(["2026", "0001", "甲機關", "甲", low.id, "不符合", ""])
    data = load_round(read_responses(write_csv(rows), fw))

    def describe(lang):
        import datetime as dt

        report = AgencyReport(data, "0001", lang, today=dt.date(2026, 11, 29))
        return report.principle_chart(report.assessments[0]).description, report

    return describe


def test_five_tied_principles_are_three_named_and_two_more(write_csv, fw):
    describe = _tied(write_csv, fw, {"P01", "P02", "P03", "P04", "P05"})
    zh, _ = describe("zh-TW")
    # five at 100: three listed, "及另 2 項" = two more beyond them (not "等 2 項")
    assert (
        "最高：「一、了解使用者需求」、「二、建立跨領域合作機制」、「三、規劃多元服務管道」"
        "及另 2 項（100.0分）；最低：「六、評估採用工具與系統」（0.0分）。"
    ) in zh
    assert "等 2 項" not in zh
    en, _ = describe("en")
    assert (
        "Highest: 1. Understand user needs; 2. Build a multidisciplinary collaboration "
        "mechanism; 3. Plan multiple service channels; and 2 more (100.0); "
        "lowest: 6. Evaluate tools and systems (0.0)."
    ) in en


def test_three_or_fewer_ties_are_all_named(write_csv, fw):
    describe = _tied(write_csv, fw, {"P01", "P04"})
    zh, report = describe("zh-TW")
    assert "最高：「一、了解使用者需求」、「四、採用持續精進作業程序」（100.0分）" in zh
    assert "及另" not in zh
    # the dimension table lists its principles the same unambiguous way
    assert "「一、了解使用者需求」、「二、建立跨領域合作機制」、「三、規劃多元服務管道」" in (
        report.dimensions().html
    )
    en, _ = describe("en")
    assert (
        "Highest: 1. Understand user needs; 4. Adopt a continuous-improvement process (100.0)" in en
    )


# -- colour contrast of every text colour on every background (WCAG 2.1, AA: 4.5:1) ---------

TEMPLATES = ROOT / "guidekit" / "render" / "templates"


def _luminance(colour: str) -> float:
    """Relative luminance of a #rgb / #rrggbb colour (WCAG 2.1, definition of the term)."""
    hex_ = colour.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)
    channels = [int(hex_[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_contrast_formula_gives_known_ratios():
    assert _contrast("#000", "#fff") == pytest.approx(21.0)
    assert _contrast("#fff", "#fff") == pytest.approx(1.0)
    assert _contrast("#767676", "#fff") == pytest.approx(4.54, abs=0.01)  # the AA grey
    assert _contrast("#6d6d6d", "#eeeeee") < 4.5  # the reported tab labels


def _colours(css: str) -> tuple[set[str], set[str]]:
    import re

    hex_ = r"(#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b)"
    text = set(re.findall(r"(?<![-\w])color:\s*" + hex_, css))
    backgrounds = set(re.findall(r"background(?:-color)?:\s*" + hex_, css))
    return text, backgrounds | {"#fff"}  # the page itself is white


@pytest.mark.parametrize("sheet", ["report.css", "workshop/style.css"])
def test_every_text_colour_is_readable_on_every_background(sheet):
    text, backgrounds = _colours((TEMPLATES / sheet).read_text(encoding="utf-8"))
    assert len(text) >= 5 and len(backgrounds) >= 4  # the stylesheet was read
    low = sorted(
        (fg, bg, round(_contrast(fg, bg), 2))
        for fg in text
        for bg in backgrounds
        if _contrast(fg, bg) < 4.5
    )
    assert low == []


def test_workshop_tabs_set_their_own_readable_colours():
    import re

    css = (TEMPLATES / "workshop" / "style.css").read_text(encoding="utf-8")
    rules = re.findall(r"([^{}]*\.lm-TabBar-tab[^{}]*)\{([^}]*)\}", css)
    coloured = [(sel, body) for sel, body in rules if "color:" in body and "background:" in body]
    selectors = " ".join(sel for sel, _ in coloured)
    assert ".lm-TabBar-tab " in selectors + " " and ".lm-mod-current" in selectors
    for _, body in coloured:
        fg = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})", body).group(1)
        bg = re.search(r"background:\s*(#[0-9a-fA-F]{3,6})", body).group(1)
        assert _contrast(fg, bg) >= 4.5, (fg, bg)


def test_chart_text_is_readable_on_white():
    import re

    for name in ("chart_radar.svg.j2", "chart_bars.svg.j2"):
        svg = (TEMPLATES / name).read_text(encoding="utf-8")
        fills = re.findall(r'<g[^>]*font-size="\d+"[^>]*fill="(#[0-9a-fA-F]{3,6})"', svg)
        assert fills, name
        assert all(_contrast(f, "#fff") >= 4.5 for f in fills), (name, fills)


# -- README promises ------------------------------------------------------------------------

README = ROOT / "README.md"


def test_readme_says_what_store_responses_returns(tmp_path, fw):
    import pandas as pd

    from guidekit.answers import Responses
    from guidekit.store import Change, Sheet

    text = README.read_text(encoding="utf-8")
    assert "gives the canonical answer table" not in text
    assert "returns a `Responses` object whose `.frame` is the canonical answer table" in text
    assert "傳回\n  `Responses` 物件，`.frame` 是標準格式的答案表" in text
    with open_store(tmp_path / "w.sqlite", fw) as store:
        store.record(Change(Sheet("2026", "0012", "機關", "", "service", "甲"), "SV-P01-01", "Y"))
    with open_store(tmp_path / "w.sqlite", readonly=True) as store:
        got = store.responses(agreed="individual")
    assert isinstance(got, Responses) and isinstance(got.frame, pd.DataFrame)
    assert got.frame["agency_id"].tolist() == ["0012"]


def test_readme_setup_steps_work_as_root_and_say_so():
    text = README.read_text(encoding="utf-8")
    # "do not add sudo" is not followed by a step that starts with sudo (root has none)
    assert "sudo apt-get install -y python3-venv" not in text
    assert "apt-get install -y python3-venv           # 只需一次；這一步要系統管理員權限" in text
    assert "# once; needs administrator rights: prefix sudo when not root" in text
    assert text.count("--allow-root") == 2  # zh and en, beside `jupyter lab`


def test_readme_report_command_matches_the_facilitator_page():
    text = README.read_text(encoding="utf-8")
    assert "reports --responses 匯出資料夾/answers.csv --out 報告資料夾" in text
    assert "--agency 機關代碼 --round 回合" not in text
    assert "reports --responses export-folder/answers.csv --out report-folder" in text


def test_names_that_hold_the_list_separator_stay_apart(tmp_path, fw):
    # the radar's sibling lists: respondents on the facilitator page, agency names in a warning
    from guidekit.intake.responses import validate_responses
    from guidekit.store import Change, Sheet

    with open_store(tmp_path / "store.sqlite", fw) as store:
        for who in ("王、李", "陳"):
            store.record(
                Change(Sheet("2026", "0012", "機關", "", "service", who), "SV-P01-01", "Y")
            )
        page = Workshop(store, query="round=2026&agency=0012&view=team").view
        assert page is not None
        assert "填答者 2 人：「王、李」、「陳」。" in page.summary.value
    import sqlite3

    path = tmp_path / "two-names.sqlite"
    with open_store(path, fw) as store:
        store.record(Change(Sheet("2026", "A1", "甲、乙處", "", "service", "R1"), "SV-P01-01", "Y"))
    # an old store, from before one name per code was enforced: a second name for A1
    raw = sqlite3.connect(path)
    columns = [r[1] for r in raw.execute("PRAGMA table_info(answer_log)") if r[1] != "id"]
    values = dict(
        zip(
            columns,
            raw.execute(f"SELECT {', '.join(columns)} FROM answer_log").fetchone(),
            strict=True,
        )
    )
    values.update(agency_name="丙處", respondent="R2", who="R2")
    raw.execute(
        f"INSERT INTO answer_log ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
        list(values.values()),
    )
    raw.commit()
    raw.close()
    [warning] = validate_responses(path, fw).problems
    assert "有 2 個機關名稱（「甲、乙處」、「丙處」），採用最新的「丙處」" in warning.message(
        "zh-TW"
    )
    assert "has 2 names in round 2026 (“甲、乙處”; “丙處”)" in warning.message("en")


@pytest.mark.slow
@pytest.mark.browser
def test_workshop_tab_labels_are_readable_in_the_browser(tmp_path):
    """The colours the browser computes for the dimension tabs (the widgets' own CSS
    loads too, so the page's rules must win): every tab label ≥ 4.5:1 on its tab."""
    from .test_workshop_browser import CHROMIUM, CHROMIUM_ARGS, Server, open_sheet

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (sh tests/run.sh installs it)")
    from playwright.sync_api import sync_playwright

    server = Server(tmp_path)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = open_sheet(browser.new_context(), server, "對比")
                pairs = page.evaluate(
                    """() => [...document.querySelectorAll('.lm-TabBar-tab')].map(t => {
                        const s = getComputedStyle(t);
                        return [getComputedStyle(t.querySelector('.lm-TabBar-tabLabel')).color,
                                s.backgroundColor, t.classList.contains('lm-mod-current')];
                    })"""
                )
            finally:
                browser.close()
    finally:
        server.stop()

    def hex_(rgb: str) -> str:
        r, g, b = (int(v) for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
        return f"#{r:02x}{g:02x}{b:02x}"

    assert len(pairs) >= 4 and any(current for *_, current in pairs)
    for fg, bg, _current in pairs:
        assert "rgba" not in fg and _contrast(hex_(fg), hex_(bg)) >= 4.5, (fg, bg)
