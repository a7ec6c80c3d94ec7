"""Scoring rules against values computed by hand.

The tiny framework (tests/fixtures/mini) has a 0/1/2 scale (符合 2, 部分符合 1,
不符合 0, 不適用 N/A), met at 2, not met below 1, disagreement at a spread of 2;
items S1 (major), S2, S3 (weight 2) in P01; S4, S5 (major) in P02; S6 in P03;
dimension A = P01, P02; B = P03; bands low ≥ 0, mid ≥ 50, high ≥ 80.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from guidekit.framework import load_framework
from guidekit.intake.responses import read_responses
from guidekit.problems import GuidekitError
from guidekit.scoring import quartile_band, respondent_scores, score

from .conftest import FIXTURES


def responses_of(write_csv, framework, rows, name="answers.csv"):
    """rows: (agency_id, respondent, item, answer, note)"""
    full = [["2026", a, f"機關{a}", r, item, answer, note] for a, r, item, answer, note in rows]
    return read_responses(write_csv(full, name=name), framework)


CASE = [
    ("A", "甲", "S1", "符合", ""),
    ("A", "乙", "S1", "不符合", "沒做"),
    ("A", "甲", "S2", "部分符合", ""),
    ("A", "乙", "S2", "不適用", "無此業務"),
    ("A", "甲", "S3", "符合", ""),
    ("A", "乙", "S3", "部分符合", ""),
    ("A", "甲", "S4", "不適用", "理由一"),
    ("A", "乙", "S4", "N/A", "理由二"),
    ("A", "甲", "S5", "", ""),
]


@pytest.fixture
def case(write_csv, mini):
    return score(responses_of(write_csv, mini, CASE))


def item(scores, item_id, agency="A"):
    table = scores.items
    return table[(table["item_id"] == item_id) & (table["agency_id"] == agency)].iloc[0]


def test_item_aggregation_by_hand(case):
    s1, s2, s3, s4, s5, s6 = (item(case, f"S{n}") for n in range(1, 7))
    # S1: 符合(2), 不符合(0) → median 1 → 50, partial; spread 2 → disagreement
    assert (s1.value, s1.score, s1.status, s1.spread, bool(s1.disagreement)) == (
        1.0,
        50.0,
        "partial",
        2.0,
        True,
    )
    assert not s1.major_not_met  # 1 is not below 1
    # S2: one 部分符合, one 不適用: N/A does not outnumber → value 1; mixed → disagreement
    assert (s2.value, s2.n_answered, s2.n_na, s2.status, bool(s2.disagreement)) == (
        1.0,
        1,
        1,
        "partial",
        True,
    )
    # S3: 2 and 1 → median of an even count is the mean of the middle two: 1.5 → 75
    assert (s3.value, s3.score, s3.status, bool(s3.disagreement)) == (1.5, 75.0, "partial", False)
    # S4: both 不適用 → N/A for the agency, no score
    assert s4.status == "na" and math.isnan(s4.score) and s4.n_na == 2
    assert s4.na_reasons == "甲: 理由一\n乙: 理由二" and s2.na_reasons == "乙: 無此業務"
    # S5: blank for 甲, no row for 乙 → unanswered, never a zero
    assert s5.status == "unanswered" and math.isnan(s5.score) and s5.n_unanswered == 2
    assert s6.status == "unanswered" and s6.n_respondents == 2


def test_principle_dimension_overall_by_hand(case):
    p = case.principles.set_index("principle_id")
    # P01 = (50·1 + 50·1 + 75·2) / 4 = 62.5
    assert p.loc["P01", "score"] == pytest.approx(62.5)
    assert p.loc["P01", "band"] == "mid" and p.loc["P01", "coverage"] == 1.0
    # P02: S4 N/A (counted, out of the denominator), S5 unanswered → no score, coverage 1/2
    assert math.isnan(p.loc["P02", "score"]) and p.loc["P02", "coverage"] == 0.5
    assert (p.loc["P02", "n_na"], p.loc["P02", "n_unanswered"], p.loc["P02", "n_scored"]) == (
        1,
        1,
        0,
    )
    assert math.isnan(p.loc["P03", "score"]) and p.loc["P03", "coverage"] == 0.0
    assert bool(p.loc["P03", "low_coverage"]) and not bool(p.loc["P02", "low_coverage"])
    d = case.dimensions.set_index("dimension_id")
    assert d.loc["A", "score"] == pytest.approx(62.5) and math.isnan(d.loc["B", "score"])
    assert d.loc["A", "coverage"] == pytest.approx(4 / 5)
    o = case.overall.iloc[0]
    assert o.score == pytest.approx(62.5) and o.coverage == pytest.approx(4 / 6)
    assert (o.n_items, o.n_scored, o.n_na, o.n_unanswered, o.n_respondents) == (6, 3, 1, 2, 2)
    assert o.n_disagreements == 2 and o.quartile is None and o.peer_n == 1


def test_na_majority_and_major_not_met(write_csv, mini):
    rows = [
        ("A", "甲", "S4", "不適用", "x"),
        ("A", "乙", "S4", "不適用", "y"),
        ("A", "丙", "S4", "符合", ""),
        ("A", "甲", "S1", "不符合", ""),
        ("A", "乙", "S1", "不符合", ""),
        ("A", "丙", "S1", "部分符合", ""),
        ("A", "甲", "S2", "符合", ""),
        ("A", "甲", "S3", "符合", ""),
        ("A", "甲", "S5", "符合", ""),
        ("A", "甲", "S6", "符合", ""),
    ]
    scores = score(responses_of(write_csv, mini, rows))
    s4 = item(scores, "S4")
    assert s4.status == "na" and bool(s4.disagreement)  # 2 N/A > 1 substantive; mixed
    s1 = item(scores, "S1")
    assert (s1.value, s1.status, bool(s1.major_not_met)) == (0.0, "not_met", True)
    o = scores.overall.iloc[0]
    # P01 = (0 + 100 + 100·2)/4 = 75, P02 = S5 only = 100, P03 = 100 → overall 91.67 "high",
    # and the major item not met is still flagged
    assert o.score == pytest.approx((75 + 100 + 100) / 3)
    assert o.band == "high" and o.n_major_not_met == 1


def test_even_median_below_threshold_is_not_met(write_csv, mini):
    rows = [("A", "甲", "S1", "不符合", ""), ("A", "乙", "S1", "部分符合", "")]
    s1 = item(score(responses_of(write_csv, mini, rows)), "S1")
    assert (s1.value, s1.score, s1.status, bool(s1.major_not_met)) == (0.5, 25.0, "not_met", True)


ALL_MET = [("A", "甲", f"S{n}", "符合", "") for n in range(1, 7)]


def test_weights_default_and_override(write_csv, mini):
    rows = [
        ("A", "甲", "S1", "符合", ""),
        ("A", "甲", "S2", "不符合", ""),
        ("A", "甲", "S3", "部分符合", ""),
        ("A", "甲", "S4", "符合", ""),
        ("A", "甲", "S6", "不符合", ""),
    ]
    responses = responses_of(write_csv, mini, rows)
    default = score(responses)
    # P01 = (100 + 0 + 50·2)/4 = 50; P02 = 100 (S5 unanswered); P03 = 0; overall = (50+100+0)/3 = 50
    assert default.principles.set_index("principle_id")["score"].tolist() == pytest.approx(
        [50, 100, 0]
    )
    assert default.overall["score"].iloc[0] == pytest.approx(50)
    weighted = score(responses, {"S3": 1, "P03": 2})
    # P01 = (100 + 0 + 50)/3 = 50; overall = (50 + 100 + 0·2)/4 = 37.5
    assert weighted.principles.set_index("principle_id")["score"].tolist() == pytest.approx(
        [50, 100, 0]
    )
    assert weighted.overall["score"].iloc[0] == pytest.approx(37.5)
    assert weighted.weights["P03"] == 2 and default.weights["P03"] == 1


@pytest.mark.parametrize(
    "bad", [{"P99": 1}, {"P01": 0}, {"P01": -1}, {"P01": "heavy"}, {"S1": float("nan")}]
)
def test_bad_weights_are_refused(write_csv, mini, bad):
    responses = responses_of(write_csv, mini, ALL_MET)
    with pytest.raises(GuidekitError):
        score(responses, bad)


def _variant(tmp_path, **scoring):
    folder = tmp_path / "variant"
    shutil.copytree(FIXTURES / "mini", folder)
    text = (folder / "framework.yaml").read_text(encoding="utf-8")
    lines = "\n".join(f"  {k}: {v}" for k, v in scoring.items())
    text = text.replace("scoring:\n  min_peer_group: 5", f"scoring:\n  min_peer_group: 5\n{lines}")
    (folder / "framework.yaml").write_text(text, encoding="utf-8")
    return load_framework(folder)


def test_geometric_aggregation(tmp_path, write_csv):
    fw = _variant(tmp_path, aggregation="geometric")
    rows = [
        ("A", "甲", "S1", "部分符合", ""),
        ("A", "甲", "S2", "部分符合", ""),
        ("A", "甲", "S3", "符合", ""),
    ]
    scores = score(responses_of(write_csv, fw, rows))
    # weighted geometric mean of 50, 50, 100 with weights 1, 1, 2: (50·50·100²)^(1/4) = √(50·100)
    p01 = scores.principles.set_index("principle_id").loc["P01", "score"]
    assert p01 == pytest.approx(math.sqrt(50 * 100))
    zero = score(
        responses_of(
            write_csv,
            fw,
            [("A", "甲", "S1", "不符合", ""), ("A", "甲", "S3", "符合", "")],
            name="zero.csv",
        )
    )
    assert zero.principles.set_index("principle_id").loc["P01", "score"] == 0.0


def test_overall_from_dimensions(tmp_path, write_csv):
    fw = _variant(tmp_path, overall_from="dimensions")
    rows = [
        ("A", "甲", "S1", "符合", ""),
        ("A", "甲", "S4", "不符合", ""),
        ("A", "甲", "S6", "符合", ""),
    ]
    scores = score(responses_of(write_csv, fw, rows))
    # P01 100, P02 0 → A = 50; P03 100 → B = 100; overall = (50 + 100)/2 = 75 (from principles: 66.7)
    assert scores.overall["score"].iloc[0] == pytest.approx(75)


def _three_agencies(write_csv, fw):
    rows = [
        ("A", "甲", "S1", "部分符合", ""),
        ("B", "甲", "S1", "符合", ""),
        ("C", "甲", "S1", "符合", ""),
    ]
    return score(responses_of(write_csv, fw, rows))


def test_minmax_normalisation(tmp_path, write_csv):
    scores = _three_agencies(write_csv, _variant(tmp_path, normalisation="minmax"))
    s1 = scores.items[scores.items["item_id"] == "S1"].set_index("agency_id")["score"]
    # raw 50, 100, 100 → (x − 50)/(100 − 50)·100
    assert s1.to_dict() == pytest.approx({"A": 0.0, "B": 100.0, "C": 100.0})


def test_zscore_normalisation(tmp_path, write_csv):
    scores = _three_agencies(write_csv, _variant(tmp_path, normalisation="zscore"))
    s1 = scores.items[scores.items["item_id"] == "S1"].set_index("agency_id")["score"]
    mean = (50 + 100 + 100) / 3
    sd = math.sqrt(((50 - mean) ** 2 + 2 * (100 - mean) ** 2) / 2)
    assert s1.to_dict() == pytest.approx(
        {"A": (50 - mean) / sd, "B": (100 - mean) / sd, "C": (100 - mean) / sd}
    )


PEERS = {
    # agency: answers to S1, S2, S3 → P01 = overall (other principles unanswered)
    "a": ("符合", "符合", "符合"),  # 100
    "b": ("符合", "符合", "部分符合"),  # (100 + 100 + 50·2)/4 = 75
    "c": ("部分符合", "部分符合", "部分符合"),  # 50
    "d": ("不符合", "部分符合", "部分符合"),  # (0 + 50 + 100)/4 = 37.5
    "e": ("不符合", "不符合", "不符合"),  # 0
}


def _peer_rows(agencies):
    return [
        (agency, "甲", item_id, answer, "")
        for agency in agencies
        for item_id, answer in zip(("S1", "S2", "S3"), PEERS[agency], strict=True)
    ]


def test_quartile_bands_among_five(write_csv, mini):
    scores = score(responses_of(write_csv, mini, _peer_rows("abcde")))
    overall = scores.overall.set_index("agency_id")
    assert overall["score"].to_dict() == pytest.approx(
        {"a": 100, "b": 75, "c": 50, "d": 37.5, "e": 0}
    )
    # sorted 0, 37.5, 50, 75, 100: type-7 quartiles at positions 1, 2, 3 → 37.5, 50, 75
    peers = scores.peers[scores.peers["level"] == "overall"].iloc[0]
    assert (peers["q1"], peers["median"], peers["q3"], peers["n"], bool(peers["suppressed"])) == (
        37.5,
        50,
        75,
        5,
        False,
    )
    assert np.percentile([0, 37.5, 50, 75, 100], [25, 50, 75]).tolist() == [37.5, 50, 75]
    assert overall["quartile"].to_dict() == {"a": "Q4", "b": "Q4", "c": "Q3", "d": "Q2", "e": "Q1"}


def test_position_suppressed_below_five(write_csv, mini):
    scores = score(responses_of(write_csv, mini, _peer_rows("abcd")))
    assert scores.overall["quartile"].isna().all() and (scores.overall["peer_n"] == 4).all()
    peers = scores.peers[scores.peers["level"] == "overall"].iloc[0]
    assert bool(peers["suppressed"]) and math.isnan(peers["median"])


def test_quartile_band_edges():
    assert quartile_band(75, 37.5, 50, 75) == "Q4"
    assert quartile_band(74.9, 37.5, 50, 75) == "Q3"
    assert quartile_band(37.4, 37.5, 50, 75) == "Q1"
    assert quartile_band(float("nan"), 1, 2, 3) is None


def test_respondent_scores(write_csv, mini):
    table = respondent_scores(responses_of(write_csv, mini, CASE))
    p01 = table[table["principle_id"] == "P01"].set_index("respondent")
    # 甲: S1 100, S2 50, S3 100 (w 2) → 87.5; 乙: S1 0, S2 N/A, S3 50 (w 2) → (0 + 100)/3
    assert p01.loc["甲", "score"] == pytest.approx(87.5)
    assert p01.loc["乙", "score"] == pytest.approx(100 / 3)
    assert p01.loc["乙", "n_na"] == 1


def test_wide_table(case):
    wide = case.wide()
    assert list(wide.columns[-4:]) == ["P01", "P02", "P03", "overall"]
    assert wide.loc[0, "P01"] == pytest.approx(62.5) and pd.isna(wide.loc[0, "P02"])


def test_wide_table_has_one_row_per_assessment(write_csv, mini):
    """Regression: pivoting over several key columns crossed agencies with other agencies' names."""
    scores = score(responses_of(write_csv, mini, _peer_rows("abc")))
    wide = scores.wide()
    assert len(wide) == 3
    assert wide.set_index("agency_id")["agency_name"].to_dict() == {
        "a": "機關a",
        "b": "機關b",
        "c": "機關c",
    }
    assert wide.set_index("agency_id")["P01"].to_dict() == pytest.approx(
        {"a": 100, "b": 75, "c": 50}
    )


def test_bundled_example_scores_are_bounded(example_round, fw):
    scores = score(read_responses(example_round, fw))
    for table in (scores.items, scores.principles, scores.dimensions, scores.overall):
        values = table["score"].dropna()
        assert values.between(0, 100).all()
    assert len(scores.overall) == scores.overall["agency_id"].nunique()
    assert scores.overall["quartile"].notna().all()


def test_respondents_are_people_who_answered(write_csv, mini):
    rows = [
        ("A", "甲", "S1", "符合", ""),
        ("A", "乙", "S1", "不適用", "理由"),
        ("A", "丙", "S2", "", "稍後再填"),  # only a blank row: not a respondent
        ("A", "團隊共識", "S3", "部分符合", "討論後"),  # the team's agreed answer: not a person
    ]
    overall = score(responses_of(write_csv, mini, rows)).overall.iloc[0]
    assert overall.n_respondents == 2 and bool(overall.has_agreed)
    s3 = item(score(responses_of(write_csv, mini, rows, name="again.csv")), "S3")
    assert (s3.n_answered, s3.n_unanswered, s3.value) == (1, 1, 1.0)


# -- the grouped, vectorised scoring equals the straightforward group-by (issue 13) ----


def _random_round(fw, seed: int = 7):
    """A random round of the bundled framework: 40 agencies, both forms, 1–5 respondents,
    answers Y / P / N, 不適用 with notes, blanks, two question-bank versions."""
    from guidekit.answers import Responses

    rng = np.random.default_rng(seed)
    rows = []
    for k in range(40):
        instrument = ["plan", "service"][k % 2]
        service = ["甲服務", "乙服務"][k % 3 == 0]
        version = ["2025.10", "2026.11"][int(rng.random() < 0.8)]
        people = [f"R{r}" for r in range(rng.integers(1, 6))]
        for item in fw.items[instrument]:
            for person in people:
                draw = rng.random()
                answer = (
                    "NA" if draw < 0.05 else None if draw < 0.08 else rng.choice(["Y", "P", "N"])
                )
                note = f"理由{k}" if answer == "NA" and rng.random() < 0.7 else ""
                rows.append(
                    [
                        "2026",
                        f"A{k:03d}",
                        f"機關{k}",
                        service,
                        instrument,
                        person,
                        item.id,
                        answer,
                        note,
                        "2026-10-01T09:30:00+08:00",
                        version,
                    ]
                )
    columns = ["round", "agency_id", "agency_name", "service", "instrument", "respondent"]
    columns += ["item_id", "answer", "note", "answered_at", "framework_version"]
    frame = pd.DataFrame(rows, columns=columns).astype("string")
    frame["source_file"] = pd.array(["random.csv"] * len(frame), dtype="string")
    frame["source_row"] = pd.array(range(2, len(frame) + 2), dtype="Int64")
    return Responses(frame=frame, framework=fw)


def test_grouped_scoring_equals_the_straightforward_group_by(fw):
    from guidekit.scoring import weighted_mean

    responses = _random_round(fw)
    rng = np.random.default_rng(11)
    weights = {p.id: float(rng.uniform(0.5, 3)) for p in fw.principles}
    weights |= {i.id: float(rng.uniform(0.5, 3)) for bank in fw.items.values() for i in bank}
    result = score(responses, weights)
    key = ["round", "agency_id", "service", "instrument"]
    method = fw.scoring.aggregation

    def reference(parts, by):  # one weighted_mean call per group, the obvious way
        return parts.groupby(by, sort=True).apply(
            lambda g: weighted_mean(g["score"], g["weight"], method), include_groups=False
        )

    items = result.items
    principles = result.principles.set_index([*key, "principle_id"])["score"].sort_index()
    expected = reference(items, [*key, "principle_id"])
    np.testing.assert_array_equal(principles.to_numpy(), expected.to_numpy())  # bit for bit
    dimensions = result.dimensions.set_index([*key, "dimension_id"])["score"].sort_index()
    expected = reference(result.principles, [*key, "dimension_id"])
    np.testing.assert_array_equal(dimensions.to_numpy(), expected.to_numpy())
    parts = result.principles if fw.scoring.overall_from == "principles" else result.dimensions
    overall = result.overall.set_index(key).sort_index()
    np.testing.assert_array_equal(overall["score"].to_numpy(), reference(parts, key).to_numpy())

    # per item: median, counts, reasons from the raw answers with plain group-bys
    frame = responses.frame
    values = frame["answer"].map({"Y": 2.0, "P": 1.0, "N": 0.0}).astype(float)
    raw = frame.assign(_v=values, _na=frame["answer"].eq("NA").fillna(False))
    by_item = raw.groupby([*key, "item_id"])
    got = items.set_index([*key, "item_id"]).sort_index()
    n_answered = by_item["_v"].count().reindex(got.index, fill_value=0)
    n_na = by_item["_na"].sum().reindex(got.index, fill_value=0)
    assert (got["n_answered"] == n_answered).all() and (got["n_na"] == n_na).all()
    median = by_item["_v"].median().reindex(got.index)
    shown = median.where(n_na <= n_answered)
    np.testing.assert_array_equal(got["value"].to_numpy(dtype=float), shown.to_numpy(dtype=float))
    # per assessment: respondents who answered anything, versions joined in order
    people = raw[raw["answer"].notna()].groupby(key)["respondent"].nunique()
    assert (overall["n_respondents"] == people.reindex(overall.index, fill_value=0)).all()
    versions = frame.groupby(key)["framework_version"].agg(lambda s: ", ".join(sorted(set(s))))
    assert (overall["framework_version"] == versions.reindex(overall.index)).all()
    assert len(result.overall) == 40
