"""Billing days and months in the billing time zone (SPEC 3)."""

import calendar
import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from billing import parsing


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
    """'YYYY-MM' to the first day of that month; ValueError (billing.parsing.ParseError) when
    malformed. ASCII digits only."""
    return parsing.parse_month(text)


def parse_day(text: str) -> dt.date:
    """'YYYY-MM-DD'; ValueError (billing.parsing.ParseError) when malformed."""
    return parsing.parse_day(text)
