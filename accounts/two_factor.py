"""Two-factor sign-in (issue 19): TOTP with recovery codes, on django-otp.

- A user sets it up on the portal page /two-factor/: a TOTP device is created unconfirmed, its
  otpauth:// URI and base32 secret are shown, and a code from the authenticator confirms it.
  Ten recovery codes (django-otp's static device; each works once) are shown at that moment.
- Signing in (portal or admin) checks the password first; a session of a user with a confirmed
  device is then sent to /two-factor/verify/ before any other page, where a TOTP code or a
  recovery code marks the session verified (``django_otp.login``; ``request.user.is_verified()``).
- It is required, and a session without a device is sent to set one up before any other page,
  for staff users (finance, support, superusers) when ``TWO_FACTOR_REQUIRED_FOR_STAFF`` is on
  (the default outside debug), and for every member of an account whose owner requires it.
  The staff API session (billing/api/authentication.py) refuses an unverified session then.
- Wrong codes slow down exponentially per device (django-otp's throttling).
"""

from django.conf import settings
from django.db import transaction
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_otp import verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership

RECOVERY_CODE_COUNT = 10
TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"

# Pages a session that still owes a second factor may reach.
VERIFY_OPEN = {"two_factor_verify", "logout", "admin:logout"}
SETUP_OPEN = VERIFY_OPEN | {"two_factor"}


class TwoFactorError(ValueError):
    def __init__(self, message: str, *, field: str | None = "token"):
        super().__init__(message)
        self.field = field


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


def required_reason(user) -> str | None:
    """Why this user must sign in with a second factor, or None when it is their choice."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_staff and settings.TWO_FACTOR_REQUIRED_FOR_STAFF:
        return "Staff must sign in with a second factor."
    names = list(
        Membership.objects.filter(user=user, account__require_two_factor=True).values_list(
            "account__name", flat=True
        )
    )
    if names:
        return f"{', '.join(names)} requires two-factor sign-in of every member."
    return None


def totp_device(user, *, confirmed: bool | None = True) -> TOTPDevice | None:
    devices = TOTPDevice.objects.filter(user=user)
    if confirmed is not None:
        devices = devices.filter(confirmed=confirmed)
    return devices.order_by("-pk").first()


def has_second_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def session_owes(request) -> str | None:
    """ "verify" (the user has a device, the session has not used it), "setup" (required, no
    device yet) or None."""
    user = request.user
    if not getattr(user, "is_authenticated", False):
        return None
    if getattr(user, "is_verified", None) and user.is_verified():
        return None
    if has_second_factor(user):
        return "verify"
    if required_reason(user):
        return "setup"
    return None


def safe_next(request, candidate: str | None) -> str:
    # Only a path of this site ("/..."): a bare word would be taken for a view name.
    if (
        candidate
        and candidate.startswith("/")
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return reverse("dashboard")


class TwoFactorMiddleware:
    """After django-otp's OTPMiddleware: a session that owes a second factor reaches only the
    verification (or set-up) page and log-out. The API is left to its own authentication."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(("/api/", "/" + settings.STATIC_URL.lstrip("/"))):
            return self.get_response(request)
        owes = session_owes(request)
        if owes is None:
            return self.get_response(request)
        try:
            match = resolve(path)
            name = f"{match.namespace}:{match.url_name}" if match.namespace else match.url_name
        except Resolver404:
            name = None
        if name in (VERIFY_OPEN if owes == "verify" else SETUP_OPEN):
            return self.get_response(request)
        target = reverse("two_factor_verify" if owes == "verify" else "two_factor")
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")


# --------------------------------------------------------------------------------------------
# Services: set up, verify, recovery codes, disable (each change audited)
# --------------------------------------------------------------------------------------------


def _audit_user(*, user, actor, action: str, after: dict) -> None:
    """One record per account the user belongs to (their owners see it in the portal); one
    without an account for staff."""
    from billing.audit import audit_record_create  # billing's models import accounts'

    accounts = [m.account for m in Membership.objects.filter(user=user).select_related("account")]
    for account in accounts or [None]:
        audit_record_create(
            actor=actor,
            action=action,
            target=user,
            account=account,
            after={"user": user.get_username(), **after},
        )


def totp_setup_start(*, user) -> TOTPDevice:
    """A new unconfirmed TOTP device (an earlier unconfirmed one is dropped)."""
    if has_second_factor(user):
        raise TwoFactorError("Two-factor sign-in is already on.", field=None)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def _recovery_codes_create(user) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def totp_setup_confirm(*, user, token: str) -> list[str]:
    """Confirm the pending device with a code from the authenticator; returns the recovery
    codes, shown once."""
    token = (token or "").strip().replace(" ", "")
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .order_by("-pk")
            .first()
        )
        if device is None:
            raise TwoFactorError("Start the set-up first.", field=None)
        if not token.isdigit() or not device.verify_token(token):
            raise TwoFactorError(
                "That code is not right: enter the 6 digits your authenticator shows now."
            )
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_create(user)
        _audit_user(
            user=user,
            actor=user,
            action="two_factor.enable",
            after={"two_factor": "on", "recovery_codes": RECOVERY_CODE_COUNT},
        )
    return codes


def second_factor_verify(*, user, token: str):
    """The device that accepts the code (TOTP, or a recovery code, used up), or
    TwoFactorError. Wrong codes are throttled per device by django-otp."""
    token = (token or "").strip().replace(" ", "").lower()
    if not token:
        raise TwoFactorError("Enter the code from your authenticator, or a recovery code.")
    devices = list(TOTPDevice.objects.filter(user=user, confirmed=True)) + list(
        StaticDevice.objects.filter(user=user, confirmed=True)
    )
    for device in devices:
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            continue
        if isinstance(device, TOTPDevice) and not token.isdigit():
            continue
        if isinstance(device, StaticDevice) and token.isdigit():
            continue
        verified = verify_token(user, device.persistent_id, token)
        if verified is not None:
            if isinstance(verified, StaticDevice):
                _audit_user(
                    user=user,
                    actor=user,
                    action="two_factor.recovery_code_used",
                    after={"recovery_codes_left": recovery_codes_left(user)},
                )
            return verified
    if devices and not any(device.verify_is_allowed()[0] for device in devices):
        raise TwoFactorError("Too many wrong codes: wait a few seconds and try again.")
    raise TwoFactorError("That code is not right.")


def recovery_codes_regenerate(*, user) -> list[str]:
    if not has_second_factor(user):
        raise TwoFactorError("Turn two-factor sign-in on first.", field=None)
    with transaction.atomic():
        codes = _recovery_codes_create(user)
        _audit_user(
            user=user,
            actor=user,
            action="two_factor.recovery_codes_regenerated",
            after={"recovery_codes": RECOVERY_CODE_COUNT},
        )
    return codes


def two_factor_disable(*, user, token: str) -> None:
    """Turn it off with a current code; refused while it is required."""
    reason = required_reason(user)
    if reason:
        raise TwoFactorError(f"Two-factor sign-in cannot be turned off: {reason}", field=None)
    second_factor_verify(user=user, token=token)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        _audit_user(user=user, actor=user, action="two_factor.disable", after={"two_factor": "off"})
