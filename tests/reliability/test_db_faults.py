"""The database connection drops under a running job: every connection of the Celery worker
is terminated by PostgreSQL (pg_terminate_backend) again and again for a few seconds. The
tasks retry with exponential backoff and the day completes exactly as a clean run."""

import time

import pytest
from celery.result import AsyncResult
from django.db import connection

from billing import tasks
from billing.services import jobs
from portal.celery import app as celery_app
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.reliability.scenario import (
    DAY,
    accounts_with_usage,
    charges_snapshot,
    invoice_totals,
    wait_until,
    wipe_rating_output,
)

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

OTHER_BACKENDS = """
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
      AND backend_type = 'client backend'
"""


def _terminate_others() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(pg_terminate_backend(pid)) FROM ({OTHER_BACKENDS}) AS o")
        return cursor.fetchone()[0]


def _others() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({OTHER_BACKENDS}) AS o")
        return cursor.fetchone()[0]


def test_dropped_connections_are_retried_and_the_day_completes():
    accounts_with_usage(12)
    jobs.bill_day(day=DAY)
    clean, clean_totals = charges_snapshot(), invoice_totals()
    wipe_rating_output()

    worker = start_celery_worker(concurrency=2, env={"BILLING_CHUNK_ACCOUNTS": "1"})
    try:
        started = tasks.bill_day.delay(str(DAY))
        wait_until(_others, timeout=60, what="the worker to connect")
        terminated, deadline = 0, time.monotonic() + 3
        while time.monotonic() < deadline:  # 3 s of dropped connections
            terminated += _terminate_others()
            time.sleep(0.05)
        chord_id = started.get(timeout=120)
        AsyncResult(chord_id, app=celery_app).get(timeout=240)
    finally:
        stop_celery_worker(worker)

    print(f"\n[faults] {terminated} worker connections terminated; the day completed")
    assert terminated >= 1
    assert charges_snapshot() == clean
    assert invoice_totals() == clean_totals
