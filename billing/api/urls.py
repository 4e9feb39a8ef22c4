"""/api/: the v1 endpoints, the OpenAPI schema and its documentation pages."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from billing.api.views import account, api_keys, finance, invoices, restatements, usage
from billing.api.views import applications as apps
from billing.api.views.base import UnknownEndpointView

urlpatterns = [
    path("v1/usage-events", usage.UsageEventsView.as_view(), name="api-usage-events"),
    path("v1/applications", apps.ApplicationListView.as_view(), name="api-applications"),
    path("v1/applications/<int:sdkappid>", apps.ApplicationDetailView.as_view(), name="api-app"),
    path("v1/applications/<int:sdkappid>/edition", apps.EditionView.as_view(), name="api-edition"),
    path("v1/applications/<int:sdkappid>/addons", apps.AddOnsView.as_view(), name="api-addons"),
    path(
        "v1/applications/<int:sdkappid>/resource-packs",
        apps.ResourcePacksView.as_view(),
        name="api-resource-packs",
    ),
    path("v1/applications/<int:sdkappid>/usage", apps.UsageView.as_view(), name="api-usage"),
    path("v1/applications/<int:sdkappid>/charges", apps.ChargesView.as_view(), name="api-charges"),
    path(
        "v1/applications/<int:sdkappid>/month-to-date",
        apps.MonthToDateView.as_view(),
        name="api-month-to-date",
    ),
    path("v1/invoices", invoices.InvoiceListView.as_view(), name="api-invoices"),
    path("v1/invoices/<str:number>", invoices.InvoiceDetailView.as_view(), name="api-invoice"),
    path("v1/invoices/<str:number>/pdf", invoices.InvoicePdfView.as_view(), name="api-pdf"),
    path(
        "v1/invoices/<str:number>/adjustments",
        finance.AdjustmentsView.as_view(),
        name="api-adjustments",
    ),
    path(
        "v1/invoices/<str:number>/credit-notes",
        finance.CreditNotesView.as_view(),
        name="api-credit-notes",
    ),
    path("v1/invoices/<str:number>/payments", finance.PaymentsView.as_view(), name="api-payments"),
    path("v1/account", account.AccountView.as_view(), name="api-account"),
    path("v1/api-keys", api_keys.ApiKeysView.as_view(), name="api-api-keys"),
    path("v1/api-keys/<str:prefix>", api_keys.ApiKeyDetailView.as_view(), name="api-api-key"),
    path("", include("notifications.api.urls")),  # webhooks, alerts, entitlements (issue 16)
    path("v1/restatements", restatements.RestatementListView.as_view(), name="api-restatements"),
    path(
        "v1/restatements/<int:id>",
        restatements.RestatementDetailView.as_view(),
        name="api-restatement",
    ),
    path(
        "v1/restatements/<int:id>/approve",
        restatements.RestatementApproveView.as_view(),
        name="api-restatement-approve",
    ),
    path(
        "v1/restatements/<int:id>/reject",
        restatements.RestatementRejectView.as_view(),
        name="api-restatement-reject",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path(
        "docs/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html"),
        name="api-redoc",
    ),
    # Anything else under /api/ answers a JSON 404 in the API's error format, not HTML.
    re_path(r"^.*$", UnknownEndpointView.as_view(), name="api-unknown"),
]
