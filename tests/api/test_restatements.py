"""Late usage of a closed month, end to end over HTTP (issue 17, SPEC 6 and 7): events for a
finalized month are accepted and counted late, a restatement shows the difference, finance
staff approve it and the next draft carries exactly that difference; the finalized invoice is
byte-for-byte unchanged.

Prices (SPEC 4.5, 4.6, intl, USD): TRTC audio 0.99 per 1000 minutes, speech-to-text 0.02 per
minute; 10,000 free minutes a month for audio (never for speech-to-text)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import AuditRecord, Invoice, InvoiceLine, Restatement, UsageEvent
from billing.services.applications import application_create
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day, close_month
from tests.api.conftest import bearer, errors_of, key_for

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
OCT_1, OCT_10 = dt.date(2026, 10, 1), dt.date(2026, 10, 10)


def at(monkeypatch, *args):
    moment = dt.datetime(*args, tzinfo=SHANGHAI)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return moment


def event(app, event_id, metric, timestamp, value, **properties):
    return {
        "id": event_id,
        "application": app.sdkappid,
        "metric": metric,
        "timestamp": timestamp,
        "value": value,
        "properties": properties,
    }


@pytest.fixture
def closed_october(account, monkeypatch):
    """An intl application whose October used the whole free allowance (10,000 min of audio,
    covered: 0.00) and 10 min of speech-to-text (0.02 x 10 = 0.20 USD); October is closed."""
    at(monkeypatch, 2026, 10, 10, 23, 0)
    app = application_create(account=account, name="voicebot", region="intl", created_on=OCT_1)
    usage_events_ingest(
        events=[
            event(app, "a1", "trtc.audio_seconds", "2026-10-10T09:00:00+08:00", 600000),
            event(app, "s1", "trtc.stt_seconds", "2026-10-10T09:00:00+08:00", 600),
        ],
        caller=SYSTEM,
    )
    at(monkeypatch, 2026, 11, 1, 3, 0)
    bill_day(day=OCT_10)
    close_month(month=OCT_1)
    invoice = Invoice.objects.get(account=account, currency="USD", month=OCT_1)
    assert invoice.state == "finalized"
    assert invoice.total == Decimal("0.20")  # audio covered (0.00) + speech-to-text 0.20
    return app, invoice


def test_late_usage_restated_reviewed_and_billed_on_the_next_draft(
    account, owner_client, finance_client, finance_user, closed_october, monkeypatch
):
    app, october = closed_october
    pdf_before = owner_client.get(f"/api/v1/invoices/{october.number}/pdf").content
    lines_before = list(october.lines.values_list("description", "amount").order_by("pk"))
    assert pdf_before.startswith(b"%PDF")

    # given: on 10 Nov, 1000 min of audio and 50 min of speech-to-text of 20 Oct arrive late
    at(monkeypatch, 2026, 11, 10, 12, 0)
    service = bearer(key_for(service=True)[1])
    late = [
        event(app, "late-a", "trtc.audio_seconds", "2026-10-20T10:00:00+08:00", 60000),
        event(app, "late-s", "trtc.stt_seconds", "2026-10-20T10:00:00+08:00", 3000),
    ]
    response = service.post("/api/v1/usage-events", {"events": late}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"accepted": 2, "duplicates": 0, "late": 2}
    again = service.post("/api/v1/usage-events", {"events": late}, format="json")
    assert again.json() == {"accepted": 0, "duplicates": 2, "late": 0}

    # when: the restatement is computed on demand
    call_command("restate", "--month", "2026-10")

    # then: finance staff see it pending, with the difference worked out by hand:
    # audio: no free minutes left, 1000 min x 0.99 / 1000 = 0.99 USD (billed before 0.00);
    # speech-to-text: 50 min x 0.02 = 1.00, so 0.20 becomes 1.20; total difference 1.99 USD.
    listed = finance_client.get("/api/v1/restatements?state=pending")
    assert listed.status_code == 200, listed.content
    [summary] = listed.json()["results"]
    assert (summary["currency"], summary["month"], summary["state"]) == (
        "USD",
        "2026-10-01",
        "pending",
    )
    assert (summary["closed_invoice"], summary["late_events"]) == (october.number, 2)
    assert (summary["amount_before"], summary["amount_after"], summary["difference"]) == (
        "0.20",
        "2.19",
        "1.99",
    )
    detail = finance_client.get(f"/api/v1/restatements/{summary['id']}").json()
    lines = {line["item"]: line for line in detail["lines"]}
    audio, stt = lines["trtc.audio"], lines["trtc.stt"]
    assert (audio["days"], audio["quantity_before"], audio["quantity_after"]) == (
        ["2026-10-20"],
        "10000",
        "11000",
    )
    assert (audio["amount_before"], audio["amount_after"], audio["difference"]) == (
        "0.00",
        "0.99",
        "0.99",
    )
    assert "0 free min left" in audio["explanation"]
    assert "1,000 min billed x 0.99 USD per 1,000 min = 0.99 USD" in audio["explanation"]
    assert (stt["quantity_before"], stt["quantity_after"]) == ("10", "60")
    assert (stt["amount_before"], stt["amount_after"], stt["difference"]) == (
        "0.20",
        "1.20",
        "1.00",
    )
    assert "Not covered by the free allowance or call-minute packs" in stt["explanation"]

    # when: finance staff approve what they reviewed
    approved = finance_client.post(
        f"/api/v1/restatements/{summary['id']}/approve",
        {"digest": detail["digest"]},
        format="json",
    )
    assert approved.status_code == 200, approved.content
    assert (approved.json()["state"], approved.json()["decided_by"]) == (
        "approved",
        "finance@example.com",
    )

    # then: November's USD draft carries exactly the difference, one line per item
    november = Invoice.objects.get(account=account, currency="USD", month=dt.date(2026, 11, 1))
    assert november.state == "draft" and november.total == Decimal("1.99")
    body = owner_client.get(f"/api/v1/invoices/{november.pk}").json()
    late_lines = [line for line in body["lines"] if line["kind"] == "late_usage"]
    assert sorted(line["amount"] for line in late_lines) == ["0.99", "1.00"]
    assert all(
        line["description"].startswith("Late usage for October 2026: ") for line in late_lines
    )
    assert body["total"] == "1.99"
    # the month to date counts them
    mtd = owner_client.get(f"/api/v1/applications/{app.sdkappid}/month-to-date").json()
    usd = next(block for block in mtd if block["currency"] == "USD")
    assert usd["total"] == "1.99"

    # and the finalized invoice is byte-for-byte unchanged
    october.refresh_from_db()
    assert october.total == Decimal("0.20") and october.state == "finalized"
    assert list(october.lines.values_list("description", "amount").order_by("pk")) == lines_before
    assert owner_client.get(f"/api/v1/invoices/{october.number}/pdf").content == pdf_before
    # the customer sees the late usage of October, and where it was billed
    seen = owner_client.get(f"/api/v1/invoices/{october.number}").json()["late_usage"]
    assert seen["status"] == "billed"
    assert {(row["metric"], row["quantity"]) for row in seen["received"]} == {
        ("trtc.audio_seconds", "60,000 seconds"),
        ("trtc.stt_seconds", "3,000 seconds"),
    }
    assert sorted(line["amount"] for line in seen["billed_on"]) == ["0.99", "1.00"]
    # one audit record, with the staff user
    record = AuditRecord.objects.get(action="restatement.approve")
    assert record.actor == finance_user and record.after["difference"] == "1.99"

    # approving twice is refused, nothing billed again
    twice = finance_client.post(
        f"/api/v1/restatements/{summary['id']}/approve",
        {"digest": detail["digest"]},
        format="json",
    )
    assert twice.status_code == 409
    assert errors_of(twice)[0]["code"] == "not_pending"
    assert InvoiceLine.objects.filter(kind="late_usage").count() == 2
    # the daily job and the command again: nothing new
    call_command("restate", "--month", "2026-10")
    assert Restatement.objects.count() == 1


def test_approval_after_new_late_usage_is_refused_and_recomputed(
    finance_client, closed_october, monkeypatch
):
    app, _ = closed_october
    at(monkeypatch, 2026, 11, 10, 12, 0)
    late = [event(app, "late-s", "trtc.stt_seconds", "2026-10-20T10:00:00+08:00", 3000)]
    usage_events_ingest(events=late, caller=SYSTEM)
    call_command("restate", "--month", "2026-10")
    restatement = Restatement.objects.get()
    assert restatement.difference == Decimal("1.00")  # 50 min x 0.02
    reviewed = restatement.digest

    # 25 more minutes arrive after the review
    more = [event(app, "late-s2", "trtc.stt_seconds", "2026-10-21T10:00:00+08:00", 1500)]
    usage_events_ingest(events=more, caller=SYSTEM)
    response = finance_client.post(
        f"/api/v1/restatements/{restatement.pk}/approve", {"digest": reviewed}, format="json"
    )

    assert response.status_code == 409
    [error] = errors_of(response)
    assert (error["code"], error["field"]) == ("restatement_changed", "digest")
    assert "1.50 USD" in error["message"]  # (50 + 25) min x 0.02, recomputed
    restatement.refresh_from_db()
    assert (restatement.state, restatement.difference) == ("pending", Decimal("1.50"))
    assert restatement.digest != reviewed
    assert not InvoiceLine.objects.filter(kind="late_usage").exists()
    # approving the new version bills it
    ok = finance_client.post(
        f"/api/v1/restatements/{restatement.pk}/approve",
        {"digest": restatement.digest},
        format="json",
    )
    assert ok.status_code == 200, ok.content
    assert InvoiceLine.objects.get(kind="late_usage").amount == Decimal("1.50")


def test_reject_needs_a_reason_and_bills_nothing(finance_client, closed_october, monkeypatch):
    app, _ = closed_october
    at(monkeypatch, 2026, 11, 10, 12, 0)
    usage_events_ingest(
        events=[event(app, "late-s", "trtc.stt_seconds", "2026-10-20T10:00:00+08:00", 3000)],
        caller=SYSTEM,
    )
    call_command("restate", "--month", "2026-10")
    restatement = Restatement.objects.get()
    url = f"/api/v1/restatements/{restatement.pk}/reject"

    assert errors_of(finance_client.post(url, {"reason": " "}, format="json"))[0]["field"] == (
        "reason"
    )
    response = finance_client.post(
        url, {"reason": "Collector replayed test traffic"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["reason"]) == (
        "rejected",
        "Collector replayed test traffic",
    )
    assert AuditRecord.objects.get(action="restatement.reject").reason.startswith("Collector")
    assert not InvoiceLine.objects.filter(kind="late_usage").exists()


def test_event_older_than_the_window_is_period_closed_and_not_stored(closed_october, monkeypatch):
    app, _ = closed_october
    # 31 Oct + 35 days = 5 Dec is the last day October takes late usage
    at(monkeypatch, 2026, 12, 6, 0, 30)
    service = bearer(key_for(service=True)[1])
    response = service.post(
        "/api/v1/usage-events",
        {"events": [event(app, "too-late", "trtc.stt_seconds", "2026-10-20T10:00:00+08:00", 60)]},
        format="json",
    )

    assert response.status_code == 409
    [error] = response.json()["errors"]
    assert (error["index"], error["field"], error["code"]) == (0, "timestamp", "period_closed")
    assert "2026-12-05" in error["message"]
    assert not UsageEvent.objects.filter(event_id="too-late").exists()


@pytest.mark.parametrize(
    "role, status",
    [("owner", 403), ("other", 403), ("service", 403), ("support", 200), ("anonymous", 401),
     ("finance", 200)],
)  # fmt: skip
def test_who_may_read_restatements(client_for, role, status):
    assert client_for(role).get("/api/v1/restatements").status_code == status


@pytest.mark.parametrize(
    "role, status",
    [("owner", 403), ("service", 403), ("support", 403), ("anonymous", 401)],
)
def test_only_finance_decides(client_for, closed_october, monkeypatch, role, status):
    app, _ = closed_october
    at(monkeypatch, 2026, 11, 10, 12, 0)
    usage_events_ingest(
        events=[event(app, "late-s", "trtc.stt_seconds", "2026-10-20T10:00:00+08:00", 3000)],
        caller=SYSTEM,
    )
    call_command("restate", "--month", "2026-10")
    restatement = Restatement.objects.get()
    client = client_for(role)
    approve = client.post(
        f"/api/v1/restatements/{restatement.pk}/approve",
        {"digest": restatement.digest},
        format="json",
    )
    reject = client.post(
        f"/api/v1/restatements/{restatement.pk}/reject", {"reason": "no"}, format="json"
    )
    assert (approve.status_code, reject.status_code) == (status, status)
    restatement.refresh_from_db()
    assert restatement.state == "pending"


def test_finance_approves_in_the_admin_and_the_customer_sees_it_in_the_portal(
    account, finance_user, closed_october, monkeypatch
):
    from django.test import Client

    app, october = closed_october
    at(monkeypatch, 2026, 11, 10, 12, 0)
    usage_events_ingest(
        events=[event(app, "late-s", "trtc.stt_seconds", "2026-10-20T10:00:00+08:00", 3000)],
        caller=SYSTEM,
    )
    call_command("restate", "--month", "2026-10")
    restatement = Restatement.objects.get()
    customer = Client()
    customer.force_login(account.memberships.get().user)
    page = customer.get(f"/invoices/{october.pk}/").content.decode()
    assert "Late usage received after this invoice was issued" in page
    assert "under review" in page and "3,000 seconds" in page

    staff = Client()
    staff.force_login(finance_user)
    listed = staff.get("/admin/billing/restatement/?state__exact=pending").content.decode()
    assert "1.00" in listed  # 50 min x 0.02
    url = f"/admin/billing/restatement/{restatement.pk}/approve/"
    form = staff.get(url)
    assert form.status_code == 200 and "Approve and bill the difference" in form.content.decode()
    done = staff.post(url, {"digest": restatement.digest})
    assert done.status_code == 302, done.content

    restatement.refresh_from_db()
    assert restatement.state == "approved" and restatement.decided_by == finance_user
    page = customer.get(f"/invoices/{october.pk}/").content.decode()
    assert "billed on a later invoice" in page and "Late usage for October 2026" in page
    november = Invoice.objects.get(account=account, currency="USD", month=dt.date(2026, 11, 1))
    assert november.total == Decimal("1.00")
    assert (
        "Late usage for October 2026: Speech-to-text"
        in customer.get(f"/invoices/{november.pk}/").content.decode()
    )
