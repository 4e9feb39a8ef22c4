"""A real HTTP receiver on 127.0.0.1 (http.server in a thread), a frozen billing clock and
an account with a Pro application, for the notification tests."""

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.services import account_create, api_key_create
from billing.services.applications import application_create, edition_change
from portal.celery import app as celery_app

OCT_1 = dt.date(2026, 10, 1)
OCT_2 = dt.date(2026, 10, 2)


class Receiver:
    """Records every POST (path, headers, raw body) and answers the next of ``statuses``
    (200 once they run out). ``hold``: the first request waits until released."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.hold.wait(30)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make() -> Receiver:
        made.append(Receiver())
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def allow_http(settings):
    """http:// to a loopback receiver, as WEBHOOKS_ALLOW_HTTP allows (tests run with
    DEBUG off)."""
    settings.WEBHOOKS_ALLOW_HTTP = True
    return settings


@pytest.fixture
def eager():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def freeze(monkeypatch, moment: dt.datetime) -> None:
    monkeypatch.setattr(timezone, "now", lambda: moment)


def shanghai(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo("Asia/Shanghai"))


def pro_account(name: str, email: str, sdkappid: int):
    """An account whose application was created on 1 Oct 2026 and went Pro on 2 Oct: its
    October invoice is the Pro fee, 999.00 CNY (SPEC 4.1)."""
    account = account_create(name=name, email=email, password="pw-notify-123")
    app = application_create(
        account=account, name=f"{name} app", region="cn", created_on=OCT_1, sdkappid=sdkappid
    )
    edition_change(application=app, edition_code="pro", effective=OCT_2)
    _, raw = api_key_create(account=account)
    return account, app, raw


def plain_account(name: str, email: str):
    """An account with a key and nothing to bill."""
    account = account_create(name=name, email=email, password="pw-notify-123")
    _, raw = api_key_create(account=account)
    return account, raw
