"""Postpaid message history: accrues by day (SPEC 4.3).

The month's fee is price x days enabled / days in month, and the days of a fully enabled
month add up to exactly the monthly price. Day ``d`` of an ``n``-day month accrues
exact(price x d / n) - exact(price x (d - 1) / n): the running total after any day is the
exact share of the days so far, so no cent is lost or invented and the remainder of the
division lands deterministically on the days where the cumulative rounding steps.
"""

from collections.abc import Sequence
from decimal import Decimal

from billing.money import CURRENCY_QUANTUM, exact
from billing.rating.text import dec, money_text
from billing.rating.types import ZERO, ChargeDraft, Price


def _cumulative(monthly_price: Decimal, days_in_month: int, day: int) -> Decimal:
    """Exact accrual of days 1..``day`` of a fully enabled month."""
    return exact(monthly_price * day / days_in_month)


def accrue_daily(
    monthly_price: Decimal, days_in_month: int, enabled_days: Sequence[int], currency: str
) -> list[Decimal]:
    """Exact accrual of each enabled day, in the order of ``enabled_days`` (SPEC 4.3).

    Day ``d`` accrues exact(price x d / n) - exact(price x (d - 1) / n), so the amounts of
    all ``n`` days add up to ``monthly_price`` exactly (to EXACT_PLACES) and each day's
    amount is independent of which other days are enabled. ``currency`` is checked to be
    one the price book knows.
    """
    if currency not in CURRENCY_QUANTUM:
        raise ValueError(f"unknown currency {currency!r}")
    if monthly_price < 0:
        raise ValueError(f"monthly price must not be negative, got {monthly_price}")
    if not 28 <= days_in_month <= 31:
        raise ValueError(f"a calendar month has 28 to 31 days, got {days_in_month}")
    if len(set(enabled_days)) != len(enabled_days):
        raise ValueError("a day may be enabled only once")
    amounts = []
    for day in enabled_days:
        if not 1 <= day <= days_in_month:
            raise ValueError(f"day {day} is outside 1..{days_in_month}")
        amounts.append(
            _cumulative(monthly_price, days_in_month, day)
            - _cumulative(monthly_price, days_in_month, day - 1)
        )
    return amounts


def rate_message_history_month(
    *,
    item_code: str,
    price: Price,
    days_in_month: int,
    enabled_days: Sequence[int],
    currency: str,
) -> ChargeDraft | None:
    """The month's message history charge (SPEC 4.3): price x days enabled / days in month.

    ``price.unit_price`` is the monthly price of the option (``per_quantity`` 1, a month).
    The amount is the sum of the days' accruals from ``accrue_daily``, so the month-to-date
    preview and the closed month agree to the last place and a full month is exactly the
    price. The charge's quantity is days enabled at the monthly price per ``days_in_month``
    days. None when no day is enabled.
    """
    if price.per_quantity != 1:
        raise ValueError("message history is priced per month (per_quantity 1)")
    days = sorted(enabled_days)
    if not days:
        return None
    daily = accrue_daily(price.unit_price, days_in_month, days, currency)
    amount = sum(daily, ZERO)
    enabled = Decimal(len(days))
    return ChargeDraft(
        item_code=item_code,
        quantity=enabled,
        covered_quantity=ZERO,
        billable_quantity=enabled,
        unit_price=price.unit_price,
        per_quantity=Decimal(days_in_month),
        amount=amount,
        price_entry_id=price.entry_id,
        explanation=(
            f"Enabled {len(days)} of {days_in_month} days ({_day_ranges(days)}): "
            f"{money_text(price.unit_price, currency)} x {len(days)} / {days_in_month} "
            f"= {money_text(amount, currency)}."
        ),
        details={
            "days_in_month": days_in_month,
            "enabled_days": days,
            "daily_amounts": {str(day): dec(value) for day, value in zip(days, daily, strict=True)},
            "monthly_price": dec(price.unit_price),
        },
    )


def _day_ranges(days: Sequence[int]) -> str:
    """'days 1-10, 15, 20-31' for sorted day numbers."""
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    text = ", ".join(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]) for run in runs)
    return f"day{'s' if len(days) > 1 else ''} {text}"
