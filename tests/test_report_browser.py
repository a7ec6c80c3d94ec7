"""Reports and the index in Debian's Chromium: offline, CJK fonts, printed pages (A4,
page numbers, at most 12 pages for the weakest example agency), phone width, WCAG 2.1 AA
(axe-core), and the PDFs of `guidekit reports --pdf`."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from guidekit import i18n
from guidekit.report import AgencyReport, load_round
from guidekit.report.batch import run_reports
from guidekit.report.pdf import ideograph_table
from guidekit.scoring import recommend

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


#: The weakest agency of the bundled example (lowest overall score, most major items not met).
WEAKEST = "A55000000A"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    """Reports of 臺北市政府 and the weakest example agency, with their PDFs."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (sh tests/run.sh installs it)")
    out = tmp_path_factory.mktemp("browser")
    result = run_reports(
        out=out, agencies=["379000000A", WEAKEST], workers=2, progress=False, pdf=True
    )
    assert result.ok, result.failed
    return out


@pytest.fixture(scope="module")
def report(batch) -> Path:
    return batch / "379000000A.html"


@pytest.fixture(scope="module")
def weakest() -> AgencyReport:
    return AgencyReport(load_round(), WEAKEST)


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
    # the charts are in folded sections: open them as a reader does
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    for selector in ("h1", "svg.gk-chart text.gk-axis-label, svg.gk-chart .gk-axis-labels text"):
        fonts = _fonts(page, selector)
        assert fonts, selector
        families = [f["familyName"] for f in fonts]
        assert any(any(h in name for h in CJK_HINTS) for name in families), (selector, families)
    page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
    context.close()


def _printed(page) -> list[str]:
    """The page printed as the reader's browser prints it (print stylesheet, A4): the
    text of each PDF page."""
    from pypdf import PdfReader

    pdf = page.pdf(prefer_css_page_size=True)
    # Chromium names some glyphs by their look-alike radicals (guidekit.report.pdf):
    # read them as the ideographs they are
    table = ideograph_table()
    return [p.extract_text().translate(table) for p in PdfReader(io.BytesIO(pdf)).pages]


def test_weakest_agency_prints_to_at_most_12_pages_with_nothing_lost(browser, batch, weakest):
    page = browser.new_page()
    page.goto((batch / f"{WEAKEST}.html").as_uri())
    pages = _printed(page)
    page.close()
    assert 2 <= len(pages) <= 12, len(pages)
    text = "\n".join(pages)
    a = weakest.assessments[0]
    # every item not met, partly met or not applicable is printed (details open on paper)
    for item_id in a.items.loc[a.items["status"].isin(["not_met", "partial", "na"]), "item_id"]:
        assert item_id in text, item_id
    for measure_id in recommend(a.items, a.principles, weakest.framework)["measure_id"]:
        assert measure_id in text, measure_id
    # agency and round, and "n / N", on every page
    for n, printed in enumerate(pages, start=1):
        assert "客家委員會" in printed and weakest.round in printed, n
        assert f"{n} / {len(pages)}" in printed, n


def test_first_printed_page_is_the_guidance(browser, batch, weakest):
    page = browser.new_page()
    page.goto((batch / f"{WEAKEST}.html").as_uri())
    first = _printed(page)[0]
    page.close()
    a = weakest.assessments[0]
    assert i18n.format_score(a.overall["score"]) in first
    assert "優先處理事項" in first
    for priority in weakest.priorities(a):
        assert weakest._principle_label(priority.principle_id).replace(" ", "") in first.replace(
            " ", ""
        )
        measures = {m.id: m for m in weakest.framework.measures}
        assert measures[priority.measures[0]].title_zh in first.replace("\n", "")
    # the diagnosis (scores by principle, gaps) starts after it
    assert weakest.t("section.principles") not in first


@pytest.mark.parametrize("name", ["379000000A.html", f"{WEAKEST}.html", "index.html"])
def test_no_sideways_scroll_on_a_phone(browser, batch, name):
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto((batch / name).as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # open every section and answer list: wide tables scroll inside their own box
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    if name != "index.html":
        assert page.locator(".gk-radar").is_hidden()  # the table with its bars instead
        assert page.locator(".gk-principle-table").count() == 1
    page.close()


@pytest.mark.parametrize("name", [f"{WEAKEST}.html", "index.html"])
@pytest.mark.parametrize("width", [1280, 390])
def test_axe_finds_no_wcag_21_aa_violation(browser, batch, name, width):
    from axe_playwright_python.sync_playwright import Axe

    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto((batch / name).as_uri())
    for opened in (False, True):
        if opened:
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        result = Axe().run(
            page,
            options={
                "runOnly": {"type": "tag", "values": WCAG_21_AA},
                "resultTypes": ["violations"],
            },
        )
        violations = result.response["violations"]
        assert violations == [], [(v["id"], v["nodes"][0]["target"]) for v in violations]
    page.close()


def test_contents_and_priority_links_open_the_section_they_point_to(browser, batch, weakest):
    page = browser.new_page()
    page.goto((batch / f"{WEAKEST}.html").as_uri())
    assert page.locator("#section-gaps details.gk-fold").evaluate("d => d.open") is False
    page.locator("nav.gk-toc a[href='#section-gaps-body']").click()
    assert page.locator("#section-gaps details.gk-fold").evaluate("d => d.open") is True
    major = weakest.priorities(weakest.assessments[0])[0].major_items[0]
    page.locator("#section-gaps details.gk-fold").evaluate("d => { d.open = false; }")
    page.locator(f".gk-guidance a[href='#a1-{major}']").first.click()
    assert page.locator("#section-gaps details.gk-fold").evaluate("d => d.open") is True
    assert page.locator(f"tr#a1-{major}").is_visible()
    assert page.locator("a[href='index.html']").count() == 1
    page.close()


def test_pdf_is_searchable_text_with_page_numbers(batch):
    from pypdf import PdfReader

    index = (batch / "index.html").read_text(encoding="utf-8")
    for name in ("379000000A", WEAKEST):
        assert f'href="{name}.html"' in index and f'href="{name}.pdf"' in index
    reader = PdfReader(batch / f"{WEAKEST}.pdf")
    pages = [p.extract_text() for p in reader.pages]
    assert 2 <= len(pages) <= 12
    text = "\n".join(pages)
    # the agency's Chinese name, and everyday ideographs, never look-alike radicals
    # (⾃ U+2F83 for 自 U+81EA): what a reader types finds it
    assert "客家委員會" in text and "自評報告" in text and "優先處理事項" in text
    assert not re.search("[\u2e80-\u2fdf]", text)
    for n, printed in enumerate(pages, start=1):
        assert f"{n} / {len(pages)}" in printed
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    assert "/StructTreeRoot" in reader.trailer["/Root"]  # tagged for screen readers
    fonts = reader.pages[0]["/Resources"]["/Font"]
    assert fonts  # glyphs embedded in the file, not left to the reader's machine
