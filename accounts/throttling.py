"""Lock-out after repeated failed log-ins, for every login form (portal and admin).

Failures are counted in the cache, keyed by the pair (username, client IP) and by the client IP
alone:

- ``LOGIN_FAILURE_LIMIT`` failures for one username from one address within
  ``LOGIN_LOCKOUT_SECONDS`` lock that pair out for ``LOGIN_LOCKOUT_SECONDS``. Keying on the pair
  (not the username alone) means a stranger cannot lock a customer out from elsewhere;
- ``LOGIN_IP_FAILURE_LIMIT`` failures from one address, whatever the usernames, lock the
  address out (one machine spraying many usernames).

While locked out, the password is not even checked, so guessing stops costing the attacker
nothing. A successful log-in clears the pair's counter. The cache is per process with the
default ``locmemcache://``; production sets ``CACHE_URL`` to Redis so that every web process
shares the counters (README, "Configuration").

The client address is ``REMOTE_ADDR``, never a header the client can forge. Behind a reverse
proxy every request would share the proxy's address: run the web processes behind a proxy that
passes the client's address as REMOTE_ADDR (e.g. nginx with ``real_ip``), or set
``LOGIN_IP_FAILURE_LIMIT`` to 0 (off) so that one customer's typos cannot lock everyone out.
"""

import hashlib
import math
import time
import unicodedata
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

KEY_PREFIX = "login-throttle"


def normalized_username(username) -> str:
    """The key of a username's counters: what Django's login form makes of it
    (``UsernameField``: stripped, then Unicode NFKC, so "ｂravo@example.com" with a
    full-width b logs in as "bravo@example.com"), and lower-case: varying the case, the
    spacing or the look-alike letters must not buy an attacker more guesses."""
    text = username if isinstance(username, str) else ""
    return unicodedata.normalize("NFKC", text.strip()).strip().lower()


@dataclass(frozen=True)
class LoginThrottle:
    """The counters of one (username, address) pair and of the address."""

    username: str
    address: str

    def __post_init__(self):
        object.__setattr__(self, "username", normalized_username(self.username))

    @classmethod
    def for_request(cls, request, username: str) -> "LoginThrottle":
        address = (request.META.get("REMOTE_ADDR") if request is not None else None) or "unknown"
        return cls(username=username, address=address)

    # -- keys -----------------------------------------------------------------------------
    def _key(self, kind: str, *parts: str) -> str:
        # Hashed: usernames are user input and cache keys must be short and safe (memcached).
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]
        return f"{KEY_PREFIX}:{kind}:{digest}"

    @property
    def _pair(self) -> tuple[str, str]:
        return self._key("pair-failures", self.username, self.address), self._key(
            "pair-lock", self.username, self.address
        )

    @property
    def _ip(self) -> tuple[str, str]:
        return self._key("ip-failures", self.address), self._key("ip-lock", self.address)

    # -- queries and updates --------------------------------------------------------------
    def locked_for(self) -> int:
        """Seconds left of a lock-out of the pair or of the address; 0 when not locked."""
        now = time.time()
        until = max(cache.get(self._pair[1], 0), cache.get(self._ip[1], 0))
        return max(0, math.ceil(until - now))

    def failure(self) -> None:
        """Count a failed attempt; lock out when a limit is reached."""
        window = settings.LOGIN_LOCKOUT_SECONDS
        for (failures_key, lock_key), limit in (
            (self._pair, settings.LOGIN_FAILURE_LIMIT),
            (self._ip, settings.LOGIN_IP_FAILURE_LIMIT),
        ):
            if limit <= 0:  # this limit is off
                continue
            cache.add(failures_key, 0, timeout=window)
            try:
                count = cache.incr(failures_key)
            except ValueError:  # expired between add and incr
                cache.set(failures_key, 1, timeout=window)
                count = 1
            if count >= limit:
                cache.set(lock_key, time.time() + window, timeout=window)
                cache.delete(failures_key)

    def success(self) -> None:
        """A correct password: forget the pair's failures (the address's count stays)."""
        cache.delete(self._pair[0])


def lockout_message(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed log-ins. Try again in {minutes} {unit}."


class ThrottledLoginFormMixin:
    """For a subclass of django.contrib.auth.forms.AuthenticationForm: refuse to check the
    password while locked out, and count failures. ``locked_out`` tells the view to answer 429.
    """

    locked_out = False

    def clean(self):
        throttle = LoginThrottle.for_request(self.request, self.data.get("username", ""))
        seconds = throttle.locked_for()
        if seconds:
            self.locked_out = True
            raise forms.ValidationError(lockout_message(seconds), code="locked_out")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            throttle.failure()
            seconds = throttle.locked_for()
            if seconds:
                self.locked_out = True
                raise forms.ValidationError(lockout_message(seconds), code="locked_out") from None
            raise
        throttle.success()
        return cleaned


class ThrottledAuthenticationForm(ThrottledLoginFormMixin, AuthenticationForm):
    """The portal's login form."""


class ThrottledAdminAuthenticationForm(ThrottledLoginFormMixin, AdminAuthenticationForm):
    """The admin's login form (``admin.site.login_form``)."""


# --------------------------------------------------------------------------------------------
# Password reset
# --------------------------------------------------------------------------------------------


def _count(key: str, window: int) -> int:
    """Increment a fixed-window counter in the cache; the new count."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


@dataclass(frozen=True)
class PasswordResetThrottle:
    """Password reset e-mails: at most ``PASSWORD_RESET_EMAIL_LIMIT`` to one e-mail address
    and ``PASSWORD_RESET_IP_LIMIT`` requests from one client address per
    ``PASSWORD_RESET_WINDOW_SECONDS``. Past the address limit the page answers as usual
    (whether an address has an account stays unknown) but sends nothing; past the client
    limit it answers 429."""

    email: str
    address: str

    def _key(self, kind: str, value: str) -> str:
        digest = hashlib.sha256(value.encode()).hexdigest()[:32]
        return f"password-reset:{kind}:{digest}"

    def client_allowed(self) -> bool:
        limit = settings.PASSWORD_RESET_IP_LIMIT
        if limit <= 0:
            return True
        window = settings.PASSWORD_RESET_WINDOW_SECONDS
        return _count(self._key("ip", self.address), window) <= limit

    def email_allowed(self) -> bool:
        window = settings.PASSWORD_RESET_WINDOW_SECONDS
        email = normalized_username(self.email)
        return _count(self._key("email", email), window) <= settings.PASSWORD_RESET_EMAIL_LIMIT

    @classmethod
    def for_request(cls, request, email: str) -> "PasswordResetThrottle":
        return cls(email=email or "", address=request.META.get("REMOTE_ADDR") or "unknown")
