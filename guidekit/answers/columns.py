"""The canonical answer table: its columns, the headers accepted for them, its key.

The canonical table has one row per (round, agency, service, respondent, item):

==================  =========  =====================================================
column              dtype      meaning
==================  =========  =====================================================
round               string     評估回合, e.g. ``"2026"``
agency_id           string     機關代碼 exactly as given (leading zeros kept)
agency_name         string     機關名稱
service             string     服務／計畫名稱; ``""`` when the file has no such column
instrument          string     自評表 id (``plan`` / ``service``)
respondent          string     填答者 (a name or a pseudonym)
item_id             string     檢核項目 id
answer              string     the scale option's code (``"Y"``, ``"NA"`` …) or a
                               number as text on a continuous scale; <NA> = unanswered
note                string     說明／佐證說明, exactly as written
answered_at         string     ISO timestamp if known, else ""
framework_version   string     question-bank version the answer was given against
source_file         string     where the row came from
source_row          Int64      its spreadsheet row (header = 1)
==================  =========  =====================================================
"""

from __future__ import annotations

import re

import pandas as pd

from guidekit.text import clean_key

#: The canonical columns, in order.
COLUMNS = (
    "round",
    "agency_id",
    "agency_name",
    "service",
    "instrument",
    "respondent",
    "item_id",
    "answer",
    "note",
    "answered_at",
    "framework_version",
    "source_file",
    "source_row",
)

#: Columns a file must have (``instrument`` is derived from the item id when absent).
REQUIRED = ("round", "agency_id", "agency_name", "respondent", "item_id", "answer")
OPTIONAL = ("service", "instrument", "note", "answered_at", "framework_version")

#: Header aliases (matched after NFKC, trimming, case folding, and treating
#: spaces / hyphens as underscores).
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "round": ("round", "評估回合", "回合", "評估期別", "期別"),
    "agency_id": ("agency_id", "agency_code", "機關代碼", "機關代號"),
    "agency_name": ("agency_name", "agency", "機關名稱", "機關"),
    "service": (
        "service",
        "service_name",
        "服務名稱",
        "計畫名稱",
        "服務／計畫名稱",
        "服務/計畫名稱",
    ),
    "instrument": ("instrument", "form", "自評表", "表單"),
    "respondent": ("respondent", "填答者", "填答人", "填表人"),
    "item_id": ("item_id", "item", "題號", "檢核項目編號", "項目編號"),
    "answer": ("answer", "答案", "填答", "自評結果"),
    "note": ("note", "notes", "evidence", "說明", "備註", "佐證說明", "佐證"),
    "answered_at": ("answered_at", "填答時間"),
    "framework_version": ("framework_version", "題庫版本"),
}


def header_key(text: str) -> str:
    """Headers compare without spaces, line breaks, "_" and "-" ("Agency ID", "機關 名稱", "機關\\n代碼")."""
    return re.sub(r"[\s_\-]+", "", clean_key(text))


ALIAS_TO_COLUMN = {header_key(a): col for col, aliases in HEADER_ALIASES.items() for a in aliases}


#: The answer slot the agreed-answer rule works on: one item of one assessment.
ITEM_KEY = ("round", "agency_id", "service", "instrument", "item_id")


def empty_frame() -> pd.DataFrame:
    """A canonical table with no rows (right columns and dtypes)."""
    frame = pd.DataFrame({c: pd.Series(dtype="string") for c in COLUMNS})
    frame["source_row"] = frame["source_row"].astype("Int64")
    return frame


#: The zh-TW header of each canonical column in files guidekit writes (each one of its
#: :data:`HEADER_ALIASES`, so the file reads back).
ZH_HEADERS = {
    "round": "評估回合",
    "agency_id": "機關代碼",
    "agency_name": "機關名稱",
    "service": "服務名稱",
    "instrument": "自評表",
    "respondent": "填答者",
    "item_id": "題號",
    "answer": "答案",
    "note": "說明",
    "answered_at": "填答時間",
    "framework_version": "題庫版本",
}
