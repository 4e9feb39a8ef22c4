"""The billing domain of SPEC section 2: catalog and price book, applications and what they
bought, usage, charges, invoices and the documents around them, and the audit trail.

Business rules live in services (writes), selectors (reads) and ``billing.rating`` (pure
rules); models hold data and the invariants the database can enforce.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Account

MONEY = {"max_digits": 18, "decimal_places": 2}  # rounded amounts: invoice lines, documents
EXACT_MONEY = {"max_digits": 24, "decimal_places": 8}  # exact charge amounts (SPEC 3)
PRICE = {"max_digits": 18, "decimal_places": 6}  # unit prices, e.g. 0.0010 CNY per unit
QUANTITY = {"max_digits": 24, "decimal_places": 6}  # units, minutes, DAU, seconds


def choices_check(field: str, choices: type[models.TextChoices], name: str):
    """A CheckConstraint that keeps a choices field within its choices in the database."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": choices.values}), name=name)


class Region(models.TextChoices):
    CN = "cn", "China data center"
    INTL = "intl", "International (Singapore, India, Korea, Germany)"


class Currency(models.TextChoices):
    CNY = "CNY", "CNY"
    USD = "USD", "USD"


class ApplicationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CLOSED = "closed", "Closed"


class InvoiceState(models.TextChoices):
    DRAFT = "draft", "Draft"
    FINALIZED = "finalized", "Finalized"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


class Source(models.TextChoices):
    SOURCE = "S", "Provider's source document"
    PUBLIC = "P", "Provider's public pages"
    STAFF = "staff", "Changed by staff"


# --------------------------------------------------------------------------------------------
# Catalog and price book
# --------------------------------------------------------------------------------------------


class Product(models.Model):
    code = models.SlugField(max_length=20, unique=True)  # "im", "trtc"
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class PriceBook(models.Model):
    """The prices of one product in one region, all in one currency (SPEC 2)."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="price_books")
    region = models.CharField(max_length=8, choices=Region.choices)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    name = models.CharField(max_length=100)

    class Meta:
        constraints = [
            choices_check("region", Region, "pricebook_region_valid"),
            choices_check("currency", Currency, "pricebook_currency_valid"),
            models.UniqueConstraint(fields=["product", "region"], name="pricebook_product_region"),
        ]

    def __str__(self) -> str:
        return self.name


class Edition(models.Model):
    """An IM package (SPEC 4.1). Prices and included quantities are price entries."""

    code = models.SlugField(max_length=20, unique=True)  # trial, pro, ultimate
    name = models.CharField(max_length=50)
    rank = models.PositiveSmallIntegerField(unique=True)  # trial 0 < pro 1 < ultimate 2
    # Value-added services (SPEC 4.3) may be bought on this edition.
    may_buy_addons = models.BooleanField()
    # Included DAU and groups are hard limits, never billed as overage (Trial, SPEC 4.1).
    limits_are_hard = models.BooleanField()
    message_history_days = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=8, choices=Source.choices)

    class Meta:
        ordering = ["rank"]

    def __str__(self) -> str:
        return self.name


class AddOn(models.Model):
    """A value-added service (SPEC 4.3, 4.4). Its options are billable items."""

    class Billing(models.TextChoices):
        PREPAID = "prepaid", "Prepaid monthly term"
        POSTPAID = "postpaid", "Postpaid, accrues by day"

    code = models.SlugField(max_length=40, unique=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    name = models.CharField(max_length=100)
    billing = models.CharField(max_length=10, choices=Billing.choices)
    # Only editions with may_buy_addons may buy it (all VAS); local moderation is for all.
    requires_addon_edition = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class BillableItem(models.Model):
    """Anything that becomes a charge or an invoice line. Its price lives in PriceEntry."""

    class Kind(models.TextChoices):
        EDITION_FEE = "edition_fee", "Edition monthly fee (prepaid)"
        ADDON_FEE = "addon_fee", "Add-on monthly fee (prepaid)"
        ADDON_ACCRUAL = "addon_accrual", "Add-on accruing by day (postpaid)"
        RESOURCE_PACK = "resource_pack", "Resource pack (prepaid units)"
        USAGE = "usage", "Usage, rated daily (postpaid)"
        OVERAGE = "overage", "Monthly overage (postpaid)"
        ALLOWANCE = "allowance", "Free monthly allowance"

    class Covers(models.TextChoices):
        NONE = "", "nothing"
        MODERATION_UNITS = "moderation_units", "moderation deduction units"
        CALL_MINUTES = "call_minutes", "TRTC call minutes"

    code = models.CharField(max_length=60, unique=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=120)
    # What one unit of quantity is, for people: "minute", "deduction unit", "block of 10,000 DAU".
    unit = models.CharField(max_length=60)
    # Sold only on this edition (null: any edition the add-on allows).
    edition = models.ForeignKey(Edition, on_delete=models.PROTECT, null=True, blank=True)
    addon = models.ForeignKey(
        AddOn, on_delete=models.PROTECT, null=True, blank=True, related_name="options"
    )
    # Packs and call-minute add-ons: what their included quantity covers.
    covers = models.CharField(max_length=20, choices=Covers.choices, default="", blank=True)
    # TRTC minutes: whether the free monthly allowance covers this item (not speech-to-text).
    uses_free_allowance = models.BooleanField(default=False)
    # Order of display and of coverage within a day: audio, then video by rising resolution,
    # then Conversational AI (SPEC 4.6).
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["product", "sort_order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(addon__isnull=True) | Q(kind__in=["addon_fee", "addon_accrual"]),
                name="item_addon_only_on_addon_kinds",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PriceEntry(models.Model):
    """One version of one item's price in one price book. A new price is a new row with a
    later ``effective_from``; rows are never rewritten, so a charge rated under an old price
    keeps pointing at it."""

    price_book = models.ForeignKey(PriceBook, on_delete=models.PROTECT, related_name="entries")
    item = models.ForeignKey(BillableItem, on_delete=models.PROTECT, related_name="prices")
    effective_from = models.DateField()
    # Money (in the price book's currency) per ``per_quantity`` units of the item:
    # 7 CNY per 1000 minutes is unit_price=7, per_quantity=1000.
    unit_price = models.DecimalField(**PRICE)
    per_quantity = models.DecimalField(max_digits=18, decimal_places=4, default=1)
    # Units included: DAU or groups in an edition, units in a pack, minutes a month in a
    # call-minute add-on or the free allowance.
    included_quantity = models.DecimalField(max_digits=24, decimal_places=4, null=True, blank=True)
    # Units of the covering quantity used per unit of usage: TRTC pack minutes per minute of
    # HD video (4), moderation units per image (0.65).
    deduction_ratio = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    # Packs: how long they stay valid.
    validity_months = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=8, choices=Source.choices)
    note = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "price entries"
        ordering = ["price_book", "item", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["price_book", "item", "effective_from"], name="price_entry_version_uniq"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="price_nonnegative"),
            models.CheckConstraint(condition=Q(per_quantity__gt=0), name="price_per_positive"),
            models.CheckConstraint(
                condition=Q(included_quantity__isnull=True) | Q(included_quantity__gte=0),
                name="price_included_nonnegative",
            ),
            models.CheckConstraint(
                condition=Q(deduction_ratio__isnull=True) | Q(deduction_ratio__gt=0),
                name="price_ratio_positive",
            ),
            models.CheckConstraint(
                condition=Q(validity_months__isnull=True) | Q(validity_months__gt=0),
                name="price_validity_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item.code} @ {self.price_book} from {self.effective_from}"

    @property
    def currency(self) -> str:
        return self.price_book.currency


# --------------------------------------------------------------------------------------------
# Applications and what they bought
# --------------------------------------------------------------------------------------------


class Application(models.Model):
    Status = ApplicationStatus

    sdkappid = models.PositiveBigIntegerField(unique=True, verbose_name="SDKAppID")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="applications")
    name = models.CharField(max_length=100)
    region = models.CharField(max_length=8, choices=Region.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sdkappid"]
        constraints = [
            choices_check("region", Region, "application_region_valid"),
            choices_check("status", ApplicationStatus, "application_status_valid"),
            models.CheckConstraint(
                condition=Q(sdkappid__gt=0), name="application_sdkappid_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sdkappid} {self.name}"


class EditionPeriod(models.Model):
    """Edition history: the application is on ``edition`` from ``starts_on`` to ``ends_on``
    (inclusive; null while current). Exactly one period is current."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="edition_periods"
    )
    edition = models.ForeignKey(Edition, on_delete=models.PROTECT)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["application", "starts_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["application"],
                condition=Q(ends_on__isnull=True),
                name="one_current_edition_per_application",
            ),
            models.UniqueConstraint(
                fields=["application", "starts_on"], name="edition_period_start_uniq"
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="edition_period_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.edition} from {self.starts_on}"


class AddOnSubscription(models.Model):
    """One option of one add-on on one application, from ``starts_on`` (the anchor day of
    its prepaid terms) to ``ends_on`` (inclusive; null while it runs)."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="addon_subscriptions"
    )
    addon = models.ForeignKey(AddOn, on_delete=models.PROTECT)
    item = models.ForeignKey(BillableItem, on_delete=models.PROTECT)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One option of each add-on at a time (SPEC 4.3).
            models.UniqueConstraint(
                fields=["application", "addon"],
                condition=Q(ends_on__isnull=True),
                name="one_running_option_per_addon",
            ),
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                name="addon_subscription_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}: {self.item} from {self.starts_on}"


class PrepaidTerm(models.Model):
    """One monthly prepaid term of an edition or an add-on (SPEC 3): term ``term_index`` of
    the anchor ``anchor_date`` runs ``starts_on`` to ``ends_on`` inclusive. Its fee is an
    invoice line of the month in which it starts. A term cut short by an upgrade records the
    day it was cut and the proration credit for its unused days."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="prepaid_terms"
    )
    item = models.ForeignKey(BillableItem, on_delete=models.PROTECT)
    price_entry = models.ForeignKey(PriceEntry, on_delete=models.PROTECT)
    subscription = models.ForeignKey(
        AddOnSubscription, on_delete=models.PROTECT, null=True, blank=True, related_name="terms"
    )
    anchor_date = models.DateField()
    term_index = models.PositiveIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    currency = models.CharField(max_length=3, choices=Currency.choices)
    amount = models.DecimalField(**MONEY)
    # Set when an upgrade ends this term early: the first unused day and the credit.
    cut_on = models.DateField(null=True, blank=True)
    credit_amount = models.DecimalField(**MONEY, null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["application", "starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(cut_on__isnull=True) & Q(credit_amount__isnull=True))
                | (Q(cut_on__isnull=False) & Q(credit_amount__isnull=False)),
                name="term_cut_has_credit",
            ),
            models.UniqueConstraint(
                fields=["application", "item", "starts_on"], name="prepaid_term_uniq"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="term_amount_nonnegative"),
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="term_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(credit_amount__isnull=True)
                | (Q(credit_amount__gte=0) & Q(credit_amount__lte=F("amount"))),
                name="term_credit_within_fee",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.starts_on}..{self.ends_on}"


class ResourcePack(models.Model):
    """A prepaid quantity of units valid from ``valid_from`` to ``valid_until`` inclusive:
    a bought moderation pack, or the monthly minutes of a call-minute add-on term. Units used
    are the sum of its coverage rows; what is left is derived, never stored twice."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="resource_packs"
    )
    item = models.ForeignKey(BillableItem, on_delete=models.PROTECT)
    price_entry = models.ForeignKey(PriceEntry, on_delete=models.PROTECT)
    covers = models.CharField(max_length=20, choices=BillableItem.Covers.choices)
    units_total = models.DecimalField(**QUANTITY)
    valid_from = models.DateField()
    valid_until = models.DateField()
    # Bought packs carry their price; a call-minute grant is paid by its add-on term (0 here).
    currency = models.CharField(max_length=3, choices=Currency.choices)
    amount = models.DecimalField(**MONEY)
    term = models.OneToOneField(
        PrepaidTerm, on_delete=models.PROTECT, null=True, blank=True, related_name="minute_pack"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["application", "valid_until", "id"]
        indexes = [models.Index(fields=["application", "covers", "valid_until"])]
        constraints = [
            models.CheckConstraint(condition=Q(units_total__gt=0), name="pack_units_positive"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="pack_amount_nonnegative"),
            models.CheckConstraint(
                condition=Q(valid_until__gte=F("valid_from")), name="pack_valid_window"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.valid_from}..{self.valid_until}"


# --------------------------------------------------------------------------------------------
# Usage
# --------------------------------------------------------------------------------------------


class Metric(models.TextChoices):
    """The usage metrics of SPEC 7."""

    IM_LOGIN = "im.login"
    IM_GROUP_COUNT = "im.group_count"
    IM_MODERATION_TEXT = "im.moderation.text"
    IM_MODERATION_IMAGE = "im.moderation.image"
    IM_MODERATION_AUDIO_SECONDS = "im.moderation.audio_seconds"
    IM_MODERATION_VIDEO_SECONDS = "im.moderation.video_seconds"
    TRTC_AUDIO_SECONDS = "trtc.audio_seconds"
    TRTC_VIDEO_SECONDS = "trtc.video_seconds"
    TRTC_AI_SECONDS = "trtc.ai_seconds"
    TRTC_STT_SECONDS = "trtc.stt_seconds"


class UsageEvent(models.Model):
    """One measurement reported by a platform service (SPEC 7). ``billing_day`` is the
    timestamp's calendar day in the billing time zone, stored so that a day's aggregate is one
    index range scan. ``dimension`` is the property that aggregation groups by: the user of
    a login, the resolution of video."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, db_index=False)
    event_id = models.CharField(max_length=255)
    metric = models.CharField(max_length=40, choices=Metric.choices)
    timestamp = models.DateTimeField()
    billing_day = models.DateField()
    value = models.DecimalField(**QUANTITY)
    dimension = models.CharField(max_length=255, blank=True, default="")
    properties = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # Accepted after its month's invoice was finalized, within the late-usage window (SPEC 7):
    # never on that invoice, billed through a restatement (SPEC 6, ``Restatement``).
    late = models.BooleanField(default=False, db_default=False)

    class Meta:
        constraints = [
            choices_check("metric", Metric, "usage_metric_valid"),
            models.UniqueConstraint(
                fields=["application", "event_id"], name="usage_event_id_per_application"
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="usage_value_nonnegative"),
        ]
        indexes = [
            models.Index(fields=["billing_day", "application", "metric"], name="usage_day_idx"),
            # Few rows: the late events the restatements are computed from.
            models.Index(
                fields=["billing_day", "application"], condition=Q(late=True), name="usage_late_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}/{self.event_id} {self.metric}={self.value}"


class RatedDay(models.Model):
    """Which billing days of an application are rated, and which a late event made stale."""

    class State(models.TextChoices):
        RATED = "rated", "Rated"
        STALE = "stale", "Needs re-rating"

    application = models.ForeignKey(Application, on_delete=models.PROTECT)
    day = models.DateField()
    state = models.CharField(max_length=8, choices=State.choices)
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "day"], name="rated_day_uniq"),
        ]
        indexes = [models.Index(fields=["state", "day"])]

    def __str__(self) -> str:
        return f"{self.application_id} {self.day} {self.state}"


# --------------------------------------------------------------------------------------------
# Charges, invoices and the documents around them
# --------------------------------------------------------------------------------------------


class Charge(models.Model):
    """The rated result of one application, one billable item and one billing day (monthly
    items: the first day of their month). ``amount`` is exact; invoices round."""

    class Period(models.TextChoices):
        DAY = "day", "Billing day"
        MONTH = "month", "Calendar month"

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="charges")
    item = models.ForeignKey(BillableItem, on_delete=models.PROTECT)
    day = models.DateField()
    period = models.CharField(max_length=5, choices=Period.choices, default=Period.DAY)
    price_entry = models.ForeignKey(PriceEntry, on_delete=models.PROTECT)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    # In the item's unit (minutes, deduction units, blocks, days enabled).
    quantity = models.DecimalField(**QUANTITY)
    covered_quantity = models.DecimalField(**QUANTITY, default=0)
    billable_quantity = models.DecimalField(**QUANTITY)
    unit_price = models.DecimalField(**PRICE)
    per_quantity = models.DecimalField(max_digits=18, decimal_places=4, default=1)
    amount = models.DecimalField(**EXACT_MONEY)
    explanation = models.TextField()
    # The usage aggregate behind the charge, for staff and customers who ask why.
    details = models.JSONField(default=dict, blank=True)
    rated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["application", "day", "item"]
        constraints = [
            choices_check("currency", Currency, "charge_currency_valid"),
            models.CheckConstraint(condition=Q(per_quantity__gt=0), name="charge_per_positive"),
            models.UniqueConstraint(
                fields=["application", "item", "day"], name="one_charge_per_app_item_day"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="charge_quantity_nonneg"),
            models.CheckConstraint(
                condition=Q(covered_quantity__gte=0) & Q(covered_quantity__lte=F("quantity")),
                name="charge_covered_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(billable_quantity__gte=0), name="charge_billable_nonneg"
            ),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="charge_price_nonneg"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="charge_amount_nonneg"),
        ]
        indexes = [models.Index(fields=["day", "application"])]

    def __str__(self) -> str:
        return f"{self.application_id} {self.item.code} {self.day}: {self.amount} {self.currency}"


class ChargeCoverage(models.Model):
    """What covered part of a charge: the free allowance or a resource pack, and how much of
    it (in the covering unit: pack units or allowance minutes)."""

    class Source(models.TextChoices):
        ALLOWANCE = "allowance", "Free monthly allowance"
        PACK = "pack", "Resource pack"

    charge = models.ForeignKey(Charge, on_delete=models.CASCADE, related_name="coverages")
    source = models.CharField(max_length=10, choices=Source.choices)
    pack = models.ForeignKey(ResourcePack, on_delete=models.PROTECT, null=True, blank=True)
    # Usage quantity covered (charge units) and covering units used (after deduction ratio).
    usage_quantity = models.DecimalField(**QUANTITY)
    units_used = models.DecimalField(**QUANTITY)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(source="pack") & Q(pack__isnull=False))
                | (Q(source="allowance") & Q(pack__isnull=True)),
                name="coverage_pack_iff_pack_source",
            ),
            models.CheckConstraint(
                condition=Q(usage_quantity__gte=0) & Q(units_used__gte=0),
                name="coverage_nonnegative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.usage_quantity} of charge {self.charge_id}"


class Invoice(models.Model):
    """One per account, currency and calendar month (SPEC 6). A draft is recomputed as charges
    arrive; finalized, it gets a gapless number, frozen total and billing snapshot, and the
    database refuses further changes to those."""

    State = InvoiceState

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="invoices")
    currency = models.CharField(max_length=3, choices=Currency.choices)
    month = models.DateField(help_text="First day of the calendar month billed.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.DRAFT)
    number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    total = models.DecimalField(**MONEY, default=0)
    finalized_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)
    billing_snapshot = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-month", "account", "currency"]
        constraints = [
            choices_check("state", InvoiceState, "invoice_state_valid"),
            choices_check("currency", Currency, "invoice_currency_valid"),
            # An issued invoice has its finalization time and due date.
            models.CheckConstraint(
                condition=Q(state="draft")
                | (Q(finalized_at__isnull=False) & Q(due_date__isnull=False)),
                name="invoice_issued_has_dates",
            ),
            models.UniqueConstraint(
                fields=["account", "currency", "month"],
                name="one_invoice_per_account_currency_month",
            ),
            models.CheckConstraint(condition=Q(month__day=1), name="invoice_month_first_day"),
            # Numbers are issued at finalization and only then.
            models.CheckConstraint(
                condition=(Q(state="draft") & Q(number__isnull=True))
                | (~Q(state="draft") & Q(number__isnull=False)),
                name="invoice_number_iff_issued",
            ),
        ]
        indexes = [models.Index(fields=["state", "month"])]

    def __str__(self) -> str:
        return self.number or f"draft {self.account_id} {self.currency} {self.month:%Y-%m}"

    @property
    def is_draft(self) -> bool:
        return self.state == self.State.DRAFT


class DocumentSequence(models.Model):
    """Gapless numbers per year for invoices and credit notes, taken under a row lock in the
    transaction that issues the document, so a rollback gives the number back."""

    kind = models.CharField(max_length=12)  # "invoice", "credit_note"
    year = models.PositiveSmallIntegerField()
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "year"], name="document_sequence_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.year}: {self.last_number}"


class Adjustment(models.Model):
    """A staff correction on a draft invoice: a positive or negative amount with a reason."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="adjustments")
    amount = models.DecimalField(**MONEY)
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="adjustment_nonzero"),
            models.CheckConstraint(condition=~Q(reason=""), name="adjustment_has_reason"),
        ]

    def __str__(self) -> str:
        return f"adjustment {self.amount} on invoice {self.invoice_id}"


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        USAGE = "usage", "Usage charges"
        PREPAID = "prepaid", "Prepaid purchase"
        PRORATION = "proration", "Proration credit"
        ADJUSTMENT = "adjustment", "Adjustment"
        LATE_USAGE = "late_usage", "Late usage of a closed month"

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    application = models.ForeignKey(Application, on_delete=models.PROTECT, null=True, blank=True)
    item = models.ForeignKey(BillableItem, on_delete=models.PROTECT, null=True, blank=True)
    description = models.TextField()
    quantity = models.DecimalField(**QUANTITY, default=0)
    unit_price = models.DecimalField(**PRICE, null=True, blank=True)
    # The sum of the exact amounts behind the line, and that sum rounded (SPEC 3).
    exact_amount = models.DecimalField(**EXACT_MONEY)
    amount = models.DecimalField(**MONEY)
    term = models.ForeignKey(PrepaidTerm, on_delete=models.PROTECT, null=True, blank=True)
    pack = models.ForeignKey(ResourcePack, on_delete=models.PROTECT, null=True, blank=True)
    adjustment = models.OneToOneField(
        Adjustment, on_delete=models.PROTECT, null=True, blank=True, related_name="line"
    )
    sort_key = models.CharField(max_length=80, blank=True)
    # Late usage lines: the approved restatement they bill (kept when the draft is rebuilt).
    restatement = models.ForeignKey(
        "Restatement", on_delete=models.PROTECT, null=True, blank=True, related_name="lines_billed"
    )

    class Meta:
        ordering = ["invoice", "sort_key", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="line_quantity_nonneg"),
        ]

    def __str__(self) -> str:
        return self.description


class CreditNote(models.Model):
    """A negative document against a finalized invoice (SPEC 6), never more than remains."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=20, unique=True)
    currency = models.CharField(max_length=3, choices=Currency.choices)
    amount = models.DecimalField(**MONEY)
    reason = models.TextField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_note_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="credit_note_has_reason"),
        ]

    def __str__(self) -> str:
        return self.number


class Payment(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments")
    currency = models.CharField(max_length=3, choices=Currency.choices)
    amount = models.DecimalField(**MONEY)
    received_at = models.DateTimeField()
    reference = models.CharField(max_length=100, blank=True)
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="payments"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive"),
        ]

    def __str__(self) -> str:
        return f"payment {self.amount} {self.currency} ({self.reference or self.pk})"


class AuditRecord(models.Model):
    """Who changed money, when, what, and the values before and after (SPEC 6). Written in the
    same transaction as the change; the database refuses UPDATE and DELETE on PostgreSQL."""

    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    action = models.CharField(max_length=50)
    target_type = models.CharField(max_length=50)
    target_id = models.CharField(max_length=50)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, null=True, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target_type} {self.target_id}"


class JobRun(models.Model):
    """One run of a billing job, for operators: what ran, for which period, how far it got."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    job = models.CharField(max_length=30)  # "bill_day", "close_month"
    period = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.job} {self.period} {self.state}"


# --------------------------------------------------------------------------------------------
# Restatements: late usage of closed months (SPEC 6, 7)
# --------------------------------------------------------------------------------------------


class RestatementState(models.TextChoices):
    PENDING = "pending", "Pending review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Restatement(models.Model):
    """What late usage changes to a closed month, per account, currency and month: the
    affected items rated again with the late events included, against what was billed (the
    finalized invoice plus earlier approved restatements). The finalized invoice never
    changes; an approved difference is billed as lines "Late usage for <month>" on the running
    month's draft, or credited by a credit note when negative. At most one is pending per
    account, currency and month; it is recomputed while pending (``digest`` changes)."""

    State = RestatementState

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="restatements")
    currency = models.CharField(max_length=3, choices=Currency.choices)
    month = models.DateField(help_text="First day of the closed month restated.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    # The month's finalized invoice in this currency (none when the month billed nothing in it).
    closed_invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="restatements"
    )
    # The late events of the month in this currency it includes (all of them, cumulative), and
    # the highest event id among them: a later event makes a new restatement.
    late_events = models.PositiveIntegerField(default=0)
    last_event_id = models.BigIntegerField(default=0)
    amount_before = models.DecimalField(**MONEY, default=0)  # billed so far for its lines
    amount_after = models.DecimalField(**MONEY, default=0)  # with the late events
    difference = models.DecimalField(**MONEY, default=0)  # after - before: what is billed
    # What was computed (lines and the late events): approval must carry the one reviewed.
    digest = models.CharField(max_length=64)
    computed_at = models.DateTimeField()
    auto_approved = models.BooleanField(default=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    # Where an approved difference went: the running month's draft, or a credit note.
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="late_usage_billed"
    )
    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.PROTECT, null=True, blank=True, related_name="restatements"
    )

    class Meta:
        ordering = ["-month", "account", "currency", "-id"]
        constraints = [
            choices_check("state", RestatementState, "restatement_state_valid"),
            choices_check("currency", Currency, "restatement_currency_valid"),
            models.CheckConstraint(condition=Q(month__day=1), name="restatement_month_first_day"),
            models.UniqueConstraint(
                fields=["account", "currency", "month"],
                condition=Q(state="pending"),
                name="one_pending_restatement",
            ),
            models.CheckConstraint(
                condition=Q(state="pending") | Q(decided_at__isnull=False),
                name="restatement_decided_has_time",
            ),
        ]
        indexes = [models.Index(fields=["state", "month"])]

    def __str__(self) -> str:
        return f"Restatement {self.pk}: {self.account_id} {self.currency} {self.month:%Y-%m}"

    @property
    def month_label(self) -> str:
        return f"{self.month:%B %Y}"


class RestatementLine(models.Model):
    """One item of one application in a restatement: the days with late usage, quantity and
    amount billed so far and with the late events, and why, in the words of the charges."""

    restatement = models.ForeignKey(Restatement, on_delete=models.CASCADE, related_name="lines")
    application = models.ForeignKey(Application, on_delete=models.PROTECT)
    item = models.ForeignKey(BillableItem, on_delete=models.PROTECT)
    days = models.JSONField(default=list)  # ISO dates with late usage of this item
    # In the item's unit (minutes, deduction units, blocks), used in the month.
    quantity_before = models.DecimalField(**QUANTITY)
    quantity_after = models.DecimalField(**QUANTITY)
    # Rounded like invoice lines: billed so far, with the late events, and the difference.
    amount_before = models.DecimalField(**MONEY)
    amount_after = models.DecimalField(**MONEY)
    difference = models.DecimalField(**MONEY)
    explanation = models.TextField()
    sort_key = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["restatement", "sort_key", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["restatement", "application", "item"], name="restatement_line_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.application_id}: {self.difference}"
