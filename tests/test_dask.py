"""`guidekit reports --scheduler`: the same batch on a Dask distributed cluster gives the
same reports and manifest as a local run (issue 13).  The cluster is a small
``LocalCluster`` the test starts (one worker thread in this process)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from guidekit.report import engine
from guidekit.report.batch import run_reports

from .conftest import FIXTURES

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow

ANSWERS = FIXTURES / "cases" / "interrupted-batch-refused" / "answers"
CODES = ["0012", "012", "12"]
DAY = dt.date(2026, 11, 29)


def _manifest(out):
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    agencies = [
        {k: a[k] for k in ("agency_id", "agency_name", "file", "status", "key", "error")}
        for a in manifest["agencies"]
    ]
    return agencies, manifest["digests"], manifest["run_key"], manifest["state"]


def test_a_dask_cluster_gives_the_same_reports_and_manifest(tmp_path):
    local = run_reports(ANSWERS, tmp_path / "local", agencies=CODES, workers=1, today=DAY)
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    try:
        remote = run_reports(
            ANSWERS,
            tmp_path / "dask",
            agencies=CODES,
            today=DAY,
            scheduler=cluster.scheduler_address,
        )
    finally:
        cluster.close()
        engine.shutdown_all()  # the worker thread's kernel (the worker ran in this process)
    assert local.ok and remote.ok
    assert [r.agency_id for r in remote.results] == CODES
    for name in [f"{code}.html" for code in CODES] + ["summary.csv"]:
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert _manifest(tmp_path / "dask") == _manifest(tmp_path / "local")
    assert _manifest(tmp_path / "dask")[3] == "complete"
    # the client wrote the reports: guidekit's own files, replaced by a rerun only while unchanged
    record = json.loads((tmp_path / "dask" / ".guidekit-written.json").read_text("utf-8"))
    assert {f"{code}.html" for code in CODES} <= set(record["files"])


def test_an_unreachable_scheduler_is_a_readable_error(tmp_path):
    from guidekit.problems import GuidekitError

    with pytest.raises(GuidekitError) as info:
        run_reports(
            ANSWERS,
            tmp_path / "out",
            agencies=["12"],
            scheduler="tcp://127.0.0.1:9",  # nothing listens on the discard port
        )
    assert "tcp://127.0.0.1:9" in info.value.text("en") and "Dask" in info.value.text("zh-TW")
