"""The portal pages (webhooks: the secret shown once; alerts) and the read-only admin of the
outbox with its counts of pending and failed deliveries, as their users meet them."""

import pytest

from accounts.services import staff_create
from notifications.models import Alert, Event, WebhookDelivery, WebhookEndpoint
from tests.notifications.conftest import pro_account

pytestmark = pytest.mark.django_db


def test_portal_webhook_created_shows_the_secret_once(client):
    account, app, _ = pro_account("Tenant A", "a@example.com", 1400600001)
    client.force_login(account.memberships.get().user)
    response = client.post(
        "/webhooks/",
        {"url": "https://93.184.215.14/hook", "event_types": ["invoice.finalized", "invoice.paid"]},
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    again = client.get("/webhooks/").content.decode()
    assert "https://93.184.215.14/hook" in again and endpoint.secret not in again
    assert endpoint.secret not in client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    refused = client.post(
        "/webhooks/", {"url": "https://10.0.0.1/", "event_types": ["invoice.paid"]}
    )
    assert refused.status_code == 400 and "private or reserved" in refused.content.decode()
    assert client.post(f"/webhooks/{endpoint.pk}/delete/").status_code == 302
    assert client.get(f"/webhooks/{endpoint.pk}/").status_code == 404


def test_portal_alerts_set_and_delete(client):
    account, app, _ = pro_account("Tenant A", "a@example.com", 1400600002)
    client.force_login(account.memberships.get().user)
    response = client.post(
        "/alerts/", {"kind": "free_minutes", "application": app.sdkappid, "percent": "20"}
    )
    assert response.status_code == 302
    alert = Alert.objects.get()
    assert str(alert.share) == "0.2000" and alert.application == app
    page = client.get("/alerts/").content.decode()
    assert "20 % left" in page and str(app.sdkappid) in page
    bad = client.post("/alerts/", {"kind": "spend", "amount": "5"})
    assert bad.status_code == 400 and "currency" in bad.content.decode()
    assert client.post(f"/alerts/{alert.pk}/delete/").status_code == 302
    assert not Alert.objects.exists()


def test_admin_shows_the_outbox_read_only_with_pending_and_failed_counts(client):
    account, app, _ = pro_account("Tenant A", "a@example.com", 1400600003)
    support, _ = staff_create(email="s@example.com", password="pw-s-123456", support=True)
    endpoint = WebhookEndpoint.objects.create(
        account=account, url="https://93.184.215.14/", event_types=["invoice.paid"], secret="x"
    )
    events = list(Event.objects.all()[:2])
    WebhookDelivery.objects.create(event=events[0], endpoint=endpoint, state="pending")
    WebhookDelivery.objects.create(event=events[1], endpoint=endpoint, state="failed")
    client.force_login(support)
    page = client.get("/admin/notifications/webhookdelivery/").content.decode()
    assert "Webhook deliveries: <strong>1</strong> pending,\n<strong>1</strong> failed" in page
    events_page = client.get("/admin/notifications/event/").content.decode()
    assert "application.created" in events_page
    assert client.get(f"/admin/notifications/event/{events[0].pk}/change/").status_code == 200
    assert client.get("/admin/notifications/event/add/").status_code == 403
    assert client.post(f"/admin/notifications/event/{events[0].pk}/delete/").status_code == 403
    endpoint_page = client.get(f"/admin/notifications/webhookendpoint/{endpoint.pk}/change/")
    assert endpoint_page.status_code == 200 and "field-secret" not in endpoint_page.content.decode()
