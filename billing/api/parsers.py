"""JSON bodies with numbers read as Decimal: money and quantities never pass through float."""

import json
from decimal import Decimal

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def loads(body: bytes):
    """The one JSON decoding of request bodies: decimals exact, NaN and Infinity refused."""
    return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return loads(stream.read())
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from None
