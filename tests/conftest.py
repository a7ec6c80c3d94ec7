"""Shared fixtures: the bundled framework, a tiny framework, and answer-file writers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from guidekit.framework import Framework, load_framework
from guidekit.intake import read_responses
from guidekit.paths import data_dir, examples_dir
from guidekit.scoring import score

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def _own_cache_folder(tmp_path_factory):
    """The batch keeps read-and-scored rounds in the user's cache folder
    (guidekit.report.incremental.cached_round): the tests use a folder of their own
    (GUIDEKIT_CACHE_DIR, inherited by the commands they run), never the user's."""
    import os

    previous = os.environ.get("GUIDEKIT_CACHE_DIR")
    os.environ["GUIDEKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if previous is None:
        os.environ.pop("GUIDEKIT_CACHE_DIR", None)
    else:
        os.environ["GUIDEKIT_CACHE_DIR"] = previous


#: The guideline text as published (PDF text extraction), kept with the framework as its source.
GUIDELINE_TEXT = data_dir() / "frameworks" / "tw-dsg" / "source" / "guideline.txt"

#: Canonical zh-TW header of an answer file as agency staff make it.
ZH_HEADER = ["評估回合", "機關代碼", "機關名稱", "填答者", "題號", "答案", "說明"]


@pytest.fixture(scope="session")
def fw() -> Framework:
    """The bundled 政府數位服務指引 framework."""
    return load_framework()


@pytest.fixture(scope="session")
def mini() -> Framework:
    """A tiny framework (3 principles, 6 service items) for hand-computed scoring."""
    return load_framework(FIXTURES / "mini")


@pytest.fixture(scope="session")
def example_round() -> Path:
    return examples_dir() / "rounds" / "2026"


@pytest.fixture(scope="session")
def agencies_csv() -> Path:
    return data_dir() / "agencies" / "agencies.csv"


WriteCsv = Callable[..., Path]


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """Write rows as a CSV file in a given encoding; returns the path.

    ``write_csv(rows, header=ZH_HEADER, name="a.csv", encoding="utf-8-sig")``
    """

    def write(
        rows: Sequence[Sequence[str]],
        header: Sequence[str] = ZH_HEADER,
        name: str = "answers.csv",
        encoding: str = "utf-8-sig",
    ) -> Path:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
        path = tmp_path / name
        path.write_bytes(buffer.getvalue().encode(encoding))
        return path

    return write


@pytest.fixture
def two_rounds(mini, write_csv):
    """Agency A1 answers S1..S5 in 2025 and 2026 (one respondent, so value = answer)."""
    answers = {  # item: (2025, 2026)
        "S1": ("N", "Y"),  # improved
        "S2": ("P", "P"),  # unchanged
        "S3": ("P", "N"),  # worse
        "S4": ("N", "P"),  # improved
        "S5": ("N", ""),  # unanswered in 2026
    }
    rows = [
        [rnd, "A1", "甲機關", "R1", item, pair[n], ""]
        for n, rnd in enumerate(("2025", "2026"))
        for item, pair in answers.items()
    ]
    return score(read_responses(write_csv(rows), mini))


# -- stores: the same tests on SQLite and on PostgreSQL (issue 14) ---------------------------


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL server for this test process (tests/pg.py); fails loudly
    when it cannot start, unless GUIDEKIT_TEST_POSTGRES=0 says to skip."""
    import os

    from . import pg

    if os.environ.get("GUIDEKIT_TEST_POSTGRES", "").strip() == "0":
        pytest.skip("GUIDEKIT_TEST_POSTGRES=0: PostgreSQL tests skipped")
    cluster = pg.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path) -> str:
    """Where a new, empty store is: an SQLite file, or a fresh schema of the test cluster
    (a ``postgresql://`` URL with its password)."""
    if request.param == "sqlite":
        return str(tmp_path / "store.sqlite")
    cluster = request.getfixturevalue("pg_cluster")
    return cluster.url(schema=cluster.new_schema())
