"""Writing files: never half a file, readable by others, never over a file guidekit did not write.

Atomic
------
A file is written to a temporary name in its folder, then renamed over the
target (atomic on POSIX and Windows).  ``tempfile.mkstemp`` creates files that
only their owner can read (0600); the result here gets the permissions a
normal ``open(path, "w")`` would give (0666 minus the user's umask), so reports
on a shared drive or behind a web server stay readable.

The rule for files that are already there
-----------------------------------------
**No command replaces or truncates a file it did not write.**  Before guidekit
writes a path a user named or may have put a file at (``guidekit score -o``,
``guidekit backup``, ``guidekit export``, the workshop's export and report
buttons, :meth:`guidekit.store.ResponseStore.export`, a saved chart), the path
must be

* absent, or
* a file guidekit itself wrote there earlier and nobody changed since.

guidekit knows its own files by a record it keeps in the same folder,
:data:`RECORD` (``.guidekit-written.json``, UTF-8 JSON): for every file it
wrote there, the file name and the SHA-256 digest of the bytes it wrote.  A
file is guidekit's own (:func:`is_own`) when the record lists it and its bytes
still have that digest.  Anything else is refused with :class:`WriteRefused`
before a byte is written: a file of the user's, guidekit's output edited or
saved over since, a folder or a symbolic link, a file whose record was
deleted.  The message names the file and says what to do (choose another name,
or move the file away first).  So an export run again, or the workshop's export
button pressed twice, re-writes its own earlier files, while an answer file, a
``notes.csv`` or a live answer store of the same name is never touched.

``replace="never"`` (:func:`guidekit.store.SQLiteStore.backup`) refuses every
existing file, even guidekit's own earlier backup; with
``siblings=SQLITE_SIBLINGS`` a target whose ``-wal``, ``-shm`` or ``-journal``
file exists is refused too (SQLite would read that foreign journal as part of
the copy).

A new file is moved into place without replacing (a hard link; on file systems
without links, an exclusive create), so a file that appears between the check
and the write is not replaced either.  Replacing guidekit's own file is an
atomic rename after the digest check.  Two programs updating one folder's record
at the same moment may lose one entry: guidekit then refuses (never replaces)
that file next time.

API
---
:func:`write_output` (check, write atomically, record) for bytes or text;
:func:`install_output` for a file built elsewhere (an SQLite copy, a temporary
folder); :func:`check_target` / :func:`check_targets` to refuse early, before
expensive work or before the first of several files; :func:`is_own` and
:func:`remove_output` (removes only guidekit's own unchanged files); :func:`remember`
records files guidekit's other processes wrote (a report batch's workers).  One writer
per format: :func:`table_csv` (every CSV), :func:`ods_table_bytes` (.ods tables).
:func:`write_atomic` stays the plain atomic write for guidekit's private
files (the record, work folders).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pandas as pd

from guidekit import i18n
from guidekit.problems import GuidekitError
from guidekit.text import visible_escape

#: The record of the files guidekit wrote in a folder (one per folder).
RECORD = ".guidekit-written.json"

#: The record's format name (a record with another is not guidekit's: never replaced).
RECORD_FORMAT = "guidekit-written-files/1"

#: The files SQLite keeps beside a database (``database-wal`` …).
SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")

Replace = Literal["own", "never"]


class WriteRefused(GuidekitError):
    """A path guidekit will not write: it holds a file guidekit did not write
    (or one it wrote that changed since), a folder, a link, or an SQLite journal.

    Attributes
    ----------
    refused : list of (Path, str)
        Each refused path and its reason, a key ``files.refused.<reason>`` of
        ``guidekit/locales/messages.yaml``: ``exists``, ``changed``,
        ``not_file``, ``never``, ``sibling``, ``record``.
    path : Path
        The first refused path.
    """

    def __init__(self, refused: list[tuple[Path, str, dict[str, str]]]) -> None:

        def text(lang: str) -> str:
            lines = [
                i18n.t(f"files.refused.{reason}", lang, path=str(path), **extra)
                for path, reason, extra in refused
            ]
            lines.append(i18n.t("files.refused.nothing_written", lang))
            return (" " if lang == "en" else "").join(lines)  # zh-TW sentences end in 。

        super().__init__(text("en"), zh=text("zh-TW"))
        self.refused = [(path, reason) for path, reason, _ in refused]
        self.path = refused[0][0]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _payload(data: str | bytes, encoding: str | None, name: str) -> bytes:
    if isinstance(data, str):
        if encoding is None:
            raise ValueError(f"{name}: text needs an explicit encoding")
        return data.encode(encoding)
    return data


def _named(exc: OSError, path: Path) -> OSError:
    """The same error, naming the file the user asked for (never a temporary one)."""
    return type(exc)(exc.errno, exc.strerror, str(path))


def _temporary(path: Path, payload: bytes) -> Path:
    """``payload`` in a new temporary file beside ``path``, on disk, with normal permissions."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _named(exc, path) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before it replaces the old file
        os.chmod(tmp, 0o666 & ~_umask())
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _named(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def write_atomic(path: str | Path, data: str | bytes, encoding: str | None = None) -> Path:
    """Write ``data`` to ``path`` atomically, replacing whatever is there; return the path.

    For guidekit's private files only (its record, its work folders): a path a
    user names goes through :func:`write_output`, which refuses to replace a
    file guidekit did not write.

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
    tmp = _temporary(path, _payload(data, encoding, "write_atomic"))
    try:
        os.replace(tmp, path)
    except OSError as exc:
        raise _named(exc, path) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return path


# -- the record of guidekit's own files ------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_record(folder: Path) -> dict[str, dict[str, object]] | None:
    """The record's entries (file name → {"sha256", "bytes"}); ``{}`` when there is no
    record, ``None`` when a file of that name is not a guidekit record."""
    path = folder / RECORD
    if not os.path.lexists(path):
        return {}
    try:
        if path.is_symlink() or not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        return None
    files = data.get("files")
    if not isinstance(files, dict):
        return None
    return {
        name: entry
        for name, entry in files.items()
        if isinstance(name, str)
        and isinstance(entry, dict)
        and isinstance(entry.get("sha256"), str)
    }


def _remember(path: Path, digest: str | None, size: int = 0) -> None:
    """Record ``path`` as written by guidekit with ``digest`` (``None``: forget it)."""
    entry = None if digest is None else {"sha256": digest, "bytes": size}
    _update_record(path.parent, {path.name: entry})


def _update_record(folder: Path, changes: dict[str, dict[str, object] | None]) -> None:
    """Set (or, for ``None``, drop) entries of ``folder``'s record in one write; entries of
    files no longer there are dropped."""
    entries = _read_record(folder)
    if entries is None:  # checked before writing (check_target); a record replaced since
        raise WriteRefused([(folder / RECORD, "record", {})])
    entries = {name: e for name, e in entries.items() if (folder / name).is_file()}
    for name, entry in changes.items():
        if entry is None:
            entries.pop(name, None)
        else:
            entries[name] = entry
    _write_record(folder, entries)


def _write_record(folder: Path, entries: dict[str, dict[str, object]]) -> None:
    text = json.dumps(
        {
            "format": RECORD_FORMAT,
            "about": "Files guidekit wrote in this folder and the SHA-256 of their bytes; "
            "guidekit replaces only these, and only while unchanged. "
            "guidekit 在此資料夾寫出的檔案及其 SHA-256；guidekit 只會覆寫其中未被修改的檔案。",
            "files": dict(sorted(entries.items())),
        },
        ensure_ascii=False,
        indent=1,
    )
    write_atomic(folder / RECORD, text + "\n", encoding="utf-8")


def remember(paths: Iterable[str | Path]) -> None:
    """Record files guidekit has just written itself (by any of its processes, e.g. a
    report batch's workers) as its own, with the SHA-256 of their bytes now: later
    writes replace them only while unchanged.  One record update per folder.

    Raises
    ------
    WriteRefused
        If a folder's record file is not guidekit's.
    """
    by_folder: dict[Path, dict[str, dict[str, object] | None]] = {}
    for given in paths:
        path = Path(given)
        entry = {"sha256": _sha256(path), "bytes": path.stat().st_size}
        by_folder.setdefault(path.parent, {})[path.name] = entry
    for folder, changes in by_folder.items():
        _update_record(folder, changes)


def is_own(path: str | Path) -> bool:
    """True when ``path`` is a regular file guidekit wrote there (listed in the folder's
    :data:`RECORD`) and its bytes are unchanged since (same SHA-256)."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        return False
    entry = (_read_record(path.parent) or {}).get(path.name)
    if entry is None:
        return False
    try:
        return _sha256(path) == entry["sha256"]
    except OSError:
        return False


# -- checking and writing ----------------------------------------------------------------------


def _problem(path: Path, replace: Replace, siblings: Iterable[str]) -> tuple[bool, tuple | None]:
    """(exists, refusal or None) for one path."""
    if replace not in ("own", "never"):
        raise ValueError(f"replace must be 'own' or 'never', not {replace!r}")
    exists = os.path.lexists(path)
    if exists and (path.is_symlink() or not path.is_file()):
        return True, (path, "not_file", {})
    if exists and replace == "never":
        return True, (path, "never", {})
    for suffix in siblings:
        sibling = path.with_name(path.name + suffix)
        if os.path.lexists(sibling):
            return exists, (path, "sibling", {"sibling": str(sibling)})
    record = _read_record(path.parent)
    if record is None:
        return exists, (path.parent / RECORD, "record", {})
    if not exists:
        return False, None
    if path.name not in record:
        return True, (path, "exists", {})
    if not is_own(path):
        return True, (path, "changed", {})
    return True, None


def check_targets(
    paths: Iterable[str | Path], *, replace: Replace = "own", siblings: Iterable[str] = ()
) -> dict[Path, bool]:
    """Check every path at once (the rule in this module's docstring).

    Parameters
    ----------
    paths : paths
        Files about to be written.
    replace : {"own", "never"}
        ``"own"``: a path may hold a file guidekit wrote and nobody changed since;
        ``"never"``: every path must be absent (backups).
    siblings : suffixes
        Files beside each path that must not exist either, e.g.
        :data:`SQLITE_SIBLINGS` for an SQLite file.

    Returns
    -------
    dict
        Path → True when it holds guidekit's own file (it will be replaced),
        False when absent.

    Raises
    ------
    WriteRefused
        Naming every refused path and what to do; nothing has been written.
    """
    siblings = tuple(siblings)
    exists: dict[Path, bool] = {}
    refused = []
    for given in paths:
        path = Path(given)
        exists[path], refusal = _problem(path, replace, siblings)
        if refusal is not None and refusal not in refused:
            refused.append(refusal)
    if refused:
        raise WriteRefused(refused)
    return exists


def check_target(
    path: str | Path, *, replace: Replace = "own", siblings: Iterable[str] = ()
) -> bool:
    """:func:`check_targets` for one path: True when it holds guidekit's own file,
    False when absent.

    Raises
    ------
    WriteRefused
        If the path may not be written (the rule in this module's docstring).
    """
    return check_targets([path], replace=replace, siblings=siblings)[Path(path)]


def _place(tmp: Path, path: Path, existed: bool) -> None:
    """Move ``tmp`` to ``path``: over guidekit's own file when ``existed``, else only
    if the name is still free."""
    if existed:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails when the name is taken: never replaces
    except FileExistsError:
        raise WriteRefused([(path, "exists", {})]) from None
    except OSError:  # no hard links on this file system (FAT, some network drives)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            raise WriteRefused([(path, "exists", {})]) from None
        os.close(fd)
        os.replace(tmp, path)  # over the empty file just made here, nothing else
    else:
        tmp.unlink()


def install_output(
    tmp: str | Path,
    path: str | Path,
    *,
    replace: Replace = "own",
    siblings: Iterable[str] = (),
) -> Path:
    """Move the finished file ``tmp`` (same folder or file system) to ``path`` under the
    rule of this module, and record it as guidekit's; return ``path``.

    Use for files built elsewhere than in memory (an SQLite copy, a temporary folder).
    ``tmp`` should already be on disk (fsync'ed).

    Raises
    ------
    WriteRefused
        If ``path`` may not be written (``tmp`` is left where it is).
    OSError
        If the move fails; its ``filename`` is ``path``.
    """
    tmp, path = Path(tmp), Path(path)
    existed = check_target(path, replace=replace, siblings=siblings)
    digest, size = _sha256(tmp), tmp.stat().st_size
    try:
        _place(tmp, path, existed)
    except OSError as exc:
        raise _named(exc, path) from exc
    _remember(path, digest, size)
    return path


def write_output(
    path: str | Path,
    data: str | bytes,
    encoding: str | None = None,
    *,
    replace: Replace = "own",
) -> Path:
    """Write ``data`` to ``path`` atomically if the rule of this module allows it, and
    record it as guidekit's; return the path.

    Parameters
    ----------
    path : path
        Target file; its folder is created if needed.
    data : str or bytes
        Text needs ``encoding``; bytes are written as they are.
    encoding : str, optional
        Required for text (e.g. ``"utf-8"``, ``"utf-8-sig"`` for files Excel opens).
    replace : {"own", "never"}
        See :func:`check_targets`.

    Raises
    ------
    WriteRefused
        If ``path`` holds a file guidekit did not write, or changed since (nothing
        is written).
    ValueError
        If text is given without an encoding.
    OSError
        If the file cannot be written; its ``filename`` is ``path``.
    """
    path = Path(path)
    payload = _payload(data, encoding, "write_output")
    existed = check_target(path, replace=replace)
    tmp = _temporary(path, payload)
    try:
        _place(tmp, path, existed)
    except OSError as exc:
        raise _named(exc, path) from exc
    finally:
        tmp.unlink(missing_ok=True)
    _remember(path, hashlib.sha256(payload).hexdigest(), len(payload))
    return path


def remove_output(path: str | Path) -> bool:
    """Remove ``path`` if it is guidekit's own unchanged file (:func:`is_own`) and forget
    it; return True when removed.  Any other file is left alone."""
    path = Path(path)
    if not is_own(path):
        return False
    path.unlink()
    _remember(path, None)
    return True


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


def table_csv(
    frame: pd.DataFrame,
    *,
    excel: bool = True,
    bom: bool = True,
    lineterminator: str = "\n",
    booleans: tuple[str, str] | None = None,
) -> bytes:
    """A table as CSV bytes in UTF-8: the one CSV writer of every command.

    Parameters
    ----------
    frame : DataFrame
        Written with its column names as the header row and no index; missing
        values are empty cells.
    excel : bool
        Text that starts like a formula is escaped (:func:`excel_safe`) — for files
        people open in a spreadsheet (``summary.csv``, ``guidekit score -o``).  False
        for files guidekit reads back exactly (the answers export) or that were
        escaped already.
    bom : bool
        Start with a byte-order mark, so Excel on zh-TW Windows reads the text as
        UTF-8 ("CSV UTF-8"); False for open-data files.
    lineterminator : str
        ``"\n"``, or ``"\r\n"`` for the answers export (what Excel writes).
    booleans : (str, str), optional
        Text for True and False (open data: ``("true", "false")``); default Python's.
    """
    out = excel_safe(frame) if excel else frame.copy()
    if booleans is not None:
        for column in out.columns:
            if out[column].dtype == bool or str(out[column].dtype) == "boolean":
                out[column] = out[column].map({True: booleans[0], False: booleans[1]})
    text = out.to_csv(index=False, lineterminator=lineterminator)
    return text.encode("utf-8-sig" if bom else "utf-8")


def ods_table_bytes(
    columns: Iterable[str],
    rows: Iterable[Iterable[str]],
    sheet: str,
    more: Iterable[tuple[str, Iterable[str], Iterable[Iterable[str]]]] = (),
) -> bytes:
    """One plain table as an OpenDocument spreadsheet (.ods, ODF-CNS15251, the format
    Taiwan's government exchanges editable documents in): every cell text, never a
    formula (a note starting with "=" stays text), header row in bold.  The one
    writer of .ods answer tables (answer exports, ``ResponseStore.export_file``).

    Characters XML cannot hold (control characters but tab, line feed, carriage
    return) are written as visible escapes (``\\x0b``), as in .xlsx exports.  ``more``
    adds further sheets after the first, each (name, columns, rows): an export's actions.
    """
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.style import Style, TextProperties
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    bold = Style(name="ceHead", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    doc.automaticstyles.addElement(bold)

    def row_of(values: Iterable[str], style: Style | None = None) -> TableRow:
        row = TableRow()
        for value in values:
            text = "" if value is None else _XML_ILLEGAL.sub(visible_escape, str(value))
            attrs: dict[str, object] = {"valuetype": "string"} if text else {}
            if style is not None:
                attrs["stylename"] = style
            cell = TableCell(**attrs)
            for line in text.split("\n") if text else ():
                cell.addElement(P(text=line))
            row.addElement(cell)
        return row

    for name, header, values_of in ((sheet, columns, rows), *more):
        table = Table(name=name)
        table.addElement(row_of(header, bold))
        for values in values_of:
            table.addElement(row_of(values))
        doc.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


#: The most characters an Excel cell holds (openpyxl would cut a longer text silently).
XLSX_CELL_LIMIT = 32_767


def xlsx_text(text: str, where: str) -> str:
    """The text an .xlsx cell is written with: control characters, which the format cannot
    hold, as visible escapes (:func:`guidekit.text.visible_escape`).  One rule for every
    .xlsx guidekit writes.

    Raises
    ------
    GuidekitError
        If the text is longer than :data:`XLSX_CELL_LIMIT` (it would be cut short; .ods and
        CSV keep it whole); ``where`` names the sheet and cell.
    """
    if len(text) > XLSX_CELL_LIMIT:
        raise i18n.error("files.xlsx_too_long", where=where, n=len(text), limit=XLSX_CELL_LIMIT)
    return _XML_ILLEGAL.sub(visible_escape, text)
