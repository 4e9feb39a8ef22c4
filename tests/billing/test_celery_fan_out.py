"""The monthly close fanned out as a chord over a real Celery worker (two processes, Redis,
one account a chunk): every draft finalized once, the numbers gapless whatever order the
chunks finished in, and the job's run recorded."""

import re
from decimal import Decimal

import pytest
from celery.result import AsyncResult

from billing import tasks
from billing.models import AuditRecord, Invoice, JobRun
from billing.services import jobs
from portal.celery import app as celery_app
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.reliability.scenario import DAY, OCT_1, accounts_with_usage, invoice_totals

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ACCOUNTS = 8


def test_monthly_close_as_a_chord_finalizes_every_draft_once_with_gapless_numbers():
    accounts_with_usage(ACCOUNTS, pro=True)
    jobs.bill_day(day=DAY)
    drafts = invoice_totals()
    assert len(drafts) == ACCOUNTS and all(total > 0 for total in drafts.values())

    worker = start_celery_worker(concurrency=2, env={"BILLING_CHUNK_ACCOUNTS": "1"})
    try:
        chord_id = tasks.close_month_fan_out.delay(str(OCT_1)).get(timeout=60)
        totals = AsyncResult(chord_id, app=celery_app).get(timeout=120)
    finally:
        stop_celery_worker(worker)

    assert totals["invoices_finalized"] == ACCOUNTS
    invoices = Invoice.objects.filter(month=OCT_1)
    assert set(invoices.values_list("state", flat=True)) == {"finalized"}
    numbers = sorted(invoices.values_list("number", flat=True))
    assert all(re.fullmatch(r"INV-\d{4}-\d{6}", n) for n in numbers)
    assert [int(n[-6:]) for n in numbers] == list(range(1, ACCOUNTS + 1))
    assert AuditRecord.objects.filter(action="invoice.finalize").count() == ACCOUNTS
    # No monthly items here (no DAU above 10,000, no message history): the drafts' totals
    # are what was frozen.
    assert invoice_totals() == drafts
    assert sum(drafts.values(), Decimal(0)) == sum(invoices.values_list("total", flat=True))
    run = JobRun.objects.get(job="close_month")
    assert (run.state, run.chunks_total, run.chunks_done) == ("succeeded", ACCOUNTS, ACCOUNTS)
    assert run.summary["invoices_finalized"] == ACCOUNTS
