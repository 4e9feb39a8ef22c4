"""Options sold for one edition end when the application leaves it (ours: SPEC 4.3 sells
AVChatRoom to Pro only because Ultimate includes it): the prepaid term is cut with the same
proration credit as the edition's, so the customer never pays twice."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.services import account_create
from billing.models import AddOnSubscription, Invoice, InvoiceLine, PrepaidTerm
from billing.services.applications import addon_subscribe, application_create, edition_change

pytestmark = pytest.mark.django_db

OCT_1 = dt.date(2026, 10, 1)


@pytest.fixture
def pro_with_options():
    account = account_create(name="Options Co", email="options@example.com")
    app = application_create(account=account, name="chat", region="cn", created_on=OCT_1)
    edition_change(application=app, edition_code="pro", effective=dt.date(2026, 10, 5))
    avchatroom = addon_subscribe(
        application=app, item_code="im.addon.avchatroom.pro", day=dt.date(2026, 10, 5)
    )
    calls = addon_subscribe(
        application=app, item_code="im.addon.calls.basic", day=dt.date(2026, 10, 5)
    )
    return app, avchatroom, calls


def test_upgrade_ends_pro_only_options_with_a_credit(pro_with_options):
    app, avchatroom, calls = pro_with_options

    edition_change(application=app, edition_code="ultimate", effective=dt.date(2026, 10, 20))

    avchatroom.refresh_from_db()
    assert avchatroom.ends_on == dt.date(2026, 10, 19)
    term = PrepaidTerm.objects.get(item__code="im.addon.avchatroom.pro")
    # Term 5 Oct - 4 Nov (31 days), cut on 20 Oct: 16 unused days; 1000 x 16 / 31 = 516.13
    assert (term.cut_on, term.credit_amount) == (dt.date(2026, 10, 20), Decimal("516.13"))
    calls.refresh_from_db()
    assert calls.ends_on is None  # the calls option is sold to both editions: it runs on
    invoice = Invoice.objects.get(account=app.account)
    credits = invoice.lines.filter(kind=InvoiceLine.Kind.PRORATION)
    # Pro 999 x 16/31 = 515.61 and AVChatRoom 1000 x 16/31 = 516.13
    assert sorted(credits.values_list("amount", flat=True)) == [
        Decimal("-516.13"),
        Decimal("-515.61"),
    ]
    assert not AddOnSubscription.objects.filter(
        application=app, item__code="im.addon.avchatroom.pro", ends_on__isnull=True
    ).exists()
