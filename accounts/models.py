"""Customer organisations, who belongs to them, and how machines authenticate for them."""

import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Account(models.Model):
    """A customer organisation (SPEC 2). Its balance is derived, per currency, from invoices,
    credit notes and payments (``billing.selectors.account_balances``), never stored twice."""

    name = models.CharField(max_length=200)
    billing_email = models.EmailField()
    billing_address = models.TextField(blank=True)
    # The buyer on invoices (billing profile): the legal name when it differs from ``name``,
    # and the tax registration number. Snapshotted on each invoice at finalization.
    billing_name = models.CharField(max_length=200, blank=True, db_default="")
    tax_id = models.CharField(max_length=64, blank=True, db_default="")
    # The first day an invoice of this account was past due and unpaid; null when nothing is
    # overdue. Set and cleared by billing.services.overdue_refresh (SPEC 5).
    overdue_since = models.DateField(null=True, blank=True)
    # The owner's choice (issue 19): every member must sign in with a second factor.
    require_two_factor = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_overdue(self) -> bool:
        return self.overdue_since is not None


class Role(models.TextChoices):
    """What a member may do is the policy's (accounts/permissions.py), not the role's name."""

    OWNER = "owner", "Owner"
    BILLING = "billing", "Billing"
    DEVELOPER = "developer", "Developer"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    Role = Role

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "account"], name="membership_user_account_uniq"
            ),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.account} ({self.role})"


class Invitation(models.Model):
    """An owner's invitation of an e-mail address to the account with a role. The link sent
    carries the invitation's id signed with its creation time (django.core.signing); it works
    while the row is pending and not past ``expires_at``, once."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="invitation_role_valid"),
            # Accepted or revoked, never both.
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="invitation_accepted_xor_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.account} as {self.role}"

    def state(self, now) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "pending"


class ApiKey(models.Model):
    """A bearer key. Only the SHA-256 of the whole key is stored: keys are 256-bit random
    tokens, so a fast hash is enough (no password stretching needed) and lookup is one index hit.

    Account keys act for their account. Service keys belong to no account and may only report
    usage, for any application (platform services)."""

    PREFIX_LENGTH = 12

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="api_keys", null=True, blank=True
    )
    is_service = models.BooleanField(default=False)
    name = models.CharField(max_length=100, blank=True)
    # The first characters of the key, shown in lists so a customer can tell keys apart.
    prefix = models.CharField(max_length=PREFIX_LENGTH, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # What the key may do (accounts/permissions.py SCOPES), e.g. ["usage:write"]. Empty: the
    # account's full rights, as every key had before scopes existed. Service keys have none.
    scopes = models.JSONField(default=list, blank=True)
    # After this instant the key no longer authenticates; null: it does not expire.
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A service key has no account; an account key must have one.
            models.CheckConstraint(
                condition=(Q(is_service=True) & Q(account__isnull=True))
                | (Q(is_service=False) & Q(account__isnull=False)),
                name="apikey_service_xor_account",
            ),
        ]

    def __str__(self) -> str:
        kind = "service" if self.is_service else f"account {self.account_id}"
        return f"{self.prefix}… ({kind})"

    @staticmethod
    def hash_key(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def has_full_rights(self) -> bool:
        """An account key created without scopes: everything its account may do."""
        return not self.is_service and not self.scopes
