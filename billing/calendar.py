"""Billing days and months in the billing time zone (SPEC 3)."""

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def billing_tz() -> ZoneInfo:
    return ZoneInfo(settings.BILLING_TIME_ZONE)


def billing_today() -> dt.date:
    return timezone.now().astimezone(billing_tz()).date()


def billing_day_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(billing_tz()).date()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def parse_month(text: str) -> dt.date:
    """'YYYY-MM' to the first day of that month; ValueError when malformed."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError(text)
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"{text!r} is not a month: use YYYY-MM, e.g. 2026-03") from None


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-03-15") from None
