"""Alerts the customer sets (issue 16, item 4): evaluated after each rating run and after usage
arrives; each fires at most once per threshold and month, as ``alert.triggered`` (webhook and
e-mail), by the event's dedupe key ``alert:<id>:<YYYY-MM>``."""

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.db import transaction

from billing.calendar import billing_today, month_start
from billing.display import money
from billing.errors import BillingError
from billing.models import Application, Currency
from billing.selectors import allowances_left, month_to_date, packs_left
from notifications.models import Alert
from notifications.outbox import record


def _decimal(raw, field: str) -> Decimal:
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise BillingError(
            f"{field} must be a decimal number.", code="invalid", field=field
        ) from None
    if not value.is_finite():
        raise BillingError(f"{field} must be a finite number.", code="invalid", field=field)
    return value


def alert_create(
    *,
    account_id: int,
    kind: str,
    application: Application | None = None,
    currency: str = "",
    amount=None,
    share=None,
    actor=None,
) -> Alert:
    """Validate, then store one alert. ``share`` is a fraction (0.2 = 20 %)."""
    if kind not in Alert.Kind.values:
        raise BillingError(
            f"Unknown alert kind {kind!r}; choose one of {', '.join(Alert.Kind.values)}.",
            code="invalid",
            field="kind",
        )
    if application is not None and application.account_id != account_id:
        raise BillingError("No such application here.", code="not_found", field="application")
    fields = {"account_id": account_id, "kind": kind, "application": application}
    if kind == Alert.Kind.SPEND:
        if currency not in Currency.values:
            raise BillingError(
                f"Give the currency: one of {', '.join(Currency.values)}.",
                code="invalid",
                field="currency",
            )
        value = _decimal(amount, "amount")
        if value <= 0 or value != value.quantize(Decimal("0.01")) or value >= 10**12:
            raise BillingError(
                "The amount must be positive, with at most two decimals.",
                code="invalid",
                field="amount",
            )
        fields |= {"currency": currency, "amount": value}
    else:
        if application is None:
            raise BillingError(
                "This alert is about one application: give its SDKAppID.",
                code="required",
                field="application",
            )
        value = _decimal(share, "share")
        if not Decimal(0) < value <= 1 or value != value.quantize(Decimal("0.0001")):
            raise BillingError(
                "The share is a fraction above 0 and at most 1 (0.2 for 20 %).",
                code="invalid",
                field="share",
            )
        fields["share"] = value
    return Alert.objects.create(created_by=actor if getattr(actor, "pk", None) else None, **fields)


def alert_delete(*, alert: Alert) -> None:
    alert.delete()


def _describe(alert: Alert) -> str:
    target = f"application {alert.application.sdkappid}" if alert.application_id else "the account"
    if alert.kind == Alert.Kind.SPEND:
        return f"month-to-date spend of {target} over {money(alert.amount, alert.currency)}"
    what = "free TRTC minutes" if alert.kind == Alert.Kind.FREE_MINUTES else "resource pack units"
    return f"{what} left of {target} below {alert.share * 100:.0f} %"


def _measure(alert: Alert, today: dt.date) -> tuple[Decimal, str] | None:
    """(value, its display) when the alert's condition holds now, else None."""
    if alert.kind == Alert.Kind.SPEND:
        # TODO(figures, issue 14): switch to its month-to-date selector, which counts the
        # not-yet-rated usage, once it is on main.
        totals = month_to_date(
            account_id=alert.account_id, today=today, application_id=alert.application_id
        )
        total = sum((m.total for m in totals if m.currency == alert.currency), Decimal(0))
        if total > alert.amount:
            return total, money(total, alert.currency)
        return None
    application = alert.application
    if alert.kind == Alert.Kind.FREE_MINUTES:
        allowance = allowances_left(applications=[application], today=today).get(application.pk)
        if allowance is None or not allowance.included:
            return None
        share = allowance.left / allowance.included
        display = (
            f"{allowance.left.normalize():,f} of {allowance.included.normalize():,f} minutes left"
        )
    else:
        packs = packs_left(applications=[application], today=today).get(application.pk, [])
        total = sum((p.pack.units_total for p in packs), Decimal(0))
        if not total:
            return None
        left = sum((p.left for p in packs), Decimal(0))
        share = left / total
        display = f"{left.normalize():,f} of {total.normalize():,f} units left"
    if share < alert.share:
        return share, display
    return None


def alerts_evaluate(*, account_ids: list[int] | None = None, today: dt.date | None = None) -> int:
    """Check the alerts of these accounts (all with None); record ``alert.triggered`` for each
    condition that holds and has not fired this month. Returns how many fired now."""
    today = today or billing_today()
    month = month_start(today)
    alerts = Alert.objects.select_related("application").order_by("pk")
    if account_ids is not None:
        alerts = alerts.filter(account_id__in=account_ids)
    fired = 0
    for alert in alerts:
        found = _measure(alert, today)
        if found is None:
            continue
        value, display = found
        with transaction.atomic():
            event = record(
                "alert.triggered",
                account_id=alert.account_id,
                application_id=alert.application_id,
                dedupe_key=f"alert:{alert.pk}:{month:%Y-%m}",
                data={
                    "alert": {
                        "id": alert.pk,
                        "kind": alert.kind,
                        "description": _describe(alert),
                        "application": alert.application.sdkappid if alert.application_id else None,
                        "currency": alert.currency or None,
                        "amount": f"{alert.amount}" if alert.amount is not None else None,
                        "share": f"{alert.share}" if alert.share is not None else None,
                        "value": f"{value}",
                        "value_display": display,
                        "threshold_display": money(alert.amount, alert.currency)
                        if alert.kind == Alert.Kind.SPEND
                        else f"{alert.share * 100:.0f} %",
                        "month": f"{month:%Y-%m}",
                    }
                },
            )
        fired += event is not None
    return fired


def alerts_evaluate_after_commit(*, account_ids=(), application_ids=()) -> None:
    """After the caller's transaction commits, evaluate the alerts of these accounts (or of
    the accounts of these applications) on a worker, if any has alerts: one indexed query,
    nothing enqueued otherwise (the ingestion path stays cheap)."""
    account_ids, application_ids = sorted(set(account_ids)), sorted(set(application_ids))
    if not account_ids and not application_ids:
        return

    def enqueue():
        alerts = Alert.objects.all()
        if application_ids:
            alerts = alerts.filter(account__applications__in=application_ids)
        else:
            alerts = alerts.filter(account_id__in=account_ids)
        found = sorted(set(alerts.values_list("account_id", flat=True)))
        if found:
            from notifications.tasks import evaluate_alerts

            evaluate_alerts.delay(found)

    transaction.on_commit(enqueue, robust=True)
