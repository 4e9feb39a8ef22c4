"""Portal pages of notifications/ (included by portal/web_urls.py)."""

from django.urls import path

from notifications import portal_views as views

urlpatterns = [
    path("webhooks/", views.webhook_list, name="webhooks"),
    path("webhooks/<int:endpoint_id>/", views.webhook_detail, name="webhook"),
    path(
        "webhooks/<int:endpoint_id>/<str:action>/",
        views.webhook_action,
        name="webhook_action",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/replay/",
        views.webhook_replay,
        name="webhook_replay",
    ),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:alert_id>/delete/", views.alert_delete, name="alert_delete"),
]
