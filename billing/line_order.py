"""The order of an invoice's lines, in one place: per application (by SDKAppID) its
purchases (prepaid terms, their credits, packs), then its daily usage, then its monthly items
(the month-to-date estimate only: on an invoice they are usage charges of the month); account
adjustments last. Each line stores its key (``InvoiceLine.sort_key``); pages, the API and the
PDF order by it. The keys are strings compared as stored, so their shape never changes."""

import datetime as dt

PURCHASES, USAGE, MONTHLY = "1", "2", "3"
LAST = "~"  # sorts after every key below: a line without one


def purchase_key(sdkappid: int, day: dt.date, what: str) -> str:
    """A prepaid term (``what``: its item's sort order, 4 digits), its credit ("credit") or a
    pack ("pack"), by the day it starts (or, for a credit, the day the term was cut)."""
    return f"{sdkappid}-{PURCHASES}-{day:%Y%m%d}-{what}"


def usage_key(sdkappid: int, item_sort_order: int) -> str:
    return f"{sdkappid}-{USAGE}-{item_sort_order:04d}"


def monthly_key(sdkappid: int, item_code: str) -> str:
    return f"{sdkappid}-{MONTHLY}-{item_code}"


def adjustment_key(adjustment_id: int) -> str:
    return f"z-adjustment-{adjustment_id:010d}"
