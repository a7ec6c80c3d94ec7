"""Frameworks as data: a lens onto another standard, a published composite index, and a
framework folder with min-max normalisation and geometric aggregation written from scratch.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import guidekit as gk
from guidekit import research as rs
from guidekit.cli import main
from guidekit.framework import load_framework
from guidekit.paths import examples_dir
from guidekit.problems import FrameworkError

EGDI_ANSWERS = examples_dir() / "egdi-2022" / "answers"
EGDI_PUBLISHED = examples_dir() / "egdi-2022" / "published.csv"


# -- a published composite index ------------------------------------------------------------


def _published() -> dict[str, tuple[float, int]]:
    with EGDI_PUBLISHED.open(encoding="utf-8", newline="") as fh:
        return {r["agency_id"]: (float(r["egdi"]), int(r["rank"])) for r in csv.DictReader(fh)}


def test_egdi_composite_and_ranks_come_from_the_components_alone() -> None:
    """The UN's published EGDI (mean of OSI, TII, HCI) and its rank order, via `guidekit score`."""
    result = CliRunner().invoke(
        main,
        ["score", str(EGDI_ANSWERS), "--framework", "egdi-2022", "--level", "overall"],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    published = _published()
    assert {r["agency_id"] for r in rows} == set(published)
    for row in rows:
        egdi, _ = published[row["agency_id"]]
        # components are published to 4 decimals, so their mean is known to within 5e-5, and the
        # published EGDI is itself rounded to 4 decimals: allow 1e-4 on the 0-1 scale
        assert float(row["score"]) / 100 == pytest.approx(egdi, abs=1e-4)
    ours = [r["agency_id"] for r in sorted(rows, key=lambda r: -float(r["score"]))]
    theirs = sorted(published, key=lambda a: published[a][1])
    assert ours == theirs


def test_egdi_is_not_normalised_again() -> None:
    fw = load_framework("egdi-2022")
    assert (fw.scoring.normalisation, fw.scoring.aggregation) == ("none", "arithmetic")
    scores = gk.score(gk.read_responses(EGDI_ANSWERS, fw))
    dnk = scores.principles[scores.principles["agency_id"] == "DNK"].set_index("principle_id")[
        "score"
    ]
    # published 2022 components of Denmark: OSI 0.9797, TII 0.9795, HCI 0.9559
    assert dnk.to_dict() == pytest.approx({"OSI": 97.97, "TII": 97.95, "HCI": 95.59})


# -- a framework written from scratch: min-max normalisation, geometric mean ------------------


FRAMEWORK_YAML = """\
id: tiny
version: "1"
title_zh: 小框架
title_en: Tiny framework
principles: principles.yaml
dimensions:
  - {id: D, title_zh: 唯一構面, title_en: Only dimension}
scales:
  - id: s
    kind: ordinal
    options:
      - {code: "Y", label_zh: 是, label_en: "Yes", value: 2}
      - {code: "P", label_zh: 部分, label_en: Partly, value: 1}
      - {code: "N", label_zh: 否, label_en: "No", value: 0}
instruments:
  - {id: form, title_zh: 表, title_en: Form, scale: s, items: items.csv}
scoring:
  normalisation: minmax
  aggregation: geometric
bands:
  - {code: all, label_zh: 全部, label_en: All, min: 0}
"""

PRINCIPLES_YAML = """\
- {id: A, number: 1, dimension: D, title_zh: 甲, title_en: A, weight: 1}
- {id: B, number: 2, dimension: D, title_zh: 乙, title_en: B, weight: 3}
"""

ITEMS_CSV = """\
id,principle,dimension,text_zh,text_en
I1,A,D,題一,Item one
I2,A,D,題二,Item two
I3,B,D,題三,Item three
"""


def test_new_framework_folder_with_minmax_and_geometric(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "framework.yaml").write_text(FRAMEWORK_YAML, encoding="utf-8")
    (folder / "principles.yaml").write_text(PRINCIPLES_YAML, encoding="utf-8")
    (folder / "items.csv").write_text(ITEMS_CSV, encoding="utf-8")
    answers = tmp_path / "answers.csv"
    answers.write_text(
        "round,agency_id,agency_name,respondent,item_id,answer\n"
        "1,X,甲機關,r,I1,Y\n1,X,甲機關,r,I2,P\n1,X,甲機關,r,I3,P\n"
        "1,Y,乙機關,r,I1,P\n1,Y,乙機關,r,I2,N\n1,Y,乙機關,r,I3,Y\n"
        "1,Z,丙機關,r,I1,N\n1,Z,丙機關,r,I2,Y\n1,Z,丙機關,r,I3,N\n",
        encoding="utf-8",
    )
    scores = gk.score(gk.read_responses(answers, folder))
    # raw item scores (0-100): X 100, 50, 50; Y 50, 0, 100; Z 0, 100, 0
    # min-max per item across agencies: I1 X 100 Y 50 Z 0; I2 X 50 Y 0 Z 100; I3 X 50 Y 100 Z 0
    # principle A, geometric mean of I1, I2: X sqrt(100*50) = 70.71; Y: a zero -> 0; Z: 0
    # overall = weighted geometric mean of A (w 1) and B (w 3): X = (70.71 * 50^3)^(1/4)
    p = scores.principles.set_index(["agency_id", "principle_id"])["score"]
    assert p[("X", "A")] == pytest.approx(np.sqrt(100 * 50))
    assert p[("Y", "A")] == 0 and p[("Y", "B")] == pytest.approx(100)
    overall = scores.overall.set_index("agency_id")["score"]
    assert overall["X"] == pytest.approx((np.sqrt(5000) * 50**3) ** 0.25)
    assert overall["Y"] == 0 and overall["Z"] == 0


# -- a lens: tw-dsg answers read as the US Digital Services Playbook --------------------------------


def test_playbook_lens_covers_every_item_once(fw: gk.Framework) -> None:
    lens = load_framework("us-playbook")
    assert lens.lens is not None and lens.lens.source.id == "tw-dsg"
    assert lens.version == fw.version  # answers are given against the tw-dsg bank
    crosswalk = lens.lens.crosswalk
    source_items = {i.id for bank in fw.items.values() for i in bank}
    assert set(crosswalk["item_id"]) == source_items and crosswalk["item_id"].is_unique
    lens_items = {i.id for bank in lens.items.values() for i in bank}
    assert lens_items | set(lens.lens.excluded) == source_items
    assert not lens_items & set(lens.lens.excluded)
    p12 = {i.id for bank in fw.items.values() for i in bank if i.principle == "P12"}
    assert p12 <= set(lens.lens.excluded)
    assert len(lens.principles) == 13


def test_lens_scores_are_the_mean_of_the_mapped_items(example_round: Path) -> None:
    lens = load_framework("us-playbook")
    through = gk.score(gk.read_responses(example_round, lens))
    direct = gk.score(gk.read_responses(example_round))  # the same answers under tw-dsg
    play06 = {i.id for bank in lens.items.values() for i in bank if i.principle == "PLAY06"}
    items = direct.items[direct.items["item_id"].isin(play06)]
    expected = items.groupby("agency_id")["score"].mean()  # equal item weights
    got = through.principles[through.principles["principle_id"] == "PLAY06"].set_index("agency_id")[
        "score"
    ]
    for agency in expected.index:
        assert got[agency] == pytest.approx(expected[agency], nan_ok=True)


def test_lens_warns_about_answers_it_does_not_count(example_round: Path) -> None:
    lens = load_framework("us-playbook")
    responses = gk.read_responses(example_round, lens)
    notices = [p for p in responses.problems if p.code == "lens-not-counted"]
    assert {p.value for p in notices} >= {"SV-P12-01", "SV-P10-06"}
    assert not responses.frame["item_id"].isin(lens.lens.excluded).any()


def test_lens_errors_are_listed_together(tmp_path: Path) -> None:
    folder = tmp_path / "lens"
    shutil.copytree(load_framework("us-playbook").path, folder)
    lines = (folder / "crosswalk.csv").read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if not line.startswith("P13,")]  # P13 no longer covered
    lines.append("P99,PLAY01,,")  # unknown source principle
    lines.append("SV-P01-01,PLAY99,,")  # unknown lens principle
    (folder / "crosswalk.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(FrameworkError) as info:
        load_framework(folder)
    codes = sorted(p.code for p in info.value.problems)
    assert codes.count("crosswalk-unmapped") == 1  # P13 items not covered
    assert codes.count("unknown-ref") == 2  # P99 and PLAY99


def test_lens_works_in_research_tables(example_round: Path) -> None:
    scores = rs.score(rs.load(example_round, "us-playbook"))
    wide = rs.score_table(scores, "principle", form="wide")
    assert [c for c in wide.columns if c.startswith("PLAY")] == [
        f"PLAY{n:02d}" for n in range(1, 14)
    ]
    assert wide["overall"].notna().all()


@pytest.mark.slow
def test_reports_for_another_framework(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "reports",
            "--responses",
            str(EGDI_ANSWERS),
            "--framework",
            "egdi-2022",
            "--out",
            str(tmp_path),
            "--agency",
            "DNK",
            "--agency",
            "IND",
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "DNK.html").read_text(encoding="utf-8")
    assert "線上服務指數" in page and "97.2" in page
