"""Two-factor sign-in (issue 19): a finance user without a second factor cannot reach a money
action of the admin while TWO_FACTOR_REQUIRED_FOR_STAFF is on; set up through the portal
page, with TOTP codes computed here from the device's key (RFC 6238 by hand, not the
library's code), they can. Recovery codes work once. Customers choose."""

import base64
import hashlib
import hmac
import re
import struct
import time
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.services import account_create, staff_create
from billing.models import AuditRecord, CreditNote, Invoice
from billing.services.applications import application_create, edition_change
from billing.services.closing import invoice_finalize

pytestmark = pytest.mark.django_db

PASSWORD = "two-factor-pw-7719"


def totp(secret_b32: str, *, at: float | None = None, step: int = 30) -> str:
    """RFC 6238 (HMAC-SHA1, 6 digits, 30 s) from the base32 secret the portal shows."""
    key = base64.b32decode(secret_b32)
    counter = int((time.time() if at is None else at) // step)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()


@pytest.fixture
def issued():
    """An issued invoice of 999.00 CNY (Pro, SPEC 4.1)."""
    account = account_create(name="2FA Co", email="cust@tf.example", password=PASSWORD)
    app = application_create(account=account, name="chat", region="cn")
    edition_change(application=app, edition_code="pro")
    return invoice_finalize(invoice=Invoice.objects.get(account=account))


@pytest.fixture
def finance():
    user, _ = staff_create(email="fin@tf.example", password=PASSWORD, finance=True)
    return user


def credit_note_url(invoice):
    return reverse("admin:billing_invoice_credit_note", args=[invoice.pk])


def admin_login(client, email):
    return client.post(
        reverse("admin:login"), {"username": email, "password": PASSWORD, "next": "/admin/"}
    )


def set_up_two_factor(client) -> tuple[str, list[str]]:
    """Through the portal page: start, read the secret, confirm with a code."""
    client.post(reverse("two_factor"), {"action": "start"})
    page = client.get(reverse("two_factor")).content.decode()
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7=]+)<', page)[1]
    uri = re.search(r'data-testid="otpauth-uri">([^<]+)<', page)[1]
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri
    response = client.post(reverse("two_factor"), {"action": "confirm", "token": totp(secret)})
    assert response.status_code == 200
    codes = re.search(r'data-testid="recovery-codes">([^<]+)<', response.content.decode())[1]
    return secret, codes.split()


def test_finance_without_a_second_factor_cannot_reach_a_money_action(
    client, settings, finance, issued
):
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = True
    assert admin_login(client, "fin@tf.example").status_code == 302  # the password is right

    # the credit note page and its POST send the session to set up a second factor
    response = client.get(credit_note_url(issued))
    assert response.status_code == 302
    assert response["Location"].startswith("/two-factor/?next=")
    response = client.post(credit_note_url(issued), {"amount": "100.00", "reason": "outage"})
    assert response.status_code == 302 and response["Location"].startswith("/two-factor/")
    assert not CreditNote.objects.exists()
    # the staff API session is refused too
    response = client.get("/api/v1/invoices")
    assert response.status_code == 401 and "Two-factor" in response.json()["errors"][0]["message"]

    # when they set up TOTP (the code computed from the secret shown), the same session may act
    secret, codes = set_up_two_factor(client)
    assert len(codes) == 10
    assert client.get(credit_note_url(issued)).status_code == 200
    response = client.post(credit_note_url(issued), {"amount": "100.00", "reason": "outage"})
    assert response.status_code == 302
    assert CreditNote.objects.get().amount == Decimal("100.00")
    assert client.get("/api/v1/invoices").status_code == 200

    # a new sign-in: password, then the next step's code (a code is never accepted twice)
    client.logout()
    admin_login(client, "fin@tf.example")
    response = client.get(credit_note_url(issued))
    assert response["Location"].startswith("/two-factor/verify/?next=")
    verify = response["Location"]
    assert client.post(verify, {"token": "000000"}).status_code == 400
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    response = client.post(verify, {"token": totp(secret, at=time.time() + 30)})
    assert response.status_code == 302 and response["Location"] == credit_note_url(issued)
    assert client.get(credit_note_url(issued)).status_code == 200

    # a recovery code works once
    client.logout()
    admin_login(client, "fin@tf.example")
    assert client.post(reverse("two_factor_verify"), {"token": codes[0]}).status_code == 302
    assert client.get(credit_note_url(issued)).status_code == 200
    client.logout()
    admin_login(client, "fin@tf.example")
    assert client.post(reverse("two_factor_verify"), {"token": codes[0]}).status_code == 400
    assert client.get(credit_note_url(issued)).status_code == 302

    actions = set(AuditRecord.objects.filter(target_type="user").values_list("action", flat=True))
    assert actions == {"two_factor.enable", "two_factor.recovery_code_used"}


def test_with_the_setting_off_finance_acts_on_a_password(client, settings, finance, issued):
    settings.TWO_FACTOR_REQUIRED_FOR_STAFF = False
    admin_login(client, "fin@tf.example")
    assert client.get(credit_note_url(issued)).status_code == 200


def test_the_setting_is_on_by_default_outside_debug():
    import os
    import subprocess
    import sys

    env = os.environ | {"DJANGO_DEBUG": "false", "DJANGO_SECRET_KEY": "x" * 50}
    env.pop("TWO_FACTOR_REQUIRED_FOR_STAFF", None)
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; "
        "from django.conf import settings; print(settings.TWO_FACTOR_REQUIRED_FOR_STAFF)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr
    env["DJANGO_DEBUG"] = "true"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_a_customer_chooses_and_then_must_verify_each_sign_in(client, issued):
    client.post(reverse("login"), {"username": "cust@tf.example", "password": PASSWORD})
    assert client.get(reverse("dashboard")).status_code == 200  # optional: not set up
    secret, _ = set_up_two_factor(client)
    client.post(reverse("logout"))

    client.post(reverse("login"), {"username": "cust@tf.example", "password": PASSWORD})
    response = client.get(reverse("invoices"))
    assert response.status_code == 302 and response["Location"].startswith("/two-factor/verify/")
    response = client.post(
        reverse("two_factor_verify"),
        {"token": totp(secret, at=time.time() + 30), "next": reverse("invoices")},
    )
    assert response["Location"] == reverse("invoices")
    assert client.get(reverse("invoices")).status_code == 200

    # turning it off needs a current code (the one after next: each is used once)
    response = client.post(
        reverse("two_factor"), {"action": "disable", "token": totp(secret, at=time.time() - 30)}
    )
    assert response.status_code == 400  # an older step than the last used
    TOTPDevice.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)
    # the recovery codes were replaced: regenerate, then use one to turn it off
    page = client.post(reverse("two_factor"), {"action": "recovery"}).content.decode()
    code = re.search(r'data-testid="recovery-codes">([^<]+)<', page)[1].split()[0]
    response = client.post(reverse("two_factor"), {"action": "disable", "token": code})
    assert response.status_code == 302
    assert not TOTPDevice.objects.exists()
    actions = list(
        AuditRecord.objects.filter(target_type="user")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "two_factor.enable",
        "two_factor.recovery_codes_regenerated",
        "two_factor.recovery_code_used",
        "two_factor.disable",
    ]
