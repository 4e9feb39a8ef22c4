"""Included by billing/api/urls.py under /api/ (before its catch-all)."""

from django.urls import path

from notifications.api import views

urlpatterns = [
    path("v1/webhook-endpoints", views.EndpointListView.as_view(), name="api-webhook-endpoints"),
    path(
        "v1/webhook-endpoints/<int:id>",
        views.EndpointDetailView.as_view(),
        name="api-webhook-endpoint",
    ),
    path(
        "v1/webhook-endpoints/<int:id>/deliveries",
        views.EndpointDeliveriesView.as_view(),
        name="api-webhook-deliveries",
    ),
    path(
        "v1/webhook-endpoints/<int:id>/test",
        views.EndpointTestView.as_view(),
        name="api-webhook-test",
    ),
    path("v1/alerts", views.AlertListView.as_view(), name="api-alerts"),
    path("v1/alerts/<int:id>", views.AlertDetailView.as_view(), name="api-alert"),
    path(
        "v1/applications/<int:sdkappid>/entitlements",
        views.EntitlementsView.as_view(),
        name="api-entitlements",
    ),
]
