"""The benchmark at its tiny size, end to end, so that ``make bench`` cannot rot: the data set
by COPY, the API against gunicorn, the daily job and the monthly close on real Celery workers
with Redis, the pages under load. Every figure must come out, with numbers that add up."""

import json

import pytest

from bench import runner
from bench.processes import free_port
from bench.scales import scale_named
from billing.models import Charge, Invoice, JobRun, UsageEvent
from tests.conftest import require_postgresql, require_redis

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_the_tiny_benchmark_produces_every_figure(tmp_path):
    require_postgresql()
    require_redis()
    scale = scale_named("tiny", http_seconds=0.5)
    bench = runner.Bench(scale, work=tmp_path / "work", port=free_port(), results=tmp_path)

    report = bench.run()

    figures = report["figures"]
    # Every event of the day is stored: the bulk COPY and the sample through the API.
    assert UsageEvent.objects.count() == scale.events
    assert figures["bulk_copy"]["events"] + figures["ingestion"]["events"] == scale.events
    ingestion = figures["ingestion"]
    assert ingestion["api_events_per_second"] > 0 and ingestion["copy_events_per_second"] > 0
    assert ingestion["api_share_of_copy"] == pytest.approx(
        ingestion["api_events_per_second"] / ingestion["copy_events_per_second"], abs=0.001
    )
    # The daily job ran three times (10 applications, then all on 1 and on 2 workers), each
    # time writing the same charges; the last run's charges are in the database.
    daily = figures["daily_job"]
    assert daily["one_worker"]["applications"] == scale.applications
    assert daily["one_worker"]["charges_written"] == daily["two_workers"]["charges_written"]
    assert Charge.objects.filter(period="day").count() == daily["two_workers"]["charges_written"]
    assert daily["ratio_one_worker"] > 0 and daily["ratio_two_workers"] > 0
    memory = figures["worker_memory"]
    assert 0 < memory["small"]["applications"] < memory["full"]["applications"]
    assert memory["small"]["peak_rss_mib"] > 30 and memory["full"]["peak_rss_mib"] > 30
    # The monthly close finalized every draft of the month through the chord.
    close = figures["monthly_close"]
    assert close["invoices_finalized"] == close["drafts_before"] > 0
    assert not Invoice.objects.filter(state="draft").exists()
    assert JobRun.objects.filter(job="close_month", state="succeeded").count() == 1
    pages = figures["pages"]
    assert pages["invoices_in_database"] >= scale.invoices
    for page in ("invoice_list", "dashboard", "dashboard_largest_account"):
        assert pages[page]["requests"] > 0 and pages[page]["errors"] == 0
        assert 0 < pages[page]["p50_ms"] <= pages[page]["p95_ms"]
    # Each target is judged, and the report is written out.
    assert {row["target"] for row in report["targets"]} >= {
        "API ingestion, events/s",
        "daily job (2 workers) / bare aggregate",
        "monthly close, invoices/s",
        "worker peak RSS, full / small",
        "dashboard p95 ms",
    }
    assert all(row["met"] is not None for row in report["targets"])
    json_path, md_path = runner.write(report, tmp_path, "tiny")
    assert json.loads(json_path.read_text())["scale"] == "tiny"
    assert "| daily job, s (2 workers) |" in md_path.read_text()
