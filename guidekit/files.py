"""Writing files so that a crash never leaves half a file, and others can read them.

A file is written to a temporary name in its folder, then renamed over the
target (atomic on POSIX and Windows).  ``tempfile.mkstemp`` creates files that
only their owner can read (0600); the result here gets the permissions a
normal ``open(path, "w")`` would give (0666 minus the user's umask), so reports
on a shared drive or behind a web server stay readable.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | Path, data: str | bytes, encoding: str | None = None) -> Path:
    """Write ``data`` to ``path`` atomically; return the path.

    Parameters
    ----------
    path : path
        Target file; its folder is created if needed.
    data : str or bytes
        Text needs ``encoding`` (e.g. ``"utf-8"``, ``"utf-8-sig"`` for files Excel
        opens); bytes are written as they are.
    encoding : str, optional
        Required for text.

    Raises
    ------
    ValueError
        If text is given without an encoding.
    OSError
        If the file cannot be written (read-only folder, full disk …); its
        ``filename`` is ``path``, never the temporary file.
    """
    path = Path(path)
    if isinstance(data, str):
        if encoding is None:
            raise ValueError("write_atomic: text needs an explicit encoding")
        payload = data.encode(encoding)
    else:
        payload = data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # name the file the user asked for, not a temporary one
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before it replaces the old file
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


#: What makes a spreadsheet treat a cell as a formula (OWASP "CSV injection").
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` safe to open in Excel: text cells that start like a
    formula (``= + - @``, tab, carriage return) get a leading apostrophe, which
    Excel shows as text instead of running.  Numbers (``-3.5``) are left alone.

    Used for the CSV files guidekit writes for spreadsheets (``summary.csv``,
    ``guidekit score -o``); data read back by guidekit is not affected because
    it never reads these files.
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(
                lambda v: (
                    "'" + v
                    if isinstance(v, str) and _FORMULA_START.match(v) and not _NUMBER.match(v)
                    else v
                )
            )
    return out
