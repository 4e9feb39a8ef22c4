"""Finance staff: adjustments on drafts, credit notes against issued invoices, payments.
Staff authenticate with their Django session (README "REST API"); each endpoint needs the
Django permission to add that kind of document, which the finance group holds. The services
validate, write in one transaction and write the audit record with the staff user."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.parsers import ApiViewMixin
from billing.api.permissions import FinanceStaff
from billing.api.schema import WRITE, errors
from billing.api.serializers import (
    AdjustmentInputSerializer,
    AdjustmentSerializer,
    CreditNoteCreatedSerializer,
    CreditNoteInputSerializer,
    PaymentCreatedSerializer,
    PaymentInputSerializer,
)
from billing.api.views.invoices import NUMBER, invoice_for
from billing.services import finance

TAGS = ["finance staff"]


class FinanceView(ApiViewMixin, APIView):
    permission_classes = [FinanceStaff]
    finance_permission = ""
    input_serializer = None

    def invoice_and_input(self, request, number: str):
        invoice = invoice_for(request, number)
        self.check_object_permissions(request, invoice)
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        return invoice, data.validated_data


class AdjustmentsView(FinanceView):
    finance_permission = "billing.add_adjustment"
    input_serializer = AdjustmentInputSerializer

    @extend_schema(
        operation_id="invoices_adjustments_create",
        tags=TAGS,
        summary="Add an adjustment line to a draft invoice",
        description="A positive or negative amount with a reason, on a draft (address it by "
        "id). An issued invoice never changes: answer 409 (invalid_state); use a credit note.",
        parameters=[NUMBER],
        request=AdjustmentInputSerializer,
        responses={201: AdjustmentSerializer, **errors(*WRITE)},
    )
    def post(self, request, number: str):
        invoice, data = self.invoice_and_input(request, number)
        adjustment = finance.adjustment_add(invoice=invoice, actor=request.user, **data)
        adjustment.invoice.refresh_from_db()
        return Response(AdjustmentSerializer(adjustment).data, status=status.HTTP_201_CREATED)


class CreditNotesView(FinanceView):
    finance_permission = "billing.add_creditnote"
    input_serializer = CreditNoteInputSerializer

    @extend_schema(
        operation_id="invoices_credit_notes_create",
        tags=TAGS,
        summary="Issue a credit note against a finalized or paid invoice",
        description="Never more than remains (total less earlier credit notes). An invoice "
        "fully covered by credit notes and payments becomes paid.",
        parameters=[NUMBER],
        request=CreditNoteInputSerializer,
        responses={201: CreditNoteCreatedSerializer, **errors(*WRITE)},
    )
    def post(self, request, number: str):
        invoice, data = self.invoice_and_input(request, number)
        note = finance.credit_note_issue(invoice=invoice, actor=request.user, **data)
        note.invoice.refresh_from_db()
        return Response(CreditNoteCreatedSerializer(note).data, status=status.HTTP_201_CREATED)


class PaymentsView(FinanceView):
    finance_permission = "billing.add_payment"
    input_serializer = PaymentInputSerializer

    @extend_schema(
        operation_id="invoices_payments_create",
        tags=TAGS,
        summary="Record a payment against a finalized invoice",
        description="In the invoice's currency. Once credit notes and payments cover the "
        "total the invoice is paid; paying clears the overdue state.",
        parameters=[NUMBER],
        request=PaymentInputSerializer,
        responses={201: PaymentCreatedSerializer, **errors(*WRITE)},
    )
    def post(self, request, number: str):
        invoice, data = self.invoice_and_input(request, number)
        payment = finance.payment_record(
            account=invoice.account,
            currency=invoice.currency,
            invoice=invoice,
            actor=request.user,
            **data,
        )
        payment.invoice.refresh_from_db()
        return Response(PaymentCreatedSerializer(payment).data, status=status.HTTP_201_CREATED)
