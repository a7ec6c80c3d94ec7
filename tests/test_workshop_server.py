"""``guidekit workshop``: loopback without a token, any other address only with one, the store
and log passed to the kernels, and a stopped command stopping Voilà and its kernels."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from guidekit.store import STORE_ENV
from guidekit.widgets.errors import LOG_ENV
from guidekit.widgets.server import is_loopback, plan


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("127.0.0.2", True), ("0.0.0.0", False),
                                            ("192.168.1.20", False), ("workshop.example", False)])
def test_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_plan_on_this_computer_only_needs_no_token(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_TOKEN", "from-the-environment")
    p = plan(tmp_path / "s.sqlite", "127.0.0.1", 0, "en")
    assert p.token is None and "JUPYTER_TOKEN" not in p.env
    assert p.url == f"http://127.0.0.1:{p.port}/" and p.port > 0
    assert "--Voila.ip=127.0.0.1" in p.command and "--strip_sources=True" in p.command
    assert "--show_tracebacks=False" in p.command
    assert not any("auto_token" in c for c in p.command)
    assert p.env[STORE_ENV] == str((tmp_path / "s.sqlite").resolve()) and Path(p.env[STORE_ENV]).is_file()
    assert p.env["GUIDEKIT_LANG"] == "en" and LOG_ENV in p.env


def test_plan_for_other_computers_requires_a_token(tmp_path):
    p = plan(tmp_path / "s.sqlite", "0.0.0.0", 8123)
    assert p.token and len(p.token) >= 24
    assert p.env["JUPYTER_TOKEN"] == p.token  # not on the command line (visible in `ps`)
    assert not any(p.token in c for c in p.command)
    assert "--Voila.auto_token=True" in p.command
    assert p.url.endswith(f":8123/?token={p.token}")


def test_a_bad_store_path_fails_before_starting(tmp_path):
    from guidekit.store import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(StoreError):
        plan(blocker / "inside" / "s.sqlite")


@pytest.mark.slow
def test_token_is_required_and_stopping_the_command_stops_voila(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", LOG_ENV: str(tmp_path / "ws.log")}
    process = subprocess.Popen(
        [sys.executable, "-m", "guidekit", "--lang", "en", "workshop", "--store",
         str(tmp_path / "s.sqlite"), "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", env=env,
        start_new_session=True,
    )
    try:
        url = ""
        deadline = time.monotonic() + 120
        lines = []
        while time.monotonic() < deadline and not url:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"(http://\S+)", line)
            url = match.group(1) if match else ""
        assert url, "".join(lines)
        port, token = re.search(r":(\d+)/\?token=(\S+)", url).groups()
        local = f"http://127.0.0.1:{port}/"

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(local, timeout=30)
        assert refused.value.code in (302, 401, 403)
        assert "/login" in (refused.value.headers.get("Location") or "/login")
        with opener.open(f"{local}?token={token}", timeout=60) as response:
            assert response.status == 200
        voila = _group_members(process.pid, "voila")
        assert voila
    finally:
        process.send_signal(signal.SIGTERM)  # as a service manager or `kill` would
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    time.sleep(1)
    for pid in voila:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def _group_members(pgid: int, word: str) -> list[int]:
    """Processes of a process group whose command line contains ``word`` (via /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != pgid:
                continue
            if word in (entry / "cmdline").read_bytes().decode("utf-8", "replace"):
                out.append(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
    return out
