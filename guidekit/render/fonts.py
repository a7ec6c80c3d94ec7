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


def _fc_list(*options: str, element: str | None = None) -> str | None:
    """What ``fc-list OPTIONS :lang=zh-tw [ELEMENT]`` prints, or None without fontconfig."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    try:
        return subprocess.run(
            [fc_list, *options, ":lang=zh-tw", *([element] if element else [])],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=20,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None


@functools.cache
def has_cjk_font() -> bool | None:
    """True/False when fontconfig can tell whether a Traditional Chinese font is
    installed (``fc-list :lang=zh-tw``), else None."""
    out = _fc_list(element="family")
    return None if out is None else bool(out.strip())


def cjk_font_files() -> dict[str, list[str]]:
    """Font files fontconfig lists for Traditional Chinese, by family (a file of a
    collection such as ``NotoSansCJK-Regular.ttc`` under each family it holds);
    empty without fontconfig."""
    out = _fc_list("-f", "%{file}\t%{family}\n") or ""
    files: dict[str, list[str]] = {}
    for line in out.splitlines():
        path, _, families = line.partition("\t")
        for family in filter(None, (f.strip() for f in families.split(","))):
            files.setdefault(family, [])
            if path and path not in files[family]:
                files[family].append(path)
    return files


def _known_family() -> str | None:
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    return next((family for family in CJK_FAMILIES if family in known), None)


@functools.cache
def cjk_family() -> str | None:
    """The first of :data:`CJK_FAMILIES` matplotlib knows, or None.

    Matplotlib lists the fonts it found when it built its cache
    (``fontlist-*.json`` in its config folder) and does not look again: a font
    installed later (``apt install fonts-noto-cjk`` after the first chart) is
    unknown to it.  When none of :data:`CJK_FAMILIES` is known, the files
    fontconfig lists for Traditional Chinese are added to matplotlib
    (:meth:`matplotlib.font_manager.FontManager.addfont`, for this process;
    the cache file is left as it is), preferring the families in the order of
    :data:`CJK_FAMILIES`, then any other family fontconfig names.
    """
    family = _known_family()
    if family is not None:
        return family
    from matplotlib import font_manager

    files = cjk_font_files()
    ordered = [f for f in CJK_FAMILIES if f in files] + sorted(set(files) - set(CJK_FAMILIES))
    for wanted in ordered:
        added = []
        for path in files[wanted]:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # unreadable or not a font matplotlib reads
                continue
            added.append(path)
        names = {f.name for f in font_manager.fontManager.ttflist if f.fname in added}
        if wanted in names:
            return wanted
        if names:  # the file's family as matplotlib reads it (its English name)
            return sorted(names)[0]
    return None


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese text with an installed CJK font (:func:`cjk_family`).

    Returns the family used, or None after a warning (:class:`UserWarning`): how
    to install a font when none is installed, or which font matplotlib could not
    read when fontconfig lists one.
    """
    import matplotlib as mpl

    family = cjk_family()
    if family is None:
        if has_cjk_font():
            listed = "、".join(sorted({p for v in cjk_font_files().values() for p in v})[:3])
            warnings.warn(
                f"已安裝中文字型（{listed}），但 matplotlib 無法讀取，圖表中的中文會顯示為方框；"
                f"請刪除 matplotlib 的字型快取（{mpl.get_cachedir()} 中的 fontlist-*.json）後重試。"
                f" A CJK font is installed ({listed}) but matplotlib cannot read it: Chinese in "
                f"charts will show as boxes; delete matplotlib's font cache (fontlist-*.json in "
                f"{mpl.get_cachedir()}) and try again.",
                stacklevel=2,
            )
            return None
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
