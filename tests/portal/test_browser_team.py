"""Teams in a real browser (issue 19): the owner invites a colleague as viewer, the colleague
accepts from the e-mailed link by choosing a password, and as a viewer is refused a purchase
with the role it needs. Screenshots: test-output/team-invited.png, invitation.png,
viewer-refused.png, team-members.png."""

import re

import pytest
from django.core import mail

from accounts.services import account_create
from billing.services.applications import application_create, edition_change
from tests.portal.test_browser import OUTPUT, TIMEOUT_MS, browser, server  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

OWNER_EMAIL, OWNER_PASSWORD = "team-owner@example.com", "team-owner-pw-5521"
VIEWER_EMAIL, VIEWER_PASSWORD = "colleague@example.com", "colleague-pw-8834"


@pytest.fixture
def team_account(db):
    account = account_create(name="Team Browser Co", email=OWNER_EMAIL, password=OWNER_PASSWORD)
    app = application_create(account=account, name="Team chat", region="cn")
    edition_change(application=app, edition_code="pro")
    return {"sdkappid": app.sdkappid}


def test_invite_accept_and_a_viewer_is_refused_a_purchase(team_account, server, browser):  # noqa: F811
    from playwright.sync_api import expect

    OUTPUT.mkdir(exist_ok=True)
    base = server.url
    problems = []

    # The owner invites a colleague as viewer.
    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    owner.set_default_timeout(TIMEOUT_MS)
    page = owner.new_page()
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{base}/login/")
    page.fill("#id_username", OWNER_EMAIL)
    page.fill("#id_password", OWNER_PASSWORD)
    page.click("button:has-text('Log in')")
    page.click("nav >> text=Team")
    page.fill("#id_email", VIEWER_EMAIL)
    page.select_option("#id_role", "viewer")
    page.click("button:has-text('Send invitation')")
    expect(page.locator(".message.success")).to_contain_text(
        f"Invitation sent to {VIEWER_EMAIL} as viewer"
    )
    expect(page.get_by_test_id(f"invitation-{VIEWER_EMAIL}")).to_contain_text("pending")
    page.screenshot(path=OUTPUT / "team-invited.png", full_page=True)

    # The e-mail carries the signed link.
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [VIEWER_EMAIL]
    path = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", mail.outbox[0].body)[1]

    # The colleague, in another browser, opens it and chooses a password.
    colleague = browser.new_context(viewport={"width": 1280, "height": 900})
    colleague.set_default_timeout(TIMEOUT_MS)
    other = colleague.new_page()
    other.on("pageerror", lambda error: problems.append(str(error)))
    other.goto(base + path)
    expect(other.locator("main")).to_contain_text("to Team Browser Co as viewer")
    other.fill("#id_password1", VIEWER_PASSWORD)
    other.fill("#id_password2", VIEWER_PASSWORD)
    other.screenshot(path=OUTPUT / "invitation.png", full_page=True)
    other.click("button:has-text('Create my login and join')")
    expect(other.locator(".message.success")).to_contain_text(
        "Welcome to Team Browser Co: you are viewer"
    )

    # As a viewer they read the application but buying is refused, naming the role needed.
    other.click("table.apps >> text=Team chat")
    other.click("button[aria-label='Buy Unlimited live groups (AVChatRoom)']")
    refusal = other.get_by_test_id("refusal")
    expect(refusal).to_contain_text("needs the owner role on this account (you are viewer)")
    other.screenshot(path=OUTPUT / "viewer-refused.png", full_page=True)
    # nothing was bought: the add-on is still offered, not running
    other.goto(f"{base}/applications/{team_account['sdkappid']}/")
    expect(
        other.locator("button[aria-label='Buy Unlimited live groups (AVChatRoom)']")
    ).to_be_visible()

    # The owner sees the new member, and the invitation accepted.
    page.reload()
    expect(page.get_by_test_id(f"member-{VIEWER_EMAIL}")).to_be_visible()
    expect(page.get_by_test_id(f"invitation-{VIEWER_EMAIL}")).to_contain_text("accepted")
    page.screenshot(path=OUTPUT / "team-members.png", full_page=True)
    page.click("text=Audit trail")
    expect(page.locator("main")).to_contain_text("membership.join")

    assert problems == []
    colleague.close()
    owner.close()
