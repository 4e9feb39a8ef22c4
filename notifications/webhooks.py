"""Webhook endpoints (services) and delivery: dispatch an event to its endpoints, POST it
signed, log every attempt, retry with exponential backoff for about three days, disable an
endpoint whose delivery failed every attempt and tell its owner."""

import datetime as dt
import http.client
import json
import socket
import ssl
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.display import rfc3339
from billing.errors import BillingError
from notifications.models import (
    DeliveryAttempt,
    Event,
    EventType,
    WebhookDelivery,
    WebhookEndpoint,
)
from notifications.safety import Unresolvable, UnsafeUrl, resolve_public, url_check
from notifications.signing import secret_generate, signature

# What a platform endpoint (a service key's, no account) may subscribe to.
PLATFORM_TYPES = [EventType.APPLICATION_ENTITLEMENTS_CHANGED.value]
MAX_ENDPOINTS_PER_ACCOUNT = 20


def retry_delays() -> list[int]:
    """Seconds before each retry: base x 2^n (1 min, 2, 4 ... 34 h at the defaults), 12
    retries after the first attempt: 13 attempts over 2.8 days ("about three days")."""
    base, retries = settings.WEBHOOK_RETRY_BASE_SECONDS, settings.WEBHOOK_RETRIES
    return [base * 2**n for n in range(retries)]


# --------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------


def _event_types_clean(event_types, *, platform: bool) -> list[str]:
    allowed = PLATFORM_TYPES if platform else EventType.values
    if not isinstance(event_types, list) or not event_types:
        raise BillingError(
            "Give a non-empty list of event types.", code="required", field="event_types"
        )
    unknown = [t for t in event_types if t not in allowed]
    if unknown:
        raise BillingError(
            f"Unknown or not allowed event type {unknown[0]!r}; allowed: {', '.join(allowed)}.",
            code="invalid",
            field="event_types",
        )
    return sorted(set(event_types))


def endpoint_create(
    *, account_id: int | None, url, event_types, description: str = ""
) -> WebhookEndpoint:
    """A new endpoint with a fresh secret (the caller shows it once). ``account_id`` None: a
    platform endpoint (service keys), which may only subscribe to entitlements changes, for
    every application."""
    try:
        _, host, port = url_check(url)
        resolve_public(host, port)
    except Unresolvable:
        pass  # DNS may come later; every delivery resolves and checks again
    except UnsafeUrl as exc:
        raise BillingError(str(exc), code="invalid", field="url") from None
    types = _event_types_clean(event_types, platform=account_id is None)
    description = (description or "").strip()
    if len(description) > 200:
        raise BillingError(
            "The description is longer than 200 characters.", code="too_long", field="description"
        )
    live = WebhookEndpoint.objects.filter(account_id=account_id, deleted_at__isnull=True)
    if live.count() >= MAX_ENDPOINTS_PER_ACCOUNT:
        raise BillingError(
            f"At most {MAX_ENDPOINTS_PER_ACCOUNT} endpoints; delete one first.",
            code="too_many",
            field="url",
        )
    return WebhookEndpoint.objects.create(
        account_id=account_id,
        url=url.strip(),
        event_types=types,
        secret=secret_generate(),
        description=description,
    )


def endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Soft delete: the endpoint stops receiving; its delivery log stays for the record."""
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(deleted_at=timezone.now())
    endpoint.deleted_at = timezone.now()


def endpoints_for(*, account_id: int | None):
    return WebhookEndpoint.objects.filter(account_id=account_id, deleted_at__isnull=True)


# --------------------------------------------------------------------------------------------
# Dispatch: an event becomes deliveries (and e-mail rows)
# --------------------------------------------------------------------------------------------


def _wanted_by(event: Event) -> list[WebhookEndpoint]:
    candidates = WebhookEndpoint.objects.filter(
        account_id=event.account_id, deleted_at__isnull=True, disabled_at__isnull=True
    )
    found = [e for e in candidates if event.type in e.event_types]
    if event.type == EventType.APPLICATION_ENTITLEMENTS_CHANGED:
        platform = WebhookEndpoint.objects.filter(
            account__isnull=True, deleted_at__isnull=True, disabled_at__isnull=True
        )
        found += [e for e in platform if event.type in e.event_types]
    return found


def event_dispatch(*, event_id: str) -> tuple[list[int], list[int]]:
    """Create the event's deliveries and e-mail rows once (the event row is locked; a second
    call does nothing). Returns (delivery ids, e-mail notice ids) to send after commit."""
    from notifications.emails import notices_for_event

    with transaction.atomic():
        event = (
            Event.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:
            return [], []
        now = timezone.now()
        deliveries = [
            WebhookDelivery(event=event, endpoint=endpoint, next_attempt_at=now)
            for endpoint in _wanted_by(event)
        ]
        WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
        notices = notices_for_event(event)
        event.dispatched_at = now
        event.save(update_fields=["dispatched_at"])
        delivery_ids = list(
            WebhookDelivery.objects.filter(event=event, state="pending").values_list(
                "pk", flat=True
            )
        )
        return delivery_ids, [n.pk for n in notices]


# --------------------------------------------------------------------------------------------
# Delivery
# --------------------------------------------------------------------------------------------


def event_body(event: Event) -> bytes:
    body = {
        "id": event.pk,
        "type": event.type,
        "created": rfc3339(event.created_at),
        "data": event.data,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever DNS says a moment later."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def http_post(url: str, body: bytes, headers: dict) -> tuple[int | None, str, int]:
    """POST ``body``; (status or None, error text, duration in ms). No redirect is followed."""
    started = time.monotonic()
    status, error = None, ""
    try:
        scheme, host, port = url_check(url)
        address = resolve_public(host, port)
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = cls(host, port, address, settings.WEBHOOK_TIMEOUT_SECONDS)
        try:
            connection.request("POST", target, body=body, headers=headers)
            response = connection.getresponse()
            status = response.status
            response.read(65536)
            if not 200 <= status < 300:
                error = f"HTTP {status} {response.reason}"
        finally:
            connection.close()
    except UnsafeUrl as exc:
        error = f"refused: {exc}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__}: {exc}" or type(exc).__name__
    return status, error[:2000], int((time.monotonic() - started) * 1000)


def _headers(event_id: str, secret: str, body: bytes) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": "billing-portal-webhooks/1",
        "Webhook-Id": event_id,
        "Webhook-Signature": signature(secret, body),
    }


def delivery_attempt(*, delivery_id: int, replay: bool = False) -> WebhookDelivery | None:
    """One attempt of a delivery that is due (or any delivery, ``replay``), logged. The row is
    locked for the attempt (``skip_locked``: a second worker on the same delivery skips it),
    so one delivery is never POSTed twice at once. Returns the delivery, or None when it was
    not due, busy, or its endpoint is gone."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event", "endpoint")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None:
            return None
        endpoint, now = delivery.endpoint, timezone.now()
        if endpoint.deleted_at is not None:
            return None
        if not replay and (
            delivery.state != WebhookDelivery.State.PENDING
            or endpoint.disabled_at is not None
            or (delivery.next_attempt_at and delivery.next_attempt_at > now)
        ):
            return None
        body = event_body(delivery.event)
        status, error, duration = http_post(
            endpoint.url, body, _headers(delivery.event_id, endpoint.secret, body)
        )
        succeeded = status is not None and 200 <= status < 300
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            duration_ms=duration,
            status_code=status,
            error=error,
            succeeded=succeeded,
            replay=replay,
        )
        delivery.attempts += 1
        delivery.last_status = status
        if succeeded:
            delivery.state = WebhookDelivery.State.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif replay:
            pass  # a replay that fails changes nothing of the schedule
        else:
            delays = retry_delays()
            failures = delivery.log.filter(succeeded=False, replay=False).count()
            if failures > len(delays):
                delivery.state = WebhookDelivery.State.FAILED
                delivery.next_attempt_at = None
                _endpoint_disable(endpoint, delivery, now)
            else:
                delivery.next_attempt_at = now + dt.timedelta(seconds=delays[failures - 1])
        delivery.save()
        return delivery


def _endpoint_disable(endpoint: WebhookEndpoint, delivery: WebhookDelivery, now) -> None:
    """Persistent failure: every attempt of a delivery over about three days failed."""
    from notifications.emails import notice_create

    endpoint.disabled_at = now
    endpoint.disabled_reason = (
        f"Event {delivery.event_id} failed {delivery.attempts} attempts since "
        f"{rfc3339(delivery.created_at)}."
    )
    endpoint.save(update_fields=["disabled_at", "disabled_reason"])
    if endpoint.account_id is not None:
        notice_create(
            key=f"endpoint_disabled:{endpoint.pk}:{now.timestamp():.0f}",
            kind="endpoint_disabled",
            account_id=endpoint.account_id,
        )


def endpoint_enable(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(disabled_at=None, disabled_reason="")
    endpoint.refresh_from_db()
    return endpoint


def endpoint_test(*, endpoint: WebhookEndpoint) -> dict:
    """A signed ``webhook.test`` POST now; nothing is stored. What came back."""
    event_id = f"evt_test_{secret_generate()[6:22]}"
    body = json.dumps(
        {
            "id": event_id,
            "type": "webhook.test",
            "created": rfc3339(timezone.now()),
            "data": {"endpoint": endpoint.pk},
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    status, error, duration = http_post(
        endpoint.url, body, _headers(event_id, endpoint.secret, body)
    )
    return {
        "succeeded": status is not None and 200 <= status < 300,
        "status_code": status,
        "duration_ms": duration,
        "error": error,
    }


def deliveries_due(now=None) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            state=WebhookDelivery.State.PENDING,
            next_attempt_at__lte=now,
            endpoint__disabled_at__isnull=True,
            endpoint__deleted_at__isnull=True,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:1000]
    )
