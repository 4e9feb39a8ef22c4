"""SPEC's worked examples end to end: events through the ingestion service, the jobs run,
invoice lines and totals checked. Expected amounts are worked out by hand from SPEC."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.services import account_create
from billing.models import Charge, Invoice, RatedDay
from billing.services.applications import application_create, edition_change
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day, close_month

pytestmark = pytest.mark.django_db

OCT_1 = dt.date(2026, 10, 1)
OCT_10 = dt.date(2026, 10, 10)


@pytest.fixture
def account():
    return account_create(name="Example Co", email="owner@example.com")


def event(app, event_id, metric, timestamp, value=None, **properties):
    data = {
        "id": event_id,
        "application": app.sdkappid,
        "metric": metric,
        "timestamp": timestamp,
        "properties": properties,
    }
    if value is not None:
        data["value"] = value
    return data


def invoice_of(account, currency, month=OCT_1):
    return Invoice.objects.get(account=account, currency=currency, month=month)


def test_moderation_worked_example_54_units(account):
    # SPEC 4.4: between 08:10 and 08:20, 10 texts, 10 images and two audio clips of 25 s and
    # 135 s: 10 x 1 + 10 x 0.65 + 2.5 x 15 = 54 units; at 0.0010 CNY a unit = 0.054 CNY.
    app = application_create(account=account, name="chat", region="cn", created_on=OCT_1)
    events = [
        event(app, f"t{i}", "im.moderation.text", f"2026-10-10T08:1{i}:00+08:00", 1)
        for i in range(10)
    ]
    events += [
        event(app, f"i{i}", "im.moderation.image", f"2026-10-10T08:1{i}:30+08:00")
        for i in range(10)
    ]
    events += [
        event(app, "a1", "im.moderation.audio_seconds", "2026-10-10T08:12:00+08:00", 25),
        event(app, "a2", "im.moderation.audio_seconds", "2026-10-10T08:19:00+08:00", "135"),
    ]
    assert usage_events_ingest(events=events, caller=SYSTEM).accepted == 22

    bill_day(day=OCT_10)

    charge = Charge.objects.get(application=app, day=OCT_10)
    assert charge.quantity == Decimal("54")
    assert charge.amount == Decimal("0.054")
    assert "160 s reviewed in 08:00-08:59 counts 2.5 min x 15 = 37.5 units" in charge.explanation
    invoice = invoice_of(account, "CNY")
    [line] = invoice.lines.all()
    assert line.exact_amount == Decimal("0.054")
    assert line.amount == Decimal("0.05")  # 0.054 rounded half-up to 0.01
    assert invoice.total == Decimal("0.05")


def _conversation(app, day_text, suffix=""):
    # SPEC 4.6: one 20-minute conversation between a person and the AI (two participants of
    # the audio call) and 10 minutes of speech-to-text.
    ts = f"{day_text}T10:00:00+08:00"
    return [
        event(app, f"human{suffix}", "trtc.audio_seconds", ts, 1200),
        event(app, f"agent{suffix}", "trtc.audio_seconds", ts, 1200),
        event(app, f"ai{suffix}", "trtc.ai_seconds", ts, 1200),
        event(app, f"stt{suffix}", "trtc.stt_seconds", ts, 600),
    ]


def test_conversational_ai_worked_example_with_allowance_used_up(account):
    app = application_create(account=account, name="agent", region="intl", created_on=OCT_1)
    # 10,000 minutes of audio on 9 Oct use up the month's free allowance.
    burn = event(app, "burn", "trtc.audio_seconds", "2026-10-09T09:00:00+08:00", 600000)
    usage_events_ingest(events=[burn, *_conversation(app, "2026-10-10")], caller=SYSTEM)

    bill_day(day=dt.date(2026, 10, 9))
    bill_day(day=OCT_10)

    amounts = {c.item.code: c.amount for c in Charge.objects.filter(application=app, day=OCT_10)}
    # audio 0.99 / 1000 x 20 x 2 = 0.0396; AI 0.01 x 20 = 0.20; STT 0.02 x 10 = 0.20
    assert amounts == {
        "trtc.audio": Decimal("0.0396"),
        "trtc.ai": Decimal("0.20"),
        "trtc.stt": Decimal("0.20"),
    }
    invoice = invoice_of(account, "USD")
    # Lines: audio 0.0396 -> 0.04, AI 0.20, STT 0.20; total 0.44.
    assert sorted(invoice.lines.values_list("amount", flat=True)) == [
        Decimal("0.04"),
        Decimal("0.20"),
        Decimal("0.20"),
    ]
    assert invoice.total == Decimal("0.44")


def test_conversational_ai_worked_example_with_free_minutes_left(account):
    app = application_create(account=account, name="agent", region="intl", created_on=OCT_1)
    usage_events_ingest(events=_conversation(app, "2026-10-10"), caller=SYSTEM)

    bill_day(day=OCT_10)

    charges = {c.item.code: c for c in Charge.objects.filter(application=app, day=OCT_10)}
    # 40 audio + 20 AI minutes come out of the 10,000 free minutes; only STT is billed.
    assert charges["trtc.audio"].amount == 0 and charges["trtc.audio"].covered_quantity == 40
    assert charges["trtc.ai"].amount == 0 and charges["trtc.ai"].covered_quantity == 20
    assert charges["trtc.stt"].amount == Decimal("0.20")
    assert invoice_of(account, "USD").total == Decimal("0.20")


def test_im_overage_worked_example_2000_cny(account):
    # SPEC 4.2: Pro, peak DAU 22,000: excess 12,000, 2 blocks of 10,000 at 1000 CNY = 2000.
    app = application_create(
        account=account, name="social", region="cn", created_on=dt.date(2026, 9, 1)
    )
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 9, 15))
    logins = [
        event(app, f"l{n}", "im.login", "2026-10-12T12:00:00+08:00", user_id=f"u{n}")
        for n in range(22000)
    ]
    # The same user logging in again counts once.
    logins += [
        event(app, f"again{n}", "im.login", "2026-10-12T13:00:00+08:00", user_id=f"u{n}")
        for n in range(500)
    ]
    for start in range(0, len(logins), 1000):
        usage_events_ingest(events=logins[start : start + 1000], caller=SYSTEM)

    close_month(month=OCT_1)

    charge = Charge.objects.get(application=app, item__code="im.overage.dau.pro")
    assert (charge.quantity, charge.amount) == (Decimal(2), Decimal(2000))
    invoice = invoice_of(account, "CNY")
    assert invoice.state == Invoice.State.FINALIZED and invoice.number.startswith("INV-")
    # The Pro term renewed on 15 Oct (999) and the overage (2000).
    assert sorted(invoice.lines.values_list("amount", flat=True)) == [
        Decimal("999.00"),
        Decimal("2000.00"),
    ]
    assert invoice.total == Decimal("2999.00")


def test_rerunning_the_daily_job_changes_nothing(account):
    app = application_create(account=account, name="agent", region="intl", created_on=OCT_1)
    usage_events_ingest(events=_conversation(app, "2026-10-10"), caller=SYSTEM)
    bill_day(day=OCT_10)
    before = list(Charge.objects.order_by("pk").values())
    invoice_before = invoice_of(account, "USD").lines.values_list("amount", "exact_amount")

    run = bill_day(day=OCT_10)

    assert run.summary["charges_written"] == 0
    assert list(Charge.objects.order_by("pk").values()) == before
    assert list(invoice_of(account, "USD").lines.values_list("amount", "exact_amount")) == list(
        invoice_before
    )


def test_late_event_rerates_its_day_once(account):
    app = application_create(account=account, name="chat", region="cn", created_on=OCT_1)
    usage_events_ingest(
        events=[event(app, "t1", "im.moderation.text", "2026-10-10T08:00:00+08:00", 100)],
        caller=SYSTEM,
    )
    bill_day(day=OCT_10)
    late = event(app, "t2", "im.moderation.text", "2026-10-10T23:59:00+08:00", 50)

    result = usage_events_ingest(events=[late], caller=SYSTEM)
    assert result.restaled_days == {(app.pk, OCT_10)}
    assert RatedDay.objects.get(application=app, day=OCT_10).state == RatedDay.State.STALE
    # The same late event sent again is a duplicate, not counted twice.
    assert usage_events_ingest(events=[late], caller=SYSTEM).duplicates == 1
    bill_day(day=dt.date(2026, 10, 11))

    charge = Charge.objects.get(application=app, day=OCT_10)
    assert charge.quantity == Decimal(150)  # 100 + 50 texts x 1 unit
    assert charge.amount == Decimal("0.15")  # 150 x 0.0010
    assert RatedDay.objects.get(application=app, day=OCT_10).state == RatedDay.State.RATED


def test_upgrade_pro_to_ultimate_credits_unused_days(account):
    app = application_create(account=account, name="x", region="cn", created_on=OCT_1)
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 5))
    edition_change(application=app, edition_code="ultimate", effective=dt.date(2026, 10, 20))
    invoice = invoice_of(account, "CNY")
    # Pro term 5 Oct - 4 Nov has 31 days; 20 Oct - 4 Nov unused = 16 days:
    # 999 x 16 / 31 = 515.6129 -> 515.61 credit. Lines: 999 + 2999 - 515.61 = 3482.39.
    assert sorted(invoice.lines.values_list("amount", flat=True)) == [
        Decimal("-515.61"),
        Decimal("999.00"),
        Decimal("2999.00"),
    ]
    assert invoice.total == Decimal("3482.39")
