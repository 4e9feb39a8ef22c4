"""GET /api/v1/invoices and /api/v1/invoices/{number} over HTTP, for every role."""

import datetime as dt

import pytest

from tests.api.conftest import errors_of
from tests.factories import (
    InvoiceFactory,
)

LIST = "/api/v1/invoices"
pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_owner_lists_its_invoices_newest_month_first(owner_client, invoices, other_account):
    march, april, april_usd = invoices
    InvoiceFactory(account=other_account)  # never listed

    response = owner_client.get(LIST)

    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None and body["previous"] is None
    assert ids(response) == [april_usd.pk, april.pk, march.pk]
    issued = body["results"][2]
    assert issued.pop("finalized_at") is not None
    # 999.00 (Pro term) + 7.00 (audio), due 7 days after 1 Apr (SPEC 5)
    assert issued == {
        "id": march.pk,
        "number": "INV-2025-000001",
        "account": march.account_id,
        "month": "2025-03",
        "currency": "CNY",
        "state": "finalized",
        "total": "1006.00",
        "due_date": "2025-04-08",
        "paid_at": None,
        "voided_at": None,
    }
    assert body["results"][0]["number"] is None  # a draft has no number yet


@pytest.mark.parametrize(
    "query, expected",
    [
        ("month=2025-03", ["march"]),
        ("state=draft", ["april_usd", "april"]),
        ("currency=USD", ["april_usd"]),
        ("month=2025-04&currency=CNY", ["april"]),
        ("month=2024-01", []),
    ],
)
def test_filters(owner_client, invoices, query, expected):
    by_name = dict(zip(["march", "april", "april_usd"], invoices, strict=True))

    response = owner_client.get(f"{LIST}?{query}")

    assert response.status_code == 200
    assert ids(response) == [by_name[name].pk for name in expected]


@pytest.mark.parametrize(
    "query, field, code",
    [
        ("month=2025-13", "month", "invalid"),
        ("month=March", "month", "invalid"),
        ("state=open", "state", "invalid_choice"),
        ("currency=EUR", "currency", "invalid_choice"),
        ("account=abc", "account", "invalid"),
        ("limit=0", "limit", "invalid"),
        ("limit=201", "limit", "invalid"),
        ("cursor=notacursor", "cursor", "invalid"),
    ],
)
def test_a_bad_filter_is_a_400_naming_it(owner_client, invoices, query, field, code):
    response = owner_client.get(f"{LIST}?{query}")

    assert response.status_code == 400
    [error] = errors_of(response)
    assert (error["field"], error["code"]) == (field, code)
    assert field in error["message"] or error["message"]


def test_cursor_pages_walk_every_invoice_once(owner_client, account):
    made = [InvoiceFactory(account=account, month=dt.date(2024, m, 1)) for m in range(1, 8)]

    seen, url = [], f"{LIST}?limit=3"
    while url:
        page = owner_client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]

    assert seen == [invoice.pk for invoice in reversed(made)]


def test_a_forged_cursor_position_is_a_400(owner_client, invoices):
    import base64

    cursor = base64.b64encode(b"p=not-a-date").decode()

    response = owner_client.get(f"{LIST}?cursor={cursor}")

    assert response.status_code == 400
    assert errors_of(response)[0]["field"] == "cursor"


def test_other_accounts_key_sees_none_of_them(other_client, invoices):
    response = other_client.get(LIST)

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_finance_staff_list_every_account_and_filter_by_account(
    finance_client, invoices, other_account
):
    theirs = InvoiceFactory(account=other_account)

    everything = finance_client.get(LIST)
    one_account = finance_client.get(f"{LIST}?account={other_account.pk}")

    assert everything.status_code == 200
    assert set(ids(everything)) == {theirs.pk, *(invoice.pk for invoice in invoices)}
    assert ids(one_account) == [theirs.pk]


@pytest.mark.parametrize("role, status", [("service", 403), ("anonymous", 401)])
def test_list_refused_to_service_keys_and_anonymous(client_for, invoices, role, status):
    response = client_for(role).get(LIST)

    assert response.status_code == status
    assert len(errors_of(response)) == 1


def test_support_staff_may_read_invoices(support_client, invoices):
    assert support_client.get(LIST).status_code == 200


@pytest.mark.parametrize("count", [5, 50])
def test_list_query_count_does_not_grow_with_rows(
    owner_client, account, count, django_assert_num_queries
):
    for n in range(count):
        InvoiceFactory(account=account, month=dt.date(2020 + n // 12, n % 12 + 1, 1))

    # the key, then the page
    with django_assert_num_queries(2):
        response = owner_client.get(f"{LIST}?limit=200")

    assert len(response.json()["results"]) == count


# --------------------------------------------------------------------------------------------
# One invoice
# --------------------------------------------------------------------------------------------


def test_owner_reads_an_issued_invoice_by_number_with_its_lines(owner_client, invoices):
    march = invoices[0]

    response = owner_client.get(f"{LIST}/{march.number}")

    assert response.status_code == 200
    body = response.json()
    assert (body["number"], body["month"], body["currency"], body["state"], body["total"]) == (
        march.number,
        "2025-03",
        "CNY",
        "finalized",
        "1006.00",
    )
    descriptions = [line.pop("description") for line in body["lines"]]
    keys = ("kind", "application", "item", "quantity", "unit_price", "amount")
    assert [{key: line[key] for key in keys} for line in body["lines"]] == [
        {
            "kind": "prepaid",
            "application": 1400000777,
            "item": "im.edition.pro",
            "quantity": "1",
            "unit_price": "999",
            "amount": "999.00",
        },
        {
            "kind": "usage",
            "application": 1400000777,
            "item": "trtc.audio",
            "quantity": "1000",
            "unit_price": "7",
            "amount": "7.00",
        },
    ]
    assert body["lines"][1]["unit_price_text"] == "7.00 CNY per 1,000 minutes"
    assert [g["application"] for g in body["groups"]] == [1400000777]
    assert body["groups"][0]["subtotal"] == "1006.00"  # 999 + 7
    assert body["seller"]["name"] and body["buyer"]["name"] == march.account.name
    assert "prepaid term 15 Mar 2025 to 14 Apr 2025" in descriptions[0]
    assert "TRTC audio" in descriptions[1]


def test_a_draft_is_addressed_by_its_id(owner_client, invoices):
    april = invoices[1]

    response = owner_client.get(f"{LIST}/{april.pk}")

    assert response.status_code == 200
    assert (response.json()["id"], response.json()["number"]) == (april.pk, None)


@pytest.mark.parametrize("reference", ["number", "id"])
def test_another_accounts_invoice_is_404(other_client, invoices, reference):
    march = invoices[0]

    response = other_client.get(f"{LIST}/{getattr(march, reference)}")

    assert response.status_code == 404
    assert errors_of(response)[0]["code"] == "not_found"


@pytest.mark.parametrize("reference", ["INV-1999-000001", "999999999", "9" * 30])
def test_unknown_invoice_is_404(owner_client, reference):
    assert owner_client.get(f"{LIST}/{reference}").status_code == 404


@pytest.mark.parametrize(
    "role, status", [("finance", 200), ("support", 200), ("service", 403), ("anonymous", 401)]
)
def test_detail_for_staff_service_and_anonymous(client_for, invoices, role, status):
    assert client_for(role).get(f"{LIST}/{invoices[0].number}").status_code == status


def test_unknown_api_paths_answer_404_in_the_error_format(owner_client):
    response = owner_client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert errors_of(response)[0]["code"] == "not_found"
