"""GET /api/v1/account: the caller's account, its balances and overdue state."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.api.parsers import ApiViewMixin
from billing.api.permissions import AccountKey, Policy
from billing.api.schema import READ, errors
from billing.api.serializers import AccountSerializer
from billing.selectors import account_balances


class AccountView(ApiViewMixin, APIView):
    permission_classes = [AccountKey, Policy]
    policy_actions = {"GET": "account.read"}

    @extend_schema(
        operation_id="account_retrieve",
        description="The account the key belongs to: its name and billing e-mail, the balance "
        "per currency (payments and credit notes less issued invoices; negative is "
        "owed) and whether an invoice is overdue, with the first day it was.",
        tags=["account"],
        summary="The key's account: balances per currency and overdue state",
        responses={200: AccountSerializer, **errors(*READ)},
    )
    def get(self, request):
        account = request.auth.account
        balances = account_balances(account_id=account.pk)
        data = {
            "id": account.pk,
            "name": account.name,
            "billing_email": account.billing_email,
            "is_overdue": account.is_overdue,
            "overdue_since": account.overdue_since,
            "balances": [
                {"currency": currency, "balance": balance} for currency, balance in balances.items()
            ],
        }
        return Response(AccountSerializer(data).data)
