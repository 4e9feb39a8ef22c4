"""The customer portal's pages. Thin: look the object up within the user's accounts (anything
else is a 404), call a selector to read or a service to write, render.

Every URL that names an object (SDKAppID, invoice, add-on subscription, API key) resolves it
through a queryset scoped to the user's memberships, before anything else, so another
account's object answers 404 to every method.
"""

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts import permissions
from accounts import selectors as account_selectors
from accounts.services import (
    AccessDenied,
    AccountError,
    api_key_create,
    api_key_revoke,
    billing_profile_update,
)
from accounts.throttling import PasswordResetThrottle, ThrottledAuthenticationForm
from billing import selectors
from billing.calendar import billing_today, month_start, parse_month
from billing.display import local_date, local_datetime
from billing.errors import BillingError
from billing.models import AddOnSubscription, BillableItem
from billing.pdf import invoice_pdf as render_invoice_pdf
from billing.pdf import invoice_pdf_filename
from billing.selectors import live_usage
from billing.selectors.documents import invoice_document, invoice_total_shown, unpaid_by_account
from billing.selectors.restatements import late_usage_for_invoice
from billing.services import applications as application_services
from billing.services.plans import plan_carry_out, plan_preview
from portal.forms import (
    ApiKeyCreateForm,
    ApplicationCreateForm,
    BillingProfileForm,
    EditionForm,
    ItemForm,
)

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
    invoice = get_object_or_404(selectors.invoices_for_user(user=request.user), pk=invoice_id)
    permissions.role_check(user=request.user, account_id=invoice.account_id, action="invoices.read")
    return invoice


def _accounts_allowing(request, action: str):
    """The user's accounts where their role allows ``action``; 403 naming the role when they
    belong to accounts but none allows it (accounts/permissions.py)."""
    accounts = selectors.accounts_for_user(user=request.user)
    allowed = accounts.filter(
        pk__in=permissions.accounts_allowing(user=request.user, action=action)
    )
    if accounts.exists() and not allowed.exists():
        roles = set(permissions.roles_by_account(user=request.user).values())
        raise PermissionDenied(permissions.role_refusal(action, sorted(roles)[0]))
    return allowed


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
    unpaid = unpaid_by_account(account_ids=[summary.account.pk for summary in accounts])
    for summary in accounts:
        summary.unpaid = unpaid.get(summary.account.pk, {})
    return render(request, "portal/dashboard.html", {"accounts": accounts})


# --------------------------------------------------------------------------------------------
# Applications
# --------------------------------------------------------------------------------------------


@login_required
def application_create(request):
    if not selectors.accounts_for_user(user=request.user).exists():
        messages.error(request, "You are not a member of any account yet.")
        return redirect("dashboard")
    accounts = _accounts_allowing(request, "applications.create")
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
            "unrated": live_usage.unrated_usage(application_id=application.pk, today=today),
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
            "item_name": (
                BillableItem.objects.filter(code=item_code).values_list("name", flat=True).first()
                if item_code
                else None
            )
            or item_code,
            "charge_days": charge_days,
            "error": error,
        },
        status=400 if error else 200,
    )


def _edition_plan(application, code: str, day):
    return plan_preview(
        action="edition_change",
        application=application,
        day=day,
        run=lambda: application_services.edition_change(
            application=application, edition_code=code, effective=day
        ),
    )


@login_required
def edition_change(request, sdkappid: int):
    """GET: the plan of changing to ``?edition=`` (what it ends, credits and starts; nothing
    written). POST with the plan's digest: carry out exactly that plan."""
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
    day = billing_today()
    if request.method == "POST":
        permissions.role_check(
            user=request.user, account_id=application.account_id, action="applications.purchase"
        )
    if request.method == "POST" and form.cleaned_data["digest"]:
        try:
            period, _ = plan_carry_out(
                action="edition_change",
                application=application,
                day=day,
                run=lambda: application_services.edition_change(
                    application=application, edition_code=code, actor=request.user, effective=day
                ),
                confirmed_digest=form.cleaned_data["digest"],
            )
        except BillingError as error:
            messages.error(request, error.message)
            if error.code == "plan_changed":
                return redirect(f"{reverse('edition_change', args=[sdkappid])}?edition={code}")
        else:
            messages.success(
                request,
                f"{application.name} changes to {period.edition.name} on "
                f"{local_date(period.starts_on)}.",
            )
        return redirect("application", sdkappid=application.sdkappid)
    try:
        preview = selectors.edition_change_preview(
            application=application, edition_code=code, today=day
        )
        plan = _edition_plan(application, code, day)
    except BillingError as error:
        return render(
            request,
            "portal/edition_change.html",
            {"app": application, "error": error.message},
            status=400,
        )
    return render(
        request,
        "portal/edition_change.html",
        {"app": application, "preview": preview, "plan": plan},
    )


PURCHASES = {
    "addon": ("add-on option", "addon_buy", application_services.addon_subscribe),
    "pack": ("resource pack", "pack_buy", application_services.resource_pack_purchase),
}


def _buy(request, sdkappid: int, kind: str):
    """GET ?item= (or POST without a digest): the confirmation, with the plan the purchase
    would carry out: price, term or validity, the invoice it lands on. POST with the plan's
    digest: buy exactly that."""
    application = _application(request, sdkappid)
    permissions.role_check(
        user=request.user, account_id=application.account_id, action="applications.purchase"
    )
    what, url_name, service = PURCHASES[kind]
    form = ItemForm(request.POST if request.method == "POST" else request.GET)
    if not form.is_valid():
        if request.method == "POST":
            messages.error(request, f"Choose the {what} to buy.")
            return redirect("application", sdkappid=application.sdkappid)
        return render(
            request,
            "portal/purchase_confirm.html",
            {"app": application, "error": f"item: choose the {what} to buy."},
            status=400,
        )
    code, digest = form.cleaned_data["item"], form.cleaned_data["digest"]
    day = billing_today()

    def run(actor=None):
        return lambda: service(application=application, item_code=code, actor=actor, day=day)

    if request.method == "POST" and digest:
        try:
            bought, _ = plan_carry_out(
                action=kind,
                application=application,
                day=day,
                run=run(request.user),
                confirmed_digest=digest,
            )
        except BillingError as error:
            messages.error(request, error.message)
            if error.code != "plan_changed":
                return redirect("application", sdkappid=application.sdkappid)
        else:
            messages.success(request, f"Bought {bought.item.name} for {application.name}.")
            return redirect("application", sdkappid=application.sdkappid)
    try:
        item = BillableItem.objects.get(code=code)
        plan = plan_preview(action=kind, application=application, day=day, run=run())
    except BillableItem.DoesNotExist:
        messages.error(request, f"item: no {what} {code!r}.")
        return redirect("application", sdkappid=application.sdkappid)
    except BillingError as error:
        messages.error(request, error.message)
        return redirect("application", sdkappid=application.sdkappid)
    return render(
        request,
        "portal/purchase_confirm.html",
        {"app": application, "item": item, "plan": plan, "what": what, "url_name": url_name},
    )


@login_required
def addon_buy(request, sdkappid: int):
    return _buy(request, sdkappid, "addon")


@login_required
def pack_buy(request, sdkappid: int):
    return _buy(request, sdkappid, "pack")


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
    permissions.role_check(
        user=request.user, account_id=application.account_id, action="applications.purchase"
    )
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
            f"{local_date(subscription.ends_on)} and is not renewed.",
        )
    return redirect("application", sdkappid=application.sdkappid)


# --------------------------------------------------------------------------------------------
# Invoices
# --------------------------------------------------------------------------------------------


@login_required
def invoice_list(request):
    allowed = set(_accounts_allowing(request, "invoices.read").values_list("pk", flat=True))
    invoices = list(selectors.invoices_for_user(user=request.user).filter(account_id__in=allowed))
    today = billing_today()
    for invoice in invoices:
        invoice.amount_due = selectors.amount_due(
            invoice, credited=invoice.credited, paid=invoice.paid
        )
        # The running month's draft reads the one month-to-date figure.
        invoice.shown_total = invoice_total_shown(invoice, today)
    unpaid = unpaid_by_account(account_ids=sorted({invoice.account_id for invoice in invoices}))
    return render(
        request,
        "portal/invoice_list.html",
        {
            "invoices": invoices,
            "balances": [
                (account, balances, unpaid.get(account.pk, {}))
                for account, balances in selectors.balances_for_user(user=request.user)
                if account.pk in allowed
            ],
            "credit_notes": selectors.credit_notes_for_user(user=request.user).filter(
                invoice__account_id__in=allowed
            ),
            "payments": selectors.payments_for_user(user=request.user).filter(
                account_id__in=allowed
            ),
            "today": today,
        },
    )


@login_required
def invoice_detail(request, invoice_id: int):
    invoice = _invoice(request, invoice_id)
    detail = invoice_document(invoice=invoice)
    # Late usage of this closed month: shown on the page, never part of the invoice (its PDF).
    late = late_usage_for_invoice(invoice=invoice)
    return render(
        request,
        "portal/invoice_detail.html",
        {
            "detail": detail,
            "invoice": invoice,
            "late_usage": late,
            "can_edit_profile": account_selectors.may_edit_billing_profile(
                user=request.user, account=invoice.account
            ),
        },
    )


@login_required
def invoice_pdf(request, invoice_id: int):
    invoice = _invoice(request, invoice_id)
    response = HttpResponse(render_invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice_pdf_filename(invoice)}"'
    return response


@login_required
def statement(request):
    """The account statement for a date range (issue 15): HTML, or ``format=csv`` / ``pdf``.
    ``account`` is looked up within the user's accounts (another account's id is a 404)."""
    from billing.admin_site import StatementForm
    from billing.pdf import statement_pdf
    from billing.reports.statement import (
        account_statement,
        statement_csv,
        statement_filename,
        statement_range_default,
    )

    accounts = _accounts_allowing(request, "statements.read")
    account = None
    if request.GET.get("account"):
        try:
            account_id = int(request.GET["account"])
        except ValueError:
            account_id = 0
        account = get_object_or_404(accounts, pk=account_id)
    else:
        account = accounts.first()
    start, end = statement_range_default(billing_today())
    data = {"start": start, "end": end, **request.GET.dict()}
    data["account"] = account.pk if account else ""
    form = StatementForm(data)
    form.fields["account"].queryset = accounts
    result = None
    status = 200
    if account is not None:
        if form.is_valid():
            result = account_statement(
                account=account, start=form.cleaned_data["start"], end=form.cleaned_data["end"]
            )
            fmt = request.GET.get("format", "html")
            if fmt in ("csv", "pdf"):
                if fmt == "csv":
                    response = HttpResponse(
                        statement_csv(result), content_type="text/csv; charset=utf-8"
                    )
                else:
                    response = HttpResponse(statement_pdf(result), content_type="application/pdf")
                name = statement_filename(result, fmt)
                response["Content-Disposition"] = f'attachment; filename="{name}"'
                return response
        else:
            status = 400
    query = urlencode({key: data[key] for key in ("account", "start", "end")})
    return render(
        request,
        "portal/statement.html",
        {"form": form, "statement": result, "accounts": accounts, "query": query},
        status=status,
    )


# --------------------------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------------------------


@never_cache
@login_required
def api_keys(request):
    """GET: the keys by prefix. POST: create one; the raw key is in this response only.
    Owners and developers only; a developer's keys carry developer scopes only."""
    accounts = _accounts_allowing(request, "api_keys.read")
    form = ApiKeyCreateForm(request.POST or None, accounts=accounts)
    created = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                key, raw_key = api_key_create(
                    account=form.cleaned_data["account"],
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.cleaned_data["expires_at"],
                    created_by=request.user,
                    check_role=True,
                )
            except AccessDenied as refused:
                raise PermissionDenied(str(refused)) from None
            except AccountError as error:
                form.add_error(error.field if error.field in form.fields else None, str(error))
                status = 400
            else:
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
            "keys": account_selectors.api_keys_for_user(user=request.user).filter(
                account__in=accounts
            ),
            "has_accounts": accounts.exists(),
            "scopes": permissions.SCOPES,
        },
        status=status,
    )


@login_required
def api_key_revoke_view(request, key_id: int):
    """GET (or POST without ``confirm``): what revoking the key does. POST with confirm:
    revoke it."""
    key = get_object_or_404(account_selectors.api_keys_for_user(user=request.user), pk=key_id)
    if request.method == "POST":
        permissions.role_check(
            user=request.user, account_id=key.account_id, action="api_keys.revoke"
        )
    if request.method == "POST" and request.POST.get("confirm") == str(key.pk):
        if key.revoked_at is None:
            try:
                key = api_key_revoke(key=key, actor=request.user, check_role=True)
            except AccessDenied as refused:
                raise PermissionDenied(str(refused)) from None
            messages.success(
                request,
                f"Key {key.prefix}… revoked at {local_datetime(key.revoked_at)}; "
                "it no longer authenticates.",
            )
        return redirect(reverse("api_keys"))
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(request, "portal/api_key_revoke.html", {"key": key})


# --------------------------------------------------------------------------------------------
# Billing profile (the buyer on invoices)
# --------------------------------------------------------------------------------------------


@login_required
def billing_profile(request, account_id: int):
    """The account owner edits the billing details future invoices carry."""
    account = get_object_or_404(
        selectors.accounts_for_user(user=request.user).distinct(), pk=account_id
    )
    if not account_selectors.may_edit_billing_profile(user=request.user, account=account):
        return render(
            request,
            "portal/billing_profile.html",
            {"account": account, "forbidden": True},
            status=403,
        )
    initial = {
        "billing_name": account.billing_name,
        "billing_address": account.billing_address,
        "tax_id": account.tax_id,
        "billing_email": account.billing_email,
    }
    form = BillingProfileForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            billing_profile_update(account=account, **form.cleaned_data)
            messages.success(
                request,
                "Billing profile saved. Invoices issued from now on carry these details; "
                "issued invoices keep the details they were issued with.",
            )
            return redirect("billing_profile", account_id=account.pk)
        return render(
            request, "portal/billing_profile.html", {"account": account, "form": form}, status=400
        )
    return render(request, "portal/billing_profile.html", {"account": account, "form": form})
