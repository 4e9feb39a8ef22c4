"""The portal's pages for each role (the account's owner, a member of the account, another
account's user, anonymous) and the actions they offer, with the Django test client. Amounts are
the price book's (SPEC 4.1, 4.3, 4.4)."""

import datetime as dt
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import ApiKey, Membership
from accounts.services import account_create, api_key_authenticate, user_get_or_create
from billing.calendar import billing_today
from billing.models import AddOnSubscription, Application, Invoice
from billing.services.applications import application_create, edition_change
from billing.services.finance import credit_note_issue, payment_record
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import bill_day
from tests.factories import InvoiceFactory

pytestmark = pytest.mark.django_db

ONE_DAY = dt.timedelta(days=1)


def pages(tenant) -> dict[str, str]:
    """Every page a customer reads, with the tenant's objects."""
    sdkappid, invoice = tenant.app.sdkappid, tenant.invoice.pk
    return {
        "dashboard": reverse("dashboard"),
        "application_create": reverse("application_create"),
        "application": reverse("application", args=[sdkappid]),
        "application_charges": reverse("application_charges", args=[sdkappid]),
        "edition_change": reverse("edition_change", args=[sdkappid]) + "?edition=ultimate",
        "invoices": reverse("invoices"),
        "invoice": reverse("invoice", args=[invoice]),
        "invoice_pdf": reverse("invoice_pdf", args=[invoice]),
        "api_keys": reverse("api_keys"),
        "password_change": reverse("password_change"),
    }


OBJECT_PAGES = {"application", "application_charges", "edition_change", "invoice", "invoice_pdf"}


PAGE_NAMES = [
    "dashboard",
    "application_create",
    "application",
    "application_charges",
    "edition_change",
    "invoices",
    "invoice",
    "invoice_pdf",
    "api_keys",
    "password_change",
]


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_owner_reads_every_page(client, owner, page):
    client.force_login(owner.user)
    response = client.get(pages(owner)[page])
    assert response.status_code == 200
    if page == "invoice_pdf":
        assert response["Content-Type"] == "application/pdf"
        assert response.content.startswith(b"%PDF-")


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_a_viewer_of_the_account_reads_every_page_but_the_keys(client, owner, page):
    member, _ = user_get_or_create(email="member@example.com", password="member-pw-1234")
    Membership.objects.create(user=member, account=owner.account, role=Membership.Role.VIEWER)
    client.force_login(member)
    response = client.get(pages(owner)[page])
    if page in ("api_keys", "application_create"):  # owners and developers only
        assert response.status_code == 403
        assert "needs the owner or developer role" in response.content.decode()
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_another_accounts_user_gets_404_for_object_pages(client, owner, stranger, page):
    client.force_login(stranger.user)
    response = client.get(pages(owner)[page])
    assert response.status_code == (404 if page in OBJECT_PAGES else 200)


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_anonymous_is_sent_to_login(client, owner, page):
    url = pages(owner)[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={quote(url, safe='/')}"


def test_post_actions_need_a_login(client, owner):
    for url in (
        reverse("edition_change", args=[owner.app.sdkappid]),
        reverse("addon_buy", args=[owner.app.sdkappid]),
        reverse("api_key_revoke", args=[owner.key.pk]),
    ):
        response = client.post(url, {"edition": "ultimate", "item": "x"})
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    owner.app.refresh_from_db()
    assert owner.key.revoked_at is None


# --------------------------------------------------------------------------------------------
# Dashboard
# --------------------------------------------------------------------------------------------


def test_dashboard_lists_applications_with_edition_and_month_to_date(owner_client, owner):
    app = application_create(account=owner.account, name="Fresh chat", region="intl")
    edition_change(application=app, edition_code="pro")  # today; intl Pro 2999 CNY

    page = owner_client.get(reverse("dashboard")).content.decode()

    assert "Fresh chat" in page and str(app.sdkappid) in page
    assert "Owner Co app" in page
    assert "Ultimate" not in page  # nothing is on Ultimate
    assert "INTL" in page and "CN" in page
    assert "2,999.00 CNY" in page  # the fresh application's month so far
    assert "of 10,000" in page  # free TRTC minutes


# --------------------------------------------------------------------------------------------
# Applications: create, change edition, add-ons, packs, charges
# --------------------------------------------------------------------------------------------


def test_create_an_application(owner_client, owner):
    response = owner_client.post(reverse("application_create"), {"name": "New app", "region": "cn"})
    app = Application.objects.get(name="New app")
    assert response["Location"] == reverse("application", args=[app.sdkappid])
    assert app.account == owner.account
    assert app.edition_periods.get().edition.code == "trial"
    page = owner_client.get(response["Location"]).content.decode()
    assert f"Application New app created with SDKAppID {app.sdkappid}, on Trial." in page


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "region": "cn"}, "This field is required."),
        ({"name": "x", "region": "mars"}, "Select a valid choice."),
        ({"name": "x" * 101, "region": "cn"}, "at most 100 characters"),
    ],
)
def test_create_refuses_bad_input_naming_the_field(owner_client, data, error):
    response = owner_client.post(reverse("application_create"), data)
    assert response.status_code == 400
    assert error in response.content.decode()


def confirmed(client, url, data) -> str:
    """The plan digest the confirmation page posts back."""
    response = client.get(url, data)
    assert response.status_code == 200, response.content.decode()[:500]
    return response.context["plan"].digest


def test_trial_to_pro_preview_then_confirm(owner_client, owner):
    app = application_create(account=owner.account, name="Trial app", region="cn")
    page = owner_client.get(reverse("application", args=[app.sdkappid])).content.decode()
    assert '<option value="trial"' not in page  # Trial is never offered
    assert '<option value="pro">Pro</option>' in page

    url = reverse("edition_change", args=[app.sdkappid])
    preview = owner_client.get(url, {"edition": "pro"}).content.decode()
    today = billing_today()
    assert f"Today, {today:%-d %b %Y}: Pro starts at once." in preview
    assert "999.00 CNY a month (was 0.00 CNY)" in preview  # SPEC 4.1, cn
    assert "nothing is credited" not in preview and "plan-credit" not in preview  # no term
    assert "<strong>999.00 CNY</strong>" in preview  # the new term, on this month's invoice
    assert app.edition_periods.get().edition.code == "trial"  # a preview writes nothing

    response = owner_client.post(
        url, {"edition": "pro", "digest": confirmed(owner_client, url, {"edition": "pro"})}
    )
    assert response["Location"] == reverse("application", args=[app.sdkappid])
    page = owner_client.get(response["Location"]).content.decode()
    assert f"Trial app changes to Pro on {today.day} {today:%b %Y}." in page
    assert "IM Pro edition, Trial app" in page and "999.00 CNY" in page


def test_preview_of_trial_or_nonsense_is_a_clear_400(owner_client, owner):
    url = reverse("edition_change", args=[owner.app.sdkappid])
    response = owner_client.get(url, {"edition": "trial"})
    assert response.status_code == 400
    assert "An application never goes back to Trial" in response.content.decode()
    response = owner_client.get(url, {"edition": "gold"})
    assert response.status_code == 400 and "Unknown edition" in response.content.decode()
    assert owner_client.get(url).status_code == 400
    response = owner_client.post(url, {"edition": "trial", "digest": "0" * 64})  # refused
    page = owner_client.get(response["Location"]).content.decode()
    assert "An application never goes back to Trial" in page


def test_buy_an_addon_see_its_charge_then_cancel(owner_client, owner):
    app = application_create(account=owner.account, name="Addon app", region="cn")
    edition_change(application=app, edition_code="pro")
    buy = reverse("addon_buy", args=[app.sdkappid])

    response = owner_client.post(buy, {"item": "im.addon.avchatroom.pro"})
    assert response.status_code == 200 and "Confirm: buy" in response.content.decode()
    assert not AddOnSubscription.objects.filter(application=app).exists()  # not yet
    digest = confirmed(owner_client, buy, {"item": "im.addon.avchatroom.pro"})
    response = owner_client.post(buy, {"item": "im.addon.avchatroom.pro", "digest": digest})

    page = owner_client.get(response["Location"]).content.decode()
    assert "Bought Unlimited live groups (AVChatRoom) for Addon app." in page
    assert "Unlimited live groups (AVChatRoom), Addon app" in page  # the month's line
    assert "1,000.00 CNY" in page
    assert "1,999.00 CNY" in page  # so far: 999 Pro + 1000 AVChatRoom
    assert 'value="im.addon.avchatroom.pro"' not in page  # one option at a time
    subscription = AddOnSubscription.objects.get(application=app)

    response = owner_client.post(reverse("addon_cancel", args=[app.sdkappid, subscription.pk]))
    subscription.refresh_from_db()
    term_end = subscription.terms.get().ends_on
    assert subscription.ends_on == term_end  # runs to the end of the paid term
    page = owner_client.get(response["Location"]).content.decode()
    assert f"runs until {term_end.day} {term_end:%b %Y} and is not renewed" in page
    # Cancelling again is refused with a message, not an error page.
    response = owner_client.post(reverse("addon_cancel", args=[app.sdkappid, subscription.pk]))
    assert "already cancelled" in owner_client.get(response["Location"]).content.decode()


def test_trial_may_buy_local_moderation_but_no_value_added_service(owner_client, owner):
    app = application_create(account=owner.account, name="Trial app", region="cn")
    page = owner_client.get(reverse("application", args=[app.sdkappid])).content.decode()
    assert "Trial cannot buy value-added services: upgrade to Pro or Ultimate." in page
    assert 'value="im.addon.local_moderation"' in page
    assert 'value="im.addon.avchatroom.pro"' not in page

    response = owner_client.post(
        reverse("addon_buy", args=[app.sdkappid]), {"item": "im.addon.avchatroom.pro"}
    )
    page = owner_client.get(response["Location"]).content.decode()
    assert "Trial cannot buy value-added services" in page
    assert not AddOnSubscription.objects.filter(application=app).exists()


def test_ultimate_is_offered_only_ultimate_options(owner_client, owner):
    app = application_create(account=owner.account, name="Top app", region="cn")
    edition_change(application=app, edition_code="ultimate")
    page = owner_client.get(reverse("application", args=[app.sdkappid])).content.decode()
    assert 'value="im.addon.group_members.ultimate"' in page
    assert 'value="im.addon.group_members.pro"' not in page
    assert 'value="im.addon.avchatroom.pro"' not in page  # included in Ultimate


@pytest.mark.parametrize("item", ["", "no.such.item", "im.moderation_pack.monthly"])
def test_buying_nonsense_is_a_message_not_an_error(owner_client, owner, item):
    response = owner_client.post(reverse("addon_buy", args=[owner.app.sdkappid]), {"item": item})
    assert response.status_code == 302
    page = owner_client.get(response["Location"]).content.decode()
    assert 'class="message error"' in page


def test_buy_a_resource_pack(owner_client, owner):
    app = application_create(account=owner.account, name="Pack app", region="cn")
    url = reverse("pack_buy", args=[app.sdkappid])
    data = {"item": "im.moderation_pack.monthly"}
    response = owner_client.post(url, {**data, "digest": confirmed(owner_client, url, data)})
    page = owner_client.get(response["Location"]).content.decode()
    assert "Bought Moderation pack, monthly (1,100,000 units) for Pack app." in page
    assert "1,050.00 CNY" in page  # SPEC 4.4
    assert "<strong>1,100,000</strong> of 1,100,000" in page  # nothing used yet
    assert app.resource_packs.count() == 1


def test_charges_page_shows_each_day_with_its_explanation(owner_client, owner):
    yesterday = billing_today() - ONE_DAY
    # A second account of the same user, whose months are all open (the fixture closed last
    # month for Owner Co, and yesterday is in last month on the 1st).
    busy = account_create(name="Busy Co", email=owner.user.email)
    app = application_create(account=busy, name="Busy app", region="cn", created_on=yesterday)
    usage_events_ingest(
        events=[
            {
                "id": "a1",
                "application": app.sdkappid,
                "metric": "trtc.audio_seconds",
                "timestamp": f"{yesterday.isoformat()}T10:00:00+08:00",
                "value": 600,  # 10 minutes, all from the free allowance
            }
        ],
        caller=SYSTEM,
    )
    bill_day(day=yesterday)

    url = reverse("application_charges", args=[app.sdkappid])
    page = owner_client.get(url, {"month": f"{yesterday:%Y-%m}"}).content.decode()
    assert f"{yesterday.day} {yesterday:%b %Y}" in page
    assert "TRTC audio" in page and "free" in page.lower()
    app_page = owner_client.get(reverse("application", args=[app.sdkappid])).content.decode()
    assert "Recent daily charges" in app_page and "TRTC audio" in app_page
    assert "9,990" in app_page  # free minutes left: 10,000 - 10

    response = owner_client.get(url, {"month": "2026-13"})
    assert response.status_code == 400 and "is not a month" in response.content.decode()


def test_usage_charts_are_drawn_from_a_static_chart_library(owner_client, owner):
    page = owner_client.get(reverse("application", args=[owner.app.sdkappid])).content.decode()
    assert "/static/portal/vendor/chartjs/chart.umd.min.js" in page
    assert 'id="usage-data"' in page
    assert "//cdn" not in page and "https://" not in page


# --------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------


def test_invoice_list_and_detail(owner_client, owner):
    invoice = owner.invoice
    listing = owner_client.get(reverse("invoices")).content.decode()
    assert invoice.number in listing and "1,999.00 CNY" in listing

    page = owner_client.get(reverse("invoice", args=[invoice.pk])).content.decode()
    assert f"Invoice {invoice.number}" in page
    assert "IM Pro edition, Owner Co app" in page and "999.00 CNY" in page
    assert "Unlimited live groups (AVChatRoom), Owner Co app" in page
    assert 'data-testid="amount-due">1,999.00 CNY' in page

    pdf = owner_client.get(reverse("invoice_pdf", args=[invoice.pk]))
    assert pdf["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'


def test_credit_notes_payments_and_balance_as_the_customer_sees_them(owner_client, owner):
    invoice = owner.invoice  # 1999.00 CNY, finalized
    staff, _ = user_get_or_create(email="finance@example.com", is_staff=True)
    before = owner_client.get(reverse("dashboard")).content.decode()
    assert "you owe 1,999.00 CNY" in before  # nothing paid yet

    credit_note_issue(invoice=invoice, amount="100.00", reason="Outage on the 3rd", actor=staff)
    payment_record(
        account=owner.account,
        currency="CNY",
        amount="500.00",
        actor=staff,
        invoice=invoice,
        reference="WIRE-77",
    )

    page = owner_client.get(reverse("invoice", args=[invoice.pk])).content.decode()
    assert "Outage on the 3rd" in page and "WIRE-77" in page
    assert "−100.00 CNY" in page and "−500.00 CNY" in page
    assert 'data-testid="amount-due">1,399.00 CNY' in page  # 1999 - 100 - 500
    listing = owner_client.get(reverse("invoices")).content.decode()
    assert "Outage on the 3rd" in listing and "WIRE-77" in listing
    assert "you owe 1,399.00 CNY" in listing  # balance: -1999 + 100 + 500
    dashboard = owner_client.get(reverse("dashboard")).content.decode()
    assert "you owe 1,399.00 CNY" in dashboard

    payment_record(account=owner.account, currency="CNY", amount="1500.00", actor=staff)
    dashboard = owner_client.get(reverse("dashboard")).content.decode()
    assert "101.00 CNY in credit" in dashboard  # -1399 + 1500


def test_invoice_list_query_count_does_not_grow_with_invoices(
    owner_client, owner, django_assert_num_queries
):
    url = reverse("invoices")
    owner_client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as few:
        owner_client.get(url)
    for month in range(1, 11):
        InvoiceFactory(account=owner.account, month=dt.date(2020, month, 1))
    assert Invoice.objects.filter(account=owner.account).count() >= 11
    with django_assert_num_queries(len(few)):
        owner_client.get(url)


# --------------------------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------------------------


def test_api_key_is_shown_once_listed_by_prefix_and_revoked(owner_client, owner):
    response = owner_client.post(reverse("api_keys"), {"name": "usage reporter"})
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    key = ApiKey.objects.get(name="usage reporter")
    raw = response.context["created"]["raw_key"]
    assert raw.startswith(key.prefix + ".")
    assert raw in response.content.decode()
    assert key.key_hash == ApiKey.hash_key(raw) and raw not in key.key_hash  # hash only
    assert api_key_authenticate(raw) == key

    listing = owner_client.get(reverse("api_keys")).content.decode()
    assert raw not in listing  # shown once
    assert f"{key.prefix}…" in listing and "usage reporter" in listing

    response = owner_client.post(reverse("api_key_revoke", args=[key.pk]))
    assert response.status_code == 200 and "Confirm: revoke" in response.content.decode()
    key.refresh_from_db()
    assert key.revoked_at is None  # asked first
    response = owner_client.post(reverse("api_key_revoke", args=[key.pk]), {"confirm": key.pk})
    assert response["Location"] == reverse("api_keys")
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api_key_authenticate(raw) is None
    assert "Revoked" in owner_client.get(reverse("api_keys")).content.decode()
    # Revoking again changes nothing.
    revoked_at = key.revoked_at
    owner_client.post(reverse("api_key_revoke", args=[key.pk]), {"confirm": key.pk})
    key.refresh_from_db()
    assert key.revoked_at == revoked_at


def test_api_key_name_too_long_is_refused(owner_client):
    response = owner_client.post(reverse("api_keys"), {"name": "k" * 101})
    assert response.status_code == 400
    assert "at most 100 characters" in response.content.decode()


def test_revoke_asks_for_confirmation_first(owner_client, owner):
    response = owner_client.get(reverse("api_key_revoke", args=[owner.key.pk]))
    assert response.status_code == 200
    assert "Revoking is immediate and cannot be undone" in response.content.decode()
    response = owner_client.post(reverse("api_key_revoke", args=[owner.key.pk]), {"confirm": "1x"})
    assert response.status_code == 200  # a wrong confirmation only asks again
    owner.key.refresh_from_db()
    assert owner.key.revoked_at is None
