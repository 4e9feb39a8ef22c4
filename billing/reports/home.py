"""What the admin home shows finance and support staff each morning (issue 15): what is owed
and how late, what each product family earned, what needs action, how the jobs ran."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from accounts.models import Account
from billing.calendar import billing_today, billing_tz, month_start
from billing.models import (
    Application,
    BillableItem,
    CreditNote,
    Invoice,
    InvoiceLine,
    JobRun,
    Payment,
)
from billing.money import ZERO
from billing.reports.families import ADJUSTMENTS, FAMILIES, family_of_line

_MONEY = DecimalField(max_digits=20, decimal_places=2)


def _sum_against_invoice(model):
    rows = (
        model.objects.filter(invoice=OuterRef("pk"))
        .order_by()
        .values("invoice")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    return Coalesce(Subquery(rows, output_field=_MONEY), ZERO, output_field=_MONEY)


def open_invoices():
    """Finalized invoices (issued, not yet paid) with ``credited``, ``paid`` and their
    ``amount_due`` (total less credit notes and payments against it; SPEC 8)."""
    return (
        Invoice.objects.filter(state=Invoice.State.FINALIZED)
        .select_related("account")
        .annotate(credited=_sum_against_invoice(CreditNote), paid=_sum_against_invoice(Payment))
    )


def _due(invoice) -> Decimal:
    return max(ZERO, invoice.total - invoice.credited - invoice.paid)


# --------------------------------------------------------------------------------------------
# Receivables aging
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgingBucket:
    key: str  # the invoice list's ``aging`` filter value
    label: str
    low: int | None  # days past due, inclusive; None: open-ended
    high: int | None

    def holds(self, days_past_due: int) -> bool:
        return (self.low is None or days_past_due >= self.low) and (
            self.high is None or days_past_due <= self.high
        )

    def due_date_range(self, today: dt.date) -> dict:
        """The ``due_date`` lookups of the invoices in this bucket on ``today``."""
        lookups = {}
        if self.low is not None:
            lookups["due_date__lte"] = today - dt.timedelta(days=self.low)
        if self.high is not None:
            lookups["due_date__gte"] = today - dt.timedelta(days=self.high)
        return lookups


# Days past due = today - due date: due today or later is "not yet due".
AGING_BUCKETS = [
    AgingBucket("current", "Not yet due", None, 0),
    AgingBucket("1-30", "1-30 days", 1, 30),
    AgingBucket("31-60", "31-60 days", 31, 60),
    AgingBucket("61-90", "61-90 days", 61, 90),
    AgingBucket("90+", "Over 90 days", 91, None),
]
AGING_BY_KEY = {bucket.key: bucket for bucket in AGING_BUCKETS}


@dataclass
class AgingCell:
    bucket: AgingBucket
    amount: Decimal = ZERO
    invoices: int = 0


@dataclass
class AgingRow:
    currency: str
    cells: list[AgingCell]

    @property
    def total(self) -> Decimal:
        return sum((cell.amount for cell in self.cells), ZERO)

    @property
    def invoices(self) -> int:
        return sum(cell.invoices for cell in self.cells)


def receivables_aging(*, today: dt.date | None = None) -> list[AgingRow]:
    """Per currency: what finalized invoices still have due, by days past due."""
    today = today or billing_today()
    rows: dict[str, AgingRow] = {}
    for invoice in open_invoices().select_related(None).only("total", "currency", "due_date"):
        due = _due(invoice)
        if due <= 0:
            continue
        row = rows.setdefault(
            invoice.currency,
            AgingRow(invoice.currency, [AgingCell(bucket) for bucket in AGING_BUCKETS]),
        )
        days = (today - invoice.due_date).days
        cell = next(cell for cell in row.cells if cell.bucket.holds(days))
        cell.amount += due
        cell.invoices += 1
    return [rows[currency] for currency in sorted(rows)]


# --------------------------------------------------------------------------------------------
# Revenue per product family
# --------------------------------------------------------------------------------------------


@dataclass
class RevenueSeries:
    currency: str
    months: list[dt.date]
    # family -> amount per month (same order as ``months``)
    by_family: dict[str, list[Decimal]]

    @property
    def month_totals(self) -> list[Decimal]:
        return [
            sum((amounts[i] for amounts in self.by_family.values()), ZERO)
            for i in range(len(self.months))
        ]

    @property
    def total(self) -> Decimal:
        return sum(self.month_totals, ZERO)

    def shown_rows(self) -> list[tuple[str, list[Decimal], Decimal]]:
        """The families that earned or credited anything in these months."""
        return [row for row in self.rows() if any(row[1])]

    def by_month(self) -> list[tuple[dt.date, list[Decimal], Decimal]]:
        """(month, amount per shown family, month total), oldest first."""
        shown = self.shown_rows()
        totals = self.month_totals
        return [
            (month, [amounts[i] for _, amounts, _ in shown], totals[i])
            for i, month in enumerate(self.months)
        ]

    def rows(self) -> list[tuple[str, list[Decimal], Decimal]]:
        """(family label, amounts per month, 12-month total), families in FAMILIES order."""
        return [
            (FAMILIES[family], amounts, sum(amounts, ZERO))
            for family, amounts in self.by_family.items()
        ]


@dataclass
class RevenueReport:
    months: list[dt.date]
    estimate_month: dt.date  # the running month: an estimate (month to date)
    series: list[RevenueSeries] = field(default_factory=list)


def last_months(today: dt.date, count: int = 12) -> list[dt.date]:
    """The first days of the ``count`` months ending with today's month, oldest first."""
    months = [month_start(today)]
    while len(months) < count:
        months.append(month_start(months[-1] - dt.timedelta(days=1)))
    return months[::-1]


def revenue_by_family(*, today: dt.date | None = None, months: int = 12) -> RevenueReport:
    """Revenue of the last ``months`` months per product family and currency: for closed
    months, the lines of issued invoices (finalized or paid; void ones excluded) of that
    month, less credit notes issued in it (adjustments and credits); for the running month,
    the month-to-date estimate of every account (``billing.selectors.month_to_date``, the
    portal's figure), plus credit notes issued so far."""
    from billing.selectors import month_to_date

    today = today or billing_today()
    month_list = last_months(today, months)
    index = {month: i for i, month in enumerate(month_list)}
    running = month_list[-1]
    amounts: dict[str, dict[str, list[Decimal]]] = {}

    def add(currency: str, family: str, month: dt.date, amount: Decimal) -> None:
        per_family = amounts.setdefault(
            currency, {key: [ZERO] * len(month_list) for key in FAMILIES}
        )
        per_family[family][index[month]] += amount

    lines = (
        InvoiceLine.objects.filter(
            invoice__state__in=[Invoice.State.FINALIZED, Invoice.State.PAID],
            invoice__month__gte=month_list[0],
            invoice__month__lt=running,
        )
        .values_list("invoice__currency", "invoice__month", "kind", "item__code")
        .annotate(s=Sum("amount"))
        .order_by()
    )
    for currency, month, kind, item_code, amount in lines:
        add(currency, family_of_line(kind, item_code), month, amount)
    tz = billing_tz()
    start = dt.datetime.combine(month_list[0], dt.time(0), tzinfo=tz)
    for note in CreditNote.objects.filter(created_at__gte=start).only(
        "currency", "amount", "created_at"
    ):
        month = month_start(note.created_at.astimezone(tz).date())
        if month in index:
            add(note.currency, ADJUSTMENTS, month, -note.amount)
    # The running month: the portal's month to date, account by account.
    codes = dict(BillableItem.objects.values_list("pk", "code"))
    # Accounts with a draft for the running month: every paid edition starts a term, and so a
    # draft, each month; an account with nothing to bill has no estimate to add.
    account_ids = (
        Invoice.objects.filter(month=running, state=Invoice.State.DRAFT)
        .values_list("account_id", flat=True)
        .distinct()
    )
    for account_id in account_ids.order_by("account_id"):
        for estimate in month_to_date(account_id=account_id, today=today):
            for line in estimate.lines:
                code = line.get("item_code") or codes.get(line.get("item_id"))
                add(estimate.currency, family_of_line(line["kind"], code), running, line["amount"])
    report = RevenueReport(months=month_list, estimate_month=running)
    for currency in sorted(amounts):
        report.series.append(RevenueSeries(currency, month_list, amounts[currency]))
    return report


# --------------------------------------------------------------------------------------------
# What needs action
# --------------------------------------------------------------------------------------------


@dataclass
class OverdueAccount:
    account: Account
    overdue_since: dt.date
    days_overdue: int  # days past the earliest unpaid due date
    due: dict[str, Decimal]  # overdue amount per currency
    suspends_on: dt.date  # when its active applications are (or were) suspended
    active_applications: int
    suspended_applications: int


@dataclass
class PastDueInvoice:
    invoice: Invoice
    amount_due: Decimal
    days_past_due: int


@dataclass
class AdjustedDraft:
    invoice: Invoice
    adjustments: int
    amount: Decimal


@dataclass
class ActionList:
    overdue_accounts: list[OverdueAccount]
    suspended: list[Application]
    about_to_suspend: list[tuple[Application, dt.date]]
    past_due_invoices: list[PastDueInvoice]
    adjusted_drafts: list[AdjustedDraft]
    # Late usage waiting for review (restatements, issue 17): None until that model exists.
    late_usage: list | None = None

    @property
    def count(self) -> int:
        return (
            len(self.overdue_accounts)
            + len(self.suspended)
            + len(self.past_due_invoices)
            + len(self.adjusted_drafts)
        )


def suspension_day(overdue_since: dt.date) -> dt.date:
    """The first day the overdue job suspends an account's applications: overdue for longer
    than the grace period (``billing.services.overdue.overdue_refresh``)."""
    return overdue_since + dt.timedelta(days=settings.OVERDUE_GRACE_DAYS + 1)


def actions_needed(*, today: dt.date | None = None, limit: int = 50) -> ActionList:
    today = today or billing_today()
    past_due = [
        PastDueInvoice(invoice, _due(invoice), (today - invoice.due_date).days)
        for invoice in open_invoices().filter(due_date__lt=today).order_by("due_date", "pk")
    ]
    past_due = [row for row in past_due if row.amount_due > 0]
    due_by_account: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for row in past_due:
        per_currency = due_by_account[row.invoice.account_id]
        per_currency[row.invoice.currency] = (
            per_currency.get(row.invoice.currency, ZERO) + row.amount_due
        )
    status_counts = defaultdict(dict)
    for account_id, status, n in (
        Application.objects.filter(account__overdue_since__isnull=False)
        .values_list("account_id", "status")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        status_counts[account_id][status] = n
    overdue = [
        OverdueAccount(
            account=account,
            overdue_since=account.overdue_since,
            days_overdue=(today - account.overdue_since).days + 1,
            due=dict(sorted(due_by_account.get(account.pk, {}).items())),
            suspends_on=suspension_day(account.overdue_since),
            active_applications=status_counts[account.pk].get(Application.Status.ACTIVE, 0),
            suspended_applications=status_counts[account.pk].get(Application.Status.SUSPENDED, 0),
        )
        for account in Account.objects.filter(overdue_since__isnull=False).order_by(
            "overdue_since", "name", "pk"
        )[:limit]
    ]
    suspended = list(
        Application.objects.filter(status=Application.Status.SUSPENDED)
        .select_related("account")
        .order_by("status_changed_at", "sdkappid")[:limit]
    )
    about = [
        (app, suspension_day(app.account.overdue_since))
        for app in Application.objects.filter(
            status=Application.Status.ACTIVE, account__overdue_since__isnull=False
        )
        .select_related("account")
        .order_by("account__overdue_since", "sdkappid")[:limit]
    ]
    drafts = [
        AdjustedDraft(invoice, invoice.n_adjustments, invoice.adjusted)
        for invoice in Invoice.objects.filter(state=Invoice.State.DRAFT, adjustments__isnull=False)
        .select_related("account")
        .annotate(n_adjustments=Count("adjustments"), adjusted=Sum("adjustments__amount"))
        .order_by("month", "account__name", "currency")[:limit]
    ]
    return ActionList(
        overdue_accounts=overdue,
        suspended=suspended,
        about_to_suspend=about,
        past_due_invoices=past_due[:limit],
        adjusted_drafts=drafts,
        late_usage=None,
    )


# --------------------------------------------------------------------------------------------
# Jobs
# --------------------------------------------------------------------------------------------


@dataclass
class JobRunRow:
    run: JobRun

    @property
    def duration(self) -> dt.timedelta | None:
        if self.run.finished_at is None:
            return None
        return self.run.finished_at - self.run.started_at

    @property
    def duration_label(self) -> str:
        duration = self.duration
        if duration is None:
            return "running" if self.run.state == JobRun.State.RUNNING else "—"
        seconds = duration.total_seconds()
        if seconds < 60:
            return f"{seconds:.1f} s"
        minutes, seconds = divmod(int(round(seconds)), 60)
        return f"{minutes} min {seconds:02d} s"

    @property
    def counts(self) -> list[tuple[str, object]]:
        summary = self.run.summary or {}
        return [(key.replace("_", " "), value) for key, value in summary.items() if value]


@dataclass
class DayStatus:
    day: dt.date
    rated: bool  # a bill_day run for this day succeeded
    runs: int  # bill_day runs for this day (any state)


@dataclass
class JobOverview:
    daily: list[JobRunRow]
    monthly: list[JobRunRow]
    days: list[DayStatus]

    @property
    def days_not_rated(self) -> list[dt.date]:
        return [status.day for status in self.days if not status.rated]


def jobs_overview(*, today: dt.date | None = None, days: int = 14) -> JobOverview:
    """The last runs of the daily and the monthly job, and for each of the last ``days``
    billing days (yesterday back) whether a daily run for it succeeded."""
    today = today or billing_today()
    daily = [JobRunRow(run) for run in JobRun.objects.filter(job="bill_day")[:10]]
    monthly = [JobRunRow(run) for run in JobRun.objects.filter(job="close_month")[:3]]
    window = [today - dt.timedelta(days=n) for n in range(1, days + 1)]
    per_day: dict[dt.date, dict] = defaultdict(lambda: {"runs": 0, "ok": False})
    for period, state in JobRun.objects.filter(
        job="bill_day", period__range=(window[-1], window[0])
    ).values_list("period", "state"):
        per_day[period]["runs"] += 1
        per_day[period]["ok"] |= state == JobRun.State.SUCCEEDED
    statuses = [DayStatus(day, per_day[day]["ok"], per_day[day]["runs"]) for day in window]
    return JobOverview(daily=daily, monthly=monthly, days=statuses)
