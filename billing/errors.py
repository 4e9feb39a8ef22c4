"""The one error type services raise for anything a client can get wrong.

Views, the API and the admin turn it into a message naming the field; it is never a 500.
"""


class BillingError(Exception):
    def __init__(self, message: str, *, code: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field

    def as_dict(self) -> dict:
        return {"field": self.field, "code": self.code, "message": self.message}
