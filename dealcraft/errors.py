"""Errors a person can act on: a stable code, the rule broken, the offending field, a status."""

from __future__ import annotations

from typing import Any


class DealcraftError(Exception):
    """Base of every error the platform reports to users and API clients."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class NotFound(DealcraftError):
    status = 404
    code = "not_found"


class Unauthorized(DealcraftError):
    status = 401
    code = "unauthorized"


class Forbidden(DealcraftError):
    status = 403
    code = "forbidden"


class Conflict(DealcraftError):
    status = 409
    code = "conflict"


class VersionConflict(Conflict):
    code = "version_conflict"


class InvalidInput(DealcraftError):
    """A request is malformed (bad parameter, bad expression, bad cursor)."""

    status = 400
    code = "invalid_input"


class FieldError(DealcraftError):
    """One field's value broke a rule; collected into a ValidationFailed."""

    status = 422

    def __init__(self, field: str, code: str, message: str, value: Any = None) -> None:
        super().__init__(message, code=code, details={"field": field})
        self.field = field
        self.value = value

    def as_item(self) -> dict[str, Any]:
        item = {"field": self.field, "code": self.code, "message": self.message}
        if self.value is not None and isinstance(self.value, str | int | float | bool):
            item["value"] = self.value
        return item


class ValidationFailed(DealcraftError):
    """One or more fields are invalid. The code is the first field's code."""

    status = 422

    def __init__(self, errors: list[FieldError]) -> None:
        first = errors[0]
        message = first.message if len(errors) == 1 else f"{len(errors)} fields are invalid"
        super().__init__(
            message,
            code=first.code,
            details={"field": first.field, "errors": [e.as_item() for e in errors]},
        )
        self.errors = errors
