"""Parse and check errors: each code with its offending token and position."""

from __future__ import annotations

import datetime as dt

import pytest

from dealcraft.expr import ExprError, check, parse

from .schema import CATALOG

PARAMS = {
    "user": {"id": 1, "region": "华东", "deal_room_accounts": [1, 2]},
    "today": dt.date(2026, 1, 1),
}


def error_of(source: str, object_name: str = "opportunity") -> ExprError:
    with pytest.raises(ExprError) as caught:
        check(source, CATALOG, object_name, PARAMS)
    return caught.value


@pytest.mark.parametrize(
    ("source", "code", "token", "position"),
    [
        # syntax
        ("amount = ", "expr_syntax", "=", 7),
        ("(amount = 1", "expr_syntax", "1", 10),
        ("title = :", "expr_syntax", ":", 8),
        ("   ", "expr_syntax", None, 0),
        # refused constructs
        ("1=1; drop table x", "expr_not_allowed", ";", 3),
        ("(select password from users)", "expr_not_allowed", "select", 1),
        ("title = 'a' union select 1", "expr_not_allowed", "union", 12),
        ("amount > 1 -- and won", "expr_not_allowed", "--", 11),
        ("amount /* x */ > 1", "expr_not_allowed", "/*", 7),
        ("amount::int > 1", "expr_not_allowed", "::", 6),
        ("amount % 2 = 1", "expr_not_allowed", "%", 7),
        ("amount in (select 1)", "expr_not_allowed", "select", 11),
        ("won is true", "expr_not_allowed", "won", 0),
        # names
        ("account.regoin = 'x'", "expr_unknown_field", "regoin", 8),
        ("amout > 1", "expr_unknown_field", "amout", 0),
        ("amount.value > 1", "expr_unknown_field", "amount", 0),
        ("frobnicate(amount) > 1", "expr_unknown_function", "frobnicate", 0),
        ("account = :user.idd", "expr_unknown_parameter", ":user.idd", 10),
        ("account = :user", "expr_unknown_parameter", ":user", 10),
        # types
        ("title = 1", "expr_type_mismatch", "1", 8),
        ("title + 1 > 2", "expr_type_mismatch", "title", 0),
        ("amount and won", "expr_type_mismatch", "amount", 0),
        ("not title", "expr_type_mismatch", "title", 4),
        ("close_date < 3", "expr_type_mismatch", "3", 13),
        ("account.tags = 'a'", "expr_type_mismatch", "'a'", 15),
        ("title in :user.id", "expr_type_mismatch", ":user.id", 9),
        (
            "amount in :user.deal_room_accounts or title in :user.deal_room_accounts",
            "expr_type_mismatch",
            ":user.deal_room_accounts",
            47,
        ),
        ("upper(amount) = 'A'", "expr_type_mismatch", "amount", 6),
        ("won < true", "expr_type_mismatch", "won", 0),
        # literals
        ("close_date = '2026-13-45'", "expr_bad_literal", "'2026-13-45'", 13),
        ("close_date between '2026-01-01' and 'soon'", "expr_bad_literal", "'soon'", 36),
        ("round(amount, qty) > 1", "expr_bad_literal", "qty", 14),
        ("round(amount, 11) > 1", "expr_bad_literal", "11", 14),
        # arity
        ("lower(title, 'x') = 'a'", "expr_arity", "lower", 0),
        ("today(1) = close_date", "expr_arity", "today", 0),
        ("coalesce() = 1", "expr_arity", "coalesce", 0),
    ],
)
def test_check_invalid_expression_raises_code_token_position(source, code, token, position):
    error = error_of(source)
    assert (error.code, error.token, error.position) == (code, token, position), error.message


def test_unknown_field_message_names_field_object_and_position():
    error = error_of("account.regoin = 'x'")
    assert error.message == 'unknown field "regoin" on object "account" at position 8'
    assert error.to_details() == {
        "token": "regoin",
        "position": 8,
        "expression": "account.regoin = 'x'",
    }


def test_parse_too_long_expression_is_refused():
    with pytest.raises(ExprError) as caught:
        parse("amount > 1 and " * 300 + "won")
    assert caught.value.code == "expr_not_allowed"
    assert caught.value.position == 4000


def test_parse_deep_nesting_is_refused():
    with pytest.raises(ExprError) as caught:
        parse("(" * 200 + "1" + ")" * 200)
    assert caught.value.code == "expr_not_allowed"


def test_check_unknown_function_message_lists_known_functions():
    error = error_of("frobnicate(amount) > 1")
    assert error.message.startswith('unknown function "frobnicate" (known: abs, add_days,')


def test_check_alias_resolves_to_canonical_field():
    checked = check("account_id = 3", CATALOG, "opportunity")
    assert checked.paths == frozenset({("account",)})


def test_check_collects_paths_and_parameters():
    checked = check(
        "account.region = :user.region and amount > 1 and account in :user.deal_room_accounts",
        CATALOG,
        "opportunity",
        PARAMS,
    )
    assert checked.paths == frozenset({("account", "region"), ("amount",), ("account",)})
    assert checked.parameters == frozenset({"user.region", "user.deal_room_accounts"})
    assert checked.type.value == "boolean"


def test_check_date_text_literal_becomes_date():
    checked = check("close_date >= '2026-01-31'", CATALOG, "opportunity")
    assert checked.type.value == "boolean"


def test_check_null_is_compatible_with_any_type():
    checked = check("title = null or amount > null or close_date < null", CATALOG, "opportunity")
    assert checked.type.value == "boolean"


def test_check_without_params_refuses_parameters():
    with pytest.raises(ExprError) as caught:
        check("account = :user.id", CATALOG, "opportunity")
    assert caught.value.code == "expr_unknown_parameter"
