"""Cursor pagination for every list: stable under inserts, no COUNT query. The page size is
``limit`` (1 to 200, default 50); a bad cursor or limit is a 400 naming the parameter."""

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

from billing.parsing import is_ascii_digits

BIGINT = 2**63


def _invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": ["Invalid cursor: use the next or previous link of a page."]})


class ApiCursorPagination(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = ("-id",)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not is_ascii_digits(raw) or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {"limit": [f"limit must be a whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = f"Page size, 1 to {self.max_page_size} (default "
                parameter["description"] += f"{self.page_size})."
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
            else:
                parameter["description"] = "The `next` or `previous` link of a page sets it."
        return parameters

    def get_ordering(self, request, queryset, view):
        return getattr(view, "cursor_ordering", None) or self.ordering

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        self._order_attr = self.get_ordering(request, queryset, view)[0].lstrip("-")
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise _invalid_cursor() from None
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        """The position is compared with the ordering field in SQL: it must be a value of
        that field's type, or the database would refuse the query."""
        try:
            field = self._model._meta.get_field(self._order_attr)
        except FieldDoesNotExist:
            raise _invalid_cursor() from None
        try:
            value = field.to_python(position)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            raise _invalid_cursor() from None
        if isinstance(field, models.IntegerField) and not -BIGINT < value < BIGINT:
            raise _invalid_cursor()
