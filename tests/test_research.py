"""Research API: tables across rounds, reliability statistics, round changes, weight sensitivity.

Expected values are computed by hand (shown in comments) or come from a
published source (Krippendorff 2011) or an independent formula.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import guidekit as gk
from guidekit import research as rs
from guidekit.framework import history, load_framework
from guidekit.problems import FrameworkError
from guidekit.research import consistency, sensitivity
from guidekit.scoring import KEY, overall_from_principle_scores

from .conftest import FIXTURES


@pytest.fixture(scope="module")
def both_rounds() -> gk.Responses:
    return rs.load()


@pytest.fixture(scope="module")
def both_scores(both_rounds: gk.Responses) -> gk.Scores:
    return rs.score(both_rounds)


def _mini_answers(tmp_path: Path, rows: list[list[str]], name: str = "a.csv") -> Path:
    path = tmp_path / name
    header = "round,agency_id,agency_name,respondent,item_id,answer,note\n"
    path.write_text(header + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


# -- loading and tables ------------------------------------------------------------------


def test_load_reads_every_bundled_round_with_its_bank_version(both_rounds: gk.Responses) -> None:
    versions = both_rounds.frame.groupby("round")["framework_version"].unique()
    assert list(versions.index) == ["2025", "2026"]
    assert list(versions["2025"]) == ["2025.10"]
    assert list(versions["2026"]) == ["2026.11"]
    assert rs.rounds(both_rounds) == ["2025", "2026"]


def test_wide_table_has_one_row_per_assessment(both_scores: gk.Scores) -> None:
    wide = rs.score_table(both_scores, "principle", form="wide")
    n_assessments = both_scores.overall[KEY].drop_duplicates().shape[0]
    assert len(wide) == n_assessments
    assert not wide[KEY].duplicated().any()
    ids = [p.id for p in both_scores.framework.principles]
    assert [c for c in wide.columns if c in ids] == ids
    # every cell equals the long table's value for that assessment and principle
    long = both_scores.principles.set_index([*KEY, "principle_id"])["score"]
    row = wide.iloc[7]
    for pid in ids:
        expected = long.loc[(*row[KEY].tolist(), pid)]
        assert (math.isnan(expected) and math.isnan(row[pid])) or row[pid] == expected


def test_long_table_joins_agency_attributes(both_scores: gk.Scores) -> None:
    table = rs.score_table(both_scores, "overall", rounds=["2026"])
    assert set(table["round"]) == {"2026"}
    moi = table[table["agency_id"] == "301000000A"].iloc[0]
    assert (moi["level"], moi["kind"], moi["parent_name_zh"]) == ("central", "ministry", "行政院")
    taipei = table[table["agency_id"] == "379000000A"].iloc[0]
    assert (taipei["level"], taipei["kind"], taipei["parent_id"]) == (
        "local",
        "special_municipality",
        "",
    )


def test_agency_register_attributes() -> None:
    register = rs.agencies()
    assert len(register) == 55
    assert register["agency_id"].is_unique
    assert set(register["level"]) == {"central", "local"}
    assert (register.loc[register["level"] == "local", "parent_id"] == "").all()


def test_group_summary_suppresses_small_groups() -> None:
    table = pd.DataFrame(
        {"g": ["a"] * 5 + ["b"] * 4, "score": [10.0, 20.0, 30.0, 40.0, 50.0, 1.0, 2.0, 3.0, 4.0]}
    )
    out = rs.group_summary(table, "g", min_group=5).set_index("g")
    # a: median 30, quartiles by linear interpolation: q1 = 20, q3 = 40; sd of 10..50 = sqrt(250)
    assert out.loc["a", "median"] == 30.0
    assert (out.loc["a", "q1"], out.loc["a", "q3"]) == (20.0, 40.0)
    assert out.loc["a", "sd"] == pytest.approx(math.sqrt(250))
    assert bool(out.loc["b", "suppressed"]) and out.loc["b", "n"] == 4
    assert math.isnan(out.loc["b", "median"])


def test_weakest_principles_are_sorted_by_median(both_scores: gk.Scores) -> None:
    weak = rs.weakest_principles(both_scores, "2026", "service")
    assert list(weak["median"]) == sorted(weak["median"])
    pid = weak.iloc[0]["principle_id"]
    p = both_scores.principles
    values = p[
        (p["round"] == "2026") & (p["instrument"] == "service") & (p["principle_id"] == pid)
    ]["score"]
    assert weak.iloc[0]["median"] == pytest.approx(float(np.median(values.dropna())))


def test_weakest_principles_rank_only_principles_with_scores(tmp_path: Path) -> None:
    """Nobody answered anything: no principle is 'weakest'.  Only P01 answered (Y, N → 50):
    P01 is rank 1, the other twelve are listed after it, unranked, in framework order."""
    blank = rs.load(_mini_answers(tmp_path, [["2026", "A1", "甲", "R1", "SV-P01-01", "", ""]]))
    weak = rs.weakest_principles(rs.score(blank))
    assert weak["rank_weakest"].isna().all() and (weak["n"] == 0).all()
    one = rs.load(
        _mini_answers(
            tmp_path,
            [
                ["2026", "A1", "甲", "R1", "SV-P01-01", "Y", ""],
                ["2026", "A1", "甲", "R1", "SV-P01-02", "N", ""],
            ],
            "b.csv",
        )
    )
    weak = rs.weakest_principles(rs.score(one))
    assert weak.loc[0, "principle_id"] == "P01" and weak.loc[0, "median"] == 50.0
    assert weak.loc[0, "rank_weakest"] == 1 and weak["rank_weakest"].iloc[1:].isna().all()
    assert list(weak["principle_id"].iloc[1:]) == [f"P{n:02d}" for n in range(2, 14)]


def test_research_errors_speak_traditional_chinese(both_scores: gk.Scores, tmp_path: Path) -> None:
    cases = [
        (
            lambda: rs.weakest_principles(both_scores, round="1999"),
            "評估回合「1999」不在資料中（現有回合：2025, 2026）。",
        ),
        (
            lambda: rs.round_changes(both_scores, "2025", "1999"),
            "評估回合「1999」不在資料中（現有回合：2025, 2026）。",
        ),
        (
            lambda: rs.score_table(both_scores, "item"),
            "層級應為 principle, dimension, overall，而不是「item」。",
        ),
        (
            lambda: rs.agencies(tmp_path / "none.csv"),
            f"無法讀取機關名冊 {tmp_path / 'none.csv'}（找不到檔案或資料夾）。",
        ),
        (
            lambda: sensitivity.weight_sensitivity(both_scores, spread=1.5),
            "參數 spread 應為 0 ≤ spread < 1 (0.2 = ±20 %)，而不是「1.5」。",
        ),
        (
            lambda: consistency.cronbach_alpha(np.zeros(3)),
            "需要「列 × 檢核項目」的二維矩陣。",
        ),
        (
            lambda: rs.main_instrument(
                dataclasses.replace(both_scores, overall=both_scores.overall.iloc[:0])
            ),
            "資料中沒有任何評估。",
        ),
    ]
    for call, zh in cases:
        with pytest.raises(gk.GuidekitError) as info:
            call()
        assert info.value.text("zh-TW") == zh
        assert info.value.text("en") and info.value.text("en") != zh


def test_correlations_are_a_symmetric_matrix(both_scores: gk.Scores) -> None:
    corr = rs.principle_correlations(both_scores, "2026", "service")
    assert corr.shape == (13, 13)
    assert np.allclose(corr.to_numpy(), corr.to_numpy().T)
    assert np.allclose(np.diag(corr.to_numpy()), 1.0)


# -- Cronbach's alpha --------------------------------------------------------------------------


def test_cronbach_alpha_hand_computed() -> None:
    # items x1 = 1,2,3,4; x2 = 2,2,3,5; x3 = 1,3,2,4 (4 respondents)
    # item variances (ddof 1): 5/3, 2, 5/3 -> sum 16/3; totals 4,7,8,13 -> variance 42/3 = 14
    # alpha = 3/2 * (1 - (16/3)/14) = 39/42
    matrix = np.array([[1, 2, 1], [2, 2, 3], [3, 3, 2], [4, 5, 4]], dtype=float)
    assert consistency.cronbach_alpha(matrix) == pytest.approx(39 / 42)


def _hoyt_alpha(matrix: np.ndarray) -> float:
    """Hoyt (1941): alpha = 1 - MS(residual) / MS(persons) of a persons x items two-way ANOVA."""
    n, k = matrix.shape
    grand = matrix.mean()
    ss_persons = k * ((matrix.mean(axis=1) - grand) ** 2).sum()
    ss_items = n * ((matrix.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((matrix - grand) ** 2).sum()
    ms_persons = ss_persons / (n - 1)
    ms_resid = (ss_total - ss_persons - ss_items) / ((n - 1) * (k - 1))
    return 1 - ms_resid / ms_persons


def test_cronbach_alpha_matches_the_anova_formula() -> None:
    rng = np.random.default_rng(7)
    latent = rng.normal(size=(40, 1))
    matrix = np.clip(np.round(latent + rng.normal(scale=0.8, size=(40, 6)) + 1), 0, 2)
    assert consistency.cronbach_alpha(matrix) == pytest.approx(_hoyt_alpha(matrix), abs=1e-12)


def test_cronbach_alpha_undefined_cases() -> None:
    assert math.isnan(consistency.cronbach_alpha(np.array([[1.0], [2.0]])))  # one item
    assert math.isnan(consistency.cronbach_alpha(np.array([[1.0, 1.0], [1.0, 1.0]])))  # no variance
    # a row with a missing value is left out (listwise): the rest is the hand-computed case
    matrix = np.array([[1, 2, 1], [2, 2, 3], [np.nan, 0, 0], [3, 3, 2], [4, 5, 4]], dtype=float)
    assert consistency.cronbach_alpha(matrix) == pytest.approx(39 / 42)
    # an infinite value is not a number to average either: that row is left out too
    matrix[2] = [np.inf, 0, 0]
    assert consistency.cronbach_alpha(matrix) == pytest.approx(39 / 42)


def test_alpha_by_principle_uses_each_respondents_answers(tmp_path: Path) -> None:
    mini = load_framework(FIXTURES / "mini")
    # P01 items S1, S2, S3 answered by four respondents: x1 = 2,1,0,2; x2 = 2,1,1,2; x3 = 1,1,0,2
    # totals 5,3,1,6 (mean 3.75): squared deviations 1.5625+0.5625+7.5625+5.0625 = 14.75 -> var 14.75/3
    # item sums of squares: x1 2.75, x2 1, x3 2 -> sum of variances 5.75/3
    # alpha = 3/2 * (1 - 5.75/14.75) = 1.5 * 9/14.75
    code = {2: "Y", 1: "P", 0: "N"}
    values = {"r1": (2, 2, 1), "r2": (1, 1, 1), "r3": (0, 1, 0), "r4": (2, 2, 2)}
    rows = [
        ["2026", "A", "甲", r, item, code[v], ""]
        for r, vs in values.items()
        for item, v in zip(("S1", "S2", "S3"), vs, strict=True)
    ]
    responses = gk.read_responses(_mini_answers(tmp_path, rows), mini)
    table = consistency.alpha_by_principle(responses).set_index("principle_id")
    assert table.loc["P01", "k"] == 3 and table.loc["P01", "n"] == 4
    assert table.loc["P01", "alpha"] == pytest.approx(1.5 * 9 / 14.75)


# -- Krippendorff's alpha -------------------------------------------------------------------------

#: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the 4 observers x 12 units
#: example with missing values; published: nominal .743, ordinal .815, interval .849.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
]


def test_krippendorff_alpha_published_example() -> None:
    data = np.array(KRIPPENDORFF_2011, dtype=float)
    assert round(consistency.krippendorff_alpha(data, "ordinal"), 3) == 0.815
    assert round(consistency.krippendorff_alpha(data, "interval"), 3) == 0.849


def test_krippendorff_alpha_hand_computed() -> None:
    # coders A = 1,2,3 and B = 1,2,4 on three units; values 1,1,2,2,3,4 (n = 6)
    # D_o = (1/n) * sum_u 1/(m_u - 1) * sum of ordered pairs' squared differences = (2/1)/6 = 1/3
    # D_e = sum over ordered pairs of all values of squared differences / (n(n-1))
    #     = 2 * (n*sum v^2 - (sum v)^2) / 30 = 2 * (6*35 - 13^2) / 30 = 82/30
    # alpha = 1 - D_o/D_e = 1 - 10/82 = 72/82
    data = np.array([[1, 2, 3], [1, 2, 4]], dtype=float)
    assert consistency.krippendorff_alpha(data, "interval") == pytest.approx(72 / 82)


def test_respondent_agreement(tmp_path: Path) -> None:
    mini = load_framework(FIXTURES / "mini")
    items = ["S1", "S2", "S3", "S4", "S5", "S6"]
    same = ["Y", "P", "N", "Y", "P", "N"]
    rows = [
        ["2026", "A", "甲", r, i, a, ""]
        for r in ("r1", "r2")
        for i, a in zip(items, same, strict=True)
    ]
    rows += [["2026", "B", "乙", "solo", i, "Y", ""] for i in items]
    rows += [["2026", "C", "丙", r, i, "Y", ""] for r in ("r1", "r2") for i in items]
    responses = gk.read_responses(_mini_answers(tmp_path, rows), mini)
    table = consistency.respondent_agreement(responses).set_index("agency_id")
    assert table.loc["A", "alpha"] == pytest.approx(1.0)  # identical, varied answers
    assert table.loc["A", "exact_agreement"] == 1.0 and table.loc["A", "n_units"] == 6
    assert math.isnan(table.loc["B", "alpha"])  # one respondent: undefined
    assert math.isnan(table.loc["C", "alpha"])  # one value only: no expected disagreement
    assert table.loc["A", "metric"] == "ordinal"


# -- change between rounds ---------------------------------------------------------------------


def test_round_changes_warn_about_bank_versions(both_scores: gk.Scores) -> None:
    with pytest.warns(rs.VersionMismatchWarning) as caught:
        changes = rs.round_changes(both_scores, "2025", "2026")
    text = str(caught[0].message)
    assert "題庫" in text and "question-bank" in text and "SV-P11-02" in text
    assert changes["versions_differ"].all()
    service = changes[changes["instrument"] == "service"]
    plan = changes[changes["instrument"] == "plan"]
    assert (service["changed_items"] == "SV-P11-02").all() and not service["comparable"].any()
    assert (plan["changed_items"] == "").all() and plan["comparable"].all()
    assert rs.version_warning(changes, both_scores.framework, "en").startswith("⚠ Warning")


def test_round_changes_match_scores_of_each_round_alone(both_scores: gk.Scores) -> None:
    changes = rs.round_changes(both_scores, "2025", "2026", warn=False).set_index("agency_id")
    alone = gk.score(gk.read_responses(rs.example_rounds()[0])).overall.set_index("agency_id")
    for agency in ("301000000A", "A41000000G", "379000000A"):
        assert changes.loc[agency, "score_before"] == pytest.approx(alone.loc[agency, "score"])
        assert changes.loc[agency, "change"] == pytest.approx(
            changes.loc[agency, "score_after"] - alone.loc[agency, "score"]
        )


def test_principle_changes_flag_only_the_changed_items_principle(both_scores: gk.Scores) -> None:
    changes = rs.round_changes(both_scores, "2025", "2026", level="principle", warn=False)
    service = changes[changes["instrument"] == "service"]
    assert set(service.loc[~service["comparable"], "principle_id"]) == {"P11"}


def test_same_version_rounds_do_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    source = rs.example_rounds()[-1]
    base = gk.read_responses(sorted(source.glob("A4*.csv"))[:3])
    frame = pd.concat(
        [
            base.frame.assign(round=pd.Series([r] * len(base.frame), dtype="string"))
            for r in ("2026a", "2026b")
        ],
        ignore_index=True,
    )
    scores = gk.score(dataclasses.replace(base, frame=frame))
    changes = rs.round_changes(scores, "2026a", "2026b")
    assert not changes["versions_differ"].any() and changes["comparable"].all()
    assert (changes["change"] == 0).all()
    assert not [w for w in recwarn if issubclass(w.category, rs.VersionMismatchWarning)]


# -- question-bank history ---------------------------------------------------------------------


def test_history_lists_the_revision(fw: gk.Framework) -> None:
    changed = history.changed_items(fw, "2025.10", "2026.11")
    assert changed["item_id"].tolist() == ["SV-P11-02"]
    assert history.changed_items(fw, "2026.11", "2025.10")["item_id"].tolist() == ["SV-P11-02"]
    assert history.changed_items(fw, "2026.11", "2026.11").empty
    assert history.changed_items(fw, "2026.11", "1999.1") is None


def test_history_with_an_unknown_item_is_an_error(tmp_path: Path) -> None:
    folder = tmp_path / "tw-dsg"
    shutil.copytree(gk.load_framework().path, folder)
    text = (
        (folder / "changes.yaml")
        .read_text(encoding="utf-8")
        .replace("id: SV-P11-02", "id: SV-P99-99")
    )
    (folder / "changes.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(FrameworkError) as info:
        history.load_history(load_framework(folder))
    assert "SV-P99-99" in str(info.value.problems[0].value)


# -- weight sensitivity -----------------------------------------------------------------------------


def test_reaggregation_equals_scoring_with_those_weights(
    both_rounds: gk.Responses, both_scores: gk.Scores
) -> None:
    fw = both_scores.framework
    ids = [p.id for p in fw.principles]
    weights = dict(zip(ids, np.linspace(0.8, 1.2, len(ids)), strict=True))
    reference = gk.score(both_rounds, {k: float(v) for k, v in weights.items()}).overall
    matrix = both_scores.principles.pivot(index=KEY, columns="principle_id", values="score")[ids]
    mine = overall_from_principle_scores(matrix.to_numpy(), fw, np.array(list(weights.values())))[0]
    expected = reference.set_index(KEY).loc[matrix.index, "score"].to_numpy()
    assert np.allclose(mine, expected, equal_nan=True)


def test_weight_sensitivity_hand_computed_ranks(tmp_path: Path) -> None:
    mini = load_framework(FIXTURES / "mini")  # P01 (S1 S2 S3, weights 1 1 2), P02 (S4 S5), P03 (S6)
    rows = []
    # A: P01 = 100, P02 = 0, P03 = 0  -> overall 100/3
    # B: P01 = 0,   P02 = 0, P03 = 100 -> overall 100/3 (tie with equal weights)
    # C: P01 = (100 + 0 + 2*50)/4 = 50, P02 = (100 + 0)/2 = 50, P03 = 50 -> overall 50
    plan = {"A": "YYYNNN", "B": "NNNNNY", "C": "YNPYNP"}
    for agency, codes in plan.items():
        for item, code in zip(["S1", "S2", "S3", "S4", "S5", "S6"], codes, strict=True):
            rows.append(["2026", agency, agency, "r1", item, code, ""])
    scores = gk.score(gk.read_responses(_mini_answers(tmp_path, rows), mini))
    nominal = sensitivity.weight_sensitivity(scores, spread=0.0, draws=5).set_index("agency_id")
    assert nominal.loc["C", "score"] == pytest.approx(50.0)
    assert nominal.loc["A", "score"] == pytest.approx(100 / 3)
    assert (nominal.loc["C", "rank"], nominal.loc["A", "rank"], nominal.loc["B", "rank"]) == (
        1,
        2,
        2,
    )
    oat = sensitivity.weight_sensitivity(scores, spread=0.2, method="one_at_a_time").set_index(
        "agency_id"
    )
    # P01 weight x1.2: A = 1.2*100/3.2 = 37.5 > B = 100/3.2; P03 x1.2: B = 37.5 > A -> A and B swap 2nd/3rd
    assert oat.loc["A", "score_max"] == pytest.approx(37.5)
    assert (oat.loc["A", "rank_best"], oat.loc["A", "rank_worst"]) == (2, 3)
    assert (oat.loc["C", "rank_best"], oat.loc["C", "rank_worst"]) == (1, 1)
    assert oat.attrs["schemes"] == 6


def test_weight_sensitivity_on_the_example_is_reproducible(both_scores: gk.Scores) -> None:
    a = sensitivity.weight_sensitivity(both_scores, draws=200, seed=1, round="2026")
    b = sensitivity.weight_sensitivity(both_scores, draws=200, seed=1, round="2026")
    pd.testing.assert_frame_equal(a, b)
    assert (a["score_min"] <= a["score_p05"]).all() and (a["score_p05"] <= a["score_p95"]).all()
    assert (a["score_p95"] <= a["score_max"]).all()
    assert (a["rank_best"] <= a["rank_p05"]).all() and (a["rank_p95"] <= a["rank_worst"]).all()
    assert (a["rank_best"] <= a["rank"]).all() and (a["rank"] <= a["rank_worst"]).all()
    with pytest.raises(gk.GuidekitError):
        sensitivity.weight_sensitivity(both_scores, spread=1.5)
