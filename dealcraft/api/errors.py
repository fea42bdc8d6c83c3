"""Every error answers ``{"error": {"code", "message", "details"}}`` with its status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dealcraft.api.responses import JSONResponse
from dealcraft.errors import DealcraftError

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}

# Pydantic error types, in our own words.
PYDANTIC_MESSAGES = {
    "missing": "is required",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "string_type": "must be text",
    "bool_parsing": "must be true or false",
    "json_invalid": "is not valid JSON",
    "dict_type": "must be a JSON object",
    "list_type": "must be a JSON list",
    "greater_than_equal": "is too small",
    "less_than_equal": "is too large",
    "enum": "is not one of the allowed values",
    "literal_error": "is not one of the allowed values",
    "model_attributes_type": "must be a JSON object",
    "string_too_short": "is too short",
    "string_too_long": "is too long",
}

# Pydantic error types, as our own stable codes (anything else is ``invalid_value``).
PYDANTIC_CODES = {
    "missing": "required",
    "int_parsing": "invalid_integer",
    "int_type": "invalid_integer",
    "string_type": "invalid_text",
    "bool_parsing": "invalid_boolean",
    "json_invalid": "invalid_json",
    "dict_type": "invalid_body",
    "model_attributes_type": "invalid_body",
    "list_type": "invalid_list",
    "greater_than_equal": "number_too_small",
    "less_than_equal": "number_too_large",
    "enum": "invalid_choice",
    "literal_error": "invalid_choice",
    "string_too_short": "text_too_short",
    "string_too_long": "text_too_long",
}


def error_response(status: int, code: str, message: str, details: dict | None = None, headers=None):
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status_code=status,
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DealcraftError)
    async def _dealcraft(request: Request, exc: DealcraftError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errors = []
        for err in exc.errors():
            kind = err.get("type", "")
            loc = [
                str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")
            ]
            # A JSON syntax error's location is a character offset, not a field.
            field = "body" if kind == "json_invalid" else ".".join(loc) or "body"
            words = PYDANTIC_MESSAGES.get(kind, "is invalid")
            errors.append(
                {
                    "field": field,
                    "code": PYDANTIC_CODES.get(kind, "invalid_value"),
                    "message": f"{field} {words}",
                }
            )
        first = errors[0] if errors else {"field": "body", "message": "the request is invalid"}
        return error_response(
            422, "invalid_request", first["message"], {"field": first["field"], "errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
        return error_response(exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        logger.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
        return error_response(500, "internal_error", "an unexpected error occurred; it was logged")
