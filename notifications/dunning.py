"""The daily schedule of notices (beat, ``notifications.tasks.daily_notices``): a reminder
before the due date, overdue notices at the dunning steps, a warning before suspension, and
the entitlements check of applications whose prepaid term may have lapsed. Idempotent: each
notice has a dedupe key, so running twice a day sends nothing twice."""

import datetime as dt

from django.conf import settings

from accounts.models import Account
from billing.calendar import billing_today
from billing.models import Application, Invoice
from notifications.emails import notice_create
from notifications.entitlements import entitlements_check, lapse_candidates
from notifications.outbox import record


def daily_notices(*, today: dt.date | None = None) -> dict:
    today = today or billing_today()
    summary = {"due_soon": 0, "overdue": 0, "suspension_warning": 0, "entitlements": 0}
    finalized = Invoice.objects.filter(state=Invoice.State.FINALIZED, due_date__isnull=False)
    # Reminder: REMINDER_DAYS_BEFORE_DUE days before the due date (or later, until due).
    reminder_from = today + dt.timedelta(days=settings.REMINDER_DAYS_BEFORE_DUE)
    for invoice in finalized.filter(due_date__gte=today, due_date__lte=reminder_from):
        if record("invoice.due_soon", invoice, dedupe_key=f"invoice.due_soon:{invoice.pk}"):
            summary["due_soon"] += 1
    # Dunning: one notice at each step (days after the due date); a missed day sends the
    # latest step reached, never a pile of old ones.
    steps = sorted(settings.DUNNING_STEPS_DAYS)
    for invoice in finalized.filter(due_date__lt=today):
        overdue_days = (today - invoice.due_date).days
        reached = [s for s in steps if s <= overdue_days]
        if not reached:
            continue
        step = reached[-1]
        if record(
            "invoice.overdue",
            invoice,
            data={"dunning_step": step, "days_overdue": overdue_days},
            dedupe_key=f"invoice.overdue:{invoice.pk}:{step}",
        ):
            summary["overdue"] += 1
    # Suspension happens once an account has been overdue longer than the grace period
    # (billing.services.overdue): warn SUSPENSION_WARNING_DAYS before.
    grace = settings.OVERDUE_GRACE_DAYS
    for account in Account.objects.filter(overdue_since__isnull=False):
        suspend_on = account.overdue_since + dt.timedelta(days=grace + 1)
        if (
            not dt.timedelta(0)
            < suspend_on - today
            <= dt.timedelta(days=settings.SUSPENSION_WARNING_DAYS)
        ):
            continue
        if not Application.objects.filter(account=account, status="active").exists():
            continue
        if notice_create(
            key=f"suspension_warning:{account.pk}:{suspend_on.isoformat()}",
            kind="suspension_warning",
            account_id=account.pk,
        ):
            summary["suspension_warning"] += 1
    summary["entitlements"] = entitlements_check(
        application_ids=lapse_candidates(today), today=today
    )
    return summary
