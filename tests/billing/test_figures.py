"""Figures a customer and an accountant can trust (issue 14): one month-to-date figure on every
surface, one issue date on page, PDF and API, plans that the action carries out exactly, the
billing profile frozen at finalization."""

import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader
from rest_framework.test import APIClient

from accounts.models import Account, Membership
from accounts.services import account_create, api_key_create
from billing import display
from billing.calendar import billing_today, billing_tz, month_start
from billing.errors import BillingError
from billing.models import AddOnSubscription, Invoice, PrepaidTerm
from billing.selectors import month_to_date
from billing.services import applications as app_services
from billing.services.closing import invoice_finalize
from billing.services.invoicing import invoice_refresh
from billing.services.jobs import bill_day
from billing.services.plans import plan_carry_out, plan_preview

pytestmark = pytest.mark.django_db


def api(account) -> APIClient:
    _, raw = api_key_create(account=account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def by_testid(html: str, name: str) -> str:
    match = re.search(rf'data-testid="{re.escape(name)}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no data-testid={name!r} on the page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


# --------------------------------------------------------------------------------------------
# One month-to-date figure: dashboard, draft page, API month-to-date, API draft
# --------------------------------------------------------------------------------------------


def test_every_demo_account_and_currency_reads_one_month_to_date_total(client):
    today = billing_today()
    call_command("seed_demo", days=3, stdout=io.StringIO(), stderr=io.StringIO())
    for back in range(3, 0, -1):
        bill_day(day=today - dt.timedelta(days=back))
    checked, estimates_seen = 0, 0
    for account in Account.objects.order_by("pk"):
        owner = Membership.objects.filter(account=account, role="owner").first().user
        client.force_login(owner)
        dashboard = client.get(reverse("dashboard")).content.decode()
        key_client = api(account)
        estimates = month_to_date(account_id=account.pk, today=today)
        assert estimates, f"{account.name} has nothing this month"
        for estimate in estimates:
            currency = estimate.currency
            expected = display.money(estimate.total, currency)
            # The dashboard.
            assert by_testid(dashboard, f"mtd-{account.pk}-{currency}") == expected
            # The draft invoice page: the same total, estimates marked.
            draft = invoice_refresh(account_id=account.pk, currency=currency, month=today)
            assert draft is not None and draft.is_draft
            page = client.get(reverse("invoice", args=[draft.pk])).content.decode()
            assert by_testid(page, "invoice-total") == expected
            estimated = [line for line in estimate.lines if line.get("estimate")]
            if estimated:
                estimates_seen += 1
                assert page.count('class="estimate"') == len(estimated)
                assert "Estimate so far" in page
            # The API's month-to-date, application by application, plus account adjustments.
            api_total = Decimal(0)
            for app in account.applications.all():
                body = key_client.get(f"/api/v1/applications/{app.sdkappid}/month-to-date")
                assert body.status_code == 200
                api_total += sum(
                    (Decimal(m["total"]) for m in body.json() if m["currency"] == currency),
                    Decimal(0),
                )
            adjustments = sum(
                (line["amount"] for line in estimate.lines if line["kind"] == "adjustment"),
                Decimal(0),
            )
            assert api_total + adjustments == estimate.total
            # The API's draft invoice, and the invoice list.
            body = key_client.get(f"/api/v1/invoices/{draft.pk}").json()
            assert Decimal(body["total"]) == estimate.total
            assert sum(1 for line in body["lines"] if line["estimate"]) == len(estimated)
            listed = key_client.get("/api/v1/invoices").json()["results"]
            assert [Decimal(i["total"]) for i in listed if i["id"] == draft.pk] == [estimate.total]
            checked += 1
    assert checked >= 3  # every demo account, each currency it bills in
    assert estimates_seen >= 1  # the demo's usage has monthly items so far


# --------------------------------------------------------------------------------------------
# Dates: an invoice finalized at 00:30 billing time reads one issue date everywhere
# --------------------------------------------------------------------------------------------


def test_finalized_at_0030_billing_time_has_one_issue_date_on_page_pdf_and_api(client, monkeypatch):
    account = account_create(name="Midnight Co", email="midnight@example.com", password="pw-x-1")
    app = app_services.application_create(
        account=account, name="Night app", region="cn", created_on=dt.date(2026, 10, 1)
    )
    app_services.edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 1))
    invoice = Invoice.objects.get(account=account, month=dt.date(2026, 10, 1))
    # 00:30 on 1 Nov in the billing time zone (UTC+08:00) is 16:30 UTC on 31 Oct.
    moment = dt.datetime(2026, 11, 1, 0, 30, tzinfo=billing_tz())
    assert moment.astimezone(dt.UTC) == dt.datetime(2026, 10, 31, 16, 30, tzinfo=dt.UTC)
    monkeypatch.setattr(timezone, "now", lambda: moment.astimezone(dt.UTC))
    invoice = invoice_finalize(invoice=invoice, actor=None)
    monkeypatch.undo()
    assert invoice.due_date == dt.date(2026, 11, 8)  # 7 days after 1 Nov (INVOICE_DUE_DAYS)

    client.force_login(account.memberships.get().user)
    page = client.get(reverse("invoice", args=[invoice.pk])).content.decode()
    assert by_testid(page, "issued-on") == "1 Nov 2026"
    assert by_testid(page, "due-date") == "8 Nov 2026"

    pdf = client.get(reverse("invoice_pdf", args=[invoice.pk])).content
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert re.search(r"Issued\s+1 Nov 2026", text) and re.search(r"Due\s+8 Nov 2026", text)
    assert not re.search(r"Issued\s+31 Oct", text)  # the UTC day never shows

    body = api(account).get(f"/api/v1/invoices/{invoice.number}").json()
    assert body["issued_on"] == "2026-11-01"
    assert body["finalized_at"] == "2026-11-01T00:30:00+08:00"  # RFC 3339 with the offset
    assert body["due_date"] == "2026-11-08"


# --------------------------------------------------------------------------------------------
# Plans: the preview is what the change writes
# --------------------------------------------------------------------------------------------


@pytest.fixture
def pro_with_avchatroom():
    """Pro from 10 Jan 2025 (term 10 Jan to 9 Feb, 31 days, 999.00 CNY) with AVChatRoom
    bought the same day (1,000.00 CNY, the same days)."""
    account = account_create(name="Plan Co", email="plan@example.com", password="pw-plan-1")
    start = dt.date(2025, 1, 10)
    app = app_services.application_create(
        account=account, name="Plan app", region="cn", created_on=start
    )
    app_services.edition_change(application=app, edition_code="pro", effective=start)
    app_services.addon_subscribe(application=app, item_code="im.addon.avchatroom.pro", day=start)
    return app


def test_edition_change_preview_lists_what_the_change_ends_credits_and_starts(
    pro_with_avchatroom,
):
    app = pro_with_avchatroom
    day = dt.date(2025, 1, 20)

    def run():
        return app_services.edition_change(application=app, edition_code="ultimate", effective=day)

    plan = plan_preview(action="edition_change", application=app, day=day, run=run)
    assert not app.edition_periods.filter(edition__code="ultimate").exists()  # nothing written

    # Unused days 20 Jan to 9 Feb, both included: 21 of 31 (SPEC 8).
    # Pro: 999 x 21 / 31 = 676.741... -> 676.74; AVChatRoom: 1000 x 21 / 31 = 677.419... -> 677.42
    credits = {c.item_code: (c.unused_days, c.total_days, c.credit) for c in plan.terms_credited}
    assert credits == {
        "im.edition.pro": (21, 31, Decimal("676.74")),
        "im.addon.avchatroom.pro": (21, 31, Decimal("677.42")),
    }
    assert [(a.item_code, a.ends_on) for a in plan.addons_ended] == [
        ("im.addon.avchatroom.pro", dt.date(2025, 1, 19))  # ended the day before the change
    ]
    assert [(t.item_code, t.starts_on, t.ends_on, t.amount) for t in plan.terms_started] == [
        ("im.edition.ultimate", day, dt.date(2025, 2, 19), Decimal("2999.00"))
    ]
    # On the January invoice: 2999 - 676.74 - 677.42 = 1644.84
    assert [(e["month"], e["amount"]) for e in plan.invoice_effects] == [
        (dt.date(2025, 1, 1), Decimal("1644.84"))
    ]

    plan_carry_out(
        action="edition_change",
        application=app,
        day=day,
        run=run,
        confirmed_digest=plan.digest,
    )
    # What the change wrote is the preview's figures.
    written = {
        t.item.code: (t.cut_on, t.credit_amount)
        for t in PrepaidTerm.objects.filter(application=app, cut_on__isnull=False)
    }
    assert written == {
        "im.edition.pro": (day, Decimal("676.74")),
        "im.addon.avchatroom.pro": (day, Decimal("677.42")),
    }
    ultimate = PrepaidTerm.objects.get(application=app, item__code="im.edition.ultimate")
    assert (ultimate.starts_on, ultimate.ends_on, ultimate.amount) == (
        day,
        dt.date(2025, 2, 19),
        Decimal("2999.00"),
    )
    sub = AddOnSubscription.objects.get(application=app)
    assert sub.ends_on == dt.date(2025, 1, 19)
    january = Invoice.objects.get(account=app.account, month=dt.date(2025, 1, 1))
    # 999 + 1000 (10 Jan purchases) + 2999 - 676.74 - 677.42
    assert january.total == Decimal("3643.84")


def test_an_action_whose_plan_changed_since_the_confirmation_writes_nothing(
    pro_with_avchatroom,
):
    app = pro_with_avchatroom
    day = dt.date(2025, 1, 20)

    def run():
        return app_services.resource_pack_purchase(
            application=app, item_code="im.moderation_pack.monthly", day=day
        )

    plan = plan_preview(action="pack", application=app, day=day, run=run)
    [pack] = plan.packs
    assert (pack.amount, pack.valid_from, pack.valid_until) == (
        Decimal("1050.00"),
        day,
        dt.date(2025, 2, 19),
    )
    before = app.resource_packs.count()
    with pytest.raises(BillingError) as refused:
        plan_carry_out(action="pack", application=app, day=day, run=run, confirmed_digest="0" * 64)
    assert refused.value.code == "plan_changed"
    assert app.resource_packs.count() == before
    plan_carry_out(action="pack", application=app, day=day, run=run, confirmed_digest=plan.digest)
    assert app.resource_packs.count() == before + 1


# --------------------------------------------------------------------------------------------
# The billing profile: the owner edits it, finalization freezes it
# --------------------------------------------------------------------------------------------


def test_owner_edits_the_billing_profile_and_finalization_freezes_it(client):
    account = account_create(name="Profile Co", email="profile@example.com", password="pw-p-1")
    owner = account.memberships.get().user
    app = app_services.application_create(
        account=account, name="P app", region="cn", created_on=dt.date(2026, 9, 1)
    )
    app_services.edition_change(application=app, edition_code="pro", effective=dt.date(2026, 9, 1))
    client.force_login(owner)
    url = reverse("billing_profile", args=[account.pk])
    response = client.post(
        url,
        {
            "billing_name": "Profile Company Ltd.",
            "billing_address": "8 Harbour Street\nHong Kong",
            "tax_id": "HK-12345678",
            "billing_email": "ap@profile.example",
        },
    )
    assert response.status_code == 302
    invoice = invoice_finalize(
        invoice=Invoice.objects.get(account=account, month=dt.date(2026, 9, 1)), actor=owner
    )
    account.refresh_from_db()
    assert account.tax_id == "HK-12345678"
    # A later change does not touch the issued invoice.
    client.post(url, {"billing_name": "Renamed", "billing_email": "new@profile.example"})
    page = client.get(reverse("invoice", args=[invoice.pk])).content.decode()
    assert "Profile Company Ltd." in page and "HK-12345678" in page and "Renamed" not in page
    assert "8 Harbour Street" in page and "ap@profile.example" in page

    # A member who is not the owner may not change it.
    member = account_create(name="Other", email="member@example.com", password="pw-m-1")
    member_user = member.memberships.get().user
    Membership.objects.create(user=member_user, account=account, role=Membership.Role.DEVELOPER)
    client.force_login(member_user)
    assert client.post(url, {"billing_email": "evil@example.com"}).status_code == 403
    account.refresh_from_db()
    assert account.billing_email == "new@profile.example"


def test_money_and_dates_read_one_way():
    assert display.money(Decimal("-28007.59"), "CNY") == "\u221228,007.59 CNY"
    assert display.money(Decimal("23.555"), "CNY") == "23.56 CNY"  # half-up, two decimals
    assert display.money(Decimal("0E-8"), "USD") == "0.00 USD"
    assert display.local_date(dt.datetime(2026, 12, 4, 16, 30, tzinfo=dt.UTC)) == "5 Dec 2026"
    assert month_start(dt.date(2026, 12, 5)) == dt.date(2026, 12, 1)
    # Units for people: plurals, never "2 block of DAUs" or "30 month".
    assert display.unit_plural("block of DAUs", 2) == "blocks of DAUs"
    assert display.unit_plural("block of DAUs", 1) == "block of DAUs"
    assert display.unit_plural("day", 30) == "days"
    assert display.unit_plural("units", 5) == "units"
