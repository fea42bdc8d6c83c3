"""The one error type of the expression language, with a stable code per rule."""

from __future__ import annotations

from typing import Any

#: Every code an :class:`ExprError` can carry; callers switch on these, so they never change.
ERROR_CODES = frozenset(
    {
        "expr_syntax",
        "expr_unknown_field",
        "expr_unknown_function",
        "expr_unknown_parameter",
        "expr_type_mismatch",
        "expr_not_allowed",
        "expr_bad_literal",
        "expr_arity",
    }
)


class ExprError(Exception):
    """An expression broke a rule: ``code`` names the rule, ``token``/``position`` the culprit."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        token: str | None = None,
        position: int | None = None,
        source: str | None = None,
    ) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown expression error code {code!r}")
        # Every message ends with where the culprit is, so a log line alone is actionable.
        if position is not None:
            message = f"{message} at position {position}"
        self.code = code
        self.message = message
        self.token = token
        self.position = position
        self.source = source
        super().__init__(message)

    def to_details(self) -> dict[str, Any]:
        return {"token": self.token, "position": self.position, "expression": self.source}

    def __repr__(self) -> str:
        return (
            f"ExprError({self.code!r}, {self.message!r}, "
            f"token={self.token!r}, position={self.position!r})"
        )
