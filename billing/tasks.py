"""Celery tasks: take ids and dates, call a service, fan out over chunks of accounts.

Beat (settings.CELERY_BEAT_SCHEDULE) runs ``bill_previous_day`` at 00:30 and
``close_previous_month`` on the 1st at 02:00, in the billing time zone. Both fan their chunks
out as a chord (a group of chunk tasks over the workers, then one task that refreshes overdue
state) and keep a JobRun row up to date for operators. ``close_month`` closes a month in one
task, chunk after chunk (an operator's rerun)."""

import datetime as dt

from celery import chord, group, shared_task
from django.db import IntegrityError, InterfaceError, OperationalError
from django.utils import timezone

from billing.calendar import billing_today, month_start
from billing.models import JobRun
from billing.services import jobs
from billing.services.overdue import overdue_refresh
from billing.services.rating import rate_accounts_day, stale_days_rerate
from billing.services.restatements import restatements_refresh as restatements_compute
from billing.services.restatements import restatements_refresh_due

# A dropped database connection or a broker hiccup: retried with exponential backoff (1 s,
# 2 s, 4 s ... with jitter). Celery's Django fixup closes the broken connection between
# attempts; every job step is idempotent, so a retry after a partial commit is safe.
RETRY = {
    "acks_late": True,
    "autoretry_for": (OSError, OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 6,
}


def _fan_out(job: str, period: dt.date, chunks: list, chunk_task, done_task) -> str | None:
    """A chord of one chunk task per chunk, then ``done_task``; returns the chord's id."""
    if not chunks:
        return None
    run = JobRun.objects.create(job=job, period=period, chunks_total=len(chunks))
    header = group(chunk_task.s(chunk, str(period), run.pk) for chunk in chunks)
    return chord(header)(done_task.s(str(period), run.pk)).id


@shared_task(**RETRY)
def rate_day_chunk(account_ids: list[int], day: str, run_id: int | None = None) -> dict:
    result = rate_accounts_day(account_ids=account_ids, day=dt.date.fromisoformat(day))
    jobs.job_run_chunk_done(run_id)
    return vars(result)


@shared_task(**RETRY)
def day_done(results: list[dict], day: str, run_id: int | None = None) -> dict:
    overdue_refresh(today=dt.date.fromisoformat(day) + dt.timedelta(days=1))
    # Closed months that received late usage: their restatements (SPEC 6).
    restatements_refresh_due(today=dt.date.fromisoformat(day) + dt.timedelta(days=1))
    return jobs.job_run_finish(run_id, results)


@shared_task(**RETRY)
def bill_day(day: str, account_ids: list[int] | None = None):
    """Fan the day out over workers: one task per chunk of accounts (all accounts, or the
    given ones), then overdue state. Returns the chord's id."""
    chunks = jobs.account_chunks(account_ids=account_ids)
    return _fan_out("bill_day", dt.date.fromisoformat(day), chunks, rate_day_chunk, day_done)


@shared_task
def bill_previous_day():
    return bill_day(str(billing_today() - dt.timedelta(days=1)))


@shared_task(**RETRY)
def close_month_chunk(account_ids: list[int], month: str, run_id: int | None = None) -> dict:
    result = jobs.close_accounts_month(account_ids=account_ids, month=dt.date.fromisoformat(month))
    jobs.job_run_chunk_done(run_id)
    return vars(result)


@shared_task(**RETRY)
def month_done(results: list[dict], month: str, run_id: int | None = None) -> dict:
    overdue_refresh(today=timezone.localdate())
    return jobs.job_run_finish(run_id, results)


@shared_task(**RETRY)
def close_month_fan_out(month: str):
    """Fan the monthly close out over workers: stale days, monthly items and finalization
    per chunk of accounts (each chunk commits on its own, with consecutive numbers), then
    overdue state. Returns the chord's id."""
    first = month_start(dt.date.fromisoformat(month))
    return _fan_out("close_month", first, jobs.account_chunks(), close_month_chunk, month_done)


@shared_task(**RETRY)
def close_month(month: str) -> dict:
    """Close a month in this one task: each chunk of accounts commits on its own, so a rerun
    after a crash finalizes only what is left, with the next numbers and none skipped."""
    return jobs.close_month(month=dt.date.fromisoformat(month)).summary


@shared_task
def close_previous_month():
    previous = month_start(month_start(billing_today()) - dt.timedelta(days=1))
    return close_month_fan_out(str(previous))


@shared_task(**{**RETRY, "autoretry_for": (*RETRY["autoretry_for"], IntegrityError)})
def rerate_stale_days(application_ids: list[int]) -> dict:
    """Late events made rated days stale (enqueued by the API after the events commit): rate
    them again now. A retry after a clash with the daily job is harmless (idempotent)."""
    return vars(stale_days_rerate(application_ids=application_ids))


@shared_task(**{**RETRY, "autoretry_for": (*RETRY["autoretry_for"], IntegrityError)})
def restatements_refresh(late_months: list[list]) -> dict:
    """Late events of closed months were accepted (enqueued by the API after they commit):
    compute those months' restatements now instead of at the next daily job. Idempotent."""
    created = recomputed = 0
    for account_id, month in late_months:
        result = restatements_compute(account_id=account_id, month=dt.date.fromisoformat(month))
        created, recomputed = created + result.created, recomputed + result.recomputed
    return {"created": created, "recomputed": recomputed}
