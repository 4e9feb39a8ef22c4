"""A real Celery worker (Redis) SIGKILLed after the change committed and before the event was
delivered: once a worker runs again, the periodic sweep delivers it (the outbox row was
committed with the change)."""

import json

import pytest

from billing.models import Invoice
from billing.services.closing import invoice_finalize
from notifications import tasks
from notifications.models import Event, WebhookDelivery
from notifications.signing import signature_verify
from notifications.webhooks import endpoint_create
from portal.celery import app as celery_app
from tests.conftest import start_celery_worker, stop_celery_worker
from tests.notifications.conftest import OCT_1, pro_account
from tests.reliability.scenario import wait_until

pytestmark = [
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
WORKER_ENV = {"WEBHOOKS_ALLOW_HTTP": "true", "OUTBOX_SWEEP_AFTER_SECONDS": "0"}


def _delivered(receiver, secret, event):
    delivery = WebhookDelivery.objects.get(event=event)
    wait_until(
        lambda: WebhookDelivery.objects.get(pk=delivery.pk).state == "succeeded",
        timeout=60,
        what="delivery after restart",
    )
    last = receiver.requests[-1]
    assert last["headers"]["Webhook-Id"] == event.pk
    assert signature_verify(secret, last["body"], last["headers"]["Webhook-Signature"])
    assert json.loads(last["body"])["type"] == "invoice.finalized"
    return WebhookDelivery.objects.get(pk=delivery.pk)


def test_worker_killed_during_delivery_then_restarted_delivers(allow_http, receiver):
    account, app, _ = pro_account("Crash A", "crash-a@example.com", 1400500001)
    hook = receiver()
    endpoint = endpoint_create(
        account_id=account.pk, url=hook.url, event_types=["invoice.finalized"]
    )
    hook.hold.clear()  # the receiver does not answer the first POST: the delivery is in flight

    worker = start_celery_worker(concurrency=1, env=WORKER_ENV)
    try:
        invoice_finalize(invoice=Invoice.objects.get(account=account, month=OCT_1))  # commits
        event = Event.objects.get(type="invoice.finalized")
        wait_until(lambda: len(hook.requests) == 1, timeout=60, what="the POST in flight")
    finally:
        stop_celery_worker(worker, kill=True)
    hook.hold.set()
    delivery = WebhookDelivery.objects.get(event=event)
    # the attempt died with the worker: nothing says delivered, nothing is logged
    assert delivery.state == "pending" and delivery.attempts == 0
    print(f"\n[crash] worker killed with {event.type} {event.pk} in flight")

    celery_app.control.purge()  # the task's message is gone too (worst case)
    worker = start_celery_worker(concurrency=1, env=WORKER_ENV)
    try:
        tasks.sweep.delay()  # what beat runs every minute
        delivery = _delivered(hook, endpoint.secret, event)
    finally:
        stop_celery_worker(worker)
    assert delivery.attempts == 1 and delivery.log.get().status_code == 200
    assert len(hook.requests) == 2  # the killed attempt's POST, then the delivery


def test_change_committed_while_no_worker_ran_is_dispatched_by_the_sweep(allow_http, receiver):
    account, app, _ = pro_account("Crash B", "crash-b@example.com", 1400500002)
    hook = receiver()
    endpoint = endpoint_create(
        account_id=account.pk, url=hook.url, event_types=["invoice.finalized"]
    )
    invoice_finalize(invoice=Invoice.objects.get(account=account, month=OCT_1))
    event = Event.objects.get(type="invoice.finalized")
    assert event.dispatched_at is None
    celery_app.control.purge()  # the after-commit dispatch message is lost

    worker = start_celery_worker(concurrency=1, env=WORKER_ENV)
    try:
        tasks.sweep.delay()
        wait_until(
            lambda: WebhookDelivery.objects.filter(event=event).exists(),
            timeout=60,
            what="the sweep's dispatch",
        )
        delivery = _delivered(hook, endpoint.secret, event)
    finally:
        stop_celery_worker(worker)
    assert len(hook.requests) == 1 and delivery.attempts == 1
