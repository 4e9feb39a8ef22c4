"""Celery tasks of the outbox. Beat runs ``sweep`` every minute (events not dispatched, due
retries, unsent e-mail) and ``daily_notices`` once a day; the rest are enqueued after commit."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from notifications import alerts, dunning, emails, webhooks
from notifications.models import Event

RETRY_COUNTDOWN_MAX = 600  # seconds

RETRY_COUNTDOWN_MAX = 600  # seconds

RETRY = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 6,
}


def _enqueue_deliveries(delivery_ids, notice_ids) -> None:
    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)
    for notice_id in notice_ids:
        send_notice.delay(notice_id)


@shared_task(**RETRY)
def dispatch_event(event_id: str) -> dict:
    delivery_ids, notice_ids = webhooks.event_dispatch(event_id=event_id)
    _enqueue_deliveries(delivery_ids, notice_ids)
    return {"deliveries": len(delivery_ids), "emails": len(notice_ids)}


@shared_task(**RETRY)
def deliver_webhook(delivery_id: int, replay: bool = False) -> str:
    delivery = webhooks.delivery_attempt(delivery_id=delivery_id, replay=replay)
    if delivery is None:
        return "skipped"
    eager = deliver_webhook.app.conf.task_always_eager
    if delivery.state == "pending" and delivery.next_attempt_at and not eager:
        # Short retries at their time; longer ones are left to the sweep (a countdown beyond
        # the broker's visibility timeout would be redelivered early). Either way harmless:
        # an attempt that is not due does nothing.
        delay = max(0, (delivery.next_attempt_at - timezone.now()).total_seconds())
        if delay <= RETRY_COUNTDOWN_MAX:
            deliver_webhook.apply_async((delivery_id,), countdown=delay)
    return delivery.state


# E-mail: SMTP trouble is an OSError; retried, and the ledger keeps it to one message.
@shared_task(**{**RETRY, "autoretry_for": (*RETRY["autoretry_for"], OSError)})
def send_notice(notice_id: int) -> bool:
    return emails.notice_send(notice_id=notice_id)


@shared_task(**RETRY)
def evaluate_alerts(account_ids: list[int] | None = None) -> int:
    return alerts.alerts_evaluate(account_ids=account_ids)


@shared_task(**RETRY)
def daily_notices() -> dict:
    return dunning.daily_notices()


@shared_task(**RETRY)
def sweep() -> dict:
    """What after-commit dispatch did not do (a worker killed between commit and dispatch, a
    broker down at commit): dispatch events older than ``OUTBOX_SWEEP_AFTER_SECONDS``, attempt
    deliveries that are due, send e-mail not sent. Everything it calls is idempotent."""
    now = timezone.now()
    settle = dt.timedelta(seconds=settings.OUTBOX_SWEEP_AFTER_SECONDS)
    events = list(
        Event.objects.filter(dispatched_at__isnull=True, created_at__lt=now - settle)
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )
    dispatched = 0
    for event_id in events:
        delivery_ids, notice_ids = webhooks.event_dispatch(event_id=event_id)
        dispatched += 1
        transaction.on_commit(lambda d=delivery_ids, n=notice_ids: _enqueue_deliveries(d, n))
    due = webhooks.deliveries_due(now)
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    unsent = emails.notices_unsent(now - settle)
    for notice_id in unsent:
        send_notice.delay(notice_id)
    return {"events": dispatched, "deliveries": len(due), "emails": len(unsent)}
