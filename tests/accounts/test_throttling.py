"""Lock-out after repeated failed log-ins (accounts/throttling.py), through the real login pages
of the portal and of the admin with the test client."""

import pytest
from django.core.cache import cache
from django.test import Client, override_settings
from django.urls import reverse

from accounts.services import account_create, staff_create
from accounts.throttling import LoginThrottle

pytestmark = pytest.mark.django_db

PASSWORD = "throttle-test-pw-5521"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Every log-in checks a password; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def customer():
    account_create(name="Throttle Co", email="t@example.com", password=PASSWORD)
    return "t@example.com"


def portal_login(client, username, password, address="10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


@override_settings(LOGIN_FAILURE_LIMIT=5, LOGIN_LOCKOUT_SECONDS=900)
def test_five_failures_lock_the_username_from_that_address_even_for_the_right_password(
    client, customer
):
    for _ in range(4):
        response = portal_login(client, customer, "wrong")
        assert response.status_code == 200
        assert "Please enter a correct" in response.content.decode()
    # The 5th failure locks out (429) and says for how long: 900 s = 15 minutes.
    response = portal_login(client, customer, "wrong")
    assert response.status_code == 429
    assert "Too many failed log-ins. Try again in 15 minutes." in response.content.decode()
    # Locked: the right password is not even checked.
    response = portal_login(client, customer, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # The same user from another address is not locked out by a stranger's guesses.
    other = Client()
    response = portal_login(other, customer, PASSWORD, address="10.0.0.2")
    assert response.status_code == 302 and response["Location"] == reverse("dashboard")


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_a_successful_login_resets_the_count(client, customer):
    for _ in range(2):
        portal_login(client, customer, "wrong")
    assert portal_login(client, customer, PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):  # two more failures: 2 < 3, not locked
        assert portal_login(client, customer, "wrong").status_code == 200
    assert portal_login(client, customer, PASSWORD).status_code == 302


@override_settings(LOGIN_FAILURE_LIMIT=100, LOGIN_IP_FAILURE_LIMIT=4)
def test_one_address_spraying_usernames_is_locked_out(client, customer):
    for n in range(3):
        assert portal_login(client, f"guess{n}@example.com", "pw").status_code == 200
    assert portal_login(client, "guess3@example.com", "pw").status_code == 429
    assert portal_login(client, customer, PASSWORD).status_code == 429


@override_settings(LOGIN_FAILURE_LIMIT=2, LOGIN_IP_FAILURE_LIMIT=0)
def test_the_address_limit_can_be_turned_off(client, customer):
    for n in range(10):
        assert portal_login(client, f"guess{n}@example.com", "pw").status_code == 200


def test_lockout_expires(customer, settings):
    settings.LOGIN_FAILURE_LIMIT = 1
    throttle = LoginThrottle(username=customer, address="10.0.0.9")
    throttle.failure()
    assert 0 < throttle.locked_for() <= settings.LOGIN_LOCKOUT_SECONDS
    cache.clear()  # what the lock's timeout does when it expires
    assert throttle.locked_for() == 0


def test_usernames_are_counted_case_insensitively(customer, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    LoginThrottle(username="T@Example.com", address="1.2.3.4").failure()
    LoginThrottle(username="t@example.com ", address="1.2.3.4").failure()
    assert LoginThrottle(username="t@example.com", address="1.2.3.4").locked_for() > 0


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_admin_login_is_throttled_too(client):
    staff_create(email="staff@example.com", password=PASSWORD, finance=True)
    url = reverse("admin:login")
    data = {"username": "staff@example.com", "password": "wrong", "next": "/admin/"}
    statuses = [client.post(url, data, REMOTE_ADDR="10.0.0.5").status_code for _ in range(3)]
    # The third failure locks the pair out: 429, as on the portal (README, "Reliability").
    assert statuses == [200, 200, 429]
    response = client.post(url, {**data, "password": PASSWORD}, REMOTE_ADDR="10.0.0.5")
    assert response.status_code == 429
    assert "Too many failed log-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # From another address the staff user still gets in.
    response = Client().post(url, {**data, "password": PASSWORD}, REMOTE_ADDR="10.0.0.6")
    assert response.status_code == 302 and response["Location"] == "/admin/"
