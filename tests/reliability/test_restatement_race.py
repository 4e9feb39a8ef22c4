"""A restatement approved while a new late event arrives (issue 17): two threads with their
own database connections, released together. Approval recomputes under the account's
exclusive application locks and ingestion takes them shared, so either the event commits
first and the approval is refused (the restatement recomputed), or the approval commits
first and the event goes to a new restatement. The late usage is never billed twice.

Speech-to-text, intl, 0.02 USD a minute, never covered by the free allowance (SPEC 4.6)."""

import datetime as dt
import threading
import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.utils import timezone

from accounts.services import account_create
from billing.errors import BillingError
from billing.models import Invoice, InvoiceLine, Restatement
from billing.services.applications import application_create
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day, close_month
from billing.services.restatements import restatement_approve, restatements_refresh
from tests.conftest import require_postgresql
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

SHANGHAI = ZoneInfo("Asia/Shanghai")
OCT_1 = dt.date(2026, 10, 1)


def stt(app, event_id, day, seconds):
    return {
        "id": event_id,
        "application": app.sdkappid,
        "metric": "trtc.stt_seconds",
        "timestamp": f"2026-10-{day:02d}T10:00:00+08:00",
        "value": seconds,
    }


@pytest.mark.parametrize("event_delay", [0.0, 0.05])
def test_approval_racing_a_late_event_never_bills_twice(monkeypatch, event_delay):
    require_postgresql()
    moment = [dt.datetime(2026, 10, 10, 23, 0, tzinfo=SHANGHAI)]
    monkeypatch.setattr(timezone, "now", lambda: moment[0])
    account = account_create(name="Race Late Co", email="race-late@example.com")
    app = application_create(account=account, name="bot", region="intl", created_on=OCT_1)
    usage_events_ingest(events=[stt(app, "on-time", 10, 600)], caller=SYSTEM)  # 10 min: 0.20
    moment[0] = dt.datetime(2026, 11, 1, 3, 0, tzinfo=SHANGHAI)
    bill_day(day=dt.date(2026, 10, 10))
    close_month(month=OCT_1)
    moment[0] = dt.datetime(2026, 11, 9, 12, 0, tzinfo=SHANGHAI)
    usage_events_ingest(events=[stt(app, "late-1", 20, 3000)], caller=SYSTEM)  # 50 min: 1.00
    restatements_refresh(account_id=account.pk, month=OCT_1)
    reviewed = Restatement.objects.get()
    assert reviewed.difference == Decimal("1.00")
    staff = UserFactory(staff=True)

    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def approve():
        try:
            barrier.wait()
            outcomes["approve"] = restatement_approve(
                restatement=reviewed, digest=reviewed.digest, actor=staff
            )
        except BillingError as error:
            outcomes["approve"] = error
        finally:
            connection.close()

    def ingest():
        try:
            barrier.wait()
            time.sleep(event_delay)
            # 25 more minutes: 0.50
            outcomes["ingest"] = usage_events_ingest(
                events=[stt(app, "late-2", 21, 1500)], caller=SYSTEM
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=approve), threading.Thread(target=ingest)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes["ingest"].late == 1
    approved = outcomes["approve"]
    won = (
        "event first: approval refused" if isinstance(approved, BillingError) else "approval first"
    )
    print(f"\n[restatement race] event delay {event_delay} s: {won}")
    if isinstance(approved, BillingError):
        # the event committed first: refused, recomputed with both late events
        assert approved.code == "restatement_changed"
        pending = Restatement.objects.get(state="pending")
        assert pending.difference == Decimal("1.50")  # (50 + 25) min x 0.02
        assert not InvoiceLine.objects.filter(kind="late_usage").exists()
    else:
        # the approval committed first: 1.00 billed; the new event makes a new restatement
        # that compares with what was billed, so only its 0.50 remains
        restatements_refresh(account_id=account.pk, month=OCT_1)
        pending = Restatement.objects.get(state="pending")
        assert pending.difference == Decimal("0.50")
        assert pending.amount_before == Decimal("1.20")  # 0.20 on the invoice + 1.00 approved
    restatement_approve(restatement=pending, digest=pending.digest, actor=staff)

    # whichever won: the 75 late minutes are billed once, 1.50 USD in all
    billed = sum(InvoiceLine.objects.filter(kind="late_usage").values_list("amount", flat=True))
    assert billed == Decimal("1.50")
    november = Invoice.objects.get(account=account, currency="USD", month=dt.date(2026, 11, 1))
    assert november.total == Decimal("1.50")
    assert Invoice.objects.get(account=account, currency="USD", month=OCT_1).total == Decimal(
        "0.20"
    )
    restatements_refresh(account_id=account.pk, month=OCT_1)
    assert not Restatement.objects.filter(state="pending").exists()
