"""Late events accepted before a month is frozen are on its invoice (SPEC 6, 7): the monthly
close and "finalize now" rate the days late events made stale first. Moderation is 0.0010 CNY
a unit and a text is one unit (SPEC 4.4)."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.services import account_create
from billing.models import Invoice, RatedDay
from billing.services.applications import application_create
from billing.services.closing import invoice_finalize
from billing.services.ingestion import SYSTEM, IngestionRejected, usage_events_ingest
from billing.services.jobs import bill_day, close_month

pytestmark = pytest.mark.django_db

OCT_1, OCT_31 = dt.date(2026, 10, 1), dt.date(2026, 10, 31)


def texts(app, event_id, count):
    return {
        "id": event_id,
        "application": app.sdkappid,
        "metric": "im.moderation.text",
        "timestamp": "2026-10-31T22:00:00+08:00",
        "value": count,
    }


@pytest.fixture
def rated_then_late():
    account = account_create(name="Late Co", email="late@example.com")
    app = application_create(account=account, name="chat", region="cn", created_on=OCT_1)
    usage_events_ingest(events=[texts(app, "early", 10)], caller=SYSTEM)
    bill_day(day=OCT_31)
    invoice = Invoice.objects.get(account=account)
    assert invoice.total == Decimal("0.01")  # 10 units x 0.0010
    # After the daily run, before the close: 5000 more texts of 31 Oct.
    usage_events_ingest(events=[texts(app, "late", 5000)], caller=SYSTEM)
    assert RatedDay.objects.get(application=app, day=OCT_31).state == "stale"
    return app, invoice


def test_monthly_close_rates_stale_days_before_freezing(rated_then_late):
    app, invoice = rated_then_late
    close_month(month=OCT_1)
    invoice.refresh_from_db()
    assert invoice.state == "finalized"
    assert invoice.total == Decimal("5.01")  # (10 + 5000) units x 0.0010 = 5.01
    assert RatedDay.objects.get(application=app, day=OCT_31).state == "rated"


def test_finalize_now_rates_stale_days_too(rated_then_late):
    app, invoice = rated_then_late
    invoice_finalize(invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.total == Decimal("5.01")
    with pytest.raises(IngestionRejected) as refused:
        usage_events_ingest(events=[texts(app, "too-late", 1)], caller=SYSTEM)
    assert refused.value.errors[0].code == "period_closed"


def test_a_covered_usage_line_says_what_was_used_and_covered():
    account = account_create(name="Covered Co", email="covered@example.com")
    app = application_create(account=account, name="calls", region="cn", created_on=OCT_1)
    usage_events_ingest(
        events=[
            {
                "id": "audio-1",
                "application": app.sdkappid,
                "metric": "trtc.audio_seconds",
                "timestamp": "2026-10-10T10:00:00+08:00",
                "value": 60000,  # 1000 minutes, within the 10,000 free minutes (SPEC 4.5)
            }
        ],
        caller=SYSTEM,
    )
    bill_day(day=dt.date(2026, 10, 10))
    line = Invoice.objects.get(account=account).lines.get(kind="usage")
    assert "1,000 minutes used, 1,000 covered by the free allowance or packs, 0 minutes" in (
        line.description
    )
    assert line.amount == Decimal("0.00")
