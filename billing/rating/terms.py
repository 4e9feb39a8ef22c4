"""Prepaid monthly terms and proration (SPEC 3, "Prepaid terms" and "Proration").

Term ``n`` (0 for the purchase) starts on ``anchor + n months``, clamped to the last day of
a month that is too short, and ends the day before term ``n + 1`` starts. Renewals keep the
anchor, so a term that was clamped does not move the next one: anchor 31 Jan gives terms
starting 31 Jan, 28 Feb (29 in a leap year), 31 Mar, 30 Apr.
"""

import calendar
from datetime import date, timedelta
from decimal import Decimal

from billing.money import round_money
from billing.rating.text import day_text, money_text

ONE_DAY = timedelta(days=1)


def term_start(anchor: date, n: int) -> date:
    """First day of term ``n``: ``anchor + n months``, clamped to the month's last day."""
    if n < 0:
        raise ValueError(f"term index must not be negative, got {n}")
    months = anchor.year * 12 + (anchor.month - 1) + n
    year, month = divmod(months, 12)
    month += 1
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(anchor.day, last_day))


def term_bounds(anchor: date, n: int) -> tuple[date, date]:
    """First and last day (inclusive) of term ``n``: it ends the day before term n+1."""
    return term_start(anchor, n), term_start(anchor, n + 1) - ONE_DAY


def term_index_on(anchor: date, day: date) -> int:
    """Index of the term that contains ``day`` (0 for the term that starts on the anchor)."""
    if day < anchor:
        raise ValueError(f"{day} is before the anchor {anchor}")
    # Term n starts in the calendar month anchor.month + n: the term that contains ``day``
    # starts in day's month, or in the month before when day precedes that start.
    n = (day.year - anchor.year) * 12 + (day.month - anchor.month)
    if term_start(anchor, n) > day:
        n -= 1
    return n


def days_in_term(start: date, end: date) -> int:
    """Whole billing days from ``start`` to ``end`` inclusive."""
    if end < start:
        raise ValueError(f"term ends ({end}) before it starts ({start})")
    return (end - start).days + 1


def proration_days(term_start: date, term_end: date, first_unused_day: date) -> tuple[int, int]:
    """(unused days, days in the term) of a term cut short on ``first_unused_day`` (SPEC 3,
    "Proration is by whole billing days"); the invoice line of the credit shows the same two
    numbers."""
    total_days = days_in_term(term_start, term_end)
    if not term_start <= first_unused_day <= term_end + ONE_DAY:
        raise ValueError(
            f"first unused day {first_unused_day} is outside the term {term_start}..{term_end}"
        )
    return (term_end - first_unused_day).days + 1, total_days


def proration_credit(
    fee: Decimal, term_start: date, term_end: date, first_unused_day: date, currency: str
) -> tuple[Decimal, str]:
    """Unused value of a prepaid term cut short (SPEC 3, "Proration is by whole billing
    days"): fee x unused days / days in the term, rounded half-up to the currency's 0.01.

    ``first_unused_day`` is the first day the customer no longer has the term (the day an
    upgrade starts a new term); it may be ``term_start`` (nothing used, the whole fee comes
    back) up to ``term_end + 1 day`` (everything used, no credit). Returns the credit, a
    non-negative amount, and its explanation.
    """
    if fee < 0:
        raise ValueError(f"fee must not be negative, got {fee}")
    unused_days, total_days = proration_days(term_start, term_end, first_unused_day)
    credit = round_money(fee * unused_days / total_days, currency)
    explanation = (
        f"Term {day_text(term_start)} to {day_text(term_end)} has {total_days} days; "
        f"{unused_days} unused from {day_text(first_unused_day)}: "
        f"{money_text(fee, currency)} x {unused_days} / {total_days} "
        f"= {money_text(credit, currency)} credit (rounded half-up to 0.01)"
    )
    return credit, explanation
