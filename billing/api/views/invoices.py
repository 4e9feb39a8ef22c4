"""Invoices: the list (with filters), one invoice with its lines, its PDF."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import selectors
from billing.api.authentication import principal_account_id
from billing.api.filters import InvoiceFilter
from billing.api.parsers import ApiViewMixin
from billing.api.permissions import InvoiceReader, Policy
from billing.api.schema import DETAIL, LIST, errors
from billing.api.serializers import InvoiceSerializer, InvoiceSummarySerializer
from billing.api.views.base import not_found
from billing.pdf import invoice_pdf, invoice_pdf_filename
from billing.selectors.documents import invoice_document

NUMBER = OpenApiParameter(
    "number",
    str,
    OpenApiParameter.PATH,
    description="The invoice number (INV-2025-000001), or the id of a draft (which has no "
    "number yet).",
)


def invoice_for(request, number: str):
    invoice = selectors.invoice_by_reference(
        account_id=principal_account_id(request), reference=number
    )
    if invoice is None:
        raise not_found(f"invoice {number!r}")
    return invoice


class InvoiceListView(ApiViewMixin, ListAPIView):
    """Drafts (the running month) and issued invoices, newest month first."""

    permission_classes = [InvoiceReader, Policy]
    policy_actions = {"GET": "invoices.read"}
    serializer_class = InvoiceSummarySerializer
    filterset_class = InvoiceFilter
    cursor_ordering = ("-month", "-id")

    def get_queryset(self):
        return selectors.invoices_visible(account_id=principal_account_id(self.request))

    @extend_schema(
        operation_id="invoices_list",
        tags=["invoices"],
        summary="List invoices",
        description="An account key lists its account's invoices; staff allowed to view "
        "invoices list every account's (filter with `account`).",
        responses={200: InvoiceSummarySerializer(many=True), **errors(*LIST)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class InvoiceDetailView(ApiViewMixin, APIView):
    permission_classes = [InvoiceReader, Policy]
    policy_actions = {"GET": "invoices.read"}

    @extend_schema(
        operation_id="invoices_retrieve",
        tags=["invoices"],
        summary="One invoice with its lines",
        description="The content of the invoice page and PDF: seller and buyer, issue and "
        "due dates, the lines grouped per application with subtotals (used, covered and "
        "billed quantities and the unit price on usage lines), credit notes, payments and the "
        "amount due. The running month's draft shows what the month would bill if it closed "
        "now: its total is the month-to-date total, and its monthly items (IM overage, "
        "message history) are lines marked `estimate`.",
        parameters=[NUMBER],
        responses={200: InvoiceSerializer, **errors(*DETAIL)},
    )
    def get(self, request, number: str):
        document = invoice_document(invoice=invoice_for(request, number))
        return Response(InvoiceSerializer(document).data)


class FirstRendererNegotiation(BaseContentNegotiation):
    """The PDF endpoint answers PDF bytes whatever the Accept header says, and errors in
    JSON: negotiation must never refuse the request (406) before the view runs."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class InvoicePdfView(ApiViewMixin, APIView):
    permission_classes = [InvoiceReader, Policy]
    policy_actions = {"GET": "invoices.read"}
    content_negotiation_class = FirstRendererNegotiation

    @extend_schema(
        operation_id="invoices_pdf",
        description="The invoice as a PDF: the same document the portal serves, with seller "
        "and buyer, due date, lines grouped per application with subtotals, credit "
        "notes, payments and page numbers.",
        tags=["invoices"],
        summary="The invoice as a PDF (the same document the portal serves)",
        parameters=[NUMBER],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF"),
            **errors(*DETAIL),
        },
    )
    def get(self, request, number: str):
        invoice = invoice_for(request, number)
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice_pdf_filename(invoice)}"'
        return response
