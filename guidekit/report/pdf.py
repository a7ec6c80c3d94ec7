"""A report as a text-based PDF: the same HTML page and print stylesheet, printed by
headless Chromium.

There is no second layout to keep in sync: Chromium prints the report exactly as a
reader's browser prints it (``report.css``'s ``@media print`` and ``@page`` rules: A4,
page numbers, the agency and round on every page, detail sections open).  The PDF
keeps real text (selectable and searchable, CJK fonts embedded as subsets), the SVG
charts as vectors, links, a document outline from the headings, and structure tags
for screen readers (Chromium writes a tagged PDF).

The engine is Debian's ``chromium`` package (or Google Chrome); set
``GUIDEKIT_CHROMIUM`` to a browser's path to use another.  HTML reports never need it.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from guidekit import i18n
from guidekit.files import write_atomic
from guidekit.problems import GuidekitError
from guidekit.render.fonts import CJK_FAMILIES, cjk_font_files

#: Browser commands tried in order (Debian, other distributions, Google Chrome).
ENGINES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Environment variable naming the browser to use instead.
ENGINE_VARIABLE = "GUIDEKIT_CHROMIUM"
#: Seconds one report may take to print.
TIMEOUT = 180


class PdfEngineMissing(GuidekitError):
    """No headless Chromium to print PDFs with; the message says what to install."""


def find_engine() -> str | None:
    """The browser that prints PDFs: ``$GUIDEKIT_CHROMIUM``, else the first of
    :data:`ENGINES` on ``PATH``; None when there is none."""
    named = os.environ.get(ENGINE_VARIABLE, "").strip()
    if named:
        return named if Path(named).is_file() else shutil.which(named)
    for name in ENGINES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_engine() -> str:
    """The PDF engine's path.

    Raises
    ------
    PdfEngineMissing
        With what to install (zh-TW and English), when there is none.
    """
    engine = find_engine()
    named = os.environ.get(ENGINE_VARIABLE, "").strip()
    if engine is None and named:
        raise PdfEngineMissing(
            i18n.t("pdf.named_missing", "en", variable=ENGINE_VARIABLE, path=named),
            zh=i18n.t("pdf.named_missing", "zh-TW", variable=ENGINE_VARIABLE, path=named),
        )
    if engine is None:
        raise PdfEngineMissing(
            i18n.t("pdf.missing", "en", variable=ENGINE_VARIABLE),
            zh=i18n.t("pdf.missing", "zh-TW", variable=ENGINE_VARIABLE),
        )
    return engine


def pdf_name(html_name: str) -> str:
    """The PDF file name beside a report's HTML file name (``A.html`` → ``A.pdf``)."""
    return str(Path(html_name).with_suffix(".pdf"))


def html_to_pdf(
    html: str | Path, pdf: str | Path, engine: str | None = None, timeout: float = TIMEOUT
) -> Path:
    """Print the HTML page ``html`` to the A4 PDF ``pdf`` (written atomically).

    The browser runs headless with a throwaway profile, no network name resolution and
    no header or footer of its own (the page's ``@page`` rules give the page numbers).

    Parameters
    ----------
    html, pdf : path
        A self-contained report page, and where its PDF goes.
    engine : str, optional
        The browser (default :func:`require_engine`).
    timeout : float
        Seconds before the print is abandoned.

    Raises
    ------
    PdfEngineMissing
        If there is no engine.
    GuidekitError
        If the browser fails, times out or writes no PDF.
    OSError
        If the PDF cannot be written.
    """
    source = Path(html).resolve()
    return write_atomic(Path(pdf), _print(source, source.name, engine, timeout))


def pdf_bytes(
    html: str, name: str = "report.html", engine: str | None = None, timeout: float = TIMEOUT
) -> bytes:
    """The PDF of a self-contained report page given as text (what a batch worker has),
    printed as :func:`html_to_pdf` prints a file; ``name`` is the page's file name for
    messages.

    Raises
    ------
    PdfEngineMissing, GuidekitError
        As :func:`html_to_pdf`.
    """
    with tempfile.TemporaryDirectory(prefix="guidekit-page-") as folder:
        page = Path(folder) / "report.html"
        page.write_text(html, encoding="utf-8")
        return _print(page, name, engine, timeout)


def _print(source: Path, name: str, engine: str | None, timeout: float) -> bytes:
    """Print the page ``source`` (called ``name`` in messages) with headless Chromium; the
    searchable PDF's bytes."""
    browser = engine or require_engine()
    with tempfile.TemporaryDirectory(prefix="guidekit-pdf-") as profile:
        out = Path(profile) / "report.pdf"
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            "--generate-pdf-document-outline",
            f"--print-to-pdf={out}",
            source.as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root otherwise
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired as exc:
            raise GuidekitError(
                i18n.t("pdf.timeout", "en", file=name, seconds=f"{timeout:g}"),
                zh=i18n.t("pdf.timeout", "zh-TW", file=name, seconds=f"{timeout:g}"),
            ) from exc
        if not out.is_file() or out.stat().st_size == 0:
            said = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            detail = " / ".join(said) or f"exit {done.returncode}"
            raise GuidekitError(
                i18n.t("pdf.failed", "en", file=name, detail=detail),
                zh=i18n.t("pdf.failed", "zh-TW", file=name, detail=detail),
            )
        return searchable(out.read_bytes())


# -- searchable Chinese: ideographs, not radicals, behind each glyph ------------------------

#: Kangxi radicals and CJK radicals supplement: code points a CJK font may draw with the
#: same glyph as an everyday ideograph (⽤ U+2F64 and 用 U+7528).
_RADICALS = range(0x2E80, 0x2FE0)
_IDEOGRAPHS = ((0x3400, 0x9FFF), (0x20000, 0x3FFFF))


@functools.cache
def ideograph_table() -> dict[int, str]:
    """Radical code point → the ideograph a reader typed.

    Kangxi radicals decompose to their ideograph (Unicode NFKC); radicals of the
    supplement without a decomposition (⺠ U+2EA0 → 民, ⻑ U+2ED1 → 長) are looked up in
    the installed Traditional Chinese font: the ideograph drawn with the same glyph.
    """
    table = {}
    for cp in _RADICALS:
        plain = unicodedata.normalize("NFKC", chr(cp))
        if plain != chr(cp) and len(plain) == 1:
            table[cp] = plain
    files = cjk_font_files()
    family = next((f for f in CJK_FAMILIES if f in files), None)
    if family is None:
        return table
    # imported here: only --pdf needs them, and every guidekit command would pay the import
    from fontTools.ttLib import TTCollection, TTFont, TTLibError

    path = files[family][0]
    try:
        faces = (
            TTCollection(path, lazy=True).fonts
            if path.lower().endswith((".ttc", ".otc"))
            else [TTFont(path, lazy=True)]
        )
        face = next((f for f in faces if f["name"].getDebugName(1) == family), faces[0])
        cmap = face.getBestCmap() or {}
    except (OSError, TTLibError, KeyError, AssertionError):
        return table
    ideograph: dict[str, int] = {}
    for cp, glyph in sorted(cmap.items()):
        if any(low <= cp <= high for low, high in _IDEOGRAPHS):
            ideograph.setdefault(glyph, cp)
    for cp in _RADICALS:
        if cp not in table and cmap.get(cp) in ideograph:
            table[cp] = chr(ideograph[cmap[cp]])
    return table


_CHAR = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>")
_RANGE = re.compile(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]+>|\[)")
_BLOCK = re.compile(rb"\d+\s+beginbf(char|range)(.*?)endbf\1", re.S)


def _text(hex_utf16: bytes) -> str:
    return bytes.fromhex(hex_utf16.decode("ascii")).decode("utf-16-be", "replace")


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-be").hex().upper().encode("ascii")


def _fixed_cmap(data: bytes, table: dict[int, str]) -> bytes | None:
    """A ToUnicode CMap whose radicals are replaced by ideographs (None: nothing to fix).

    Every ``bfchar`` and ``bfrange`` entry becomes a ``bfchar`` entry (at most 100 a
    block, as the CMap format asks)."""
    blocks = list(_BLOCK.finditer(data))
    if not blocks:
        return None
    pairs: list[tuple[bytes, str]] = []
    for block in blocks:
        if block.group(1) == b"char":
            pairs += [(e.group(1), _text(e.group(2))) for e in _CHAR.finditer(block.group(2))]
            continue
        for entry in _RANGE.finditer(block.group(2)):
            low, high, start = entry.group(1), entry.group(2), entry.group(3)
            if start == b"[":  # an array destination: leave the CMap as it is
                return None
            width, first = len(low), int(low, 16)
            base = _text(start.strip(b"<>"))
            for n in range(int(high, 16) - first + 1):
                code = f"{first + n:0{width}X}".encode("ascii")
                pairs.append((code, base[:-1] + chr(ord(base[-1]) + n)))
    fixed = [(code, "".join(table.get(ord(c), c) for c in text)) for code, text in pairs]
    if fixed == pairs:
        return None
    body = b"".join(
        b"%d beginbfchar\n" % len(fixed[i : i + 100])
        + b"".join(b"<%s> <%s>\n" % (code, _utf16(text)) for code, text in fixed[i : i + 100])
        + b"endbfchar\n"
        for i in range(0, len(fixed), 100)
    )
    return data[: blocks[0].start()] + body + data[blocks[-1].end() :].lstrip(b"\n")


def searchable(pdf: bytes) -> bytes:
    """``pdf`` with each font's text map (``/ToUnicode``) naming ideographs, not radicals.

    Chromium maps a glyph shared by a radical and an ideograph (Noto Sans CJK draws ⾃
    U+2F83 and 自 U+81EA alike) to the radical, so copied or searched text has ⾃評
    instead of 自評.  The drawn pages are not touched."""
    # imported here: pypdf takes a third of a second to import, which only --pdf needs
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    table = ideograph_table()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    done: set[int] = set()
    changed = False
    for page in writer.pages:
        fonts = page.get("/Resources", {}).get("/Font", {})
        for ref in fonts.values():
            font = ref.get_object()
            target = font.get("/ToUnicode")
            if target is None or id(target.get_object()) in done:
                continue
            stream = target.get_object()
            done.add(id(stream))
            fixed = _fixed_cmap(stream.get_data(), table)
            if fixed is not None:
                stream.set_data(fixed)
                stream.pop(NameObject("/DecodeParms"), None)
                changed = True
    if not changed:
        return pdf
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
