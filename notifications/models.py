"""The outbox, webhook endpoints and their deliveries, the e-mail ledger and alerts (issue 16).

An ``Event`` row is written by ``notifications.outbox.record`` in the same transaction as the
business change it describes: a rolled-back change leaves no event, a committed one always has
its event, and delivery (webhooks, e-mail) happens after commit from that row."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Account


class EventType(models.TextChoices):
    INVOICE_FINALIZED = "invoice.finalized"
    INVOICE_PAID = "invoice.paid"
    INVOICE_VOIDED = "invoice.voided"
    INVOICE_DUE_SOON = "invoice.due_soon"
    INVOICE_OVERDUE = "invoice.overdue"
    CREDIT_NOTE_ISSUED = "credit_note.issued"
    PAYMENT_RECORDED = "payment.recorded"
    APPLICATION_CREATED = "application.created"
    APPLICATION_EDITION_CHANGED = "application.edition_changed"
    APPLICATION_SUSPENDED = "application.suspended"
    APPLICATION_REACTIVATED = "application.reactivated"
    APPLICATION_CLOSED = "application.closed"
    APPLICATION_ENTITLEMENTS_CHANGED = "application.entitlements_changed"
    ALERT_TRIGGERED = "alert.triggered"


def _event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


class Event(models.Model):
    """One business change, recorded in its transaction (the outbox)."""

    id = models.CharField(primary_key=True, max_length=40, default=_event_id, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="events")
    application = models.ForeignKey(
        "billing.Application", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict)
    # Events made by a schedule (reminders, dunning steps, alerts) carry a key that makes the
    # second recording of the same thing a no-op: one reminder per invoice, one alert a month.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Set once the event's deliveries and e-mail rows exist (dispatch_event); the sweep
    # dispatches every event still without it, so a crash after commit still delivers.
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(dispatched_at__isnull=True),
                name="event_undispatched_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookEndpoint(models.Model):
    """Where an account (or, with no account, the platform's service keys) wants events."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    event_types = models.JSONField(default=list)  # a list of EventType values
    # The signing secret (whsec_...). It must be stored as is to sign; shown once on creation.
    secret = models.CharField(max_length=80)
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    @property
    def is_platform(self) -> bool:
        return self.account_id is None

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:10]}…"


class WebhookDelivery(models.Model):
    """One event for one endpoint, tried until it succeeds or its retries run out."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_event_endpoint")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="pending"),
                name="delivery_pending_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.state})"


class DeliveryAttempt(models.Model):
    """Every HTTP attempt of a delivery: when, how long, what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    attempted_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    succeeded = models.BooleanField()
    replay = models.BooleanField(default=False)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error[:40]}"


class EmailNotice(models.Model):
    """The ledger that makes each e-mail go out once: its key is unique, and ``sent_at`` is
    set in the transaction that holds the row's lock while the message is handed over."""

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.PROTECT, null=True, blank=True)
    to = models.JSONField(default=list)
    subject = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class Alert(models.Model):
    """A threshold the customer sets (issue 16, item 4)."""

    class Kind(models.TextChoices):
        SPEND = "spend", "Month-to-date spend over an amount"
        FREE_MINUTES = "free_minutes", "Free TRTC minutes left below a share"
        PACK_UNITS = "pack_units", "Resource pack units left below a share"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # Spend: the account (null) or one application; free minutes and packs: one application.
    application = models.ForeignKey(
        "billing.Application", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    currency = models.CharField(max_length=3, blank=True)  # spend only
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # free_minutes / pack_units: fires when what is left is below this share (0.20 = 20 %).
    share = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="spend") & Q(amount__gt=0) & ~Q(currency=""))
                | (
                    ~Q(kind="spend")
                    & Q(share__gt=0)
                    & Q(share__lte=1)
                    & Q(application__isnull=False)
                ),
                name="alert_threshold_valid",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.account})"


class EntitlementsState(models.Model):
    """The last entitlements version announced for an application (``entitlements_changed``
    is recorded when the computed version differs)."""

    application = models.OneToOneField(
        "billing.Application", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.CharField(max_length=64)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.application_id}: {self.version}"
