"""``guidekit workshop`` in Debian's Chromium (Playwright): answering with the keyboard only
and by clicking and typing, closing and reopening, a kernel killed mid-way, two sessions at
once, and the facilitator's report button.

One Voilà server (started through the real command, on a free port) serves the module.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

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
ROUND, AGENCY, NAME = "2026", "0012", '研考會 <i>"測試"</i>'
#: Seconds to wait for a page (a new kernel per page: imports, framework, ~100 widgets).
PAGE_TIMEOUT_MS = 120_000


class Server:
    def __init__(self, folder: Path, **extra_env: str) -> None:
        self.folder = folder
        self.store = folder / "store.sqlite"
        self.log = folder / "workshop.log"
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "GUIDEKIT_WORKSHOP_LOG": str(self.log),
            **extra_env,
        }
        env.pop("GUIDEKIT_STORE", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "guidekit",
                "workshop",
                "--store",
                str(self.store),
                "--port",
                "0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            env=env,
            start_new_session=True,
        )
        self.output: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 120
        self.url = self.key = ""
        while time.monotonic() < deadline and not (self.url and self.key):
            found = [re.search(r"(http://\S+)", line) for line in self.output]
            self.url = next((m.group(1) for m in found if m), "")
            keys = [re.search(r"主持人密碼：(\w+)", line) for line in self.output]
            self.key = next((m.group(1) for m in keys if m), "")
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        if not (self.url and self.key):
            self.stop()
            raise RuntimeError("guidekit workshop did not start:\n" + "".join(self.output))

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def page_url(self, **choices: str) -> str:
        return self.url + ("?" + urllib.parse.urlencode(choices) if choices else "")

    def answers(self, respondent: str, kind: str = "answer") -> dict[str, tuple[str | None, str]]:
        """Current answers of a respondent, read from the store file directly (plain SQL)."""
        db = sqlite3.connect(self.store)
        try:
            rows = db.execute(
                "SELECT item_id, new_answer, new_note FROM answer_log WHERE respondent = ? AND kind = ? "
                "ORDER BY id",
                (respondent, kind),
            ).fetchall()
        finally:
            db.close()
        return {item: (answer, note) for item, answer, note in rows}

    def kernel_pids(self) -> dict[str, int]:
        """Kernel id → pid of the kernels this server started (children of its Voilà process,
        found through /proc; jupyter_client gives each kernel its own process group)."""
        out = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
                parent = _ppid(int(entry.name))
            except (OSError, ValueError):
                continue
            if not any("ipykernel_launcher" in c for c in cmdline):
                continue
            try:
                grandparent = _ppid(parent)
            except (OSError, ValueError):
                continue
            if self.process.pid in (parent, grandparent):
                for c in cmdline:
                    match = re.search(r"kernel-([0-9a-f-]+)\.json", c)
                    if match:
                        out[match.group(1)] = int(entry.name)
        return out

    def stop(self) -> None:
        kernels = self.kernel_pids() if self.process.poll() is None else {}
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        for pid in kernels.values():  # Voilà shuts its kernels down; make sure none is left
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (sh tests/run.sh installs it)")
    s = Server(tmp_path_factory.mktemp("workshop"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_sheet(context, server, respondent: str):
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.goto(
        server.page_url(
            round=ROUND, agency=AGENCY, name=NAME, form="service", respondent=respondent
        )
    )
    page.wait_for_selector("text=SV-P01-01 答案")
    assert page.title() == "自評工作坊 · Self-assessment workshop"  # the browser tab's name
    return page


def item_of(page) -> dict:
    """What has the keyboard focus: kind, item id and option label."""
    return page.evaluate(
        """() => {
            const e = document.activeElement;
            const item = e.closest('.gk-ws-item');
            const radio = e.closest('.widget-radio');
            const label = radio ? radio.querySelector('.widget-label').textContent : '';
            const id = item ? (item.querySelector('.gk-ws-id') || {}).textContent : '';
            return {tag: e.tagName, type: e.type || '', id: id || '',
                    option: e.type === 'radio' ? e.parentElement.textContent.trim() : '',
                    text: (e.textContent || '').trim(), radioLabel: label};
        }"""
    )


def shown_answers(page) -> dict[str, tuple[str | None, str]]:
    """item id → (checked option label or None, note) as the page shows them."""
    shown = page.evaluate(
        """() => {
            const out = {};
            for (const item of document.querySelectorAll('.gk-ws-item')) {
                const id = item.querySelector('.gk-ws-id').textContent;
                const checked = item.querySelector('input[type=radio]:checked');
                const note = item.querySelector('textarea');
                out[id] = [checked ? checked.parentElement.textContent.trim() : null,
                           note ? note.value : ''];
            }
            return out;
        }"""
    )
    return {item: (answer, note) for item, (answer, note) in shown.items()}


def saved_shown(page) -> set[str]:
    """Items whose status says saved (✓)."""
    return set(
        page.evaluate(
            """() => [...document.querySelectorAll('.gk-ws-item')]
              .filter(i => i.querySelector('.gk-ws-ok'))
              .map(i => i.querySelector('.gk-ws-id').textContent)"""
        )
    )


LABELS = {"Y": "符合", "P": "部分符合", "N": "不符合", "NA": "不適用"}


def plan_for(bank: list[str]) -> dict[str, tuple[str, str]]:
    """A varied answer for each item: (code, note)."""
    plan = {}
    for n, item in enumerate(bank):
        code = ("Y", "P", "N", "Y", "NA")[n % 5]
        note = "本服務無此情境" if code == "NA" else ("有紀錄 <b>&</b>" if n % 11 == 0 else "")
        plan[item] = (code, note)
    return plan


def wait_saved(
    server, respondent: str, want: int, timeout: float = 90, expected: dict | None = None
) -> dict:
    """The respondent's stored answers once ``want`` items have one (and, given ``expected``,
    once they equal it: a slow kernel may still be saving the last choice), or at timeout."""
    deadline = time.monotonic() + timeout
    got: dict = {}
    while time.monotonic() < deadline:
        got = server.answers(respondent)
        if len([v for v in got.values() if v[0] is not None]) >= want and (
            expected is None or got == expected
        ):
            return got
        time.sleep(0.3)
    return got


#: Keys that choose each answer in a radio group reached with Tab (nothing chosen yet: the
#: focus is on the first option): Space chooses it; each ArrowRight moves on and chooses.
KEYS = {"Y": ["Space"], "P": ["ArrowRight"], "N": ["ArrowRight"] * 2, "NA": ["ArrowRight"] * 3}


def row_of(page, item: str):
    return page.locator(".gk-ws-item", has=page.locator(f".gk-ws-id:text-is('{item}')"))


def requests_elsewhere(page, server) -> list[str]:
    """Collects the page's requests to anywhere but the workshop server (offline check)."""
    host = urllib.parse.urlsplit(server.url).netloc
    out: list[str] = []

    def seen(request) -> None:
        url = request.url
        if not url.startswith(("data:", "blob:")) and urllib.parse.urlsplit(url).netloc != host:
            out.append(url)

    page.on("request", seen)
    return out


def wait_opened(page) -> None:
    """Wait for the sheet, or fail with the reason the start form gave."""
    page.wait_for_function(
        "() => document.body.innerText.includes('SV-P01-01 答案') || "
        "document.body.innerText.includes('尚無法開啟')"
    )
    refused = page.locator(".gk-ws-error")
    assert not refused.count(), refused.first.inner_text()


def test_start_form_and_every_item_with_the_keyboard_only(server, browser, fw):
    bank = [i.id for i in fw.items["service"]]
    plan = plan_for(bank)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    elsewhere = requests_elsewhere(page, server)
    page.goto(server.url)
    page.wait_for_selector("text=開始填答")
    # The start form, by keyboard: Tab from field to field, type, choose with the arrow keys.
    fields = {
        "評估回合": ROUND,
        "機關代碼": AGENCY,
        "機關名稱": NAME,
        "服務／計畫名稱（可留白）": "",
        "填答者（姓名或代號）": "鍵盤",
    }
    pressed = 0
    while pressed < 40:
        page.keyboard.press("Tab")
        pressed += 1
        label = page.evaluate(
            "() => { const e = document.activeElement; const l = e.id ? "
            "document.querySelector(`label[for='${e.id}']`) : null; "
            "return [e.tagName, l ? l.textContent : '', e.textContent || ''] }"
        )
        tag, name, text = label
        if name in fields:
            page.keyboard.press("Control+A")
            page.keyboard.type(fields.pop(name))
        elif name == "自評表" and tag == "SELECT":
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowDown")  # the second form: 政府數位服務自評表 (service)
        elif tag == "BUTTON" and "開始填答" in text:
            page.keyboard.press("Enter")
            break
    wait_opened(page)
    assert "研考會 <i>" in page.inner_text(".gk-ws-header")  # shown as text, not markup
    assert (
        page.evaluate(
            "() => document.querySelectorAll('.gk-ws-item input[type=radio]:checked').length"
        )
        == 0
    )

    # Every item, by keyboard: Tab to the item's radio group (one Tab stop), choose with Space or
    # the arrow keys (passing over options on the way to 不適用), Tab to its note and type; Enter
    # on "next dimension" moves the focus to the next dimension's first heading.
    done: set[str] = set()
    waiting_checked = False
    presses = 0
    dims = [d.id for d in fw.dimensions if any(i.dimension == d.id for i in fw.items["service"])]
    first_principle = {
        d: next(i.principle for i in fw.items["service"] if i.dimension == d) for d in dims
    }
    while len(done) < len(bank) and presses < 1000:
        page.keyboard.press("Tab")
        presses += 1
        at = item_of(page)
        item = at["id"]
        if at["type"] == "radio" and item in plan and item not in done:
            assert at["option"] == "符合", at  # the group's Tab stop: nothing chosen yet
            code, note = plan[item]
            for key in KEYS[code]:
                page.keyboard.press(key)
            assert item_of(page)["option"] == LABELS[code]
            page.keyboard.press("Tab")
            presses += 1
            at = item_of(page)
            assert (at["tag"], at["id"]) == ("TEXTAREA", item), at  # one Tab stop per group
            if code == "NA" and not waiting_checked:
                # Before the reason: not saved, and the page names what the store holds.
                warning = row_of(page, item).locator(".gk-ws-warn")
                warning.wait_for()
                stored = server.answers("鍵盤").get(item, (None, ""))[0]
                shown = LABELS[stored] if stored else "尚未作答"
                assert "尚未儲存" in warning.inner_text()
                assert f"目前儲存的答案仍是「{shown}」" in warning.inner_text()
                waiting_checked = True
            if note:
                page.keyboard.type(note)  # saved when the focus leaves the box (next Tab)
            done.add(item)
        elif at["tag"] == "BUTTON" and at["text"].startswith("下一個構面"):
            target = at["text"].removeprefix("下一個構面：").split(" ")[0]
            page.keyboard.press("Enter")
            page.wait_for_function(
                "id => document.activeElement && document.activeElement.id === id",
                arg=f"gk-principle-{first_principle[target]}",
            )
    page.keyboard.press("Tab")  # leave the last box
    assert done == set(bank), f"{len(done)} of {len(bank)} answered in {presses} key presses"
    assert waiting_checked
    # Radio group + note per item, the explanation of each principle, the buttons: one Tab stop
    # per radio group (four per item before), so well under three presses per item.
    assert presses < 2 * len(bank) + 60, presses
    stored = wait_saved(server, "鍵盤", len(bank), expected=plan)
    assert stored == plan
    page.wait_for_function(
        f"() => document.querySelectorAll('.gk-ws-item .gk-ws-ok').length >= {len(bank)}"
    )
    page.screenshot(path=str(server.folder / "keyboard.png"))

    # Close the tab, open the sheet again: every answer and note is back.
    page.close()
    again = open_sheet(context, server, "鍵盤")
    shown = shown_answers(again)
    assert {k: (LABELS[c], n) for k, (c, n) in plan.items()} == shown
    assert "整體進度 94／94" in again.inner_text(".gk-ws-sidebar")
    context.close()
    assert elsewhere == []  # nothing from the internet: the workshop works offline


def test_click_and_type_then_reload(server, browser, fw):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    bank = [i.id for i in fw.items["service"]][:8]
    context = browser.new_context()
    page = open_sheet(context, server, "滑鼠")
    for n, item in enumerate(bank):
        row = page.locator(".gk-ws-item", has=page.locator(f".gk-ws-id:text-is('{item}')"))
        option = ("符合", "部分符合", "不符合", "不適用")[n % 4]
        if option == "不適用":
            row.locator("label", has_text="不適用").click()
            expect_text = row.locator(".gk-ws-warn")
            expect_text.wait_for()
            assert "理由" in expect_text.inner_text()  # refused until a reason is given
            row.locator("textarea").click()
            row.locator("textarea").type("不涉及 <script>alert(1)</script>")
            page.locator(".gk-ws-title").click()  # leave the box
        else:
            row.locator("label", has_text=re.compile(f"^{option}$")).click()
        row.locator(".gk-ws-ok").wait_for()
    stored = wait_saved(server, "滑鼠", len(bank))
    assert stored[bank[3]] == ("NA", "不涉及 <script>alert(1)</script>")
    page.reload()
    page.wait_for_selector("text=SV-P01-01 答案")
    shown = shown_answers(page)
    for n, item in enumerate(bank):
        assert shown[item][0] == ("符合", "部分符合", "不符合", "不適用")[n % 4]
    assert shown[bank[3]][1] == "不涉及 <script>alert(1)</script>"
    assert page.evaluate("() => document.querySelectorAll('.gk-ws script').length") == 0

    # Every dimension tab shows its whole title, on a laptop and on a phone.
    done = {d.id: 0 for d in fw.dimensions}
    total = {d.id: 0 for d in fw.dimensions}
    for item in fw.items["service"]:
        total[item.dimension] += 1
        done[item.dimension] += item.id in bank
    expected = [
        f"{d.id} {d.title_zh}（{done[d.id]}／{total[d.id]}）" for d in fw.dimensions if total[d.id]
    ]
    assert expected[0].endswith("（8／21）")  # by hand: the 8 answers are all in A's 21 items
    measure = """() => [...document.querySelectorAll('.lm-TabBar-tab')].map(t => {
        const l = t.querySelector('.lm-TabBar-tabLabel');
        return [l.innerText, l.scrollWidth <= l.clientWidth + 1,
                l.scrollHeight <= l.clientHeight + 1,
                t.getBoundingClientRect().right <= window.innerWidth + 1];
    })"""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        # the tab bar lays itself out again after a resize (a frame or two later on a
        # busy machine): measure once it has, or after 10 s, whichever comes first
        with contextlib.suppress(PlaywrightTimeout):
            page.wait_for_function(
                f"() => ({measure})().every(t => t.slice(1).every(Boolean))", timeout=10_000
            )
        tabs = page.evaluate(measure)
        assert [t[0] for t in tabs] == expected, width
        assert all(all(t[1:]) for t in tabs), (width, tabs)  # nothing cut off or off screen
    context.close()


def test_the_start_form_keeps_what_was_typed_quickly(server, browser):
    """Fields filled at once (Playwright's fill) right after choices that change the form's
    suggestions, then an immediate click: the sheet opens with exactly the typed name."""
    code = "315000000H"  # 交通部 in the bundled register
    first = browser.new_context()
    page = first.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    # Someone answered already: choosing the form changes the suggested names.
    page.goto(server.page_url(round=ROUND, agency=code, form="service", respondent="先到"))
    wait_opened(page)
    row_of(page, "SV-P01-01").locator("label", has_text=re.compile("^符合$")).click()
    row_of(page, "SV-P01-01").locator(".gk-ws-ok").wait_for()
    first.close()
    for n in range(3):
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.goto(server.page_url(round=ROUND))
        page.wait_for_selector("text=開始填答")
        page.get_by_label("機關（從清單選擇）").select_option(value=None, label=f"交通部（{code}）")
        page.get_by_label("自評表").select_option(label="政府數位服務自評表（附件2）")
        name = f"很快的填答者{n}號"
        page.get_by_label("填答者（姓名或代號）").fill(name)
        page.get_by_role("button", name="開始填答").click()
        wait_opened(page)
        header = page.inner_text(".gk-ws-header")
        assert name in header and f"交通部（{code}）" in header, header
        context.close()


def test_killing_the_kernel_loses_no_saved_answer(server, browser, fw):
    bank = [i.id for i in fw.items["service"] if i.dimension == "A"]  # the first tab
    assert len(bank) >= 20
    context = browser.new_context()
    page = open_sheet(context, server, "中斷")
    before = set(server.kernel_pids())
    # Answer quickly without waiting, then kill this page's kernel while answers are in flight.
    for n, item in enumerate(bank[:20]):
        row = page.locator(".gk-ws-item", has=page.locator(f".gk-ws-id:text-is('{item}')"))
        row.locator("label", has_text=re.compile("^符合$" if n % 2 else "^不符合$")).click()
        if n == 8:
            page.locator(".gk-ws-item .gk-ws-ok").first.wait_for()
            sessions = {
                s
                for (s,) in sqlite3.connect(server.store).execute(
                    "SELECT DISTINCT session FROM answer_log WHERE respondent = '中斷'"
                )
            }
            [session] = sessions
            kernel = session.split(":")[0]
            pids = server.kernel_pids()
            assert kernel in pids and kernel in before
            os.kill(pids[kernel], signal.SIGKILL)
    time.sleep(2)
    shown_saved = saved_shown(page)
    shown = shown_answers(page)
    assert 0 < len(shown_saved) < 20
    stored = server.answers("中斷")
    for item in shown_saved:  # everything the page showed as saved is in the store
        assert item in stored and LABELS[stored[item][0]] == shown[item][0]
    page.reload()  # a new kernel
    page.wait_for_selector("text=SV-P01-01 答案")
    restored = shown_answers(page)
    for item in shown_saved:
        assert restored[item][0] == shown[item][0]
    assert {i for i, (a, _) in restored.items() if a} == set(stored)
    context.close()


def test_two_sessions_answer_at_once_and_the_facilitator_reports(server, browser, fw):
    bank = [i.id for i in fw.items["service"] if i.dimension == "A"][:20]  # the first tab
    contexts = [browser.new_context(), browser.new_context()]
    pages = [open_sheet(contexts[0], server, "甲"), open_sheet(contexts[1], server, "乙")]
    choices = {"甲": "符合", "乙": "不符合"}
    for n, item in enumerate(bank):  # interleaved, without waiting for either page
        for page, who in zip(pages, ("甲", "乙"), strict=True):
            option = choices[who] if n < 4 else "符合"
            row = page.locator(".gk-ws-item", has=page.locator(f".gk-ws-id:text-is('{item}')"))
            row.locator("label", has_text=re.compile(f"^{option}$")).click()
    for who in ("甲", "乙"):
        stored = wait_saved(server, who, len(bank))
        assert len(stored) == len(bank)
        assert [stored[i][0] for i in bank[:4]] == (["Y"] * 4 if who == "甲" else ["N"] * 4)
    for c in contexts:
        c.close()

    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 1000})
    team = context.new_page()
    team.set_default_timeout(PAGE_TIMEOUT_MS)
    team.goto(server.page_url(round=ROUND, agency=AGENCY, view="team"))
    team.wait_for_selector("text=主持人密碼")  # the facilitator view needs the key
    assert team.locator(".gk-ws-item").count() == 0
    team.goto(server.page_url(round=ROUND, agency=AGENCY, view="team", key=server.key))
    team.wait_for_selector("text=產生本機關報告")
    prompts = team.locator(".gk-ws-team-item .gk-ws-id").all_inner_texts()
    assert prompts[:4] == bank[:4]  # the disagreements, first
    # Record the team's agreed answer for the first one.
    first = team.locator(".gk-ws-item", has=team.locator(f".gk-ws-id:text-is('{bank[0]}')"))
    first.locator("textarea").click()
    first.locator("textarea").type("討論後：部分符合")
    first.locator("label", has_text=re.compile("^部分符合$")).click()
    first.locator(".gk-ws-ok", has_text="已記錄團隊共識").wait_for()
    assert server.answers("團隊共識", kind="agreed")[bank[0]] == ("P", "討論後：部分符合")
    team.screenshot(path=str(server.folder / "team.png"))

    team.get_by_role("button", name="產生本機關報告").click()
    team.wait_for_selector("text=報告已完成", timeout=240_000)
    files = team.locator(".gk-ws-files code").all_inner_texts()
    html, csv_path = Path(files[0]), Path(files[1])
    assert html.is_file() and csv_path.is_file()
    with team.expect_download() as download:
        team.locator(".gk-ws-files a").first.click()
    saved = Path(download.value.path())
    assert saved.read_bytes() == html.read_bytes()
    text = html.read_text(encoding="utf-8")
    assert "團隊共識" in text and "&lt;i&gt;" in text
    context.close()


def test_the_same_sheet_in_two_tabs_loses_nothing(server, browser, fw):
    """One respondent, two tabs on one sheet (an old tab left open): what one tab saved is
    never erased by the other, and a note typed over a newer one is shown, not lost."""
    first, second, third = [i.id for i in fw.items["service"]][:3]
    context = browser.new_context()
    tab_a, tab_b = open_sheet(context, server, "兩頁"), open_sheet(context, server, "兩頁")

    def row(page, item):
        return page.locator(".gk-ws-item", has=page.locator(f".gk-ws-id:text-is('{item}')"))

    def note(page, item, text):
        box = row(page, item).locator("textarea")
        box.click()
        box.fill(text)
        page.locator(".gk-ws-title").click()  # leave the box: saved

    note(tab_a, first, "佐證：使用者訪談紀錄")
    row(tab_a, first).locator(".gk-ws-ok").wait_for()
    row(tab_a, second).locator("label", has_text=re.compile("^符合$")).click()
    row(tab_a, second).locator(".gk-ws-ok").wait_for()
    # Tab b was opened before: it chooses an answer where a wrote a note, and the other way.
    row(tab_b, first).locator("label", has_text=re.compile("^部分符合$")).click()
    row(tab_b, first).locator(".gk-ws-ok").wait_for()
    note(tab_b, second, "補充說明")
    row(tab_b, second).locator(".gk-ws-ok").wait_for()
    stored = server.answers("兩頁")
    assert stored[first] == ("P", "佐證：使用者訪談紀錄")
    assert stored[second] == ("Y", "補充說明")
    tab_b.wait_for_function(
        "([id, text]) => [...document.querySelectorAll('.gk-ws-item')].some(i => "
        "i.querySelector('.gk-ws-id').textContent === id && "
        "i.querySelector('textarea').value === text)",
        arg=[first, "佐證：使用者訪談紀錄"],
    )
    # Both tabs write a note on the same item: the second is refused and shown, not lost.
    note(tab_a, third, "甲分頁")
    row(tab_a, third).locator(".gk-ws-ok").wait_for()
    note(tab_b, third, "乙分頁")
    warning = row(tab_b, third).locator(".gk-ws-warn")
    warning.wait_for()
    assert "乙分頁" in warning.inner_text() and "另一個頁面" in warning.inner_text()
    assert server.answers("兩頁")[third] == (None, "甲分頁")
    context.close()


def test_a_note_with_half_an_emoji_is_refused_on_the_page(server, browser):
    context = browser.new_context()
    page = open_sheet(context, server, "半個表情")
    row = page.locator(".gk-ws-item", has=page.locator(".gk-ws-id:text-is('SV-P01-01')"))
    box = row.locator("textarea")
    box.click()
    # What a browser can send: text cut in the middle of an emoji (a lone surrogate).
    box.evaluate(
        "e => { e.value = '佐證 😀'.slice(0, 4); "
        "e.dispatchEvent(new Event('input', {bubbles: true})); "
        "e.dispatchEvent(new Event('change', {bubbles: true})); }"
    )
    page.locator(".gk-ws-title").click()
    page.locator(".gk-errors", has_text="無法儲存的字元").wait_for()
    assert "未儲存" in row.locator(".gk-ws-status").inner_text()
    assert server.answers("半個表情") == {}
    row.locator("label", has_text=re.compile("^符合$")).click()  # the page goes on working
    row.locator(".gk-ws-ok").wait_for()
    assert server.answers("半個表情") == {"SV-P01-01": ("Y", "")}
    context.close()


def _kernels_and_memory(server) -> tuple[int, int]:
    """(kernels, their resident memory in bytes) of a server, from /proc."""
    pids = server.kernel_pids()
    rss = 0
    for pid in pids.values():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kb = re.search(r"VmRSS:\s+(\d+) kB", status)
        rss += int(kb.group(1)) * 1024 if kb else 0
    return len(pids), rss


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_closed_tabs_free_their_kernels_and_a_stopped_server_leaves_every_answer_in_the_file(
    browser, tmp_path
):
    """Closing or reloading a tab leaves its kernel behind (Voilà's shutdown request is refused,
    voila#1458): kernels without a page are shut down after the cull time (10 s here, 120 s by
    default), an open page keeps its kernel.  Ctrl+C (SIGINT) stops the server; afterwards the
    .sqlite file alone, copied elsewhere, holds every answer (`guidekit validate` on the copy)."""
    server = Server(tmp_path, GUIDEKIT_WORKSHOP_CULL_S="10")
    try:
        assert _kernels_and_memory(server)[0] == 0
        context = browser.new_context()
        pages = []
        for n in range(3):  # three tabs opened and answered, closed together below
            page = open_sheet(context, server, f"關閉{n}")
            row_of(page, "SV-P01-01").locator("label", has_text=re.compile("^不符合$")).click()
            row_of(page, "SV-P01-01").locator(".gk-ws-ok").wait_for()
            pages.append(page)
        kept = open_sheet(context, server, "留著")  # a page still open
        row_of(kept, "SV-P01-01").locator("label", has_text=re.compile("^符合$")).click()
        row_of(kept, "SV-P01-01").locator(".gk-ws-ok").wait_for()
        for page in pages:  # closed together, so a slow machine cannot cull one before the count
            page.close(run_before_unload=True)
        closed = _kernels_and_memory(server)
        # 4 pages were opened; a closed tab's kernel goes only after 10 s without its page.
        assert 2 <= closed[0] <= 4, closed
        # Kernels without a page go; the open page's stays (and keeps working).
        after = _wait_for(
            lambda: (k := _kernels_and_memory(server))[0] == 1 and k, 120, "closed tabs' kernels"
        )
        print(
            f"kernels: {closed[0]} ({closed[1] / 2**20:.0f} MiB) after 3 tabs closed and 1 open; "
            f"{after[0]} ({after[1] / 2**20:.0f} MiB) after the cull time"
        )
        assert after[1] < closed[1]
        # closed at once: an open reader would keep the -wal file beside the store
        with contextlib.closing(sqlite3.connect(server.store)) as db:
            [session] = {
                s
                for (s,) in db.execute(
                    "SELECT DISTINCT session FROM answer_log WHERE respondent = '留著'"
                )
            }
        assert set(server.kernel_pids()) == {session.split(":")[0]}
        row_of(kept, "SV-P01-02").locator("label", has_text=re.compile("^部分符合$")).click()
        row_of(kept, "SV-P01-02").locator(".gk-ws-ok").wait_for()
        context.close()

        # Ctrl+C: the terminal sends SIGINT to the command (and its process group).
        os.killpg(server.process.pid, signal.SIGINT)
        assert server.process.wait(90) == 0
        server._reader.join(10)
        output = "".join(server.output)
        assert f"所有答案都已寫入 {server.store.resolve()}" in output, output
        # nothing beside the store: the README's sign of a crash or a running workshop
        # (a -wal file) must not appear after a normal Ctrl+C
        beside = sorted(p.name for p in server.store.parent.glob(server.store.name + "-*"))
        assert beside == [], beside
    finally:
        server.stop()
    assert not server.kernel_pids()
    copy = tmp_path / "elsewhere" / "copy.sqlite"
    copy.parent.mkdir()
    copy.write_bytes(server.store.read_bytes())  # the .sqlite file only
    checked = subprocess.run(
        [sys.executable, "-m", "guidekit", "validate", str(copy)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # By hand: 關閉0–2 answered SV-P01-01; 留著 answered SV-P01-01 and SV-P01-02 → 5 answers.
    assert f"已讀取 {copy}：5 列" in checked.stdout, checked.stdout
    from guidekit.store import open_store

    with open_store(copy, readonly=True) as stored:
        rows = stored.current()[["respondent", "item_id", "answer"]].values.tolist()
    assert sorted(map(tuple, rows)) == sorted(
        [(f"關閉{n}", "SV-P01-01", "N") for n in range(3)]
        + [("留著", "SV-P01-01", "Y"), ("留著", "SV-P01-02", "P")]
    )
