"""/api/: the v1 endpoints, the OpenAPI schema and its documentation pages."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from billing.api.views import invoices, usage
from billing.api.views.base import UnknownEndpointView

urlpatterns = [
    path("v1/usage-events", usage.UsageEventsView.as_view(), name="api-usage-events"),
    path("v1/invoices", invoices.InvoiceListView.as_view(), name="api-invoices"),
    path("v1/invoices/<str:number>", invoices.InvoiceDetailView.as_view(), name="api-invoice"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("docs/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    # Anything else under /api/ answers a JSON 404 in the API's error format, not HTML.
    re_path(r"^.*$", UnknownEndpointView.as_view(), name="api-unknown"),
]
