"""Webhooks over real HTTP: an endpoint registered through the API receives the month's
``invoice.finalized`` with a signature verified with its secret; a 500 is retried and the
log shows both attempts; another account's endpoint receives nothing; SSRF refusals."""

import datetime as dt
import json

import pytest
from rest_framework.test import APIClient

from billing.models import Invoice
from billing.services.jobs import close_month
from notifications import tasks
from notifications.models import Event, WebhookDelivery
from notifications.safety import UnsafeUrl, url_check
from notifications.signing import signature_verify
from notifications.webhooks import http_post
from tests.notifications.conftest import OCT_1, freeze, plain_account, pro_account, shanghai

pytestmark = pytest.mark.django_db


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def register(raw: str, url: str, types: list[str]) -> dict:
    response = bearer(raw).post(
        "/api/v1/webhook-endpoints", {"url": url, "event_types": types}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_month_close_delivers_signed_invoice_finalized_only_to_the_accounts_endpoint(
    allow_http, eager, receiver, django_capture_on_commit_callbacks
):
    # given: account A with a Pro application (October: 999.00 CNY), account B with nothing
    account, app, raw = pro_account("Tenant A", "a@example.com", 1400100001)
    other, other_raw = plain_account("Tenant B", "b@example.com")
    mine, theirs = receiver(), receiver()
    created = register(raw, mine.url, ["invoice.finalized"])
    assert created["secret"].startswith("whsec_")
    assert "secret" not in bearer(raw).get("/api/v1/webhook-endpoints").json()["results"][0]
    # B wants every event type: it must still get none of A's
    everything = [t for t, _ in Event._meta.get_field("type").choices]
    register(other_raw, theirs.url, everything)

    # when: October closes
    with django_capture_on_commit_callbacks(execute=True):
        close_month(month=OCT_1)

    # then: one signed POST of invoice.finalized, 999.00 CNY, to A's endpoint
    invoice = Invoice.objects.get(account=account, month=OCT_1)
    assert len(mine.requests) == 1
    request = mine.requests[0]
    assert request["path"] == "/hooks"
    assert signature_verify(
        created["secret"], request["body"], request["headers"]["Webhook-Signature"]
    )
    assert not signature_verify(
        "whsec_wrong", request["body"], request["headers"]["Webhook-Signature"]
    )
    body = json.loads(request["body"])
    assert set(body) == {"id", "type", "created", "data"}
    assert body["type"] == "invoice.finalized"
    assert request["headers"]["Webhook-Id"] == body["id"]
    assert body["data"]["invoice"]["number"] == invoice.number
    assert body["data"]["invoice"]["total"] == "999.00"  # the Pro fee, SPEC 4.1
    assert body["data"]["invoice"]["currency"] == "CNY"
    assert theirs.requests == []


def test_a_500_is_retried_and_the_log_shows_both_attempts(
    allow_http, eager, receiver, django_capture_on_commit_callbacks, monkeypatch
):
    account, app, raw = pro_account("Tenant A", "a@example.com", 1400100003)
    flaky = receiver()
    flaky.statuses = [500, 200]
    created = register(raw, flaky.url, ["invoice.finalized"])

    with django_capture_on_commit_callbacks(execute=True):
        close_month(month=OCT_1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == "pending" and delivery.attempts == 1
    first_retry = delivery.next_attempt_at - delivery.log.get().attempted_at
    assert first_retry == dt.timedelta(seconds=60)  # base 60 s x 2^0

    # nothing is due before the backoff has passed
    assert tasks.sweep()["deliveries"] == 0
    later = delivery.next_attempt_at + dt.timedelta(seconds=1)
    freeze(monkeypatch, later)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.sweep()["deliveries"] == 1

    delivery.refresh_from_db()
    assert delivery.state == "succeeded" and delivery.attempts == 2
    assert len(flaky.requests) == 2
    ids = {r["headers"]["Webhook-Id"] for r in flaky.requests}
    assert len(ids) == 1  # the same event twice
    log = bearer(raw).get(f"/api/v1/webhook-endpoints/{created['id']}/deliveries").json()
    [entry] = log["results"]
    assert entry["type"] == "invoice.finalized" and entry["state"] == "succeeded"
    assert [(a["status_code"], a["succeeded"]) for a in entry["log"]] == [(500, False), (200, True)]
    assert entry["log"][0]["error"] == "HTTP 500 Internal Server Error"
    assert all(a["duration_ms"] >= 0 and a["attempted_at"] for a in entry["log"])


def test_every_attempt_failing_disables_the_endpoint_and_tells_the_owner(
    allow_http, eager, receiver, django_capture_on_commit_callbacks, monkeypatch, mailoutbox
):
    account, app, raw = pro_account("Tenant A", "a@example.com", 1400100004)
    down = receiver()
    down.statuses = [503] * 20
    register(raw, down.url, ["invoice.finalized"])
    with django_capture_on_commit_callbacks(execute=True):
        close_month(month=OCT_1)
    delivery = WebhookDelivery.objects.get()
    started = delivery.created_at
    while delivery.state == "pending":
        freeze(monkeypatch, delivery.next_attempt_at)
        with django_capture_on_commit_callbacks(execute=True):
            tasks.sweep()
        delivery.refresh_from_db()
    # 13 attempts: the first and 12 retries 60 s x (1 + 2 + ... + 2048) = 245,700 s apart
    assert delivery.state == "failed" and delivery.attempts == 13
    elapsed = delivery.log.last().attempted_at - delivery.log.first().attempted_at
    assert elapsed == dt.timedelta(seconds=245_700)  # 2.84 days
    assert delivery.created_at == started
    endpoint = delivery.endpoint
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is not None
    disabled = [m for m in mailoutbox if "Webhook endpoint disabled" in m.subject]
    assert len(disabled) == 1 and "a@example.com" in disabled[0].to


def test_replay_from_the_portal_sends_the_event_again(
    allow_http, eager, receiver, django_capture_on_commit_callbacks, client
):
    account, app, raw = pro_account("Tenant A", "a@example.com", 1400100005)
    hook = receiver()
    created = register(raw, hook.url, ["invoice.finalized"])
    with django_capture_on_commit_callbacks(execute=True):
        close_month(month=OCT_1)
    delivery = WebhookDelivery.objects.get()
    client.force_login(account.memberships.get().user)
    page = client.get(f"/webhooks/{created['id']}/")
    assert page.status_code == 200 and "invoice.finalized" in page.content.decode()
    response = client.post(f"/webhooks/{created['id']}/deliveries/{delivery.pk}/replay/")
    assert response.status_code == 302
    assert len(hook.requests) == 2
    assert [a.replay for a in delivery.log.all()] == [False, True]


def test_the_test_endpoint_posts_a_signed_ping(allow_http, receiver):
    account, app, raw = pro_account("Tenant A", "a@example.com", 1400100006)
    hook = receiver()
    created = register(raw, hook.url, ["invoice.paid"])
    answer = bearer(raw).post(f"/api/v1/webhook-endpoints/{created['id']}/test")
    assert answer.status_code == 200
    assert answer.json()["succeeded"] is True and answer.json()["status_code"] == 200
    [request] = hook.requests
    assert json.loads(request["body"])["type"] == "webhook.test"
    assert signature_verify(
        created["secret"], request["body"], request["headers"]["Webhook-Signature"]
    )


def test_delete_stops_deliveries_and_another_accounts_endpoint_is_404(allow_http, receiver):
    account, app, raw = pro_account("Tenant A", "a@example.com", 1400100007)
    _, _, other_raw = pro_account("Tenant B", "b@example.com", 1400100008)
    created = register(raw, receiver().url, ["invoice.paid"])
    url = f"/api/v1/webhook-endpoints/{created['id']}"
    assert bearer(other_raw).delete(url).status_code == 404
    assert bearer(other_raw).get(f"{url}/deliveries").status_code == 404
    assert bearer(other_raw).post(f"{url}/test").status_code == 404
    assert bearer(raw).delete(url).status_code == 204
    assert bearer(raw).get("/api/v1/webhook-endpoints").json()["results"] == []
    assert bearer(raw).delete(url).status_code == 404


@pytest.mark.parametrize(
    "url, debug, allow_http, refused",
    [
        ("http://127.0.0.1:9/x", False, False, "must use https"),
        ("https://127.0.0.1/x", False, False, "private or reserved"),
        ("https://10.1.2.3/x", False, True, "private or reserved"),
        ("https://169.254.169.254/latest/meta-data", False, True, "private or reserved"),
        ("https://[::1]/x", False, False, "private or reserved"),
        ("https://[::ffff:192.168.0.1]/x", False, True, "private or reserved"),
        ("https://user:pw@93.184.215.14/x", False, False, "no user name"),
        ("ftp://93.184.215.14/x", False, False, "must start with https"),
        ("http://127.0.0.1:9/x", False, True, None),  # WEBHOOKS_ALLOW_HTTP: loopback
        ("http://10.1.2.3/x", True, False, None),  # debug: anything
        ("https://93.184.215.14/x", False, False, None),  # a public address
    ],
)
def test_registration_refuses_private_addresses_outside_debug(
    settings, url, debug, allow_http, refused
):
    settings.DEBUG, settings.WEBHOOKS_ALLOW_HTTP = debug, allow_http
    account, app, raw = pro_account("Tenant A", "a@example.com", 1400100009)
    response = bearer(raw).post(
        "/api/v1/webhook-endpoints", {"url": url, "event_types": ["invoice.paid"]}, format="json"
    )
    if refused is None:
        assert response.status_code == 201, response.json()
    else:
        assert response.status_code == 400
        [error] = response.json()["errors"]
        assert error["field"] == "url" and refused in error["message"]


def test_delivery_resolves_and_refuses_a_private_address_without_connecting(settings):
    settings.DEBUG, settings.WEBHOOKS_ALLOW_HTTP = False, False
    status, error, _ = http_post("https://localhost/x", b"{}", {})
    assert status is None and error.startswith("refused:") and "private" in error
    with pytest.raises(UnsafeUrl):
        url_check("http://example.com/")


def test_service_keys_subscribe_to_entitlements_changes_only(settings):
    from tests.api.conftest import key_for

    _, raw = key_for(service=True)
    settings.DEBUG = True
    body = {"url": "https://93.184.215.14/x", "event_types": ["invoice.finalized"]}
    response = bearer(raw).post("/api/v1/webhook-endpoints", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "event_types"
    body["event_types"] = ["application.entitlements_changed"]
    assert bearer(raw).post("/api/v1/webhook-endpoints", body, format="json").status_code == 201


def test_rolled_back_change_records_nothing_and_a_refused_one_neither():
    from django.db import transaction

    from billing.errors import BillingError
    from billing.services.applications import edition_change

    account, app, raw = pro_account("Tenant A", "a@example.com", 1400100010)
    before = Event.objects.count()
    assert before >= 2  # application.created and application.edition_changed, at least
    with pytest.raises(RuntimeError), transaction.atomic():
        edition_change(application=app, edition_code="ultimate", effective=dt.date(2026, 10, 3))
        assert Event.objects.count() > before
        raise RuntimeError("the caller fails after the change")
    assert Event.objects.count() == before
    with pytest.raises(BillingError):
        edition_change(application=app, edition_code="trial")
    assert Event.objects.count() == before


def test_events_carry_their_types_for_each_business_change(monkeypatch):
    from accounts.services import staff_create
    from billing.services.closing import invoice_finalize
    from billing.services.finance import credit_note_issue, invoice_void, payment_record

    freeze(monkeypatch, shanghai(2026, 11, 3, 12, 0))
    finance, _ = staff_create(email="f@example.com", password="pw-f-123456", finance=True)
    account, app, raw = pro_account("Tenant A", "a@example.com", 1400100011)
    invoice = invoice_finalize(invoice=Invoice.objects.get(account=account, month=OCT_1))
    credit_note_issue(invoice=invoice, amount="9.00", reason="goodwill", actor=finance)
    payment_record(account=account, currency="CNY", amount="990.00", actor=finance, invoice=invoice)
    types = list(Event.objects.order_by("created_at", "id").values_list("type", flat=True))
    for expected in ("application.created", "application.edition_changed",
                     "application.entitlements_changed", "invoice.finalized",
                     "credit_note.issued", "payment.recorded", "invoice.paid"):  # fmt: skip
        assert expected in types, expected
    paid = Event.objects.get(type="invoice.paid")
    assert paid.data["invoice"]["state"] == "paid" and paid.account_id == account.pk
    # a second invoice, voided
    other, app2, _ = pro_account("Tenant C", "c@example.com", 1400100012)
    second = invoice_finalize(invoice=Invoice.objects.get(account=other, month=OCT_1))
    invoice_void(invoice=second, reason="issued by mistake", actor=finance)
    assert Event.objects.filter(type="invoice.voided", account=other).count() == 1
