"""Field types: one handler class per type, registered in ``FIELD_TYPES``.

A handler decides a field's columns, how an API or CSV value is parsed and checked, how a
stored value is shown, what the field means in the expression language, and which options
its definition accepts. A plugin adds a type with ``register_field_type``, as the built-in
types do.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, ClassVar

import sqlalchemy as sa

from dealcraft.errors import FieldError
from dealcraft.expr import ExprType, FieldRef
from dealcraft.schema.model import NAME_RE, FieldDef, normalise_labels

if TYPE_CHECKING:
    from dealcraft.schema.registry import SchemaView

FIELD_TYPES: dict[str, FieldType] = {}


def register_field_type(handler: type[FieldType]) -> type[FieldType]:
    """Register a field type handler under its ``name``; usable as a class decorator."""
    FIELD_TYPES[handler.name] = handler()
    return handler


def handler_for(type_name: str) -> FieldType:
    return FIELD_TYPES[type_name]


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


class FieldType:
    """The contract every field type implements. Defaults suit a single stored column."""

    name: ClassVar[str]
    expr_type: ClassVar[ExprType]
    stored: ClassVar[bool] = True
    indexed: ClassVar[bool] = False
    sortable: ClassVar[bool] = True
    # Options that give stored values their meaning; changing them would misread old rows.
    fixed_options: ClassVar[frozenset[str]] = frozenset()

    # Definition time -----------------------------------------------------------------
    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        """Validate and normalise the type's options when a field is saved."""
        return options

    def columns(self, f: FieldDef) -> list[sa.Column]:
        return [sa.Column(f.name, self.sa_type(f), nullable=True)]

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        raise NotImplementedError

    # Values ---------------------------------------------------------------------------
    def keys(self, f: FieldDef) -> tuple[str, ...]:
        """The keys this field reads from and writes to a record's JSON."""
        return (f.name,)

    def parse(self, f: FieldDef, value: Any) -> Any:
        """Turn an API or CSV value into the stored Python value; raise FieldError if wrong."""
        return value

    def dump(self, f: FieldDef, value: Any) -> Any:
        """Turn a stored value into its JSON form."""
        return value

    def write(self, f: FieldDef, data: Mapping[str, Any]) -> dict[str, Any]:
        """Column values for the keys of ``data`` this field owns (only those present)."""
        if f.name not in data:
            return {}
        value = data[f.name]
        return {f.name: None if _blank(value) else self.parse(f, value)}

    def read(self, f: FieldDef, row: Mapping[str, Any]) -> dict[str, Any]:
        value = row.get(f.name)
        return {f.name: None if value is None else self.dump(f, value)}

    def default(self, f: FieldDef) -> dict[str, Any]:
        """Column values used on create when the field is absent."""
        if "default" in f.options and f.options["default"] is not None:
            return {f.name: self.parse(f, f.options["default"])}
        return {}

    # Expression language ---------------------------------------------------------------
    def expr_refs(self, f: FieldDef) -> dict[str, FieldRef]:
        return {f.name: FieldRef(f.name, self.expr_type)}

    def sql(self, f: FieldDef, key: str, table: sa.FromClause, view: SchemaView) -> Any:
        return table.c[key]


# --- text-like ----------------------------------------------------------------------------


class _TextBase(FieldType):
    expr_type = ExprType.TEXT
    pattern: ClassVar[re.Pattern[str] | None] = None
    invalid_code: ClassVar[str] = "invalid_text"
    max_length_default: ClassVar[int] = 255

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.String(int(f.options.get("max_length", self.max_length_default)))

    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        max_length = options.get("max_length", self.max_length_default)
        if not isinstance(max_length, int) or not 1 <= max_length <= 10_000:
            raise FieldError("max_length", "invalid_option", "max_length must be 1..10000")
        return {**options, "max_length": max_length}

    def parse(self, f: FieldDef, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise FieldError(f.name, "invalid_text", f"{f.name} must be text", value)
        text = str(value).strip()
        limit = int(f.options.get("max_length", self.max_length_default))
        if len(text) > limit:
            raise FieldError(
                f.name, "text_too_long", f"{f.name} is longer than {limit} characters", len(text)
            )
        if self.pattern is not None and not self.pattern.fullmatch(text):
            raise FieldError(
                f.name, self.invalid_code, f"{f.name}: {text!r} is not a valid {self.name}", text
            )
        return text


@register_field_type
class TextType(_TextBase):
    name = "text"


@register_field_type
class LongTextType(_TextBase):
    name = "long_text"
    sortable = False
    max_length_default = 1_000_000

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.Text()

    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        return options


@register_field_type
class EmailType(_TextBase):
    name = "email"
    pattern = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z0-9-]{2,}")
    invalid_code = "invalid_email"


@register_field_type
class PhoneType(_TextBase):
    name = "phone"
    # A mainland mobile (13812341234), or an international / landline number with separators.
    pattern = re.compile(r"\+?[0-9][0-9\- ()]{4,24}")
    invalid_code = "invalid_phone"
    max_length_default = 32


@register_field_type
class UrlType(_TextBase):
    name = "url"
    pattern = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
    invalid_code = "invalid_url"
    max_length_default = 2048


# --- numbers --------------------------------------------------------------------------------


def _to_number(f: FieldDef, value: Any) -> float | int:
    if isinstance(value, bool):
        raise FieldError(f.name, "invalid_number", f"{f.name} must be a number", value)
    if isinstance(value, int | float | Decimal):
        number = value
    elif isinstance(value, str):
        cleaned = value.strip().replace(",", "").replace("¥", "").replace("￥", "").rstrip("%")
        try:
            number = Decimal(cleaned)
        except InvalidOperation as e:
            raise FieldError(
                f.name, "invalid_number", f"{f.name}: {value!r} is not a number", value
            ) from e
    else:
        raise FieldError(f.name, "invalid_number", f"{f.name} must be a number", str(value))
    if isinstance(number, Decimal | float) and not Decimal(str(number)).is_finite():
        raise FieldError(f.name, "invalid_number", f"{f.name} must be a finite number", value)
    result = float(number) if not isinstance(number, int) else number
    low, high = f.options.get("min"), f.options.get("max")
    if low is not None and result < low:
        raise FieldError(f.name, "number_too_small", f"{f.name} must be at least {low}", value)
    if high is not None and result > high:
        raise FieldError(f.name, "number_too_large", f"{f.name} must be at most {high}", value)
    return result


INT32 = 2**31


@register_field_type
class NumberType(FieldType):
    name = "number"
    expr_type = ExprType.NUMBER
    fixed_options = frozenset({"integer"})

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.Integer() if f.options.get("integer") else sa.Float()

    def parse(self, f: FieldDef, value: Any) -> Any:
        number = _to_number(f, value)
        if f.options.get("integer"):
            if number != int(number):
                raise FieldError(f.name, "invalid_integer", f"{f.name} must be whole", value)
            # Whole numbers are stored in 32-bit integer columns on every backend.
            if not -INT32 <= int(number) < INT32:
                raise FieldError(
                    f.name, "number_too_large", f"{f.name} must be between ±{INT32 - 1}", None
                )
            return int(number)
        if abs(float(number)) > 1e300:
            raise FieldError(f.name, "number_too_large", f"{f.name} is too large", None)
        return float(number)


@register_field_type
class PercentType(NumberType):
    name = "percent"

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.Float()


@register_field_type
class MoneyType(FieldType):
    """An amount (two decimals) and its ISO 4217 currency, in ``<name>`` and ``<name>_currency``."""

    name = "money"
    expr_type = ExprType.NUMBER

    def currency_key(self, f: FieldDef) -> str:
        return f"{f.name}_currency"

    def default_currency(self, f: FieldDef) -> str:
        return str(f.options.get("currency", "CNY"))

    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        currency = options.get("currency", "CNY")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            raise FieldError("currency", "invalid_option", "currency must be an ISO code (CNY)")
        return {**options, "currency": currency}

    def columns(self, f: FieldDef) -> list[sa.Column]:
        return [
            sa.Column(f.name, sa.Numeric(18, 2, asdecimal=False), nullable=True),
            sa.Column(self.currency_key(f), sa.String(3), nullable=True),
        ]

    def keys(self, f: FieldDef) -> tuple[str, ...]:
        return (f.name, self.currency_key(f))

    def write(self, f: FieldDef, data: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ckey = self.currency_key(f)
        if f.name in data:
            value = data[f.name]
            out[f.name] = None if _blank(value) else round(float(_to_number(f, value)), 2)
            if out[f.name] is not None and ckey not in data:
                out[ckey] = self.default_currency(f)
        if ckey in data:
            currency = data[ckey]
            if _blank(currency):
                out[ckey] = None
            elif not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency.strip()):
                raise FieldError(
                    ckey, "invalid_currency", f"{ckey} must be an ISO code such as CNY", currency
                )
            else:
                out[ckey] = currency.strip()
        return out

    def read(self, f: FieldDef, row: Mapping[str, Any]) -> dict[str, Any]:
        amount = row.get(f.name)
        return {
            f.name: None if amount is None else float(amount),
            self.currency_key(f): row.get(self.currency_key(f)),
        }

    def expr_refs(self, f: FieldDef) -> dict[str, FieldRef]:
        ckey = self.currency_key(f)
        return {f.name: FieldRef(f.name, ExprType.NUMBER), ckey: FieldRef(ckey, ExprType.TEXT)}


# --- dates and flags ------------------------------------------------------------------------


@register_field_type
class DateType(FieldType):
    name = "date"
    expr_type = ExprType.DATE
    indexed = True

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.Date()

    def parse(self, f: FieldDef, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            text = value.strip().replace("/", "-")
            try:
                # A date, or a date-time whose date part is wanted; nothing else after it.
                if len(text) == 10:
                    return date.fromisoformat(text)
                return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
            except ValueError:
                pass
        raise FieldError(f.name, "invalid_date", f"{f.name}: {value!r} is not a date", str(value))

    def dump(self, f: FieldDef, value: Any) -> Any:
        return value.isoformat() if isinstance(value, date) else str(value)


@register_field_type
class DateTimeType(FieldType):
    name = "datetime"
    expr_type = ExprType.DATETIME
    indexed = True

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.DateTime()

    def parse(self, f: FieldDef, value: Any) -> Any:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError as e:
                raise FieldError(
                    f.name, "invalid_datetime", f"{f.name}: {value!r} is not a date-time", value
                ) from e
        else:
            raise FieldError(f.name, "invalid_datetime", f"{f.name} must be a date-time", None)
        # Stored as naive UTC on every backend.
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment

    def dump(self, f: FieldDef, value: Any) -> Any:
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.isoformat(timespec="seconds") + "Z"


@register_field_type
class BooleanType(FieldType):
    name = "boolean"
    expr_type = ExprType.BOOLEAN
    truthy = frozenset({"true", "1", "yes", "y", "是", "对", "t"})
    falsy = frozenset({"false", "0", "no", "n", "否", "f"})

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.Boolean()

    def parse(self, f: FieldDef, value: Any) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in self.truthy | self.falsy:
            return value.strip().lower() in self.truthy
        raise FieldError(f.name, "invalid_boolean", f"{f.name} must be true or false", str(value))


# --- choices --------------------------------------------------------------------------------


def _check_choices(options: dict[str, Any]) -> list[dict[str, Any]]:
    raw = options.get("choices")
    if not isinstance(raw, list) or not raw:
        raise FieldError("choices", "invalid_option", "choices must be a non-empty list")
    seen: set[str] = set()
    choices = []
    for i, item in enumerate(raw):
        entry = {"value": item} if isinstance(item, str) else dict(item)
        value = entry.get("value")
        if not isinstance(value, str) or not value or "|" in value or len(value) > 100:
            raise FieldError(
                f"choices[{i}].value",
                "invalid_option",
                "a choice value is 1-100 characters without '|'",
            )
        if value in seen:
            raise FieldError(f"choices[{i}].value", "duplicate_choice", f"{value!r} is repeated")
        seen.add(value)
        entry["labels"] = normalise_labels(entry.get("labels") or entry.get("label"), value)
        entry.pop("label", None)
        if "probability" in entry:
            p = entry["probability"]
            if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100:
                raise FieldError(
                    f"choices[{i}].probability", "invalid_option", "probability must be 0..100"
                )
        choices.append(entry)
    return choices


def choice_values(f: FieldDef) -> list[str]:
    return [c["value"] for c in f.options.get("choices", [])]


def _match_choice(f: FieldDef, value: Any) -> str:
    """A choice is given by its value or by any of its labels (as in a spreadsheet)."""
    if isinstance(value, str):
        text = value.strip()
        for choice in f.options.get("choices", []):
            if text == choice["value"] or text in choice["labels"].values():
                return str(choice["value"])
    allowed = ", ".join(choice_values(f))
    raise FieldError(
        f.name, "invalid_choice", f"{f.name}: {value!r} is not one of: {allowed}", str(value)
    )


@register_field_type
class ChoiceType(FieldType):
    name = "choice"
    expr_type = ExprType.TEXT
    indexed = True

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.String(100)

    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        return {**options, "choices": _check_choices(options)}

    def parse(self, f: FieldDef, value: Any) -> Any:
        return _match_choice(f, value)


@register_field_type
class MultiChoiceType(FieldType):
    """Several choices, stored as ``|a|b|`` so ``has(field, 'a')`` is a portable LIKE."""

    name = "multi_choice"
    expr_type = ExprType.LIST
    sortable = False

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.Text()

    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        return {**options, "choices": _check_choices(options)}

    def parse(self, f: FieldDef, value: Any) -> Any:
        if isinstance(value, str):
            items = [v for v in re.split(r"[;,；，|]", value) if v.strip()]
        elif isinstance(value, list | tuple):
            items = list(value)
        else:
            raise FieldError(f.name, "invalid_choice", f"{f.name} must be a list of choices", None)
        values = []
        for item in items:
            choice = _match_choice(f, item)
            if choice not in values:
                values.append(choice)
        return "|" + "|".join(values) + "|" if values else None

    def dump(self, f: FieldDef, value: Any) -> Any:
        return [v for v in str(value).split("|") if v]


# --- references -----------------------------------------------------------------------------


@register_field_type
class ReferenceType(FieldType):
    """The id of a record of ``options.object``, in column ``<name>_id``."""

    name = "reference"
    expr_type = ExprType.NUMBER
    indexed = True
    fixed_options = frozenset({"object"})

    def target(self, f: FieldDef) -> str:
        return str(f.options["object"])

    def column_name(self, f: FieldDef) -> str:
        return f"{f.name}_id"

    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        target = options.get("object")
        if not isinstance(target, str) or (target not in view.objects and target != f.object_name):
            raise FieldError("object", "unknown_object", f"no object named {target!r} to refer to")
        return options

    def columns(self, f: FieldDef) -> list[sa.Column]:
        return [sa.Column(self.column_name(f), sa.BigInteger(), nullable=True)]

    def parse(self, f: FieldDef, value: Any) -> Any:
        if isinstance(value, dict) and "id" in value:
            value = value["id"]
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise FieldError(
                f.name, "invalid_reference", f"{f.name} must be the id of a {self.target(f)}", value
            )
        return value

    def write(self, f: FieldDef, data: Mapping[str, Any]) -> dict[str, Any]:
        if f.name not in data:
            return {}
        value = data[f.name]
        return {self.column_name(f): None if _blank(value) else self.parse(f, value)}

    def read(self, f: FieldDef, row: Mapping[str, Any]) -> dict[str, Any]:
        return {f.name: row.get(self.column_name(f))}

    def default(self, f: FieldDef) -> dict[str, Any]:
        return {}

    def expr_refs(self, f: FieldDef) -> dict[str, FieldRef]:
        ref = FieldRef(f.name, ExprType.NUMBER, target=self.target(f))
        return {f.name: ref, self.column_name(f): ref}

    def sql(self, f: FieldDef, key: str, table: sa.FromClause, view: SchemaView) -> Any:
        return table.c[self.column_name(f)]


@register_field_type
class UserType(ReferenceType):
    """A reference to a user record (owner, assignee)."""

    name = "user"

    def target(self, f: FieldDef) -> str:
        return "user"

    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        return {**options, "object": "user"}


@register_field_type
class FileType(FieldType):
    """The id of an uploaded file (``POST /api/v1/files``)."""

    name = "file"
    expr_type = ExprType.TEXT
    sortable = False

    def sa_type(self, f: FieldDef) -> sa.types.TypeEngine:
        return sa.String(36)

    def parse(self, f: FieldDef, value: Any) -> Any:
        if isinstance(value, dict) and "id" in value:
            value = value["id"]
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f\-]{32,36}", value):
            raise FieldError(f.name, "invalid_file", f"{f.name} must be an uploaded file id", None)
        return value


# --- computed -------------------------------------------------------------------------------


class _Computed(FieldType):
    stored = False

    def columns(self, f: FieldDef) -> list[sa.Column]:
        return []

    def write(self, f: FieldDef, data: Mapping[str, Any]) -> dict[str, Any]:
        if f.name in data:
            raise FieldError(f.name, "read_only_field", f"{f.name} is computed and read-only")
        return {}

    def default(self, f: FieldDef) -> dict[str, Any]:
        return {}

    def expr_refs(self, f: FieldDef) -> dict[str, FieldRef]:
        return {f.name: FieldRef(f.name, ExprType[f.options.get("result_type", "NUMBER")])}

    def read(self, f: FieldDef, row: Mapping[str, Any]) -> dict[str, Any]:
        return {f.name: dump_expr_value(ExprType[f.options["result_type"]], row.get(f.name))}


def dump_expr_value(kind: ExprType, value: Any) -> Any:
    """JSON form of a computed value, whose SQL result type varies by backend."""
    if value is None:
        return None
    if kind is ExprType.DATE:
        return (
            value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        ).isoformat()
    if kind is ExprType.DATETIME:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment.isoformat(timespec="seconds") + "Z"
    if kind is ExprType.BOOLEAN:
        return bool(value)
    if kind is ExprType.NUMBER:
        return float(value) if isinstance(value, Decimal) else value
    return value


@register_field_type
class FormulaType(_Computed):
    """Computed at read time from an expression over the record (and its references)."""

    name = "formula"
    expr_type = ExprType.NUMBER

    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        expression = options.get("expression")
        if not isinstance(expression, str) or not expression.strip():
            raise FieldError("expression", "invalid_option", "a formula needs an expression")
        checked = view.check_formula(f, expression)
        return {**options, "expression": expression, "result_type": checked.type.name}

    def sql(self, f: FieldDef, key: str, table: sa.FromClause, view: SchemaView) -> Any:
        return view.formula_sql(f, table)


ROLLUP_AGGREGATES = ("count", "sum", "avg", "min", "max")


@register_field_type
class RollupType(_Computed):
    """An aggregate over the records of another object that refer to this one."""

    name = "rollup"
    expr_type = ExprType.NUMBER

    def check_options(self, options: dict[str, Any], view: SchemaView, f: FieldDef) -> dict:
        return view.check_rollup(f, options)

    def sql(self, f: FieldDef, key: str, table: sa.FromClause, view: SchemaView) -> Any:
        return view.rollup_sql(f, table)


# Longest names whose derived identifiers still fit PostgreSQL's 63 bytes: ``obj_<object>``
# and ``<field>_currency``. Longer ones would be silently truncated and could collide.
MAX_OBJECT_NAME = 59
MAX_FIELD_NAME = 54


def check_field_name(name: Any, *, field: str = "name", max_length: int = MAX_FIELD_NAME) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise FieldError(
            field,
            "invalid_name",
            f"{name!r} is not a valid name: use lower-case snake_case letters, digits and _",
            str(name),
        )
    if len(name) > max_length:
        raise FieldError(
            field,
            "invalid_name",
            f"{name!r} is {len(name)} characters long; a name has at most {max_length}",
            name,
        )
    return name
