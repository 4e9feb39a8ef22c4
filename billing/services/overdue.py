"""Overdue accounts and suspension (SPEC 5). Run by the daily and monthly jobs; idempotent."""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from accounts.models import Account
from billing.audit import audit_record_create
from billing.models import Application, Invoice
from notifications import outbox

OVERDUE_REASON = "overdue payment"


def overdue_refresh(*, today: dt.date, account_ids: list[int] | None = None) -> dict:
    """Mark accounts overdue whose finalized invoice is past due and unpaid; suspend their
    applications after the grace period; close applications suspended longer than the close
    period; clear and reactivate accounts that no longer owe an overdue invoice. With
    ``account_ids``, only those accounts (after a payment, a credit note or a void)."""
    summary = {"overdue": 0, "suspended": 0, "closed": 0, "reactivated": 0}
    grace = dt.timedelta(days=settings.OVERDUE_GRACE_DAYS)
    close_after = dt.timedelta(days=settings.SUSPENDED_CLOSE_DAYS)
    now = timezone.now()
    invoices = Invoice.objects.filter(state=Invoice.State.FINALIZED, due_date__lt=today)
    flagged = Account.objects.filter(overdue_since__isnull=False)
    applications = Application.objects.all()
    if account_ids is not None:
        invoices = invoices.filter(account_id__in=account_ids)
        flagged = flagged.filter(pk__in=account_ids)
        applications = applications.filter(account_id__in=account_ids)
    earliest_due = dict(
        invoices.values("account_id").annotate(due=Min("due_date")).values_list("account_id", "due")
    )
    with transaction.atomic():
        for account in Account.objects.select_for_update().filter(
            pk__in=set(earliest_due) | set(flagged.values_list("pk", flat=True))
        ):
            due = earliest_due.get(account.pk)
            if due is None:
                account.overdue_since = None
                account.save(update_fields=["overdue_since"])
                for app in account.applications.filter(
                    status=Application.Status.SUSPENDED, status_reason=OVERDUE_REASON
                ):
                    _set_status(app, Application.Status.ACTIVE, "", now)
                    summary["reactivated"] += 1
                continue
            since = due + dt.timedelta(days=1)
            if account.overdue_since != since:
                account.overdue_since = since
                account.save(update_fields=["overdue_since"])
            summary["overdue"] += 1
            if today - since > grace:
                for app in account.applications.filter(status=Application.Status.ACTIVE):
                    _set_status(app, Application.Status.SUSPENDED, OVERDUE_REASON, now)
                    summary["suspended"] += 1
        for app in applications.filter(
            status=Application.Status.SUSPENDED, status_changed_at__lt=now - close_after
        ):
            _set_status(
                app, Application.Status.CLOSED, f"suspended over {close_after.days} days", now
            )
            summary["closed"] += 1
    return summary


def _set_status(application: Application, status: str, reason: str, now) -> None:
    before = {"status": application.status}
    application.status = status
    application.status_reason = reason
    application.status_changed_at = now
    application.save(update_fields=["status", "status_reason", "status_changed_at"])
    audit_record_create(
        actor=None,
        action=f"application.{status}",
        target=application,
        account=application.account,
        before=before,
        after={"status": status, "reason": reason},
    )
    outbox.record(outbox.STATUS_EVENTS[status], application)
