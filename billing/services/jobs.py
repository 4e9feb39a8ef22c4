"""The billing jobs as operators and Celery run them: a billing day, a month close.

Work is split in chunks of accounts (all of an account's applications in one chunk, so its
invoices are refreshed once). ``bill_day`` and ``close_month`` run the chunks in this process
(management commands, tests, the embedded mode); the Celery tasks fan the same chunks out as a
group over workers. Every step is idempotent: rerunning a job, or a chunk after a crash,
changes nothing that was already right."""

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.db.models import Count, F
from django.utils import timezone

from billing.calendar import month_start
from billing.models import Application, JobRun
from billing.services.closing import close_accounts_month
from billing.services.overdue import overdue_refresh
from billing.services.rating import ChunkResult, rate_accounts_day

Progress = Callable[[int, int], None]


def account_chunks(
    *,
    sdkappid: int | None = None,
    account_ids: list[int] | None = None,
    size: int | None = None,
    applications_per_chunk: int | None = None,
) -> list[list[int]]:
    """Account ids with applications (all, one application's, or of the given accounts), in
    account order, in chunks of at most ``size`` accounts (BILLING_CHUNK_ACCOUNTS) and about
    ``applications_per_chunk`` applications (BILLING_CHUNK_APPLICATIONS; an account with more
    is a chunk of its own). A chunk holds whole accounts, so each account's invoices are
    refreshed once, by one chunk; the application bound keeps what a chunk reads and holds in
    memory the same however large the customers around it are."""
    size = size or settings.BILLING_CHUNK_ACCOUNTS
    applications_per_chunk = applications_per_chunk or settings.BILLING_CHUNK_APPLICATIONS
    applications = Application.objects.all()
    if sdkappid is not None:
        applications = applications.filter(sdkappid=sdkappid)
    if account_ids is not None:
        applications = applications.filter(account_id__any=account_ids)
    counts = applications.values_list("account_id").annotate(n=Count("pk")).order_by("account_id")
    chunks: list[list[int]] = []
    current: list[int] = []
    held = 0
    for account_id, count in counts:
        if current and (len(current) >= size or held + count > applications_per_chunk):
            chunks.append(current)
            current, held = [], 0
        current.append(account_id)
        held += count
    if current:
        chunks.append(current)
    return chunks


def _application_filter(sdkappid: int | None) -> list[int] | None:
    if sdkappid is None:
        return None
    return list(Application.objects.filter(sdkappid=sdkappid).values_list("pk", flat=True))


def _run(job: str, period: dt.date, chunks: list, work, progress: Progress | None) -> JobRun:
    run = JobRun.objects.create(job=job, period=period, chunks_total=len(chunks))
    totals = ChunkResult()
    try:
        for done, chunk in enumerate(chunks, start=1):
            result = work(chunk)
            for key in vars(totals):
                setattr(totals, key, getattr(totals, key) + getattr(result, key))
            JobRun.objects.filter(pk=run.pk).update(chunks_done=done)
            if progress:
                progress(done, len(chunks))
    except Exception as error:
        JobRun.objects.filter(pk=run.pk).update(
            state=JobRun.State.FAILED, error=repr(error), finished_at=timezone.now()
        )
        raise
    run.refresh_from_db()
    run.state = JobRun.State.SUCCEEDED
    run.summary = vars(totals)
    run.finished_at = timezone.now()
    run.save()
    return run


def job_run_chunk_done(run_id: int | None) -> None:
    """A chunk task of a fanned-out job finished (Celery path)."""
    if run_id is not None:
        JobRun.objects.filter(pk=run_id).update(chunks_done=F("chunks_done") + 1)


def job_run_finish(run_id: int | None, results: list[dict]) -> dict:
    """Every chunk of a fanned-out job finished: add up their results into the run."""
    totals: dict = {}
    for result in results:
        for key, value in result.items():
            totals[key] = totals.get(key, 0) + value
    if run_id is not None:
        JobRun.objects.filter(pk=run_id).update(
            state=JobRun.State.SUCCEEDED, summary=totals, finished_at=timezone.now()
        )
    return totals


def bill_day(
    *, day: dt.date, sdkappid: int | None = None, progress: Progress | None = None
) -> JobRun:
    """Rate one billing day for every application (or one), then refresh overdue state."""
    application_ids = _application_filter(sdkappid)
    run = _run(
        "bill_day",
        day,
        account_chunks(sdkappid=sdkappid),
        lambda chunk: rate_accounts_day(
            account_ids=chunk, day=day, application_ids=application_ids
        ),
        progress,
    )
    overdue_refresh(today=day + dt.timedelta(days=1))
    if sdkappid is None:  # closed months that received late usage (SPEC 6)
        from billing.services.restatements import restatements_refresh_due

        restatements_refresh_due(today=day + dt.timedelta(days=1))
    return run


def close_month(*, month: dt.date, progress: Progress | None = None) -> JobRun:
    """Rate the month's monthly items and finalize its invoices (SPEC 3), then overdue."""
    month = month_start(month)
    run = _run(
        "close_month",
        month,
        account_chunks(),
        lambda chunk: close_accounts_month(account_ids=chunk, month=month),
        progress,
    )
    overdue_refresh(today=timezone.localdate())
    return run
