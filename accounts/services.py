"""Writes about accounts, users and keys."""

import datetime as dt
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts import permissions
from accounts.models import Account, ApiKey, Invitation, Membership, Role

FINANCE_GROUP = "finance"
SUPPORT_GROUP = "support"
# Finance staff change money; support staff only look (issue 4).
FINANCE_APPS = ("billing", "accounts", "notifications")


class AccountError(ValueError):
    def __init__(self, message: str, *, field: str | None, code: str = "invalid"):
        super().__init__(message)
        self.field = field
        self.code = code


class AccessDenied(AccountError):
    """The actor's role does not allow the change (a 403 on every surface)."""

    def __init__(self, message: str):
        super().__init__(message, field=None, code="permission_denied")


def _audit(*, actor, action: str, target, account=None, before=None, after=None, reason=""):
    # billing.audit holds the one audit trail (SPEC 6); imported here, not at module level,
    # because billing's models import accounts'.
    from billing.audit import audit_record_create

    return audit_record_create(
        actor=actor,
        action=action,
        target=target,
        account=account,
        before=before,
        after=after,
        reason=reason,
    )


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
    *,
    account: Account | None,
    is_service: bool = False,
    name: str = "",
    created_by=None,
    scopes=(),
    expires_at: dt.datetime | None = None,
    check_role: bool = False,
) -> tuple[ApiKey, str]:
    """A new key. Returns the row and the raw key, which is shown once and never stored.

    ``scopes``: what the key may do (accounts/permissions.py SCOPES); none: the account's full
    rights. ``check_role``: the key is created by ``created_by`` in the portal or the API, whose
    role must allow these scopes (a developer gives only developer scopes)."""
    if is_service and account is not None:
        raise AccountError("A service key belongs to no account.", field="account")
    if not is_service and account is None:
        raise AccountError("An account key needs an account.", field="account")
    try:
        scopes = permissions.scopes_clean(list(scopes) if not isinstance(scopes, str) else scopes)
    except ValueError as error:
        raise AccountError(str(error), field="scopes") from None
    if is_service and scopes:
        raise AccountError("A service key has no scopes: it may only report usage.", field="scopes")
    name = (name or "").strip()
    if len(name) > 100:
        raise AccountError("name: at most 100 characters.", field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise AccountError("expires_at must be in the future.", field="expires_at")
    prefix = ("svc_" if is_service else "key_") + secrets.token_hex(4)
    raw_key = f"{prefix}.{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        if check_role:
            role = permissions.membership_role(user=created_by, account_id=account.pk)
            refusal = permissions.key_creation_refusal(role=role, scopes=scopes)
            if refusal:
                raise AccessDenied(refusal)
        key = ApiKey.objects.create(
            account=account,
            is_service=is_service,
            name=name,
            prefix=prefix,
            key_hash=ApiKey.hash_key(raw_key),
            created_by=created_by,
            scopes=scopes,
            expires_at=expires_at,
        )
        _audit(
            actor=created_by,
            action="api_key.create",
            target=key,
            account=account,
            after={
                "prefix": prefix,
                "name": name,
                "service": is_service,
                "scopes": scopes or "full account rights",
                "expires_at": expires_at,
            },
        )
    return key, raw_key


def api_key_authenticate(raw_key: str, *, now: dt.datetime | None = None) -> ApiKey | None:
    """The active key for a raw bearer token (not revoked, not expired), or None."""
    now = now or timezone.now()
    key = (
        ApiKey.objects.select_related("account", "created_by")
        .filter(key_hash=ApiKey.hash_key(raw_key or ""), revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    return key


def api_key_mark_used(*, key: ApiKey, now=None) -> None:
    """Record when a key was last used (one UPDATE of that column only)."""
    key.last_used_at = now or timezone.now()
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=key.last_used_at)


def api_key_revoke(
    *, key: ApiKey, actor=None, check_role: bool = False, reason: str = ""
) -> ApiKey:
    """Revoke a key (idempotent). ``check_role``: ``actor`` revokes it in the portal or the
    API; a developer may revoke only keys within the developer scopes."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if check_role:
            role = permissions.membership_role(user=actor, account_id=key.account_id)
            refusal = None
            if not permissions.role_allows(role, "api_keys.revoke"):
                refusal = permissions.role_refusal("api_keys.revoke", role)
            elif role != Role.OWNER and not (
                key.scopes and set(key.scopes) <= permissions.scopes_allowed_for_role(role)
            ):
                refusal = "Revoking a key beyond the developer scopes needs the owner role."
            if refusal:
                raise AccessDenied(refusal)
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            _audit(
                actor=actor,
                action="api_key.revoke",
                target=key,
                account=key.account,
                before={"prefix": key.prefix, "state": "active"},
                after={"state": "revoked"},
                reason=reason,
            )
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


# --------------------------------------------------------------------------------------------
# Teams: invitations, members, roles (issue 19). Every change is audited in its transaction.
# --------------------------------------------------------------------------------------------

INVITATION_SALT = "accounts.invitation"


def _role_clean(role: str) -> str:
    if role not in Role.values:
        raise AccountError(
            f"{role!r} is not a role: choose {', '.join(Role.values)}.", field="role"
        )
    return role


def _require_owner(*, actor, account: Account) -> None:
    role = permissions.membership_role(user=actor, account_id=account.pk)
    if not permissions.role_allows(role, "members.manage"):
        raise AccessDenied(permissions.role_refusal("members.manage", role))


def _lock_account(account: Account) -> Account:
    """Membership changes of one account run one at a time: they lock the account's row."""
    return Account.objects.select_for_update().get(pk=account.pk)


def invitation_token(invitation: Invitation) -> str:
    """The signed link's token: the invitation's id, signed with the time it was made."""
    return signing.dumps({"invitation": invitation.pk}, salt=INVITATION_SALT, compress=True)


def invitation_create(
    *, account: Account, email: str, role: str, actor, site_url: str
) -> tuple[Invitation, str]:
    """Invite ``email`` with ``role``: the owner only. E-mails the link (after commit) and
    returns the invitation and the link."""
    email = _clean_email(email)
    role = _role_clean(role)
    with transaction.atomic():
        account = _lock_account(account)
        _require_owner(actor=actor, account=account)
        if Membership.objects.filter(account=account, user__username=email).exists():
            raise AccountError(f"{email} is already a member of {account.name}.", field="email")
        now = timezone.now()
        pending = Invitation.objects.filter(
            account=account,
            email=email,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=now,
        )
        if pending.exists():
            raise AccountError(
                f"{email} already has a pending invitation: revoke it to send another.",
                field="email",
            )
        invitation = Invitation.objects.create(
            account=account,
            email=email,
            role=role,
            invited_by=actor,
            expires_at=now + dt.timedelta(seconds=settings.INVITATION_MAX_AGE),
        )
        _audit(
            actor=actor,
            action="invitation.create",
            target=invitation,
            account=account,
            after={"email": email, "role": role, "expires_at": invitation.expires_at},
        )
    link = site_url.rstrip("/") + reverse("invitation_accept", args=[invitation_token(invitation)])
    expires = timezone.localtime(invitation.expires_at)
    send_mail(
        subject=f"You are invited to {account.name} on the billing portal",
        message=(
            f"{actor.email or actor.get_username()} invites you to the account {account.name} "
            f"as {Role(role).label.lower()}.\n\nAccept the invitation: {link}\n\n"
            f"The link works once, until {expires:%d %b %Y %H:%M} ({expires.tzname()}). "
            "If you did not expect it, ignore this e-mail."
        ),
        from_email=None,
        recipient_list=[email],
    )
    return invitation, link


def invitation_from_token(token: str) -> Invitation:
    """The pending invitation a link names, or AccountError saying why it no longer works."""
    try:
        data = signing.loads(token, salt=INVITATION_SALT, max_age=settings.INVITATION_MAX_AGE)
    except signing.SignatureExpired:
        raise AccountError(
            "This invitation link has expired: ask the account's owner for a new one.",
            field=None,
            code="expired",
        ) from None
    except signing.BadSignature:
        raise AccountError("This invitation link is not valid.", field=None) from None
    invitation = (
        Invitation.objects.select_related("account", "invited_by")
        .filter(pk=data.get("invitation"))
        .first()
    )
    if invitation is None:
        raise AccountError("This invitation link is not valid.", field=None)
    _invitation_usable(invitation)
    return invitation


def _invitation_usable(invitation: Invitation) -> None:
    state = invitation.state(timezone.now())
    if state == "accepted":
        raise AccountError("This invitation was already accepted.", field=None, code="used")
    if state == "revoked":
        raise AccountError(
            "This invitation was revoked by the account's owner.", field=None, code="revoked"
        )
    if state == "expired":
        raise AccountError(
            "This invitation link has expired: ask the account's owner for a new one.",
            field=None,
            code="expired",
        )


def invitation_accept(*, invitation: Invitation, user) -> Membership:
    """An existing user, signed in as the invited address, joins the account."""
    if (user.email or user.get_username()).strip().lower() != invitation.email:
        raise AccountError(
            f"This invitation is for {invitation.email}; you are signed in as "
            f"{user.email or user.get_username()}. Log out and open the link again.",
            field=None,
        )
    with transaction.atomic():
        _lock_account(invitation.account)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        _invitation_usable(invitation)
        if Membership.objects.filter(account_id=invitation.account_id, user=user).exists():
            raise AccountError("You are already a member of this account.", field=None)
        membership = Membership.objects.create(
            user=user, account_id=invitation.account_id, role=invitation.role
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        _audit(
            actor=user,
            action="membership.join",
            target=membership,
            account=invitation.account,
            after={
                "user": user.get_username(),
                "role": invitation.role,
                "invitation": invitation.pk,
            },
        )
    return membership


def invitation_accept_new_user(*, invitation: Invitation, password: str):
    """The invited address has no user yet: create it with ``password``, then join."""
    User = get_user_model()
    if User.objects.filter(username=invitation.email).exists():
        raise AccountError(
            f"{invitation.email} already has a login: log in, then open the link again.",
            field=None,
        )
    candidate = User(username=invitation.email, email=invitation.email)
    try:
        validate_password(password, user=candidate)
    except ValidationError as error:
        raise AccountError(" ".join(error.messages), field="password") from None
    with transaction.atomic():
        user, created = user_get_or_create(email=invitation.email, password=password)
        if not created:  # a race with another acceptance
            raise AccountError(f"{invitation.email} already has a login.", field=None)
        invitation_accept(invitation=invitation, user=user)
    return user


def invitation_revoke(*, invitation: Invitation, actor) -> Invitation:
    with transaction.atomic():
        account = _lock_account(invitation.account)
        _require_owner(actor=actor, account=account)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at:
            raise AccountError("This invitation was already accepted.", field=None)
        if invitation.revoked_at is None:
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            _audit(
                actor=actor,
                action="invitation.revoke",
                target=invitation,
                account=account,
                before={"email": invitation.email, "role": invitation.role},
                after={"state": "revoked"},
            )
    return invitation


def _other_owners(membership: Membership) -> int:
    return (
        Membership.objects.filter(account_id=membership.account_id, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .count()
    )


def _keys_beyond_role(*, membership: Membership, role: str | None, actor, reason: str) -> list:
    """Revoke the keys the member created that their new role (None: removed) would not let
    them create: a removed member's keys, a former owner's keys with full rights."""
    allowed = permissions.scopes_allowed_for_role(role)
    revoked = []
    keys = ApiKey.objects.filter(
        account_id=membership.account_id, created_by_id=membership.user_id, revoked_at__isnull=True
    )
    for key in keys:
        if role == Role.OWNER:
            continue
        if role is None or not key.scopes or not set(key.scopes) <= allowed:
            api_key_revoke(key=key, actor=actor, reason=reason)
            revoked.append(key.prefix)
    return revoked


def membership_role_change(*, membership: Membership, role: str, actor) -> Membership:
    """The owner changes a member's role. The account keeps at least one owner: checked under
    the account's row lock, so two owners demoting each other at once cannot both succeed."""
    role = _role_clean(role)
    with transaction.atomic():
        account = _lock_account(membership.account)
        _require_owner(actor=actor, account=account)
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        before = membership.role
        if before == role:
            return membership
        if before == Role.OWNER and _other_owners(membership) == 0:
            raise AccountError(
                f"{account.name} must keep at least one owner: make another member owner first.",
                field="role",
                code="last_owner",
            )
        membership.role = role
        membership.save(update_fields=["role"])
        revoked = _keys_beyond_role(
            membership=membership, role=role, actor=actor, reason="role changed"
        )
        _audit(
            actor=actor,
            action="membership.role_change",
            target=membership,
            account=account,
            before={"user": membership.user.get_username(), "role": before},
            after={"role": role, "keys_revoked": revoked},
        )
    return membership


def membership_remove(*, membership: Membership, actor) -> None:
    """The owner removes a member (an owner may remove themself if another owner remains).
    Keys the member created for the account are revoked."""
    with transaction.atomic():
        account = _lock_account(membership.account)
        _require_owner(actor=actor, account=account)
        membership = (
            Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
        )
        if membership.role == Role.OWNER and _other_owners(membership) == 0:
            raise AccountError(
                f"{account.name} must keep at least one owner: it cannot lose its last one.",
                field=None,
                code="last_owner",
            )
        revoked = _keys_beyond_role(
            membership=membership, role=None, actor=actor, reason="member removed"
        )
        _audit(
            actor=actor,
            action="membership.remove",
            target=membership,
            account=account,
            before={"user": membership.user.get_username(), "role": membership.role},
            after={"keys_revoked": revoked},
        )
        membership.delete()


def account_two_factor_require(*, account: Account, required: bool, actor) -> Account:
    """The owner requires (or stops requiring) a second factor of every member."""
    with transaction.atomic():
        account = _lock_account(account)
        _require_owner(actor=actor, account=account)
        if account.require_two_factor != required:
            before = account.require_two_factor
            account.require_two_factor = required
            account.save(update_fields=["require_two_factor"])
            _audit(
                actor=actor,
                action="account.two_factor_required",
                target=account,
                account=account,
                before={"require_two_factor": before},
                after={"require_two_factor": required},
            )


def billing_profile_update(
    *, account: Account, billing_name: str, billing_address: str, tax_id: str, billing_email: str
) -> Account:
    """The buyer's details on future invoices (issued ones keep the snapshot they were
    finalized with)."""
    account.billing_name = billing_name.strip()
    account.billing_address = billing_address.strip()
    account.tax_id = tax_id.strip()
    account.billing_email = billing_email.strip()
    account.save(update_fields=["billing_name", "billing_address", "tax_id", "billing_email"])
    return account
