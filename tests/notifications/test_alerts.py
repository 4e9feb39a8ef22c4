"""Alerts: a spend threshold crossed by usage fires once (an alert.triggered event, a webhook
and an e-mail), not again the same month; the API validates and scopes them."""

import datetime as dt

import pytest
from django.core import mail
from rest_framework.test import APIClient

from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day
from notifications.models import Event
from tests.notifications.conftest import freeze, pro_account, shanghai

pytestmark = pytest.mark.django_db
OCT_10 = dt.date(2026, 10, 10)


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def audio(app, event_id: str, seconds: int, hour: int = 10) -> dict:
    return {"id": event_id, "application": app.sdkappid, "metric": "trtc.audio_seconds",
            "timestamp": f"2026-10-10T{hour:02d}:00:00+08:00", "value": seconds}  # fmt: skip


def test_spend_alert_fires_once_when_usage_crosses_it_and_not_again_that_month(
    eager, monkeypatch, django_capture_on_commit_callbacks
):
    freeze(monkeypatch, shanghai(2026, 10, 11, 12, 0))
    account, app, raw = pro_account("Tenant A", "billing-a@example.com", 1400300001)
    client = bearer(raw)
    spend = client.post(
        "/api/v1/alerts", {"kind": "spend", "currency": "CNY", "amount": "1000.00"}, format="json"
    )
    assert spend.status_code == 201, spend.json()
    minutes = client.post(
        "/api/v1/alerts",
        {"kind": "free_minutes", "application": app.sdkappid, "share": "0.2"},
        format="json",
    )
    assert minutes.status_code == 201, minutes.json()

    # 5,000 minutes: within the 10,000 free (SPEC 4.6); the month stands at 999.00 (Pro fee)
    with django_capture_on_commit_callbacks(execute=True):
        usage_events_ingest(events=[audio(app, "a-1", 300_000)], caller=SYSTEM)
        bill_day(day=OCT_10)
    assert not Event.objects.filter(type="alert.triggered").exists()

    # 6,000 more minutes: 11,000 in all, 1,000 over the allowance x 7 CNY / 1000 = 7.00;
    # the month is 999.00 + 7.00 = 1006.00 > 1000.00, and 0 free minutes are left (< 20 %)
    with django_capture_on_commit_callbacks(execute=True):
        usage_events_ingest(events=[audio(app, "a-2", 360_000, hour=11)], caller=SYSTEM)
        bill_day(day=OCT_10)
    fired = Event.objects.filter(type="alert.triggered").order_by("created_at")
    assert fired.count() == 2
    by_kind = {e.data["alert"]["kind"]: e.data["alert"] for e in fired}
    assert by_kind["spend"]["value"] == "1006.00"
    assert by_kind["spend"]["value_display"] == "1,006.00 CNY"
    assert by_kind["free_minutes"]["value_display"] == "0 of 10,000 minutes left"
    alert_mails = [m for m in mail.outbox if m.subject.startswith("Alert:")]
    assert len(alert_mails) == 2
    assert any("1,006.00 CNY" in m.body and "1,000.00 CNY" in m.body for m in alert_mails)

    # more usage the same month: still over, nothing fires again
    with django_capture_on_commit_callbacks(execute=True):
        usage_events_ingest(events=[audio(app, "a-3", 60_000, hour=12)], caller=SYSTEM)
        bill_day(day=OCT_10)
    assert Event.objects.filter(type="alert.triggered").count() == 2
    assert len([m for m in mail.outbox if m.subject.startswith("Alert:")]) == 2

    # a new month is a new firing (the dedupe key is per alert and month)
    from notifications.alerts import alerts_evaluate

    freeze(monkeypatch, shanghai(2026, 11, 1, 12, 0))
    assert alerts_evaluate(account_ids=[account.pk]) == 0  # November: 0 spent, minutes back


def test_alerts_api_validates_and_scopes(db):
    account, app, raw = pro_account("Tenant A", "a@example.com", 1400300002)
    other, other_app, other_raw = pro_account("Tenant B", "b@example.com", 1400300003)
    client = bearer(raw)
    bad = [
        ({"kind": "spend", "amount": "10.00"}, "currency"),
        ({"kind": "spend", "currency": "CNY", "amount": "-1"}, "amount"),
        ({"kind": "pack_units", "share": "0.5"}, "application"),
        ({"kind": "pack_units", "application": app.sdkappid, "share": "1.5"}, "share"),
        ({"kind": "spend", "currency": "CNY", "amount": "5", "application": other_app.sdkappid},
         "application"),
        ({"kind": "nope"}, "kind"),
    ]  # fmt: skip
    for body, field in bad:
        response = client.post("/api/v1/alerts", body, format="json")
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["field"] == field, (body, response.json())
    created = client.post(
        "/api/v1/alerts",
        {"kind": "pack_units", "application": app.sdkappid, "share": "0.25"},
        format="json",
    ).json()
    assert created["application"] == app.sdkappid and created["share"] == "0.2500"
    assert bearer(other_raw).get("/api/v1/alerts").json()["results"] == []
    assert bearer(other_raw).delete(f"/api/v1/alerts/{created['id']}").status_code == 404
    assert client.delete(f"/api/v1/alerts/{created['id']}").status_code == 204
