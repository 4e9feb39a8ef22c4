"""`manage.py create_application`: an application on Trial, backdated for customers migrated
from another system, its SDKAppID on stdout; a future date, an unknown account or a bad option
is refused with the option named and nothing written."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from billing.calendar import billing_today
from billing.models import Application, AuditRecord, EditionPeriod
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_application", *args, stdout=out)
    return out.getvalue()


def test_prints_the_new_sdkappid_and_starts_trial_on_the_given_day():
    account = AccountFactory()

    out = run("--account", str(account.pk), "--name", "Migrated chat", "--region", "intl",
              "--created-on", "2026-09-15")  # fmt: skip

    application = Application.objects.get(account=account)
    assert out == f"{application.sdkappid}\n"
    assert 1_400_000_000 <= application.sdkappid <= 1_499_999_999
    assert (application.name, application.region) == ("Migrated chat", "intl")
    [period] = EditionPeriod.objects.filter(application=application)
    assert (period.edition.code, period.starts_on, period.ends_on) == (
        "trial",
        dt.date(2026, 9, 15),
        None,
    )
    assert AuditRecord.objects.filter(
        action="application.create", target_id=str(application.pk)
    ).exists()


def test_without_created_on_the_application_starts_today():
    account = AccountFactory()

    run("--account", str(account.pk), "--name", "New", "--region", "cn")

    period = EditionPeriod.objects.get(application__account=account)
    assert period.starts_on == billing_today()


def test_today_is_accepted_and_tomorrow_is_refused():
    account = AccountFactory()
    today = billing_today()
    run("--account", str(account.pk), "--name", "today", "--region", "cn",
        "--created-on", today.isoformat())  # fmt: skip

    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    with pytest.raises(CommandError) as refused:
        run("--account", str(account.pk), "--name", "later", "--region", "cn",
            "--created-on", tomorrow)  # fmt: skip

    assert str(refused.value).startswith(f"--created-on: {tomorrow} is in the future")
    assert list(Application.objects.values_list("name", flat=True)) == ["today"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "x", "--region", "cn", "--created-on", "15/09/2026"], "--created-on: "),
        (["--name", "   ", "--region", "cn"], "--name: Give the application a name."),
    ],
)
def test_bad_options_are_refused_naming_the_option(args, message):
    account = AccountFactory()

    with pytest.raises(CommandError) as refused:
        run("--account", str(account.pk), *args)

    assert str(refused.value).startswith(message)
    assert not Application.objects.exists()


def test_an_unknown_account_is_refused():
    with pytest.raises(CommandError, match=r"^--account: no account with id 999999$"):
        run("--account", "999999", "--name", "x", "--region", "cn")
    assert not Application.objects.exists()


def test_a_region_outside_cn_and_intl_is_refused():
    account = AccountFactory()

    with pytest.raises(CommandError, match="--region"):
        run("--account", str(account.pk), "--name", "x", "--region", "eu")
    assert not Application.objects.exists()
