"""Request text the database cannot store, or too long to mean anything, answers 400 on the
portal and the admin before any view runs (the API does the same per view, in its JSON error
format: billing/api/parsers.py ApiViewMixin).

Checked: the path, every query-string parameter and every form field (names and values):
no NUL character, no unpaired surrogate, at most MAX_PARAMETER_LENGTH characters a value
(the longest form field, a reason, is 2000). A NUL in ``?item=`` reached PostgreSQL, which
refuses it: that was a 500."""

from django.http import HttpResponseBadRequest
from django.utils.html import escape

from billing.parsing import UNSTORABLE_MESSAGE, storable

MAX_PARAMETER_LENGTH = 10_000
API_PREFIX = "/api/"


def _problem(request) -> str | None:
    if not storable(request.path):
        return f"The address {UNSTORABLE_MESSAGE}"
    sources = [request.GET]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sources.append(request.POST)
    for source in sources:
        for name, values in source.lists():
            shown = name[:40] if storable(name) else "a parameter"
            if not storable(name) or any(not storable(value) for value in values):
                return f"{shown} {UNSTORABLE_MESSAGE}"
            if len(name) > 200 or any(len(value) > MAX_PARAMETER_LENGTH for value in values):
                return f"{shown} is longer than {MAX_PARAMETER_LENGTH} characters."
    return None


class RequestTextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            problem = _problem(request)
            if problem is not None:
                return HttpResponseBadRequest(
                    f"<!doctype html><title>Bad request</title><h1>Bad request</h1>"
                    f"<p>{escape(problem)}</p>",
                    content_type="text/html; charset=utf-8",
                )
        return self.get_response(request)
