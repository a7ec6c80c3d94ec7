"""``guidekit workshop``: serve ``notebooks/workshop.ipynb`` through Voilà.

Voilà runs the notebook in a fresh kernel per page and shows only its widgets
(no code, no tracebacks).  The store, the language and the log file are passed
to the kernels through environment variables (:data:`guidekit.store.STORE_ENV`,
``GUIDEKIT_LANG``, :data:`guidekit.widgets.errors.LOG_ENV`).

Security: the server listens on 127.0.0.1 by default (this computer only, no
token).  Listening on any other address lets other computers in; then a random
token is required (passed to Voilà through ``JUPYTER_TOKEN``, so it does not
show in the process list) and printed as part of the address to give to the
workshop's participants.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from ..paths import notebooks_dir
from ..problems import GuidekitError
from ..store import STORE_ENV, default_store_path, open_store
from .errors import LOG_ENV, log_path

#: Hosts that only this computer can reach (no token needed).
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

#: Seconds to wait for Voilà to start listening.
START_TIMEOUT_S = 90.0

#: Seconds a kernel with no page connected may idle before Voilà shuts it down.
CULL_IDLE_S = 900


def is_loopback(host: str) -> bool:
    """True if ``host`` is reachable from this computer only."""
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class Plan:
    """How the server will be started: the command, its environment and the page address."""

    command: list[str]
    env: dict[str, str]
    url: str
    token: str | None
    store: Path
    log: Path
    host: str
    port: int


def plan(
    store: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8866,
    lang: str | None = None,
    notebook: str | Path | None = None,
) -> Plan:
    """Work out the Voilà command line, environment and address (starts nothing).

    Parameters
    ----------
    store : path, optional
        The answer store; default :func:`guidekit.store.default_store_path`.
    host : str
        Address to listen on; anything but loopback requires a token.
    port : int
        TCP port; 0 picks a free one.
    lang : str, optional
        Page language (zh-TW or en).
    notebook : path, optional
        Default: the bundled ``notebooks/workshop.ipynb``.

    Raises
    ------
    GuidekitError
        If the notebook is missing.
    StoreError
        If the store cannot be opened (it is created here when missing).
    """
    path = Path(store).expanduser() if store is not None else default_store_path()
    with open_store(path) as opened:  # create it now: a bad path fails here, not in the page
        path = Path(opened.location)
    notebook = Path(notebook) if notebook is not None else notebooks_dir() / "workshop.ipynb"
    if not notebook.is_file():
        raise GuidekitError(f"workshop notebook not found: {notebook}")
    if port == 0:
        port = free_port("127.0.0.1" if host in ("0.0.0.0", "::") else host)
    env = dict(os.environ)
    env.pop("JUPYTER_TOKEN", None)
    env.pop("JUPYTER_TOKEN_FILE", None)
    env[STORE_ENV] = str(path)
    env[LOG_ENV] = str(log_path())
    if lang:
        env["GUIDEKIT_LANG"] = lang
    command = [
        sys.executable, "-m", "voila", str(notebook),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={host}",
        "--Voila.port_retries=0",
        "--strip_sources=True",
        "--show_tracebacks=False",
        "--theme=light",
        "--Voila.log_level=WARN",
        # A page closed without saying goodbye leaves its kernel behind; after this long
        # without a connection it is shut down (answers are in the store already).
        f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE_S}",
        "--MappingKernelManager.cull_interval=60",
    ]
    token = None
    if not is_loopback(host):
        token = secrets.token_urlsafe(24)
        env["JUPYTER_TOKEN"] = token
        command.append("--Voila.auto_token=True")
    shown = host if host not in ("0.0.0.0", "::") else socket.gethostname()
    if ":" in shown:
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}/"
    if token:
        url += "?" + urllib.parse.urlencode({"token": token})
    return Plan(command, env, url, token, path, Path(env[LOG_ENV]), host, port)


def wait_until_listening(host: str, port: int, process: subprocess.Popen[bytes] | None = None,
                         timeout: float = START_TIMEOUT_S) -> bool:
    """Wait until something accepts TCP connections on (host, port); False on timeout
    or when ``process`` exits first."""
    target = "127.0.0.1" if host in ("0.0.0.0", "localhost") else ("::1" if host == "::" else host)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            with socket.create_connection((target, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def serve(
    store: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8866,
    lang: str | None = None,
    say: Callable[[str, str], None] | None = None,
) -> int:
    """Run the workshop server until Ctrl+C; returns Voilà's exit status.

    ``say(zh, en)`` prints a message in the user's language.

    Raises
    ------
    GuidekitError
        If Voilà does not start (e.g. the port is taken).
    """
    say = say or (lambda zh, en: print(zh))
    p = plan(store, host, port, lang)
    process = subprocess.Popen(p.command, env=p.env)
    if threading.current_thread() is threading.main_thread():
        # Stopped by a service manager or `kill`: stop Voilà (and its kernels) too.
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not wait_until_listening(p.host, p.port, process):
            code = process.poll()
            if code is None:
                process.terminate()
            raise GuidekitError(
                f"the workshop server did not start on {p.host}:{p.port} "
                f"(is the port in use? try --port 0)"
            )
        say(f"自評工作坊已啟動：{p.url}", f"The workshop is running at {p.url}")
        say(f"  答案儲存於：{p.store}", f"  Answers are stored in: {p.store}")
        say(f"  錯誤記錄檔：{p.log}", f"  Error log: {p.log}")
        if p.token:
            say(
                "  已開放其他電腦連線：請只把上面含 token 的網址給工作坊成員。",
                "  Other computers can connect: give the address above, with its token, "
                "to the workshop's members only.",
            )
        say("  按 Ctrl+C 結束。", "  Press Ctrl+C to stop.")
        return process.wait()
    except KeyboardInterrupt:
        return _stop(process)
    finally:
        if process.poll() is None:
            _stop(process)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
