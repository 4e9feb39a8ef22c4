"""The outbox: ``record(type, obj)`` writes an event row in the caller's transaction.

Services call it with one line after their change, inside their ``transaction.atomic()``: a
rollback removes the event with the change. After commit the event is dispatched by Celery
(``transaction.on_commit``); the periodic sweep (``notifications.tasks.sweep``) dispatches
whatever a crash between commit and dispatch left behind, so a committed change is always
delivered."""

from django.db import IntegrityError, transaction

from notifications.models import Event, EventType
from notifications.payloads import subject_of

# A change of these may change what the application is entitled to (its entitlements
# version): record() checks and records application.entitlements_changed in the same
# transaction when the version moved.
ENTITLEMENT_TYPES = {
    EventType.APPLICATION_CREATED,
    EventType.APPLICATION_EDITION_CHANGED,
    EventType.APPLICATION_SUSPENDED,
    EventType.APPLICATION_REACTIVATED,
    EventType.APPLICATION_CLOSED,
}


def record(
    type: str,
    obj=None,
    *,
    account_id: int | None = None,
    application_id: int | None = None,
    data: dict | None = None,
    dedupe_key: str | None = None,
) -> Event | None:
    """Record an event about ``obj`` (an invoice, application, payment or credit note), or
    with explicit ``account_id``/``data``. With ``dedupe_key``, a second recording of the same
    key records nothing and returns None (reminders, dunning steps, alerts)."""
    if type not in EventType.values:
        raise ValueError(f"unknown event type {type!r}")
    payload = {}
    if obj is not None:
        account_id, application_id, payload = subject_of(obj)
    payload |= data or {}
    event = Event(
        type=type,
        account_id=account_id,
        application_id=application_id,
        data=payload,
        dedupe_key=dedupe_key,
    )
    if dedupe_key is None:
        event.save()
    else:
        try:
            with transaction.atomic():  # a savepoint: a duplicate key leaves the caller's work
                event.save()
        except IntegrityError:
            return None
    _dispatch_after_commit(event.pk)
    if type in ENTITLEMENT_TYPES and application_id is not None:
        from notifications.entitlements import entitlements_check

        entitlements_check(application_ids=[application_id])
    return event


def _dispatch_after_commit(event_id: str) -> None:
    from notifications.tasks import dispatch_event

    # robust: a broker that is down must not fail the committed change; the sweep retries.
    transaction.on_commit(lambda: dispatch_event.delay(event_id), robust=True)


def record_each(type: str, objects) -> None:
    """``record(type, obj)`` for each of ``objects`` (the monthly close finalizes many)."""
    for obj in objects:
        record(type, obj)


def application_changed(application) -> None:
    """A change that is no event of its own (an add-on bought or cancelled) but may change the
    application's entitlements: record ``application.entitlements_changed`` if it did."""
    from notifications.entitlements import entitlements_check

    entitlements_check(application_ids=[application.pk])


def usage_changed(*, account_ids=(), application_ids=()) -> None:
    """Usage arrived (applications) or was rated (accounts): evaluate their alerts after
    commit."""
    from notifications.alerts import alerts_evaluate_after_commit

    alerts_evaluate_after_commit(account_ids=account_ids, application_ids=application_ids)


STATUS_EVENTS = {
    "active": EventType.APPLICATION_REACTIVATED,
    "suspended": EventType.APPLICATION_SUSPENDED,
    "closed": EventType.APPLICATION_CLOSED,
}
