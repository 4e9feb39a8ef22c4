"""The invariants the database itself enforces on billing rows (SPEC 2, 3, 6).

Each rule of ``billing.models`` (every UniqueConstraint and CheckConstraint, and every unique
field) is broken here by a direct write, and the database must refuse it with IntegrityError
naming that rule (``violates``). Where it shows the rule is not broader than it should be,
the valid neighbour is written too. Catalog rules are broken by updating the loaded
reference price book inside the savepoint that the refusal rolls back; factories never
create catalog rows.
"""

import datetime as dt
from contextlib import nullcontext
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.models import (
    AddOn,
    AddOnSubscription,
    Application,
    BillableItem,
    Charge,
    ChargeCoverage,
    DocumentSequence,
    Edition,
    EditionPeriod,
    Invoice,
    InvoiceLine,
    PrepaidTerm,
    PriceBook,
    PriceEntry,
    Product,
    RatedDay,
    ResourcePack,
    UsageEvent,
)
from tests.factories import (
    AddOnSubscriptionFactory,
    AdjustmentFactory,
    ApplicationFactory,
    ChargeCoverageFactory,
    ChargeFactory,
    CreditNoteFactory,
    EditionPeriodFactory,
    InvoiceFactory,
    InvoiceLineFactory,
    PaymentFactory,
    PrepaidTermFactory,
    ResourcePackFactory,
    UsageEventFactory,
    billable_item,
    edition,
    price_entry,
    violates,
)

pytestmark = pytest.mark.django_db

D = Decimal
MARCH_15 = dt.date(2025, 3, 15)
APRIL_15 = dt.date(2025, 4, 15)
ONE_DAY = dt.timedelta(days=1)


def _text(value) -> str:
    """A value as a test id shows it: Decimals in plain notation (0.00000001, not 1E-8)."""
    return f"{value:f}" if isinstance(value, Decimal) else str(value)


def refused_unless(allowed: bool, model, *rules: str):
    """Run the write as is when ``allowed``, else expect one of ``rules`` to refuse it."""
    return nullcontext() if allowed else violates(model, *rules)


# --------------------------------------------------------------------------------------------
# Catalog and price book (loaded rows, changed only inside the refused savepoint)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "field", "changed", "taken_from"),
    [
        pytest.param(Product, "code", {"code": "trtc"}, {"code": "im"}, id="product_code"),
        pytest.param(Edition, "code", {"code": "pro"}, {"code": "trial"}, id="edition_code"),
        pytest.param(Edition, "rank", {"code": "pro"}, {"code": "trial"}, id="edition_rank"),
        pytest.param(AddOn, "code", {"code": "calls"}, {"code": "avchatroom"}, id="addon_code"),
        pytest.param(
            BillableItem,
            "code",
            {"code": "trtc.video.sd"},
            {"code": "trtc.audio"},
            id="billable_item_code",
        ),
    ],
)
def test_catalog_codes_are_unique(model, field, changed, taken_from):
    taken = getattr(model.objects.get(**taken_from), field)

    with violates(model, field):
        model.objects.filter(**changed).update(**{field: taken})


def test_one_price_book_per_product_and_region():
    im = Product.objects.get(code="im")

    with violates(PriceBook, "pricebook_product_region"):
        PriceBook.objects.filter(product__code="trtc", region="cn").update(product=im)


@pytest.mark.parametrize(
    ("kind", "allowed"),
    [
        (BillableItem.Kind.ADDON_FEE, True),
        (BillableItem.Kind.ADDON_ACCRUAL, True),
        (BillableItem.Kind.USAGE, False),
        (BillableItem.Kind.RESOURCE_PACK, False),
        (BillableItem.Kind.EDITION_FEE, False),
    ],
)
def test_only_addon_items_belong_to_an_addon(kind, allowed):
    # given an option of the calls add-on (an addon_fee item with addon set)
    calls_basic = BillableItem.objects.filter(code="im.addon.calls.basic")

    # when its kind changes, then only the two add-on kinds keep the add-on
    with refused_unless(allowed, BillableItem, "item_addon_only_on_addon_kinds"):
        calls_basic.update(kind=kind)


def test_one_price_entry_per_book_item_and_effective_date():
    # given Pro's fee in the cn IM book, effective from the price book's first day
    pro = price_entry("im.edition.pro", "cn")

    # then another entry of the same book, item and day is refused...
    with violates(PriceEntry, "price_entry_version_uniq"):
        PriceEntry.objects.filter(pk=price_entry("im.edition.trial", "cn").pk).update(item=pro.item)

    # ...while a new version from a later day, and the same day in another book, are fine
    PriceEntry.objects.create(
        price_book=pro.price_book,
        item=pro.item,
        effective_from=pro.effective_from + dt.timedelta(days=365),
        unit_price=D("1099"),
        source="staff",
    )
    assert price_entry("im.edition.pro", "intl").effective_from == pro.effective_from


# (field, value, the rule, whether the rule lets the value through)
PRICE_ENTRY_VALUES = [
    ("unit_price", D("0"), "price_nonnegative", True),  # Trial's fee
    ("unit_price", D("-0.000001"), "price_nonnegative", False),
    ("per_quantity", D("0.0001"), "price_per_positive", True),
    ("per_quantity", D("0"), "price_per_positive", False),
    ("included_quantity", None, "price_included_nonnegative", True),
    ("included_quantity", D("0"), "price_included_nonnegative", True),
    ("included_quantity", D("-1"), "price_included_nonnegative", False),
    ("deduction_ratio", None, "price_ratio_positive", True),
    ("deduction_ratio", D("0"), "price_ratio_positive", False),
    ("validity_months", None, "price_validity_positive", True),
    ("validity_months", 0, "price_validity_positive", False),
]


@pytest.mark.parametrize(
    ("field", "value", "rule", "allowed"),
    [
        pytest.param(*row, id=f"{row[2]}-{row[0]}={_text(row[1])}-{'ok' if row[3] else 'refused'}")
        for row in PRICE_ENTRY_VALUES
    ],
)
def test_price_entry_values_in_range(field, value, rule, allowed):
    pack_price = PriceEntry.objects.filter(pk=price_entry("im.moderation_pack.monthly", "cn").pk)

    with refused_unless(allowed, PriceEntry, rule):
        pack_price.update(**{field: value})


# --------------------------------------------------------------------------------------------
# Applications and what they bought
# --------------------------------------------------------------------------------------------


def test_sdkappid_is_unique():
    taken = ApplicationFactory()

    with violates(Application, "sdkappid"):
        ApplicationFactory(sdkappid=taken.sdkappid)


@pytest.mark.parametrize(("sdkappid", "allowed"), [(0, False), (1, True)])
def test_sdkappid_is_positive(sdkappid, allowed):
    with refused_unless(allowed, Application, "application_sdkappid_positive"):
        ApplicationFactory(sdkappid=sdkappid)


def test_one_current_edition_per_application():
    # given an application that was on Trial in January and is on Pro since February
    application = ApplicationFactory()
    EditionPeriodFactory(
        application=application, starts_on=dt.date(2025, 1, 1), ends_on=dt.date(2025, 1, 31)
    )
    EditionPeriodFactory(
        application=application, edition=edition("pro"), starts_on=dt.date(2025, 2, 1)
    )

    # then a second open period is refused
    with violates(EditionPeriod, "one_current_edition_per_application"):
        EditionPeriodFactory(
            application=application, edition=edition("ultimate"), starts_on=MARCH_15
        )

    # while another application has its own current period
    EditionPeriodFactory(starts_on=MARCH_15)


def test_closed_edition_periods_are_not_limited():
    application = ApplicationFactory()

    for month in (1, 2, 3):
        EditionPeriodFactory(
            application=application,
            starts_on=dt.date(2025, month, 1),
            ends_on=dt.date(2025, month, 28),
        )

    assert application.edition_periods.count() == 3


def test_one_edition_period_per_application_and_start():
    application = ApplicationFactory()
    EditionPeriodFactory(application=application, starts_on=MARCH_15, ends_on=MARCH_15)

    with violates(EditionPeriod, "edition_period_start_uniq"):
        EditionPeriodFactory(
            application=application, edition=edition("pro"), starts_on=MARCH_15, ends_on=None
        )


@pytest.mark.parametrize(
    ("factory_class", "start", "end", "rule"),
    [
        (EditionPeriodFactory, "starts_on", "ends_on", "edition_period_ends_after_start"),
        (AddOnSubscriptionFactory, "starts_on", "ends_on", "addon_subscription_ends_after_start"),
        (PrepaidTermFactory, "starts_on", "ends_on", "term_ends_after_start"),
        (ResourcePackFactory, "valid_from", "valid_until", "pack_valid_window"),
    ],
    ids=["edition_period", "addon_subscription", "prepaid_term", "resource_pack"],
)
def test_periods_end_on_or_after_their_start(factory_class, start, end, rule):
    # Ends are inclusive: a window of one day ends on the day it starts.
    factory_class(**{start: MARCH_15, end: MARCH_15})

    with violates(factory_class._meta.model, rule):
        factory_class(**{start: MARCH_15, end: MARCH_15 - ONE_DAY})


def test_one_running_option_per_addon():
    # given an application with the group member limit add-on at 2000 per group
    application = ApplicationFactory()
    AddOnSubscriptionFactory(
        application=application, item=billable_item("im.addon.group_members.pro")
    )

    # then another option of the same add-on cannot run beside it
    with violates(AddOnSubscription, "one_running_option_per_addon"):
        AddOnSubscriptionFactory(
            application=application, item=billable_item("im.addon.group_members.ultimate")
        )

    # while a different add-on can, and so can an ended option of the same add-on
    AddOnSubscriptionFactory(application=application, item=billable_item("im.addon.avchatroom.pro"))
    AddOnSubscriptionFactory(
        application=application,
        item=billable_item("im.addon.group_members.ultimate"),
        starts_on=dt.date(2025, 1, 15),
        ends_on=dt.date(2025, 2, 14),
    )


def test_one_prepaid_term_per_application_item_and_start():
    term = PrepaidTermFactory()

    with violates(PrepaidTerm, "prepaid_term_uniq"):
        PrepaidTermFactory(application=term.application, item=term.item)

    # The next term, and another item's term starting the same day, are fine.
    PrepaidTermFactory(application=term.application, item=term.item, term_index=1)
    PrepaidTermFactory(application=term.application, item=billable_item("im.addon.avchatroom.pro"))


@pytest.mark.parametrize(
    ("cut_on", "credit", "allowed"),
    [
        # The default term is Pro bought 15 Mar 2025 for 999.00, running to 14 Apr.
        (None, None, True),  # not cut short
        (APRIL_15, D("0.00"), True),  # cut the day after its last day: nothing unused
        (MARCH_15, D("999.00"), True),  # cut on its first day: the whole fee back
        (MARCH_15, D("-0.01"), False),
        (MARCH_15, D("999.01"), False),  # more than was paid
    ],
    ids=["not_cut", "nothing_unused", "whole_fee", "negative", "more_than_fee"],
)
def test_prepaid_term_credit_within_its_fee(cut_on, credit, allowed):
    with refused_unless(allowed, PrepaidTerm, "term_credit_within_fee"):
        PrepaidTermFactory(amount=D("999.00"), cut_on=cut_on, credit_amount=credit)


def test_one_minute_pack_per_prepaid_term():
    # A call-minute add-on term grants one pack of minutes, paid by the term (amount 0).
    term = PrepaidTermFactory(item=billable_item("im.addon.calls.basic"))
    grant = {
        "application": term.application,
        "item": term.item,
        "price_entry": term.price_entry,
        "covers": BillableItem.Covers.CALL_MINUTES,
        "units_total": D("110000"),
        "valid_from": term.starts_on,
        "valid_until": term.ends_on,
        "amount": D("0.00"),
        "term": term,
    }
    ResourcePackFactory(**grant)

    with violates(ResourcePack, "term"):
        ResourcePackFactory(**grant)


# --------------------------------------------------------------------------------------------
# Usage, rated days and charges
# --------------------------------------------------------------------------------------------


def test_event_id_unique_per_application():
    event = UsageEventFactory()

    with violates(UsageEvent, "usage_event_id_per_application"):
        UsageEventFactory(application=event.application, event_id=event.event_id)

    # Senders choose ids, so another application may use the same one.
    UsageEventFactory(event_id=event.event_id)


def test_one_rated_day_per_application_and_day():
    application = ApplicationFactory()
    RatedDay.objects.create(application=application, day=MARCH_15, state=RatedDay.State.RATED)

    with violates(RatedDay, "rated_day_uniq"):
        RatedDay.objects.create(application=application, day=MARCH_15, state="stale")

    RatedDay.objects.create(application=application, day=MARCH_15 + ONE_DAY, state="stale")


def test_one_charge_per_application_item_and_day():
    # given 1000 minutes of TRTC audio rated for 10 March
    charge = ChargeFactory()

    # then a second audio charge of that application and day is refused...
    with violates(Charge, "one_charge_per_app_item_day"):
        ChargeFactory(application=charge.application, item=charge.item, day=charge.day)

    # ...but the next day, another item and another application are charged separately
    ChargeFactory(application=charge.application, item=charge.item, day=charge.day + ONE_DAY)
    ChargeFactory(application=charge.application, item=billable_item("trtc.video.hd"))
    ChargeFactory(item=charge.item, day=charge.day)


def test_coverage_names_a_pack_exactly_when_a_pack_covers():
    pack = ResourcePackFactory()
    charge = ChargeFactory(application=pack.application, covered_quantity=D("400"))
    allowance, from_pack = ChargeCoverage.Source.ALLOWANCE, ChargeCoverage.Source.PACK

    ChargeCoverageFactory(charge=charge, source=allowance, pack=None)
    ChargeCoverageFactory(charge=charge, source=from_pack, pack=pack)
    for source, wrong_pack in [(from_pack, None), (allowance, pack)]:
        with violates(ChargeCoverage, "coverage_pack_iff_pack_source"):
            ChargeCoverageFactory(charge=charge, source=source, pack=wrong_pack)


# Range rules of single rows: (factory, overrides, the rule they test). Charges are 1000
# minutes at 7 CNY per 1000 by default; other fields are pinned where the default follows the
# override, so that only the rule under test can refuse the row.
REFUSED_VALUES = [
    # A negative quantity also breaks covered <= quantity (covered is never negative), so
    # PostgreSQL and SQLite may report either rule.
    (
        ChargeFactory,
        {"quantity": D("-1"), "billable_quantity": D("0"), "amount": D("0")},
        ("charge_quantity_nonneg", "charge_covered_within_quantity"),
    ),
    (
        ChargeFactory,
        {"covered_quantity": D("1000.000001"), "billable_quantity": D("0")},
        "charge_covered_within_quantity",
    ),
    (
        ChargeFactory,
        {"covered_quantity": D("-1"), "billable_quantity": D("1000")},
        "charge_covered_within_quantity",
    ),
    (
        ChargeFactory,
        {"billable_quantity": D("-0.000001"), "amount": D("0")},
        "charge_billable_nonneg",
    ),
    (ChargeFactory, {"unit_price": D("-0.000001"), "amount": D("0")}, "charge_price_nonneg"),
    (ChargeFactory, {"amount": D("-0.00000001")}, "charge_amount_nonneg"),
    (ChargeCoverageFactory, {"usage_quantity": D("-1")}, "coverage_nonnegative"),
    (ChargeCoverageFactory, {"units_used": D("-1")}, "coverage_nonnegative"),
    (UsageEventFactory, {"value": D("-0.000001")}, "usage_value_nonnegative"),
    (PrepaidTermFactory, {"amount": D("-0.01")}, "term_amount_nonnegative"),
    (ResourcePackFactory, {"units_total": D("0")}, "pack_units_positive"),
    (ResourcePackFactory, {"amount": D("-0.01")}, "pack_amount_nonnegative"),
    (InvoiceFactory, {"month": MARCH_15}, "invoice_month_first_day"),
    (InvoiceLineFactory, {"quantity": D("-1")}, "line_quantity_nonneg"),
    (AdjustmentFactory, {"amount": D("0.00")}, "adjustment_nonzero"),
    (AdjustmentFactory, {"reason": ""}, "adjustment_has_reason"),
    (CreditNoteFactory, {"amount": D("0.00")}, "credit_note_positive"),
    (CreditNoteFactory, {"amount": D("-10.00")}, "credit_note_positive"),
    (CreditNoteFactory, {"reason": ""}, "credit_note_has_reason"),
    (PaymentFactory, {"amount": D("0.00")}, "payment_positive"),
    (PaymentFactory, {"amount": D("-100.00")}, "payment_positive"),
]

# The boundary values next to them, which the same rules must let through.
ALLOWED_VALUES = [
    (
        ChargeFactory,
        {"quantity": D("0"), "billable_quantity": D("0"), "amount": D("0")},
        "charge_quantity_nonneg",
    ),
    (
        ChargeFactory,
        {"covered_quantity": D("1000"), "billable_quantity": D("0"), "amount": D("0")},
        "charge_covered_within_quantity",
    ),
    (ChargeFactory, {"unit_price": D("0"), "amount": D("0")}, "charge_price_nonneg"),
    (UsageEventFactory, {"value": D("0")}, "usage_value_nonnegative"),
    (PrepaidTermFactory, {"amount": D("0.00")}, "term_amount_nonnegative"),  # Trial's fee
    (ResourcePackFactory, {"units_total": D("0.000001")}, "pack_units_positive"),
    (ResourcePackFactory, {"amount": D("0.00")}, "pack_amount_nonnegative"),  # a minute grant
    (InvoiceFactory, {"month": dt.date(2025, 3, 1)}, "invoice_month_first_day"),
    (InvoiceLineFactory, {"quantity": D("0")}, "line_quantity_nonneg"),
    (AdjustmentFactory, {"amount": D("-0.01")}, "adjustment_nonzero"),
    (AdjustmentFactory, {"amount": D("0.01")}, "adjustment_nonzero"),
    (CreditNoteFactory, {"amount": D("0.01")}, "credit_note_positive"),
    (PaymentFactory, {"amount": D("0.01")}, "payment_positive"),
]


def _range_cases(rows):
    """pytest params named after the rule and the override, e.g. payment_positive-amount=0.00."""
    cases = []
    for factory_class, overrides, rules in rows:
        rules = (rules,) if isinstance(rules, str) else rules
        changed = ",".join(f"{field}={_text(value)}" for field, value in overrides.items())
        cases.append(pytest.param(factory_class, overrides, rules, id=f"{rules[0]}-{changed}"))
    return cases


@pytest.mark.parametrize(("factory_class", "overrides", "rules"), _range_cases(REFUSED_VALUES))
def test_values_past_a_check_constraint_are_refused(factory_class, overrides, rules):
    with violates(factory_class._meta.model, *rules):
        factory_class(**overrides)


@pytest.mark.parametrize(("factory_class", "overrides", "rules"), _range_cases(ALLOWED_VALUES))
def test_values_at_the_boundary_of_a_check_constraint_are_allowed(factory_class, overrides, rules):
    row = factory_class(**overrides)

    assert row.pk is not None


# --------------------------------------------------------------------------------------------
# Invoices, numbers and the documents around them
# --------------------------------------------------------------------------------------------


def test_one_invoice_per_account_currency_and_month():
    # given the draft CNY invoice of March 2025
    march = InvoiceFactory()

    # then a second one for the same account, currency and month is refused
    with violates(Invoice, "one_invoice_per_account_currency_month"):
        InvoiceFactory(account=march.account, currency=march.currency, month=march.month)

    # while USD of the same month (a TRTC intl application), April, and another account are fine
    InvoiceFactory(account=march.account, currency="USD", month=march.month)
    InvoiceFactory(account=march.account, currency=march.currency, month=dt.date(2025, 4, 1))
    InvoiceFactory(currency=march.currency, month=march.month)


@pytest.mark.parametrize(
    ("state", "number", "allowed"),
    [
        (Invoice.State.DRAFT, None, True),
        (Invoice.State.DRAFT, "INV-2025-000001", False),
        (Invoice.State.FINALIZED, "INV-2025-000001", True),
        (Invoice.State.FINALIZED, None, False),
        (Invoice.State.PAID, None, False),
        (Invoice.State.VOID, None, False),
    ],
)
def test_invoice_number_only_when_issued(state, number, allowed):
    dates = {}
    if state != Invoice.State.DRAFT:
        # Issued invoices carry their dates (invoice_issued_has_dates, tested below).
        dates = {
            "finalized_at": dt.datetime(2025, 4, 1, tzinfo=dt.UTC),
            "due_date": dt.date(2025, 4, 8),
        }
    with refused_unless(allowed, Invoice, "invoice_number_iff_issued"):
        InvoiceFactory(state=state, number=number, **dates)


@pytest.mark.parametrize("missing", ["finalized_at", "due_date"])
def test_issued_invoice_has_finalization_time_and_due_date(missing):
    values = {
        "finalized_at": dt.datetime(2025, 4, 1, tzinfo=dt.UTC),
        "due_date": dt.date(2025, 4, 8),
        missing: None,
    }
    with refused_unless(False, Invoice, "invoice_issued_has_dates"):
        InvoiceFactory(state=Invoice.State.FINALIZED, number="INV-2025-000009", **values)


@pytest.mark.parametrize(
    ("model_factory", "field", "constraint"),
    [
        (
            lambda v: InvoiceFactory(
                state=v,
                number="INV-2025-000010",
                finalized_at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC),
                due_date=dt.date(2025, 4, 8),
            ),
            "bogus",
            "invoice_state_valid",
        ),
        (lambda v: InvoiceFactory(currency=v), "EUR", "invoice_currency_valid"),
        (lambda v: ApplicationFactory(region=v), "mars", "application_region_valid"),
        (lambda v: ApplicationFactory(status=v), "sleeping", "application_status_valid"),
        (lambda v: UsageEventFactory(metric=v), "im.unknown", "usage_metric_valid"),
    ],
    ids=["invoice-state", "invoice-currency", "app-region", "app-status", "usage-metric"],
)
def test_choices_are_enforced_by_the_database(model_factory, field, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        model_factory(field)


@pytest.mark.parametrize(
    ("factory_class", "issued"),
    [
        pytest.param(InvoiceFactory, {"finalized": True}, id="invoice"),
        pytest.param(InvoiceFactory, {"void": True}, id="void_invoice"),
        pytest.param(CreditNoteFactory, {}, id="credit_note"),
    ],
)
def test_document_numbers_are_unique(factory_class, issued):
    first = factory_class(**issued)

    # A voided invoice keeps its number: it is never issued again.
    with violates(factory_class._meta.model, "number"):
        factory_class(number=first.number, **issued)


def test_one_document_sequence_per_kind_and_year():
    DocumentSequence.objects.create(kind="invoice", year=2025, last_number=41)

    with violates(DocumentSequence, "document_sequence_uniq"):
        DocumentSequence.objects.create(kind="invoice", year=2025)

    DocumentSequence.objects.create(kind="invoice", year=2026)
    DocumentSequence.objects.create(kind="credit_note", year=2025)


def test_one_invoice_line_per_adjustment():
    adjustment = AdjustmentFactory()
    line = {
        "invoice": adjustment.invoice,
        "kind": InvoiceLine.Kind.ADJUSTMENT,
        "application": None,
        "item": None,
        "description": adjustment.reason,
        "quantity": D("0"),
        "unit_price": None,
        "exact_amount": adjustment.amount,
        "adjustment": adjustment,
    }
    InvoiceLineFactory(**line)

    with violates(InvoiceLine, "adjustment"):
        InvoiceLineFactory(**line)
