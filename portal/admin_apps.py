from django.contrib.admin.apps import AdminConfig


class FinanceAdminConfig(AdminConfig):
    """The Django admin, with the finance home page and reports (billing.admin_site)."""

    default_site = "billing.admin_site.FinanceAdminSite"
