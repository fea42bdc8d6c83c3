"""Stories of the schema engine: objects and fields become real tables and columns at once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fixtures_fast import _open, persona

from dealcraft.errors import Conflict, NotFound, ValidationFailed
from dealcraft.schema.service import index_name

TENDER = {
    "name": "tender",
    "label": {"en": "Tender", "zh-CN": "招标"},
    "fields": [
        {"name": "title", "type": "text", "required": True},
        {"name": "account", "type": "reference", "object": "account"},
        {"name": "owner", "type": "user"},
        {"name": "stage", "type": "choice", "choices": ["open", "bid", "won", "lost"]},
        {"name": "deadline", "type": "date"},
        {"name": "opened_at", "type": "datetime"},
        {"name": "budget", "type": "money"},
        {"name": "tags", "type": "multi_choice", "choices": ["public", "private"]},
        {"name": "double_budget", "type": "formula", "expression": "budget * 2"},
    ],
}


def _inspect(ws, table: str):
    inspector = sa.inspect(ws.engine)
    columns = {c["name"] for c in inspector.get_columns(table)}
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes(table)}
    return columns, indexed


def _field_rows(ws, object_name: str) -> list[str]:
    with ws.engine.connect() as conn:
        return sorted(
            conn.execute(
                sa.text("SELECT name FROM dc_field WHERE object_name = :o"), {"o": object_name}
            ).scalars()
        )


def _schema_version(ws) -> int:
    with ws.engine.connect() as conn:
        return int(
            conn.execute(sa.text("SELECT value FROM dc_meta WHERE key = 'schema_version'")).scalar()
        )


@pytest.fixture
def admin_ada(crm):
    return persona(crm, "admin_ada")


# --- objects --------------------------------------------------------------------------------


def test_create_object_makes_its_table_columns_and_indexes_at_once(crm, admin_ada):
    # when an admin creates a tender object
    crm.schema.create_object(TENDER)

    # then the table exists with the system columns and one column per stored value
    columns, indexed = _inspect(crm, "obj_tender")
    assert columns == {
        "id",
        "version",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "deleted_at",
        "title",
        "account_id",
        "owner_id",
        "stage",
        "deadline",
        "opened_at",
        "budget",
        "budget_currency",
        "tags",
    }
    # and references, choices and dates are indexed
    assert {("account_id",), ("owner_id",), ("stage",), ("deadline",), ("opened_at",)} <= indexed

    # and a record can be written and read with no restart
    account = crm.records.create(admin_ada, "account", {"name": "Pudong Hospital"})
    tender = crm.records.create(
        admin_ada, "tender", {"title": "MRI", "account": account["id"], "budget": 100}
    )
    assert crm.records.get(admin_ada, "tender", tender["id"])["double_budget"] == 200


def test_create_objects_referring_to_each_other_succeeds(crm_sqlite):
    # when two objects that refer to each other are created together
    crm_sqlite.schema.create_objects(
        [
            {
                "name": "project",
                "fields": [{"name": "lead_task", "type": "reference", "object": "milestone"}],
            },
            {
                "name": "milestone",
                "fields": [{"name": "project", "type": "reference", "object": "project"}],
            },
        ]
    )

    # then both tables exist with their reference columns
    assert "lead_task_id" in _inspect(crm_sqlite, "obj_project")[0]
    assert "project_id" in _inspect(crm_sqlite, "obj_milestone")[0]


def test_create_objects_with_one_bad_field_creates_nothing(crm_sqlite):
    version = _schema_version(crm_sqlite)

    # when the second of two objects has a reference to a missing object
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.create_objects(
            [
                {"name": "site", "fields": [{"name": "name", "type": "text"}]},
                {
                    "name": "visit",
                    "fields": [{"name": "site", "type": "reference", "object": "nowhere"}],
                },
            ]
        )

    # then it is refused and neither table nor metadata exists
    assert refused.value.code == "unknown_object"
    assert refused.value.details["field"] == "site.object"
    tables = set(sa.inspect(crm_sqlite.engine).get_table_names())
    assert not {"obj_site", "obj_visit"} & tables
    assert _field_rows(crm_sqlite, "site") == []
    assert _schema_version(crm_sqlite) == version


def test_create_object_that_exists_is_refused(crm_sqlite):
    with pytest.raises(Conflict) as refused:
        crm_sqlite.schema.create_object({"name": "account"})
    assert (refused.value.code, refused.value.status) == ("object_exists", 409)
    assert refused.value.details == {"field": "name", "value": "account"}


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Tender", "invalid_name"),
        ("1tender", "invalid_name"),
        ("ten der", "invalid_name"),
        ("t" * 60, "invalid_name"),
        (None, "invalid_name"),
    ],
)
def test_create_object_with_bad_name_is_refused(crm_sqlite, name, code):
    tables = set(sa.inspect(crm_sqlite.engine).get_table_names())
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.create_object({"name": name})
    assert (refused.value.code, refused.value.details["field"]) == (code, "name")
    assert set(sa.inspect(crm_sqlite.engine).get_table_names()) == tables


def test_create_object_with_field_named_twice_is_refused(crm_sqlite):
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.create_object(
            {
                "name": "tender",
                "fields": [{"name": "a", "type": "text"}, {"name": "a", "type": "number"}],
            }
        )
    assert refused.value.code == "field_exists"
    assert "obj_tender" not in sa.inspect(crm_sqlite.engine).get_table_names()


# --- adding fields --------------------------------------------------------------------------


def test_add_field_makes_a_column_usable_at_once(crm, admin_ada):
    # given an account
    account = crm.records.create(admin_ada, "account", {"name": "Nanjing Power"})

    # when a money field and a date field are added
    crm.schema.add_field("account", {"name": "loyalty_cap", "type": "money", "currency": "USD"})
    crm.schema.add_field("account", {"name": "audited_on", "type": "date"})

    # then the columns and the date index exist
    columns, indexed = _inspect(crm, "obj_account")
    assert {"loyalty_cap", "loyalty_cap_currency", "audited_on"} <= columns
    assert ("audited_on",) in indexed

    # and the fields can be written, read and filtered on straight away
    crm.records.update(admin_ada, "account", account["id"], {"loyalty_cap": 5000})
    page = crm.records.list(admin_ada, "account", where="loyalty_cap > 1000")
    assert [(r["id"], r["loyalty_cap_currency"]) for r in page.data] == [(account["id"], "USD")]


def test_add_field_is_seen_by_another_process_after_its_refresh(crm_url, tmp_path):
    # given two workspaces on one database, the second checking the schema every time
    first = _open(tmp_path / "a", crm_url)
    second = _open(tmp_path / "b", crm_url, refresh_seconds=0)
    try:
        assert second.registry.view().objects["account"].field("tier") is None

        # when the first adds a field
        first.schema.add_field("account", {"name": "tier", "type": "number"})

        # then the second can filter on it without restarting
        page = second.records.list(persona(second, "director_east"), "account", where="tier > 1")
        assert page.data == []
        assert second.registry.view().objects["account"].field("tier") is not None
    finally:
        first.close()
        second.close()


def test_add_field_that_exists_is_refused(crm_sqlite):
    version = _schema_version(crm_sqlite)
    with pytest.raises(Conflict) as refused:
        crm_sqlite.schema.add_field("account", {"name": "name", "type": "text"})
    assert (refused.value.code, refused.value.status) == ("field_exists", 409)
    assert refused.value.details["field"] == "name"
    assert _schema_version(crm_sqlite) == version


def test_add_field_whose_column_clashes_with_a_money_currency_is_refused(crm_sqlite):
    # given opportunity.amount stores its currency in amount_currency
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.add_field("opportunity", {"name": "amount_currency", "type": "text"})

    # then a field of that name is refused and no column is made
    assert refused.value.code == "field_exists"
    assert _inspect(crm_sqlite, "obj_opportunity")[0] >= {"amount_currency"}
    assert "amount_currency" not in _field_rows(crm_sqlite, "opportunity")


@pytest.mark.parametrize(
    ("spec", "field", "code"),
    [
        ({"name": "id", "type": "text"}, "name", "reserved_name"),
        ({"name": "deleted_at", "type": "date"}, "name", "reserved_name"),
        ({"name": "Tier", "type": "text"}, "name", "invalid_name"),
        ({"name": "x" * 55, "type": "text"}, "name", "invalid_name"),
        ({"name": "tier", "type": "rating"}, "type", "unknown_field_type"),
        ({"name": "tier", "type": "text", "max_length": 0}, "tier.max_length", "invalid_option"),
        ({"name": "tier", "type": "choice", "choices": []}, "tier.choices", "invalid_option"),
        (
            {"name": "tier", "type": "choice", "choices": ["a", "a"]},
            "tier.choices[1].value",
            "duplicate_choice",
        ),
        ({"name": "tier", "type": "money", "currency": "yuan"}, "tier.currency", "invalid_option"),
        (
            {"name": "tier", "type": "reference", "object": "planet"},
            "tier.object",
            "unknown_object",
        ),
        ({"name": "tier", "type": "formula"}, "tier.expression", "invalid_option"),
    ],
)
def test_add_field_with_bad_definition_is_refused_and_changes_nothing(
    crm_sqlite, spec, field, code
):
    columns = _inspect(crm_sqlite, "obj_account")[0]
    version = _schema_version(crm_sqlite)

    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.add_field("account", spec)

    assert (refused.value.code, refused.value.details["field"]) == (code, field)
    assert _inspect(crm_sqlite, "obj_account")[0] == columns
    assert _schema_version(crm_sqlite) == version


def test_add_field_to_missing_object_is_refused(crm_sqlite):
    with pytest.raises(NotFound) as refused:
        crm_sqlite.schema.add_field("planet", {"name": "mass", "type": "number"})
    assert (refused.value.code, refused.value.status) == ("object_not_found", 404)


def test_index_names_of_long_columns_stay_distinct_and_short():
    # given two long column names that share their first 60 characters
    a = index_name("obj_" + "p" * 40, "c" * 40 + "_first")
    b = index_name("obj_" + "p" * 40, "c" * 40 + "_second")

    # then their index names differ and fit PostgreSQL's 63 bytes
    assert a != b and len(a) <= 63 and len(b) <= 63


# --- formulas -------------------------------------------------------------------------------


def test_add_formula_with_type_error_is_refused(crm_sqlite):
    # when a formula adds a number to a name
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.add_field(
            "account", {"name": "bad", "type": "formula", "expression": "name + 1"}
        )

    # then it is refused at save time, naming the offending token
    assert refused.value.code == "expr_type_mismatch"
    assert refused.value.details["field"] == "bad.expression"
    assert refused.value.details["errors"][0]["value"] == "name"
    assert "bad" not in _field_rows(crm_sqlite, "account")


def test_add_formula_reading_unknown_field_is_refused(crm_sqlite):
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.add_field(
            "account", {"name": "bad", "type": "formula", "expression": "revenue * 2"}
        )
    assert refused.value.code == "expr_unknown_field"
    assert "bad" not in _field_rows(crm_sqlite, "account")


def test_update_formula_into_a_cycle_is_refused(crm_sqlite):
    # given formula a reads amount and formula b reads a
    schema = crm_sqlite.schema
    schema.add_field("opportunity", {"name": "a", "type": "formula", "expression": "amount + 1"})
    schema.add_field("opportunity", {"name": "b", "type": "formula", "expression": "a + 1"})

    # when a is changed to read b
    with pytest.raises(ValidationFailed) as refused:
        schema.update_field("opportunity", "a", {"expression": "b + 1"})

    # then the cycle a -> b -> a is refused and a keeps its expression
    assert refused.value.code == "computed_cycle"
    assert refused.value.details["field"] == "a.expression"
    a = crm_sqlite.registry.view().objects["opportunity"].field("a")
    assert a.options["expression"] == "amount + 1"


def test_update_formula_reading_itself_is_refused(crm_sqlite):
    crm_sqlite.schema.add_field(
        "opportunity", {"name": "a", "type": "formula", "expression": "amount + 1"}
    )
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.update_field("opportunity", "a", {"expression": "a + 1"})
    assert refused.value.code == "computed_cycle"


def test_update_rollup_into_a_cycle_across_objects_is_refused(crm_sqlite):
    # given account.total sums opportunity.amount, and opportunity.share reads account.total
    schema = crm_sqlite.schema
    schema.add_field(
        "account",
        {
            "name": "total",
            "type": "rollup",
            "object": "opportunity",
            "via": "account",
            "aggregate": "sum",
            "field": "amount",
        },
    )
    schema.add_field(
        "opportunity",
        {"name": "share", "type": "formula", "expression": "amount / account.total"},
    )

    # when account.total is changed to sum opportunity.share
    with pytest.raises(ValidationFailed) as refused:
        schema.update_field("account", "total", {"field": "share"})

    # then the cycle through the reference is refused
    assert refused.value.code == "computed_cycle"
    total = crm_sqlite.registry.view().objects["account"].field("total")
    assert total.options["field"] == "amount"


def test_formula_through_a_reference_reads_the_referenced_record(crm):
    # given a contact at an account in East China
    admin = persona(crm, "admin_ada")
    crm.schema.add_field(
        "contact", {"name": "account_region", "type": "formula", "expression": "account.region"}
    )
    account = crm.records.create(admin, "account", {"name": "Hangzhou Bio", "region": "华东"})
    contact = crm.records.create(admin, "contact", {"name": "Li Wei", "account": account["id"]})

    # then the formula reads through the reference, and can be filtered on
    assert crm.records.get(admin, "contact", contact["id"])["account_region"] == "华东"
    page = crm.records.list(admin, "contact", where="account_region = '华东'")
    assert [r["id"] for r in page.data] == [contact["id"]]


# --- roll-ups -------------------------------------------------------------------------------


def test_rollup_sums_open_opportunities_and_ignores_deleted_ones(crm):
    # given an account with an open, a won and a deleted open opportunity
    admin = persona(crm, "admin_ada")
    account = crm.records.create(admin, "account", {"name": "Wuhan Motors"})
    make = lambda **v: crm.records.create(  # noqa: E731
        admin, "opportunity", {"name": "deal", "account": account["id"], **v}
    )
    make(amount=1000, stage="proposal")
    make(amount=5000, stage="won")
    deleted = make(amount=700, stage="negotiation")
    crm.records.delete(admin, "opportunity", deleted["id"])
    crm.records.create(admin, "contact", {"name": "Zhang San", "account": account["id"]})

    # when the account is read and filtered by its roll-ups
    record = crm.records.get(admin, "account", account["id"])
    page = crm.records.list(admin, "account", where="open_pipeline > 900 and contact_count = 1")

    # then only the open, live opportunity counts
    assert (record["open_pipeline"], record["contact_count"]) == (1000, 1)
    assert [r["id"] for r in page.data] == [account["id"]]


@pytest.mark.parametrize(
    ("options", "field", "code"),
    [
        ({"object": "planet", "via": "account"}, "r.object", "unknown_object"),
        ({"object": "opportunity", "via": "name"}, "r.via", "invalid_option"),
        ({"object": "opportunity", "via": "owner"}, "r.via", "invalid_option"),
        (
            {"object": "opportunity", "via": "account", "aggregate": "median", "field": "amount"},
            "r.aggregate",
            "invalid_option",
        ),
        (
            {"object": "opportunity", "via": "account", "aggregate": "sum", "field": "name"},
            "r.field",
            "expr_type_mismatch",
        ),
        (
            {"object": "opportunity", "via": "account", "aggregate": "sum", "field": "size"},
            "r.field",
            "unknown_field",
        ),
        (
            {"object": "opportunity", "via": "account", "where": "amount"},
            "r.where",
            "expr_type_mismatch",
        ),
        (
            {"object": "opportunity", "via": "account", "where": "stage = "},
            "r.where",
            "expr_syntax",
        ),
    ],
)
def test_add_rollup_with_bad_options_is_refused(crm_sqlite, options, field, code):
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.add_field("account", {"name": "r", "type": "rollup", **options})
    assert (refused.value.code, refused.value.details["field"]) == (code, field)
    assert "r" not in _field_rows(crm_sqlite, "account")


# --- archiving and restoring ----------------------------------------------------------------


def test_archive_field_hides_it_keeps_its_data_and_restore_brings_it_back(crm):
    # given an account with a website
    admin = persona(crm, "admin_ada")
    account = crm.records.create(
        admin, "account", {"name": "Xi'an Aero", "website": "https://xa.example.cn"}
    )

    # when the website field is archived
    crm.schema.archive_field("account", "website")

    # then it is gone from reads, writes and filters, but the column and value remain
    assert "website" not in crm.records.get(admin, "account", account["id"])
    with pytest.raises(ValidationFailed) as refused:
        crm.records.update(admin, "account", account["id"], {"website": "https://new.cn"})
    assert refused.value.code == "unknown_field"
    with pytest.raises(Exception) as bad_filter:
        crm.records.list(admin, "account", where="website is null")
    assert bad_filter.value.code == "expr_unknown_field"
    assert "website" in _inspect(crm, "obj_account")[0]

    # when it is restored, the value is back
    crm.schema.restore_field("account", "website")
    assert crm.records.get(admin, "account", account["id"])["website"] == "https://xa.example.cn"


def test_archive_field_used_by_a_formula_is_refused(crm_sqlite):
    # given opportunity.weighted_amount reads amount and probability
    with pytest.raises(Conflict) as refused:
        crm_sqlite.schema.archive_field("opportunity", "probability")

    # then archiving probability is refused, naming who uses it, and it stays active
    assert (refused.value.code, refused.value.status) == ("field_in_use", 409)
    assert refused.value.details["used_by"] == ["opportunity.weighted_amount"]
    assert crm_sqlite.registry.view().objects["opportunity"].field("probability") is not None


def test_archive_field_used_as_rollup_link_is_refused(crm_sqlite):
    with pytest.raises(Conflict) as refused:
        crm_sqlite.schema.archive_field("contact", "account")
    assert refused.value.code == "field_in_use"
    assert "account.contact_count" in refused.value.details["used_by"]


def test_restore_formula_whose_input_was_archived_is_refused(crm_sqlite):
    # given the weighted amount was archived, then the probability it reads
    schema = crm_sqlite.schema
    schema.archive_field("opportunity", "weighted_amount")
    schema.archive_field("opportunity", "probability")

    # when the formula is restored
    with pytest.raises(ValidationFailed) as refused:
        schema.restore_field("opportunity", "weighted_amount")

    # then it is refused, and opportunities can still be listed
    assert refused.value.code == "expr_unknown_field"
    view = crm_sqlite.registry.view()
    assert view.objects["opportunity"].field("weighted_amount") is None
    admin = persona(crm_sqlite, "admin_ada")
    assert crm_sqlite.records.list(admin, "opportunity").data == []


def test_restore_field_that_is_not_archived_is_refused(crm_sqlite):
    with pytest.raises(NotFound) as refused:
        crm_sqlite.schema.restore_field("account", "name")
    assert (refused.value.code, refused.value.details) == ("field_not_found", {"field": "name"})


def test_add_field_with_name_of_archived_field_is_refused(crm_sqlite):
    crm_sqlite.schema.archive_field("account", "address")
    with pytest.raises(Conflict) as refused:
        crm_sqlite.schema.add_field("account", {"name": "address", "type": "long_text"})
    assert refused.value.code == "field_exists"
    assert "restore it" in refused.value.message


# --- changing fields ------------------------------------------------------------------------


def test_update_field_adds_a_choice_that_can_be_used_at_once(crm_sqlite):
    admin = persona(crm_sqlite, "admin_ada")
    choices = crm_sqlite.registry.view().objects["account"].field("industry").options["choices"]

    # when a new industry is added to the choices
    crm_sqlite.schema.update_field(
        "account", "industry", {"choices": [*choices, {"value": "mining", "label": "Mining"}]}
    )

    # then it is accepted on a record
    record = crm_sqlite.records.create(admin, "account", {"name": "Ordos", "industry": "Mining"})
    assert record["industry"] == "mining"


def test_update_field_with_nested_options_changes_them(crm_sqlite):
    crm_sqlite.schema.update_field("lead", "source", {"options": {"choices": ["web", "event"]}})
    f = crm_sqlite.registry.view().objects["lead"].field("source")
    assert [c["value"] for c in f.options["choices"]] == ["web", "event"]
    assert "options" not in f.options


def test_update_field_raising_max_length_accepts_longer_text(crm):
    # given account.address holds at most 255 characters
    admin = persona(crm, "admin_ada")

    # when its max_length is raised to 1000
    crm.schema.update_field("account", "address", {"max_length": 1000})

    # then a 600-character address is stored on every backend
    record = crm.records.create(admin, "account", {"name": "Long St", "address": "路" * 600})
    assert crm.records.get(admin, "account", record["id"])["address"] == "路" * 600


@pytest.mark.parametrize(
    ("object_name", "field_name", "changes", "code"),
    [
        ("account", "name", {"type": "long_text"}, "type_change_refused"),
        ("account", "name", {"name": "title"}, "rename_refused"),
        ("contact", "account", {"object": "opportunity"}, "option_change_refused"),
        ("account", "employee_count", {"integer": False}, "option_change_refused"),
    ],
)
def test_update_field_changing_what_stored_values_mean_is_refused(
    crm_sqlite, object_name, field_name, changes, code
):
    before = crm_sqlite.registry.view().objects[object_name].field(field_name)
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.update_field(object_name, field_name, changes)
    assert refused.value.code == code
    assert crm_sqlite.registry.view().objects[object_name].field(field_name) == before


def test_update_field_label_keeps_languages(crm_sqlite):
    f = crm_sqlite.schema.update_field(
        "account", "name", {"label": {"en": "Company", "zh-CN": "公司名称"}}
    )
    assert f.label("zh-CN") == "公司名称" and f.label("en") == "Company"
    stored = crm_sqlite.registry.view().objects["account"].field("name")
    assert stored.labels == {"en": "Company", "zh-CN": "公司名称"}
