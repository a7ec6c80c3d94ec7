"""The command line: exit codes, problem lists, score output matching the API."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner

from guidekit.cli import main
from guidekit.intake.responses import read_responses
from guidekit.scoring import score

from .conftest import FIXTURES


@pytest.fixture
def runner():
    return CliRunner()


def good_rows():
    return [["2026", "0012", "測試機關", "甲", f"S{n}", "符合", ""] for n in range(1, 7)]


def test_validate_clean_file_exits_0(runner, write_csv):
    path = write_csv(good_rows())
    result = runner.invoke(main, ["validate", str(path), "--framework", str(FIXTURES / "mini")])
    assert result.exit_code == 0, result.output
    assert "utf-8-sig" in result.output and "通過" in result.output


def test_validate_lists_every_problem_and_exits_1(runner, write_csv):
    rows = good_rows()
    rows[0][5] = "好"
    rows[1][4] = "S77"
    path = write_csv(rows)
    result = runner.invoke(main, ["validate", str(path), "--framework", str(FIXTURES / "mini")])
    assert result.exit_code == 1
    assert f"{path}:2 [答案] 錯誤" in result.output and "'好'" in result.output
    assert f"{path}:3 [題號] 錯誤" in result.output and "'S77'" in result.output
    english = runner.invoke(
        main, ["--lang", "en", "validate", str(path), "--framework", str(FIXTURES / "mini")]
    )
    assert "unknown answer" in english.output and "unknown item id" in english.output


def test_validate_json(runner, write_csv):
    rows = good_rows()
    rows[0][5] = "好"
    path = write_csv(rows)
    result = runner.invoke(
        main, ["validate", str(path), "--framework", str(FIXTURES / "mini"), "--format", "json"]
    )
    data = json.loads(result.output)
    assert result.exit_code == 1 and data["ok"] is False
    [problem] = data["problems"]
    assert (problem["row"], problem["column"], problem["value"], problem["code"]) == (
        2,
        "答案",
        "好",
        "unknown-answer",
    )


def test_score_csv_and_json_match_the_api(runner, write_csv, mini):
    rows = good_rows()
    rows[2][5] = "部分符合"
    path = write_csv(rows)
    expected = score(read_responses(path, mini)).principles
    result = runner.invoke(main, ["score", str(path), "--framework", str(FIXTURES / "mini")])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.output), dtype={"agency_id": str, "round": str})
    assert table["agency_id"].tolist() == ["0012"] * 3
    assert table["score"].tolist() == pytest.approx(expected["score"].tolist())
    result = runner.invoke(
        main,
        [
            "score",
            str(path),
            "--framework",
            str(FIXTURES / "mini"),
            "--format",
            "json",
            "--level",
            "overall",
        ],
    )
    [record] = json.loads(result.output)
    # P01 = (100 + 100 + 50·2)/4 = 75, P02 = P03 = 100
    assert record["score"] == pytest.approx((75 + 100 + 100) / 3) and record["agency_id"] == "0012"


def test_score_weights_option(runner, write_csv):
    rows = good_rows()
    rows[0][5] = "不符合"
    path = write_csv(rows)
    args = [
        "score",
        str(path),
        "--framework",
        str(FIXTURES / "mini"),
        "--format",
        "json",
        "--level",
        "overall",
    ]
    # P01 = (0 + 100 + 100·2)/4 = 75 → (75 + 100 + 100)/3; with P01 weighted 2: (75·2 + 100 + 100)/4 = 87.5
    [plain] = json.loads(runner.invoke(main, args).output)
    [weighted] = json.loads(runner.invoke(main, [*args, "--weight", "P01=2"]).output)
    assert plain["score"] == pytest.approx(275 / 3) and weighted["score"] == pytest.approx(87.5)
    bad = runner.invoke(main, [*args, "--weight", "P01"])
    assert bad.exit_code == 2 and "P01" in bad.output


def test_score_invalid_answers_exit_1(runner, write_csv):
    rows = good_rows()
    rows[0][5] = "?"
    result = runner.invoke(
        main, ["score", str(write_csv(rows)), "--framework", str(FIXTURES / "mini")]
    )
    assert result.exit_code == 1 and "無法辨識的答案" in result.output


def test_framework_command(runner):
    result = runner.invoke(main, ["framework"])
    assert result.exit_code == 0 and "13" in result.output and "2026" in result.output
    broken = runner.invoke(main, ["framework", "/nonexistent"])
    assert broken.exit_code == 1 and "framework.yaml" in broken.output


def test_unknown_language_is_a_usage_error(runner):
    result = runner.invoke(main, ["--lang", "fr", "framework"])
    assert result.exit_code == 2


# -- outputs that would destroy or mislabel something --------------------------------------


def _score(runner, *args):
    return runner.invoke(main, ["score", *args, "--framework", str(FIXTURES / "mini")])


def test_score_output_never_overwrites_the_answers(runner, write_csv):
    path = write_csv(good_rows())
    before = path.read_bytes()
    result = _score(runner, str(path), "-o", str(path))
    assert result.exit_code == 2 and "覆寫填答檔案" in result.output
    inside = _score(runner, str(path.parent), "-o", str(path.parent / "scores.csv"))
    assert inside.exit_code == 2 and not (path.parent / "scores.csv").exists()
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("fmt", "name"), [("csv", "scores.xlsx"), ("json", "scores.csv"), ("csv", "scores.json")]
)
def test_score_output_suffix_must_match_the_format(runner, write_csv, tmp_path, fmt, name):
    path = write_csv(good_rows())
    target = tmp_path / "out" / name
    result = _score(runner, str(path), "--format", fmt, "-o", str(target))
    assert result.exit_code == 2 and not target.exists()
    assert f"--format {fmt}" in result.output


def test_unwritable_output_is_a_message_naming_the_file(runner, write_csv, tmp_path):
    path = write_csv(good_rows())
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be", encoding="utf-8")
    target = blocker / "scores.csv"
    result = _score(runner, str(path), "-o", str(target))
    assert result.exit_code == 2, result.output
    assert f"無法讀取或寫入 {target}" in result.output
    assert "Traceback" not in result.output and ".tmp" not in result.output


def test_a_weight_given_twice_is_refused(runner, write_csv):
    path = write_csv(good_rows())
    result = _score(runner, str(path), "--weight", "P01=0", "--weight", "P01=2")
    assert result.exit_code == 2 and "P01" in result.output and "不只一次" in result.output
