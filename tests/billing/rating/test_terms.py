"""Prepaid terms and proration (SPEC 3)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.rating.terms import proration_credit, term_bounds, term_index_on, term_start

ONE_DAY = timedelta(days=1)


def test_spec_example_bought_15_march():
    # SPEC 3: bought 15 Mar, terms run 15 Mar to 14 Apr, 15 Apr to 14 May.
    assert term_bounds(date(2025, 3, 15), 0) == (date(2025, 3, 15), date(2025, 4, 14))
    assert term_bounds(date(2025, 3, 15), 1) == (date(2025, 4, 15), date(2025, 5, 14))


def test_anchor_31_january_non_leap_year():
    # SPEC 3: anchor 31 Jan -> 31 Jan, 28 Feb, 31 Mar, 30 Apr (2025 is not a leap year).
    anchor = date(2025, 1, 31)
    assert [term_start(anchor, n) for n in range(4)] == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
    ]
    # Each term ends the day before the next starts.
    assert term_bounds(anchor, 0) == (date(2025, 1, 31), date(2025, 2, 27))
    assert term_bounds(anchor, 1) == (date(2025, 2, 28), date(2025, 3, 30))
    assert term_bounds(anchor, 2) == (date(2025, 3, 31), date(2025, 4, 29))
    assert term_bounds(anchor, 3) == (date(2025, 4, 30), date(2025, 5, 30))


def test_anchor_31_january_leap_year():
    # SPEC 3: "28 Feb (29 in a leap year)"; 2024 is a leap year.
    anchor = date(2024, 1, 31)
    assert [term_start(anchor, n) for n in range(4)] == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
    ]
    assert term_bounds(anchor, 1) == (date(2024, 2, 29), date(2024, 3, 30))


def test_clamping_does_not_move_the_anchor():
    # Renewals keep the anchor: after 28 Feb the term goes back to the 31st / 30th.
    anchor = date(2024, 2, 29)
    assert term_start(anchor, 12) == date(2025, 2, 28)  # 2025 has no 29 Feb
    assert term_start(anchor, 13) == date(2025, 3, 29)
    assert term_start(anchor, 48) == date(2028, 2, 29)  # 2028 is a leap year again


def test_term_crosses_the_year():
    # 31 Dec + 1 month = 31 Jan; + 2 months = 28 Feb 2025 (clamped).
    anchor = date(2024, 12, 31)
    assert term_start(anchor, 1) == date(2025, 1, 31)
    assert term_start(anchor, 2) == date(2025, 2, 28)
    assert term_bounds(anchor, 0) == (date(2024, 12, 31), date(2025, 1, 30))


def test_term_index_on():
    anchor = date(2025, 1, 31)  # terms start 31 Jan, 28 Feb, 31 Mar
    assert term_index_on(anchor, date(2025, 1, 31)) == 0
    assert term_index_on(anchor, date(2025, 2, 27)) == 0
    assert term_index_on(anchor, date(2025, 2, 28)) == 1
    assert term_index_on(anchor, date(2025, 3, 30)) == 1
    assert term_index_on(anchor, date(2025, 3, 31)) == 2
    anchor = date(2025, 3, 15)
    assert term_index_on(anchor, date(2025, 4, 14)) == 0
    assert term_index_on(anchor, date(2025, 4, 15)) == 1
    assert term_index_on(anchor, date(2026, 3, 15)) == 12


def test_invalid_term_arguments():
    with pytest.raises(ValueError):
        term_start(date(2025, 1, 31), -1)
    with pytest.raises(ValueError):
        term_index_on(date(2025, 3, 15), date(2025, 3, 14))


def test_proration_credit_unused_days():
    # Pro 999 CNY, term 15 Mar..14 Apr 2025 = 17 + 14 = 31 days; upgraded on 5 Apr:
    # 5..14 Apr = 10 unused days; 999 x 10 / 31 = 322.2580... -> 322.26.
    credit, explanation = proration_credit(
        Decimal("999"), date(2025, 3, 15), date(2025, 4, 14), date(2025, 4, 5), "CNY"
    )
    assert credit == Decimal("322.26")
    assert "31 days" in explanation
    assert "10 unused" in explanation
    assert "999.00 CNY x 10 / 31 = 322.26 CNY" in explanation


def test_proration_rounds_half_up():
    # 10.05 USD, term 1..30 Apr (30 days), 15 unused: 10.05 x 15 / 30 = 5.025 -> 5.03 half-up
    # (half-even would give 5.02).
    credit, _ = proration_credit(
        Decimal("10.05"), date(2025, 4, 1), date(2025, 4, 30), date(2025, 4, 16), "USD"
    )
    assert credit == Decimal("5.03")


def test_proration_whole_term_and_nothing_unused():
    start, end = date(2025, 2, 28), date(2025, 3, 30)  # anchor 31 Jan 2025, term 1: 31 days
    # Cut on its first day: every day unused, the whole fee comes back.
    assert proration_credit(Decimal("2999"), start, end, start, "CNY")[0] == Decimal("2999.00")
    # Cut the day after it ends: nothing unused.
    assert proration_credit(Decimal("2999"), start, end, end + ONE_DAY, "CNY")[0] == Decimal("0.00")
    # Last day only: 2999 x 1 / 31 = 96.7419... -> 96.74.
    assert proration_credit(Decimal("2999"), start, end, end, "CNY")[0] == Decimal("96.74")


def test_proration_rejects_a_day_outside_the_term():
    start, end = date(2025, 3, 15), date(2025, 4, 14)
    with pytest.raises(ValueError):
        proration_credit(Decimal("999"), start, end, start - ONE_DAY, "CNY")
    with pytest.raises(ValueError):
        proration_credit(Decimal("999"), start, end, end + 2 * ONE_DAY, "CNY")


anchors = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))


@settings(max_examples=200, deadline=None)
@given(anchor=anchors)
def test_terms_are_contiguous_over_24_terms(anchor):
    previous_end = anchor - ONE_DAY
    for n in range(24):
        start, end = term_bounds(anchor, n)
        assert start == previous_end + ONE_DAY  # no gap, no overlap
        assert start <= end
        assert 28 <= (end - start).days + 1 <= 31
        assert term_index_on(anchor, start) == n
        assert term_index_on(anchor, end) == n
        previous_end = end


@settings(max_examples=200, deadline=None)
@given(anchor=anchors, n=st.integers(min_value=0, max_value=120))
def test_term_starts_on_the_anchor_day_or_the_month_end(anchor, n):
    start = term_start(anchor, n)
    assert (start.year * 12 + start.month) - (anchor.year * 12 + anchor.month) == n
    if start.day != anchor.day:
        assert start.day < anchor.day
        assert (start + ONE_DAY).day == 1  # clamped to the last day of a short month


@settings(max_examples=200, deadline=None)
@given(
    anchor=anchors,
    n=st.integers(min_value=0, max_value=24),
    fee=st.decimals(min_value=0, max_value=100000, places=2),
    offset=st.integers(min_value=0, max_value=31),
)
def test_proration_credit_is_between_zero_and_the_fee(anchor, n, fee, offset):
    start, end = term_bounds(anchor, n)
    first_unused = min(start + timedelta(days=offset), end + ONE_DAY)
    credit, _ = proration_credit(fee, start, end, first_unused, "CNY")
    assert Decimal(0) <= credit <= fee
    if first_unused == start:
        assert credit == fee
