"""A Celery worker SIGKILLed in the middle of the daily job and of the monthly close, after
some chunks committed: a rerun completes the work, the charges equal a clean run's exactly,
and no invoice number is skipped, used twice or given to an invoice finalized twice."""

import re

import pytest
from celery.result import AsyncResult

from billing import tasks
from billing.models import AuditRecord, DocumentSequence, Invoice, RatedDay
from billing.services import jobs
from portal.celery import app as celery_app
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.reliability.scenario import (
    DAY,
    OCT_1,
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

ACCOUNTS = 24
ONE_ACCOUNT_A_CHUNK = {"BILLING_CHUNK_ACCOUNTS": "1"}


def kill_after(worker, count, *, what: str, at_least: int = 3) -> int:
    """SIGKILL the worker's whole process group once ``count()`` reaches ``at_least``."""
    try:
        wait_until(lambda: count() >= at_least, timeout=60, what=what)
    finally:
        stop_celery_worker(worker, kill=True)
    return count()


def test_daily_job_killed_midway_then_rerun_equals_a_clean_run():
    accounts_with_usage(ACCOUNTS)
    jobs.bill_day(day=DAY)  # the clean run, in this process
    clean, clean_totals = charges_snapshot(), invoice_totals()
    assert len(clean) >= ACCOUNTS  # every account has charges of the day
    wipe_rating_output()

    worker = start_celery_worker(concurrency=1, env=ONE_ACCOUNT_A_CHUNK)
    tasks.bill_day.delay(str(DAY))
    rated_at_kill = kill_after(
        worker, lambda: RatedDay.objects.filter(day=DAY).count(), what="3 chunks committed"
    )
    print(f"\n[crash] daily job: {rated_at_kill} of {ACCOUNTS} chunks committed at SIGKILL")
    assert rated_at_kill < ACCOUNTS, "the kill must land in the middle of the job"
    assert charges_snapshot() != clean

    celery_app.control.purge()  # the operator reruns the day
    worker = start_celery_worker(concurrency=2)
    try:
        chord_id = tasks.bill_day.delay(str(DAY)).get(timeout=60)
        AsyncResult(chord_id, app=celery_app).get(timeout=120)
    finally:
        stop_celery_worker(worker)

    assert charges_snapshot() == clean
    assert invoice_totals() == clean_totals


def test_monthly_close_killed_midway_then_rerun_numbers_every_invoice_once():
    accounts_with_usage(ACCOUNTS, pro=True)
    jobs.bill_day(day=DAY)
    drafts = invoice_totals()
    assert len(drafts) == ACCOUNTS

    worker = start_celery_worker(concurrency=1, env=ONE_ACCOUNT_A_CHUNK)
    tasks.close_month.delay(str(OCT_1))
    issued = Invoice.objects.filter(month=OCT_1).exclude(state="draft")
    finalized_at_kill = kill_after(worker, issued.count, what="3 invoices finalized")
    print(f"[crash] monthly close: {finalized_at_kill} of {ACCOUNTS} finalized at SIGKILL")
    assert finalized_at_kill < ACCOUNTS, "the kill must land in the middle of the close"

    celery_app.control.purge()
    worker = start_celery_worker(concurrency=1)
    try:
        tasks.close_month.delay(str(OCT_1)).get(timeout=120)
    finally:
        stop_celery_worker(worker)

    invoices = Invoice.objects.filter(month=OCT_1)
    assert set(invoices.values_list("state", flat=True)) == {"finalized"}
    numbers = sorted(invoices.values_list("number", flat=True))
    assert all(re.fullmatch(r"INV-\d{4}-\d{6}", n) for n in numbers)
    assert [int(n[-6:]) for n in numbers] == list(range(1, ACCOUNTS + 1))  # gapless, unique
    assert DocumentSequence.objects.get(kind="invoice").last_number == ACCOUNTS
    finalizations = AuditRecord.objects.filter(action="invoice.finalize")
    assert finalizations.count() == ACCOUNTS
    assert finalizations.values("target_id").distinct().count() == ACCOUNTS
    assert invoice_totals() == drafts  # no monthly items here: the drafts' totals, frozen
