"""Log-in, log-out, password change and reset, CSRF and cookie settings, through the pages."""

import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.portal.conftest import PASSWORD
from tests.test_settings import PRODUCTION, ROOT

pytestmark = pytest.mark.django_db


def test_login_then_dashboard_then_logout(client, owner):
    page = client.get(reverse("login"))
    assert page.status_code == 200 and "csrfmiddlewaretoken" in page.content.decode()

    response = client.post(
        reverse("login"), {"username": "owner@example.com", "password": PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")
    assert "Owner Co app" in client.get(reverse("dashboard")).content.decode()
    # Already logged in: the login page sends to the dashboard.
    assert client.get(reverse("login"))["Location"] == reverse("dashboard")

    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("login"))


def test_wrong_password_says_so_without_telling_which_part_was_wrong(client, owner):
    response = client.post(reverse("login"), {"username": "owner@example.com", "password": "x"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_login_and_every_form_refuse_a_post_without_the_csrf_token(owner):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("login"), {"username": "owner@example.com", "password": PASSWORD}
    )
    assert response.status_code == 403
    client.force_login(owner.user)
    response = client.post(
        reverse("edition_change", args=[owner.app.sdkappid]), {"edition": "ultimate"}
    )
    assert response.status_code == 403
    assert client.post(reverse("api_keys"), {"name": "x"}).status_code == 403


def test_password_change(client, owner):
    client.force_login(owner.user)
    url = reverse("password_change")
    assert client.get(url).status_code == 200
    response = client.post(
        url,
        {
            "old_password": "not-it",
            "new_password1": "a-new-secret-9921",
            "new_password2": "a-new-secret-9921",
        },
    )
    assert response.status_code == 200 and "incorrectly" in response.content.decode()
    response = client.post(
        url,
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-secret-9921",
            "new_password2": "a-new-secret-9921",
        },
    )
    assert response["Location"] == reverse("password_change_done")
    client.logout()
    assert client.login(username="owner@example.com", password="a-new-secret-9921")


def test_password_change_needs_a_login(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_password_reset_by_email(client, owner):
    response = client.post(reverse("password_reset"), {"email": "owner@example.com"})
    assert response["Location"] == reverse("password_reset_done")
    [message] = mail.outbox
    assert message.to == ["owner@example.com"]
    assert message.subject == "Reset your billing portal password"
    link = re.search(r"https?://[^/]+(/password/reset/\S+/)", message.body).group(1)

    form = client.get(link, follow=True)  # Django swaps the token for a session marker
    assert "Choose a new password" in form.content.decode()
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "reset-secret-4417", "new_password2": "reset-secret-4417"},
    )
    assert response["Location"] == reverse("password_reset_complete")
    assert client.login(username="owner@example.com", password="reset-secret-4417")
    # The link works once.
    assert "Link expired" in Client().get(link, follow=True).content.decode()


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response["Location"] == reverse("password_reset_done")
    assert mail.outbox == []


def test_console_email_backend_is_the_default():
    # pytest-django swaps in the locmem backend for tests; the project default is the console.
    result = subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS],
        cwd=ROOT,
        env={**_clean_env(), "DJANGO_DEBUG": "true"},  # no EMAIL_URL
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend" in result.stdout, (
        result.stderr
    )


def test_cookies_are_secure_and_http_only_in_production():
    result = subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS],
        cwd=ROOT,
        env={**_clean_env(), **PRODUCTION, "DJANGO_DEBUG": "false"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = result.stdout
    assert "SESSION_COOKIE_SECURE=True" in out and "CSRF_COOKIE_SECURE=True" in out, result.stderr
    assert "SESSION_COOKIE_HTTPONLY=True" in out and "SESSION_COOKIE_SAMESITE=Lax" in out


def test_session_cookie_flags_on_a_real_response(client, owner):
    response = client.post(
        reverse("login"), {"username": "owner@example.com", "password": PASSWORD}
    )
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


_PRINT_SETTINGS = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()
from django.conf import settings as s
for name in ("EMAIL_BACKEND", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
             "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE"):
    print(f"{name}={getattr(s, name)}")
"""


def _clean_env():
    import os

    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE", "EMAIL_")) and k != "DJANGO_SETTINGS_MODULE"
    }
