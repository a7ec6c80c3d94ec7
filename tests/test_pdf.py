"""The PDF engine's parts that need no browser: the missing-engine message, and text maps
that name ideographs rather than look-alike radicals."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from guidekit.report.pdf import (
    ENGINE_VARIABLE,
    PdfEngineMissing,
    _fixed_cmap,
    ideograph_table,
    pdf_name,
    require_engine,
)

CMAP = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
1 begincodespacerange
<00> <FF>
endcodespacerange
3 beginbfchar
<01> <2F83>
<02> <8A55>
<03> <2EA0>
endbfchar
2 beginbfrange
<10> <12> <0041>
<20> <21> <2F00>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


def _pairs(cmap: bytes) -> dict[str, str]:
    import re

    out = {}
    for src, dst in re.findall(
        rb"<([0-9A-F]+)> <([0-9A-F]+)>", cmap.split(b"endcodespacerange")[1]
    ):
        out[src.decode()] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    return out


def test_radicals_in_a_text_map_become_ideographs():
    table = ideograph_table()
    # Kangxi radicals decompose (NFKC): ⾃ U+2F83 → 自, ⼀ U+2F00 → 一, ⼁ U+2F01 → 丨
    assert table[0x2F83] == "自" and table[0x2F00] == "一" and table[0x2F01] == "丨"
    fixed = _fixed_cmap(CMAP, table)
    assert fixed is not None
    pairs = _pairs(fixed)
    assert pairs["01"] == "自" and pairs["02"] == "評"
    # ranges are spelled out: A B C stay, ⼀ ⼁ become 一 丨
    assert [pairs[c] for c in ("10", "11", "12", "20", "21")] == ["A", "B", "C", "一", "丨"]
    assert fixed.startswith(CMAP[: CMAP.index(b"3 beginbfchar")])
    assert fixed.rstrip().endswith(b"end\nend")
    assert fixed.count(b"beginbfchar") == 1 and b"bfrange" not in fixed
    # ⺠ U+2EA0 has no decomposition: the installed CJK font says it is drawn as 民
    if 0x2EA0 in table:
        assert pairs["03"] == "民"
    # nothing to fix: left alone
    assert (
        _fixed_cmap(
            CMAP.replace(b"<2F83>", b"<81EA>")
            .replace(b"<2F00>", b"<4E00>")
            .replace(b"<2EA0>", b"<6C11>"),
            table,
        )
        is None
    )


def test_pdf_name_sits_beside_the_report():
    assert pdf_name("A55000000A.html") == "A55000000A.pdf"


def test_missing_engine_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv(ENGINE_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium anywhere
    with pytest.raises(PdfEngineMissing) as caught:
        require_engine()
    assert "apt-get install chromium" in caught.value.text("zh-TW")
    assert "不加 --pdf 仍可產製 HTML 報告" in caught.value.text("zh-TW")
    assert "Install it" in caught.value.text("en")
    # a browser named by the variable that is not there: the message names it
    monkeypatch.setenv(ENGINE_VARIABLE, str(tmp_path / "no-such-browser"))
    with pytest.raises(PdfEngineMissing) as caught:
        require_engine()
    assert str(tmp_path / "no-such-browser") in caught.value.text("zh-TW")
    assert ENGINE_VARIABLE in caught.value.text("en")


def test_reports_pdf_without_engine_stops_before_writing(tmp_path):
    out = tmp_path / "out"
    env = {**os.environ, ENGINE_VARIABLE: str(tmp_path / "no-such-browser")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "guidekit",
            "reports",
            "--pdf",
            "--out",
            str(out),
            "--agency",
            "A55000000A",
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=300,
        check=False,
    )
    assert run.returncode == 2
    assert "Chromium" in run.stderr and "--pdf" in run.stderr
    assert not out.exists()
