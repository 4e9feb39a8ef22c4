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

from accounts.services import account_create
from billing.calendar import billing_today, month_start
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
    close_month(month=months_ago(2))

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
    return {"invoice": invoice, "yesterday_dau": 5 + USAGE_DAYS - 1}


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

    # Buy an add-on and see its charge in the month so far.
    page.click("button[aria-label='Buy Unlimited live groups (AVChatRoom)']")
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
    page.screenshot(path=OUTPUT / "invoice.png", full_page=True)
    with page.expect_download() as download_info:
        page.click("text=Download PDF")
    download = download_info.value
    assert download.suggested_filename == f"{invoice.number}.pdf"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert invoice.number in text and "999.00 CNY" in text

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
    for path in ("/", f"/invoices/{customer['invoice'].pk}/"):
        page.goto(server.url + path)
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than the phone screen"
    # On a phone the invoice shows each line's description and amount without scrolling.
    due = page.get_by_test_id("amount-due").bounding_box()
    assert due["x"] + due["width"] <= 390
    assert page.get_by_test_id("amount-due").inner_text() == "999.00 CNY"
    page.screenshot(path=OUTPUT / "invoice-mobile.png", full_page=True)
    context.close()
