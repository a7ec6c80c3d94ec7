"""CJK fonts: is one installed, and which one matplotlib should use.

Reports draw their charts as SVG text, so only the *reader's* browser needs a
Chinese font.  Matplotlib figures (analysis notebook) need one in Python:
:func:`use_cjk_font` picks an installed Traditional Chinese font and tells
matplotlib, or warns once with how to install one.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import warnings

#: Font families tried, in order (Traditional Chinese first).
CJK_FAMILIES = (
    "Noto Sans CJK TC",
    "Noto Sans TC",
    "Source Han Sans TC",
    "Microsoft JhengHei",
    "PingFang TC",
    "Heiti TC",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "WenQuanYi Zen Hei",
    "AR PL UMing TW",
)


@functools.cache
def has_cjk_font() -> bool | None:
    """True/False when fontconfig can tell whether a Chinese font is installed, else None."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh-tw", "family"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return bool(out.strip())


@functools.cache
def cjk_family() -> str | None:
    """The first of :data:`CJK_FAMILIES` matplotlib knows, or None."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    return None


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese text with an installed CJK font.

    Returns the family used, or None (after a warning naming the fix) when no
    CJK font is installed.
    """
    import matplotlib as mpl

    family = cjk_family()
    if family is None:
        warnings.warn(
            "找不到中文字型，圖表中的中文會顯示為方框；請安裝 fonts-noto-cjk（Debian/Ubuntu）。"
            " No CJK font found: Chinese in charts will show as boxes; install fonts-noto-cjk.",
            stacklevel=2,
        )
        return None
    mpl.rcParams["font.family"] = "sans-serif"
    mpl.rcParams["font.sans-serif"] = [family, *mpl.rcParams["font.sans-serif"]]
    mpl.rcParams["axes.unicode_minus"] = False
    return family
