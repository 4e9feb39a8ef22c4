"""The finance home (issue 15) through the admin with the test client, as finance staff,
support staff and a customer. Every figure is checked against amounts worked out here from the
rows the test writes (dates are relative to today, as the page reads the billing day)."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.services import account_create, staff_create
from billing.calendar import billing_today, billing_tz, month_start
from billing.models import Application, Invoice, InvoiceLine, JobRun
from billing.reports import home
from tests.factories import (
    AccountFactory,
    AdjustmentFactory,
    ApplicationFactory,
    ChargeFactory,
    CreditNoteFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PaymentFactory,
    PrepaidTermFactory,
    billable_item,
)

pytestmark = pytest.mark.django_db

D = Decimal


def months_back(today: dt.date, n: int) -> dt.date:
    month = month_start(today)
    for _ in range(n):
        month = month_start(month - dt.timedelta(days=1))
    return month


def issue(invoice, *, due: dt.date, state=Invoice.State.FINALIZED, finalized_at=None, **extra):
    """Finalize a draft written by the factories: total from its lines (the triggers refuse
    lines on an issued invoice, so lines come first)."""
    total = sum(invoice.lines.values_list("amount", flat=True), D(0))
    Invoice.objects.filter(pk=invoice.pk).update(
        state=state,
        number=f"T-{invoice.pk:06d}",
        total=total,
        finalized_at=finalized_at or dt.datetime.combine(due, dt.time(2), tzinfo=billing_tz()),
        due_date=due,
        **extra,
    )
    invoice.refresh_from_db()
    return invoice


def line(invoice, item_code, amount, *, kind=InvoiceLine.Kind.USAGE, application=None, **kw):
    item = billable_item(item_code) if item_code else None
    return InvoiceLineFactory(
        invoice=invoice,
        kind=kind,
        item=item,
        application=application or ApplicationFactory(account=invoice.account),
        exact_amount=D(amount),
        amount=D(amount),
        **kw,
    )


@pytest.fixture
def world():
    """Two accounts with invoices in every aging bucket, in two currencies.

    Alpha CNY last month (M1): Pro term 999.00 + audio 7.00 + DAU overage 2000.00 + staff
    adjustment -10.00 = 2996.00, due 10 days ago; credit note 100.00 and payment 500.00:
    2996.00 - 100.00 - 500.00 = 2396.00 due (1-30 days).
    Alpha USD M1: Conversational AI 20.00 + speech-to-text 10.00 = 30.00, due in 3 days.
    Beta CNY M2: moderation 54.00 + AVChatRoom 1000.00 = 1054.00, due 45 days ago (31-60).
    Beta CNY M3: HD video 500.00, due 120 days ago (over 90).
    Alpha CNY M3: 300.00, void (counts nowhere). Beta USD M1: audio 40.00, paid in full.
    Alpha's running month: a draft with a staff adjustment of 25.00 and a rated audio charge
    of 7.00 today."""
    today = billing_today()
    m0, m1, m2, m3 = (months_back(today, n) for n in range(4))
    alpha = AccountFactory(name="Alpha Co", billing_email="alpha@example.com")
    beta = AccountFactory(name="Beta Ltd", billing_email="beta@example.com")
    app_a = ApplicationFactory(account=alpha, sdkappid=1400123401)
    app_b = ApplicationFactory(account=beta, sdkappid=1400123402, status="suspended")
    app_b_intl = ApplicationFactory(account=beta, region="intl")

    inv1 = InvoiceFactory(account=alpha, currency="CNY", month=m1)
    term = PrepaidTermFactory(application=app_a, anchor_date=m1, term_index=0)
    line(inv1, "im.edition.pro", "999.00", kind=InvoiceLine.Kind.PREPAID, application=app_a,
         term=term)  # fmt: skip
    line(inv1, "trtc.audio", "7.00", application=app_a)
    line(inv1, "im.overage.dau.pro", "2000.00", application=app_a)
    line(inv1, None, "-10.00", kind=InvoiceLine.Kind.ADJUSTMENT, application=None)
    inv1 = issue(inv1, due=today - dt.timedelta(days=10))
    CreditNoteFactory(invoice=inv1, amount=D("100.00"))  # created now: this month
    PaymentFactory(account=alpha, invoice=inv1, amount=D("500.00"), received_at=timezone.now())

    inv2 = InvoiceFactory(account=alpha, currency="USD", month=m1)
    intl = ApplicationFactory(account=alpha, region="intl")
    line(inv2, "trtc.ai", "20.00", application=intl)
    line(inv2, "trtc.stt", "10.00", application=intl)
    inv2 = issue(inv2, due=today + dt.timedelta(days=3))

    inv3 = InvoiceFactory(account=beta, currency="CNY", month=m2)
    line(inv3, "im.moderation.unit", "54.00", application=app_b)
    line(inv3, "im.addon.avchatroom.pro", "1000.00", kind=InvoiceLine.Kind.PREPAID,
         application=app_b)  # fmt: skip
    inv3 = issue(inv3, due=today - dt.timedelta(days=45))

    inv4 = InvoiceFactory(account=beta, currency="CNY", month=m3)
    line(inv4, "trtc.video.hd", "500.00", application=app_b)
    inv4 = issue(inv4, due=today - dt.timedelta(days=120))

    void = InvoiceFactory(account=alpha, currency="CNY", month=m3)
    line(void, "trtc.audio", "300.00", application=app_a)
    void = issue(void, due=today - dt.timedelta(days=100), state=Invoice.State.VOID,
                 voided_at=timezone.now(), void_reason="wrong account")  # fmt: skip

    paid = InvoiceFactory(account=beta, currency="USD", month=m1)
    line(paid, "trtc.audio", "40.00", application=app_b_intl)
    paid = issue(paid, due=today - dt.timedelta(days=20), state=Invoice.State.PAID,
                 paid_at=timezone.now())  # fmt: skip
    PaymentFactory(account=beta, currency="USD", invoice=paid, amount=D("40.00"),
                   received_at=timezone.now())  # fmt: skip

    draft = InvoiceFactory(account=alpha, currency="CNY", month=m0)
    AdjustmentFactory(invoice=draft, amount=D("25.00"))
    ChargeFactory(application=app_a, day=today)  # 1000 minutes x 7 / 1000 = 7.00 CNY

    # The overdue job's view: each account overdue since the day after its earliest due date.
    alpha.overdue_since = inv1.due_date + dt.timedelta(days=1)
    alpha.save()
    beta.overdue_since = inv4.due_date + dt.timedelta(days=1)
    beta.save()
    Application.objects.filter(pk=app_b.pk).update(status_changed_at=timezone.now())

    # Jobs: yesterday rated, the day before failed, three days ago never ran, the rest rated.
    start = timezone.now() - dt.timedelta(hours=3)
    for n in range(1, 15):
        if n == 3:
            continue
        JobRun.objects.create(
            job="bill_day",
            period=today - dt.timedelta(days=n),
            state=JobRun.State.FAILED if n == 2 else JobRun.State.SUCCEEDED,
            chunks_total=2,
            chunks_done=1 if n == 2 else 2,
            summary={"applications": 3, "charges_written": 9} if n != 2 else {},
            error="OperationalError('connection lost')" if n == 2 else "",
        )
    monthly = JobRun.objects.create(
        job="close_month", period=m1, state=JobRun.State.SUCCEEDED, chunks_total=1,
        chunks_done=1, summary={"invoices_finalized": 6},
    )  # fmt: skip
    JobRun.objects.filter(pk=monthly.pk).update(
        started_at=start, finished_at=start + dt.timedelta(seconds=12.5)
    )
    return {
        "today": today, "months": (m0, m1, m2, m3), "alpha": alpha, "beta": beta,
        "invoices": (inv1, inv2, inv3, inv4, void, paid), "draft": draft, "app_b": app_b,
        "app_a": app_a,
    }  # fmt: skip


def test_receivables_aging_per_currency_and_bucket(world):
    aging = {row.currency: row for row in home.receivables_aging(today=world["today"])}
    cny = {cell.bucket.key: (cell.amount, cell.invoices) for cell in aging["CNY"].cells}
    assert cny == {
        "current": (D(0), 0),
        "1-30": (D("2396.00"), 1),  # 2996.00 - 100.00 credited - 500.00 paid
        "31-60": (D("1054.00"), 1),  # 54.00 + 1000.00
        "61-90": (D(0), 0),
        "90+": (D("500.00"), 1),
    }
    assert aging["CNY"].total == D("3950.00")  # 2396 + 1054 + 500
    usd = {cell.bucket.key: cell.amount for cell in aging["USD"].cells}
    assert usd["current"] == D("30.00") and aging["USD"].total == D("30.00")


def test_revenue_per_family_month_and_currency(world):
    m0, m1, m2, m3 = world["months"]
    report = home.revenue_by_family(today=world["today"])
    assert report.months[-1] == m0 and len(report.months) == 12
    index = {month: i for i, month in enumerate(report.months)}
    series = {s.currency: s.by_family for s in report.series}
    cny, usd = series["CNY"], series["USD"]
    assert cny["im_editions"][index[m1]] == D("999.00")
    assert cny["im_overage"][index[m1]] == D("2000.00")
    assert cny["trtc_av"][index[m1]] == D("7.00")
    assert cny["adjustments"][index[m1]] == D("-10.00")
    assert cny["moderation"][index[m2]] == D("54.00")
    assert cny["im_addons"][index[m2]] == D("1000.00")
    assert cny["trtc_av"][index[m3]] == D("500.00")  # the void 300.00 is not revenue
    # The running month, estimated: today's 7.00 of audio; the draft's +25.00 adjustment less
    # the 100.00 credit note issued this month.
    assert cny["trtc_av"][index[m0]] == D("7.00")
    assert cny["adjustments"][index[m0]] == D("-75.00")
    assert usd["conversational_ai"][index[m1]] == D("20.00")
    assert usd["speech_to_text"][index[m1]] == D("10.00")
    assert usd["trtc_av"][index[m1]] == D("40.00")
    totals = {s.currency: s.total for s in report.series}
    # 999 + 7 + 2000 - 10 + 54 + 1000 + 500 + 7 - 75 = 4482.00
    assert totals == {"CNY": D("4482.00"), "USD": D("70.00")}


def test_actions_needed(world):
    today = world["today"]
    actions = home.actions_needed(today=today)
    overdue = {row.account.name: row for row in actions.overdue_accounts}
    assert overdue["Beta Ltd"].days_overdue == 120  # due 120 days ago
    assert overdue["Beta Ltd"].due == {"CNY": D("1554.00")}  # 1054.00 + 500.00
    assert overdue["Alpha Co"].days_overdue == 10
    assert overdue["Alpha Co"].due == {"CNY": D("2396.00")}  # the USD invoice is not yet due
    assert [app.sdkappid for app in actions.suspended] == [1400123402]
    about = {app.account.name for app, _ in actions.about_to_suspend}
    assert about == {"Alpha Co", "Beta Ltd"}  # Beta's intl application is still active
    past_due = [(row.invoice.number, row.amount_due, row.days_past_due) for row in
                actions.past_due_invoices]  # fmt: skip
    inv1, _, inv3, inv4, _, _ = world["invoices"]
    assert past_due == [
        (inv4.number, D("500.00"), 120),
        (inv3.number, D("1054.00"), 45),
        (inv1.number, D("2396.00"), 10),
    ]
    assert [(d.invoice.pk, d.adjustments, d.amount) for d in actions.adjusted_drafts] == [
        (world["draft"].pk, 1, D("25.00"))
    ]
    assert actions.late_usage is None  # the hook for issue 17


def test_jobs_overview_marks_days_not_rated(world):
    today = world["today"]
    jobs = home.jobs_overview(today=today)
    assert jobs.days_not_rated == [today - dt.timedelta(days=2), today - dt.timedelta(days=3)]
    assert len(jobs.days) == 14
    assert jobs.monthly[0].duration_label == "12.5 s"


def _login(client, role):
    if role == "customer":
        account_create(name="Cust", email="cust@example.com", password="pw-12345678")
        client.login(username="cust@example.com", password="pw-12345678")
        return
    user, _ = staff_create(email=f"{role}@example.com", password="pw-12345678", **{role: True})
    client.force_login(user)


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.parametrize("role", ["finance", "support"])
def test_the_home_page_shows_every_figure_to_staff(client, world, role):
    _login(client, role)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    page = response.content.decode()
    text = _text(response)
    # Receivables, formatted for people, each bucket a link to the filtered invoice list.
    assert "2,396.00 CNY" in text and "1,054.00 CNY" in text and "3,950.00 CNY" in text
    assert "?aging=1-30&amp;currency=CNY" in page and "?aging=90%2B&amp;currency=CNY" in page
    # Revenue: the 12-month totals per currency, and the chart's data.
    assert "4,482.00 CNY" in text and "70.00 USD" in text
    assert 'id="revenue-data"' in page and "chart.umd.min.js" in page and "//cdn" not in page
    # Needs action.
    assert "Beta Ltd" in text and "1,554.00 CNY" in text
    assert "1400123402" in text and "suspended" in text
    assert 'id="late-usage-hook"' in page
    # Jobs: the days not rated are marked.
    day = world["today"] - dt.timedelta(days=3)
    assert f"{day.day} {day:%b} ✗" in text and "Not rated:" in text
    assert "12.5 s" in text and "invoices finalized 6" in text


def test_an_aging_link_lists_exactly_that_buckets_invoices(client, world):
    _login(client, "finance")
    inv1, inv2, inv3, inv4, _, _ = world["invoices"]
    for bucket, currency, expected in [
        ("1-30", "CNY", {inv1.number}),
        ("31-60", "CNY", {inv3.number}),
        ("90+", "CNY", {inv4.number}),
        ("current", "USD", {inv2.number}),
        ("61-90", "CNY", set()),
    ]:
        response = client.get(
            reverse("admin:billing_invoice_changelist"), {"aging": bucket, "currency": currency}
        )
        assert response.status_code == 200
        shown = {invoice.number for invoice in response.context["cl"].result_list}
        assert shown == expected, bucket


@pytest.mark.parametrize("role", ["customer", "anonymous"])
def test_the_home_page_is_for_staff_only(client, world, role):
    if role == "customer":
        _login(client, role)
    for name in ("admin:index", "admin:finance_search", "admin:finance_journal",
                 "admin:finance_statement"):  # fmt: skip
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_search_by_sdkappid_number_name_and_email(client, world):
    _login(client, "support")
    inv1 = world["invoices"][0]
    url = reverse("admin:finance_search")
    by_app = _text(client.get(url, {"q": "1400123401"}))
    assert "Alpha Co" in by_app and inv1.number in by_app
    assert inv1.number in _text(client.get(url, {"q": inv1.number}))
    assert "beta@example.com" in _text(client.get(url, {"q": "Beta"}))
    assert "Beta Ltd" in _text(client.get(url, {"q": "beta@example"}))
    assert "Nothing matches" in _text(client.get(url, {"q": "no-such-thing"}))
