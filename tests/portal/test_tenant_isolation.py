"""A user sees only the accounts they belong to: every portal URL that names an object of
another account answers 404, to every method, and changes nothing (issue 5, item 6).

The URL patterns come from the resolver, so a new portal URL without an expectation below
makes ``test_every_portal_url_has_an_expectation`` fail."""

import pytest
from django.urls import URLResolver, get_resolver, reverse

from accounts.models import ApiKey
from billing.models import AddOnSubscription, Application, EditionPeriod

pytestmark = pytest.mark.django_db

# Patterns served elsewhere with their own tests: the staff admin and the REST API (issue 6).
OTHER_SURFACES = ("admin/", "api/")

PUBLIC = "public"  # no account data: log-in, password reset
OWN = "own"  # the user's own data only: lists, forms, their password


def _notifications_of(tenant):
    """A webhook endpoint of the tenant with one delivery, and an alert (made once)."""
    if not hasattr(tenant, "endpoint"):
        from notifications.alerts import alert_create
        from notifications.models import Event, WebhookDelivery
        from notifications.webhooks import endpoint_create

        tenant.endpoint = endpoint_create(
            account_id=tenant.account.pk,
            url="https://93.184.215.14/hook",
            event_types=["invoice.paid"],
        )
        tenant.delivery = WebhookDelivery.objects.create(
            event=Event.objects.filter(account=tenant.account).first(), endpoint=tenant.endpoint
        )
        tenant.alert = alert_create(
            account_id=tenant.account.pk, kind="spend", currency="CNY", amount="10"
        )
    return tenant


# Patterns naming objects: kwarg -> which object of a tenant fills it.
OBJECT_KWARGS = {
    "endpoint_id": lambda t: _notifications_of(t).endpoint.pk,
    "delivery_id": lambda t: _notifications_of(t).delivery.pk,
    "alert_id": lambda t: _notifications_of(t).alert.pk,
    "action": lambda t: "test",
    "sdkappid": lambda t: t.app.sdkappid,
    "subscription_id": lambda t: t.subscription.pk,
    "invoice_id": lambda t: t.invoice.pk,
    "key_id": lambda t: t.key.pk,
}
EXPECTATIONS = {
    "login": PUBLIC,
    "logout": PUBLIC,
    "password_reset": PUBLIC,
    "password_reset_done": PUBLIC,
    "password_reset_confirm": PUBLIC,
    "password_reset_complete": PUBLIC,
    "password_change": OWN,
    "password_change_done": OWN,
    "dashboard": OWN,
    "application_create": OWN,
    "invoices": OWN,
    "api_keys": OWN,
    "application": {"sdkappid"},
    "application_charges": {"sdkappid"},
    "edition_change": {"sdkappid"},
    "addon_buy": {"sdkappid"},
    "pack_buy": {"sdkappid"},
    "addon_cancel": {"sdkappid", "subscription_id"},
    "invoice": {"invoice_id"},
    "invoice_pdf": {"invoice_id"},
    "api_key_revoke": {"key_id"},
    "webhooks": OWN,
    "alerts": OWN,
    "webhook": {"endpoint_id"},
    "webhook_action": {"endpoint_id", "action"},
    "webhook_replay": {"endpoint_id", "delivery_id"},
    "alert_delete": {"alert_id"},
}
# What a POST to any of them carries, so that only the object lookup can refuse it.
POST_DATA = {"edition": "ultimate", "item": "im.addon.group_members.pro", "name": "x"}


def portal_patterns() -> dict:
    """Every named URL pattern of the site outside the admin and the API, by name."""
    found = {}

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if not route.startswith(OTHER_SURFACES):
                    walk(pattern.url_patterns, route)
            elif not route.startswith(OTHER_SURFACES):
                assert pattern.name, f"portal URL {route!r} has no name"
                found[pattern.name] = pattern

    walk(get_resolver().url_patterns, "")
    return found


def object_patterns():
    return [name for name, kind in EXPECTATIONS.items() if isinstance(kind, set)]


def test_every_portal_url_has_an_expectation():
    patterns = portal_patterns()
    assert set(patterns) == set(EXPECTATIONS), (
        "a portal URL was added or removed: give it an expectation in EXPECTATIONS"
    )
    for name, kind in EXPECTATIONS.items():
        kwargs = set(patterns[name].pattern.converters)
        if isinstance(kind, set):
            assert kwargs == kind, f"{name} names {kwargs}, expected {kind}"
            assert kwargs <= set(OBJECT_KWARGS)
        elif kind == OWN:
            assert not kwargs, f"{name} names objects: list them as a set of kwargs"


def _url(name, tenant):
    kwargs = {kwarg: OBJECT_KWARGS[kwarg](tenant) for kwarg in EXPECTATIONS[name]}
    return reverse(name, kwargs=kwargs)


def _state(tenant):
    """What any of the POSTs could change for a tenant."""
    return (
        list(EditionPeriod.objects.filter(application=tenant.app).values_list("edition__code")),
        list(
            AddOnSubscription.objects.filter(application=tenant.app).values_list(
                "item__code", "ends_on"
            )
        ),
        tenant.app.resource_packs.count(),
        ApiKey.objects.get(pk=tenant.key.pk).revoked_at,
        Application.objects.filter(account=tenant.account).count(),
        _notification_state(tenant),
    )


def _notification_state(tenant):
    from notifications.models import Alert, DeliveryAttempt, WebhookEndpoint

    _notifications_of(tenant)  # made before the "before" snapshot, never by the requests

    return (
        list(
            WebhookEndpoint.objects.filter(account=tenant.account).values_list(
                "pk", "disabled_at", "deleted_at"
            )
        ),
        Alert.objects.filter(account=tenant.account).count(),
        DeliveryAttempt.objects.filter(delivery__endpoint__account=tenant.account).count(),
    )


@pytest.mark.parametrize("name", object_patterns())
def test_another_accounts_object_answers_404_to_every_method(client, owner, stranger, name):
    client.force_login(owner.user)
    before = _state(stranger)
    url = _url(name, stranger)

    assert client.get(url).status_code == 404
    assert client.post(url, POST_DATA).status_code == 404
    assert client.head(url).status_code == 404
    assert client.delete(url).status_code == 404

    assert _state(stranger) == before
    # Control: the owner's own object is found (200; 400 for the edition page without an
    # edition; 405 for POST-only URLs).
    assert client.get(_url(name, owner)).status_code in (200, 400, 405)


def test_a_subscription_of_another_account_under_ones_own_application_is_404(
    client, owner, stranger
):
    client.force_login(owner.user)
    mixed = [
        (owner.app.sdkappid, stranger.subscription.pk),
        (stranger.app.sdkappid, owner.subscription.pk),
    ]
    for sdkappid, subscription_id in mixed:
        url = reverse("addon_cancel", args=[sdkappid, subscription_id])
        assert client.post(url).status_code == 404
    assert AddOnSubscription.objects.filter(ends_on__isnull=False).count() == 0


@pytest.mark.parametrize("name", [n for n, kind in EXPECTATIONS.items() if kind == OWN])
def test_own_pages_show_nothing_of_another_account(client, owner, stranger, name):
    client.force_login(owner.user)
    page = client.get(reverse(name)).content.decode()
    for secret in (
        stranger.account.name,
        str(stranger.app.sdkappid),
        stranger.invoice.number,
        stranger.key.prefix,
        stranger.user.email,
    ):
        assert secret not in page, f"{name} shows {secret!r} of another account"


def test_forms_refuse_another_accounts_id(client, owner, stranger):
    client.force_login(owner.user)
    response = client.post(
        reverse("application_create"),
        {"account": stranger.account.pk, "name": "sneaky", "region": "cn"},
    )
    assert response.status_code == 400
    assert not Application.objects.filter(name="sneaky").exists()
    response = client.post(reverse("api_keys"), {"account": stranger.account.pk, "name": "s"})
    assert response.status_code == 400
    assert stranger.account.api_keys.count() == 1
