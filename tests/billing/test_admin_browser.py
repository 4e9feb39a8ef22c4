"""The finance home in a real browser (Debian's Chromium through Playwright, as
tests/portal/test_browser.py): the demo data (seed_demo, bill_history), finance staff log in
through the admin's form, the revenue charts draw, and a screenshot goes to
test-output/admin-home.png for people to look at."""

import io

import pytest
from django.core.management import call_command

from accounts.services import staff_create
from tests.portal.test_browser import OUTPUT, TIMEOUT_MS, browser, server  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
EMAIL, PASSWORD = "finance-browser@example.com", "finance-browser-pw-5521"


@pytest.fixture
def demo(db):
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
    call_command("bill_history", stdout=io.StringIO(), stderr=io.StringIO())
    staff_create(email=EMAIL, password=PASSWORD, finance=True)


def test_the_admin_home_with_the_demo_data(demo, server, browser):  # noqa: F811
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Console errors other than the browser's own favicon request (the admin has none).
    page.on(
        "console",
        lambda m: errors.append(m.text)
        if m.type == "error" and "favicon" not in (m.location or {}).get("url", "")
        else None,
    )
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#receivables")
    assert page.inner_text("h1").startswith("Finance home")
    # One chart per currency, drawn by the vendored Chart.js (no request leaves the site).
    page.wait_for_function("() => document.querySelectorAll('#revenue canvas').length >= 2")
    drawn = page.evaluate(
        "() => [...document.querySelectorAll('#revenue canvas')]"
        ".map(c => Chart.getChart(c) ? Chart.getChart(c).data.datasets.length : 0)"
    )
    assert len(drawn) == 2 and all(n > 0 for n in drawn)
    assert "CNY" in page.inner_text("#receivables")
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "admin-home.png"), full_page=True)
    # From the home page: search by an SDKAppID of the demo.
    page.fill("#fh-q", "demo")
    page.press("#fh-q", "Enter")
    page.wait_for_selector("h1")
    assert "Search" in page.inner_text("h1")
    page.screenshot(path=str(OUTPUT / "admin-search.png"), full_page=True)
    assert not errors, errors
