"""The checked tree: every name resolved, every type known. Both the SQL compiler and the
in-memory evaluator walk this tree, so they cannot disagree about what an expression means."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .types import ExprType, FieldRef

if TYPE_CHECKING:
    from .functions import FunctionSpec


@dataclass(frozen=True)
class Node:
    type: ExprType


@dataclass(frozen=True)
class Lit(Node):
    value: Any


@dataclass(frozen=True)
class Step:
    object_name: str  # the object the field belongs to
    field: FieldRef


@dataclass(frozen=True)
class Field(Node):
    steps: tuple[Step, ...]  # one per dotted segment; all but the last are references


@dataclass(frozen=True)
class Param(Node):
    name: str  # dotted, without the colon: "user.id"
    element: ExprType | None = None  # set for list parameters; their own type is LIST


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "not" | "neg"
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str  # "and" "or" "=" "!=" "<" "<=" ">" ">=" "+" "-" "*" "/" "||"
    left: Node
    right: Node
    operand_type: ExprType


@dataclass(frozen=True)
class InList(Node):
    operand: Node
    items: tuple[Node, ...]  # list parameters among them expand to their elements


@dataclass(frozen=True)
class Between(Node):
    operand: Node
    low: Node
    high: Node
    operand_type: ExprType


@dataclass(frozen=True)
class Like(Node):
    operand: Node
    pattern: Node


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node


@dataclass(frozen=True)
class Call(Node):
    function: FunctionSpec
    args: tuple[Node, ...]
