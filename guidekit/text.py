"""Text clean-up shared by every reader.

Agency staff type in Excel on Windows with a zh-TW input method: headers and
values arrive with full-width digits and letters, U+3000 ideographic spaces,
byte-order marks and zero-width characters.  :func:`clean` folds those the
same way everywhere, so "the same text" means the same thing in every module.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

#: Characters that are invisible and never meaningful in a header, code or name:
#: Unicode's Default_Ignorable_Code_Point set (BOM, zero-width space and joiners,
#: soft hyphen, combining grapheme joiner, variation selectors, word joiner and
#: invisible operators, direction marks, Hangul fillers, tag characters …).
INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
)
_INVISIBLE_RE = re.compile(f"[{INVISIBLE}]")
_SPACE_RE = re.compile(r"\s+")


def clean(value: str) -> str:
    """Return ``value`` NFKC-normalised, without invisible characters, trimmed.

    NFKC turns full-width ASCII (``０１２`` → ``012``) and U+3000 into their
    plain forms; inner runs of white space are kept as they are (a note keeps
    its line breaks), but leading and trailing white space is removed.
    """
    text = unicodedata.normalize("NFKC", value)
    text = _INVISIBLE_RE.sub("", text)
    return text.strip()


def clean_key(value: str) -> str:
    """Return ``value`` cleaned for matching: :func:`clean`, inner spaces folded, casefolded.

    Used to match headers and answer labels (``" N/A "`` → ``"n/a"``).
    """
    return _SPACE_RE.sub(" ", clean(value)).casefold()


def has_invisible(value: str) -> bool:
    """True if ``value`` contains a character of :data:`INVISIBLE`."""
    return bool(_INVISIBLE_RE.search(value))


def has_hidden(value: str) -> bool:
    """True if ``value`` contains an invisible character or a no-break space."""
    return has_invisible(value) or "\u00a0" in value


#: Control characters (C0 but tab, line feed and carriage return; DEL; C1) and
#: text-direction overrides and isolates: never in a code or a name (problem
#: ``control-char``), shown as escapes wherever free text is printed.
CONTROL_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
CONTROL = re.compile(f"[{CONTROL_CHARS}]")
#: What :func:`printable` escapes: :data:`CONTROL` and a carriage return (a lone CR
#: would move a terminal's cursor back over what was printed).
_UNPRINTABLE = re.compile(f"[{CONTROL_CHARS}\r]")


def printable(text: str) -> str:
    """``text`` with control characters and text-direction overrides shown as
    ``\\x1b`` / ``\\u202e`` escapes (line breaks and tabs kept): safe to print
    on a terminal."""
    return _UNPRINTABLE.sub(visible_escape, text)


def visible_escape(match: re.Match[str]) -> str:
    """A matched character as its visible escape (``\\x0b``, ``\\u202e``): for a
    ``re.sub`` over characters a file format or a terminal cannot hold."""
    return match.group().encode("unicode_escape").decode("ascii")


#: Spellings of yes/no accepted for a flag (``synthetic: no``, an item's ``major``),
#: compared after :func:`clean_key` (any case, full-width forms, surrounding spaces).
FLAG_TRUE = ("true", "yes", "y", "on", "1", "t", "是", "真", "對", "有")
FLAG_FALSE = ("false", "no", "n", "off", "0", "f", "否", "假", "錯", "無")


def parse_flag(value: object) -> bool | None:
    """Read a yes/no flag the way people write it, or None when it is not one.

    The one home of this rule.  YAML 1.2 (what guidekit's YAML reader follows)
    reads ``synthetic: no`` as the *string* ``"no"``, which Python's truthiness
    would call true; here ``True``/``False``, the integers 1 and 0 and the words
    of :data:`FLAG_TRUE` / :data:`FLAG_FALSE` (English and Chinese, any case,
    full-width forms and surrounding spaces allowed) are read, and anything else
    (``"maybe"``, ``2``, ``""``, ``None``) gives None so the caller can refuse it,
    naming what was found.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        key = clean_key(value)
        if key in FLAG_TRUE:
            return True
        if key in FLAG_FALSE:
            return False
    return None


def flag_spellings(lang: str = "zh-TW") -> str:
    """The accepted flag spellings as one line for a message (true/false, yes/no …)."""
    pairs = "、".join(f"{t}/{f}" for t, f in zip(FLAG_TRUE, FLAG_FALSE, strict=True))
    if lang.casefold().startswith("en"):
        return pairs.replace("、", ", ") + " (any case)"
    return pairs + "（不分大小寫）"


_NUMBER_PARTS = re.compile(r"(\d+)")


def natural_key(text: str) -> list[Any]:
    """Sort key in natural order: digits compare as numbers (``"2026-9"`` before
    ``"2026-10"``, ``"A2"`` before ``"A10"``)."""
    return [int(p) if p.isdigit() else p for p in _NUMBER_PARTS.split(text)]
