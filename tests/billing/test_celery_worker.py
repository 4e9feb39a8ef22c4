"""The daily job on a real Celery worker with Redis as broker (not eager): the worker is a
separate process reading the same PostgreSQL test database."""

import datetime as dt
from decimal import Decimal

import pytest
from celery.result import AsyncResult
from django.conf import settings

from accounts.services import account_create
from billing import tasks
from billing.models import Charge, Invoice
from billing.services.applications import application_create
from billing.services.ingestion import SYSTEM, usage_events_ingest
from portal.celery import app as celery_app
from tests.conftest import start_celery_worker, stop_celery_worker


@pytest.fixture
def worker():
    process = start_celery_worker(concurrency=2)
    yield process
    stop_celery_worker(process)


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
