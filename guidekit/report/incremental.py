"""What a report is made from, as content hashes: a rerun rebuilds only what changed.

Each agency's report is a function of

* **its answers** — the agency's rows of the canonical answer table (every column but
  where the row came from: ``source_file`` / ``source_row``), in a fixed order;
* **its improvement actions** — every action recorded for the agency (any round), and
  its item rows of the round before (what became of last round's actions);
* **what it shows of the round** — its own score rows (overall and per principle,
  whose quartile and peer count depend on the other agencies) and the round's peer
  figures (quartiles, medians) of its self-assessment forms;
* **what is shared** — the framework folder's files, the report notebook, guidekit
  itself (its version and the bytes of its package: code, templates, locales, CSS),
  whether the answers are marked synthetic;
* **the report options** — every field of the batch's task except those that only
  say *how* it runs (:data:`EXECUTION_ONLY`: time limits, paths, the cache file),
  so an option added later is part of the key without a change here (the PDF copy is
  not: it prints the same page, and a report kept with ``--pdf`` needs its PDF).

:func:`agency_keys` hashes these into one SHA-256 per agency; the manifest records it
beside each agency's result, and a rerun keeps a finished report whose key is
unchanged (and whose file is guidekit's own, unchanged since: :func:`guidekit.files.is_own`).
The report date is not part of the key: a report keeps the date it was made on
while nothing it shows has changed.  Another agency's changed answers change this
agency's key only when they change what this report shows (a peer median, its
quartile).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import platformdirs

from guidekit import i18n
from guidekit.answers import Responses, is_overdue
from guidekit.framework import Framework, load_framework
from guidekit.intake.responses import expand_paths
from guidekit.paths import examples_dir, package_dir
from guidekit.report.context import RoundData, default_responses, load_round
from guidekit.version import __version__

#: Task fields that say how a report runs, not what it shows: left out of the key.
EXECUTION_ONLY = frozenset(
    {
        "timeout",
        "agency_timeout",
        "keep_notebook",
        "cwd",
        "html",
        "log",
        "notebook",
        "kernel_log",
        # a PDF is a print of the same page: asking for one keeps the page (the batch
        # keeps a report with --pdf only when its PDF is there too)
        "pdf",
    }
)
#: Notebook parameters that are not content: the cache file (a new temporary path each
#: run) and the report date.
VOLATILE_PARAMETERS = frozenset({"cache", "today"})

#: Columns of the answer table that say where a row came from, not what it says.
_WHERE = ["source_file", "source_row"]
_PEER_KEY = ["round", "instrument"]


def file_digest(paths: Iterable[Path], root: Path | None = None) -> str:
    """SHA-256 over the files' names (relative to ``root``) and bytes, in sorted order."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        name = str(path.relative_to(root)) if root is not None else path.name
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def folder_digest(folder: Path) -> str:
    """:func:`file_digest` of every file under ``folder`` (caches and hidden files aside)."""
    files = [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return file_digest(files, folder)


@functools.cache
def guidekit_digest() -> str:
    """guidekit's version and the bytes of its package (code, templates, locales, CSS):
    a report made by another guidekit is not taken as current."""
    return hashlib.sha256(
        (__version__ + "\0" + folder_digest(package_dir())).encode("utf-8")
    ).hexdigest()


def shared_digests(data: RoundData, notebook: Path) -> dict[str, str]:
    """The inputs every report of the run shares, one digest each (recorded in the manifest)."""
    return {
        "framework": folder_digest(Path(data.scores.framework.path)),
        "notebook": file_digest([notebook]),
        "guidekit": guidekit_digest(),
        "synthetic": str(bool(data.responses.synthetic)),
    }


def _row_hashes(frame: pd.DataFrame, by: str) -> dict[str, str]:
    """Per value of ``by``: SHA-256 of its rows (every column, canonical order).

    Rows are hashed with :func:`pandas.util.hash_pandas_object` (a fixed key: the same
    values give the same hash on every run and machine), sorted, then digested."""
    if frame.empty:
        return {}
    columns = sorted(frame.columns)
    canonical = frame[columns].astype("string").fillna("\0<NA>")
    rows = pd.util.hash_pandas_object(canonical, index=False).to_numpy()
    out: dict[str, str] = {}
    groups = pd.Series(range(len(frame))).groupby(frame[by].astype(str).to_numpy())
    for key, positions in groups.indices.items():
        digest = hashlib.sha256(
            b"".join(sorted(int(rows[i]).to_bytes(8, "little") for i in positions))
        )
        digest.update(",".join(columns).encode("utf-8"))
        out[str(key)] = digest.hexdigest()
    return out


def _options_digest(options: dict[str, Any]) -> str:
    text = json.dumps(options, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def task_options(task: Any) -> dict[str, Any]:
    """The task's fields that are content (all but :data:`EXECUTION_ONLY`; notebook
    parameters but :data:`VOLATILE_PARAMETERS`)."""
    options = {
        f.name: getattr(task, f.name)
        for f in dataclasses.fields(task)
        if f.name not in EXECUTION_ONLY
    }
    if isinstance(options.get("parameters"), dict):
        options["parameters"] = {
            k: v for k, v in options["parameters"].items() if k not in VOLATILE_PARAMETERS
        }
    return options


def agency_keys(
    data: RoundData,
    shared: dict[str, str],
    options: dict[str, dict[str, Any]],
    today: dt.date | None = None,
) -> dict[str, str]:
    """One SHA-256 per agency of ``options`` (agency id → :func:`task_options`): its
    answers, its score rows, its forms' peer figures, the shared digests and its options,
    its improvement actions and which of them are overdue on ``today`` (default: today in
    Taipei; a report kept from an earlier day still marks the right ones overdue).

    Returns
    -------
    dict
        agency id → hex digest.
    """
    answers = _row_hashes(data.responses.frame.drop(columns=_WHERE, errors="ignore"), "agency_id")
    scores = data.scores
    today = today or i18n.today()
    acted: dict[str, list[str]] = {}
    overdue: dict[str, list[str]] = {}
    for action in data.actions:
        if is_overdue(action, today):
            overdue.setdefault(action.agency_id, []).append(action.action_id)
        acted.setdefault(action.agency_id, []).append(
            json.dumps(dataclasses.asdict(action), sort_keys=True, default=str)
        )
    before = _row_hashes(data.previous.items, "agency_id") if data.previous is not None else {}
    overall = _row_hashes(scores.overall, "agency_id")
    principles = _row_hashes(scores.principles, "agency_id")
    peers = scores.peers
    peer_digest = {
        str(instrument): _row_hashes(group.assign(_all="all"), "_all").get("all", "")
        for instrument, group in peers.groupby("instrument")
    }
    forms = scores.overall.groupby("agency_id")["instrument"].agg(
        lambda s: sorted(set(map(str, s)))
    )
    shared_text = json.dumps(shared, sort_keys=True)
    out = {}
    for agency_id, opts in options.items():
        parts = {
            "answers": answers.get(agency_id, ""),
            "overall": overall.get(agency_id, ""),
            "principles": principles.get(agency_id, ""),
            "peers": [peer_digest.get(f, "") for f in forms.get(agency_id, [])],
            "shared": shared_text,
            "options": _options_digest(opts),
            "actions": sorted(acted.get(agency_id, [])),
            "overdue": sorted(overdue.get(agency_id, [])),
            "previous": before.get(agency_id, ""),
        }
        out[agency_id] = hashlib.sha256(
            json.dumps(parts, sort_keys=True).encode("utf-8")
        ).hexdigest()
    return out


#: Round caches kept in the user's cache folder (the most recently used; older ones are
#: removed).  300 agencies: ~20 MB each.
KEEP_ROUNDS = 8


#: Environment variable naming another folder for the round caches (tests use their own).
CACHE_ENV = "GUIDEKIT_CACHE_DIR"


def round_cache_folder() -> Path:
    """Where read-and-scored rounds are kept between runs: ``$GUIDEKIT_CACHE_DIR`` or
    the user's cache folder (platformdirs), never the output folder (a pickle is only
    read from a folder the user alone writes to)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "rounds"
    return platformdirs.user_cache_path("guidekit", appauthor=False) / "rounds"


def inputs_digest(
    responses: Any,
    framework: Any,
    round_id: str | None,
    weights: Any = None,
    actions: Any = None,
    previous: Any = None,
) -> str | None:
    """SHA-256 of everything :func:`guidekit.report.load_round` reads: the answer files
    (path and bytes) with the metadata files beside them (``*.yaml``), the action and
    previous-round files (with the bundled example: its actions and rounds), the
    framework folder, the round asked for and guidekit itself; None when something
    read is not files (an answer store, a table or records in memory): that is always
    read."""
    if isinstance(responses, Responses) or isinstance(previous, Responses):
        return None
    if isinstance(actions, list) and not all(isinstance(a, (str, Path)) for a in actions):
        return None
    source = responses if responses is not None else default_responses(examples_dir())
    extra: list[Any] = [a for a in (actions, previous) if a is not None]
    if responses is None:  # the bundled example brings its actions and its earlier round
        extra += [examples_dir() / "actions", *sorted((examples_dir() / "rounds").glob("*"))]
    paths = expand_paths(source)
    for more in extra:
        found = expand_paths(more) if not (isinstance(more, Path) and not more.exists()) else []
        paths += found
    if not paths or any(not isinstance(p, Path) or not p.is_file() for p in paths):
        return None
    digest = hashlib.sha256()
    folders = set()
    for path in paths:
        resolved = path.resolve()
        folders.add(resolved.parent)
        digest.update(str(resolved).encode("utf-8") + b"\0" + resolved.read_bytes() + b"\0")
    for folder in sorted(folders):
        digest.update(file_digest([*folder.glob("*.yaml"), *folder.glob("*.yml")], folder).encode())
    fw = framework if isinstance(framework, Framework) else load_framework(framework)
    digest.update(folder_digest(Path(fw.path)).encode())
    digest.update(json.dumps([round_id, weights, guidekit_digest()], default=str).encode())
    return digest.hexdigest()


def cached_round(
    responses: Any = None,
    framework: Any = None,
    round_id: str | None = None,
    actions: Any = None,
    previous: Any = None,
) -> RoundData:
    """:func:`guidekit.report.load_round`, kept in :func:`round_cache_folder` by the
    digest of its inputs (:func:`inputs_digest`): a rerun on unchanged answers reads
    and scores nothing (300 agencies: ~6 s saved).  Errors are raised as by
    ``load_round`` (nothing is cached then); a cache that cannot be read or written
    is ignored."""
    key = inputs_digest(responses, framework, round_id, actions=actions, previous=previous)
    folder = round_cache_folder()
    path = folder / f"{key}.pkl" if key else None
    if path is not None and path.is_file():
        try:
            data = RoundData.load(path)
            os.utime(path)
            return data
        except Exception:  # an old or broken cache: read the answers again
            pass
    data = load_round(responses, framework, round_id, actions=actions, previous=previous)
    if path is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            data.save(path)
            old = sorted(folder.glob("*.pkl"), key=lambda p: p.stat().st_mtime, reverse=True)
            for stale in old[KEEP_ROUNDS:]:
                stale.unlink(missing_ok=True)
        except OSError:
            pass
    return data
