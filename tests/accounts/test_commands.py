"""Operator commands print only their result on stdout."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import Account, ApiKey, Membership
from accounts.services import api_key_authenticate

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def test_create_account_prints_the_id_and_creates_the_owner():
    output = run(
        "create_account", "--name", "Acme", "--email", "Ops@Acme.example", "--password", "s3cret-pw"
    )
    account = Account.objects.get(pk=int(output))
    membership = Membership.objects.get(account=account)
    assert membership.role == "owner"
    assert membership.user.username == "ops@acme.example"
    assert membership.user.check_password("s3cret-pw")


def test_create_account_rejects_a_bad_email():
    with pytest.raises(CommandError, match="--email"):
        run("create_account", "--name", "Acme", "--email", "not-an-email")


def test_create_api_key_prints_the_key_once_and_stores_only_its_hash():
    account_id = run("create_account", "--name", "Acme", "--email", "a@acme.example")
    raw = run("create_api_key", "--account", account_id)
    key = ApiKey.objects.get()
    assert raw not in (key.key_hash, key.prefix) and raw.startswith(key.prefix)
    assert key.key_hash == ApiKey.hash_key(raw)
    assert api_key_authenticate(raw) == key
    assert api_key_authenticate(raw + "x") is None


def test_create_service_key_belongs_to_no_account():
    raw = run("create_api_key", "--service")
    key = api_key_authenticate(raw)
    assert key.is_service and key.account is None


@pytest.mark.parametrize("args", [[], ["--account", "1", "--service"], ["--account", "999"]])
def test_create_api_key_refuses_wrong_arguments(args):
    with pytest.raises(CommandError):
        run("create_api_key", *args)


def test_create_staff_with_finance_group():
    user_id = run(
        "create_staff", "--email", "fin@example.com", "--password", "pw-123456", "--finance"
    )
    user = get_user_model().objects.get(pk=int(user_id))
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["finance"]
    assert user.has_perm("billing.change_invoice")
