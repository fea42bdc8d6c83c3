"""The access policy the record service consults on every call.

``BaselinePolicy`` is the policy of the platform core: any signed-in principal may work with
records, only admins may change the schema. The access-control capability replaces it with
per-role operation grants, row scopes and field rules through the same interface, so the
record service does not change when it lands.
"""

from __future__ import annotations

from typing import Protocol

from dealcraft.access.principal import Principal
from dealcraft.errors import Forbidden, Unauthorized
from dealcraft.schema.model import FieldDef, ObjectDef

OPERATIONS = ("read", "create", "update", "delete", "export", "import")


class AccessPolicy(Protocol):
    def check_operation(self, principal: Principal, obj: ObjectDef, operation: str) -> None:
        """Raise if ``principal`` may not perform ``operation`` on ``obj`` at all."""

    def row_scope(self, principal: Principal, obj: ObjectDef) -> str | None:
        """An expression limiting the rows ``principal`` may see, or None for all rows."""

    def readable(self, principal: Principal, f: FieldDef) -> bool:
        """Whether ``principal`` may read (and filter or sort by) the field."""

    def writable(self, principal: Principal, f: FieldDef) -> bool:
        """Whether ``principal`` may write the field."""

    def check_schema_change(self, principal: Principal) -> None:
        """Raise unless ``principal`` may change objects and fields."""


class BaselinePolicy:
    def check_operation(self, principal: Principal, obj: ObjectDef, operation: str) -> None:
        if principal.user_id is None and not principal.is_system:
            raise Unauthorized("sign in to work with records")

    def row_scope(self, principal: Principal, obj: ObjectDef) -> str | None:
        return None

    def readable(self, principal: Principal, f: FieldDef) -> bool:
        return True

    def writable(self, principal: Principal, f: FieldDef) -> bool:
        return True

    def check_schema_change(self, principal: Principal) -> None:
        if not principal.is_admin:
            raise Forbidden(
                "only an admin may change objects and fields", code="schema_admin_required"
            )
