"""Restatement rules for a closed month (SPEC 6): late minutes use only the free allowance
the month had left, and IM overage is recomputed from the month's new peak.

Prices (SPEC 4.1, 4.2, 4.5, region cn, CNY): TRTC audio 7 per 1000 minutes, 10,000 free
minutes a month; Pro includes 10,000 DAU, overage 1000 CNY per block of 10,000 DAU."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.services import account_create
from billing.models import Invoice, Restatement, UsageEvent
from billing.services.applications import application_create, edition_change
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day, close_month
from billing.services.restatements import restatements_refresh, restatements_refresh_due

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
OCT_1 = dt.date(2026, 10, 1)


def at(monkeypatch, *args):
    moment = dt.datetime(*args, tzinfo=SHANGHAI)
    monkeypatch.setattr(timezone, "now", lambda: moment)


def audio(app, event_id, day, seconds):
    return {
        "id": event_id,
        "application": app.sdkappid,
        "metric": "trtc.audio_seconds",
        "timestamp": f"2026-10-{day:02d}T10:00:00+08:00",
        "value": seconds,
    }


def login(app, user_id, day):
    return {
        "id": f"login-{user_id}-{day}",
        "application": app.sdkappid,
        "metric": "im.login",
        "timestamp": f"2026-10-{day:02d}T10:00:00+08:00",
        "properties": {"user_id": user_id},
    }


def test_late_minutes_within_the_allowance_left_give_a_zero_restatement(monkeypatch):
    at(monkeypatch, 2026, 10, 10, 23, 0)
    account = account_create(name="Calls Co", email="calls@example.com")
    app = application_create(account=account, name="calls", region="cn", created_on=OCT_1)
    # 1000 min of audio on 10 Oct: covered by the free allowance, 9000 min left
    usage_events_ingest(events=[audio(app, "a1", 10, 60000)], caller=SYSTEM)
    at(monkeypatch, 2026, 11, 1, 3, 0)
    bill_day(day=dt.date(2026, 10, 10))
    close_month(month=OCT_1)
    october = Invoice.objects.get(account=account, month=OCT_1, currency="CNY")
    assert (october.state, october.total) == ("paid", Decimal("0.00"))  # nothing due

    at(monkeypatch, 2026, 11, 9, 12, 0)
    result = usage_events_ingest(events=[audio(app, "late", 20, 36000)], caller=SYSTEM)
    assert (result.accepted, result.late) == (1, 1)
    restatements_refresh_due()

    restatement = Restatement.objects.get()
    assert (restatement.state, restatement.currency) == ("pending", "CNY")
    # 600 late minutes, all within the 9000 the month had left: nothing to bill
    assert (restatement.amount_before, restatement.amount_after) == (Decimal("0"), Decimal("0"))
    assert restatement.difference == Decimal("0.00")
    [line] = restatement.lines.all()
    assert (line.quantity_before, line.quantity_after) == (Decimal("1000"), Decimal("1600"))
    assert line.difference == Decimal("0.00")
    assert "the month had 9,000 free min left" in line.explanation
    assert "600 min covered by the free monthly allowance" in line.explanation
    # rerun: nothing changes
    digest = restatement.digest
    assert restatements_refresh(account_id=account.pk, month=OCT_1).unchanged == 1
    restatement.refresh_from_db()
    assert restatement.digest == digest and Restatement.objects.count() == 1


def test_late_login_above_a_block_boundary_gives_one_more_block(monkeypatch):
    at(monkeypatch, 2026, 10, 1, 9, 0)
    account = account_create(name="Chat Co", email="chat@example.com")
    app = application_create(account=account, name="chat", region="cn", created_on=OCT_1)
    edition_change(application=app, edition_code="pro", effective=OCT_1)
    # 15 Oct: 10,000 distinct users logged in, exactly Pro's included DAU: no overage
    moment = dt.datetime(2026, 10, 15, 10, 0, tzinfo=SHANGHAI)
    UsageEvent.objects.bulk_create(
        UsageEvent(
            application=app,
            event_id=f"u{n}",
            metric="im.login",
            timestamp=moment,
            billing_day=dt.date(2026, 10, 15),
            value=1,
            dimension=f"user-{n}",
            properties={"user_id": f"user-{n}"},
        )
        for n in range(10000)
    )
    at(monkeypatch, 2026, 11, 1, 3, 0)
    close_month(month=OCT_1)
    october = Invoice.objects.get(account=account, month=OCT_1, currency="CNY")
    assert october.total == Decimal("999.00")  # the Pro fee only, no overage block

    at(monkeypatch, 2026, 11, 9, 12, 0)
    late = [login(app, "user-new", 15), login(app, "user-1", 15)]  # one new user, one repeat
    assert usage_events_ingest(events=late, caller=SYSTEM).late == 2
    restatements_refresh(account_id=account.pk, month=OCT_1)

    restatement = Restatement.objects.get()
    # peak DAU 10,001: excess 1, a partial block counts whole: 1 block x 1000 = 1000.00 CNY
    assert restatement.difference == Decimal("1000.00")
    [line] = restatement.lines.select_related("item")
    assert line.item.code == "im.overage.dau.pro"
    assert (line.quantity_before, line.quantity_after) == (Decimal("0"), Decimal("1"))
    assert (line.amount_before, line.amount_after) == (Decimal("0.00"), Decimal("1000.00"))
    assert line.days == ["2026-10-15"]
    assert "10,001 DAU on Pro, 10,000 included, excess 1" in line.explanation
    october.refresh_from_db()
    assert october.total == Decimal("999.00")
