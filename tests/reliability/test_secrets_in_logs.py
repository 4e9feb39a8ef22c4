"""No secret reaches the logs: raw API keys (good and bad), passwords of failed log-ins on the
portal and the admin, and the key shown once by create_api_key. Every logger is captured at
DEBUG while the requests are made."""

import logging
from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.services import account_create, api_key_create
from billing.services.applications import application_create

pytestmark = pytest.mark.django_db


def test_no_key_or_password_in_logs(client, caplog, settings):
    caplog.set_level(logging.DEBUG)
    settings.LOGIN_FAILURE_LIMIT = 2  # reach the lock-out too
    account = account_create(name="Quiet Co", email="quiet@example.com", password="pw-quiet-1")
    app = application_create(account=account, name="a", region="cn")
    _, raw = api_key_create(account=account)
    bad_key = "bp_live_" + "x" * 40
    secret_password = "Sup3r-Secret-Passw0rd"

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/applications").status_code == 200
    body = {"events": [{"id": "1", "application": app.sdkappid, "metric": "nope"}]}
    assert api.post("/api/v1/usage-events", body, format="json").status_code == 400
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {bad_key}")
    assert api.get("/api/v1/applications").status_code == 401
    for path in ("/login/", "/admin/login/"):
        for _ in range(3):
            client.post(path, {"username": "quiet@example.com", "password": secret_password})
    out = StringIO()
    call_command("create_api_key", "--service", stdout=out)
    shown = out.getvalue().split()[-1]

    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records  # something was logged (requests refused, lock-outs)
    for secret in (raw, bad_key, secret_password, shown):
        assert secret not in logged
