"""Who is calling: an API key (``Authorization: Bearer <key>``) or a staff user's session.

- Account keys act for their account; service keys may only report usage (any application).
- Finance and support staff use the API with their Django session (the one the admin login
  opens), CSRF-protected like any session; what they may do follows their Django permissions
  (``billing.view_invoice``, ``billing.add_adjustment``, ...). A customer's portal session does
  not authenticate the API: customers' automation uses keys.
"""

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts.models import ApiKey
from accounts.services import api_key_authenticate, api_key_mark_used
from accounts.two_factor import session_owes

# last_used_at is written at most this often per key: one UPDATE per request would double the
# database work of the ingestion hot path for a field people read in minutes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


@dataclass(frozen=True, eq=False)
class KeyPrincipal:
    """``request.user`` for a request authenticated by an API key (``request.auth`` is the key).
    It is not a Django user: it holds no permissions and never reaches the admin."""

    key: ApiKey
    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    @property
    def pk(self) -> str:
        return f"key:{self.key.pk}"

    @property
    def account_id(self) -> int | None:
        return self.key.account_id

    @property
    def is_service(self) -> bool:
        return self.key.is_service

    def has_perm(self, perm: str, obj=None) -> bool:
        return False

    def __str__(self) -> str:
        return str(self.key)


class BearerKeyAuthentication(BaseAuthentication):
    """``Authorization: Bearer <key>``: one indexed query on the key's SHA-256."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = token.strip()
        if not token or " " in token:
            raise AuthenticationFailed("Malformed Authorization header: use 'Bearer <key>'.")
        key = api_key_authenticate(token)
        if key is None:
            raise AuthenticationFailed("Unknown or revoked API key.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
            api_key_mark_used(key=key, now=now)
        return KeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class StaffSessionAuthentication(SessionAuthentication):
    """A logged-in staff user's session (with CSRF on unsafe methods). Customers' sessions
    are ignored, so a customer without a key gets 401, not a half-working API."""

    def authenticate(self, request):
        user = getattr(request._request, "user", None)
        if user is None or not user.is_active or not user.is_staff:
            return None
        self.enforce_csrf(request)
        owes = session_owes(request._request)
        if owes is not None:
            # Issue 19: a staff session that has not passed its second factor (when one is set
            # up or required) does not authenticate the API.
            raise AuthenticationFailed(
                "Two-factor sign-in required: verify your session at /two-factor/ first."
            )
        return user, None


def principal_account_id(request) -> int | None:
    """The account an account key acts for; None for service keys and staff."""
    user = request.user
    return user.account_id if isinstance(user, KeyPrincipal) else None


def is_key(request) -> bool:
    return isinstance(request.user, KeyPrincipal)


def is_account_key(request) -> bool:
    return isinstance(request.user, KeyPrincipal) and not request.user.is_service


def is_service_key(request) -> bool:
    return isinstance(request.user, KeyPrincipal) and request.user.is_service


def is_staff_session(request) -> bool:
    user = request.user
    return not isinstance(user, KeyPrincipal) and bool(getattr(user, "is_staff", False))
