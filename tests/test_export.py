"""Open-data export: a valid Frictionless Data Package that protects respondents inside an
agency, says what it cannot protect, and never touches files it did not write.

Expected values are worked out by hand in the comments (scale Y = 2, P = 1, N = 0; item score =
value / 2 × 100; principle score = mean of item scores; median of two values = their mean).
"""

from __future__ import annotations

import csv
import errno
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from frictionless import Package, validate

import guidekit as gk
from guidekit import files
from guidekit import research as rs
from guidekit.cli import main
from guidekit.research import opendata
from guidekit.scoring import KEY

OWN_FILES = {f"{name}.csv" for name in opendata.RESOURCES} | {"datapackage.json"}


@pytest.fixture(scope="module")
def answers() -> gk.Responses:
    return rs.load()


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "package"
    result = CliRunner().invoke(main, ["--lang", "en", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "frictionless validation passed" in result.output
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _answers_file(tmp_path: Path, rows: list[str], name: str = "a.csv") -> Path:
    path = tmp_path / name
    header = "round,agency_id,agency_name,respondent,item_id,answer,note\n"
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _export(
    tmp_path: Path, rows: list[str], **kwargs: object
) -> tuple[Path, opendata.ExportResult]:
    data = rs.load(_answers_file(tmp_path, rows))
    out = tmp_path / "pkg"
    result = opendata.export_package(data, out, **kwargs)  # type: ignore[arg-type]
    assert result.valid, result.errors
    return out, result


def _key(row: dict[str, str]) -> tuple[str, ...]:
    return tuple(row[k] for k in KEY)


# -- the bundled example --------------------------------------------------------------------


def test_package_validates_with_frictionless(package: Path) -> None:
    report = validate(str(package / "datapackage.json"))
    assert report.valid, report.flatten(["type", "message"])
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["licenses"][0]["name"] == "OGDL-Taiwan-1.0"
    assert descriptor["created"].endswith("Z")
    assert descriptor["guidekit"]["framework"]["id"] == "tw-dsg"
    assert descriptor["guidekit"]["framework_versions_in_data"] == ["2025.10", "2026.11"]
    assert {r["name"] for r in descriptor["resources"]} == set(opendata.RESOURCES)
    assert all(r["schema"]["fields"] for r in descriptor["resources"])
    assert {p.name for p in package.iterdir()} == OWN_FILES | {files.RECORD}


def test_no_respondent_name_or_note_appears_anywhere(package: Path, answers: gk.Responses) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(package.iterdir()))
    names = set(answers.frame["respondent"])
    assert names and not [n for n in names if n in text]
    notes = {n for n in answers.frame["note"] if isinstance(n, str) and len(n) >= 6}
    assert notes and not [n for n in notes if n in text]
    stamps = set(answers.frame["answered_at"].head(50))
    assert not [s for s in stamps if s and s in text]


def test_item_level_data_of_small_groups_is_withheld(package: Path, answers: gk.Responses) -> None:
    """Small respondent groups: no answers, no item results, no disagreement count; their
    agency scores are published like everybody's."""
    frame = answers.frame
    people = frame[frame["answer"].notna()].groupby(KEY)["respondent"].nunique()
    large = {key for key, n in people.items() if n >= 5}
    small = {key for key, n in people.items() if n < 5}
    assert large and small  # the example has both kinds
    assert {_key(r) for r in _rows(package / "answers.csv")} == large
    assert {_key(r) for r in _rows(package / "item_results.csv")} == large
    overall = {_key(r): r for r in _rows(package / "scores_overall.csv")}
    assert set(overall) == large | small
    assert {k for k, r in overall.items() if r["item_level_published"] == "false"} == small
    assert all(overall[k]["n_disagreements"] == "" for k in small)
    assert all(overall[k]["n_disagreements"] != "" for k in large)
    for name in ("scores_principles", "scores_dimensions"):
        assert {_key(r) for r in _rows(package / f"{name}.csv")} == large | small


def test_respondents_are_random_labels_per_assessment(package: Path, answers: gk.Responses) -> None:
    rows = _rows(package / "answers.csv")
    by_assessment: dict[tuple[str, ...], set[str]] = {}
    for r in rows:
        by_assessment.setdefault(_key(r), set()).add(r["respondent"])
    sizes = answers.frame.groupby(KEY)["respondent"].nunique()
    for key, labels in by_assessment.items():
        assert labels == {f"R{n}" for n in range(1, sizes[key] + 1)}
    assert list(rows[0]) == [
        *KEY,
        "agency_name",
        "respondent",
        "item_id",
        "answer",
        "answer_label",
        "framework_version",
    ]


def test_pseudonyms_do_not_follow_the_original_order(answers: gk.Responses) -> None:
    """Labels are drawn at random: over many assessments some respondent must not get the label
    their position in the file would give (a deterministic relabelling would always match)."""
    frame = answers.frame[answers.frame["item_id"].str.endswith("P01-01")]
    assert len(frame) > 100
    labels = opendata.pseudonymise(frame)
    order = frame.groupby(KEY)["respondent"].transform(
        lambda s: s.map({n: i for i, n in enumerate(dict.fromkeys(s), start=1)})
    )
    assert (labels != "R" + order.astype(str)).any()


def test_groups_summarise_the_published_scores_and_hide_nothing(package: Path) -> None:
    """Agency scores are public, so groups.csv is a summary anyone can recompute from
    scores_overall.csv (level, kind columns): no group is 'suppressed', none is left out."""
    overall = pd.read_csv(package / "scores_overall.csv", dtype=str, keep_default_na=False)
    groups = pd.read_csv(package / "groups.csv", dtype=str, keep_default_na=False)
    assert "suppressed" not in groups.columns
    small = groups[groups["n"].astype(int) < 5]
    assert len(small) > 0 and (small["mean"] != "").all()  # summarised like every group
    for _, g in groups.iterrows():
        mine = overall[
            (overall["round"] == g["round"])
            & (overall["instrument"] == g["instrument"])
            & (overall[g["group_by"]] == g["group"])
        ]
        values = np.array([float(v) for v in mine["score"] if v != ""])
        assert int(g["n"]) == len(values)
        assert float(g["mean"]) == pytest.approx(sum(values) / len(values), abs=1e-5)
        assert float(g["median"]) == pytest.approx(float(np.median(values)), abs=1e-5)
        assert float(g["min"]) == pytest.approx(min(values), abs=1e-5)
        assert float(g["max"]) == pytest.approx(max(values), abs=1e-5)
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert "withholds nothing" in descriptor["description"]
    assert "public by design" in descriptor["description"]


def test_round_option_and_errors(tmp_path: Path, answers: gk.Responses) -> None:
    result = opendata.export_package(answers, tmp_path / "one", round="2025")
    assert result.valid
    assert {r["round"] for r in _rows(tmp_path / "one" / "scores_overall.csv")} == {"2025"}
    cases = [
        (dict(round="1999"), "評估回合「1999」不在資料中（現有回合：2025, 2026）。"),
        (dict(min_group=3), "最小群體人數至少為 5，而不是 3。"),
        (dict(licence="MIT"), "未知的授權「MIT」，可用：OGDL-Taiwan-1.0, CC-BY-4.0, CC0-1.0。"),
    ]
    for kwargs, zh in cases:
        with pytest.raises(gk.GuidekitError) as info:
            opendata.export_package(answers, tmp_path / "x", **kwargs)  # type: ignore[arg-type]
        assert info.value.text("zh-TW") == zh
        assert info.value.text("en") != zh
    assert not (tmp_path / "x").exists()


# -- who counts as a respondent (hand-made workshops) ---------------------------------------

ITEMS7 = [f"SV-P01-0{n}" for n in range(1, 8)]


def _workshop(people: list[str], agreed: dict[str, str] | None = None) -> list[str]:
    """Each person answers SV-P01-01..07 with Y/P/N by a fixed pattern; the team's agreed
    answers (團隊共識) as given."""
    rows = [
        f"2026,A1,某機關,{p},{item},{'YPN'[(k + n) % 3]},"
        for k, p in enumerate(people)
        for n, item in enumerate(ITEMS7)
    ]
    rows += [f"2026,A1,某機關,團隊共識,{item},{a},討論結果" for item, a in (agreed or {}).items()]
    return rows


def test_four_people_and_the_teams_agreed_answer_are_four_respondents(tmp_path: Path) -> None:
    out, result = _export(tmp_path, _workshop(["甲", "乙", "丙", "丁"], {"SV-P01-01": "P"}))
    (overall,) = _rows(out / "scores_overall.csv")
    assert overall["n_respondents"] == "4" and overall["has_agreed"] == "true"
    assert overall["item_level_published"] == "false" and overall["n_disagreements"] == ""
    assert _rows(out / "answers.csv") == [] and _rows(out / "item_results.csv") == []
    assert result.suppressed_groups == 1


def test_four_people_and_a_blank_only_respondent_are_four(tmp_path: Path) -> None:
    rows = [*_workshop(["甲", "乙", "丙", "丁"]), "2026,A1,某機關,戊,SV-P01-01,,稍後再填"]
    out, _ = _export(tmp_path, rows)
    (overall,) = _rows(out / "scores_overall.csv")
    assert overall["n_respondents"] == "4" and overall["item_level_published"] == "false"
    assert _rows(out / "answers.csv") == [] and _rows(out / "item_results.csv") == []


def test_five_people_are_published_without_the_team_or_blank_respondents(tmp_path: Path) -> None:
    """Five people (甲..戊) + a blank-only 己 + the team's agreed answer on SV-P01-01."""
    people = ["甲", "乙", "丙", "丁", "戊"]
    rows = [*_workshop(people, {"SV-P01-01": "Y"}), "2026,A1,某機關,己,SV-P01-02,,"]
    out, result = _export(tmp_path, rows)
    (overall,) = _rows(out / "scores_overall.csv")
    assert overall["n_respondents"] == "5" and overall["item_level_published"] == "true"
    published = _rows(out / "answers.csv")
    assert {r["respondent"] for r in published} == {"R1", "R2", "R3", "R4", "R5"}
    # The agreed answer settles SV-P01-01 (the agreed-answer rule): the people's own
    # answers to it are not the agency's and are not published; neither is the team's
    # row (not a person) nor 己's blank row.
    assert len(published) == 5 * 6
    assert "SV-P01-01" not in {r["item_id"] for r in published}
    # each label carries exactly one person's six other answers (vectors as a multiset)
    vectors = sorted(
        "".join(
            r["answer"]
            for r in sorted(published, key=lambda r: r["item_id"])
            if r["respondent"] == label
        )
        for label in ("R1", "R2", "R3", "R4", "R5")
    )
    expected = sorted("".join("YPN"[(k + n) % 3] for n in range(1, 7)) for k in range(5))
    assert vectors == expected
    results = {r["item_id"]: r for r in _rows(out / "item_results.csv")}
    assert results["SV-P01-01"]["agreed"] == "true" and results["SV-P01-02"]["agreed"] == "false"
    # SV-P01-02 (n = 1): answers of k = 0..4 are 'YPN'[(k+1) % 3] = P N Y P N → 1,0,2,1,0,
    # median 1 → partial, 50
    assert (results["SV-P01-02"]["status"], results["SV-P01-02"]["score"]) == ("partial", "50.0")
    assert result.suppressed_groups == 0


# -- a small group: agency scores yes, anything about one item no -----------------------------


def test_one_respondent_gets_agency_scores_but_no_item_results(tmp_path: Path) -> None:
    """王小明 alone answers SV-P01-01..03 with Y, P, N.  P01: items 100, 50, 0 → score 50,
    n_scored 3, n_unanswered 7 − 3 = 4; coverage 3/7.  A second agency with five people is
    published, so the package has both kinds."""
    rows = [
        "2026,A1,某小機關,王小明,SV-P01-01,Y,",
        "2026,A1,某小機關,王小明,SV-P01-02,P,",
        "2026,A1,某小機關,王小明,SV-P01-03,N,",
    ] + [f"2026,A2,某大機關,{p},SV-P01-01,Y," for p in "ABCDE"]
    out, result = _export(tmp_path, rows)
    p01 = [r for r in _rows(out / "scores_principles.csv") if r["principle_id"] == "P01"]
    mine = next(r for r in p01 if r["agency_id"] == "A1")
    assert (mine["score"], mine["n_scored"], mine["n_unanswered"]) == ("50.0", "3", "4")
    assert float(mine["coverage"]) == pytest.approx(3 / 7, abs=1e-6)
    for name in ("item_results", "answers"):
        assert {r["agency_id"] for r in _rows(out / f"{name}.csv")} == {"A2"}
    overall = {r["agency_id"]: r for r in _rows(out / "scores_overall.csv")}
    assert overall["A1"]["item_level_published"] == "false"
    assert overall["A2"]["item_level_published"] == "true"
    assert result.suppressed_groups == 1
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    privacy = descriptor["guidekit"]["privacy"]
    assert privacy["protects"] == "respondents inside an agency"
    assert "item_results.csv" in privacy["item_level_only_for_groups_of_min_group"]
    assert "n_scored = 1" in privacy["limits"]  # what the agency scores still reveal, said


def test_two_respondents_disagreement_count_is_withheld_with_the_items(tmp_path: Path) -> None:
    """Two people: Y/N on SV-P01-01 (spread 2: a disagreement), P/P on SV-P01-02.  Item scores
    (50 and 50) with the disagreement count would tell the pairs apart; neither is published.
    Five people on A2 disagree on one item (Y,Y,Y,Y,N) → n_disagreements 1."""
    rows = [
        "2026,A1,甲機關,甲,SV-P01-01,Y,",
        "2026,A1,甲機關,乙,SV-P01-01,N,",
        "2026,A1,甲機關,甲,SV-P01-02,P,",
        "2026,A1,甲機關,乙,SV-P01-02,P,",
    ] + [f"2026,A2,乙機關,{p},SV-P01-01,{'N' if p == 'E' else 'Y'}," for p in "ABCDE"]
    out, _ = _export(tmp_path, rows)
    overall = {r["agency_id"]: r for r in _rows(out / "scores_overall.csv")}
    assert overall["A1"]["n_disagreements"] == "" and overall["A2"]["n_disagreements"] == "1"
    assert overall["A1"]["n_respondents"] == "2"


# -- reading the package -------------------------------------------------------------------


def test_not_applicable_survives_pandas_frictionless_and_guidekit(tmp_path: Path) -> None:
    """NA (不適用) is an answer code, blank is unanswered: both stay apart for every reader."""
    rows = [f"2026,A1,某機關,{p},SV-P01-01,NA,無此情境" for p in "ABC"]
    rows += [f"2026,A1,某機關,{p},SV-P01-01,,稍後" for p in "DE"]
    rows += [f"2026,A1,某機關,{p},SV-P01-02,Y," for p in "ABCDE"]
    out, _ = _export(tmp_path, rows)
    naive = pd.read_csv(out / "answers.csv")  # pandas' defaults: NA becomes missing …
    item1 = naive[naive["item_id"] == "SV-P01-01"]
    assert item1["answer_label"].fillna("").tolist().count("不適用") == 3  # … the label does not
    careful = pd.read_csv(out / "answers.csv", keep_default_na=False, dtype=str)
    assert sorted(careful.loc[careful["item_id"] == "SV-P01-01", "answer"]) == [
        "",
        "",
        "NA",
        "NA",
        "NA",
    ]
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    schema = next(r for r in descriptor["resources"] if r["name"] == "answers")["schema"]
    assert schema["missingValues"] == [""]
    assert "keep_default_na=False" in descriptor["description"]
    rows_read = Package(str(out / "datapackage.json")).get_resource("answers").read_rows()
    assert sorted(str(r["answer"]) for r in rows_read if r["item_id"] == "SV-P01-01") == [
        "NA",
        "NA",
        "NA",
        "None",
        "None",
    ]
    # guidekit reads its own answers.csv back: 3 不適用 vs 0 substantive → the item is na
    back = gk.score(rs.load(out / "answers.csv"))
    item = back.items[back.items["item_id"] == "SV-P01-01"].iloc[0]
    assert item["status"] == "na" and item["n_na"] == 3


def test_published_item_results_equal_a_rescoring_of_the_published_answers(
    package: Path,
) -> None:
    """Consistency between tables: scoring answers.csv again gives item_results.csv."""
    back = gk.score(rs.load(package / "answers.csv"))
    again = {
        (*("" if pd.isna(r[k]) else str(r[k]) for k in KEY), r["item_id"]): r["status"]
        for _, r in back.items.iterrows()
    }
    published = _rows(package / "item_results.csv")
    assert published and all(again[(*_key(r), r["item_id"])] == r["status"] for r in published)


def test_spreadsheet_formulas_are_neutralised_and_counted(tmp_path: Path) -> None:
    header = "round,agency_id,agency_name,service,respondent,item_id,answer,note\n"
    svc = '"=HYPERLINK(""http://evil.example/"",""點我"")"'
    body = "".join(f"2026,@SUM(1+1),=cmd|' /C calc'!A0,{svc},{p},SV-P01-01,Y,\n" for p in "ABCDE")
    path = tmp_path / "a.csv"
    path.write_text(header + body, encoding="utf-8")
    result = opendata.export_package(rs.load(path), tmp_path / "pkg")
    assert result.valid, result.errors
    (overall,) = _rows(tmp_path / "pkg" / "scores_overall.csv")
    assert overall["agency_id"] == "'@SUM(1+1)"
    assert overall["agency_name"] == "'=cmd|' /C calc'!A0"
    assert overall["service"] == '\'=HYPERLINK("http://evil.example/","點我")'
    # cells changed: overall 3 (id, name, service); dimensions 4 × 2 (id, service);
    # principles 13 × 2; item_results 94 × 2; answers 5 × 3 (id, name, service)
    assert result.escaped_cells == 3 + 8 + 26 + 188 + 15
    descriptor = json.loads((tmp_path / "pkg" / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["guidekit"]["privacy"]["spreadsheet_escaped_cells"] == 240
    assert "OWASP" in descriptor["description"]


# -- the output folder: nothing lost ----------------------------------------------------------


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_re_export_replaces_only_the_packages_own_files(
    tmp_path: Path, answers: gk.Responses
) -> None:
    out = tmp_path / "pub"
    opendata.export_package(answers, out, round="2025")
    (out / "README.md").write_text("# 說明：本資料集…\n", encoding="utf-8")
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    (out / "data-dictionary.docx").write_bytes(b"\x00docx")
    # a table an older version wrote (and recorded as its own): listed in its descriptor,
    # no longer written
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"].append({"name": "old", "path": "old_table.csv"})
    files.write_output(out / "datapackage.json", json.dumps(descriptor), encoding="utf-8")
    files.write_output(out / "old_table.csv", "a\n1\n", encoding="utf-8")
    ours = OWN_FILES | {"old_table.csv", files.RECORD}
    mine = {k: v for k, v in _tree(out).items() if k not in ours}

    result = opendata.export_package(answers, out, round="2026")
    assert result.valid
    after = _tree(out)
    assert {k: v for k, v in after.items() if k in mine} == mine  # untouched, byte for byte
    assert set(after) == set(mine) | OWN_FILES | {files.RECORD}
    assert result.removed == ["old_table.csv"]
    assert result.kept == [".git", "README.md", "data-dictionary.docx"]
    assert {r["round"] for r in _rows(out / "scores_overall.csv")} == {"2026"}
    assert not [p for p in out.iterdir() if p.name.startswith(".guidekit-export")]


@pytest.mark.parametrize(
    ("setup", "zh"),
    [
        ("not_empty", "不是空的，也沒有 guidekit 產生的資料包"),
        (
            "foreign",
            "不是 guidekit 產生的資料包（datapackage.json 不是 guidekit 在此寫出的，或之後已被修改）",
        ),
        (
            "broken",
            "不是 guidekit 產生的資料包（datapackage.json 不是 guidekit 在此寫出的，或之後已被修改）",
        ),
        ("escape", "列出資料夾外或非一般檔案的路徑「../outside.csv」"),
        ("in_the_way", "groups.csv 已存在，而且不是 guidekit 寫出的檔案，因此不會覆寫"),
        (
            "changed",
            "groups.csv 是 guidekit 先前寫出的，但之後已被修改或換成其他檔案，因此不會覆寫",
        ),
    ],
)
def test_a_folder_that_cannot_take_the_package_is_refused_untouched(
    tmp_path: Path, answers: gk.Responses, setup: str, zh: str
) -> None:
    out = tmp_path / "pub"
    if setup == "not_empty":
        out.mkdir()
        (out / "keep.txt").write_text("mine", encoding="utf-8")
    else:
        opendata.export_package(answers, out, round="2025")
        descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
        if setup == "foreign":
            descriptor.pop("guidekit")
        if setup == "escape":
            descriptor["resources"].append({"name": "x", "path": "../outside.csv"})
        if setup == "in_the_way":
            descriptor["resources"] = [
                r for r in descriptor["resources"] if r["path"] != "groups.csv"
            ]
        text = "{not json" if setup == "broken" else json.dumps(descriptor)
        if setup == "in_the_way":  # a package without groups.csv, as a version might write
            (out / "groups.csv").unlink()
        if setup in ("escape", "in_the_way"):  # a descriptor guidekit wrote (and recorded)
            files.write_output(out / "datapackage.json", text, encoding="utf-8")
        elif setup == "changed":  # the user saved their own table over guidekit's
            (out / "groups.csv").write_text("mine\n", encoding="utf-8")
        else:
            (out / "datapackage.json").write_text(text, encoding="utf-8")
        if setup == "in_the_way":  # then a file of the user's where the new package goes
            (out / "groups.csv").write_text("mine\n", encoding="utf-8")
    (tmp_path / "outside.csv").write_text("theirs", encoding="utf-8")
    before = _tree(tmp_path)
    with pytest.raises(gk.GuidekitError) as info:
        opendata.export_package(answers, out, round="2026")
    assert zh in info.value.text("zh-TW") and "未寫入任何檔案" in info.value.text("zh-TW")
    assert _tree(tmp_path) == before


def test_cli_out_is_a_file_or_read_only_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine", encoding="utf-8")
    for lang, expected in (
        ("zh-TW", f"錯誤：{afile} 已存在且不是資料夾；請指定資料包要放的資料夾。未寫入任何檔案。"),
        ("en", f"error: {afile} exists and is not a folder; choose a folder for the package."),
    ):
        run = CliRunner().invoke(main, ["--lang", lang, "export", "--out", str(afile)])
        assert run.exit_code == 2 and expected in run.output  # 2: a handled error, not a crash
        assert "Traceback" not in run.output
    assert afile.read_text(encoding="utf-8") == "mine"

    def read_only(*args: object, **kwargs: object) -> str:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(opendata.tempfile, "mkdtemp", read_only)
    run = CliRunner().invoke(main, ["export", "--out", str(tmp_path / "ro")])
    assert run.exit_code == 2
    assert (
        f"錯誤：無法將資料包寫入 {tmp_path / 'ro'}（唯讀的檔案系統）。未更動任何檔案。"
        in run.output
    )


def test_a_failure_half_way_says_which_files_were_replaced(
    tmp_path: Path, answers: gk.Responses, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "pub"
    opendata.export_package(answers, out, round="2025")
    (out / "README.md").write_text("mine", encoding="utf-8")
    real = os.replace
    calls = []

    def flaky(src: object, dst: object) -> None:
        # moving a finished file into the folder (not guidekit's record of its files)
        if Path(str(dst)).parent == out and Path(str(dst)).name != files.RECORD:
            calls.append(dst)
            if len(calls) == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(opendata.os, "replace", flaky)
    with pytest.raises(gk.GuidekitError) as info:
        opendata.export_package(answers, out, round="2026")
    zh = info.value.text("zh-TW")
    assert "磁碟空間不足" in zh and "已更新：scores_overall.csv, scores_dimensions.csv" in zh
    assert (out / "README.md").read_text(encoding="utf-8") == "mine"
    assert not [p for p in out.iterdir() if p.name.startswith(".guidekit-export")]
