"""Throttling per API key (issue 6): each key has its own budget per scope."""

import pytest
from django.core.cache import cache

from tests.api.conftest import bearer, errors_of, key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rates(settings):
    # Throttle history lives in the cache, keyed by API key id; SQLite hands a rolled-back
    # test's ids out again, so a key would inherit an earlier test's requests.
    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api": "3/min", "usage": "2/min"},
    }


def test_a_key_over_its_rate_gets_429_and_another_key_does_not(low_rates, account):
    first, second = bearer(key_for(account)[1]), bearer(key_for(account)[1])

    answers = [first.get("/api/v1/account").status_code for _ in range(4)]
    refused = first.get("/api/v1/account")

    assert answers == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 61
    assert errors_of(refused)[0]["code"] == "throttled"
    assert second.get("/api/v1/account").status_code == 200


def test_usage_has_its_own_budget(low_rates, account):
    client = bearer(key_for(account)[1])

    usage = [
        client.post("/api/v1/usage-events", {"events": []}, format="json").status_code
        for _ in range(3)
    ]

    assert usage == [400, 400, 429]  # empty batches are refused, and still counted
    assert client.get("/api/v1/account").status_code == 200


def test_staff_sessions_are_throttled_per_user(low_rates, finance_client):
    answers = [finance_client.get("/api/v1/invoices").status_code for _ in range(4)]

    assert answers == [200, 200, 200, 429]
