"""Where guidekit finds its bundled data and notebooks.

In a source checkout (``pip install -e .``) the data is the repository's
top-level ``data/`` and ``notebooks/``; in a wheel they are copied into the
package as ``guidekit/_data`` and ``guidekit/_notebooks``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.exists():
            return candidate
    return candidates[-1]


def package_dir() -> Path:
    """The folder of the guidekit package itself (``guidekit/``)."""
    return _PACKAGE


def data_dir() -> Path:
    """The bundled ``data/`` folder."""
    return _first(_PACKAGE / "_data", _PACKAGE.parent / "data")


def notebooks_dir() -> Path:
    """The bundled ``notebooks/`` folder."""
    return _first(_PACKAGE / "_notebooks", _PACKAGE.parent / "notebooks")


def frameworks_dir() -> Path:
    return data_dir() / "frameworks"


def examples_dir() -> Path:
    return data_dir() / "examples"


def agencies_file() -> Path:
    return data_dir() / "agencies" / "agencies.csv"


def example_actions() -> Path:
    """The bundled example's improvement actions (``data/examples/actions/``)."""
    return examples_dir() / "actions"
