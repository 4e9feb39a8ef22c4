"""JSON bodies with numbers read as Decimal (money and quantities never pass through float),
and no text PostgreSQL cannot store (the NUL character, unpaired UTF-16 surrogates such as
"\\ud800"): refused at the door with the field named, instead of failing in the database."""

import re

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from billing.parsing import UNSTORABLE_MESSAGE, json_loads_exact, storable

# In a JSON text those can only come as escapes: a raw NUL is invalid JSON, and raw bytes are
# UTF-8, which cannot encode a surrogate.
SUSPICIOUS_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89abcdefABCDEF])")


def loads(body: bytes):
    """The one JSON decoding of request bodies: decimals exact, NaN and Infinity refused,
    nesting bounded (billing.parsing.json_loads_exact: 10,000 levels is a 400, not a
    RecursionError)."""
    return json_loads_exact(body)


def unstorable_path(value, path: str = "") -> str | None:
    """Where the first text that cannot be stored is in a decoded JSON value:
    "events[3].properties.x", "" for the top level; None when there is none."""
    if isinstance(value, str):
        return None if storable(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if not storable(key):
                return here
            found = unstorable_path(item, here)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = unstorable_path(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def may_hold_unstorable_text(body: bytes) -> bool:
    """One scan of the raw body, so that the full walk (``unstorable_path``) runs only for the rare
    body with a suspicious escape."""
    return SUSPICIOUS_ESCAPE.search(body) is not None


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        try:
            data = loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from None
        if may_hold_unstorable_text(body):
            where = unstorable_path(data)
            if where is not None:
                raise ValidationError(
                    {where or "body": [f"{where or 'The body'} {UNSTORABLE_MESSAGE}"]}
                )
        return data


class ApiViewMixin:
    """What every API view shares: path and query parameters the database could not store
    answer 400 naming the parameter; OPTIONS is not offered (405, and not in Allow)."""

    http_method_names = ["get", "post", "delete", "head"]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        for name, value in [*kwargs.items(), *request.query_params.lists()]:
            values = value if isinstance(value, list) else [value]
            if any(isinstance(v, str) and not storable(v) for v in values):
                raise ValidationError({name: [f"{name} {UNSTORABLE_MESSAGE}"]})
