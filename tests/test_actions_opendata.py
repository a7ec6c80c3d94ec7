"""Actions in the open-data package: pseudonymised, owners generalised, text left out,
only for assessments published at item level."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from guidekit import research as rs
from guidekit.research.opendata import export_package, generalise_owner

from .helpers import HOSTILE_NOTE


@pytest.mark.parametrize(
    ("owner", "kind"),
    [
        ("資訊室", "資訊單位"),
        ("研考科", "研考單位"),
        ("為民服務中心", "服務單位"),
        ("秘書室", "行政單位"),
        ("王小明", "其他單位"),  # a person's name never comes through
    ],
)
def test_owners_are_generalised(owner, kind):
    assert generalise_owner(owner) == kind


def test_actions_csv_is_pseudonymised_and_generalised(tmp_path):
    responses = rs.load()
    actions = rs.load_actions(today=dt.date(2026, 1, 1))
    marked = [
        a.__class__(**{**a.__dict__, "text": HOSTILE_NOTE, "owner": "王小明"}) for a in actions
    ]
    result = export_package(responses, tmp_path / "od", actions=marked)
    assert result.valid, result.errors
    table = pd.read_csv(tmp_path / "od" / "actions.csv", dtype=str, keep_default_na=False)
    assert "text" not in table and "owner" not in table and "action_id" not in table
    assert set(table["owner_kind"]) == {"其他單位"}
    text = (tmp_path / "od" / "actions.csv").read_text(encoding="utf-8")
    assert "王小明" not in text and "script" not in text
    assert table["action"].str.fullmatch(r"A[0-9]+").all()
    # only assessments published at item level
    overall = pd.read_csv(tmp_path / "od" / "scores_overall.csv", dtype=str, keep_default_na=False)
    published = overall[overall["item_level_published"] == "true"]
    keys = set(zip(published["round"], published["agency_id"], strict=True))
    assert set(zip(table["round"], table["agency_id"], strict=True)) <= keys
    mine = [a for a in actions if (a.round, a.agency_id) in keys]
    assert len(table) == len(mine) > 0
    # the same action keeps its label across the rounds of the package
    ids = {(a.round, a.agency_id, a.item_id, a.due.isoformat()): a.action_id for a in mine}
    by_action = {}
    for row in table.itertuples():
        action_id = ids[(row.round, row.agency_id, row.item_id, row.due)]
        by_action.setdefault((row.agency_id, action_id), set()).add(row.action)
    assert all(len(labels) == 1 for labels in by_action.values())
