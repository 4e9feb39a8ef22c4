"""Django form fields over the strict parsers of billing/parsing.py, for the portal's and the
admin's forms and the API's query filters: what the API refuses, a form refuses too.

A refusal is a ValidationError whose message never contains the user's text through a
``%`` format (django-filter formats messages with ``%``: "%s" in a query string was a 500)."""

from django import forms

from billing import parsing


def _refusal(exc: parsing.ParseError) -> forms.ValidationError:
    # The message may quote the user's text; it goes in as a parameter, so that whoever
    # formats it with % later (django-filter always does) inserts it as it is.
    return forms.ValidationError("%(reason)s", code=exc.code, params={"reason": exc.message})


class _ParsedTextField(forms.Field):
    """A text input parsed into a value: the raw text's length is bounded (``max_chars``)
    before parsing, and nothing of CharField's validators runs on the parsed value."""

    widget = forms.TextInput
    max_chars = 40
    # A query parameter sent empty ("?month=") is refused, not read as absent (API filters).
    refuse_blank = False

    def __init__(self, *, max_length=None, strip=None, **kw):
        super().__init__(**kw)
        if max_length is not None:
            self.max_chars = max_length

    def raw_text(self, value):
        if value == "" and self.refuse_blank:
            raise forms.ValidationError("Give a value, or leave the parameter out.", code="invalid")
        if value in self.empty_values:
            return None
        value = str(value)
        if len(value) > self.max_chars:
            raise forms.ValidationError(f"At most {self.max_chars} characters.", code="max_length")
        return value


class StrictDecimalField(_ParsedTextField):
    """A decimal: ASCII digits and an optional point, no exponent, spaces or underscores."""

    def __init__(
        self,
        *,
        places: int = 2,
        integer_digits: int = 12,
        allow_negative: bool = False,
        min_value=None,
        **kw,
    ):
        super().__init__(**kw)
        self.places = places
        self.integer_digits = integer_digits
        self.allow_negative = allow_negative
        self.min_value = min_value

    def to_python(self, value):
        value = self.raw_text(value)
        if value is None:
            return None
        try:
            number = parsing.parse_decimal(
                value,
                max_places=self.places,
                allow_negative=self.allow_negative,
                max_integer_digits=self.integer_digits,
            )
        except parsing.ParseError as exc:
            raise _refusal(exc) from None
        if self.min_value is not None and number < self.min_value:
            raise forms.ValidationError(f"At least {self.min_value}.", code="min_value")
        return number


class StrictIntegerField(_ParsedTextField):
    """A positive integer in ASCII digits ("14", not "١٤", "²" or " 14")."""

    max_chars = 18

    def __init__(self, *, min_value=None, max_value=None, **kw):
        super().__init__(**kw)  # the parser only accepts positive ids

    def to_python(self, value):
        value = self.raw_text(value)
        if value is None:
            return None
        try:
            return parsing.parse_id(value, what="The value")
        except parsing.ParseError as exc:
            raise _refusal(exc) from None


class StrictDateField(_ParsedTextField):
    """A day YYYY-MM-DD in ASCII digits, years 2000 to 9998."""

    max_chars = 10

    def to_python(self, value):
        value = self.raw_text(value)
        if value is None:
            return None
        try:
            return parsing.parse_day(value, what="The date")
        except parsing.ParseError as exc:
            raise _refusal(exc) from None


class StrictMonthField(_ParsedTextField):
    """A month YYYY-MM in ASCII digits, to its first day."""

    def to_python(self, value):
        value = self.raw_text(value)
        if value is None:
            return None
        try:
            return parsing.parse_month(value, what="month")
        except parsing.ParseError as exc:
            raise _refusal(exc) from None


class StrictModelChoiceField(forms.ModelChoiceField):
    """A choice of a row by its id: ASCII digits only ("١٤" would otherwise find row 14)."""

    def to_python(self, value):
        if value in self.empty_values or isinstance(value, self.queryset.model):
            return super().to_python(value)
        if not parsing.is_ascii_digits(str(value)) or len(str(value)) > parsing.MAX_ID_DIGITS:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            )
        return super().to_python(value)
