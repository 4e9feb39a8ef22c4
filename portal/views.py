"""The customer portal's pages. Thin: look the object up within the user's accounts (anything
else is a 404), call a selector to read or a service to write, render.

Every URL that names an object (SDKAppID, invoice, add-on subscription, API key) resolves it
through a queryset scoped to the user's memberships, before anything else, so another
account's object answers 404 to every method.
"""

import datetime as dt

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts import selectors as account_selectors
from accounts.services import api_key_create, api_key_revoke
from accounts.throttling import PasswordResetThrottle, ThrottledAuthenticationForm
from billing import selectors
from billing.calendar import billing_today, month_start, parse_month
from billing.errors import BillingError
from billing.models import AddOnSubscription
from billing.pdf import invoice_pdf as render_invoice_pdf
from billing.pdf import invoice_pdf_filename
from billing.selectors.restatements import late_usage_for_invoice
from billing.services import applications as application_services
from portal.forms import ApiKeyCreateForm, ApplicationCreateForm, EditionForm, ItemForm

CHART_WINDOWS = (30, 90)
RECENT_CHARGE_DAYS = 7


def _post_only(request):
    """After the object lookup (so a stranger's object is a 404 to every method)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return None


def _application(request, sdkappid: int):
    return get_object_or_404(selectors.applications_for_user(user=request.user), sdkappid=sdkappid)


def _invoice(request, invoice_id: int):
    return get_object_or_404(selectors.invoices_for_user(user=request.user), pk=invoice_id)


# --------------------------------------------------------------------------------------------
# Log-in (throttled), dashboard
# --------------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    """Django's login with the lock-out of accounts.throttling; a locked-out attempt answers
    429 Too Many Requests."""

    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if getattr(form, "locked_out", False):
            response.status_code = 429
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Django's password reset, throttled (accounts.throttling.PasswordResetThrottle): 429
    past the client address's limit; past one e-mail address's limit the same "sent" page,
    and no e-mail."""

    def form_valid(self, form):
        throttle = PasswordResetThrottle.for_request(self.request, form.cleaned_data["email"])
        if not throttle.client_allowed():
            form.add_error(None, "Too many password reset requests. Try again later.")
            response = self.form_invalid(form)
            response.status_code = 429
            return response
        if not throttle.email_allowed():
            return redirect(self.get_success_url())
        return super().form_valid(form)


@login_required
def dashboard(request):
    accounts = selectors.dashboard_for_user(user=request.user)
    return render(request, "portal/dashboard.html", {"accounts": accounts})


# --------------------------------------------------------------------------------------------
# Applications
# --------------------------------------------------------------------------------------------


@login_required
def application_create(request):
    accounts = selectors.accounts_for_user(user=request.user)
    if not accounts.exists():
        messages.error(request, "You are not a member of any account yet.")
        return redirect("dashboard")
    form = ApplicationCreateForm(request.POST or None, accounts=accounts)
    if request.method == "POST" and form.is_valid():
        try:
            application = application_services.application_create(
                account=form.cleaned_data["account"],
                name=form.cleaned_data["name"],
                region=form.cleaned_data["region"],
                actor=request.user,
            )
        except BillingError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(
                request,
                f"Application {application.name} created with SDKAppID "
                f"{application.sdkappid}, on Trial.",
            )
            return redirect("application", sdkappid=application.sdkappid)
    status = 400 if request.method == "POST" else 200
    return render(request, "portal/application_create.html", {"form": form}, status=status)


def _chart_data(usage: selectors.UsageSeries) -> dict:
    """Chart.js input: days and series as strings (quantities, not money; JS parses them)."""
    return {
        "days": [day.isoformat() for day in usage.days],
        "charts": [
            {
                "key": chart.key,
                "title": chart.title,
                "unit": chart.unit,
                "kind": chart.kind,
                "series": [
                    {
                        "label": series.label,
                        "values": [None if v is None else f"{v:f}" for v in series.values],
                    }
                    for series in chart.series
                ],
            }
            for chart in usage.charts
        ],
    }


@login_required
def application_detail(request, sdkappid: int):
    application = _application(request, sdkappid)
    today = billing_today()
    overview = selectors.application_overview(application=application, today=today)
    usage = selectors.usage_series(application=application, days=max(CHART_WINDOWS), today=today)
    windows = {days: usage.window(days) for days in CHART_WINDOWS}
    charts = [
        {"chart": chart, "windows": [(days, windows[days].charts[n]) for days in CHART_WINDOWS]}
        for n, chart in enumerate(usage.charts)
    ]
    charge_days = [
        group
        for month in (month_start(today), month_start(month_start(today) - dt.timedelta(days=1)))
        for group in selectors.application_charges(application=application, month=month)
    ][:RECENT_CHARGE_DAYS]
    return render(
        request,
        "portal/application_detail.html",
        {
            "app": application,
            "overview": overview,
            "charts": charts,
            "chart_data": _chart_data(usage),
            "chart_windows": CHART_WINDOWS,
            "charge_days": charge_days,
        },
    )


@login_required
def application_charges(request, sdkappid: int):
    application = _application(request, sdkappid)
    error = ""
    month = month_start(billing_today())
    if request.GET.get("month"):
        try:
            month = parse_month(request.GET["month"])
        except ValueError as exc:
            error = str(exc)
    item_code = request.GET.get("item") or None
    charge_days = selectors.application_charges(
        application=application, month=month, item_code=item_code
    )
    return render(
        request,
        "portal/application_charges.html",
        {
            "app": application,
            "month": month,
            "months": selectors.charge_months(application=application),
            "item_code": item_code,
            "charge_days": charge_days,
            "error": error,
        },
        status=400 if error else 200,
    )


@login_required
def edition_change(request, sdkappid: int):
    """GET: the consequences of changing to ``?edition=`` (nothing written). POST: confirm."""
    application = _application(request, sdkappid)
    form = EditionForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        return render(
            request,
            "portal/edition_change.html",
            {"app": application, "error": "Choose an edition: edition is required."},
            status=400,
        )
    code = form.cleaned_data["edition"]
    if request.method == "POST":
        try:
            period = application_services.edition_change(
                application=application, edition_code=code, actor=request.user
            )
        except BillingError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"{application.name} changes to {period.edition.name} on "
                f"{period.starts_on:%d %b %Y}.",
            )
        return redirect("application", sdkappid=application.sdkappid)
    try:
        preview = selectors.edition_change_preview(application=application, edition_code=code)
    except BillingError as error:
        return render(
            request,
            "portal/edition_change.html",
            {"app": application, "error": error.message},
            status=400,
        )
    return render(request, "portal/edition_change.html", {"app": application, "preview": preview})


def _buy(request, sdkappid: int, service, what: str):
    application = _application(request, sdkappid)
    if (refused := _post_only(request)) is not None:
        return refused
    form = ItemForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Choose the {what} to buy.")
    else:
        try:
            bought = service(
                application=application, item_code=form.cleaned_data["item"], actor=request.user
            )
        except BillingError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Bought {bought.item.name} for {application.name}.")
    return redirect("application", sdkappid=application.sdkappid)


@login_required
def addon_buy(request, sdkappid: int):
    return _buy(request, sdkappid, application_services.addon_subscribe, "add-on option")


@login_required
def pack_buy(request, sdkappid: int):
    return _buy(request, sdkappid, application_services.resource_pack_purchase, "resource pack")


@login_required
def addon_cancel(request, sdkappid: int, subscription_id: int):
    application = _application(request, sdkappid)
    subscription = get_object_or_404(
        AddOnSubscription.objects.select_related("item", "addon"),
        application=application,
        pk=subscription_id,
    )
    if (refused := _post_only(request)) is not None:
        return refused
    try:
        subscription = application_services.addon_cancel(
            subscription=subscription, actor=request.user
        )
    except BillingError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            f"{subscription.item.name} cancelled: it runs until "
            f"{subscription.ends_on:%d %b %Y} and is not renewed.",
        )
    return redirect("application", sdkappid=application.sdkappid)


# --------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------


@login_required
def invoice_list(request):
    invoices = list(selectors.invoices_for_user(user=request.user))
    for invoice in invoices:
        invoice.amount_due = selectors.amount_due(
            invoice, credited=invoice.credited, paid=invoice.paid
        )
    return render(
        request,
        "portal/invoice_list.html",
        {
            "invoices": invoices,
            "balances": selectors.balances_for_user(user=request.user),
            "credit_notes": selectors.credit_notes_for_user(user=request.user),
            "payments": selectors.payments_for_user(user=request.user),
        },
    )


@login_required
def invoice_detail(request, invoice_id: int):
    invoice = _invoice(request, invoice_id)
    detail = selectors.invoice_detail(invoice=invoice)
    # Late usage of this closed month: shown on the page, never part of the invoice (its PDF).
    late = late_usage_for_invoice(invoice=invoice)
    return render(
        request,
        "portal/invoice_detail.html",
        {"detail": detail, "invoice": invoice, "late_usage": late},
    )


@login_required
def invoice_pdf(request, invoice_id: int):
    invoice = _invoice(request, invoice_id)
    response = HttpResponse(render_invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice_pdf_filename(invoice)}"'
    return response


# --------------------------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------------------------


@never_cache
@login_required
def api_keys(request):
    """GET: the keys by prefix. POST: create one; the raw key is in this response only."""
    accounts = selectors.accounts_for_user(user=request.user)
    form = ApiKeyCreateForm(request.POST or None, accounts=accounts)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            key, raw_key = api_key_create(
                account=form.cleaned_data["account"],
                name=form.cleaned_data["name"],
                created_by=request.user,
            )
            created = {"key": key, "raw_key": raw_key}
            form = ApiKeyCreateForm(accounts=accounts)
        else:
            status = 400
    return render(
        request,
        "portal/api_keys.html",
        {
            "form": form,
            "created": created,
            "keys": account_selectors.api_keys_for_user(user=request.user),
            "has_accounts": accounts.exists(),
        },
        status=status,
    )


@login_required
def api_key_revoke_view(request, key_id: int):
    key = get_object_or_404(account_selectors.api_keys_for_user(user=request.user), pk=key_id)
    if (refused := _post_only(request)) is not None:
        return refused
    if key.revoked_at is None:
        api_key_revoke(key=key)
        messages.success(
            request,
            f"Key {key.prefix}… revoked at {timezone.localtime(key.revoked_at):%d %b %Y %H:%M}; "
            "it no longer authenticates.",
        )
    return redirect(reverse("api_keys"))
