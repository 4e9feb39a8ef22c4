"""The customer portal's URLs. tests/portal/test_tenant_isolation.py walks this list: a new
pattern needs an expectation there, or that test fails."""

from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from portal import team_views, views

auth_urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            success_url=reverse_lazy("password_reset_complete")
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
]

urlpatterns = [
    *auth_urlpatterns,
    path("", views.dashboard, name="dashboard"),
    path("applications/new/", views.application_create, name="application_create"),
    path("applications/<int:sdkappid>/", views.application_detail, name="application"),
    path(
        "applications/<int:sdkappid>/charges/",
        views.application_charges,
        name="application_charges",
    ),
    path("applications/<int:sdkappid>/edition/", views.edition_change, name="edition_change"),
    path("applications/<int:sdkappid>/addons/", views.addon_buy, name="addon_buy"),
    path(
        "applications/<int:sdkappid>/addons/<int:subscription_id>/cancel/",
        views.addon_cancel,
        name="addon_cancel",
    ),
    path("applications/<int:sdkappid>/packs/", views.pack_buy, name="pack_buy"),
    path("invoices/", views.invoice_list, name="invoices"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="invoice"),
    path("invoices/<int:invoice_id>/pdf/", views.invoice_pdf, name="invoice_pdf"),
    path("statement/", views.statement, name="statement"),
    path("api-keys/", views.api_keys, name="api_keys"),
    path("api-keys/<int:key_id>/revoke/", views.api_key_revoke_view, name="api_key_revoke"),
    path(
        "accounts/<int:account_id>/billing-profile/",
        views.billing_profile,
        name="billing_profile",
    ),
    # Teams and access (issue 19)
    path("team/", team_views.team, name="team"),
    path("team/audit/", team_views.audit_trail, name="audit_trail"),
    path(
        "team/invitations/<int:invitation_id>/revoke/",
        team_views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("team/members/<int:membership_id>/role/", team_views.member_role, name="member_role"),
    path(
        "team/members/<int:membership_id>/remove/", team_views.member_remove, name="member_remove"
    ),
    path(
        "team/accounts/<int:account_id>/two-factor/",
        team_views.account_two_factor,
        name="account_two_factor",
    ),
    path("invitations/<str:token>/", team_views.invitation_accept, name="invitation_accept"),
    path("two-factor/", team_views.two_factor_page, name="two_factor"),
    path("two-factor/verify/", team_views.two_factor_verify, name="two_factor_verify"),
    path("", include("notifications.web_urls")),  # webhooks and alerts (issue 16)
]
