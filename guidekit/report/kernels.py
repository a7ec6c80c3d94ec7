"""Kernels for executing report notebooks.

* **No port races.** Several report kernels started at the same time on TCP can
  collide on ports (a free port is picked, then bound a moment later by the
  kernel; another process may take it in between — seen here as ``ZMQError:
  Address already in use`` in a batch of 54).  On POSIX systems the kernels
  therefore talk over IPC (Unix domain sockets beside the kernel's connection
  file): no ports, no collisions.  Windows keeps TCP.
* **No tracebacks at the user.** What a kernel process itself prints (start-up
  failures, shutdown noise) goes to :data:`kernel_log` when set, not to the
  terminal; what a notebook cell prints still reaches the notebook.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import default

#: File that kernel processes' own stdout/stderr are appended to (None: inherit).
kernel_log: str | None = None


class LocalKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` using IPC transport where the OS has Unix sockets,
    and writing the kernel process's own output to :data:`kernel_log`."""

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
