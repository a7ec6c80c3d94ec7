"""User-facing text in Traditional Chinese (default) and English, and date formats.

Messages live in ``guidekit/locales/messages.yaml`` (one entry per key with a
``zh-TW`` and an ``en`` text); :func:`t` looks one up and fills its
placeholders.  Dates are shown with both the 民國 (Republic of China) year and
the Gregorian date, as Taiwanese government documents do.
"""

from __future__ import annotations

import datetime as dt
import enum
import errno
import functools
import math
import re
import unicodedata
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from guidekit.problems import GuidekitError

LANGS = ("zh-TW", "en")
DEFAULT_LANG = "zh-TW"
#: The Republic of China calendar counts years from 1912 (民國元年).
ROC_OFFSET = 1911

# English month names spelled out here: strftime would follow the user's locale.
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_MESSAGES = Path(__file__).with_name("locales") / "messages.yaml"


def normalise_lang(lang: str | None) -> str:
    """``"zh-TW"`` or ``"en"`` from what a user typed (``zh``, ``zh_tw``, ``en-GB`` …).

    Raises
    ------
    GuidekitError
        For any other language.
    """
    if lang is None:
        return DEFAULT_LANG
    key = lang.strip().replace("_", "-").casefold()
    if key in {"zh", "zh-tw", "zh-hant", "zh-hant-tw", "tw"}:
        return "zh-TW"
    if key == "en" or key.startswith("en-"):
        return "en"
    raise GuidekitError(
        f"unsupported language {lang!r}: use zh-TW or en",
        zh=f"不支援的語言 {lang!r}：請用 zh-TW 或 en",
    )


@functools.cache
def messages() -> dict[str, dict[str, str]]:
    """All messages: key → {"zh-TW": text, "en": text}."""
    data = YAML(typ="safe").load(_MESSAGES.read_text(encoding="utf-8"))
    return {str(k): {str(lang): str(text) for lang, text in v.items()} for k, v in data.items()}


#: Level names used when a caller does not pass a framework's own
#: (:meth:`guidekit.framework.Framework.names`): the guideline's terms.
DEFAULT_NAMES = {
    "zh-TW": {
        "framework": "政府數位服務指引",
        "n": "13",
        "principle": "原則",
        "principle_lc": "原則",
        "dimension": "構面",
        "dimension_lc": "構面",
        "item": "檢核項目",
        "item_lc": "檢核項目",
    },
    "en": {
        "framework": "Government Digital Service Guidelines",
        "n": "13",
        "principle": "Principle",
        "principle_lc": "principle",
        "dimension": "Dimension",
        "dimension_lc": "dimension",
        "item": "Check item",
        "item_lc": "check item",
    },
}


def t(key: str, lang: str = DEFAULT_LANG, /, **values: Any) -> str:
    """The message ``key`` in ``lang`` with ``{placeholders}`` filled.

    Level-name placeholders (``{principle}``, ``{dimension}``, ``{item}``,
    ``{framework}``, ``{n}``) default to the guideline's terms (:data:`DEFAULT_NAMES`).

    Raises
    ------
    KeyError
        If the key is unknown (a programming error, caught by the tests).
    """
    lang = normalise_lang(lang)
    text = messages()[key][lang]
    return text.format(**{**DEFAULT_NAMES[lang], **values})


class LabelledEnum(enum.StrEnum):
    """A code whose words live in the messages, under ``<MESSAGES>.<value>``."""

    @classmethod
    def messages_key(cls) -> str:
        """The messages' key prefix of this code's words (e.g. ``"action.status"``)."""
        raise NotImplementedError

    def label(self, lang: str = DEFAULT_LANG) -> str:
        """The code in words, in ``lang``."""
        return t(f"{self.messages_key()}.{self.value}", lang)

    def labels(self) -> tuple[str, str]:
        """The code in words, as a (zh-TW, English) pair."""
        return pair(f"{self.messages_key()}.{self.value}")


def pair(key: str, /, **values: Any) -> tuple[str, str]:
    """The message ``key`` as a (zh-TW, English) pair, for problems that carry both.

    Raises
    ------
    KeyError
        If the key is unknown.
    """
    return t(key, "zh-TW", **values), t(key, "en", **values)


def label_pair(prefix: str, code: str) -> tuple[str, str]:
    """The (zh-TW, English) label of ``code`` under ``prefix`` (``prefix.code`` in the
    messages); a code with no label is shown as itself in both languages."""
    key = f"{prefix}.{code}"
    return pair(key) if key in messages() else (code, code)


#: Report dates are Taiwan's calendar days, whatever the machine's time zone.
TIMEZONE = "Asia/Taipei"


def today() -> dt.date:
    """Today's date in Taiwan (a server on UTC would otherwise date a report a day early)."""
    from zoneinfo import ZoneInfo

    return dt.datetime.now(ZoneInfo(TIMEZONE)).date()


def roc_year(year: int) -> int:
    """民國 year of a Gregorian year (2026 → 115)."""
    return year - ROC_OFFSET


# A date as people in Taiwan type it: 民國 (1–3 digit year, 「民國」 optional) or Gregorian
# (4 digits), separated by - / . or 年月日; Excel's date cells read as "2026-03-31 00:00:00".
_DATE = re.compile(
    r"(?:民國)?\s*(?P<y>\d{1,4})\s*(?:年|[-/.])\s*(?P<m>\d{1,2})\s*(?:月|[-/.])\s*"
    r"(?P<d>\d{1,2})\s*日?(?:[ T]00:00(?::00(?:\.0+)?)?)?"
)


def parse_date(text: object) -> dt.date | None:
    """A calendar date from what a person typed, in either calendar; None if it is not one.

    Accepted: ISO ``2026-03-31``, ``2026/3/31``, ``2026.3.31``, ``2026年3月31日`` (Gregorian:
    a four-digit year) and ``115/3/31``, ``115-03-31``, ``115.3.31``, ``115年3月31日``,
    ``民國115年3月31日`` (民國: a year of one to three digits, 民國 year + 1911); full-width
    digits and spaces are read as plain ones.  A date that does not exist (``115/2/30``)
    is None.  The one home of date input: dates shown to people are :func:`format_date`'s.
    """
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    if not isinstance(text, str):
        return None
    value = unicodedata.normalize("NFKC", text).strip()
    match = _DATE.fullmatch(value)
    if match is None:
        return None
    year_text = match["y"]
    year = int(year_text) + (ROC_OFFSET if len(year_text) <= 3 else 0)
    if value.startswith("民國") and len(year_text) > 3:
        return None
    try:
        return dt.date(year, int(match["m"]), int(match["d"]))
    except ValueError:
        return None


def format_date(date: dt.date, lang: str = DEFAULT_LANG) -> str:
    """A date with both calendars.

    zh-TW: ``民國115年11月29日（2026-11-29）``; en: ``29 November 2026 (ROC year 115)``.
    """
    return "".join(date_parts(date, lang))


def date_parts(date: dt.date, lang: str = DEFAULT_LANG) -> tuple[str, str]:
    """The two halves of :func:`format_date` (so a page can keep each on one line).

    zh-TW: ``("民國115年11月29日", "（2026-11-29）")``; en: ``("29 November 2026", " (ROC year 115)")``.
    """
    roc = roc_year(date.year)
    if normalise_lang(lang) == "zh-TW":
        return f"民國{roc}年{date.month}月{date.day}日", f"（{date.isoformat()}）"
    return f"{date.day} {_MONTHS[date.month - 1]} {date.year}", f" (ROC year {roc})"


def format_score(value: float | None, lang: str = DEFAULT_LANG) -> str:
    """A score 0–100 with one decimal, or an em dash with a word for no score."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.1f}"


def join_labels(labels: list[str], lang: str = DEFAULT_LANG, limit: int | None = None) -> str:
    """Labels (principle titles …) as one unambiguous list.

    zh-TW: each in 「」 and joined with 、 (a title such as 「一、了解使用者需求」 holds
    、 itself); en: joined with ``"; "`` (titles hold commas).  With ``limit``, only
    the first ``limit`` are listed, then how many *more* there are (message
    ``chart.more``: 「…」及另 2 項 / … and 2 more).
    """
    zh = normalise_lang(lang) == "zh-TW"
    shown = [f"「{label}」" if zh else label for label in labels]
    sep = "、" if zh else "; "
    if limit is None or len(shown) <= limit:
        return sep.join(shown)
    return t("chart.more", lang, shown=sep.join(shown[:limit]), n=len(shown) - limit)


def format_pct(value: float | None) -> str:
    """A share 0–1 as a whole percentage (``0.857`` → ``86%``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * 100:.0f}%"


def error(key: str, /, **params: Any) -> GuidekitError:
    """A :class:`~guidekit.problems.GuidekitError` whose texts (zh-TW and English) are the
    message ``key`` of ``messages.yaml``, filled with ``params``.

    A parameter may itself be a ``{"zh-TW": ..., "en": ...}`` dict (see :func:`os_detail`);
    each language then gets its own text.
    """

    def text(lang: str) -> str:
        values = {k: v[lang] if isinstance(v, dict) else v for k, v in params.items()}
        return t(key, lang, **values)

    return GuidekitError(text("en"), zh=text("zh-TW"))


def os_detail(exc: OSError) -> dict[str, str]:
    """What went wrong with a file, in both languages (the system's text when not known)."""
    key = f"oserror.{errno.errorcode.get(exc.errno or 0, '')}"
    if key in messages():
        return {lang: t(key, lang) for lang in LANGS}
    fallback = exc.strerror or type(exc).__name__
    return {lang: fallback for lang in LANGS}
