"""Kernels for executing report notebooks.

* **No port races.** Several report kernels started at the same time on TCP can
  collide on ports (a free port is picked, then bound a moment later by the
  kernel; another process may take it in between — seen here as ``ZMQError:
  Address already in use`` in a batch of 54).  On POSIX systems the kernels
  therefore talk over IPC (Unix domain sockets beside the kernel's connection
  file): no ports, no collisions.  Windows keeps TCP.
* **The running Python.**  Report kernels run the interpreter guidekit itself
  runs in (:data:`sys.executable`), through :data:`KERNEL_NAME` and
  :class:`CurrentPythonKernelSpecManager`, whatever kernelspecs the user has
  installed: a user-level ``python3`` kernelspec written from another
  environment (``python -m ipykernel install --user``) would otherwise win and
  run code without guidekit, or an older guidekit.
* **No tracebacks at the user.** What a kernel process itself prints (start-up
  failures, shutdown noise) goes to :data:`kernel_log` when set, not to the
  terminal; what a notebook cell prints still reaches the notebook.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from guidekit import i18n
from guidekit.paths import package_dir
from guidekit.problems import GuidekitError

#: The kernel name report notebooks are run with: always the running interpreter.
KERNEL_NAME = "guidekit-python"

#: File that kernel processes' own stdout/stderr are appended to (None: inherit).
kernel_log: str | None = None


def kernel_argv() -> list[str]:
    """How a report kernel is started: this interpreter, ``-m ipykernel_launcher``."""
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


class CurrentPythonKernelSpecManager(KernelSpecManager):
    """Kernelspecs as usual, except :data:`KERNEL_NAME`, which is always the
    interpreter guidekit runs in (not looked up on disk, so no installed
    kernelspec can replace it)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        if kernel_name == KERNEL_NAME:
            return KernelSpec(
                argv=kernel_argv(),
                name=KERNEL_NAME,
                display_name=f"Python {sys.version_info.major}.{sys.version_info.minor} (guidekit)",
                language="python",
                metadata={"debugger": False},
            )
        return super().get_kernel_spec(kernel_name)


def check_kernel_python(cwd: str | Path | None = None) -> None:
    """Check once that this interpreter can run a report kernel that imports this guidekit.

    Runs ``sys.executable`` the way a kernel starts (in ``cwd``, the notebook's
    folder) and asks where it finds ``ipykernel_launcher`` and ``guidekit``;
    nothing is imported but module specs.

    Raises
    ------
    GuidekitError
        If ipykernel is missing from this Python, or the kernel would import
        another copy of guidekit (or none): the message names the interpreter and
        says how to fix it.
    """

    here = os.path.realpath(package_dir())
    probe = (
        "import importlib.util as u, json, os\n"
        "k = u.find_spec('ipykernel_launcher')\n"
        "g = u.find_spec('guidekit')\n"
        "print(json.dumps([k is not None, "
        "os.path.dirname(os.path.realpath(g.origin)) if g and g.origin else None]))"
    )
    try:
        run = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=cwd,
            timeout=120,
            check=False,
        )
        has_kernel, found = json.loads(run.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.SubprocessError) as exc:
        has_kernel, found = False, f"{type(exc).__name__}: {exc}"

    def fail(key: str, **values: Any) -> GuidekitError:
        values = {"python": sys.executable, "here": here, "found": found, **values}
        return GuidekitError(i18n.t(key, "en", **values), zh=i18n.t(key, "zh-TW", **values))

    if not has_kernel:
        raise fail("batch.kernel.no_ipykernel")
    if found is None or os.path.normcase(found) != os.path.normcase(here):
        raise fail("batch.kernel.other_guidekit")


class LocalKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` using IPC transport where the OS has Unix sockets,
    writing the kernel process's own output to :data:`kernel_log`, and running
    :data:`KERNEL_NAME` with this interpreter (:class:`CurrentPythonKernelSpecManager`)."""

    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> KernelSpecManager:
        return CurrentPythonKernelSpecManager(data_dir=self.data_dir)

    @default("transport")
    def _default_transport(self) -> str:
        return "ipc" if os.name == "posix" else "tcp"

    def _ip_default(self) -> str:
        # jupyter_client's IPC default is "kernel-ipc" in the working directory when no
        # connection file is known yet: every kernel started there would share the same
        # sockets (seen: "Invalid Signature" between two workers).  One unique path each.
        if self.transport == "ipc":
            return os.path.join(tempfile.gettempdir(), f"guidekit-kernel-{uuid.uuid4().hex}")
        return super()._ip_default()

    async def _async_start_kernel(self, **kw: Any) -> None:
        if kernel_log and "stderr" not in kw:
            with open(kernel_log, "a", encoding="utf-8") as fh:
                kw["stdout"] = kw["stderr"] = fh
                return await super()._async_start_kernel(**kw)
        return await super()._async_start_kernel(**kw)

    start_kernel = _async_start_kernel
