"""Issue 13: each reproduction of the outside probe, sent as it was sent then, to a running
server with production settings (gunicorn, DEBUG off: bench/processes.py), answers 4xx with
the field named and stores nothing (rows 1 and 4 are ordinary data and now succeed: they
were 500s). One test per row of the issue's table."""

import datetime as dt
import http.client
import http.cookies
import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from accounts.services import account_create, api_key_create, staff_create
from bench.processes import Gunicorn, child_env, free_port
from billing.calendar import billing_today, month_start
from billing.models import Adjustment, Application, CreditNote, Invoice, Payment, UsageEvent
from billing.services import finance
from billing.services.applications import application_create, edition_change
from billing.services.jobs import close_month
from tests.conftest import require_postgresql
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PASSWORD = "probe-test-pw-9182"
STAFF_PASSWORD = "probe-staff-pw-5521"
MAIL_DIR = Path(tempfile.mkdtemp(prefix="probe-mail-"))


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    """One gunicorn (one sync worker, so the locmem cache of the lock-out is one) on the
    test database, production settings."""
    require_postgresql()
    port = free_port()
    log = Path("test-output") / "probe-gunicorn.log"
    log.parent.mkdir(exist_ok=True)
    env = child_env(
        EMAIL_URL=f"filemail:///{MAIL_DIR}",  # django-environ drops one leading slash
        LOGIN_FAILURE_LIMIT="3",
        PASSWORD_RESET_EMAIL_LIMIT="3",
        PASSWORD_RESET_IP_LIMIT="20",
    )
    with django_db_blocker.unblock(), Gunicorn(port=port, workers=1, log=log, env=env):
        yield f"http://127.0.0.1:{port}"


class Client:
    """HTTP with a cookie jar that ignores the Secure flag (production cookies are Secure;
    the test server speaks plain HTTP on 127.0.0.1)."""

    def __init__(self, base: str, headers: dict | None = None):
        self.base = base
        self.cookies: dict[str, str] = {}
        self.headers = headers or {}

    def request(self, method, path, *, body=None, headers=None, form=None):
        headers = {**self.headers, **(headers or {})}
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        request = urllib.request.Request(
            self.base + path, data=body, headers=headers, method=method
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            response = opener.open(request, timeout=60)
        except urllib.error.HTTPError as error:
            response = error
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = http.cookies.SimpleCookie(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        return response.status, response.read(), response.headers

    def json(self, method, path, payload=None, *, raw: bytes | None = None, headers=None):
        body = None
        if method != "GET":
            body = raw if raw is not None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        status, content, _ = self.request(method, path, body=body, headers=headers)
        try:
            return status, json.loads(content)
        except ValueError:
            return status, {"raw": content[:500].decode(errors="replace")}

    def form_login(self, path: str, username: str, password: str, extra=None):
        self.request("GET", path)
        form = {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": self.cookies.get("csrftoken", ""),
            **(extra or {}),
        }
        return self.request("POST", path, form=form)

    def post_form(self, path: str, form: dict):
        return self.request(
            "POST", path, form={**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _fields(body: dict) -> set:
    return {e.get("field") for e in body.get("errors", [])}


def _last_month() -> dt.date:
    return month_start(month_start(billing_today()) - dt.timedelta(days=1))


def _tenant(email: str, *, app_name: str = "Probe app"):
    account = account_create(name=f"Probe {email}", email=email, password=PASSWORD)
    start = _last_month()
    app = application_create(account=account, name=app_name, region="cn", created_on=start)
    _, raw = api_key_create(account=account)
    return account, app, raw


def _api(server, raw_key):
    return Client(server, {"Authorization": f"Bearer {raw_key}"})


def _event(app, **overrides):
    yesterday = billing_today() - dt.timedelta(days=1)
    return {
        "id": overrides.pop("id", "probe-1"),
        "application": app.sdkappid,
        "metric": "trtc.audio_seconds",
        "timestamp": f"{yesterday}T10:00:00+08:00",
        "value": "30",
        **overrides,
    }


def _finance_client(server) -> Client:
    staff_create(email="probe-finance@example.com", password=STAFF_PASSWORD, finance=True)
    client = Client(server)
    status, _, headers = client.form_login(
        "/admin/login/", "probe-finance@example.com", STAFF_PASSWORD, {"next": "/admin/"}
    )
    assert status == 302, status
    return client


# --------------------------------------------------------------------------------------------


def test_row_1_non_integer_numbers_in_properties_are_stored_faithfully(server):
    _, app, raw = _tenant("row1@example.com")
    api = _api(server, raw)
    yesterday = billing_today() - dt.timedelta(days=1)
    body = (
        f'{{"events": [{{"id": "r1", "application": {app.sdkappid}, '
        f'"metric": "trtc.audio_seconds", "timestamp": "{yesterday}T10:00:00+08:00", '
        '"value": "30", "properties": {"rate": 1.5, "huge": 1e400, "zero": -0.0, "tenth": 0.1}}]}'
    ).encode()
    status, answer = api.json("POST", "/api/v1/usage-events", raw=body)
    assert status == 200, answer
    assert answer == {"accepted": 1, "duplicates": 0, "late": 0}
    stored = UsageEvent.objects.get(application=app, event_id="r1").properties
    assert stored["rate"] == 1.5 and stored["tenth"] == 0.1 and stored["zero"] == 0
    assert stored["huge"] == 10**400  # jsonb writes 1e400 out in full
    # The same event again is recognized as a duplicate (read back exactly, not as floats).
    status, answer = api.json("POST", "/api/v1/usage-events", raw=body)
    assert (status, answer) == (200, {"accepted": 0, "duplicates": 1, "late": 0})


def test_row_2_look_alike_usernames_share_the_lock_out(server):
    account_create(name="Bravo", email="bravo@example.com", password=PASSWORD)
    staff_create(email="charlie@example.com", password=STAFF_PASSWORD, finance=True)
    for path, email, right in (
        ("/login/", "bravo@example.com", PASSWORD),
        ("/admin/login/", "charlie@example.com", STAFF_PASSWORD),
    ):
        client = Client(server)
        statuses = [client.form_login(path, email, "wrong")[0] for _ in range(3)]
        assert statuses == [200, 200, 429], (path, statuses)
        look_alike = "\uff42" + email[1:] if email[0] == "b" else "\uff43" + email[1:]
        status, content, _ = Client(server).form_login(path, look_alike, right)
        assert status == 429, (path, status)
        assert b"Too many failed log-ins" in content
    # Nobody logged in: no session row was written.
    from django.contrib.sessions.models import Session

    assert Session.objects.count() == 0


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"metric": {}}, "metric"),
        ({"metric": ["im.login"]}, "metric"),
        ({"timestamp": "2026-11-30T10:00:00+16:00"}, "timestamp"),
        ({"timestamp": "2026-11-30T10:00:00+23:59"}, "timestamp"),
        ({"timestamp": "2026-11-30T10:00:00+05:17:31.5"}, "timestamp"),
        ({"timestamp": "0001-01-01T00:00:00+14:00"}, "timestamp"),
    ],
)
def test_row_3_cheap_inputs_to_the_usage_endpoint(server, overrides, field):
    _, app, raw = _tenant("row3@example.com")
    status, answer = _api(server, raw).json(
        "POST", "/api/v1/usage-events", {"events": [_event(app, **overrides)]}
    )
    assert status == 400, answer
    assert _fields(answer) == {field}
    assert not UsageEvent.objects.exists()


def test_row_3_json_nested_10000_deep_is_a_400_on_every_json_endpoint(server):
    _, app, raw = _tenant("row3deep@example.com")
    api = _api(server, raw)
    deep = b"[" * 10_000 + b"]" * 10_000
    before = Application.objects.count()
    for path in (
        "/api/v1/usage-events",
        "/api/v1/applications",
        f"/api/v1/applications/{app.sdkappid}/edition",
    ):
        for body in (deep, b'{"events": ' + deep + b"}", b'{"name": ' + deep + b"}"):
            status, answer = api.json("POST", path, raw=body)
            assert status == 400, (path, status, answer)
            assert "nested" in json.dumps(answer), answer
    assert not UsageEvent.objects.exists()
    assert Application.objects.count() == before


def test_row_4_tall_rows_render_in_the_pdf_portal_and_api(server):
    name = "A" + "\n" * 98 + "B"  # the probe's: 100 characters, 98 newlines
    account, app, raw = _tenant("row4@example.com", app_name=name)
    first = _last_month()
    edition_change(application=app, edition_code="pro", effective=first)
    close_month(month=first)
    issued = Invoice.objects.get(account=account, month=first)
    draft = InvoiceFactory(account=account, month=month_start(billing_today()))
    staff = staff_create(email="row4-staff@example.com", password=STAFF_PASSWORD, finance=True)[0]
    finance.adjustment_add(invoice=draft, amount="5.00", reason="why\n" * 120 + "end", actor=staff)
    portal = Client(server)
    assert portal.form_login("/login/", "row4@example.com", PASSWORD)[0] == 302
    for invoice in (issued, draft):
        status, content, headers = portal.request("GET", f"/invoices/{invoice.pk}/pdf/")
        assert status == 200 and content.startswith(b"%PDF"), status
        reference = invoice.number or str(invoice.pk)
        status, content, headers = _api(server, raw).request(
            "GET", f"/api/v1/invoices/{reference}/pdf"
        )
        assert status == 200 and content.startswith(b"%PDF"), status


def test_row_5_usage_timestamps_have_a_lower_bound(server):
    _, app, raw = _tenant("row5@example.com")
    created = app.created_at.date()
    before_creation = f"{created - dt.timedelta(days=1)}T12:00:00+08:00"
    for timestamp, code in (
        ("0001-01-01T00:00:00Z", "out_of_range"),
        (before_creation, "before_application"),
    ):
        status, answer = _api(server, raw).json(
            "POST", "/api/v1/usage-events", {"events": [_event(app, timestamp=timestamp)]}
        )
        assert status == 400, answer
        assert [(e["field"], e["code"]) for e in answer["errors"]] == [("timestamp", code)]
    assert not UsageEvent.objects.exists()


def _issued_invoice(email: str):
    account, app, raw = _tenant(email)
    first = _last_month()
    edition_change(application=app, edition_code="pro", effective=first)
    close_month(month=first)
    return Invoice.objects.get(account=account, month=first)


def test_row_6_money_beyond_28_significant_digits(server):
    invoice = _issued_invoice("row6@example.com")
    staff = _finance_client(server)
    path = f"/api/v1/invoices/{invoice.number}/credit-notes"
    headers = {"X-CSRFToken": staff.cookies["csrftoken"]}
    for body in (
        b'{"amount": "1e30", "reason": "probe"}',
        b'{"amount": "' + b"9" * 60 + b'", "reason": "probe"}',
        b'{"amount": 1e400, "reason": "probe"}',
    ):
        status, answer = staff.json("POST", path, raw=body, headers=headers)
        assert status == 400, (body, answer)
        assert _fields(answer) == {"amount"}, answer
    assert not CreditNote.objects.exists()


def test_row_7_filter_and_path_text(server):
    account, app, raw = _tenant("row7@example.com")
    draft = InvoiceFactory(account=account, month=month_start(billing_today()))
    api = _api(server, raw)
    status, answer = api.json("GET", "/api/v1/invoices?month=%25s")
    assert status == 400 and _fields(answer) == {"month"}, answer
    assert api.json("GET", "/api/v1/invoices/%C2%B2")[0] == 404
    arabic = "".join(chr(0x660 + int(d)) for d in str(draft.pk))
    status, answer = api.json("GET", "/api/v1/invoices/" + urllib.parse.quote(arabic))
    assert status == 404, answer
    assert api.json("GET", f"/api/v1/invoices/{draft.pk}")[0] == 200


def test_row_8_nul_in_portal_and_admin_query_strings(server):
    _, app, _ = _tenant("row8@example.com")
    portal = Client(server)
    assert portal.form_login("/login/", "row8@example.com", PASSWORD)[0] == 302
    status, content, _ = portal.request("GET", f"/applications/{app.sdkappid}/charges/?item=%00")
    assert status == 400 and b"item" in content
    staff = _finance_client(server)
    status, content, _ = staff.request("GET", "/admin/billing/invoice/?state__exact=%00")
    assert status == 400 and b"state__exact" in content
    # Over-long form fields too (a request line that long would stop at gunicorn's limit).
    status, content, _ = Client(server).form_login("/admin/login/", "x" * 20_000, "pw")
    assert status == 400 and b"username is longer than" in content


def test_row_9_lenient_parsing_is_refused(server):
    account, app, raw = _tenant("row9@example.com")
    draft = InvoiceFactory(account=account, month=month_start(billing_today()))
    staff = _finance_client(server)
    headers = {"X-CSRFToken": staff.cookies["csrftoken"]}
    for amount in ("1e3", "1_0.00", "\u0661\u0660.00", " 10.00 "):
        status, answer = staff.json(
            "POST",
            f"/api/v1/invoices/{draft.pk}/adjustments",
            {"amount": amount, "reason": "probe"},
            headers=headers,
        )
        assert status == 400 and _fields(answer) == {"amount"}, (amount, answer)
    assert not Adjustment.objects.exists()
    for value in ("1_000", " 5 ", "\u0665"):
        status, answer = _api(server, raw).json(
            "POST", "/api/v1/usage-events", {"events": [_event(app, value=value)]}
        )
        assert status == 400 and _fields(answer) == {"value"}, (value, answer)
    assert not UsageEvent.objects.exists()

    issued = _issued_invoice("row9b@example.com")
    path = f"/api/v1/invoices/{issued.number}/payments"
    status, answer = staff.json(
        "POST",
        path,
        {"amount": "1.00", "received_at": "0001-01-01T00:00:00Z"},
        headers=headers,
    )
    assert status == 400 and _fields(answer) == {"received_at"}, answer
    assert not Payment.objects.exists()
    status, answer = staff.json(
        "POST",
        path,
        {"amount": "1.00", "received_at": "2026-11-30T09:30:00+08:00"},
        headers=headers,
    )
    assert status == 201, answer
    assert answer["received_at"] == "2026-11-30T09:30:00+08:00"


def test_row_10_csv_export_neutralizes_formulas(server):
    staff = _finance_client(server)
    names = ["=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "Plain"]
    invoices = []
    for n, name in enumerate(names):
        account = account_create(name=name if name.strip() else "x", email=f"csv{n}@example.com")
        account.name = name  # account_create strips; the admin form need not
        account.save(update_fields=["name"])
        invoices.append(InvoiceFactory(account=account))
    form = [("action", "export_csv"), ("csrfmiddlewaretoken", staff.cookies["csrftoken"])]
    form += [("_selected_action", str(i.pk)) for i in invoices]
    status, content, headers = staff.request(
        "POST",
        "/admin/billing/invoice/",
        body=urllib.parse.urlencode(form).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and headers["Content-Type"].startswith("text/csv"), status
    import csv
    import io

    cells = {row[1] for row in csv.reader(io.StringIO(content.decode(), newline=""))}
    for name in names[:-1]:
        assert "'" + name in cells, (name, cells)
    assert "Plain" in cells


def test_row_11_password_reset_is_throttled(server):
    account_create(name="Reset", email="reset@example.com", password=PASSWORD)
    before = len(list(MAIL_DIR.iterdir()))
    client = Client(server)
    client.request("GET", "/password/reset/")
    started = time.monotonic()
    statuses = [
        client.post_form("/password/reset/", {"email": "reset@example.com"})[0] for _ in range(15)
    ]
    assert statuses == [302] * 15, statuses  # the same answer: no hint of the limit
    mails = len(list(MAIL_DIR.iterdir())) - before
    assert mails == 3, mails  # PASSWORD_RESET_EMAIL_LIMIT
    # Past PASSWORD_RESET_IP_LIMIT (20) requests from this address: 429.
    others = [
        client.post_form("/password/reset/", {"email": f"n{n}@example.com"})[0] for n in range(6)
    ]
    assert others[:5] == [302] * 5 and others[5] == 429, others
    assert time.monotonic() - started < 60


def test_row_12_event_properties_have_a_size_limit(server):
    _, app, raw = _tenant("row12@example.com")
    big = {"blob": "x" * 2_400_000}
    status, answer = _api(server, raw).json(
        "POST", "/api/v1/usage-events", {"events": [_event(app, properties=big)]}
    )
    assert status == 400, answer
    assert [(e["field"], e["code"]) for e in answer["errors"]] == [("properties", "too_large")]
    for properties, code in (
        ({"a": {"b": {"c": {"d": {"e": 1}}}}}, "too_deep"),
        ({f"k{n}": n for n in range(65)}, "too_many_keys"),
    ):
        status, answer = _api(server, raw).json(
            "POST", "/api/v1/usage-events", {"events": [_event(app, properties=properties)]}
        )
        assert status == 400 and answer["errors"][0]["code"] == code, answer
    assert not UsageEvent.objects.exists()


def test_row_13_usage_events_need_application_json(server):
    _, app, raw = _tenant("row13@example.com")
    body = json.dumps({"events": [_event(app)]}).encode()
    for content_type in (
        None,
        "application/jsonp",
        "text/plain",
        "application/json; charset=latin-1",
    ):
        headers = {"Authorization": f"Bearer {raw}", "Content-Length": str(len(body))}
        if content_type:
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection(urllib.parse.urlsplit(server).netloc, timeout=30)
        connection.request("POST", "/api/v1/usage-events", body=body, headers=headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        connection.close()
        assert response.status == 415, (content_type, answer)
        assert answer["errors"][0]["code"] == "unsupported_media_type"
    assert not UsageEvent.objects.exists()


def test_row_14_admin_lock_out_answers_429(server):
    staff_create(email="delta@example.com", password=STAFF_PASSWORD, finance=True)
    client = Client(server)
    statuses = [
        client.form_login("/admin/login/", "delta@example.com", "wrong")[0] for _ in range(4)
    ]
    assert statuses == [200, 200, 429, 429], statuses
    status, content, _ = client.form_login("/admin/login/", "delta@example.com", STAFF_PASSWORD)
    assert status == 429 and b"Too many failed log-ins" in content
