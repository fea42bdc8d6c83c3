"""The one expression language of Dealcraft: filters, formula fields, row-level security
scopes and flow conditions.

A restricted SQL expression is parsed with sqlglot (:func:`parse`), checked against the
schema (:func:`check`), then either compiled to a SQLAlchemy Core expression (:func:`to_sql`)
or evaluated in memory (:func:`evaluate`). Both walk the same checked tree and agree on every
value, NULLs included, on SQLite and PostgreSQL.
"""

from .check import Checked, check
from .compile import to_sql
from .errors import ExprError
from .evaluate import evaluate
from .functions import FUNCTIONS
from .parse import Expression, parse
from .types import Catalog, ExprType, FieldRef, ListText, SqlBinder

__all__ = [
    "FUNCTIONS",
    "Catalog",
    "Checked",
    "ExprError",
    "ExprType",
    "Expression",
    "FieldRef",
    "ListText",
    "SqlBinder",
    "check",
    "evaluate",
    "parse",
    "to_sql",
]
