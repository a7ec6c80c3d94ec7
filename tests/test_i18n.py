"""Every user-facing text exists in zh-TW and English with the same placeholders."""

from __future__ import annotations

import datetime as dt
import string

import pytest

from guidekit import i18n
from guidekit.problems import GuidekitError, catalog


def _fields(text: str) -> set[str]:
    """Placeholder names; ``x_lc`` (lower-case form for English sentences) counts as ``x``."""
    return {name.removesuffix("_lc") for _, name, _, _ in string.Formatter().parse(text) if name}


def test_messages_have_both_languages_and_same_placeholders():
    messages = i18n.messages()
    assert len(messages) > 50
    for key, texts in messages.items():
        assert set(texts) == {"zh-TW", "en"}, key
        assert texts["zh-TW"].strip() and texts["en"].strip(), key
        assert _fields(texts["zh-TW"]) == _fields(texts["en"]), key


def test_problem_catalog_has_both_languages():
    for code, entry in catalog().items():
        for part in ("message", "expected"):
            assert set(entry[part]) == {"zh-TW", "en"}, (code, part)


def test_roc_dates():
    assert i18n.roc_year(1912) == 1 and i18n.roc_year(2026) == 115
    assert i18n.format_date(dt.date(2026, 1, 5)) == "民國115年1月5日（2026-01-05）"
    assert i18n.format_date(dt.date(2026, 1, 5), "en") == "5 January 2026 (ROC year 115)"


@pytest.mark.parametrize(
    "given, expected", [("zh", "zh-TW"), ("zh_tw", "zh-TW"), ("EN-gb", "en"), (None, "zh-TW")]
)
def test_language_names(given, expected):
    assert i18n.normalise_lang(given) == expected


def test_unknown_language():
    with pytest.raises(GuidekitError):
        i18n.normalise_lang("fr")


def test_scores_and_shares_format():
    assert i18n.format_score(62.46) == "62.5" and i18n.format_score(float("nan")) == "—"
    assert i18n.format_pct(0.857) == "86%" and i18n.format_pct(None) == "—"
