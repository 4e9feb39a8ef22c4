"""Celery tasks: take ids and dates, call a service, fan out over chunks of accounts.

Beat (settings.CELERY_BEAT_SCHEDULE) runs ``bill_previous_day`` at 00:30 and
``close_previous_month`` on the 1st at 02:00, in the billing time zone."""

import datetime as dt

from celery import chord, group, shared_task
from django.db import IntegrityError, InterfaceError, OperationalError

from billing.calendar import billing_today, month_start
from billing.services import jobs
from billing.services.overdue import overdue_refresh
from billing.services.rating import rate_accounts_day, stale_days_rerate

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


@shared_task(**RETRY)
def rate_day_chunk(account_ids: list[int], day: str) -> dict:
    result = rate_accounts_day(account_ids=account_ids, day=dt.date.fromisoformat(day))
    return vars(result)


@shared_task(**RETRY)
def day_done(results: list[dict], day: str) -> dict:
    overdue_refresh(today=dt.date.fromisoformat(day) + dt.timedelta(days=1))
    totals: dict = {}
    for result in results:
        for key, value in result.items():
            totals[key] = totals.get(key, 0) + value
    return totals


@shared_task(**RETRY)
def bill_day(day: str):
    """Fan the day out over workers: one task per chunk of accounts, then overdue state."""
    chunks = jobs.account_chunks()
    if not chunks:
        return {}
    return chord(group(rate_day_chunk.s(chunk, day) for chunk in chunks))(day_done.s(day)).id


@shared_task
def bill_previous_day():
    return bill_day(str(billing_today() - dt.timedelta(days=1)))


@shared_task(**RETRY)
def close_month(month: str) -> dict:
    """Close a month: each chunk of accounts commits on its own, so a rerun after a crash
    finalizes only what is left, with the next numbers and none skipped."""
    return jobs.close_month(month=dt.date.fromisoformat(month)).summary


@shared_task
def close_previous_month():
    previous = month_start(month_start(billing_today()) - dt.timedelta(days=1))
    return close_month(str(previous))


@shared_task(**{**RETRY, "autoretry_for": (*RETRY["autoretry_for"], IntegrityError)})
def rerate_stale_days(application_ids: list[int]) -> dict:
    """Late events made rated days stale (enqueued by the API after the events commit): rate
    them again now. A retry after a clash with the daily job is harmless (idempotent)."""
    return vars(stale_days_rerate(application_ids=application_ids))
