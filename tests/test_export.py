"""Open-data export: a valid Frictionless Data Package in which no respondent can be identified."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from frictionless import validate

import guidekit as gk
from guidekit import opendata
from guidekit import research as rs
from guidekit.cli import main
from guidekit.scoring import KEY


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


def test_package_validates_with_frictionless(package: Path) -> None:
    report = validate(str(package / "datapackage.json"))
    assert report.valid, report.flatten(["type", "message"])
    descriptor = json.loads((package / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["licenses"][0]["name"] == "OGDL-Taiwan-1.0"
    assert descriptor["created"].endswith("Z")
    assert descriptor["guidekit"]["framework"]["id"] == "tw-dsg"
    assert descriptor["guidekit"]["framework_versions_in_data"] == ["2025.10", "2026.11"]
    assert {r["name"] for r in descriptor["resources"]} == {
        "scores_overall",
        "scores_dimensions",
        "scores_principles",
        "item_results",
        "answers",
        "groups",
    }
    assert all(r["schema"]["fields"] for r in descriptor["resources"])


def test_no_respondent_name_or_note_appears_anywhere(package: Path, answers: gk.Responses) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(package.iterdir()))
    names = set(answers.frame["respondent"])
    assert names and not [n for n in names if n in text]
    notes = {n for n in answers.frame["note"] if isinstance(n, str) and len(n) >= 6}
    assert notes and not [n for n in notes if n in text]
    stamps = set(answers.frame["answered_at"].head(50))
    assert not [s for s in stamps if s and s in text]


def test_answers_of_small_groups_are_withheld(package: Path, answers: gk.Responses) -> None:
    sizes = answers.frame.groupby(KEY)["respondent"].nunique()
    large = {key for key, n in sizes.items() if n >= 5}
    small = {key for key, n in sizes.items() if n < 5}
    assert large and small  # the example has both kinds
    published = {tuple(r[k] for k in KEY) for r in _rows(package / "answers.csv")}
    assert published == large
    overall = {tuple(r[k] for k in KEY): r for r in _rows(package / "scores_overall.csv")}
    assert {k for k, r in overall.items() if r["answers_published"] == "false"} == small
    # every assessment still has its agency-level scores
    assert set(overall) == large | small


def test_respondents_are_random_labels_per_assessment(package: Path, answers: gk.Responses) -> None:
    rows = _rows(package / "answers.csv")
    by_assessment: dict[tuple[str, ...], set[str]] = {}
    for r in rows:
        by_assessment.setdefault(tuple(r[k] for k in KEY), set()).add(r["respondent"])
    sizes = answers.frame.groupby(KEY)["respondent"].nunique()
    for key, labels in by_assessment.items():
        assert labels == {f"R{n}" for n in range(1, sizes[key] + 1)}
    assert set(rows[0]) == {*KEY, "respondent", "item_id", "answer", "framework_version"}


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


def test_peer_groups_under_five_are_suppressed(package: Path) -> None:
    rows = _rows(package / "groups.csv")
    small = [r for r in rows if int(r["n"]) < 5]
    assert small and all(r["suppressed"] == "true" and r["median"] == "" for r in small)
    big = [r for r in rows if int(r["n"]) >= 5]
    assert big and all(r["suppressed"] == "false" and r["median"] != "" for r in big)


def test_round_option_and_errors(tmp_path: Path, answers: gk.Responses) -> None:
    result = opendata.export_package(answers, tmp_path / "one", round="2025")
    assert result.valid
    assert {r["round"] for r in _rows(tmp_path / "one" / "scores_overall.csv")} == {"2025"}
    with pytest.raises(gk.GuidekitError):
        opendata.export_package(answers, tmp_path / "x", round="1999")
    with pytest.raises(gk.GuidekitError):
        opendata.export_package(answers, tmp_path / "x", min_group=3)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(gk.GuidekitError):
        opendata.export_package(answers, tmp_path / "busy")
    assert (tmp_path / "busy" / "keep.txt").read_text(encoding="utf-8") == "mine"
