"""Throttling per API key (per staff user for sessions): a fixed-window counter in the cache,
two O(1) cache operations a request (``add`` and ``incr``; atomic on Redis), so it costs the
ingestion hot path nothing measurable. Rates are per scope, in
``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]``: "usage" for ``POST /usage-events``, "api" for
everything else. With more than one web process, set ``CACHE_URL`` to Redis so the processes
share the counters."""

import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from billing.api.authentication import KeyPrincipal

DURATIONS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "600/min" -> (600, 60)."""
    count, period = rate.split("/")
    return int(count), DURATIONS[period.strip()[0]]


class KeyRateThrottle(BaseThrottle):
    """Scoped by the view's ``throttle_scope`` (default "api"), keyed by the API key id."""

    def __init__(self):
        self.wait_seconds = None

    def get_ident_for(self, request) -> str | None:
        user = request.user
        if isinstance(user, KeyPrincipal):
            return f"key{user.key.pk}"
        if user is not None and getattr(user, "is_authenticated", False):
            return f"user{user.pk}"
        return None  # unauthenticated requests never get this far (401 first)

    def allow_request(self, request, view) -> bool:
        scope = getattr(view, "throttle_scope", "api")
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(scope)
        ident = self.get_ident_for(request)
        if not rate or ident is None:
            return True
        limit, duration = parse_rate(rate)
        now = time.time()
        window = int(now // duration)
        key = f"throttle:{scope}:{ident}:{window}"
        cache.add(key, 0, duration + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, duration + 1)
            count = 1
        if count > limit:
            self.wait_seconds = max(1, int((window + 1) * duration - now) + 1)
            return False
        return True

    def wait(self):
        return self.wait_seconds
