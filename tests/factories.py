"""Factories for the whole test suite, and look-ups of the reference price book.

Catalog rows (products, price books, editions, add-ons, billable items, price entries) are
reference data loaded by ``billing/migrations/0002_reference_price_book.py`` into every test
database: factories look them up with ``edition()``, ``billable_item()``, ``addon()`` and
``price_entry()`` and never create them.

Defaults are fixed dates in March 2025 and amounts taken from the price book, as ``Decimal``
(never floats), so a test that does not override them still gets self-consistent rows.
Factory-made document numbers start with ``TEST-`` so they never collide with the gapless
``INV-<year>-<n>`` numbers the services issue.
"""

import datetime as dt
import secrets
from contextlib import contextmanager
from decimal import Decimal
from functools import cache

import factory
import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, connection, transaction
from django.db.models import CheckConstraint, F, UniqueConstraint
from factory.django import DjangoModelFactory

from accounts.models import Account, ApiKey, Membership
from billing.calendar import billing_day_of, billing_tz
from billing.models import (
    AddOn,
    AddOnSubscription,
    Adjustment,
    Application,
    AuditRecord,
    BillableItem,
    Charge,
    ChargeCoverage,
    CreditNote,
    Edition,
    EditionPeriod,
    Invoice,
    InvoiceLine,
    Metric,
    Payment,
    PrepaidTerm,
    PriceBook,
    PriceEntry,
    Region,
    ResourcePack,
    UsageEvent,
)
from billing.money import exact, round_money
from billing.rating.terms import term_bounds, term_start

USER_PASSWORD = "factory-user-password-1"
FIRST_SDKAPPID = 1400000001


# --------------------------------------------------------------------------------------------
# The reference price book (looked up, never created)
# --------------------------------------------------------------------------------------------


def edition(code: str) -> Edition:
    """An IM edition of the reference price book: "trial", "pro" or "ultimate"."""
    return Edition.objects.get(code=code)


def addon(code: str) -> AddOn:
    return AddOn.objects.get(code=code)


def billable_item(code: str) -> BillableItem:
    return BillableItem.objects.select_related("product", "addon", "edition").get(code=code)


def price_book(product_code: str, region: str) -> PriceBook:
    return PriceBook.objects.get(product__code=product_code, region=region)


def price_entry(item_code: str, region: str, on: dt.date | None = None) -> PriceEntry:
    """The entry of item ``item_code`` in the price book of the item's product and ``region``:
    the newest version, or the one in force on ``on``."""
    entries = PriceEntry.objects.select_related("price_book", "item").filter(
        item__code=item_code,
        price_book__product=F("item__product"),
        price_book__region=region,
    )
    if on is not None:
        entries = entries.filter(effective_from__lte=on)
    return entries.latest("effective_from")


# --------------------------------------------------------------------------------------------
# People and accounts
# --------------------------------------------------------------------------------------------


@cache
def _password_hash() -> str:
    # Hashing is deliberately slow; one hash serves every factory user of the session.
    return make_password(USER_PASSWORD)


class UserFactory(DjangoModelFactory):
    """A django.contrib.auth user who logs in with the e-mail address as username."""

    class Meta:
        model = settings.AUTH_USER_MODEL

    class Params:
        staff = factory.Trait(is_staff=True)

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    username = factory.LazyAttribute(lambda o: o.email)
    password = factory.LazyFunction(_password_hash)  # log in with USER_PASSWORD


class AccountFactory(DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Customer {n} Ltd")
    billing_email = factory.Sequence(lambda n: f"billing{n}@example.com")
    billing_address = "1 Billing Road, Shenzhen"


class MembershipFactory(DjangoModelFactory):
    """The account's owner by default; pass role=Membership.Role.MEMBER for a member."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Membership.Role.OWNER


class ApiKeyFactory(DjangoModelFactory):
    """An account key (``service=True``: a service key, with no account). Only the hash of
    the raw key is stored; use ``create_with_raw_key`` when a test needs the bearer token."""

    class Meta:
        model = ApiKey

    class Params:
        service = factory.Trait(is_service=True, account=None)
        raw_key = factory.LazyAttribute(lambda o: f"{o.prefix}.{secrets.token_urlsafe(32)}")

    account = factory.SubFactory(AccountFactory)
    is_service = False
    name = factory.Sequence(lambda n: f"key {n}")
    # Same shape as accounts.services.api_key_create: "key_" or "svc_" and 8 hex digits.
    prefix = factory.Sequence(lambda n: f"key_{n:08x}")
    key_hash = factory.LazyAttribute(lambda o: ApiKey.hash_key(o.raw_key))

    @classmethod
    def create_with_raw_key(cls, **kwargs) -> tuple[ApiKey, str]:
        """The key and its bearer token, like ``api_key_create`` returns them."""
        is_service = kwargs.get("service") or kwargs.get("is_service")
        prefix = kwargs.setdefault(
            "prefix", ("svc_" if is_service else "key_") + secrets.token_hex(4)
        )
        raw_key = kwargs.setdefault("raw_key", f"{prefix}.{secrets.token_urlsafe(32)}")
        return cls.create(**kwargs), raw_key


# --------------------------------------------------------------------------------------------
# Applications and what they bought
# --------------------------------------------------------------------------------------------


# Applications are created long before the days the tests report usage for (ingestion refuses
# a timestamp before the application's creation day); auto_now_add ignores a value given to
# create(), hence the update in ApplicationFactory._create.
APPLICATION_CREATED_AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


class ApplicationFactory(DjangoModelFactory):
    """An active application in region cn. It has no edition period: create one with
    EditionPeriodFactory (the services give every new application a Trial period)."""

    class Meta:
        model = Application

    sdkappid = factory.Sequence(lambda n: FIRST_SDKAPPID + n)
    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"App {n}")
    region = Region.CN

    @classmethod
    def _create(cls, model_class, *args, created_at=None, **kwargs):
        application = super()._create(model_class, *args, **kwargs)
        application.created_at = created_at or APPLICATION_CREATED_AT
        model_class.objects.filter(pk=application.pk).update(created_at=application.created_at)
        return application


class EditionPeriodFactory(DjangoModelFactory):
    """The current (open) period of an edition, Trial by default."""

    class Meta:
        model = EditionPeriod

    application = factory.SubFactory(ApplicationFactory)
    edition = factory.LazyFunction(lambda: edition("trial"))
    starts_on = dt.date(2025, 3, 1)
    ends_on = None


class AddOnSubscriptionFactory(DjangoModelFactory):
    """A running option of an add-on: unlimited live groups (AVChatRoom, Pro) by default.
    ``addon`` follows the item."""

    class Meta:
        model = AddOnSubscription

    application = factory.SubFactory(ApplicationFactory)
    item = factory.LazyFunction(lambda: billable_item("im.addon.avchatroom.pro"))
    addon = factory.LazyAttribute(lambda o: o.item.addon)
    starts_on = dt.date(2025, 3, 15)
    ends_on = None


class PrepaidTermFactory(DjangoModelFactory):
    """Term ``term_index`` of a Pro edition bought on 15 Mar 2025 (term 0: 15 Mar to 14 Apr),
    at the price-book fee of the application's region. Dates follow SPEC 3 via term_bounds."""

    class Meta:
        model = PrepaidTerm

    application = factory.SubFactory(ApplicationFactory)
    item = factory.LazyFunction(lambda: billable_item("im.edition.pro"))
    price_entry = factory.LazyAttribute(
        lambda o: price_entry(o.item.code, o.application.region, on=o.starts_on)
    )
    subscription = None
    anchor_date = dt.date(2025, 3, 15)
    term_index = 0
    starts_on = factory.LazyAttribute(lambda o: term_start(o.anchor_date, o.term_index))
    ends_on = factory.LazyAttribute(lambda o: term_bounds(o.anchor_date, o.term_index)[1])
    currency = factory.LazyAttribute(lambda o: o.price_entry.price_book.currency)
    amount = factory.LazyAttribute(lambda o: round_money(o.price_entry.unit_price, o.currency))
    cut_on = None
    credit_amount = None


class ResourcePackFactory(DjangoModelFactory):
    """A bought monthly moderation pack (1,100,000 units for 1050 CNY), valid from 1 Mar 2025
    for the entry's validity_months."""

    class Meta:
        model = ResourcePack

    application = factory.SubFactory(ApplicationFactory)
    item = factory.LazyFunction(lambda: billable_item("im.moderation_pack.monthly"))
    price_entry = factory.LazyAttribute(
        lambda o: price_entry(o.item.code, o.application.region, on=o.valid_from)
    )
    covers = factory.LazyAttribute(lambda o: o.item.covers)
    units_total = factory.LazyAttribute(lambda o: o.price_entry.included_quantity)
    valid_from = dt.date(2025, 3, 1)
    valid_until = factory.LazyAttribute(
        # validity_months after valid_from, less a day (term_start adds clamped months).
        lambda o: term_start(o.valid_from, o.price_entry.validity_months or 1)
        - dt.timedelta(days=1)
    )
    currency = factory.LazyAttribute(lambda o: o.price_entry.price_book.currency)
    amount = factory.LazyAttribute(lambda o: round_money(o.price_entry.unit_price, o.currency))
    term = None


# --------------------------------------------------------------------------------------------
# Usage and charges
# --------------------------------------------------------------------------------------------


class UsageEventFactory(DjangoModelFactory):
    """60 seconds of TRTC audio at noon on 10 Mar 2025 (billing time zone)."""

    class Meta:
        model = UsageEvent

    application = factory.SubFactory(ApplicationFactory)
    event_id = factory.Sequence(lambda n: f"evt-{n:08d}")
    metric = Metric.TRTC_AUDIO_SECONDS
    timestamp = factory.LazyFunction(lambda: dt.datetime(2025, 3, 10, 12, tzinfo=billing_tz()))
    billing_day = factory.LazyAttribute(lambda o: billing_day_of(o.timestamp))
    value = Decimal("60")
    dimension = ""
    properties = factory.Dict({})


class ChargeFactory(DjangoModelFactory):
    """A day of TRTC audio in region cn: 1000 minutes, none covered, at 7 CNY per 1000
    minutes, so 1000 x 7 / 1000 = 7 CNY. Amount and prices follow the overrides."""

    class Meta:
        model = Charge

    application = factory.SubFactory(ApplicationFactory)
    item = factory.LazyFunction(lambda: billable_item("trtc.audio"))
    day = dt.date(2025, 3, 10)
    period = Charge.Period.DAY
    price_entry = factory.LazyAttribute(
        lambda o: price_entry(o.item.code, o.application.region, on=o.day)
    )
    currency = factory.LazyAttribute(lambda o: o.price_entry.price_book.currency)
    quantity = Decimal("1000")
    covered_quantity = Decimal("0")
    billable_quantity = factory.LazyAttribute(lambda o: o.quantity - o.covered_quantity)
    unit_price = factory.LazyAttribute(lambda o: o.price_entry.unit_price)
    per_quantity = factory.LazyAttribute(lambda o: o.price_entry.per_quantity)
    amount = factory.LazyAttribute(
        lambda o: exact(o.billable_quantity * o.unit_price / o.per_quantity)
    )
    explanation = factory.LazyAttribute(
        lambda o: f"{o.billable_quantity} x {o.unit_price} / {o.per_quantity} = {o.amount}"
    )
    details = factory.Dict({})


class ChargeCoverageFactory(DjangoModelFactory):
    """400 of the charge's minutes covered by the free monthly allowance, 1:1 (SPEC 4.6).
    With source=ChargeCoverage.Source.PACK, pass the pack."""

    class Meta:
        model = ChargeCoverage

    charge = factory.SubFactory(ChargeFactory, covered_quantity=Decimal("400"))
    source = ChargeCoverage.Source.ALLOWANCE
    pack = None
    usage_quantity = Decimal("400")
    units_used = Decimal("400")


# --------------------------------------------------------------------------------------------
# Invoices and the documents around them
# --------------------------------------------------------------------------------------------


class InvoiceFactory(DjangoModelFactory):
    """The draft CNY invoice of March 2025. Traits: ``finalized``, ``paid``, ``void``."""

    class Meta:
        model = Invoice

    class Params:
        finalized = factory.Trait(
            state=Invoice.State.FINALIZED,
            number=factory.Sequence(lambda n: f"TEST-INV-{n:06d}"),
            finalized_at=factory.LazyFunction(
                lambda: dt.datetime(2025, 4, 1, 2, tzinfo=billing_tz())
            ),
            due_date=dt.date(2025, 4, 8),  # finalized 1 Apr + 7 days (SPEC 5)
            billing_snapshot=factory.LazyAttribute(
                lambda o: {"name": o.account.name, "email": o.account.billing_email}
            ),
        )
        paid = factory.Trait(
            finalized=True,
            state=Invoice.State.PAID,
            paid_at=factory.LazyFunction(lambda: dt.datetime(2025, 4, 5, 10, tzinfo=billing_tz())),
        )
        void = factory.Trait(
            finalized=True,
            state=Invoice.State.VOID,
            voided_at=factory.LazyFunction(
                lambda: dt.datetime(2025, 4, 2, 10, tzinfo=billing_tz())
            ),
            void_reason="Issued to the wrong account",
        )

    account = factory.SubFactory(AccountFactory)
    currency = "CNY"
    month = dt.date(2025, 3, 1)
    state = Invoice.State.DRAFT
    number = None
    total = Decimal("0.00")


class InvoiceLineFactory(DjangoModelFactory):
    """A usage line: 1000 minutes of TRTC audio of an application of the invoice's account,
    exact 7.00000000, rounded 7.00."""

    class Meta:
        model = InvoiceLine

    invoice = factory.SubFactory(InvoiceFactory)
    kind = InvoiceLine.Kind.USAGE
    application = factory.SubFactory(
        ApplicationFactory, account=factory.SelfAttribute("..invoice.account")
    )
    item = factory.LazyFunction(lambda: billable_item("trtc.audio"))
    description = factory.LazyAttribute(lambda o: o.item.name if o.item else "Line")
    quantity = Decimal("1000")
    unit_price = Decimal("7")
    exact_amount = Decimal("7.00000000")
    amount = factory.LazyAttribute(lambda o: round_money(o.exact_amount, o.invoice.currency))
    sort_key = ""


class AdjustmentFactory(DjangoModelFactory):
    """A staff credit of 10.00 on a draft invoice."""

    class Meta:
        model = Adjustment

    invoice = factory.SubFactory(InvoiceFactory)
    amount = Decimal("-10.00")
    reason = "Goodwill credit for the 9 March outage"
    created_by = factory.SubFactory(UserFactory, staff=True)


class CreditNoteFactory(DjangoModelFactory):
    """A credit note of 10.00 against a finalized invoice, in the invoice's currency."""

    class Meta:
        model = CreditNote

    invoice = factory.SubFactory(InvoiceFactory, finalized=True)
    number = factory.Sequence(lambda n: f"TEST-CN-{n:06d}")
    currency = factory.SelfAttribute("invoice.currency")
    amount = Decimal("10.00")
    reason = "Billed twice for 9 March"
    created_by = factory.SubFactory(UserFactory, staff=True)


class PaymentFactory(DjangoModelFactory):
    """100.00 CNY received for an account, not tied to an invoice."""

    class Meta:
        model = Payment

    account = factory.SubFactory(AccountFactory)
    currency = "CNY"
    amount = Decimal("100.00")
    received_at = factory.LazyFunction(lambda: dt.datetime(2025, 4, 3, 9, tzinfo=billing_tz()))
    reference = factory.Sequence(lambda n: f"BANK-{n:06d}")
    invoice = None
    recorded_by = None


class AuditRecordFactory(DjangoModelFactory):
    class Meta:
        model = AuditRecord

    actor = factory.SubFactory(UserFactory, staff=True)
    action = "adjustment.create"
    target_type = "invoice"
    target_id = "1"
    account = factory.SubFactory(AccountFactory)
    before = factory.Dict({})
    after = factory.Dict({})
    reason = ""


# --------------------------------------------------------------------------------------------
# Asserting that the database refuses a write
# --------------------------------------------------------------------------------------------


@contextmanager
def violates(model, *rules: str):
    """The block must fail with IntegrityError raised by one of ``rules`` of ``model``: the
    name of a constraint in its Meta, or the name of a field with unique=True.

    The offending write runs in its own savepoint, so the test can go on afterwards. The error
    message is checked so that a test cannot pass because some other rule (a NOT NULL, a
    foreign key, another check) refused the row."""
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        yield
    message = str(caught.value)
    expected = [_error_text(model, rule) for rule in rules]
    assert any(text in message for text in expected), f"expected {expected}, got: {message}"


def _error_text(model, rule: str) -> str:
    """What PostgreSQL or SQLite says when ``rule`` of ``model`` refuses a row."""
    table = model._meta.db_table
    postgres = connection.vendor == "postgresql"
    constraint = next((c for c in model._meta.constraints if c.name == rule), None)
    if isinstance(constraint, CheckConstraint):
        # PostgreSQL: violates check constraint "name"; SQLite: CHECK constraint failed: name
        return f'"{rule}"' if postgres else f"CHECK constraint failed: {rule}"
    if isinstance(constraint, UniqueConstraint):
        # SQLite names the columns, not the constraint (nor the partial index).
        columns = [model._meta.get_field(name).column for name in constraint.fields]
        if postgres:
            return f'unique constraint "{rule}"'
        return "UNIQUE constraint failed: " + ", ".join(f"{table}.{c}" for c in columns)
    field = model._meta.get_field(rule)
    assert field.unique, f"{model.__name__}.{rule} is neither a constraint nor a unique field"
    if postgres:
        return f"Key ({field.column})="
    return f"UNIQUE constraint failed: {table}.{field.column}"
