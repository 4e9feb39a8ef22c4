"""The daily job on a real Celery worker with Redis as broker (not eager): the worker is a
separate process reading the same PostgreSQL test database."""

import datetime as dt
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from celery.result import AsyncResult
from django.conf import settings
from django.db import connection

from accounts.services import account_create
from billing import tasks
from billing.models import Charge, Invoice
from billing.services.applications import application_create
from billing.services.ingestion import SYSTEM, usage_events_ingest
from portal.celery import app as celery_app
from tests.conftest import IN_CI, _redis_reachable, require_postgresql

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker():
    require_postgresql()
    if not settings.CELERY_BROKER_URL or not _redis_reachable(settings.CELERY_BROKER_URL):
        message = "needs Redis at CELERY_BROKER_URL (run `make test`)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    celery_app.control.purge()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--concurrency",
            "2",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_daily_job_runs_on_a_real_worker(worker):
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    day = dt.date(2026, 10, 10)
    apps = []
    for n in range(3):
        account = account_create(name=f"Worker Co {n}", email=f"w{n}@example.com")
        app = application_create(
            account=account, name="chat", region="cn", created_on=dt.date(2026, 10, 1)
        )
        apps.append(app)
        usage_events_ingest(
            events=[
                {
                    "id": "t",
                    "application": app.sdkappid,
                    "metric": "im.moderation.text",
                    "timestamp": "2026-10-10T09:00:00+08:00",
                    "value": 1000 * (n + 1),
                }
            ],
            caller=SYSTEM,
        )

    chord_id = tasks.bill_day.delay(str(day)).get(timeout=60)
    totals = AsyncResult(chord_id, app=celery_app).get(timeout=60)

    assert totals["applications"] == 3
    # n-th application: 1000 x (n + 1) texts x 1 unit x 0.0010 CNY = 1, 2, 3 CNY.
    amounts = [Charge.objects.get(application=app, day=day).amount for app in apps]
    assert amounts == [Decimal(1), Decimal(2), Decimal(3)]
    totals_on_invoices = sorted(
        Invoice.objects.filter(month=dt.date(2026, 10, 1)).values_list("total", flat=True)
    )
    assert totals_on_invoices == [Decimal("1.00"), Decimal("2.00"), Decimal("3.00")]
    assert worker.poll() is None  # the worker is still alive
