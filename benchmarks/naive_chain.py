"""The naive per-agency report chain the batch benchmarks compare against: the
``papermill`` CLI, then the ``jupyter nbconvert`` CLI, one agency at a time.

Shared by ``bench_reports.py`` and ``bench_batch_scale.py`` so both time the same thing.
"""

from __future__ import annotations

from pathlib import Path

from guidekit.paths import notebooks_dir


def naive_commands(agency_id: str, responses: Path, out: Path) -> list[list[str]]:
    """The two commands that make one agency's HTML report in ``out`` the naive way."""
    executed = out / f"{agency_id}.ipynb"
    return [
        [
            "papermill",
            str(notebooks_dir() / "report.ipynb"),
            str(executed),
            *("-r", "agency_id", agency_id, "-r", "responses", str(responses)),
            "--no-progress-bar",
        ],
        [
            *("jupyter", "nbconvert", "--to", "html", "--no-input", str(executed)),
            *("--output-dir", str(out)),
        ],
    ]
