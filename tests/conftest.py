"""Session-wide test setup.

`make test` runs against PostgreSQL and Redis. Under CI (CI=true) a missing service is a
failure, never a skip: the session stops at once with what to start.
"""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 2):
            return True
    except OSError:
        return False


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    broker = settings.CELERY_BROKER_URL or "none (eager, in-process)"
    return [
        f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or ''} {db['NAME']}",
        f"celery broker: {broker}",
    ]


@pytest.fixture(scope="session", autouse=True)
def _services_required():
    """Say which database the session runs on; in CI, insist on PostgreSQL and Redis."""
    vendor = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(f"\n[tests] running on {vendor}")
    if IN_CI:
        if vendor != "postgresql":
            pytest.exit(
                "CI=true but DATABASE_URL does not point at PostgreSQL: run `make test`.", 2
            )
        if not settings.CELERY_BROKER_URL or not _redis_reachable(settings.CELERY_BROKER_URL):
            pytest.exit(
                "CI=true but Redis (CELERY_BROKER_URL) is not reachable: start it "
                "(see .ci/run) and run `make test`.",
                2,
            )
    yield


def require_postgresql():
    """Call at the top of a test that needs PostgreSQL: skip locally, fail in CI."""
    if connection.vendor != "postgresql":
        if IN_CI:
            pytest.fail("this test needs PostgreSQL and CI=true: set DATABASE_URL")
        pytest.skip("needs PostgreSQL (set DATABASE_URL, or run `make test`)")
