"""The rules every answer obeys, wherever it comes from (a file, a form, a workshop store).

* the team's agreed answer (團隊共識) under a reserved respondent name, and how it
  settles an item (:func:`settle_agreed`);
* how agency and respondent names are tidied and compared (:func:`clean_name`,
  :func:`name_key`);
* 不適用 (not applicable) needs a reason (:func:`needs_reason`).
"""

from __future__ import annotations

import re

import pandas as pd

from guidekit.answers.columns import ITEM_KEY
from guidekit.text import INVISIBLE, clean_key

#: The reserved respondent under which a team's agreed answers (團隊共識) are kept,
#: exported and read: not a person — scoring does not count it as a respondent.
AGREED_RESPONDENT = "團隊共識"

#: Simplified forms of the reserved name's characters (团队共识 looks like 團隊共識).
_TRADITIONAL = str.maketrans({"团": "團", "队": "隊", "识": "識"})


def _reserved_key(name: str) -> str:
    return re.sub(r"\s+", "", clean_key(name)).translate(_TRADITIONAL)


def is_reserved_name(name: str) -> bool:
    """True if ``name`` is, or looks like, :data:`AGREED_RESPONDENT` (「團隊共識」):
    the same after NFKC, removing invisible characters and every space, case folding
    and the simplified forms 团队共识."""
    return _reserved_key(name) == _reserved_key(AGREED_RESPONDENT)


def settle_agreed(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the agreed-answer rule to canonical answer rows.

    Where the team recorded an agreed answer (respondent :data:`AGREED_RESPONDENT`,
    answer not blank), that answer is the agency's answer for the item: the
    respondents' own rows for that item are set aside.  A team note without an
    agreed answer settles nothing.  The rule of the workshop (README, "團隊共識的規則"),
    applied alike to workshop stores and answer files.

    Returns
    -------
    (kept, set_aside)
        Two frames with the columns of ``frame``: the rows that count, and the
        individual rows set aside (empty when nothing was settled).
    """
    key = list(ITEM_KEY)
    team = frame["respondent"] == AGREED_RESPONDENT
    settles = team & frame["answer"].fillna("").ne("")
    if not settles.any():
        return frame, frame.iloc[0:0]
    settled = pd.MultiIndex.from_frame(frame.loc[settles, key])
    aside = ~team & pd.MultiIndex.from_frame(frame[key]).isin(settled)
    return frame[~aside].reset_index(drop=True), frame[aside]


_NAME_SPACE_RE = re.compile(r"[\s\u3000]+")
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")


def clean_name(raw: str) -> str:
    """Agency names: remove invisible characters and fold/trim white space, keep full-width forms."""
    return _NAME_SPACE_RE.sub(" ", _INVISIBLE_RE.sub("", raw)).strip()


def name_key(name: str) -> str:
    """A key under which agency names that look alike compare equal (NFKC, 台→臺, no spaces)."""
    return re.sub(r"\s+", "", clean_key(name)).replace("台", "臺")
