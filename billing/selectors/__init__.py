"""Reads that are more than a lookup, one module per concern. Views, the API, the admin and
the services call these; selectors never import ``billing.services`` (reads do not depend on
writes) and may call the pure rules of ``billing.rating``.

- ``prices``: the price entries in force and the billable items, cached for a job run.
- ``editions``: edition periods, what an edition includes, the refusals of an edition change.
- ``usage``: usage aggregation (a billing day, a month's DAU and groups, a charge's events).
- ``drafts``: what the pure rules make of aggregated usage (charges, written nowhere).
- ``invoices``: the lines a draft should have, closed months, amounts due, balances.
- ``estimates``: the month-to-date estimate and the edition change preview.
- ``charts``: the portal's usage charts.
- ``portal``: the dashboard, the application page, allowances and packs left, charges.
- ``restatements``: late usage of closed months, pending restatements (finance review).

Every public name is re-exported here, so ``from billing.selectors import X`` keeps working."""

from billing.selectors.charts import (
    MODERATION_TYPES,
    ChartSeries,
    UsageChart,
    UsageSeries,
    usage_series,
)
from billing.selectors.drafts import (
    MODERATION_ITEMS,
    MODERATION_UNIT_ITEM,
    rate_day_drafts,
    rate_month_drafts,
)
from billing.selectors.editions import (
    EditionTerms,
    PeriodRow,
    current_period,
    edition_change_refusal_check,
    edition_item_code,
    edition_on,
    edition_periods_by_application,
    edition_terms,
    editions_on,
    period_covering,
)
from billing.selectors.estimates import (
    EditionChangePreview,
    MonthToDate,
    edition_change_preview,
    month_to_date,
)
from billing.selectors.invoices import (
    InvoiceDetail,
    account_balances,
    amount_due,
    closed_months,
    credit_notes_for_user,
    invoice_amount_due,
    invoice_credited,
    invoice_detail,
    invoice_line_specs,
    invoice_title,
    invoices_for_user,
    month_is_closed,
    month_open_check,
    payments_for_user,
)
from billing.selectors.portal import (
    AccountSummary,
    AllowanceLeft,
    ApplicationOverview,
    ApplicationSummary,
    ChargeDay,
    PackLeft,
    PurchaseOption,
    SubscriptionRow,
    accounts_for_user,
    allowances_left,
    application_charges,
    application_overview,
    applications_for_user,
    balances_for_user,
    charge_months,
    dashboard_for_user,
    packs_left,
)
from billing.selectors.prices import ALLOWANCE_ITEM, PriceCatalog, price_entries_by_id, price_of
from billing.selectors.restatements import (
    LateUsage,
    late_usage_for_invoice,
    pending_restatements,
    restatement_lines,
    restatements_list,
)
from billing.selectors.usage import (
    MODERATION_COUNT_METRICS,
    MODERATION_TIMED_METRICS,
    TRTC_SIMPLE_METRICS,
    DayInputs,
    DayUsage,
    aggregate_day,
    charge_usage_aggregate,
    day_inputs,
    month_measures,
    postpaid_subscriptions,
)

__all__ = [
    "LateUsage",
    "late_usage_for_invoice",
    "pending_restatements",
    "restatement_lines",
    "restatements_list",
    "ALLOWANCE_ITEM",
    "AccountSummary",
    "AllowanceLeft",
    "ApplicationOverview",
    "ApplicationSummary",
    "ChargeDay",
    "ChartSeries",
    "DayInputs",
    "DayUsage",
    "EditionChangePreview",
    "EditionTerms",
    "InvoiceDetail",
    "MODERATION_COUNT_METRICS",
    "MODERATION_ITEMS",
    "MODERATION_TIMED_METRICS",
    "MODERATION_TYPES",
    "MODERATION_UNIT_ITEM",
    "MonthToDate",
    "PackLeft",
    "PeriodRow",
    "PriceCatalog",
    "PurchaseOption",
    "SubscriptionRow",
    "TRTC_SIMPLE_METRICS",
    "UsageChart",
    "UsageSeries",
    "account_balances",
    "accounts_for_user",
    "aggregate_day",
    "allowances_left",
    "amount_due",
    "application_charges",
    "application_overview",
    "applications_for_user",
    "balances_for_user",
    "charge_months",
    "charge_usage_aggregate",
    "closed_months",
    "credit_notes_for_user",
    "current_period",
    "dashboard_for_user",
    "day_inputs",
    "edition_change_preview",
    "edition_change_refusal_check",
    "edition_item_code",
    "edition_on",
    "edition_periods_by_application",
    "edition_terms",
    "editions_on",
    "invoice_amount_due",
    "invoice_credited",
    "invoice_detail",
    "invoice_line_specs",
    "invoice_title",
    "invoices_for_user",
    "month_is_closed",
    "month_measures",
    "month_open_check",
    "month_to_date",
    "packs_left",
    "payments_for_user",
    "period_covering",
    "postpaid_subscriptions",
    "price_entries_by_id",
    "price_of",
    "rate_day_drafts",
    "rate_month_drafts",
    "usage_series",
]
