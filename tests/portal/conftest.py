"""Two customer accounts with one of everything a portal URL can name (application, add-on
subscription, invoice, API key), dated relative to today so the pages, which use the real
clock, see them as they would in production."""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.cache import cache

from accounts.models import Account, ApiKey
from accounts.services import account_create, api_key_create
from billing.calendar import billing_today, month_start
from billing.models import AddOnSubscription, Application, Invoice
from billing.services.applications import addon_subscribe, application_create, edition_change
from billing.services.jobs import close_month

PASSWORD = "portal-test-pw-7431"


def last_month() -> dt.date:
    return month_start(month_start(billing_today()) - dt.timedelta(days=1))


@dataclass
class Tenant:
    user: object
    account: Account
    app: Application
    subscription: AddOnSubscription
    invoice: Invoice  # last month's, finalized: Pro 999.00 + AVChatRoom 1000.00 = 1999.00
    key: ApiKey


def tenant_create(name: str, email: str, *, sdkappid: int) -> Tenant:
    """An account whose application went Pro on the 1st of last month and bought AVChatRoom
    the next day; last month is closed, so its invoice is finalized."""
    account = account_create(name=name, email=email, password=PASSWORD)
    first = last_month()
    app = application_create(
        account=account, name=f"{name} app", region="cn", created_on=first, sdkappid=sdkappid
    )
    edition_change(application=app, edition_code="pro", effective=first)
    subscription = addon_subscribe(
        application=app, item_code="im.addon.avchatroom.pro", day=first + dt.timedelta(days=1)
    )
    close_month(month=first)
    key, _ = api_key_create(account=account, name=f"{name} key")
    return Tenant(
        user=account.memberships.get().user,
        account=account,
        app=app,
        subscription=subscription,
        invoice=Invoice.objects.get(account=account, month=first),
        key=key,
    )


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Login failure counters live in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every log-in checks a password; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(db) -> Tenant:
    return tenant_create("Owner Co", "owner@example.com", sdkappid=1400000501)


@pytest.fixture
def stranger(db) -> Tenant:
    """Another customer: nothing of theirs may show up for the owner, nor the reverse."""
    return tenant_create("Stranger Co", "stranger@example.com", sdkappid=1400000502)


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner.user)
    return client
