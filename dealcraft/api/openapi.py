"""OpenAPI generated from the schema: one set of record paths and models per object.

The record routes are generic (``/api/v1/records/{object_name}``); the published document
replaces them with concrete paths for each object (``/api/v1/records/account`` ...), each
with request and response models built from the object's fields. It is rebuilt whenever the
schema version changes, so a new field appears in the document without a restart.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.schema.types import choice_values, handler_for

RECORD_PREFIX = "/api/v1/records/{object_name}"
ERROR_STATUSES = {
    "400": "Bad request (malformed filter, sort, cursor or parameter)",
    "401": "Missing, unknown or expired token",
    "404": "No such object or record",
    "409": "Conflict (stale version in the body, duplicate)",
    "412": "Stale If-Match version",
    "422": "A field value broke a rule",
}


def _text(f: FieldDef) -> dict[str, Any]:
    return {"type": "string", "maxLength": int(f.options.get("max_length", 255))}


def _number(f: FieldDef) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer" if f.options.get("integer") else "number"}
    if f.options.get("min") is not None:
        schema["minimum"] = f.options["min"]
    if f.options.get("max") is not None:
        schema["maximum"] = f.options["max"]
    return schema


# One JSON Schema builder per field type, matching what its handler accepts.
JSON_SCHEMAS: dict[str, Callable[[FieldDef], dict[str, Any]]] = {
    "text": _text,
    "long_text": lambda f: {"type": "string"},
    "email": lambda f: {"type": "string", "format": "email", "maxLength": 255},
    "phone": lambda f: {"type": "string", "pattern": r"^\+?[0-9][0-9\- ()]{4,24}$"},
    "url": lambda f: {"type": "string", "format": "uri", "pattern": "^https?://"},
    "number": _number,
    "percent": _number,
    "money": _number,
    "date": lambda f: {"type": "string", "format": "date"},
    "datetime": lambda f: {"type": "string", "format": "date-time"},
    "boolean": lambda f: {"type": "boolean"},
    "choice": lambda f: {"type": "string", "enum": choice_values(f)},
    "multi_choice": lambda f: {
        "type": "array",
        "items": {"type": "string", "enum": choice_values(f)},
        "uniqueItems": True,
    },
    "reference": lambda f: {
        "type": "integer",
        "minimum": 1,
        "description": f"id of a {f.options.get('object')}",
    },
    "user": lambda f: {"type": "integer", "minimum": 1, "description": "id of a user"},
    "file": lambda f: {
        "type": "string",
        "format": "uuid",
        "description": "id from POST /api/v1/files",
    },
    "formula": lambda f: {"readOnly": True},
    "rollup": lambda f: {"readOnly": True},
}


def _field_schema(f: FieldDef) -> dict[str, Any]:
    builder = JSON_SCHEMAS.get(f.type, lambda f: {})
    schema = {**builder(f), "title": f.label("en")}
    return schema


def _model_name(obj: ObjectDef, suffix: str) -> str:
    return "".join(part.capitalize() for part in obj.name.split("_")) + suffix


def object_models(obj: ObjectDef) -> dict[str, dict[str, Any]]:
    """JSON Schemas for a record of ``obj`` as read, created and changed."""
    record_props: dict[str, Any] = {
        "id": {"type": "integer"},
        "version": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
        "created_by": {"type": ["integer", "null"]},
        "updated_by": {"type": ["integer", "null"]},
    }
    input_props: dict[str, Any] = {}
    required: list[str] = []
    for f in obj.active_fields:
        handler = handler_for(f.type)
        schema = _field_schema(f)
        record_props[f.name] = {"anyOf": [schema, {"type": "null"}]} if handler.stored else schema
        if f.type == "money":
            currency = {"type": "string", "pattern": "^[A-Z]{3}$"}
            record_props[f"{f.name}_currency"] = {"anyOf": [currency, {"type": "null"}]}
            input_props[f"{f.name}_currency"] = currency
        if handler.stored:
            input_props[f.name] = (
                {"anyOf": [schema, {"type": "null"}]} if not f.required else schema
            )
            if f.required:
                required.append(f.name)
    create = {"type": "object", "properties": input_props, "additionalProperties": False}
    if required:
        create["required"] = required
    update = {
        "type": "object",
        "properties": {**input_props, "version": {"type": "integer"}},
        "additionalProperties": False,
    }
    return {
        _model_name(obj, "Record"): {"type": "object", "properties": record_props},
        _model_name(obj, "Create"): create,
        _model_name(obj, "Update"): update,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _specialise(operation: dict[str, Any], obj: ObjectDef, method: str, path: str) -> dict:
    op = copy.deepcopy(operation)
    op["operationId"] = f"{op.get('operationId', method)}__{obj.name}"
    op["tags"] = [obj.name]
    op["parameters"] = [p for p in op.get("parameters", []) if p.get("name") != "object_name"]
    record = _ref(_model_name(obj, "Record"))
    one_record = path.endswith(("{record_id}", "{record_id}/restore"))
    body_model = None
    if method == "post" and path == RECORD_PREFIX:
        body_model = _model_name(obj, "Create")
    elif method == "patch" and path.endswith("{record_id}"):
        body_model = _model_name(obj, "Update")
    if body_model and "requestBody" in op:
        op["requestBody"]["content"] = {"application/json": {"schema": _ref(body_model)}}
    responses = op.setdefault("responses", {})
    for status in ("200", "201"):
        if status in responses and (body_model or (one_record and method != "delete")):
            responses[status]["content"] = {"application/json": {"schema": record}}
    if path == RECORD_PREFIX and method == "get":
        responses["200"]["content"] = {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "data": {"type": "array", "items": record},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                    "required": ["data", "next_cursor"],
                }
            }
        }
    for status, description in ERROR_STATUSES.items():
        responses.setdefault(
            status,
            {
                "description": description,
                "content": {"application/json": {"schema": _ref("Error")}},
            },
        )
    return op


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
            "required": ["code", "message", "details"],
        }
    },
    "required": ["error"],
}


def install_openapi(app: FastAPI) -> None:
    cache: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        view = app.state.workspace.registry.view()
        if cache.get("version") == view.version and "schema" in cache:
            return cache["schema"]
        document = get_openapi(
            title=app.title,
            version=app.version,
            routes=app.routes,
            description="Records and schema of this Dealcraft workspace.",
        )
        paths = document.setdefault("paths", {})
        generic = {p: paths.pop(p) for p in list(paths) if p.startswith(RECORD_PREFIX)}
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = ERROR_SCHEMA
        for obj in view.objects.values():
            components.update(object_models(obj))
            for path, operations in generic.items():
                concrete = path.replace("{object_name}", obj.name)
                paths[concrete] = {
                    method: _specialise(op, obj, method, path) for method, op in operations.items()
                }
        # Validation errors use our error shape, not FastAPI's default one.
        for operations in paths.values():
            for op in operations.values():
                if "422" in op.get("responses", {}):
                    op["responses"]["422"] = {
                        "description": ERROR_STATUSES["422"],
                        "content": {"application/json": {"schema": _ref("Error")}},
                    }
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        cache["version"], cache["schema"] = view.version, document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
