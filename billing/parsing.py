"""The strict parsers of client text: money, decimal quantities, identifiers and timestamps.

One parser for each kind of value, used by the API serializers, the portal and admin forms and
the services alike (so that what one door refuses no other door lets in). Low level on purpose:
it imports nothing from billing's selectors or services, only the standard library and
Django's settings (for the billing time zone).

What "strict" means here:
- digits are the ASCII digits 0-9 only: no Arabic-Indic "١٤", no superscript "²", no
  full-width digits (Python's ``int()`` and ``Decimal()`` accept all of those);
- no surrounding spaces, no underscores ("1_000", which ``Decimal()`` accepts), no exponent
  ("1e3"), no sign where none is allowed, no NaN or Infinity;
- a size bound is checked on the text, before any arithmetic (``Decimal`` arithmetic past 28
  significant digits raises ``InvalidOperation``);
- timestamps are RFC 3339 with an offset PostgreSQL can store (at most 14 hours, whole
  minutes), in years 2000 to 9998 so that no conversion between zones can overflow.

Each parser raises ``ParseError(message, code)``; the caller attaches the field name.
"""

import datetime as dt
import re
from decimal import Decimal

# Amounts are below 10^12 (finance.money_parse refuses more), quantities below 10^17 (SPEC 7,
# ingestion.MAX_VALUE). The text bounds below leave room for those and stop far short of the
# 28 significant digits of the decimal context.
MAX_INTEGER_DIGITS = 18
MAX_FRACTION_DIGITS = 8
MAX_ID_DIGITS = 18  # fits a PostgreSQL bigint (9223372036854775807 has 19 digits)

_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_ID = re.compile(r"[0-9]+")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,9})?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))"
)
# The widest offsets in use are -12:00 and +14:00; PostgreSQL refuses past 15:59.
MAX_OFFSET_MINUTES = 14 * 60
# No datetime outside these years is accepted: converting year 1 or 9999 to another zone
# overflows Python's datetime, and the billing calendar has no business there.
MIN_YEAR = 2000
MAX_YEAR = 9998


NUL = "\x00"
UNSTORABLE_MESSAGE = "must not contain the NUL character or unpaired surrogates (\\u0000, \\ud800)."


def storable(text: str) -> bool:
    """False for text PostgreSQL cannot store: the NUL character, unpaired surrogates."""
    if NUL in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class ParseError(ValueError):
    def __init__(self, message: str, code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.code = code


def _text(raw, what: str) -> str:
    if not isinstance(raw, str):
        raise ParseError(f"{what} must be a string.")
    return raw


def parse_decimal(
    raw,
    *,
    max_places: int = MAX_FRACTION_DIGITS,
    allow_negative: bool = False,
    allow_number: bool = True,
    max_integer_digits: int = MAX_INTEGER_DIGITS,
) -> Decimal:
    """A decimal written as ASCII digits with an optional point: "10", "10.50", "-3.2".

    ``raw`` is text, or (``allow_number``) a JSON number already decoded (int or Decimal, see
    billing/api/parsers.py); a number is checked by the same rules as its text. Floats and
    booleans are refused: a float has already lost the amount."""
    if isinstance(raw, bool | float):
        raise ParseError('Send a decimal string, e.g. "10.00".')
    if isinstance(raw, int | Decimal):
        if not allow_number:
            raise ParseError('Send a decimal string, e.g. "10.00".')
        if isinstance(raw, Decimal) and not raw.is_finite():
            raise ParseError("The number must be finite.")
        # A JSON number: its digits, counted before any arithmetic.
        if isinstance(raw, int):
            if len(str(abs(raw))) > max_integer_digits:
                raise ParseError("The number is too large.", "too_large")
            text = str(raw)
        else:
            sign, digits, exponent = raw.as_tuple()
            if len(digits) + max(exponent, 0) > max_integer_digits + max_places:
                raise ParseError("The number is too large.", "too_large")
            if exponent < 0 and -exponent > max_places:
                raise ParseError(f"At most {max_places} decimal places.", "precision")
            text = f"{raw:f}"
    else:
        text = _text(raw, "The amount")
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise ParseError(
            f"{_shown(text)} is not a decimal number: ASCII digits with an optional point, "
            'no spaces, exponent or underscores (e.g. "10.50").'
        )
    sign, whole, fraction = match.groups()
    if sign and not allow_negative:
        raise ParseError("The number must not be negative.", "negative")
    if len(whole.lstrip("0")) > max_integer_digits:
        raise ParseError("The number is too large.", "too_large")
    if fraction and len(fraction) > max_places:
        raise ParseError(f"At most {max_places} decimal places.", "precision")
    return Decimal(text)


def parse_money(raw, *, places: int = 2, allow_negative: bool = False) -> Decimal:
    """An amount of money: at most ``places`` decimal places (the currency's precision) and
    at most 12 digits before the point (finance.money_parse bounds it further)."""
    return parse_decimal(
        raw, max_places=places, allow_negative=allow_negative, max_integer_digits=12
    )


def parse_id(raw, *, what: str = "id") -> int:
    """A positive integer identifier (an SDKAppID, an invoice id): ASCII digits only, as text
    or a JSON integer, at most 18 digits."""
    if isinstance(raw, bool):
        raise ParseError(f"{what} must be a positive integer.")
    if isinstance(raw, int):
        value = raw
    else:
        text = _text(raw, what)
        if _ID.fullmatch(text) is None or len(text) > MAX_ID_DIGITS:
            raise ParseError(f"{what} must be a positive integer (ASCII digits).")
        value = int(text)
    if value <= 0 or value >= 10**MAX_ID_DIGITS:
        raise ParseError(f"{what} must be a positive integer.")
    return value


def is_ascii_digits(text) -> bool:
    """True for "14", False for "١٤", "²", " 14", "" (str.isdigit() accepts the first two)."""
    return isinstance(text, str) and _ID.fullmatch(text) is not None


def parse_timestamp(raw, *, what: str = "timestamp") -> dt.datetime:
    """An RFC 3339 timestamp with an offset: "2026-03-15T08:10:00+08:00", "…Z"; fractions of
    a second to the microsecond (digits past the sixth are dropped). Offsets of at most 14
    hours in whole minutes; years 2000 to 9998."""
    text = _text(raw, what)
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise ParseError(f"{what} must be RFC 3339 with an offset, e.g. 2026-03-15T08:10:00+08:00.")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu:
        offset = dt.timedelta(0)
    else:
        off_minutes = int(off_h) * 60 + int(off_m)
        if int(off_m) >= 60 or off_minutes > MAX_OFFSET_MINUTES:
            raise ParseError(f"{what} has an offset outside -14:00 to +14:00.", "invalid_offset")
        offset = dt.timedelta(minutes=off_minutes if sign == "+" else -off_minutes)
    if not MIN_YEAR <= int(year) <= MAX_YEAR:
        raise ParseError(f"{what} must be in the years {MIN_YEAR} to {MAX_YEAR}.", "out_of_range")
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    try:
        return dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
            tzinfo=dt.timezone(offset),
        )  # fmt: skip
    except ValueError:
        raise ParseError(f"{what} is not a real date and time.") from None


def format_timestamp(moment: dt.datetime) -> str:
    """RFC 3339 for the API: UTC offset of whole minutes ("+08:00"), never a local-mean-time
    offset of seconds ("+08:05:43", what zoneinfo gives Asia/Shanghai before 1901)."""
    offset = moment.utcoffset()
    if offset is not None and offset.seconds % 60:
        moment = moment.astimezone(dt.UTC)
    return moment.isoformat()


def _shown(text: str) -> str:
    """User text quoted for a message, short; never formatted with % afterwards."""
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


# --------------------------------------------------------------------------------------------
# JSON: decimals exact, depth bounded
# --------------------------------------------------------------------------------------------

# No request body of the API nests deeper than this (a usage batch is 4 levels with its
# properties); the bound is checked before anything walks the value recursively.
MAX_JSON_DEPTH = 32


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def json_loads_exact(text):
    """JSON with numbers as ``Decimal`` (never float), NaN and Infinity refused, and nesting
    deeper than MAX_JSON_DEPTH refused; ValueError for anything else than such JSON."""
    import json

    try:
        value = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def json_depth(value, *, stop_at: int = 10_000) -> int:
    """How deep lists and objects nest in ``value`` (a scalar is 0, ``{}`` is 1), without
    recursion; stops counting past ``stop_at``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > stop_at:
            return deepest
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def json_dumps_exact(value) -> str:
    """JSON text of a decoded value with its decimals written as they came ("1.5", "1E+400",
    "-0.0"): ``json.dumps`` refuses ``Decimal``, and a float would change the number. The
    caller bounds the depth first (MAX_JSON_DEPTH)."""
    import json

    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{json.dumps(str(key))}: {json_dumps_exact(item)}" for key, item in value.items()
            )
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json_dumps_exact(item) for item in value) + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("JSON has no NaN or Infinity")
        return str(value)  # Decimal's str is a valid JSON number: 1.5, 1E+400, -0.0, 0E-7
    return json.dumps(value)


_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def parse_day(raw, *, what: str = "day") -> dt.date:
    """A calendar day "YYYY-MM-DD" in ASCII digits, years 2000 to 9998."""
    match = _DAY.fullmatch(_text(raw, what))
    if match is None:
        raise ParseError(f"{what} is not a date: use YYYY-MM-DD, e.g. 2026-03-15.")
    year, month, day = (int(part) for part in match.groups())
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ParseError(f"{what} must be in the years {MIN_YEAR} to {MAX_YEAR}.", "out_of_range")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise ParseError(f"{what} is not a real date.") from None


def parse_month(raw, *, what: str = "month") -> dt.date:
    """A month "YYYY-MM" in ASCII digits to its first day, years 2000 to 9998."""
    match = _MONTH.fullmatch(_text(raw, what))
    if match is None:
        raise ParseError(f"{what} is not a month: use YYYY-MM, e.g. 2026-03.")
    year, month = (int(part) for part in match.groups())
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ParseError(f"{what} must be in the years {MIN_YEAR} to {MAX_YEAR}.", "out_of_range")
    if not 1 <= month <= 12:
        raise ParseError(f"{what} is not a month: use YYYY-MM, e.g. 2026-03.")
    return dt.date(year, month, 1)
