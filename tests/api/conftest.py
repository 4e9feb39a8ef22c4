"""Callers of the API, one per role: the owner's account key, another account's key, a
service key, finance staff and support staff (Django sessions), and nobody."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create, staff_create
from billing.services.closing import invoice_finalize
from billing.services.invoicing import invoice_refresh
from portal.celery import app as celery_app
from tests.factories import (
    AccountFactory,
    ApplicationFactory,
    ChargeFactory,
    InvoiceFactory,
    MembershipFactory,
    PrepaidTermFactory,
)

ROLES = ("owner", "other", "service", "finance", "support", "anonymous")


@pytest.fixture
def account(db):
    return MembershipFactory().account


@pytest.fixture
def other_account(db):
    return AccountFactory()


def key_for(account=None, *, service=False):
    """A real key made by the service (its raw token and row). last_used_at is set so the
    first request of a test does not write it (query counts stay those of the endpoint)."""
    key, raw = api_key_create(account=account, is_service=service)
    key.last_used_at = timezone.now()
    key.save(update_fields=["last_used_at"])
    return key, raw


def bearer(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def owner_client(account):
    return bearer(key_for(account)[1])


@pytest.fixture
def other_client(other_account):
    return bearer(key_for(other_account)[1])


@pytest.fixture
def service_client(db):
    return bearer(key_for(service=True)[1])


@pytest.fixture
def finance_user(db):
    return staff_create(email="finance@example.com", password="finance-pw-123", finance=True)[0]


@pytest.fixture
def finance_client(finance_user):
    client = APIClient()
    client.force_login(finance_user)
    return client


@pytest.fixture
def support_client(db):
    user = staff_create(email="support@example.com", password="support-pw-123", support=True)[0]
    client = APIClient()
    client.force_login(user)
    return client


@pytest.fixture
def anonymous_client():
    return APIClient()


@pytest.fixture
def client_for(request, account, other_account):
    """client_for(role): an APIClient acting as one of ROLES."""

    def make(role: str) -> APIClient:
        return request.getfixturevalue(f"{role}_client")

    return make


@pytest.fixture
def eager_celery():
    """Run tasks in-process (make test points Celery at Redis with no worker running)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def invoices(account):
    """March 2025 issued by the services (CNY, INV-2025-000001), April 2025 drafts in CNY
    and USD."""
    app = ApplicationFactory(account=account, sdkappid=1400000777)
    PrepaidTermFactory(application=app)  # IM Pro, term from 15 Mar 2025: 999 CNY
    ChargeFactory(application=app)  # 10 Mar: 1000 min of TRTC audio x 7 CNY / 1000 = 7.00
    draft = invoice_refresh(account_id=account.pk, currency="CNY", month=dt.date(2025, 3, 1))
    march = invoice_finalize(invoice=draft, today=dt.date(2025, 4, 1))
    april = InvoiceFactory(account=account, month=dt.date(2025, 4, 1), total=Decimal("12.34"))
    april_usd = InvoiceFactory(
        account=account, month=dt.date(2025, 4, 1), currency="USD", total=Decimal("0.04")
    )
    return march, april, april_usd


def errors_of(response) -> list[dict]:
    body = response.json()
    assert set(body) == {"errors"}, body
    return body["errors"]


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# The billing day the application tests run on: services date purchases "today".
TODAY = dt.date(2025, 3, 15)


@pytest.fixture
def today(monkeypatch):
    """Freeze the clock at noon on 15 Mar 2025 in the billing time zone (SPEC 3)."""
    from zoneinfo import ZoneInfo

    moment = dt.datetime(2025, 3, 15, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return TODAY
