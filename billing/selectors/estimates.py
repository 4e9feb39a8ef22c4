"""Estimates and previews: the month-to-date estimate and the edition change preview,
computed with the rules the jobs and the change use. Nothing is written."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from billing import catalog
from billing.calendar import billing_today, month_end, month_start
from billing.line_order import LAST, monthly_key
from billing.models import (
    Adjustment,
    Application,
    Currency,
    InvoiceLine,
    PrepaidTerm,
)
from billing.money import ZERO, round_money
from billing.rating.terms import proration_credit, term_bounds
from billing.selectors.drafts import rate_month_drafts
from billing.selectors.editions import (
    EditionTerms,
    edition_change_refusal_check,
    edition_item_code,
    edition_periods_by_application,
    edition_terms,
)
from billing.selectors.invoices import invoice_line_specs
from billing.selectors.prices import PriceCatalog, price_entries_by_id
from billing.selectors.usage import month_measures, postpaid_subscriptions


@dataclass
class MonthToDate:
    """What the running month would bill if it closed now, in one currency."""

    currency: str
    month: dt.date
    lines: list[dict]
    total: Decimal


def month_to_date(
    *, account_id: int, today: dt.date | None = None, application_id: int | None = None
) -> list[MonthToDate]:
    """Per currency: the draft's lines (usage rated so far, prepaid purchases, credits,
    adjustments) plus the monthly items computed now with the same pure rules the monthly job
    uses (IM overage so far, message history accrued so far). Nothing is written.

    With ``application_id``: only that application's lines (no account adjustments)."""
    today = today or billing_today()
    month = month_start(today)
    last = min(month_end(month), today)
    job_catalog = PriceCatalog()
    lines: dict[str, list[dict]] = defaultdict(list)
    specs = invoice_line_specs([account_id], month)
    for currency in Currency.values:
        lines[currency] += [
            spec
            for spec in specs.get((account_id, currency), [])
            if application_id is None or spec.get("application_id") == application_id
        ]
    adjustments = Adjustment.objects.filter(invoice__account_id=account_id, invoice__month=month)
    if application_id is not None:
        adjustments = adjustments.none()
    for adjustment in adjustments.select_related("invoice"):
        lines[adjustment.invoice.currency].append(
            {
                "kind": "adjustment",
                "description": adjustment.reason,
                "exact_amount": adjustment.amount,
            }
        )
    # Approved late usage of closed months: lines of the running month's draft (SPEC 6).
    late_lines = InvoiceLine.objects.filter(
        invoice__account_id=account_id, invoice__month=month, kind=InvoiceLine.Kind.LATE_USAGE
    )
    if application_id is not None:
        late_lines = late_lines.filter(application_id=application_id)
    for late in late_lines.values("invoice__currency", "application_id", "description", "amount",
                                  "quantity", "sort_key"):  # fmt: skip
        lines[late["invoice__currency"]].append(
            {
                "kind": InvoiceLine.Kind.LATE_USAGE,
                "application_id": late["application_id"],
                "description": late["description"],
                "quantity": late["quantity"],
                "exact_amount": late["amount"],
                "sort_key": late["sort_key"],
            }
        )
    applications = Application.objects.filter(account_id=account_id).order_by("sdkappid")
    if application_id is not None:
        applications = applications.filter(pk=application_id)
    applications = list(applications)
    # The monthly items of every application at once: measures, add-ons and price entries
    # in one query each, whatever the number of applications.
    periods = edition_periods_by_application([app.pk for app in applications])
    applications = [
        app for app in applications if any(p.starts_on <= today for p in periods[app.pk])
    ]
    ids = [app.pk for app in applications]
    measures = month_measures(ids, month, last, periods)
    subscriptions = postpaid_subscriptions(ids, month, last)
    drafts_of = {
        app.pk: rate_month_drafts(
            app,
            month,
            job_catalog,
            through=today,
            measures=measures.get(app.pk, []),
            subscriptions=subscriptions[app.pk],
        )
        for app in applications
    }
    entries = price_entries_by_id([draft for drafts in drafts_of.values() for draft in drafts])
    for application in applications:
        for draft in drafts_of[application.pk]:
            entry = entries[draft.price_entry_id]
            lines[entry.price_book.currency].append(
                {
                    "kind": "usage",
                    "application_id": application.pk,
                    "item_code": draft.item_code,
                    "description": (
                        f"{job_catalog.items[draft.item_code].name}, {application.name} "
                        f"({application.sdkappid}), so far: {draft.explanation}"
                    ),
                    "quantity": draft.billable_quantity,
                    "unit_price": draft.unit_price,
                    "exact_amount": draft.amount,
                    # After the application's daily usage lines (sort keys of invoice_line_specs).
                    "sort_key": monthly_key(application.sdkappid, draft.item_code),
                }
            )
    result = []
    for currency, currency_lines in lines.items():
        if not currency_lines:
            continue
        # The invoice's order: per application, purchases, then usage, then monthly items;
        # account adjustments last.
        currency_lines.sort(key=lambda line: line.get("sort_key") or LAST)
        for line in currency_lines:
            line["amount"] = round_money(line["exact_amount"], currency)
        total = sum((line["amount"] for line in currency_lines), Decimal(0))
        result.append(MonthToDate(currency, month, currency_lines, total))
    return result


@dataclass
class EditionChangePreview:
    """The consequences of ``edition_change`` before it is confirmed, computed with the same
    rules: when it takes effect, the new term and its fee, the proration credit."""

    application: Application
    current: EditionTerms
    target: EditionTerms
    is_upgrade: bool
    takes_effect_on: dt.date
    new_term_starts_on: dt.date
    new_term_ends_on: dt.date
    current_term: PrepaidTerm | None
    credit: Decimal  # proration credit for the unused days of the current term
    credit_explanation: str
    charged_now: Decimal  # on this month's invoice: the new term's fee less the credit
    invoice_month: dt.date  # the month whose invoice carries the new term's fee
    addons_not_sold_on_target: list[str] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return self.target.currency


def edition_change_preview(
    *, application: Application, edition_code: str, today: dt.date | None = None
) -> EditionChangePreview:
    """What ``billing.services.applications.edition_change`` would do today, written nowhere.
    Raises the BillingError the change itself would raise (Trial, unchanged, pending, closed,
    finalized month), so the page can say so before anything is confirmed."""
    day = today or billing_today()
    target = catalog.edition_by_code(edition_code)
    period = edition_change_refusal_check(application=application, target=target, day=day)
    current = period.edition
    current_term = (
        PrepaidTerm.objects.filter(
            application=application,
            item__code=edition_item_code(current),
            starts_on__lte=day,
            ends_on__gte=day,
        )
        .select_related("item")
        .first()
    )
    is_upgrade = target.rank > current.rank
    credit, credit_explanation = ZERO, ""
    if is_upgrade:
        # SPEC 4.1 (ours): at once; a new term starts today; the unused days come back.
        takes_effect_on = day
        if current_term is not None:
            credit, credit_explanation = proration_credit(
                current_term.amount,
                current_term.starts_on,
                current_term.ends_on,
                day,
                current_term.currency,
            )
    else:
        # Downgrade: when the current term ends.
        takes_effect_on = (
            current_term.ends_on + dt.timedelta(days=1) if current_term is not None else day
        )
    target_terms = edition_terms(target, application.region, takes_effect_on)
    new_starts, new_ends = term_bounds(takes_effect_on, 0)
    charged_now = target_terms.monthly_fee - credit if takes_effect_on == day else ZERO
    not_sold = [
        s.item.name
        for s in application.addon_subscriptions.filter(ends_on__isnull=True).select_related("item")
        if s.item.edition_id is not None and s.item.edition_id != target.pk
    ]
    return EditionChangePreview(
        application=application,
        current=edition_terms(current, application.region, day),
        target=target_terms,
        is_upgrade=is_upgrade,
        takes_effect_on=takes_effect_on,
        new_term_starts_on=new_starts,
        new_term_ends_on=new_ends,
        current_term=current_term,
        credit=credit,
        credit_explanation=credit_explanation,
        charged_now=charged_now,
        invoice_month=month_start(takes_effect_on),
        addons_not_sold_on_target=not_sold,
    )
