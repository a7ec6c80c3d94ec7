"""Run report notebooks on one long-lived kernel per worker: papermill stays the engine
of record, the kernel is reused across agencies and reset before each.

Measured (``reference/batch-performance-notes.md``): a kernel start costs ~0.45 s and
the report's imports inside a fresh kernel ~0.5 s, more than the report itself.  So
each worker keeps a :class:`WarmKernel` — a kernel manager *and* its client, both
long-lived (one client per run leaks sockets and a heartbeat thread) — and papermill
executes each agency's notebook on it through the engine :data:`ENGINE_NAME`,
registered in ``papermill.engines.papermill_engines`` (papermill's plug-in registry).
papermill still parameterises the notebook, nbclient still executes it cell by cell
and records outputs and errors exactly as with a fresh kernel.

Before every agency, the first included, the kernel runs
:func:`guidekit.report.isolation.reset` (namespace, modules, working directory,
environment, matplotlib); after a cell ran past its timeout the kernel is still
busy and is replaced, kernel and client together (restarting it under the old
client hung); a kernel that died is replaced too.
"""

from __future__ import annotations

import atexit
import threading
import time
from typing import Any

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import Engine, papermill_engines
from papermill.log import logger

from guidekit.report.kernels import KERNEL_NAME, LocalKernelManager

#: The papermill engine name (``papermill.execute_notebook(engine_name=ENGINE_NAME, warm=…)``).
ENGINE_NAME = "guidekit-warm"

#: Seconds a warm-up or a reset may take before the kernel is taken as broken.
SETUP_TIMEOUT = 120


class KernelBroken(RuntimeError):
    """The kernel did not start, died, or failed its warm-up or reset."""


class WarmKernel:
    """One kernel process and its client, kept for many notebooks.

    Parameters
    ----------
    cwd : str
        Working directory the kernel starts in and is reset to (the notebook's folder).
    startup_timeout : float
        Seconds to wait for the kernel to answer after starting.

    Raises
    ------
    KernelBroken
        If the kernel does not start or its warm-up fails.
    """

    def __init__(self, cwd: str, startup_timeout: float = 60) -> None:
        self.cwd = cwd
        self.km = LocalKernelManager(kernel_name=KERNEL_NAME)
        starter = NotebookClient(
            nbformat.v4.new_notebook(),
            km=self.km,
            kernel_name=KERNEL_NAME,
            startup_timeout=int(startup_timeout),
        )
        try:
            starter.start_new_kernel(cwd=cwd)
            starter.start_new_kernel_client()
        except Exception as exc:
            self.shutdown()
            raise KernelBroken(f"kernel did not start: {type(exc).__name__}: {exc}") from exc
        self.kc = starter.kc
        self.runs = 0
        _started.add(self)
        self.run_code(
            "from guidekit.report import isolation as _gk_isolation\n"
            f"_gk_isolation.warm_up({cwd!r})\n"
            "del _gk_isolation"
        )

    def run_code(self, code: str, timeout: float = SETUP_TIMEOUT) -> None:
        """Run ``code`` silently (no output, no history, no execution count).

        Raises
        ------
        KernelBroken
            If the code fails, the kernel does not answer in ``timeout`` s, or it died.
        """
        try:
            reply = run_sync(self.kc.execute_interactive)(
                code,
                silent=True,
                store_history=False,
                timeout=timeout,
                output_hook=lambda msg: None,
            )
        except Exception as exc:
            raise KernelBroken(f"kernel did not answer: {type(exc).__name__}: {exc}") from exc
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise KernelBroken(
                f"kernel set-up failed: {content.get('ename')}: {content.get('evalue')}"
            )

    def reset(self, cwd: str | None = None) -> None:
        """:func:`guidekit.report.isolation.reset` in the kernel (before every agency)."""
        self.run_code(
            "from guidekit.report import isolation as _gk_isolation\n"
            f"_gk_isolation.reset({(cwd or self.cwd)!r})"
        )

    def alive(self) -> bool:
        try:
            return bool(run_sync(self.km.is_alive)())
        except Exception:
            return False

    def shutdown(self) -> None:
        """Stop the client's channels and the kernel (at once: nothing in it is kept)."""
        _started.discard(self)
        kc = getattr(self, "kc", None)
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:
                pass
        try:
            if self.km.has_kernel:
                run_sync(self.km.shutdown_kernel)(now=True)
        except Exception:
            pass
        try:
            run_sync(self.km.cleanup_resources)()
        except Exception:
            pass


class WarmEngine(Engine):
    """papermill engine: execute the managed notebook on ``warm`` (a :class:`WarmKernel`),
    after resetting it to ``kernel_cwd`` (papermill's own ``cwd`` changes the working
    directory of this whole process, which threads share: not used); ``deadline`` (a :func:`time.monotonic` value) bounds the whole
    notebook, ``execution_timeout`` each cell."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: float | None = None,
        warm: WarmKernel | None = None,
        deadline: float | None = None,
        kernel_cwd: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if warm is None:
            raise ValueError(f"the {ENGINE_NAME} engine needs warm=WarmKernel(...)")
        _local.last = nb_man.nb  # executed in place: what a failed cell leaves, for the log
        warm.reset(kernel_cwd)
        warm.runs += 1

        def cell_timeout(cell: Any) -> int | None:
            limits = [execution_timeout] if execution_timeout else []
            if deadline is not None:
                limits.append(max(1.0, deadline - time.monotonic()))
            return int(max(1, round(min(limits)))) if limits else None

        client = PapermillNotebookClient(
            nb_man,
            km=warm.km,
            kernel_name=kernel_name,
            timeout_func=cell_timeout,
            startup_timeout=start_timeout,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        client.kc = warm.kc
        return client.execute()


papermill_engines.register(ENGINE_NAME, WarmEngine)

_local = threading.local()
#: Every kernel of this process still running (any thread's): :func:`shutdown_all`.
_started: set[WarmKernel] = set()


def worker_kernel(cwd: str) -> WarmKernel:
    """This thread's warm kernel, started (or replaced, when it died) on first use."""
    warm: WarmKernel | None = getattr(_local, "warm", None)
    if warm is not None and not warm.alive():
        warm.shutdown()
        warm = None
    if warm is None:
        warm = WarmKernel(cwd)
        _local.warm = warm
    return warm


def last_notebook() -> Any:
    """The notebook this thread's engine ran last (as far as it got), or None."""
    return getattr(_local, "last", None)


def replace_kernel() -> None:
    """Shut this thread's kernel down (after a timeout or death); the next
    :func:`worker_kernel` starts a fresh one."""
    warm: WarmKernel | None = getattr(_local, "warm", None)
    _local.warm = None
    if warm is not None:
        warm.shutdown()


def shutdown_kernel() -> None:
    """Shut this thread's kernel down, if any (the worker is ending)."""
    replace_kernel()


def shutdown_all() -> None:
    """Shut down every warm kernel of this process (a Dask worker's threads each have
    one); also run when the interpreter exits."""
    for warm in list(_started):
        warm.shutdown()


atexit.register(shutdown_all)
