"""Closing a month's invoices (SPEC 3, 6): the order of the close is owned here. Under the
applications' locks (``billing.locks``) the month's stale days are rated, then the drafts are
issued by ``billing.services.invoicing``. Invoicing therefore never calls rating: imports go
closing -> rating -> applications -> invoicing, never back."""

import datetime as dt
from collections.abc import Iterable

from django.db import transaction

from billing.calendar import month_end, month_start
from billing.errors import BillingError
from billing.locks import applications_lock
from billing.models import Application, Invoice, RatedDay
from billing.selectors.invoices import closed_months
from billing.selectors.prices import PriceCatalog
from billing.services.invoicing import InvoiceKey, invoices_issue, invoices_refresh_deferred
from billing.services.rating import ChunkResult, rate_accounts_month, rate_stale_days_of


def _rate_stale_usage(account_id: int, month: dt.date) -> None:
    """Under the account's application locks, rate the month's days late events made stale,
    so that what is frozen includes every event accepted before it."""
    applications = list(Application.objects.filter(account_id=account_id).order_by("pk"))
    applications_lock(app.pk for app in applications)
    stale = RatedDay.objects.filter(
        application__account_id=account_id,
        state=RatedDay.State.STALE,
        day__range=(month_start(month), month_end(month)),
    )
    if stale.exists():
        catalog, closed = PriceCatalog(), closed_months([account_id])
        rate_stale_days_of(applications, month, catalog, closed)


def invoice_finalize(
    *, invoice: Invoice, actor=None, today: dt.date | None = None, usage_locked: bool = False
) -> Invoice:
    """Freeze a draft (SPEC 6): rate the month's stale days (late events), refresh its lines a
    last time, issue the next number of the year, store the total, the due date and a snapshot
    of the billing details. ``usage_locked``: the caller holds the account's application
    locks and has rated the stale days already (the monthly close)."""
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().select_related("account").get(pk=invoice.pk)
        if not invoice.is_draft:
            raise BillingError(
                f"Invoice {invoice.number} is already {invoice.state}.",
                code="not_draft",
                field="state",
            )
        [finalized] = invoices_finalize(
            invoice_ids=[invoice.pk], actor=actor, today=today, usage_locked=usage_locked
        )
        return finalized


def invoices_finalize(
    *,
    invoice_ids: Iterable[int],
    actor=None,
    today: dt.date | None = None,
    usage_locked: bool = False,
    refreshed: set[InvoiceKey] = frozenset(),
) -> list[Invoice]:
    """Finalize the drafts among ``invoice_ids`` together (the monthly close of a chunk of
    accounts): lock them, rate their months' stale days (unless ``usage_locked``: the caller
    holds the applications' locks and rated them), refresh their lines, issue consecutive
    numbers in (account, currency) order, freeze totals, due dates and billing snapshots, and
    write one audit record each. Invoices that are no longer drafts are left alone; those
    whose keys are in ``refreshed`` were rebuilt in this transaction already (the monthly
    close) and are not rebuilt again. The sequence row is locked last, so parallel chunks
    wait for each other only while they commit."""
    with transaction.atomic():
        locked = (
            Invoice.objects.select_for_update()
            .select_related("account")
            .filter(pk__any=list(invoice_ids))
            .order_by("pk")
        )
        drafts = [invoice for invoice in locked if invoice.is_draft]
        if not drafts:
            return []
        if not usage_locked:
            for account_id, month in sorted({(i.account_id, i.month) for i in drafts}):
                _rate_stale_usage(account_id, month)
        return invoices_issue(drafts=drafts, actor=actor, today=today, refreshed=refreshed)


def invoices_to_finalize(month: dt.date, account_ids: list[int] | None = None) -> list[int]:
    invoices = Invoice.objects.filter(month=month_start(month), state=Invoice.State.DRAFT)
    if account_ids is not None:
        invoices = invoices.filter(account_id__any=account_ids)
    return list(invoices.order_by("account_id", "currency").values_list("pk", flat=True))


def close_accounts_month(*, account_ids: list[int], month: dt.date) -> ChunkResult:
    """Stale days, monthly items, then finalization of the chunk's drafts (together, with
    consecutive numbers), for a chunk of accounts, in one transaction that holds the
    applications' locks (billing.locks): no event slips in between the last rating and the
    freeze, and a crash gives the chunk's invoice numbers back."""
    with transaction.atomic():
        with invoices_refresh_deferred() as refreshed:
            result = rate_accounts_month(account_ids=account_ids, month=month)
        # The drafts rebuilt just now, under the same locks, are not rebuilt again.
        finalized = invoices_finalize(
            invoice_ids=invoices_to_finalize(month, account_ids),
            usage_locked=True,
            refreshed=refreshed,
        )
        result.invoices_finalized = len(finalized)
    return result
