"""Portal pages: webhook endpoints (create with the secret shown once, deliveries with every
attempt, replay, test, enable, delete) and alerts. Every URL naming an object looks it up
within the user's accounts first: another account's object is a 404 to every method."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts.models import Account
from billing.errors import BillingError
from billing.models import Application
from notifications import alerts as alert_services
from notifications import webhooks
from notifications.forms import AlertForm, EndpointForm
from notifications.models import Alert, WebhookDelivery, WebhookEndpoint
from notifications.permissions import portal_managed_account_ids


def _managed_accounts(user):
    return Account.objects.filter(pk__in=portal_managed_account_ids(user=user))


def _endpoint(request, endpoint_id: int) -> WebhookEndpoint:
    return get_object_or_404(
        WebhookEndpoint.objects.filter(
            account__in=_managed_accounts(request.user), deleted_at__isnull=True
        ),
        pk=endpoint_id,
    )


def _post_only(request):
    return None if request.method == "POST" else HttpResponseNotAllowed(["POST"])


@login_required
def webhook_list(request):
    accounts = _managed_accounts(request.user)
    form = EndpointForm(request.POST or None, accounts=accounts)
    created, status = None, 200
    if request.method == "POST":
        if form.is_valid():
            try:
                created = webhooks.endpoint_create(
                    account_id=form.cleaned_data["account"].pk,
                    url=form.cleaned_data["url"],
                    event_types=form.cleaned_data["event_types"],
                    description=form.cleaned_data["description"],
                )
                form = EndpointForm(accounts=accounts)
            except BillingError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = 400
        else:
            status = 400
    endpoints = (
        WebhookEndpoint.objects.filter(account__in=accounts, deleted_at__isnull=True)
        .select_related("account")
        .order_by("account__name", "id")
    )
    context = {
        "form": form,
        "created": created,
        "endpoints": endpoints,
        "has_accounts": accounts.exists(),
    }
    return render(request, "notifications/portal/webhooks.html", context, status=status)


@login_required
def webhook_detail(request, endpoint_id: int):
    endpoint = _endpoint(request, endpoint_id)
    deliveries = (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related("log")
        .order_by("-id")[:50]
    )
    context = {"endpoint": endpoint, "deliveries": deliveries}
    return render(request, "notifications/portal/webhook_detail.html", context)


@login_required
def webhook_action(request, endpoint_id: int, action: str):
    endpoint = _endpoint(request, endpoint_id)
    if (refused := _post_only(request)) is not None:
        return refused
    if action == "delete":
        webhooks.endpoint_delete(endpoint=endpoint)
        messages.success(request, f"Endpoint {endpoint.url} deleted; it receives nothing more.")
        return redirect(reverse("webhooks"))
    if action == "test":
        result = webhooks.endpoint_test(endpoint=endpoint)
        if result["succeeded"]:
            messages.success(
                request,
                f"Test delivered: HTTP {result['status_code']} in {result['duration_ms']} ms.",
            )
        else:
            messages.error(request, f"Test failed: {result['error']}")
    elif action == "enable":
        webhooks.endpoint_enable(endpoint=endpoint)
        messages.success(request, "Endpoint enabled; pending deliveries resume.")
    else:
        raise Http404
    return redirect(reverse("webhook", args=[endpoint.pk]))


@login_required
def webhook_replay(request, endpoint_id: int, delivery_id: int):
    endpoint = _endpoint(request, endpoint_id)
    delivery = get_object_or_404(WebhookDelivery.objects.filter(endpoint=endpoint), pk=delivery_id)
    if (refused := _post_only(request)) is not None:
        return refused
    result = webhooks.delivery_attempt(delivery_id=delivery.pk, replay=True)
    last = result.log.last() if result else None
    if last is not None and last.succeeded:
        messages.success(request, f"Replayed {delivery.event_id}: HTTP {last.status_code}.")
    else:
        messages.error(
            request,
            f"Replay of {delivery.event_id} failed: {last.error if last else 'busy, try again'}",
        )
    return redirect(reverse("webhook", args=[endpoint.pk]))


@login_required
def alert_list(request):
    accounts = _managed_accounts(request.user)
    form = AlertForm(request.POST or None, accounts=accounts)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            account = data["account"]
            application = None
            try:
                if data["application"]:
                    application = Application.objects.filter(
                        account=account, sdkappid=data["application"]
                    ).first()
                    if application is None:
                        raise BillingError(
                            f"No application {data['application']} in {account.name}.",
                            code="not_found",
                            field="application",
                        )
                percent = data["percent"]
                alert_services.alert_create(
                    account_id=account.pk,
                    kind=data["kind"],
                    application=application,
                    currency=data["currency"],
                    amount=data["amount"],
                    share=None if percent is None else percent / 100,
                    actor=request.user,
                )
                messages.success(request, "Alert set.")
                return redirect(reverse("alerts"))
            except BillingError as exc:
                field = {"share": "percent"}.get(exc.field, exc.field)
                form.add_error(field if field in form.fields else None, exc.message)
                status = 400
        else:
            status = 400
    alerts = (
        Alert.objects.filter(account__in=accounts)
        .select_related("account", "application")
        .order_by("account__name", "id")
    )
    context = {"form": form, "alerts": alerts, "has_accounts": accounts.exists()}
    return render(request, "notifications/portal/alerts.html", context, status=status)


@login_required
def alert_delete(request, alert_id: int):
    alert = get_object_or_404(
        Alert.objects.filter(account__in=_managed_accounts(request.user)), pk=alert_id
    )
    if (refused := _post_only(request)) is not None:
        return refused
    alert_services.alert_delete(alert=alert)
    messages.success(request, "Alert deleted.")
    return redirect(reverse("alerts"))
