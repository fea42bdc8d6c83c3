"""The schema engine: objects and fields as metadata, one handler per field type."""

from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.schema.registry import SchemaRegistry, SchemaView
from dealcraft.schema.service import SchemaService
from dealcraft.schema.types import FIELD_TYPES, FieldType, handler_for, register_field_type

__all__ = [
    "FIELD_TYPES",
    "FieldDef",
    "FieldType",
    "ObjectDef",
    "SchemaRegistry",
    "SchemaService",
    "SchemaView",
    "handler_for",
    "register_field_type",
]
