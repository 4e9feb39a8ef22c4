"""The webhook and alert pages in Chromium (Playwright) against the live server: register an
endpoint and see its secret once, set a spend alert. Screenshots in test-output/."""

import pytest

from accounts.services import account_create
from tests.portal.test_browser import OUTPUT, TIMEOUT_MS, browser, server  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
EMAIL, PASSWORD = "hooks@example.com", "browser-hooks-pw-5521"


@pytest.fixture
def customer(db):
    return account_create(name="Hooks Co", email=EMAIL, password=PASSWORD)


def test_register_a_webhook_and_set_an_alert(customer, server, browser):  # noqa: F811
    from playwright.sync_api import expect

    OUTPUT.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Log in')")

    page.click("nav >> text=Webhooks")
    page.fill("#id_url", "https://93.184.215.14/billing-hook")
    page.check("input[value='invoice.finalized']")
    page.check("input[value='invoice.overdue']")
    page.click("button:has-text('Add endpoint')")
    secret = page.get_by_test_id("webhook-secret").inner_text()
    assert secret.startswith("whsec_") and len(secret) == 54
    expect(page.locator("td", has_text="invoice.finalized, invoice.overdue")).to_be_visible()
    page.screenshot(path=OUTPUT / "webhooks.png", full_page=True)
    page.reload()  # shown once: a new load of the page no longer has it
    assert secret not in page.content()

    page.click("nav >> text=Alerts")
    page.select_option("#id_kind", "spend")
    page.select_option("#id_currency", "CNY")
    page.fill("#id_amount", "1000")
    page.click("button:has-text('Set alert')")
    expect(page.locator("td.num", has_text="1,000.00 CNY")).to_be_visible()
    page.screenshot(path=OUTPUT / "alerts.png", full_page=True)
    context.close()
