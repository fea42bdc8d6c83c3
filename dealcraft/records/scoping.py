"""The schema as one principal may see it, for building that principal's SQL.

``ScopedSchema`` is both the expression catalog and the SQL binder the record service uses
for a principal: fields they may not read do not exist in their filters, and every other
object a query touches (a dotted path, a roll-up's children, a reference being written) is
read through that object's row scope. A computed field is readable only when every field it
reads is, so a formula cannot leak what a field rule hides.

A ScopedSchema is immutable for one schema view and one version of the policies, so the
record service keeps recent ones and reuses them across requests: field decisions, parsed
scopes and the plan for serialising rows are worked out once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from dealcraft import expr
from dealcraft.access.policy import AccessPolicy
from dealcraft.access.principal import Principal
from dealcraft.schema.model import FieldDef, ObjectDef
from dealcraft.schema.registry import SYSTEM_REFS, SchemaView
from dealcraft.schema.types import FieldType, handler_for

# Parsing is pure: the same text always gives the same tree.
parse_expression = lru_cache(maxsize=2048)(expr.parse)


class ScopedSchema:
    def __init__(self, view: SchemaView, policy: AccessPolicy, principal: Principal) -> None:
        self.view = view
        self.policy = policy
        self.principal = principal
        self._readable: dict[tuple[str, str], bool] = {}
        self._masked: dict[tuple[str, str], bool] = {}
        self._fields: dict[str, list[FieldDef]] = {}
        self._plans: dict[str, list[tuple[FieldDef, FieldType, bool]]] = {}
        self._scopes: dict[str, expr.Checked | None] = {}
        self._params = principal.expression_params()
        # The record service's SELECT per object (on the view's own table), built once.
        self.statements: dict[str, Any] = {}

    # Fields -------------------------------------------------------------------------------
    def readable(self, f: FieldDef) -> bool:
        key = (f.object_name, f.name)
        cached = self._readable.get(key)
        if cached is None:
            cached = self.policy.readable(self.principal, f)
            if cached and not handler_for(f.type).stored:
                cached = self._computed_readable(f)
            self._readable[key] = cached
        return cached

    def _computed_readable(self, f: FieldDef) -> bool:
        try:
            reads = self.view.raw_paths(f)
        except expr.ExprError:
            return False
        for object_name, field_name in reads:
            other = self.view.objects[object_name].field(field_name)
            if other is None or other == f:
                continue
            if not self.policy.readable(self.principal, other) or self.masked(other):
                return False
        return True

    def masked(self, f: FieldDef) -> bool:
        key = (f.object_name, f.name)
        cached = self._masked.get(key)
        if cached is None:
            is_masked = getattr(self.policy, "masked", None)
            cached = self._masked[key] = bool(is_masked and is_masked(self.principal, f))
        return cached

    def readable_fields(self, obj: ObjectDef) -> list[FieldDef]:
        cached = self._fields.get(obj.name)
        if cached is None:
            cached = self._fields[obj.name] = [f for f in obj.active_fields if self.readable(f)]
        return cached

    def read_plan(self, obj: ObjectDef) -> list[tuple[FieldDef, FieldType, bool]]:
        """Per readable field: its handler and whether its values are masked."""
        cached = self._plans.get(obj.name)
        if cached is None:
            cached = self._plans[obj.name] = [
                (f, handler_for(f.type), self.masked(f)) for f in self.readable_fields(obj)
            ]
        return cached

    # Catalog (filters): only fields shown in full may be filtered or sorted on -----------
    def lookup(self, object_name: str, field_name: str) -> expr.FieldRef | None:
        ref = self.view.lookup(object_name, field_name)
        if ref is None or field_name in SYSTEM_REFS:
            return ref
        f = self.view.field_for_key(object_name, field_name)
        if f is not None and (not self.readable(f) or self.masked(f)):
            return None
        return ref

    # Binder ------------------------------------------------------------------------------
    def row_scope(self, object_name: str, table: sa.FromClause) -> Any:
        """The principal's row scope on ``table`` as SQL, or None for every row."""
        if object_name not in self._scopes:
            obj = self.view.objects[object_name]
            scope = self.policy.row_scope(self.principal, obj)
            # Scopes are written by admins over the raw schema, so they check unscoped.
            self._scopes[object_name] = (
                None
                if scope is None
                else expr.check(parse_expression(scope), self.view, object_name, self._params)
            )
        checked = self._scopes[object_name]
        if checked is None:
            return None
        return expr.to_sql(checked, self.view, table, self._params, predicate=True)

    def table(self, object_name: str) -> sa.FromClause:
        base = self.view.tables[object_name].alias()
        scope = self.row_scope(object_name, base)
        if scope is None:
            return base
        return sa.select(base).where(scope).subquery()

    def id_column(self, object_name: str, table: sa.FromClause) -> Any:
        return table.c.id

    def column(self, object_name: str, field_name: str, table: sa.FromClause) -> Any:
        return self.view.column(object_name, field_name, table, binder=self)

    def formula_sql(self, f: FieldDef, table: sa.FromClause) -> Any:
        return self.view.formula_sql(f, table, binder=self)

    def rollup_sql(self, f: FieldDef, table: sa.FromClause) -> Any:
        return self.view.rollup_sql(f, table, binder=self)
