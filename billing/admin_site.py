"""The finance admin site (issue 15): the Django admin with a finance home page (receivables
aging, revenue per product family, what needs action, the jobs), a search across accounts,
applications and invoices, account statements and the accounting journal. Installed as the
default admin site by ``portal.admin_apps.FinanceAdminConfig``; every page needs a staff member.

It lives outside the ``billing.admin`` package on purpose: the first registration of any app
builds the default site by importing this module, and importing a module of ``billing.admin``
would run that package's registrations against a second, half-built site."""

import datetime as dt

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts.models import Account
from billing.calendar import billing_today, month_start, parse_month
from billing.models import Application, Invoice
from billing.pdf import statement_pdf
from billing.reports import home
from billing.reports.journal import journal_csv, journal_for_month
from billing.reports.statement import (
    account_statement,
    statement_csv,
    statement_filename,
    statement_range_default,
)
from billing.selectors import account_balances


class StatementForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.order_by("name", "pk"))
    start = forms.DateField(label="From", help_text="First billing day, YYYY-MM-DD.")
    end = forms.DateField(label="To", help_text="Last billing day, included.")

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", "The range ends before it starts.")
        return data


class FinanceAdminSite(admin.AdminSite):
    site_header = "Billing administration"
    site_title = "Billing admin"
    index_title = "Finance home"
    index_template = "admin/finance/index.html"

    def index(self, request, extra_context=None):
        today = billing_today()
        revenue = home.revenue_by_family(today=today)
        context = {
            "today": today,
            "aging": home.receivables_aging(today=today),
            "aging_buckets": home.AGING_BUCKETS,
            "revenue": revenue,
            "revenue_chart": [
                {
                    "currency": series.currency,
                    "months": [f"{m:%b %Y}" for m in series.months],
                    "estimate_index": len(series.months) - 1,
                    "families": [
                        {"label": label, "data": [f"{a:.2f}" for a in amounts]}
                        for label, amounts, total in series.rows()
                        if any(amounts)
                    ],
                }
                for series in revenue.series
            ],
            "actions": home.actions_needed(today=today),
            "jobs": home.jobs_overview(today=today),
            "grace_days": home.settings.OVERDUE_GRACE_DAYS,
            "last_month": month_start(month_start(today) - dt.timedelta(days=1)),
            "this_month": month_start(today),
        }
        return super().index(request, {**context, **(extra_context or {})})

    def get_urls(self):
        return [
            path("finance/search/", self.admin_view(self.search_view), name="finance_search"),
            path("finance/journal/", self.admin_view(self.journal_view), name="finance_journal"),
            path(
                "finance/statement/",
                self.admin_view(self.statement_view),
                name="finance_statement",
            ),
            *super().get_urls(),
        ]

    # -- search -------------------------------------------------------------------------------

    def search_view(self, request):
        """Accounts, applications and invoices by SDKAppID, invoice number, account name or
        billing e-mail, from the home page's search box."""
        query = request.GET.get("q", "").strip()[:200]
        results = {"accounts": [], "applications": [], "invoices": []}
        if query:
            app_filter = Q(name__icontains=query) | Q(account__name__icontains=query)
            account_filter = Q(name__icontains=query) | Q(billing_email__icontains=query)
            invoice_filter = Q(number__icontains=query) | Q(account__name__icontains=query)
            if query.isascii() and query.isdigit() and len(query) <= 18:
                app_filter |= Q(sdkappid=int(query))
                account_filter |= Q(applications__sdkappid=int(query))
                invoice_filter |= Q(lines__application__sdkappid=int(query))
            results["accounts"] = list(
                Account.objects.filter(account_filter).distinct().order_by("name", "pk")[:25]
            )
            results["applications"] = list(
                Application.objects.filter(app_filter)
                .select_related("account")
                .order_by("sdkappid")[:25]
            )
            results["invoices"] = list(
                Invoice.objects.filter(pk__in=Invoice.objects.filter(invoice_filter).values("pk"))
                .select_related("account")
                .order_by("-month", "account__name", "currency")[:25]
            )
        context = {
            **self.each_context(request),
            "title": f"Search: {query}" if query else "Search",
            "query": query,
            "results": results,
            "found": sum(len(rows) for rows in results.values()),
        }
        return TemplateResponse(request, "admin/finance/search.html", context)

    # -- journal ------------------------------------------------------------------------------

    def journal_view(self, request):
        """The journal of ``?month=YYYY-MM`` as CSV (what ``export_journal`` prints); without
        a month, the form."""
        if not request.user.has_perm("billing.view_invoice"):
            raise PermissionDenied
        month_text = request.GET.get("month", "").strip()
        error = ""
        if month_text:
            try:
                month = parse_month(month_text)
            except ValueError as exc:
                error = f"month: {exc}"
            else:
                response = HttpResponse(
                    journal_csv(journal_for_month(month)), content_type="text/csv; charset=utf-8"
                )
                response["Content-Disposition"] = (
                    f'attachment; filename="journal-{month:%Y-%m}.csv"'
                )
                return response
        today = billing_today()
        context = {
            **self.each_context(request),
            "title": "Accounting journal",
            "error": error,
            "month": month_text
            or f"{month_start(month_start(today) - dt.timedelta(days=1)):%Y-%m}",
        }
        return TemplateResponse(
            request, "admin/finance/journal.html", context, status=400 if error else 200
        )

    # -- statements ---------------------------------------------------------------------------

    def statement_view(self, request):
        """An account's statement for a date range: HTML here, ``format=csv`` or ``pdf``."""
        if not request.user.has_perm("billing.view_invoice"):
            raise PermissionDenied
        start, end = statement_range_default(billing_today())
        form = StatementForm(request.GET or None, initial={"start": start, "end": end})
        statement = None
        if request.GET and form.is_valid():
            statement = account_statement(
                account=form.cleaned_data["account"],
                start=form.cleaned_data["start"],
                end=form.cleaned_data["end"],
            )
            fmt = request.GET.get("format", "html")
            if fmt == "csv":
                response = HttpResponse(
                    statement_csv(statement), content_type="text/csv; charset=utf-8"
                )
                response["Content-Disposition"] = (
                    f'attachment; filename="{statement_filename(statement, "csv")}"'
                )
                return response
            if fmt == "pdf":
                response = HttpResponse(statement_pdf(statement), content_type="application/pdf")
                response["Content-Disposition"] = (
                    f'inline; filename="{statement_filename(statement, "pdf")}"'
                )
                return response
        context = {
            **self.each_context(request),
            "title": "Account statement",
            "form": form,
            "statement": statement,
            "balances": account_balances(account_id=statement.account.pk) if statement else {},
            "query": request.GET.urlencode(),
            "account_url": (
                reverse("admin:accounts_account_change", args=[statement.account.pk])
                if statement
                else ""
            ),
        }
        return TemplateResponse(
            request,
            "admin/finance/statement.html",
            context,
            status=400 if request.GET and not form.is_valid() else 200,
        )
