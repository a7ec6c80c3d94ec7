"""``guidekit workshop``: serve ``notebooks/workshop.ipynb`` through Voilà.

Voilà runs the notebook in a fresh kernel per page and shows only its widgets
(no code, no tracebacks).  The store, the language and the log file are passed
to the kernels through environment variables (:data:`guidekit.store.STORE_ENV`,
``GUIDEKIT_LANG``, :data:`guidekit.widgets.errors.LOG_ENV`).

Security: the server listens on 127.0.0.1 by default (this computer only, no
token).  Listening on any other address lets other computers in; then a random
token is required (passed to Voilà through ``JUPYTER_TOKEN``, so it does not
show in the process list) and printed as part of the address to give to the
workshop's participants; after start, a request without it must be refused, or
the server is stopped.  Voilà reads no configuration file (a ``voila.json`` in
the working folder or the Jupyter config folders could switch the token off):
its config search path is an empty folder of this run.  The facilitator view
needs a separate facilitator key (:data:`guidekit.widgets.app.KEY_ENV`),
printed for the facilitator only.

Before starting, the address and port are tried (a bind test): an unknown host,
an address that is not this computer's, or a port in use is a readable error,
not a Voilà traceback.  Voilà's own output goes to its log file
(:func:`voila_log_path`), named when something goes wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guidekit import i18n
from guidekit.paths import notebooks_dir
from guidekit.problems import GuidekitError
from guidekit.render import TEMPLATES
from guidekit.store import STORE_ENV, SQLiteStore, default_store_path, is_store_url, open_store
from guidekit.widgets import wire
from guidekit.widgets.errors import LOG_ENV, log_path
from guidekit.widgets.model import shell_command

#: Environment variable with the facilitator key, read by the workshop page
#: (:class:`guidekit.widgets.app.Workshop`): the facilitator view needs it.
KEY_ENV = "GUIDEKIT_FACILITATOR_KEY"

#: Hosts that only this computer can reach (no token needed).
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

#: Seconds to wait for Voilà to start listening.
START_TIMEOUT_S = 90.0

#: Seconds a kernel with no page connected may idle before Voilà shuts it down.  Every
#: closed or reloaded tab leaves its kernel (~120 MB) behind: Voilà's shutdown request on
#: closing a tab is refused for a missing _xsrf argument (voila-dashboards/voila#1458).  A
#: page that is still open keeps its connection and is never shut down (cull_connected is
#: off); its answers are in the store already.  ``$GUIDEKIT_WORKSHOP_CULL_S`` changes it.
CULL_IDLE_S = 120

#: How often (seconds) Voilà looks for such kernels.
CULL_INTERVAL_S = 30

#: Seconds Voilà waits for a page's widget messages after running the notebook.
IOPUB_TIMEOUT_S = 60

#: Environment variable overriding :data:`CULL_IDLE_S` (seconds, at least 10).
CULL_ENV = "GUIDEKIT_WORKSHOP_CULL_S"

#: The Voilà template of the workshop page (Voilà's "lab" template, nothing from the internet,
#: keyboard help): found through JUPYTER_PATH in this folder.
TEMPLATE_NAME = "guidekit-workshop"
TEMPLATE_ROOT = TEMPLATES.resolve() / "workshop" / "jupyter"


def is_loopback(host: str) -> bool:
    """True if ``host`` is reachable from this computer only."""
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now.

    Raises
    ------
    GuidekitError
        If ``host`` cannot be used (see :func:`check_address`).
    """
    return check_address(host, 0)


def check_address(host: str, port: int) -> int:
    """Try to listen on (host, port) the way Voilà will (then let go); returns the port
    (a free one for ``port=0``).

    Raises
    ------
    GuidekitError
        In the user's words: the host name is unknown, the address is not this
        computer's, the port is in use or needs administrator rights.
    """
    try:
        infos = socket.getaddrinfo(
            host or None, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise i18n.error("workshop.server.host_unknown", host=host, detail=_detail(exc)) from None
    chosen = port
    seen: set[tuple[int, str]] = set()
    for family, kind, proto, _, address in infos:
        if (family, address[0]) in seen:
            continue
        seen.add((family, address[0]))
        try:
            with socket.socket(family, kind, proto) as sock:
                if os.name != "nt":  # as tornado does: a port in TIME_WAIT is free
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((address[0], chosen, *address[2:]))
                chosen = int(sock.getsockname()[1])
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise i18n.error("workshop.server.port_taken", port=chosen or port) from None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise i18n.error("workshop.server.port_denied", port=port) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise i18n.error(
                    "workshop.server.host_not_here", host=host, detail=_detail(exc)
                ) from None
            if exc.errno == errno.EAFNOSUPPORT:
                continue  # e.g. no IPv6 on this computer: Voilà skips it too
            raise i18n.error(
                "workshop.server.bind_failed", host=host, port=port, detail=_detail(exc)
            ) from None
    return chosen


def _detail(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def voila_log_path(log: Path | None = None) -> Path:
    """Where Voilà's own output goes: ``voila.log`` next to the workshop log."""
    return (log or log_path()).with_name("voila.log")


def new_key() -> str:
    """A facilitator key: 10 characters, easy to read aloud and type (no 0/O, 1/l/I)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


@dataclasses.dataclass
class Plan:
    """How the server will be started: the command, its environment and the page address."""

    command: list[str]
    env: dict[str, str]
    url: str
    token: str | None
    #: The store as shown: a path, or a ``postgresql://`` URL without its password (the
    #: kernels get the full location through :data:`~guidekit.store.STORE_ENV`).
    store: Path | str
    log: Path
    host: str
    port: int
    #: The facilitator key (the facilitator view needs it) and the facilitator's address.
    key: str = ""
    facilitator_url: str = ""
    #: Voilà's own output (stdout and stderr).
    voila_log: Path | None = None
    #: An empty folder of this run: Voilà's only config search path.
    config_dir: Path | None = None
    #: With ``--host 0.0.0.0`` / ``::``: the address by each of this computer's network
    #: addresses (other computers may not resolve its name).
    lan_urls: list[str] = dataclasses.field(default_factory=list)


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
    store : path or str, optional
        The answer store: an SQLite file, or a ``postgresql://`` URL (several workshop
        servers may share one database); default :func:`guidekit.store.default_store_path`.
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
        If the notebook is missing, or the address or port cannot be used
        (:func:`check_address`).
    StoreError
        If the store cannot be opened or is another program's database (it is
        created here when missing).
    """
    location = store if store is not None else default_store_path()
    if not is_store_url(location):
        location = Path(location).expanduser()
    with open_store(location) as opened:  # create it now: a bad path fails here, not in the page
        path: Path | str = opened.location if is_store_url(location) else Path(opened.location)
        full = str(location).strip() if is_store_url(location) else str(path)
    notebook = Path(notebook) if notebook is not None else notebooks_dir() / "workshop.ipynb"
    if not notebook.is_file():
        raise GuidekitError(
            f"workshop notebook not found: {notebook}", zh=f"找不到工作坊筆記本：{notebook}"
        )
    port = check_address(host, port)
    env = dict(os.environ)
    env.pop("JUPYTER_TOKEN", None)
    env.pop("JUPYTER_TOKEN_FILE", None)
    env[STORE_ENV] = full  # a URL may hold its password: only in the kernels' environment
    env[LOG_ENV] = str(log_path())
    key = new_key()
    env[KEY_ENV] = key
    if lang:
        env["GUIDEKIT_LANG"] = lang
    env["JUPYTER_PATH"] = os.pathsep.join(
        [str(TEMPLATE_ROOT), *filter(None, [os.environ.get("JUPYTER_PATH", "")])]
    )
    cull = cull_idle_seconds()
    config_dir = Path(tempfile.mkdtemp(prefix="guidekit-voila-config-"))
    command = [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        # No voila.json / voila.py from the working folder or the Jupyter config folders:
        # such a file could switch the token off (command-line options win over files,
        # but a file may set anything not given here).
        f"--Voila.config_file_paths={config_dir}",
        # Messages with a lone surrogate (half an emoji) reach the kernel instead of vanishing.
        f"--Session.packer={wire.PACKER}",
        f"--port={port}",
        f"--Voila.ip={host}",
        "--Voila.port_retries=0",
        "--strip_sources=True",
        "--show_tracebacks=False",
        "--theme=light",
        f"--template={TEMPLATE_NAME}",
        # Building a sheet sends ~1,500 widget messages; on a busy computer they can take
        # longer than nbclient's 4 s, and the page then came up empty ("Timeout waiting for
        # IOPub output").  Waiting costs nothing when they arrive in time.
        f"--VoilaExecutor.iopub_timeout={IOPUB_TIMEOUT_S}",
        "--Voila.log_level=WARN",
        # A closed tab leaves its kernel behind (see CULL_IDLE_S); after this long without
        # a connection it is shut down (answers are in the store already).
        f"--MappingKernelManager.cull_idle_timeout={cull}",
        f"--MappingKernelManager.cull_interval={max(5, min(CULL_INTERVAL_S, cull // 4))}",
        "--MappingKernelManager.cull_connected=False",
    ]
    token = None
    if not is_loopback(host):
        token = secrets.token_urlsafe(24)
        env["JUPYTER_TOKEN"] = token
        command.append("--Voila.auto_token=True")
    shown = host if host not in ("0.0.0.0", "::") else socket.gethostname()
    query = {"token": token} if token else {}
    url = _address(shown, port, query)
    facilitator_url = _address(shown, port, {**query, "view": "team", "key": key})
    # Other laptops may not resolve this computer's name: its network addresses too.
    lan_urls = (
        [_address(a, port, query) for a in lan_addresses(host)] if host in ("0.0.0.0", "::") else []
    )
    log = Path(env[LOG_ENV])
    return Plan(
        command,
        env,
        url,
        token,
        path,
        log,
        host,
        port,
        key,
        facilitator_url,
        voila_log_path(log),
        config_dir,
        lan_urls,
    )


def _address(host: str, port: int, query: dict[str, str]) -> str:
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    return url + "?" + urllib.parse.urlencode(query) if query else url


def cull_idle_seconds() -> int:
    """:data:`CULL_IDLE_S`, or ``$GUIDEKIT_WORKSHOP_CULL_S`` (whole seconds, at least 10).

    Raises
    ------
    GuidekitError
        If the variable is set to something else.
    """
    raw = os.environ.get(CULL_ENV, "").strip()
    if not raw:
        return CULL_IDLE_S
    if not raw.isdigit() or int(raw) < 10:
        raise i18n.error("workshop.server.cull_bad", name=CULL_ENV, value=raw)
    return int(raw)


def lan_addresses(host: str = "0.0.0.0") -> list[str]:
    """This computer's network addresses other computers can use (no loopback, no
    link-local), IPv4 first; for ``host="::"`` IPv6 ones too.  Found from the host
    name and from the address the system would send from (a UDP socket that is
    connected but sends nothing); empty when the computer has no network."""
    found: list[str] = []
    families = [socket.AF_INET] + ([socket.AF_INET6] if host == "::" else [])
    with contextlib.suppress(OSError, UnicodeError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_UNSPEC):
            if info[0] in families:
                found.append(str(info[4][0]))
    probes = {socket.AF_INET: ("192.0.2.1", 9), socket.AF_INET6: ("2001:db8::1", 9)}
    for family in families:
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(probes[family])  # UDP: chooses a route, sends nothing
            found.append(str(sock.getsockname()[0]))
    out = []
    for address in dict.fromkeys(found):
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            continue
        if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
            continue
        out.append(str(ip))
    return sorted(out, key=lambda a: (":" in a, a))


def wait_until_listening(
    host: str,
    port: int,
    process: subprocess.Popen[bytes] | None = None,
    timeout: float = START_TIMEOUT_S,
) -> bool:
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
    """Run the workshop server until Ctrl+C; returns 0 when stopped that way.

    ``say(zh, en)`` prints a message in the user's language.

    Raises
    ------
    GuidekitError
        If the address or port cannot be used, Voilà does not start, answers
        without the token although one is required, or stops unexpectedly (each
        says where Voilà's log is).
    """
    say = say or (lambda zh, en: print(zh))
    p = plan(store, host, port, lang)
    assert p.voila_log is not None
    p.voila_log.parent.mkdir(parents=True, exist_ok=True)
    output = p.voila_log.open("ab")
    try:
        # Voilà in its own session (POSIX): Ctrl+C in the terminal signals this command only,
        # which then stops Voilà in order: Voilà shuts its kernels down, they close the store,
        # and the checkpoint below is the last connection, so no -wal/-shm file is left.
        # (Interrupted together with us, Voilà's shutdown was cut short and kernels kept the
        # store open while it was settled.)
        process = subprocess.Popen(
            p.command,
            env=p.env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=os.name == "posix",
        )
    except BaseException:
        output.close()
        _cleanup(p)
        raise
    if threading.current_thread() is threading.main_thread():
        # Stopped by a service manager or `kill`: stop Voilà (and its kernels) too.  Ctrl+C
        # (SIGINT) stops it even where it was started ignoring SIGINT (`command &` in a script).
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        if hasattr(signal, "SIGHUP"):  # the terminal closed: Voilà, in its own session, is
            signal.signal(signal.SIGHUP, _interrupt)  # not told, so stop it from here
    values = {"host": p.host, "port": p.port, "log": str(p.voila_log), "store": str(p.store)}
    settled = False
    try:
        if not wait_until_listening(p.host, p.port, process):
            raise i18n.error("workshop.server.not_started", **values)
        if p.token and not token_required(p.host, p.port):
            raise i18n.error("workshop.server.token_off")
        say(f"自評工作坊已啟動：{p.url}", f"The workshop is running at {p.url}")
        if p.host in ("0.0.0.0", "::"):
            for url in p.lan_urls:
                say(*(i18n.t("workshop.server.lan", lg, url=url) for lg in ("zh-TW", "en")))
            if not p.lan_urls:
                say(*(i18n.t("workshop.server.lan_none", lg) for lg in ("zh-TW", "en")))
        say(f"  答案儲存於：{p.store}", f"  Answers are stored in: {p.store}")
        say(f"  錯誤記錄檔：{p.log}", f"  Error log: {p.log}")
        say(*(i18n.t("workshop.server.voila_log", lg, path=p.voila_log) for lg in ("zh-TW", "en")))
        if p.token:
            say(
                "  已開放其他電腦連線：請只把上面含 token 的網址給工作坊成員。",
                "  Other computers can connect: give the address above, with its token, "
                "to the workshop's members only.",
            )
        say(
            *(
                i18n.t("workshop.server.facilitator", lg, url=p.facilitator_url)
                for lg in ("zh-TW", "en")
            )
        )
        say(*(i18n.t("workshop.server.key", lg, key=p.key) for lg in ("zh-TW", "en")))
        say("  按 Ctrl+C 結束。", "  Press Ctrl+C to stop.")
        code = process.wait()
        raise i18n.error("workshop.server.stopped", code=code, **values)
    except KeyboardInterrupt:
        _stop(process)
        _settle(p.store, say)
        settled = True
        return 0
    finally:
        if process.poll() is None:
            _stop(process)
        output.close()
        _cleanup(p)
        if not settled and not is_store_url(p.store):
            # stopped unexpectedly: the answers go into the .sqlite file all the same
            with contextlib.suppress(GuidekitError):
                settle_store(Path(p.store))


def token_required(host: str, port: int) -> bool:
    """True if the server refuses a page request without the token (a redirect to the
    login page, 401 or 403), as Voilà does when a token is set."""
    target = "127.0.0.1" if host in ("0.0.0.0", "localhost") else ("::1" if host == "::" else host)
    if ":" in target:
        target = f"[{target}]"

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(f"http://{target}:{port}/", timeout=60):
            return False  # the page itself was served without a token
    except urllib.error.HTTPError as exc:
        return exc.code in (301, 302, 303, 307, 401, 403)
    except (OSError, urllib.error.URLError):
        return False


def settle_store(path: Path) -> bool:
    """After the server stopped: copy every change still in the store's ``-wal`` file into
    the ``.sqlite`` file (:meth:`guidekit.store.SQLiteStore.checkpoint`), so that file
    alone holds every answer (a kernel that was shut down or killed may have left them in
    the ``-wal`` file).  Returns True when it did; False if another program kept it from
    finishing (nothing is lost then: the rest stays in the ``-wal`` file)."""
    store = SQLiteStore(path)
    try:
        done = store.checkpoint()
    finally:
        store.close()
    return done


def _settle(path: Path | str, say: Callable[[str, str], None]) -> None:
    if is_store_url(path):  # a database: every answer was committed there as it was saved
        say(*(i18n.t("workshop.server.settled_db", lg, path=path) for lg in ("zh-TW", "en")))
        return
    try:
        done = settle_store(path)
    except GuidekitError:
        done = False
    say(*settle_message(path, done))


def settle_message(path: Path, done: bool) -> tuple[str, str]:
    """What the stopped workshop says about its store (zh-TW, en): every answer is in
    the one file, or which ``guidekit backup`` command copies it completely (quoted
    for a shell by :func:`~guidekit.widgets.model.shell_command`: the path may hold
    spaces or shell characters)."""
    if done:
        return (
            i18n.t("workshop.server.settled", "zh-TW", path=str(path)),
            i18n.t("workshop.server.settled", "en", path=str(path)),
        )

    def command(copy: str) -> str:
        args = ["guidekit", "backup", str(path), copy]
        return shell_command(args) or " ".join(args)

    return (
        i18n.t(
            "workshop.server.unsettled", "zh-TW", path=str(path), command=command("備份.sqlite")
        ),
        i18n.t("workshop.server.unsettled", "en", path=str(path), command=command("copy.sqlite")),
    )


def _cleanup(p: Plan) -> None:
    if p.config_dir is not None:
        shutil.rmtree(p.config_dir, ignore_errors=True)


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
