"""The invariants the database itself enforces on accounts, memberships and API keys (SPEC 1, 2).

Each rule of ``accounts.models`` is broken by a direct write and the database must refuse it
with IntegrityError naming that rule (``violates``); the valid neighbours show the rule is no
broader than it should be.
"""

from contextlib import nullcontext

import pytest

from accounts.models import ApiKey, Membership
from tests.factories import (
    AccountFactory,
    ApiKeyFactory,
    MembershipFactory,
    UserFactory,
    violates,
)

pytestmark = pytest.mark.django_db


def test_one_membership_per_user_and_account():
    # given a user who owns an account
    owner = MembershipFactory()

    # then the same user cannot be added to it again, even with another role
    with violates(Membership, "membership_user_account_uniq"):
        MembershipFactory(user=owner.user, account=owner.account, role=Membership.Role.VIEWER)

    # while the user may belong to another account, and the account may have other users
    MembershipFactory(user=owner.user, role=Membership.Role.VIEWER)
    MembershipFactory(account=owner.account, role=Membership.Role.VIEWER)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("owner", True),
        ("billing", True),
        ("developer", True),
        ("viewer", True),
        ("member", False),  # migrated to developer (accounts/migrations/0002)
        ("admin", False),
        ("", False),
        ("Owner", False),
    ],
)
def test_membership_role_is_one_of_the_four(role, allowed):
    refusal = nullcontext() if allowed else violates(Membership, "membership_role_valid")

    with refusal:
        MembershipFactory(role=role)


@pytest.mark.parametrize(
    ("is_service", "has_account", "allowed"),
    [
        pytest.param(False, True, True, id="account_key"),
        pytest.param(True, False, True, id="service_key"),
        pytest.param(False, False, False, id="account_key_without_account"),
        pytest.param(True, True, False, id="service_key_with_account"),
    ],
)
def test_api_key_is_a_service_key_or_an_account_key(is_service, has_account, allowed):
    account = AccountFactory() if has_account else None
    refusal = nullcontext() if allowed else violates(ApiKey, "apikey_service_xor_account")

    with refusal:
        ApiKeyFactory(is_service=is_service, account=account)


@pytest.mark.parametrize("field", ["prefix", "key_hash"])
def test_api_key_prefix_and_hash_are_unique(field):
    # The prefix tells keys apart in lists; the hash is how a bearer token is looked up.
    key = ApiKeyFactory()

    with violates(ApiKey, field):
        ApiKeyFactory(**{field: getattr(key, field)})

    # Keys of other accounts and service keys share the same namespace.
    ApiKeyFactory(service=True, created_by=UserFactory())
