"""Explicit input and output serializers. Money is a decimal string ("999.00"), never a JSON
number; quantities are decimal strings without trailing zeros ("1000", "2.5")."""

from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import (
    MONEY,
    Adjustment,
    CreditNote,
    Currency,
    Invoice,
    InvoiceLine,
    InvoiceState,
    Metric,
    Payment,
    Region,
)
from billing.parsing import ParseError, format_timestamp, parse_money, parse_timestamp
from billing.selectors import invoice_amount_due
from billing.selectors.restatements import late_usage_for_invoice


def Money(**kwargs):
    """A rounded amount (2 places) as a decimal string."""
    return serializers.DecimalField(**MONEY, read_only=True, **kwargs)


def ExactMoney(**kwargs):
    """An exact charge amount (8 places, SPEC 3) as a decimal string."""
    return serializers.DecimalField(max_digits=24, decimal_places=8, read_only=True, **kwargs)


def Quantity(**kwargs):
    return serializers.DecimalField(
        max_digits=24, decimal_places=6, normalize_output=True, read_only=True, **kwargs
    )


def Price(**kwargs):
    return serializers.DecimalField(
        max_digits=18, decimal_places=6, normalize_output=True, read_only=True, **kwargs
    )


class TextField(serializers.CharField):
    """Text a client sends: a JSON string, nothing else (DRF's CharField turns 0 into "0")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "date-time"})
class TimestampField(serializers.DateTimeField):
    """RFC 3339 in and out: input by the one strict parser (billing.parsing.parse_timestamp:
    an offset of whole minutes within 14 hours, years 2000 to 9998); output with a whole-minute
    offset (never a local-mean-time offset of seconds)."""

    def to_internal_value(self, value):
        try:
            return parse_timestamp(value, what="The timestamp")
        except ParseError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None

    def to_representation(self, value):
        text = super().to_representation(value)
        if isinstance(text, str) and value is not None:
            moment = self.enforce_timezone(value)
            if moment.utcoffset() is not None and moment.utcoffset().seconds % 60:
                return format_timestamp(moment).replace("+00:00", "Z")
        return text


class OutputModelSerializer(serializers.ModelSerializer):
    """Model serializers of the API: timestamps as TimestampField (RFC 3339)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.DateTimeField: TimestampField,
    }


@extend_schema_field({"type": "string", "pattern": r"^\d{4}-\d{2}$", "example": "2025-03"})
class MonthField(serializers.Field):
    """A calendar month as "YYYY-MM"."""

    def to_representation(self, value):
        return f"{value:%Y-%m}"


# --------------------------------------------------------------------------------------------
# Usage events
# --------------------------------------------------------------------------------------------


class UsageEventSerializer(serializers.Serializer):
    """Documentation of one event (SPEC 7). The endpoint hands the parsed JSON straight to
    the ingestion service, which validates the whole batch; this class is never run."""

    id = serializers.CharField(max_length=255, help_text="Unique per application, yours.")
    application = serializers.IntegerField(min_value=1, help_text="The SDKAppID.")
    metric = serializers.ChoiceField(choices=Metric.choices)
    timestamp = TimestampField(
        help_text="RFC 3339 with an offset (at most 14 hours, whole minutes), not before the "
        "application's creation day."
    )
    value = serializers.DecimalField(
        max_digits=24,
        decimal_places=6,
        min_value=0,
        required=False,
        help_text="Non-negative; default 1. A JSON number or a decimal string.",
    )
    properties = serializers.DictField(
        required=False,
        help_text="im.login: user_id (required); trtc.video_seconds: resolution "
        "(sd, hd, fhd, 2k, 4k).",
    )


class UsageBatchSerializer(serializers.Serializer):
    events = UsageEventSerializer(many=True, help_text="1 to 1000 events; all or nothing.")


class UsageResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Events stored now.")
    duplicates = serializers.IntegerField(
        help_text="Events already stored with the same content (or repeated in the batch)."
    )
    late = serializers.IntegerField(
        help_text="Of the accepted: events of a month whose invoice is finalized, within the "
        "late-usage window; billed through a reviewed restatement, never on that invoice."
    )


class UsageDaySerializer(serializers.Serializer):
    """One metric on one billing day, aggregated as the rating rules read it (SPEC 7)."""

    day = serializers.DateField(source="billing_day")
    metric = serializers.ChoiceField(choices=Metric.choices)
    resolution = serializers.CharField(
        allow_null=True, help_text="trtc.video_seconds only: sd, hd, fhd, 2k or 4k."
    )
    events = serializers.IntegerField()
    quantity = Quantity(
        help_text="im.login: distinct users; im.group_count: the day's highest count; "
        "every other metric: the sum of the values (seconds, messages, images)."
    )


# --------------------------------------------------------------------------------------------
# Applications
# --------------------------------------------------------------------------------------------


class ScheduledEditionSerializer(serializers.Serializer):
    edition = serializers.CharField()
    starts_on = serializers.DateField()


class ApplicationSerializer(serializers.Serializer):
    sdkappid = serializers.IntegerField()
    name = serializers.CharField()
    region = serializers.ChoiceField(choices=Region.choices)
    status = serializers.CharField()
    edition = serializers.CharField(
        allow_null=True, help_text="The IM edition today: trial, pro or ultimate."
    )
    scheduled_edition = serializers.SerializerMethodField()
    created_at = TimestampField()

    @extend_schema_field(ScheduledEditionSerializer(allow_null=True))
    def get_scheduled_edition(self, application):
        if not getattr(application, "scheduled_edition", None):
            return None
        return {
            "edition": application.scheduled_edition,
            "starts_on": application.scheduled_starts_on,
        }


class ApplicationCreateSerializer(serializers.Serializer):
    name = TextField(max_length=100)
    region = serializers.ChoiceField(choices=Region.choices)


class EditionChangeSerializer(serializers.Serializer):
    edition = TextField(
        max_length=20,
        help_text="pro or ultimate. Upgrades take effect today; Ultimate to Pro when the "
        "Ultimate term ends; never back to trial.",
    )


class AddOnSubscriptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    addon = serializers.CharField(source="addon.code")
    item = serializers.CharField(source="item.code")
    name = serializers.CharField(source="item.name")
    billing = serializers.CharField(source="addon.billing")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(allow_null=True)


class ItemInputSerializer(serializers.Serializer):
    item = TextField(max_length=60, help_text="The item code of the price book.")


class ResourcePackSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.CharField(source="item.code")
    name = serializers.CharField(source="item.name")
    covers = serializers.CharField()
    units_total = Quantity()
    valid_from = serializers.DateField()
    valid_until = serializers.DateField()
    currency = serializers.ChoiceField(choices=Currency.choices)
    amount = Money()


class ChargeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    day = serializers.DateField(help_text="Monthly items: the first day of their month.")
    period = serializers.CharField(help_text="day or month")
    item = serializers.CharField(source="item.code")
    name = serializers.CharField(source="item.name")
    unit = serializers.CharField(source="item.unit")
    quantity = Quantity()
    covered_quantity = Quantity(help_text="Covered by the free allowance or packs.")
    billable_quantity = Quantity()
    unit_price = Price()
    per_quantity = Quantity()
    currency = serializers.ChoiceField(choices=Currency.choices)
    amount = ExactMoney(help_text="Exact; invoice lines round the sum of their charges.")
    explanation = serializers.CharField()


class MonthToDateLineSerializer(serializers.Serializer):
    kind = serializers.CharField()
    item = serializers.CharField(allow_null=True)
    description = serializers.CharField()
    quantity = Quantity(allow_null=True)
    unit_price = Price(allow_null=True)
    amount = Money()


class MonthToDateSerializer(serializers.Serializer):
    currency = serializers.ChoiceField(choices=Currency.choices)
    month = MonthField()
    total = Money()
    lines = MonthToDateLineSerializer(many=True)


# --------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------


class InvoiceSummarySerializer(OutputModelSerializer):
    id = serializers.IntegerField(help_text="Addresses a draft, which has no number yet.")
    number = serializers.CharField(allow_null=True, help_text="Issued at finalization.")
    account = serializers.IntegerField(source="account_id")
    month = MonthField()
    currency = serializers.ChoiceField(choices=Currency.choices)
    state = serializers.ChoiceField(choices=InvoiceState.choices)
    total = Money()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "account",
            "month",
            "currency",
            "state",
            "total",
            "finalized_at",
            "due_date",
            "paid_at",
            "voided_at",
        ]
        read_only_fields = fields


class InvoiceLineSerializer(OutputModelSerializer):
    application = serializers.IntegerField(
        source="application.sdkappid", allow_null=True, default=None, help_text="SDKAppID."
    )
    item = serializers.CharField(source="item.code", allow_null=True, default=None)
    quantity = Quantity()
    unit_price = Price(allow_null=True)
    amount = Money()

    class Meta:
        model = InvoiceLine
        fields = ["kind", "application", "item", "description", "quantity", "unit_price", "amount"]
        read_only_fields = fields


class CreditNoteSerializer(OutputModelSerializer):
    amount = Money()

    class Meta:
        model = CreditNote
        fields = ["number", "currency", "amount", "reason", "created_at"]
        read_only_fields = fields


class PaymentSerializer(OutputModelSerializer):
    amount = Money()
    invoice = serializers.CharField(source="invoice.number", allow_null=True, default=None)

    class Meta:
        model = Payment
        fields = ["id", "invoice", "currency", "amount", "received_at", "reference"]
        read_only_fields = fields


class LateUsageReceivedSerializer(serializers.Serializer):
    application = serializers.IntegerField(source="application.sdkappid", help_text="SDKAppID.")
    metric = serializers.ChoiceField(choices=Metric.choices)
    quantity = serializers.CharField(help_text='What arrived late, e.g. "600 seconds".')
    events = serializers.IntegerField()


class LateUsageBilledSerializer(serializers.Serializer):
    invoice = serializers.CharField(
        source="invoice.number", allow_null=True, help_text="Null while that invoice is a draft."
    )
    invoice_id = serializers.IntegerField(source="invoice.pk")
    month = serializers.DateField(source="invoice.month")
    description = serializers.CharField(help_text='"Late usage for <month>: ..." and why.')
    amount = Money()


class LateUsageSerializer(serializers.Serializer):
    """Late usage received for a closed month (SPEC 7), and where it was billed (SPEC 6)."""

    status = serializers.ChoiceField(choices=["under review", "billed", "not billed"])
    received = LateUsageReceivedSerializer(many=True, source="rows")
    billed_on = LateUsageBilledSerializer(many=True, source="billed_lines")


class InvoiceSerializer(InvoiceSummarySerializer):
    amount_due = serializers.SerializerMethodField()
    lines = InvoiceLineSerializer(many=True)
    credit_notes = CreditNoteSerializer(many=True)
    payments = PaymentSerializer(many=True)
    late_usage = serializers.SerializerMethodField()

    class Meta(InvoiceSummarySerializer.Meta):
        fields = [
            *InvoiceSummarySerializer.Meta.fields,
            "amount_due",
            "lines",
            "credit_notes",
            "payments",
            "late_usage",
        ]
        read_only_fields = fields

    @extend_schema_field(LateUsageSerializer(allow_null=True))
    def get_late_usage(self, invoice):
        """A closed invoice: the usage that arrived after it was finalized (never on it)."""
        late = late_usage_for_invoice(invoice=invoice)
        return LateUsageSerializer(late).data if late is not None else None

    @extend_schema_field(
        serializers.DecimalField(
            **MONEY,
            allow_null=True,
            help_text="Total less credit notes and payments; null for a draft (not due yet).",
        )
    )
    def get_amount_due(self, invoice):
        if invoice.is_draft:
            return None
        return serializers.DecimalField(**MONEY).to_representation(invoice_amount_due(invoice))


# --------------------------------------------------------------------------------------------
# Account and finance staff
# --------------------------------------------------------------------------------------------


class BalanceSerializer(serializers.Serializer):
    currency = serializers.ChoiceField(choices=Currency.choices)
    balance = Money(
        help_text="Payments and credit notes less issued invoices: negative is owed, "
        "positive is a credit."
    )


class AccountSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    billing_email = serializers.EmailField()
    overdue = serializers.BooleanField(source="is_overdue")
    overdue_since = serializers.DateField(
        allow_null=True, help_text="The first day an invoice was past due and unpaid."
    )
    balances = BalanceSerializer(many=True)


@extend_schema_field(
    {"type": "string", "format": "decimal", "example": "10.00", "pattern": r"^-?\d+(\.\d+)?$"}
)
class MoneyInputField(serializers.Field):
    """An amount sent by a client: a decimal string (or a JSON number without float
    rounding, see parsers.py), by the one strict parser (billing.parsing.parse_money: ASCII
    digits, no exponent, underscores or spaces, at most 12 digits before the point, checked
    on the text before any arithmetic). The finance services check the currency's precision,
    the sign and what remains."""

    def to_internal_value(self, data):
        try:
            return parse_money(data, places=8, allow_negative=True)
        except ParseError as exc:
            raise serializers.ValidationError(exc.message, code=exc.code) from None

    def to_representation(self, value):
        return str(value)


class AdjustmentInputSerializer(serializers.Serializer):
    amount = MoneyInputField(help_text="Positive adds to the bill, negative takes off.")
    reason = TextField(max_length=2000, help_text="Kept in the audit trail.")


class CreditNoteInputSerializer(serializers.Serializer):
    amount = MoneyInputField(help_text="Positive; never more than remains on the invoice.")
    reason = TextField(max_length=2000)


class PaymentInputSerializer(serializers.Serializer):
    amount = MoneyInputField(help_text="Positive, in the invoice's currency.")
    reference = TextField(max_length=100, required=False, allow_blank=True)
    received_at = TimestampField(
        required=False, help_text="RFC 3339 with an offset, from 2000 on; default: now."
    )


class AdjustmentSerializer(OutputModelSerializer):
    amount = Money()
    created_by = serializers.CharField(source="created_by.email")
    invoice = InvoiceSummarySerializer()

    class Meta:
        model = Adjustment
        fields = ["id", "amount", "reason", "created_by", "created_at", "invoice"]
        read_only_fields = fields


class CreditNoteCreatedSerializer(CreditNoteSerializer):
    invoice = InvoiceSummarySerializer()

    class Meta(CreditNoteSerializer.Meta):
        fields = [*CreditNoteSerializer.Meta.fields, "invoice"]
        read_only_fields = fields


class PaymentCreatedSerializer(PaymentSerializer):
    invoice = InvoiceSummarySerializer()

    class Meta(PaymentSerializer.Meta):
        fields = PaymentSerializer.Meta.fields
        read_only_fields = fields
