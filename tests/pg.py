"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a temporary
data folder, loopback only (127.0.0.1 and a Unix socket in that folder), a free port,
password logins (scram-sha-256), stopped and removed at the end of the session.

As root, ``initdb`` and ``postgres`` refuse to run, so they run as the ``postgres``
user (``runuser``), which the Debian package creates.  ``sh tests/run.sh`` installs
the ``postgresql`` package when it is missing.  Set ``GUIDEKIT_TEST_POSTGRES=0`` to
skip the PostgreSQL tests on a machine without it; otherwise a server that cannot
start fails them (never a silent skip).
"""

from __future__ import annotations

import dataclasses
import glob
import itertools
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

SUPERUSER = "guidekit_admin"
DATABASE = "guidekit_test"


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if not versions:
        raise RuntimeError(
            "PostgreSQL server binaries not found (pg_ctl): run `sh tests/run.sh`, which "
            "installs Debian's postgresql package, or set GUIDEKIT_TEST_POSTGRES=0 to skip"
        )
    return Path(versions[-1]).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Cluster:
    """A running throwaway server: ``url(user, password)`` builds a login URL."""

    root: Path
    port: int
    password: str
    bindir: Path
    prefix: list[str]
    _names: itertools.count = dataclasses.field(default_factory=lambda: itertools.count(1))

    def url(
        self, user: str = SUPERUSER, password: str | None = None, schema: str | None = None
    ) -> str:
        password = self.password if password is None else password
        url = f"postgresql://{user}:{quote(password, safe='')}@127.0.0.1:{self.port}/{DATABASE}"
        if schema:
            url += "?options=" + quote(f"-csearch_path={schema}", safe="")
        return url

    def admin(self):  # a psycopg connection as the superuser, autocommit
        import psycopg

        return psycopg.connect(self.url(), autocommit=True)

    def new_schema(self) -> str:
        """An empty schema (a fresh store location) named for this test."""
        name = f"t{os.getpid()}_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return name

    def stop(self) -> None:
        subprocess.run(
            [
                *self.prefix,
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Cluster:
    """initdb + pg_ctl start on 127.0.0.1 and a free port; raises with the server log."""
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="guidekit-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    password = secrets.token_urlsafe(12) + "@:/?"  # characters a URL must quote
    pwfile = root / "pw"
    pwfile.write_text(password + "\n", encoding="utf-8")
    if prefix:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    pwfile.chmod(0o600)

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = root / "server.log"
            tail = log.read_text(encoding="utf-8", errors="replace")[-2000:] if log.exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise RuntimeError(f"{args[0]} failed: {done.stdout}{done.stderr}{tail}")

    run(
        str(bindir / "initdb"), "-D", str(root / "data"), "-U", SUPERUSER,
        f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        "--no-sync",
    )  # fmt: skip
    pwfile.unlink()
    port = _free_port()
    options = " ".join(
        [
            "-c listen_addresses=127.0.0.1",
            f"-c port={port}",
            f"-c unix_socket_directories={root}",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c max_connections=60",
        ]
    )
    run(str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "server.log"),
        "-o", options, "-w", "-t", "60", "start")  # fmt: skip
    cluster = Cluster(root, port, password, bindir, prefix)
    try:
        import psycopg

        with psycopg.connect(cluster.url().rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
            c.execute(f"CREATE DATABASE {DATABASE}")
    except Exception:
        cluster.stop()
        raise
    return cluster
