"""Postpaid message history accruing by day (SPEC 4.3)."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.money import exact, round_money
from billing.rating.message_history import accrue_daily, rate_message_history_month
from billing.rating.types import Price

D = Decimal


def test_daily_amounts_allocate_the_remainder():
    # 500 CNY over 30 days = 16.666...: cumulative exact shares 16.66666667, 33.33333333,
    # 50.00000000 -> days 16.66666667, 16.66666666, 16.66666667.
    assert accrue_daily(D(500), 30, [1, 2, 3], "CNY") == [
        D("16.66666667"),
        D("16.66666666"),
        D("16.66666667"),
    ]


@pytest.mark.parametrize("days_in_month", [28, 29, 30, 31])
@pytest.mark.parametrize("price", ["500", "1000", "1500", "2500", "2850", "999.99", "0.01"])
def test_full_month_adds_up_to_the_price_exactly(price, days_in_month):
    # SPEC 4.3: "the days of a fully enabled month add up to exactly the monthly price".
    amounts = accrue_daily(D(price), days_in_month, range(1, days_in_month + 1), "CNY")
    assert len(amounts) == days_in_month
    assert sum(amounts) == D(price)


def test_first_half_of_a_30_day_month_is_half_the_price():
    # 1000 x 15 / 30 = 500 exactly.
    assert sum(accrue_daily(D(1000), 30, range(1, 16), "CNY")) == D(500)


def test_month_charge_full_month():
    # Pro, 30 days of history at 500 CNY, enabled all of a 31-day month: 500 exactly.
    charge = rate_message_history_month(
        item_code="im_history_30d",
        price=Price(7, D(500)),
        days_in_month=31,
        enabled_days=list(range(1, 32)),
        currency="CNY",
    )
    assert charge.amount == D("500")
    assert (charge.quantity, charge.billable_quantity) == (D(31), D(31))
    assert (charge.unit_price, charge.per_quantity) == (D(500), D(31))
    assert charge.price_entry_id == 7
    assert "Enabled 31 of 31 days (days 1-31)" in charge.explanation


def test_month_charge_first_ten_days():
    # 500 x 10 / 31 = 161.2903225806... -> exact 161.29032258 -> 161.29 on the invoice.
    charge = rate_message_history_month(
        item_code="im_history_30d",
        price=Price(7, D(500)),
        days_in_month=31,
        enabled_days=list(range(1, 11)),
        currency="CNY",
    )
    assert charge.amount == D("161.29032258")
    assert round_money(charge.amount, "CNY") == D("161.29")
    assert "500.00 CNY x 10 / 31 = 161.29032258 CNY" in charge.explanation


def test_month_charge_scattered_days():
    # 500 CNY, 31 days, enabled 1-3, 10-11 and 31 (6 days):
    # days 1-3:  exact(1500/31) = 48.38709677
    # days 10-11: exact(5500/31) - exact(4500/31) = 177.41935484 - 145.16129032 = 32.25806452
    # day 31:    500 - exact(15000/31) = 500 - 483.87096774 = 16.12903226
    # total 48.38709677 + 32.25806452 + 16.12903226 = 96.77419355 (~ 500 x 6 / 31 = 96.774...)
    charge = rate_message_history_month(
        item_code="im_history_30d",
        price=Price(7, D(500)),
        days_in_month=31,
        enabled_days=[31, 1, 2, 3, 10, 11],
        currency="CNY",
    )
    assert charge.amount == D("96.77419355")
    assert charge.quantity == D(6)
    assert "days 1-3, 10-11, 31" in charge.explanation


def test_no_day_enabled_no_charge():
    assert (
        rate_message_history_month(
            item_code="x", price=Price(1, D(500)), days_in_month=30, enabled_days=[], currency="CNY"
        )
        is None
    )


@pytest.mark.parametrize(
    ("days_in_month", "enabled", "currency"),
    [(30, [31], "CNY"), (30, [0], "CNY"), (30, [2, 2], "CNY"), (27, [1], "CNY"), (30, [1], "EUR")],
)
def test_invalid_days_are_errors(days_in_month, enabled, currency):
    with pytest.raises(ValueError):
        accrue_daily(D(500), days_in_month, enabled, currency)


prices = st.decimals(min_value=0, max_value=1_000_000, places=2)
month_lengths = st.integers(min_value=28, max_value=31)


@settings(max_examples=200, deadline=None)
@given(price=prices, days_in_month=month_lengths)
def test_full_month_sum_is_the_price_for_any_price(price, days_in_month):
    amounts = accrue_daily(price, days_in_month, range(1, days_in_month + 1), "USD")
    assert sum(amounts) == price
    share = price / days_in_month
    for amount in amounts:
        assert amount >= 0
        assert abs(amount - share) <= D("0.00000001")  # off by at most one last place


@settings(max_examples=200, deadline=None)
@given(price=prices, days_in_month=month_lengths, data=st.data())
def test_month_to_date_is_the_exact_share_of_the_days_so_far(price, days_in_month, data):
    k = data.draw(st.integers(min_value=1, max_value=days_in_month))
    amounts = accrue_daily(price, days_in_month, range(1, k + 1), "CNY")
    assert sum(amounts) == exact(price * k / days_in_month)


@settings(max_examples=200, deadline=None)
@given(price=prices, days_in_month=month_lengths, data=st.data())
def test_any_set_of_days_never_exceeds_the_price(price, days_in_month, data):
    enabled = data.draw(st.sets(st.integers(min_value=1, max_value=days_in_month)))
    charge = rate_message_history_month(
        item_code="x",
        price=Price(None, price),
        days_in_month=days_in_month,
        enabled_days=sorted(enabled),
        currency="CNY",
    )
    if not enabled:
        assert charge is None
    else:
        assert D(0) <= charge.amount <= price
        assert charge.quantity == len(enabled)
