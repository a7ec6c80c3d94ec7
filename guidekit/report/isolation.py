"""Inside a report kernel reused across agencies: warm it up once, reset it before each agency.

A batch runs many agencies' report notebooks on one long-lived kernel per worker
(:mod:`guidekit.report.engine`), so what one agency's notebook leaves behind must
not reach the next one's report.  This module runs *in the kernel*: the engine
calls :func:`warm_up` once after the kernel starts and :func:`reset` before every
agency, the first included (the warm-up's own names would otherwise show in the
first agency's namespace).

:func:`reset` restores what :func:`warm_up` recorded:

* the user namespace and history: ``get_ipython().reset(new_session=True)``
  (execution count back to 1; ``%reset -f`` with a hand-set counter made IPython
  write "Session/line number was not unique in database" into outputs);
* modules imported since the warm-up whose top-level package was not loaded then
  (a notebook's own or a third-party module: its import side effects run again
  next time).  Lazily loaded submodules of packages already loaded (``numpy.linalg``
  …) stay: extension modules cannot always be loaded twice in one process;
* ``sys.path``, the working directory (``cwd``, the notebook's folder), every
  environment variable, the warning filters;
* matplotlib: every figure closed, ``rcParams`` as after the warm-up.

What it does not restore: changes made *inside* modules loaded at warm-up (an
attribute set on ``pandas``, pandas' display options), files written, threads started.  The report
notebook does none of these; the batch's test proves the rest
(tests/test_engine.py).  The round's data loaded by
:meth:`guidekit.report.RoundData.load` stays in memory between agencies of one
batch on purpose (the same read-only file, unpickled once per kernel).
"""

from __future__ import annotations

import gc
import os
import sys
import warnings
from typing import Any

#: What :func:`warm_up` recorded; None before it ran.
_saved: dict[str, Any] | None = None

#: Modules every report imports: loaded once per kernel, before the snapshot.
PRELOAD = ("guidekit.report", "guidekit.report.context", "matplotlib", "matplotlib.pyplot")


def warm_up(cwd: str | None = None) -> None:
    """Import what reports need, record the state :func:`reset` restores, and freeze
    the objects alive now out of the garbage collector's way (``gc.freeze``: the
    reset's collection then walks only what agencies made, ~12 ms instead of ~65)."""
    global _saved
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    if cwd is not None:
        os.chdir(cwd)
    import matplotlib

    _saved = {
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "path": list(sys.path),
        "modules": set(sys.modules),
        "packages": {name.partition(".")[0] for name in sys.modules},
        "filters": list(warnings.filters),
        "rc": dict(matplotlib.rcParams),
    }
    gc.collect()
    gc.freeze()


def reset(cwd: str) -> None:
    """Bring the kernel back to the state :func:`warm_up` recorded, working in ``cwd``.

    Raises
    ------
    RuntimeError
        If :func:`warm_up` has not run in this kernel.
    """
    if _saved is None:
        raise RuntimeError("guidekit.report.isolation.warm_up() has not run in this kernel")
    import matplotlib
    import matplotlib.pyplot as plt
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.reset(new_session=True)
        shell.execution_count = 1
    plt.close("all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matplotlib.rcParams.clear()
        matplotlib.rcParams.update(_saved["rc"])
    for name in [m for m in sys.modules if m not in _saved["modules"]]:
        if name.partition(".")[0] not in _saved["packages"]:
            del sys.modules[name]
    sys.path[:] = _saved["path"]
    warnings.filters[:] = _saved["filters"]
    warnings._filters_mutated()  # type: ignore[attr-defined]
    os.environ.clear()
    os.environ.update(_saved["environ"])
    os.chdir(cwd)
    gc.collect()
