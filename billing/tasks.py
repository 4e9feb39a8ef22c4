"""Celery tasks: take ids and dates, call a service, fan out over chunks of accounts.

Beat (settings.CELERY_BEAT_SCHEDULE) runs ``bill_previous_day`` at 00:30 and
``close_previous_month`` on the 1st at 02:00, in the billing time zone. Both fan their chunks
out as a chord (a group of chunk tasks, then one task that refreshes overdue state) and keep
a JobRun row up to date for operators."""

import datetime as dt

from celery import chord, group, shared_task
from django.utils import timezone

from billing.calendar import billing_today, month_start
from billing.models import JobRun
from billing.services import jobs
from billing.services.overdue import overdue_refresh
from billing.services.rating import rate_accounts_day


def _fan_out(job: str, period: dt.date, chunks: list, chunk_task, done_task) -> str | None:
    if not chunks:
        return None
    run = JobRun.objects.create(job=job, period=period, chunks_total=len(chunks))
    header = group(chunk_task.s(chunk, str(period), run.pk) for chunk in chunks)
    return chord(header)(done_task.s(str(period), run.pk)).id


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def rate_day_chunk(account_ids: list[int], day: str, run_id: int | None = None) -> dict:
    result = rate_accounts_day(account_ids=account_ids, day=dt.date.fromisoformat(day))
    jobs.job_run_chunk_done(run_id)
    return vars(result)


@shared_task
def day_done(results: list[dict], day: str, run_id: int | None = None) -> dict:
    overdue_refresh(today=dt.date.fromisoformat(day) + dt.timedelta(days=1))
    return jobs.job_run_finish(run_id, results)


@shared_task
def bill_day(day: str, account_ids: list[int] | None = None):
    """Fan the day out over workers: one task per chunk of accounts (all accounts, or the
    given ones), then overdue state. Returns the chord's id."""
    chunks = jobs.account_chunks(account_ids=account_ids)
    return _fan_out("bill_day", dt.date.fromisoformat(day), chunks, rate_day_chunk, day_done)


@shared_task
def bill_previous_day():
    return bill_day(str(billing_today() - dt.timedelta(days=1)))


@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def close_month_chunk(account_ids: list[int], month: str, run_id: int | None = None) -> dict:
    result = jobs.close_accounts_month(account_ids=account_ids, month=dt.date.fromisoformat(month))
    jobs.job_run_chunk_done(run_id)
    return vars(result)


@shared_task
def month_done(results: list[dict], month: str, run_id: int | None = None) -> dict:
    overdue_refresh(today=timezone.localdate())
    return jobs.job_run_finish(run_id, results)


@shared_task
def close_month(month: str):
    """Fan the monthly close out over workers: monthly items and finalization per chunk of
    accounts, then overdue state. Returns the chord's id."""
    first = month_start(dt.date.fromisoformat(month))
    return _fan_out("close_month", first, jobs.account_chunks(), close_month_chunk, month_done)


@shared_task
def close_previous_month():
    previous = month_start(month_start(billing_today()) - dt.timedelta(days=1))
    return close_month(str(previous))
