"""The month-to-date estimate: the same rules as the monthly job, nothing written."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.services import account_create
from billing.models import Charge
from billing.selectors import month_to_date
from billing.services.applications import application_create, edition_change
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import close_month

pytestmark = pytest.mark.django_db


def test_month_to_date_includes_im_overage_so_far_and_matches_the_close():
    account = account_create(name="MTD Co", email="mtd@example.com")
    app = application_create(
        account=account, name="social", region="cn", created_on=dt.date(2026, 10, 1)
    )
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 1))
    logins = [
        {
            "id": f"l{n}",
            "application": app.sdkappid,
            "metric": "im.login",
            "timestamp": "2026-10-03T12:00:00+08:00",
            "properties": {"user_id": f"u{n}"},
        }
        for n in range(10001)
    ]
    for start in range(0, len(logins), 1000):
        usage_events_ingest(events=logins[start : start + 1000], caller=SYSTEM)

    [estimate] = month_to_date(account_id=account.pk, today=dt.date(2026, 10, 5))

    # Pro fee 999 (term from 1 Oct) + DAU 10,001 - 10,000 = 1 over: 1 block = 1000 CNY.
    assert estimate.currency == "CNY"
    assert sorted(line["amount"] for line in estimate.lines) == [Decimal(999), Decimal(1000)]
    assert estimate.total == Decimal("1999.00")
    assert not Charge.objects.exists()  # an estimate writes nothing

    close_month(month=dt.date(2026, 10, 1))
    invoice = account.invoices.get()
    assert invoice.total == estimate.total
