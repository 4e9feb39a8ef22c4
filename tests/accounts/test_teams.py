"""Teams and access (issue 19): invitations through the mail outbox, the last owner kept under a
row lock, roles and keys, scoped and expiring API keys over HTTP, create_api_key --scopes, the
audit trail in the portal."""

import datetime as dt
import re
import threading
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Invitation, Membership
from accounts.services import (
    AccessDenied,
    AccountError,
    account_create,
    api_key_authenticate,
    api_key_create,
    invitation_create,
    invitation_from_token,
    membership_remove,
    membership_role_change,
    user_get_or_create,
)
from billing.models import AuditRecord
from billing.services.applications import application_create

pytestmark = pytest.mark.django_db

PASSWORD = "teams-test-pw-5512"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def account():
    return account_create(name="Team Co", email="owner@team.example", password=PASSWORD)


@pytest.fixture
def owner(account):
    return account.memberships.get().user


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def link_in(message) -> str:
    return re.search(r"http://testserver(/invitations/[^/\s]+/)", message.body)[1]


# --------------------------------------------------------------------------------------------
# Invitations
# --------------------------------------------------------------------------------------------


def test_owner_invites_by_email_and_a_new_user_accepts_with_a_password(
    owner_client, account, client
):
    # when the owner invites a billing colleague
    response = owner_client.post(reverse("team"), {"email": "Ana@Team.Example ", "role": "billing"})
    assert response.status_code == 302

    # then one e-mail goes to the address with a signed link, and the invitation is pending
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana@team.example"]
    assert "Team Co" in message.subject and "as billing" in message.body
    page = owner_client.get(reverse("team")).content.decode()
    assert "ana@team.example" in page and "pending" in page

    # when the invited person opens the link (logged out) and chooses a password
    owner_client.logout()
    link = link_in(message)
    assert "Create my login" in client.get(link).content.decode()
    response = client.post(link, {"password1": "a-long-pass-7781", "password2": "a-long-pass-7781"})
    assert response.status_code == 302

    # then they are a billing member, logged in, and the link is used up
    membership = Membership.objects.get(account=account, user__username="ana@team.example")
    assert membership.role == "billing"
    assert client.get(reverse("invoices")).status_code == 200
    client.logout()
    again = client.get(link)
    assert again.status_code == 400 and "already accepted" in again.content.decode()
    actions = list(
        AuditRecord.objects.filter(account=account).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["invitation.create", "membership.join"]


def test_an_existing_user_accepts_after_logging_in(owner_client, account, client):
    other = account_create(name="Elsewhere", email="dev@team.example", password=PASSWORD)
    owner_client.post(reverse("team"), {"email": "dev@team.example", "role": "developer"})
    link = link_in(mail.outbox[0])
    owner_client.logout()

    page = client.get(link).content.decode()
    assert "already has a login" in page  # no password form for an existing login
    assert client.login(username="dev@team.example", password=PASSWORD)
    assert client.post(link).status_code == 302
    roles = dict(
        Membership.objects.filter(user__username="dev@team.example").values_list(
            "account__name", "role"
        )
    )
    assert roles == {"Elsewhere": "owner", "Team Co": "developer"}
    assert other.pk


def test_an_invitation_is_for_its_address_only(owner, account, client):
    _, link = invitation_create(
        account=account, email="x@team.example", role="viewer", actor=owner, site_url="http://t/"
    )
    account_create(name="Intruder", email="intruder@team.example", password=PASSWORD)
    assert client.login(username="intruder@team.example", password=PASSWORD)
    response = client.post(link.removeprefix("http://t"))
    assert response.status_code == 400
    assert not Membership.objects.filter(account=account, user__username="intruder@team.example")


def test_revoked_and_expired_links_no_longer_work(owner_client, owner, account, client, settings):
    owner_client.post(reverse("team"), {"email": "late@team.example", "role": "viewer"})
    invitation = Invitation.objects.get(email="late@team.example")
    link = link_in(mail.outbox[0])

    # revoked by the owner
    assert owner_client.post(reverse("invitation_revoke", args=[invitation.pk])).status_code == 302
    response = client.get(link)
    assert response.status_code == 400 and "revoked" in response.content.decode()

    # a new invitation whose link has expired (signed timestamp past INVITATION_MAX_AGE)
    owner_client.post(reverse("team"), {"email": "late@team.example", "role": "viewer"})
    link = link_in(mail.outbox[1])
    settings.INVITATION_MAX_AGE = -1
    response = client.post(link, {"password1": "a-long-pass-7781", "password2": "a-long-pass-7781"})
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert not Membership.objects.filter(user__username="late@team.example").exists()
    with pytest.raises(AccountError, match="expired"):
        invitation_from_token(link.split("/")[-2])


@pytest.mark.parametrize("role", ["billing", "developer", "viewer"])
def test_only_the_owner_invites_revokes_and_removes(client, owner, account, role):
    member, _ = user_get_or_create(email=f"{role}@team.example", password=PASSWORD)
    Membership.objects.create(user=member, account=account, role=role)
    invitation, _ = invitation_create(
        account=account, email="p@team.example", role="viewer", actor=owner, site_url="http://t/"
    )
    client.force_login(member)
    before = AuditRecord.objects.count()

    response = client.post(reverse("team"), {"email": "q@team.example", "role": "owner"})
    assert response.status_code == 403
    assert "needs the owner role" in response.content.decode()
    assert client.post(reverse("invitation_revoke", args=[invitation.pk])).status_code == 403
    owner_membership = account.memberships.get(user=owner)
    assert client.post(reverse("member_remove", args=[owner_membership.pk])).status_code == 403
    response = client.post(reverse("member_role", args=[owner_membership.pk]), {"role": "viewer"})
    assert response.status_code == 403
    assert AuditRecord.objects.count() == before
    assert len(mail.outbox) == 1  # only the owner's invitation


# --------------------------------------------------------------------------------------------
# At least one owner, under the account's row lock
# --------------------------------------------------------------------------------------------


def test_the_last_owner_can_be_neither_removed_nor_demoted(owner, account):
    membership = account.memberships.get(user=owner)
    with pytest.raises(AccountError, match="at least one owner"):
        membership_remove(membership=membership, actor=owner)
    with pytest.raises(AccountError, match="at least one owner"):
        membership_role_change(membership=membership, role="viewer", actor=owner)
    assert account.memberships.get().role == "owner"


def test_removing_a_member_revokes_their_keys_and_a_role_change_narrows_them(owner, account):
    dev, _ = user_get_or_create(email="dev2@team.example", password=PASSWORD)
    membership = Membership.objects.create(user=dev, account=account, role="owner")
    full, _ = api_key_create(account=account, created_by=dev)
    usage, _ = api_key_create(account=account, created_by=dev, scopes=["usage:write"])
    billing, _ = api_key_create(account=account, created_by=dev, scopes=["billing:read"])

    # owner -> developer: keys a developer could not create are revoked
    membership_role_change(membership=membership, role="developer", actor=owner)
    states = {k.pk: k.revoked_at is not None for k in ApiKey.objects.filter(created_by=dev)}
    assert states == {full.pk: True, usage.pk: False, billing.pk: True}

    # removed: the rest goes too, and the audit trail says so
    membership_remove(membership=membership, actor=owner)
    assert not ApiKey.objects.filter(created_by=dev, revoked_at__isnull=True).exists()
    record = AuditRecord.objects.filter(action="membership.remove").get()
    assert record.before == {"user": "dev2@team.example", "role": "developer"}
    assert record.after == {"keys_revoked": [usage.prefix]}
    assert record.actor == owner and record.account == account


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner():
    """Without the account's row lock both would count one other owner and both succeed."""
    account = account_create(name="Race Co", email="a@race.example", password=PASSWORD)
    first = account.memberships.get()
    b, _ = user_get_or_create(email="b@race.example", password=PASSWORD)
    second = Membership.objects.create(user=b, account=account, role="owner")
    barrier = threading.Barrier(2)
    outcomes = []

    def demote(membership, actor):
        try:
            barrier.wait(timeout=10)
            membership_role_change(membership=membership, role="viewer", actor=actor)
            outcomes.append("demoted")
        except (AccountError, AccessDenied) as error:
            outcomes.append(getattr(error, "code", str(error)))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(second, first.user)),
        threading.Thread(target=demote, args=(first, b)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    # one demotion went through; the other was refused: as the last owner, or (the demoted
    # actor) no longer an owner
    assert sorted(outcomes)[0] == "demoted" and len(outcomes) == 2
    assert outcomes.count("demoted") == 1
    assert Membership.objects.filter(account=account, role="owner").count() == 1


# --------------------------------------------------------------------------------------------
# Scoped API keys
# --------------------------------------------------------------------------------------------


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_keys_are_created_with_scopes_over_the_api_and_refused_outside_them(account, owner):
    _, full = api_key_create(account=account, created_by=owner)
    app = application_create(account=account, name="scoped", region="cn")

    # a key without scopes (today's keys) creates a scoped key; the raw key is shown once
    response = bearer(full).post(
        "/api/v1/api-keys", {"name": "reporter", "scopes": ["usage:write"]}, format="json"
    )
    assert response.status_code == 201
    created = response.json()
    assert created["scopes"] == ["usage:write"] and created["key"].startswith(created["prefix"])
    listed = bearer(full).get("/api/v1/api-keys").json()["results"]
    assert [k["scopes"] for k in listed if k["prefix"] == created["prefix"]] == [["usage:write"]]
    assert all("key" not in k for k in listed)

    # the scoped key reports usage, and nothing else
    scoped = bearer(created["key"])
    event = {
        "id": "s-1",
        "application": app.sdkappid,
        "metric": "trtc.audio_seconds",
        "timestamp": timezone.now().isoformat(),
        "value": 60,
    }
    assert scoped.post("/api/v1/usage-events", {"events": [event]}, format="json").json() == {
        "accepted": 1,
        "duplicates": 0,
        "late": 0,
    }
    refused = scoped.get("/api/v1/invoices")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["message"] == (
        "See invoices, credit notes, payments and balances needs the scope billing:read; "
        "this key has the scopes usage:write."
    )
    refused = scoped.post(
        f"/api/v1/applications/{app.sdkappid}/edition", {"edition": "pro"}, format="json"
    )
    assert refused.status_code == 403 and "billing:write" in refused.json()["errors"][0]["message"]
    # and it cannot make itself a bigger key
    refused = scoped.post("/api/v1/api-keys", {"scopes": []}, format="json")
    assert refused.status_code == 403 and "full rights" in refused.json()["errors"][0]["message"]


def test_unknown_scopes_and_past_expiry_are_refused_naming_the_field(account, owner):
    _, full = api_key_create(account=account, created_by=owner)
    response = bearer(full).post("/api/v1/api-keys", {"scopes": ["billing:delete"]}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "scopes.0"
    past = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    response = bearer(full).post("/api/v1/api-keys", {"expires_at": past}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "expires_at"
    assert account.api_keys.count() == 1


def test_an_expired_key_no_longer_authenticates(account):
    key, raw = api_key_create(account=account, expires_at=timezone.now() + dt.timedelta(minutes=5))
    assert bearer(raw).get("/api/v1/account").status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert api_key_authenticate(raw) is None
    assert bearer(raw).get("/api/v1/account").status_code == 401


def test_service_keys_stay_limited_to_usage(account):
    _, raw = api_key_create(account=None, is_service=True)
    response = bearer(raw).get("/api/v1/api-keys")
    assert response.status_code == 403
    with pytest.raises(AccountError, match="service key has no scopes"):
        api_key_create(account=None, is_service=True, scopes=["billing:read"])


def test_create_api_key_command_takes_scopes(account):
    out = StringIO()
    call_command(
        "create_api_key",
        "--account",
        str(account.pk),
        "--scopes",
        "usage:write,billing:read",
        stdout=out,
    )
    key = api_key_authenticate(out.getvalue().strip())
    assert key.scopes == ["usage:write", "billing:read"]
    with pytest.raises(CommandError, match="--scopes: unknown scope usage:read"):
        call_command("create_api_key", "--account", str(account.pk), "--scopes", "usage:read")
    out = StringIO()
    call_command("create_api_key", "--account", str(account.pk), stdout=out)
    assert api_key_authenticate(out.getvalue().strip()).has_full_rights


def test_a_developer_creates_developer_scoped_keys_only_in_the_portal(client, account, owner):
    dev, _ = user_get_or_create(email="d@team.example", password=PASSWORD)
    Membership.objects.create(user=dev, account=account, role="developer")
    client.force_login(dev)
    response = client.post(reverse("api_keys"), {"name": "full"})
    assert response.status_code == 403
    assert "full rights (no scopes) needs the owner role" in response.content.decode()
    response = client.post(reverse("api_keys"), {"name": "b", "scopes": ["billing:read"]})
    assert response.status_code == 403 and "billing:read needs the owner role" in (
        response.content.decode()
    )
    response = client.post(
        reverse("api_keys"), {"name": "ok", "scopes": ["usage:write", "applications:read"]}
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="ok")
    assert key.scopes == ["usage:write", "applications:read"] and key.created_by == dev
    page = client.get(reverse("api_keys")).content.decode()
    assert "<code>usage:write</code> <code>applications:read</code>" in page


# --------------------------------------------------------------------------------------------
# The audit trail in the portal
# --------------------------------------------------------------------------------------------


def test_the_owner_sees_every_change_of_members_roles_and_keys(owner_client, owner, account):
    owner_client.post(reverse("team"), {"email": "v@team.example", "role": "viewer"})
    viewer, _ = user_get_or_create(email="w@team.example", password=PASSWORD)
    membership = Membership.objects.create(user=viewer, account=account, role="viewer")
    owner_client.post(reverse("member_role", args=[membership.pk]), {"role": "developer"})
    owner_client.post(reverse("api_keys"), {"name": "ci", "scopes": ["usage:write"]})

    page = owner_client.get(reverse("audit_trail")).content.decode()
    for action in ("invitation.create", "membership.role_change", "api_key.create"):
        assert action in page, action
    assert "role: viewer" in page and "role: developer" in page
    assert "scopes: [&#x27;usage:write&#x27;]" in page
    # and only the owner
    owner_client.force_login(viewer)
    response = owner_client.get(reverse("audit_trail"))
    assert response.status_code == 403 and "needs the owner role" in response.content.decode()

    # the owner requires two-factor sign-in: recorded, and from then on every member,
    # the owner included, is sent to set it up before any other page
    owner_client.force_login(owner)
    owner_client.post(reverse("account_two_factor", args=[account.pk]), {"required": "1"})
    record = AuditRecord.objects.get(action="account.two_factor_required")
    assert (record.before, record.after) == (
        {"require_two_factor": False},
        {"require_two_factor": True},
    )
    response = owner_client.get(reverse("audit_trail"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two_factor") + "?next=")
