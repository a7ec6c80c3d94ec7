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

from guidekit.problems import GuidekitError
from guidekit.store import STORE_ENV
from guidekit.widgets.errors import LOG_ENV
from guidekit.widgets.server import (
    KEY_ENV,
    check_address,
    is_loopback,
    plan,
    token_required,
    voila_log_path,
)


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("192.168.1.20", False),
        ("workshop.example", False),
    ],
)
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
    assert (
        p.env[STORE_ENV] == str((tmp_path / "s.sqlite").resolve())
        and Path(p.env[STORE_ENV]).is_file()
    )
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
    # Voilà config files that switch the token off, where Voilà would look for them: the
    # working folder and the Jupyter config folder.  They must not be read.
    hostile = '{"Voila": {"token": "", "ip": "0.0.0.0"}}'
    config = tmp_path / "jupyter-config"
    config.mkdir()
    (config / "voila.json").write_text(hostile, encoding="utf-8")
    (tmp_path / "voila.json").write_text(hostile, encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        LOG_ENV: str(tmp_path / "ws.log"),
        "JUPYTER_CONFIG_DIR": str(config),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "guidekit",
            "--lang",
            "en",
            "workshop",
            "--store",
            str(tmp_path / "s.sqlite"),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env=env,
        start_new_session=True,
        cwd=tmp_path,
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
        voila = _children(process.pid, "voila")
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
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def _children(parent: int, word: str) -> list[int]:
    """Child processes of ``parent`` whose command line contains ``word`` (via /proc).

    Voilà runs in a session of its own (Ctrl+C reaches guidekit only), so it is found
    as guidekit's child, not in guidekit's process group."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text(encoding="utf-8")
            ppid = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))
            if ppid != parent:
                continue
            if word in (entry / "cmdline").read_bytes().decode("utf-8", "replace"):
                out.append(int(entry.name))
        except (OSError, ProcessLookupError, AttributeError):
            continue
    return out


def test_the_address_is_tried_before_voila_starts(tmp_path):
    import socket

    from guidekit.problems import GuidekitError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(GuidekitError) as info:
            check_address("127.0.0.1", port)
        assert f"連接埠 {port} 已被其他程式使用" in info.value.text("zh-TW")
        assert f"Port {port} is already in use" in info.value.text("en")
        with pytest.raises(GuidekitError):
            plan(tmp_path / "s.sqlite", "127.0.0.1", port)
    assert check_address("127.0.0.1", port) == port  # free again
    assert check_address("127.0.0.1", 0) > 0
    with pytest.raises(GuidekitError) as info:
        check_address("foo.invalid", 0)
    assert "無法辨識主機名稱「foo.invalid」" in info.value.text("zh-TW")
    with pytest.raises(GuidekitError) as info:
        check_address("192.0.2.1", 0)  # TEST-NET-1: never this computer's address
    assert "不屬於這台電腦" in info.value.text("zh-TW") and "192.0.2.1" in info.value.text("en")


def test_voila_reads_no_config_file_and_the_facilitator_gets_a_key(tmp_path):
    p = plan(tmp_path / "s.sqlite", "127.0.0.1", 0)
    [option] = [c for c in p.command if c.startswith("--Voila.config_file_paths=")]
    folder = Path(option.split("=", 1)[1])
    assert folder == p.config_dir and folder.is_dir() and not any(folder.iterdir())
    assert len(p.key) == 10 and p.env[KEY_ENV] == p.key and not any(p.key in c for c in p.command)
    assert p.facilitator_url == f"http://127.0.0.1:{p.port}/?view=team&key={p.key}"
    assert p.voila_log == voila_log_path(p.log) and p.voila_log.name == "voila.log"
    remote = plan(tmp_path / "s.sqlite", "0.0.0.0", 0)
    assert remote.key != p.key and f"token={remote.token}" in remote.facilitator_url


def _http_server(status: int):
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            if status == 302:
                self.send_header("Location", "/login?next=%2F")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("status, required", [(200, False), (302, True), (403, True)])
def test_a_server_answering_without_the_token_is_noticed(status, required):
    server = _http_server(status)
    try:
        assert token_required("127.0.0.1", server.server_address[1]) is required
    finally:
        server.shutdown()
        server.server_close()


def _run(args, env, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "guidekit", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=timeout,
    )


def test_a_port_in_use_or_a_host_not_here_is_a_message_not_a_traceback(tmp_path):
    import socket

    env = {**os.environ, LOG_ENV: str(tmp_path / "ws.log")}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = _run(["workshop", "--store", str(tmp_path / "b.sqlite"), "--port", port], env)
    assert result.returncode == 2
    assert f"連接埠 {port} 已被其他程式使用" in result.stderr
    assert "已啟動" not in result.stdout and "Traceback" not in result.stdout + result.stderr
    for host in ("foo.invalid", "192.0.2.1"):
        for port in ("0", "8950"):
            result = _run(["--lang", "en", "workshop", "--host", host, "--port", port], env)
            assert result.returncode == 2 and host in result.stderr
            assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.slow
def test_voila_killed_is_said_with_where_its_log_is(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", LOG_ENV: str(tmp_path / "ws.log")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "guidekit",
            "workshop",
            "--store",
            str(tmp_path / "s.sqlite"),
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=env,
        start_new_session=True,
    )
    try:
        line, deadline = "", time.monotonic() + 120
        while "Ctrl+C" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
        [voila] = _children(process.pid, "voila")
        os.kill(voila, signal.SIGKILL)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 2
    assert "工作坊伺服器意外停止（結束代碼 -9）" in err
    assert str(tmp_path / "voila.log") in err and str(tmp_path / "s.sqlite") in err


def test_a_message_with_half_an_emoji_is_packed_not_dropped(tmp_path):
    import json

    from jupyter_client.session import json_packer as standard

    from guidekit.widgets import wire

    message = {"content": {"data": {"state": {"value": "佐證 \ud83d"}}}, "n": 1}
    with pytest.raises(UnicodeEncodeError):
        standard(message)  # what Jupyter does: the message is lost
    packed = wire.json_packer(message)
    assert json.loads(packed) == message and packed.isascii()
    assert wire.json_packer({"v": "正常"}) == standard({"v": "正常"})  # others unchanged
    assert wire.use_in_kernel() is False  # no kernel in a test process
    p = plan(tmp_path / "s.sqlite", "127.0.0.1", 0)
    assert f"--Session.packer={wire.PACKER}" in p.command


def test_the_page_uses_guidekits_template_and_closed_tabs_kernels_are_culled(tmp_path, monkeypatch):
    from guidekit.widgets import server

    monkeypatch.delenv(server.CULL_ENV, raising=False)
    p = plan(tmp_path / "s.sqlite", "127.0.0.1", 0)
    assert "--template=guidekit-workshop" in p.command
    assert "--VoilaExecutor.iopub_timeout=60" in p.command  # a busy computer: no empty page
    root = Path(p.env["JUPYTER_PATH"].split(os.pathsep)[0])
    template = root / "voila" / "templates" / "guidekit-workshop"
    assert (template / "index.html.j2").is_file() and (template / "workshop.js").is_file()
    assert "cdn.jsdelivr.net/npm/@fortawesome" in (template / "index.html.j2").read_text("utf-8")
    assert "--MappingKernelManager.cull_idle_timeout=120" in p.command
    assert "--MappingKernelManager.cull_interval=30" in p.command
    assert "--MappingKernelManager.cull_connected=False" in p.command
    monkeypatch.setenv(server.CULL_ENV, "20")
    p = plan(tmp_path / "s.sqlite", "127.0.0.1", 0)
    assert "--MappingKernelManager.cull_idle_timeout=20" in p.command
    assert "--MappingKernelManager.cull_interval=5" in p.command
    for bad in ("5", "abc", "-30"):
        monkeypatch.setenv(server.CULL_ENV, bad)
        with pytest.raises(GuidekitError) as info:
            plan(tmp_path / "s.sqlite", "127.0.0.1", 0)
        assert server.CULL_ENV in info.value.text("zh-TW") and bad in info.value.text("en")


def test_listening_on_every_address_prints_this_computers_network_addresses(tmp_path, monkeypatch):
    import socket

    from guidekit.widgets import server

    monkeypatch.setattr(server, "lan_addresses", lambda host: ["192.168.1.20", "fd00::2"])
    p = plan(tmp_path / "s.sqlite", "0.0.0.0", 0)
    assert p.lan_urls == [
        f"http://192.168.1.20:{p.port}/?token={p.token}",
        f"http://[fd00::2]:{p.port}/?token={p.token}",
    ]
    assert plan(tmp_path / "s.sqlite", "127.0.0.1", 0).lan_urls == []

    # Which addresses count: no loopback, link-local or unspecified ones; IPv4 first.
    monkeypatch.undo()
    infos = [
        (socket.AF_INET, 1, 6, "", ("127.0.1.1", 0)),
        (socket.AF_INET, 1, 6, "", ("169.254.3.4", 0)),
        (socket.AF_INET, 1, 6, "", ("10.0.0.7", 0)),
        (socket.AF_INET6, 1, 6, "", ("fe80::1%eth0", 0, 0, 2)),
        (socket.AF_INET6, 1, 6, "", ("2001:db8::7", 0, 0, 0)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: infos)

    class NoNetwork(socket.socket):
        def connect(self, address):
            raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "socket", NoNetwork)
    assert server.lan_addresses("0.0.0.0") == ["10.0.0.7"]
    assert server.lan_addresses("::") == ["10.0.0.7", "2001:db8::7"]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: infos[:2])
    assert server.lan_addresses("0.0.0.0") == []
