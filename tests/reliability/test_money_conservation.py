"""Money is conserved, property-tested over random months of activity (usage of every kind,
upgrades, packs, adjustments, payments, credit notes, two monthly closes):

- payments plus credit notes minus what was invoiced equals the account's balance, with
  every figure summed here from what the test itself did and from the invoices' lines;
- every charge belongs to exactly one invoice line, and each usage line's exact amount is
  the sum of its charges; every rounded line is within half a cent of that exact sum;
- every invoice total is the sum of its rounded lines."""

import datetime as dt
import itertools
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.services import account_create
from billing.calendar import month_start
from billing.models import Charge, Invoice, InvoiceLine
from billing.selectors import account_balances, invoice_amount_due
from billing.services.applications import application_create, edition_change, resource_pack_purchase
from billing.services.finance import adjustment_add, credit_note_issue, payment_record
from billing.services.ingestion import SYSTEM, usage_events_ingest
from billing.services.jobs import close_accounts_month
from billing.services.rating import rate_accounts_day
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# September and October 2026: both months wholly in the past.
FIRST, SECOND = dt.date(2026, 9, 1), dt.date(2026, 10, 1)
HALF_CENT = Decimal("0.005")
COUNTER = itertools.count()

usage = st.tuples(
    st.integers(min_value=0, max_value=1),  # which application
    st.integers(min_value=1, max_value=30),  # day of month
    st.sampled_from(
        [
            ("im.moderation.text", None),
            ("im.moderation.image", None),
            ("im.moderation.audio_seconds", None),
            ("trtc.audio_seconds", None),
            ("trtc.video_seconds", "hd"),
            ("trtc.video_seconds", "fhd"),
            ("trtc.ai_seconds", None),
            ("trtc.stt_seconds", None),
        ]
    ),
    st.integers(min_value=1, max_value=400_000),
    st.sampled_from([9, 10]),  # September or October
)
activity = st.fixed_dictionaries(
    {
        "usage": st.lists(usage, min_size=1, max_size=25),
        "upgrade_day": st.none() | st.integers(min_value=1, max_value=28),
        "pack": st.booleans(),
        "adjustment": st.none() | st.decimals(min_value=-50, max_value=50, places=2),
        "payments": st.lists(st.decimals(min_value="0.01", max_value=3000, places=2), max_size=3),
        "credit_share": st.none() | st.decimals(min_value="0.01", max_value=1, places=2),
    }
)


def event(app, n, day, month, metric, dimension, value):
    properties = {"resolution": dimension} if dimension else {}
    return {
        "id": f"e{n}",
        "application": app.sdkappid,
        "metric": metric,
        "timestamp": f"2026-{month:02d}-{day:02d}T12:00:00+08:00",
        "value": value,
        "properties": properties,
    }


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=activity)
def test_money_is_conserved(plan):
    run = next(COUNTER)
    staff = UserFactory(staff=True)
    account = account_create(name=f"Conserve {run}", email=f"conserve{run}@example.com")
    apps = [
        application_create(account=account, name="cn", region="cn", created_on=FIRST),
        application_create(account=account, name="intl", region="intl", created_on=FIRST),
    ]
    if plan["upgrade_day"]:
        edition_change(
            application=apps[0],
            edition_code="pro",
            effective=dt.date(2026, 9, plan["upgrade_day"]),
        )
    if plan["pack"]:
        resource_pack_purchase(
            application=apps[0], item_code="im.moderation_pack.monthly", day=FIRST
        )
    events = [
        event(apps[a if metric.startswith("trtc") else 0], n, day, month, metric, dim, value)
        for n, (a, day, (metric, dim), value, month) in enumerate(plan["usage"])
        # AI and speech-to-text are sold in region intl only (SPEC 4.6).
        if not (metric in ("trtc.ai_seconds", "trtc.stt_seconds") and a == 0)
    ]
    if events:
        usage_events_ingest(events=events, caller=SYSTEM)
    days = sorted({dt.date.fromisoformat(e["timestamp"][:10]) for e in events})
    for day in (d for d in days if d < SECOND):
        rate_accounts_day(account_ids=[account.pk], day=day)
    close_accounts_month(account_ids=[account.pk], month=FIRST)

    paid = defaultdict(Decimal)
    credited = defaultdict(Decimal)
    issued = list(Invoice.objects.filter(account=account, month=FIRST).exclude(state="draft"))
    for invoice in issued:
        if plan["credit_share"] and invoice.total > 0:
            amount = (invoice.total * plan["credit_share"]).quantize(Decimal("0.01"))
            if amount > 0:
                credit_note_issue(invoice=invoice, amount=amount, reason="goodwill", actor=staff)
                credited[invoice.currency] += amount
        for amount in plan["payments"]:
            invoice.refresh_from_db()
            if invoice.state == "finalized":
                amount = min(amount, invoice_amount_due(invoice))
                payment_record(
                    account=account,
                    currency=invoice.currency,
                    amount=amount,
                    actor=staff,
                    invoice=invoice,
                )
                paid[invoice.currency] += amount
    for day in (d for d in days if d >= SECOND):
        rate_accounts_day(account_ids=[account.pk], day=day)
    if plan["adjustment"]:
        draft = Invoice.objects.filter(account=account, month=SECOND, state="draft").first()
        if draft is not None and draft.total + plan["adjustment"] >= 0:
            adjustment_add(invoice=draft, amount=plan["adjustment"], reason="fix", actor=staff)
    close_accounts_month(account_ids=[account.pk], month=SECOND)

    _assert_conserved(account, paid, credited)


def _assert_conserved(account, paid, credited):
    invoices = list(Invoice.objects.filter(account=account).prefetch_related("lines"))
    invoiced = defaultdict(Decimal)
    for invoice in invoices:
        lines = list(invoice.lines.all())
        assert invoice.total == sum((line.amount for line in lines), Decimal(0))
        for line in lines:
            assert abs(line.amount - line.exact_amount) <= HALF_CENT
        if invoice.state in ("finalized", "paid"):
            invoiced[invoice.currency] += invoice.total
    currencies = set(invoiced) | set(paid) | set(credited)
    expected = {c: paid[c] + credited[c] - invoiced[c] for c in currencies}
    balances = account_balances(account_id=account.pk)
    assert {c: balances.get(c, Decimal(0)) for c in currencies} == expected

    # Every charge on exactly one usage line; each line's exact amount is its charges' sum.
    charges_by_line = defaultdict(Decimal)
    for charge in Charge.objects.filter(application__account=account):
        lines = InvoiceLine.objects.filter(
            kind="usage",
            invoice__account=account,
            invoice__currency=charge.currency,
            invoice__month=month_start(charge.day),
            application_id=charge.application_id,
            item_id=charge.item_id,
            unit_price=charge.unit_price,
        )
        assert lines.count() == 1, charge
        charges_by_line[lines.get().pk] += charge.amount
    usage_lines = InvoiceLine.objects.filter(invoice__account=account, kind="usage")
    assert {line.pk: line.exact_amount for line in usage_lines} == dict(charges_by_line)
