"""Invoices: the list (with filters), one invoice with its lines, its PDF."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api import selectors
from billing.api.authentication import principal_account_id
from billing.api.filters import InvoiceFilter
from billing.api.permissions import InvoiceReader
from billing.api.schema import DETAIL, LIST, errors
from billing.api.serializers import InvoiceSerializer, InvoiceSummarySerializer
from billing.api.views.base import not_found

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


class InvoiceListView(ListAPIView):
    """Drafts (the running month) and issued invoices, newest month first."""

    permission_classes = [InvoiceReader]
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


class InvoiceDetailView(APIView):
    permission_classes = [InvoiceReader]

    @extend_schema(
        operation_id="invoices_retrieve",
        tags=["invoices"],
        summary="One invoice with its lines",
        parameters=[NUMBER],
        responses={200: InvoiceSerializer, **errors(*DETAIL)},
    )
    def get(self, request, number: str):
        return Response(InvoiceSerializer(invoice_for(request, number)).data)
