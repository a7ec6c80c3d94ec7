"""A report opened in Debian's Chromium with the network off: nothing is requested, and
Chinese in text and in the SVG charts is drawn with a CJK font (no boxes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from guidekit.report.batch import run_reports

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CJK_HINTS = ("CJK", "TC", "Hei", "Ming", "Hans", "Hant", "JhengHei", "WenQuanYi")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (sh tests/run.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    result = run_reports(out=out, agencies=["379000000A"], workers=1, progress=False)
    assert result.ok, result.failed
    return out / result.results[0].file


def _fonts(page, selector: str) -> list[dict]:
    session = page.context.new_cdp_session(page)
    session.send("DOM.enable")
    session.send("CSS.enable")
    root = session.send("DOM.getDocument")["root"]["nodeId"]
    node = session.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, selector
    return session.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


def test_offline_and_cjk_fonts(browser, report, tmp_path):
    context = browser.new_context()
    context.set_offline(True)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    page.goto(report.as_uri())
    page.wait_for_load_state("networkidle")
    assert [url for url in requests if not url.startswith("file://")] == []

    assert page.locator("html").get_attribute("lang") == "zh-TW"
    assert "臺北市政府" in page.locator("h1").inner_text()
    for selector in ("h1", "svg.gk-chart text.gk-axis-label, svg.gk-chart .gk-axis-labels text"):
        fonts = _fonts(page, selector)
        assert fonts, selector
        families = [f["familyName"] for f in fonts]
        assert any(any(h in name for h in CJK_HINTS) for name in families), (selector, families)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
    context.close()
