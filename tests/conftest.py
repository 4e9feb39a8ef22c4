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


def require_redis():
    """Call at the top of a test that needs the Redis broker: skip locally, fail in CI."""
    if not settings.CELERY_BROKER_URL or not _redis_reachable(settings.CELERY_BROKER_URL):
        message = "needs Redis at CELERY_BROKER_URL (run `make test`)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def start_celery_worker(*, concurrency: int = 2, env: dict | None = None):
    """A real Celery worker subprocess on the test database and the Redis broker, in its own
    process group (so that a test can SIGKILL the whole worker). The caller stops it."""
    import subprocess
    import sys
    from pathlib import Path

    from portal.celery import app as celery_app

    require_postgresql()
    require_redis()
    celery_app.control.purge()
    db = connection.settings_dict
    process_env = {
        **os.environ,
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **(env or {}),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--concurrency",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
        ],
        cwd=Path(__file__).resolve().parents[1],
        env=process_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_celery_worker(process, *, kill: bool = False) -> None:
    """SIGTERM (a warm shutdown) or SIGKILL to the worker's whole process group."""
    import contextlib
    import signal
    import subprocess

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
