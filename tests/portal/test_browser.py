"""The portal in a real browser: Debian's Chromium, headless, driven by Playwright against the
live server. Screenshots of the dashboard, an application page with its charts and an invoice
go to test-output/ (gitignored) for people to look at.

Locally a missing Chromium skips these tests; under CI=true it fails them."""

import datetime as dt
import io
import os
from pathlib import Path

import pytest
from pypdf import PdfReader

from accounts.services import account_create, api_key_create
from billing.calendar import billing_today, billing_tz, month_start
from billing.models import Invoice
from billing.services.applications import application_create, edition_change
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day, close_month
from tests.conftest import IN_CI

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
EMAIL, PASSWORD = "browser@example.com", "browser-test-pw-8812"
USAGE_DAYS = 20  # days of usage behind the charts, ending yesterday
TIMEOUT_MS = 10_000

pytestmark = [
    pytest.mark.browser,
    # The live server reads committed data; serialized_rollback restores the price book.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"browser tests under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture
def server(django_db_setup, live_server):
    """The live server, started after the test database so that it stops first."""
    return live_server


@pytest.fixture
def browser():
    """Chromium. Request it after the fixtures that write to the database: Playwright's sync
    API runs an event loop in this thread, and the ORM must not be used inside it."""
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a dev dependency
        _unavailable("playwright is not installed (make install)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def months_ago(n: int) -> dt.date:
    month = month_start(billing_today())
    for _ in range(n):
        month = month_start(month - dt.timedelta(days=1))
    return month


@pytest.fixture
def customer(db):
    """An account with a finalized invoice two months back (Pro, 999.00 CNY) and an
    application with 20 days of usage of every kind up to yesterday, the last 3 days rated."""
    account = account_create(name="Browser Co", email=EMAIL, password=PASSWORD)
    legacy = application_create(
        account=account, name="Legacy app", region="cn", created_on=months_ago(2)
    )
    edition_change(application=legacy, edition_code="pro", effective=months_ago(2))
    account.billing_name = "Browser Co Ltd."
    account.billing_address = "88 Browser Road\nShanghai"
    account.tax_id = "TAX-BROWSER-42"
    account.save()
    close_month(month=months_ago(2))  # the invoice snapshots the billing profile

    yesterday = billing_today() - dt.timedelta(days=1)
    first = yesterday - dt.timedelta(days=USAGE_DAYS - 1)
    charts = application_create(account=account, name="Charts app", region="cn", created_on=first)
    edition_change(application=charts, edition_code="pro", effective=first)
    events = []

    def add(day, metric, hour, value=None, **properties):
        event = {
            "id": f"{day}-{len(events)}",
            "application": charts.sdkappid,
            "metric": metric,
            "timestamp": f"{day.isoformat()}T{hour:02d}:15:00+08:00",
            "properties": properties,
        }
        if value is not None:
            event["value"] = value
        events.append(event)

    for n in range(USAGE_DAYS):
        day = first + dt.timedelta(days=n)
        for user in range(5 + n):  # DAU 5 on the first day, 24 yesterday
            add(day, "im.login", 9 + user % 12, user_id=f"user-{user}")
        add(day, "im.group_count", 12, 40 + 3 * n)
        add(day, "trtc.audio_seconds", 10, 3000 + 120 * (n % 7))
        add(day, "trtc.video_seconds", 20, 1800 + 60 * (n % 5), resolution="hd")
        add(day, "im.moderation.text", 11, 400 + 25 * (n % 4))
        add(day, "im.moderation.image", 15, 60)
        add(day, "im.moderation.audio_seconds", 16, 95)
    usage_events_ingest(events=events, caller=SYSTEM)
    for back in range(3):
        bill_day(day=yesterday - dt.timedelta(days=back))
    invoice = Invoice.objects.get(account=account, month=months_ago(2))
    _, raw_key = api_key_create(account=account, name="browser reporter")
    return {
        "raw_key": raw_key,
        "invoice": invoice,
        "yesterday_dau": 5 + USAGE_DAYS - 1,
        "legacy": legacy,
        "charts": charts,
        "account": account,
    }


def test_customer_journey_in_chromium(customer, server, browser):
    from playwright.sync_api import expect

    OUTPUT.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    base = server.url

    # Log in.
    page.goto(f"{base}/login/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Log in')")
    expect(page.locator("h2", has_text="Browser Co")).to_be_visible()

    # Create an application: it starts on Trial.
    page.click("text=New application")
    page.fill("#id_name", "Browser chat")
    page.select_option("#id_region", "cn")
    page.click("button:has-text('Create application')")
    expect(page.locator(".message.success")).to_contain_text("Browser chat created")
    expect(page.get_by_test_id("edition")).to_have_text("Trial")

    # Upgrade to Pro: the preview shows the price and when it starts, then confirm.
    assert "trial" not in page.locator("#id_edition option").evaluate_all(
        "options => options.map(o => o.value)"
    )
    page.select_option("#id_edition", "pro")
    page.click("button:has-text('Preview the change')")
    expect(page.get_by_test_id("new-price")).to_contain_text("999.00 CNY a month")
    expect(page.get_by_test_id("takes-effect")).to_contain_text("Pro starts at once")
    page.click("button:has-text('Confirm: change to Pro')")
    expect(page.get_by_test_id("edition")).to_have_text("Pro")

    # Buy an add-on: a confirmation first (price, term, the invoice it lands on), then the
    # charge in the month so far.
    page.click("button[aria-label='Buy Unlimited live groups (AVChatRoom)']")
    confirm = page.locator("#confirm")
    today = billing_today()
    expect(confirm).to_contain_text("prepaid term")
    expect(page.get_by_test_id("plan-start")).to_contain_text("1,000.00 CNY")
    expect(page.get_by_test_id("plan-start")).to_contain_text(f"{today.day} {today:%b %Y} to")
    expect(page.get_by_test_id("plan-invoice-CNY")).to_contain_text("1,000.00 CNY")
    expect(confirm).to_contain_text(f"{today:%B %Y} invoice")
    page.screenshot(path=OUTPUT / "purchase-confirm.png", full_page=True)
    page.click("button:has-text('Confirm: buy Unlimited live groups (AVChatRoom)')")
    expect(page.locator(".message.success")).to_contain_text(
        "Bought Unlimited live groups (AVChatRoom)"
    )
    month = page.locator("#month-to-date")
    expect(month).to_contain_text("Unlimited live groups (AVChatRoom), Browser chat")
    expect(month).to_contain_text("1,000.00 CNY")
    expect(page.get_by_test_id("mtd-total-CNY")).to_have_text("1,999.00 CNY")  # 999 + 1000

    # The dashboard.
    page.click("nav >> text=Applications")
    expect(page.locator("table.apps")).to_contain_text("Browser chat")
    page.screenshot(path=OUTPUT / "dashboard.png", full_page=True)

    # An application page with its charts: 30 days drawn, 90 on demand.
    page.click("table.apps >> text=Charts app")
    page.wait_for_function("window.portalCharts && window.portalCharts.dau")
    dau = page.evaluate("window.portalCharts.dau.data.datasets[0].data")
    assert len(dau) == 30 and dau[-1] == customer["yesterday_dau"]
    assert sum(1 for value in dau if value) == USAGE_DAYS
    expect(page.locator("canvas")).to_have_count(4)  # DAU, groups, minutes, moderation
    page.click(".toggle button:has-text('90 days')")
    assert page.evaluate("window.portalCharts.dau.data.labels.length") == 90
    page.click(".toggle button:has-text('30 days')")
    expect(page.locator("#charges")).to_contain_text("TRTC audio")
    page.screenshot(path=OUTPUT / "application.png", full_page=True)

    # An invoice, and its PDF.
    invoice = customer["invoice"]
    page.click("nav >> text=Invoices")
    page.click(f"text={invoice.number}")
    expect(page.locator("h1")).to_have_text(f"Invoice {invoice.number}")
    expect(page.get_by_test_id("invoice-total")).to_have_text("999.00 CNY")
    # Fileable: seller and buyer, the due date, a subtotal per application.
    expect(page.get_by_test_id("seller")).to_contain_text("Communications Cloud Ltd.")
    expect(page.get_by_test_id("seller")).to_contain_text("Tax ID 91440300EXAMPLE0001")
    expect(page.get_by_test_id("buyer")).to_contain_text("Browser Co Ltd.")
    expect(page.get_by_test_id("buyer")).to_contain_text("TAX-BROWSER-42")
    expect(page.get_by_test_id("buyer")).to_contain_text("88 Browser Road")
    due = invoice.due_date
    expect(page.get_by_test_id("due-date")).to_have_text(f"{due.day} {due:%b %Y}")
    legacy = customer["legacy"]
    expect(page.get_by_test_id(f"subtotal-{legacy.sdkappid}")).to_have_text("999.00 CNY")
    expect(page.locator("#payment-instructions")).to_contain_text("Bank transfer")
    page.screenshot(path=OUTPUT / "invoice.png", full_page=True)
    with page.expect_download() as download_info:
        page.click("text=Download PDF")
    download = download_info.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    text = " ".join(text.split())  # cells wrap their lines
    assert invoice.number in text and "999.00 CNY" in text
    for expected in (
        "Communications Cloud Ltd.",
        "Tax ID 91440300EXAMPLE0001",
        "Browser Co Ltd.",
        "88 Browser Road",
        "Tax ID TAX-BROWSER-42",
        f"Subtotal, Legacy app (SDKAppID {legacy.sdkappid})",
        f"{due.day} {due:%b %Y}",
        "How to pay",
        "Page 1 of 1",
    ):
        assert expected in text, f"{expected!r} not in the PDF"

    assert problems == []
    context.close()


def test_mobile_layout_keeps_tables_inside_the_screen(customer, server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_selector("table.apps")
    for path, shot in (
        ("/", "dashboard-mobile.png"),
        ("/invoices/", "invoices-mobile.png"),
        (f"/invoices/{customer['invoice'].pk}/", None),
    ):
        page.goto(server.url + path)
        # The page itself never scrolls sideways, and no table hides its columns off-screen.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone screen"
        clipped = page.evaluate(
            "[...document.querySelectorAll('.table-wrap')]"
            ".filter(w => w.scrollWidth > w.clientWidth + 1).length"
        )
        assert clipped == 0, f"{path}: {clipped} table(s) wider than the screen"
        if shot:
            page.screenshot(path=OUTPUT / shot, full_page=True)
    # On a phone the invoice shows each line's description and amount without scrolling.
    due = page.get_by_test_id("amount-due").bounding_box()
    assert due["x"] + due["width"] <= 390
    assert page.get_by_test_id("amount-due").inner_text() == "999.00 CNY"
    page.screenshot(path=OUTPUT / "invoice-mobile.png", full_page=True)
    context.close()


def test_usage_posted_through_the_api_shows_at_once_as_not_yet_rated(customer, server, browser):
    """Events accepted by POST /api/v1/usage-events appear on the application page right
    away, marked not yet rated (rating runs the next day)."""
    import json
    import urllib.request

    charts = customer["charts"]
    today = billing_today()
    # Moments earlier today (never in the future, never yesterday).
    now = dt.datetime.now(billing_tz())
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def earlier(seconds: int) -> str:
        return max(
            midnight + dt.timedelta(seconds=1), now - dt.timedelta(seconds=seconds)
        ).isoformat()

    events = [
        {
            "id": f"live-{n}",
            "application": charts.sdkappid,
            "metric": "trtc.audio_seconds",
            "timestamp": earlier(60 + n),
            "value": 600,
        }
        for n in range(3)
    ] + [
        {
            "id": f"live-login-{n}",
            "application": charts.sdkappid,
            "metric": "im.login",
            "timestamp": earlier(30 + n),
            "properties": {"user_id": f"live-user-{n % 2}"},
        }
        for n in range(3)
    ]
    request = urllib.request.Request(
        f"{server.url}/api/v1/usage-events",
        data=json.dumps({"events": events}).encode(),
        headers={
            "Authorization": f"Bearer {customer['raw_key']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 - the live test server
        assert response.status in (200, 201, 202)

    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Log in')")
    page.goto(f"{server.url}/applications/{charts.sdkappid}/")
    unrated = page.locator("#unrated-usage")
    expect(unrated).to_contain_text("not yet rated")
    # 3 events of 600 seconds; 2 distinct users among 3 logins.
    expect(page.get_by_test_id(f"unrated-{today}-trtc.audio_seconds")).to_have_text("1,800 seconds")
    expect(page.get_by_test_id(f"unrated-{today}-im.login")).to_have_text("2 users")
    expect(unrated).to_contain_text(f"{today.day} {today:%b %Y}")
    unrated.screenshot(path=OUTPUT / "usage-not-yet-rated.png")
    context.close()
