"""Writes about accounts, users and keys."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, ApiKey, Membership

FINANCE_GROUP = "finance"
SUPPORT_GROUP = "support"
# Finance staff change money; support staff only look (issue 4).
FINANCE_APPS = ("billing", "accounts", "notifications")


class AccountError(ValueError):
    def __init__(self, message: str, *, field: str):
        super().__init__(message)
        self.field = field


def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise AccountError(f"{email!r} is not an e-mail address.", field="email") from None
    return email


def user_get_or_create(*, email: str, password: str | None = None, **extra):
    """Users log in with their e-mail address, which is also their username."""
    email = _clean_email(email)
    User = get_user_model()
    user, created = User.objects.get_or_create(username=email, defaults={"email": email, **extra})
    if created:
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    return user, created


def account_create(*, name: str, email: str, password: str | None = None) -> Account:
    """A customer account with its owner user (created when the e-mail is new)."""
    name = (name or "").strip()
    if not name:
        raise AccountError("Give the account a name.", field="name")
    email = _clean_email(email)
    with transaction.atomic():
        user, _ = user_get_or_create(email=email, password=password)
        account = Account.objects.create(name=name, billing_email=email)
        Membership.objects.create(user=user, account=account, role=Membership.Role.OWNER)
    return account


def api_key_create(
    *, account: Account | None, is_service: bool = False, name: str = "", created_by=None
) -> tuple[ApiKey, str]:
    """A new key. Returns the row and the raw key, which is shown once and never stored."""
    if is_service and account is not None:
        raise AccountError("A service key belongs to no account.", field="account")
    if not is_service and account is None:
        raise AccountError("An account key needs an account.", field="account")
    prefix = ("svc_" if is_service else "key_") + secrets.token_hex(4)
    raw_key = f"{prefix}.{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        account=account,
        is_service=is_service,
        name=name,
        prefix=prefix,
        key_hash=ApiKey.hash_key(raw_key),
        created_by=created_by,
    )
    return key, raw_key


def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The active key for a raw bearer token, or None."""
    key = (
        ApiKey.objects.select_related("account")
        .filter(key_hash=ApiKey.hash_key(raw_key or ""), revoked_at__isnull=True)
        .first()
    )
    return key


def api_key_mark_used(*, key: ApiKey, now=None) -> None:
    """Record when a key was last used (one UPDATE of that column only)."""
    key.last_used_at = now or timezone.now()
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=key.last_used_at)


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def staff_groups_ensure() -> tuple[Group, Group]:
    """The finance group (every billing permission) and the support group (view only)."""
    finance, _ = Group.objects.get_or_create(name=FINANCE_GROUP)
    support, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    perms = Permission.objects.filter(content_type__app_label__in=FINANCE_APPS)
    # Nothing that holds money is deleted by anyone: no delete permission at all.
    finance.permissions.set(perms.exclude(codename__startswith="delete_"))
    support.permissions.set(perms.filter(codename__startswith="view_"))
    return finance, support


def staff_create(*, email: str, password: str, finance: bool = False, support: bool = False):
    if not password:
        raise AccountError("Give the staff user a password.", field="password")
    with transaction.atomic():
        user, created = user_get_or_create(email=email, password=password, is_staff=True)
        if not created:
            user.is_staff = True
            user.set_password(password)
            user.save()
        finance_group, support_group = staff_groups_ensure()
        if finance:
            user.groups.add(finance_group)
        if support:
            user.groups.add(support_group)
    return user, created
