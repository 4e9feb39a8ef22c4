"""The read-only base classes of the finance admin: nothing here deletes or edits money."""

from django.contrib import admin
from django.db.models import DecimalField
from django.utils.html import format_html, format_html_join

MONEY_OUTPUT = DecimalField(max_digits=20, decimal_places=2)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def html_table(headers: list[str], rows: list[tuple]):
    """A small HTML table for a read-only field."""
    if not rows:
        return "—"
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html('<table class="billing-table"><tr>{}</tr>{}</table>', head, body)
