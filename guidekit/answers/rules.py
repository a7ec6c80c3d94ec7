"""The rules every answer obeys, wherever it comes from (a file, a form, a workshop store).

* the team's agreed answer (團隊共識) under a reserved respondent name, and how it
  settles an item (:func:`settle_agreed`);
* how agency and respondent names are tidied and compared (:func:`clean_name`,
  :func:`name_key`);
* 不適用 (not applicable) needs a reason (:func:`needs_reason`).
"""

from __future__ import annotations

import collections
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from guidekit.answers.columns import ITEM_KEY
from guidekit.problems import GuidekitError, Problem, Severity
from guidekit.text import INVISIBLE, clean_key, flag_spellings, natural_key, parse_flag

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


#: Variant characters that write the same word in Taiwan's usage (臺/台, 計畫/計劃,
#: 部分/部份, 規畫/規劃 …) and common older or Simplified-influenced forms.
_VARIANTS = str.maketrans(
    {
        "台": "臺",
        "劃": "畫",
        "份": "分",
        "裏": "裡",
        "爲": "為",
        "衆": "眾",
        "啓": "啟",
        "羣": "群",
        "峯": "峰",
        "綫": "線",
        "着": "著",
        "汙": "污",
        "録": "錄",
        "衞": "衛",
        "麪": "麵",
    }
)


def name_key(name: str) -> str:
    """A key under which names that look alike compare equal.

    NFKC (full-width forms), invisible characters and every space removed, case
    folded, and variant characters made one (臺/台, 計畫/計劃, 部分/部份 …).  The one
    home of "these two names look alike": agency names of different codes, and
    service names of one agency (:func:`_check_across`).
    """
    return re.sub(r"\s+", "", clean_key(name)).translate(_VARIANTS)


#: Keys of answer-file metadata that are yes/no flags (read by :func:`metadata_flag`).
METADATA_FLAGS = ("synthetic",)


def metadata_flag(metadata: Mapping[str, Any], key: str) -> bool:
    """A yes/no flag of answer-file metadata (``dataset.yaml`` / ``<file>.meta.yaml``).

    Absent means no.  The spellings are those of :func:`guidekit.text.parse_flag`
    (true/false, yes/no, on/off, y/n, 1/0, 是/否, 真/假 … in any case), never
    Python's truthiness of a string (``synthetic: no`` is *not* true).  Every flag
    read from metadata goes through here.

    Raises
    ------
    GuidekitError
        If the value is not one of those spellings (the file reader reports such
        a value as a problem first; this guards metadata made in code).
    """
    if key not in metadata or metadata[key] is None:
        return False
    value = parse_flag(metadata[key])
    if value is None:
        raise GuidekitError(
            f"metadata {key!r} is {metadata[key]!r}, not yes or no; "
            f"expected {flag_spellings('en')}",
            zh=f"中繼資料 {key} 的值 {metadata[key]!r} 不是是非值；應為 {flag_spellings('zh-TW')}",
        )
    return value


def service_lookalikes(frame: pd.DataFrame, header: Any = None) -> list[Problem]:
    """One agency's answers split into several assessments by service names that look alike.

    An assessment is (round, agency, service, form).  When the service names of one
    agency's form differ only in spaces, full-width forms or variant characters
    (計畫/計劃, :func:`name_key`), or one file names a service and another leaves
    服務名稱 blank (or has no such column), the answers are kept apart as written
    (no name is guessed) and a warning names the files and the values.  Used for
    answer files (with a workshop store among them) and for a store read alone
    (:meth:`guidekit.store.ResponseStore.responses`).  ``header(file, column)``
    gives the column as the file writes it (default: the canonical name).
    """
    header = header or (lambda _file, column: column)
    problems: list[Problem] = []
    keys = ["round", "agency_id", "instrument"]
    services = frame.drop_duplicates([*keys, "service", "source_file"])
    for (rnd, agency_id, instrument), group in services.groupby(keys, sort=True):
        names = list(dict.fromkeys(group["service"].fillna("")))
        if len(names) < 2:
            continue
        by_key: dict[str, list[str]] = collections.defaultdict(list)
        for name in names:
            by_key[name_key(name)].append(name)
        alike = [n for same in by_key.values() if len(same) > 1 for n in same]
        if "" in names:  # a blank service beside named ones: the same assessment?
            alike = names
        if not alike:
            continue
        rows = group[group["service"].fillna("").isin(alike)]

        def files(name: str, rows: pd.DataFrame = rows) -> str:
            return "、".join(
                sorted(set(rows.loc[rows["service"].fillna("") == name, "source_file"]))
            )

        first = rows.iloc[0]
        shown_zh = "；".join(
            f"「{n}」（{files(n)}）" if n else f"空白（{files(n)}）" for n in alike
        )
        shown_en = "; ".join(
            f"{n!r} ({files(n).replace('、', ', ')})"
            if n
            else f"blank ({files(n).replace('、', ', ')})"
            for n in alike
        )
        problems.append(
            Problem(
                str(first.source_file),
                int(first.source_row),
                header(str(first.source_file), "service"),
                None,
                "service-lookalike",
                {
                    "agency_id": agency_id,
                    "round": rnd,
                    "instrument": instrument,
                    "n": len(alike),
                    "names_zh": shown_zh,
                    "names_en": shown_en,
                },
                Severity.WARNING,
            )
        )
    return problems


def lacks_reason(option: Any, note: Any) -> bool:
    """True when an answer is 不適用 (a scale option marked ``na``) and its note — the
    reason — is blank.

    The one home of the guideline forms' rule that 不適用 needs a reason (附件1/附件2:
    「不適用者請說明理由」): the answer-file reader warns (``na-without-reason``), the
    answer store refuses such a write (``na-reason``) and the workshop keeps the choice
    pending until a reason is typed.  ``option`` is what the scale matched (a
    :class:`~guidekit.framework.ScaleOption`, a number on a continuous scale, or None);
    ``note`` a string or None.
    """
    return (
        bool(getattr(option, "na", False)) and not (note if isinstance(note, str) else "").strip()
    )


def round_key(round_id: str) -> list[Any]:
    """Sort key of a round id in natural order: ``"2026-9"`` before ``"2026-10"``."""
    return natural_key(round_id)


def sorted_rounds(round_ids: Any) -> list[str]:
    """Distinct round ids (blank and missing left out), oldest first by :func:`round_key`.

    The one home of round order: research tables, the report's "latest round", the
    bundled example's round folders and the batch's messages all sort with it."""
    return sorted({str(r) for r in round_ids if isinstance(r, str) and r}, key=round_key)


def latest_round(round_ids: Any) -> str | None:
    """The latest of ``round_ids`` (:func:`sorted_rounds`), or None when there is none."""
    ordered = sorted_rounds(round_ids)
    return ordered[-1] if ordered else None
