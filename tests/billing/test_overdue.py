"""Overdue accounts, suspension and closing (SPEC 5), and backdating into a closed month."""

import datetime as dt

import pytest

from accounts.services import account_create
from billing.errors import BillingError
from billing.models import Application, Invoice
from billing.services.applications import application_create, edition_change
from billing.services.closing import invoice_finalize
from billing.services.finance import payment_record
from billing.services.overdue import overdue_refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def finalized(settings):
    settings.INVOICE_DUE_DAYS = 7
    settings.OVERDUE_GRACE_DAYS = 7
    account = account_create(name="Late Payer", email="late@example.com")
    app = application_create(
        account=account, name="x", region="cn", created_on=dt.date(2026, 10, 1)
    )
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 5))
    invoice = Invoice.objects.get(account=account)
    # Finalized 1 Nov: due 1 Nov + 7 days = 8 Nov.
    invoice_finalize(invoice=invoice, today=dt.date(2026, 11, 1))
    return account, app


def test_account_is_overdue_after_the_due_date_and_suspended_after_the_grace(finalized):
    account, app = finalized
    overdue_refresh(today=dt.date(2026, 11, 8))  # the due date itself: not overdue yet
    account.refresh_from_db()
    assert account.overdue_since is None

    overdue_refresh(today=dt.date(2026, 11, 9))
    account.refresh_from_db()
    assert account.overdue_since == dt.date(2026, 11, 9)
    app.refresh_from_db()
    assert app.status == Application.Status.ACTIVE  # within the 7-day grace

    overdue_refresh(today=dt.date(2026, 11, 16))  # 7 days overdue: still the grace period
    app.refresh_from_db()
    assert app.status == Application.Status.ACTIVE
    overdue_refresh(today=dt.date(2026, 11, 17))  # 8 days: longer than the grace
    app.refresh_from_db()
    assert app.status == Application.Status.SUSPENDED


def test_paying_clears_overdue_and_reactivates(finalized):
    account, app = finalized
    overdue_refresh(today=dt.date(2026, 11, 20))
    app.refresh_from_db()
    assert app.status == Application.Status.SUSPENDED
    invoice = Invoice.objects.get(account=account)
    payment_record(
        account=account, currency="CNY", amount=invoice.total, actor=None, invoice=invoice
    )
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.PAID

    overdue_refresh(today=dt.date(2026, 11, 21))

    account.refresh_from_db()
    app.refresh_from_db()
    assert account.overdue_since is None
    assert app.status == Application.Status.ACTIVE


def test_backdating_into_a_finalized_month_is_refused(finalized):
    _, app = finalized
    with pytest.raises(BillingError) as refused:
        edition_change(application=app, edition_code="ultimate", effective=dt.date(2026, 10, 20))
    assert refused.value.code == "period_closed"
    assert app.edition_periods.count() == 2  # trial, pro: nothing written
