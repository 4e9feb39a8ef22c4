"""The property behind issue 13 that cannot regress: nothing a client sends gives a 500.

``test_every_url_answers_hostile_input_without_a_500`` walks every URL pattern of the site
(portal, admin, API), read from the resolver as the isolation matrix reads it, with hostile
values in the path (every ``<str:>``/``<path:>`` part), in the query string (every parameter
name any form, filter or admin changelist reads), in form fields (every field of every portal
and admin form) and in JSON bodies (every field of every input serializer, plus whole bodies
nested 10,000 deep). Portal and admin pages are requested by the owner or finance staff
(sessions), the API with the owner's key and a finance session. Django's test client raises
any exception a view lets escape, and a 500 is a failure too.

``test_every_form_and_serializer_field_refuses_hostile_values`` does the same one level down:
each field of each form and input serializer, cleaned with each hostile value, answers valid
or invalid, never an exception.

Bounded by count and time: the walk goes in rounds, one hostile value per round over every
URL, and starts no new round after WALK_SECONDS; the first CORE_ROUNDS rounds (NUL, huge
numbers, look-alike digits, year 1, odd offsets, deep nesting) always run. The figures are
printed (``pytest -s``)."""

import inspect
import time
import urllib.parse
from decimal import Decimal

import pytest
from django import forms
from rest_framework import serializers
from rest_framework.test import APIClient

from billing import admin as billing_admin
from billing.api import serializers as api_serializers
from billing.parsing import json_dumps_exact
from portal import forms as portal_forms
from tests.reliability.test_isolation_matrix import (  # noqa: F401 (world is a fixture)
    fill,
    url_patterns,
    world,
)

pytestmark = pytest.mark.django_db

WALK_SECONDS = 100  # no new round after this; each round is 5 to 15 s (quiet or loaded machine)
DEEP = "[" * 10_000 + "]" * 10_000

# Hostile values, the most telling first (CORE_ROUNDS of them always run).
HOSTILE = [
    "\x00",
    "9" * 400,
    "\u0661\u0664",  # Arabic-Indic 14
    "0001-01-01T00:00:00+14:00",
    "2026-01-01T00:00:00+05:17:31.5",
    "%s%(x)s{0}",
    "1e400",
    "\u00b2",  # superscript two
    "\uff11\uff14",  # full-width 14
    "9999-12-31T23:59:59-14:00",
    "0001-01-01",
    "9999-12",
    "a\nb\r\n" * 40,
    " 5 ",
    "1_000",
    "-0.0",
    "x" * 20_000,
    "\ud800",  # a lone surrogate (sent as JSON escape; as bytes in URLs and forms)
]
CORE_ROUNDS = 6

# JSON-only hostile values: types and structures a client can send that text cannot be.
JSON_EXTRA = [
    {},
    [],
    [["im.login"]],
    True,
    None,
    10**400,
    Decimal("1E+400"),
    Decimal("-0.0"),
    Decimal("1.5"),
]


def _form_classes():
    found = []
    for module in (portal_forms, billing_admin):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, forms.BaseForm) and cls.__module__ == module.__name__:
                found.append(cls)
    from accounts import throttling
    from portal import views

    found += [throttling.ThrottledAuthenticationForm, views.PasswordResetView.form_class]
    return found


def _serializer_classes():
    return [
        cls
        for name, cls in inspect.getmembers(api_serializers, inspect.isclass)
        if issubclass(cls, serializers.Serializer)
        and cls.__module__ == api_serializers.__name__
        and ("Input" in name or "Create" in name or "Change" in name or "Usage" in name)
    ]


def _field_names() -> set[str]:
    names = {"q", "o", "p", "month", "item", "edition", "state__exact", "currency__exact"}
    names |= {"from", "to", "metric", "limit", "cursor", "account", "state", "currency"}
    names |= {"overdue", "addon", "_changelist_filters", "next", "action"}
    for cls in _form_classes():
        names |= set(cls.base_fields)
    for cls in _serializer_classes():
        names |= set(cls().fields)
    names.discard("action")  # an admin action would run: the forms are walked instead
    return names


def _query(value: str, names) -> str:
    # Surrogates cannot be UTF-8: send the bytes a client would (invalid UTF-8).
    encoded = urllib.parse.quote(value, safe="", errors="surrogatepass")
    return "&".join(f"{urllib.parse.quote(name)}={encoded}" for name in sorted(names))


def _path_variants(route: str, url: str, value: str) -> list[str]:
    """The URL with each <str:...> / <path:...> part replaced by ``value``."""
    variants = []
    filled = url.split("/")
    parts = route.replace("^", "").replace("$", "").split("/")
    if len(parts) != len(filled):
        return variants
    for index, part in enumerate(parts):
        if part.startswith("<str:") or part.startswith("<path:") or part.startswith("<slug:"):
            hostile = list(filled)
            hostile[index] = urllib.parse.quote(value[:200], safe="", errors="surrogatepass")
            variants.append("/".join(hostile))
    return variants


def _json_bodies(value, names):
    yield {name: value for name in names}
    yield {"events": [{name: value for name in names}]}


def _clients(w):
    owner = APIClient(raise_request_exception=True)
    owner.force_login(w.owner_user)
    finance = APIClient(raise_request_exception=True)
    finance.force_login(w.finance)
    api_owner = APIClient(raise_request_exception=True)
    api_owner.credentials(HTTP_AUTHORIZATION=f"Bearer {w.raw_key}")
    return {"portal": owner, "admin": finance, "api": api_owner, "api-staff": finance}


def test_every_url_answers_hostile_input_without_a_500(world, settings):  # noqa: F811
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    w = world
    clients = _clients(w)
    names = _field_names()
    routes = sorted(url_patterns().items())
    failures: list[str] = []
    requests = 0
    started = time.monotonic()
    rounds_done = 0

    def check(response, what: str):
        nonlocal requests
        requests += 1
        if response.status_code >= 500:
            failures.append(f"{response.status_code} {what}")

    for round_index, value in enumerate(HOSTILE):
        if round_index >= CORE_ROUNDS and time.monotonic() - started > WALK_SECONDS:
            break
        for name, route in routes:
            url = fill(name, route, w).split("?")[0]
            if name.endswith("logout") or "delete" in name:
                continue  # POST logs the client out / confirms a deletion
            api = url.startswith("/api/")
            kinds = ("api", "api-staff") if api else ("admin",) if "admin:" in name else ("portal",)
            for kind in kinds:
                client = clients[kind]
                query = _query(value, names)
                check(client.get(f"{url}?{query}"), f"{kind} GET {url}?…={value[:30]!r}")
                for variant in _path_variants(route, url, value):
                    check(client.get(variant), f"{kind} GET {variant[:120]}")
                if api:
                    if "usage-events" in url or name in {
                        "api-applications",
                        "api-edition",
                        "api-addons",
                        "api-resource-packs",
                        "api-adjustments",
                        "api-credit-notes",
                        "api-payments",
                    }:
                        for body in _json_bodies(value, names):
                            response = client.generic(
                                "POST",
                                url,
                                json_dumps_exact(body),  # "\ud800" as its JSON escape
                                content_type="application/json",
                            )
                            check(response, f"{kind} POST {url} {value[:30]!r}")
                else:
                    data = {field: value.replace("\ud800", "?") for field in names}
                    check(client.post(url, data), f"{kind} POST {url} form {value[:30]!r}")
        rounds_done += 1

    # JSON-only values and whole hostile bodies, on every API endpoint that takes a body.
    posts = [
        "/api/v1/usage-events",
        "/api/v1/applications",
        f"/api/v1/applications/{w.app.sdkappid}/edition",
        f"/api/v1/applications/{w.app.sdkappid}/addons",
        f"/api/v1/applications/{w.app.sdkappid}/resource-packs",
        f"/api/v1/invoices/{w.invoice.number}/adjustments",
        f"/api/v1/invoices/{w.invoice.number}/credit-notes",
        f"/api/v1/invoices/{w.invoice.number}/payments",
    ]
    for url in posts:
        for kind in ("api", "api-staff"):
            client = clients[kind]
            for value in JSON_EXTRA:
                for body in _json_bodies(value, names):
                    response = client.generic(
                        "POST", url, json_dumps_exact(body), content_type="application/json"
                    )
                    check(response, f"{kind} POST {url} {value!r:.40}")
            for raw in (DEEP, '{"events": ' + DEEP + "}", '"\\ud800"', "[]", "1e400", "{"):
                response = client.generic("POST", url, raw, content_type="application/json")
                check(response, f"{kind} POST {url} raw {raw[:30]!r}")
    elapsed = time.monotonic() - started
    print(
        f"\n[hostile walk] {len(routes)} URL patterns, {len(names)} parameter names, "
        f"{rounds_done}/{len(HOSTILE)} rounds, {requests} requests, {elapsed:.1f} s"
    )
    assert rounds_done >= CORE_ROUNDS
    assert not failures, "\n".join(failures[:50])


def _form_instance(cls, data):
    parameters = inspect.signature(cls.__init__).parameters
    kwargs = {}
    if "accounts" in parameters:
        from accounts.models import Account

        kwargs["accounts"] = Account.objects.all()
    if "request" in parameters:
        kwargs["request"] = None
    if "user" in parameters:
        from tests.factories import UserFactory

        kwargs["user"] = UserFactory()
    return cls(data=data, **kwargs)


def test_every_form_and_serializer_field_refuses_hostile_values(world):  # noqa: F811
    checked = 0
    values = [v for v in HOSTILE if "\ud800" not in v] + ["", "0", "1.005", "-1"]
    for cls in _form_classes():
        for field in cls.base_fields:
            for value in values:
                form = _form_instance(cls, {field: value})
                form.is_valid()  # must not raise
                checked += 1
    for cls in _serializer_classes():
        for field in cls().fields:
            for value in [*HOSTILE, *JSON_EXTRA, [DEEP]]:
                cls(data={field: value}).is_valid()  # must not raise
                checked += 1
    print(f"\n[hostile fields] {checked} field values cleaned")
    assert checked > 500
