"""Every field type, one story each: good values round-trip, bad ones are refused by code.

The stories run on a ``specimen`` object that has one field of every type, in a workspace
shared by the module (each story counts what it adds, so they do not depend on each other).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from fixtures_fast import _open, persona

from dealcraft.errors import ValidationFailed
from dealcraft.schema import FIELD_TYPES

SPECIMEN = {
    "name": "specimen",
    "label": {"en": "Specimen", "zh-CN": "样本"},
    "fields": [
        {"name": "title", "type": "text", "required": True, "max_length": 40},
        {"name": "notes", "type": "long_text"},
        {"name": "quantity", "type": "number", "min": 0, "max": 1000},
        {"name": "seats", "type": "number", "integer": True},
        {"name": "budget", "type": "money"},
        {"name": "rate", "type": "percent"},
        {"name": "due", "type": "date"},
        {"name": "met_at", "type": "datetime"},
        {"name": "vip", "type": "boolean"},
        {
            "name": "stage",
            "type": "choice",
            "choices": [
                {"value": "open", "labels": {"en": "Open", "zh-CN": "进行中"}},
                {"value": "won", "labels": {"en": "Won", "zh-CN": "赢单"}},
            ],
        },
        {"name": "tags", "type": "multi_choice", "choices": ["hot", "cold", "strategic"]},
        {"name": "account", "type": "reference", "object": "account"},
        {"name": "owner", "type": "user"},
        {"name": "email", "type": "email"},
        {"name": "phone", "type": "phone"},
        {"name": "website", "type": "url"},
        {"name": "attachment", "type": "file"},
        {"name": "weighted", "type": "formula", "expression": "budget * rate / 100"},
        {
            "name": "note_points",
            "type": "rollup",
            "object": "specimen_note",
            "via": "specimen",
            "aggregate": "sum",
            "field": "points",
        },
    ],
}
SPECIMEN_NOTE = {
    "name": "specimen_note",
    "fields": [
        {"name": "text", "type": "text"},
        {"name": "points", "type": "number"},
        {"name": "specimen", "type": "reference", "object": "specimen"},
    ],
}


@pytest.fixture(scope="module")
def lab(_sqlite_template, tmp_path_factory):
    """A SQLite workspace with the specimen objects, an account and the personas."""
    import shutil

    base = tmp_path_factory.mktemp("lab")
    shutil.copyfile(_sqlite_template.source, base / "lab.db")
    ws = _open(base / "data", f"sqlite:///{base / 'lab.db'}")
    ws.schema.create_objects([SPECIMEN, SPECIMEN_NOTE])
    admin = persona(ws, "admin_ada")
    ws.lab_account = ws.records.create(admin, "account", {"name": "Shanghai Steel"})
    yield ws
    ws.close()


@pytest.fixture
def admin_ada(lab):
    return persona(lab, "admin_ada")


def _counts(ws) -> tuple[int, int, int]:
    """Rows of specimen, dc_history and dc_outbox: a refused write must change none of them."""
    with ws.engine.connect() as conn:
        return tuple(
            conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("obj_specimen", "dc_history", "dc_outbox")
        )


def test_specimen_covers_every_registered_field_type():
    # given the specimen used by these stories
    # then it has a field of each registered type, so a new type needs a story here
    types = {f["type"] for f in SPECIMEN["fields"]}
    assert types == set(FIELD_TYPES)


# --- valid values round-trip -----------------------------------------------------------------

ROUND_TRIPS = [
    ("text", {"title": "  Acme Ltd  "}, {"title": "Acme Ltd"}),
    ("text_from_number", {"title": 42}, {"title": "42"}),
    ("text_chinese", {"title": "上海钢铁集团"}, {"title": "上海钢铁集团"}),
    ("long_text", {"notes": "很长的记录" * 2000}, {"notes": "很长的记录" * 2000}),
    ("number", {"quantity": "12.5"}, {"quantity": 12.5}),
    ("number_thousands", {"quantity": "1,000"}, {"quantity": 1000}),
    ("number_integer", {"seats": "12"}, {"seats": 12}),
    ("number_zero", {"quantity": 0}, {"quantity": 0}),
    (
        "money_default_currency",
        {"budget": "¥1,200.456"},
        {"budget": 1200.46, "budget_currency": "CNY"},
    ),
    (
        "money_currency",
        {"budget": 10, "budget_currency": "USD"},
        {"budget": 10, "budget_currency": "USD"},
    ),
    ("percent", {"rate": "37.5%"}, {"rate": 37.5}),
    ("date_iso", {"due": "2024-05-01"}, {"due": "2024-05-01"}),
    ("date_slashes", {"due": "2024/05/01"}, {"due": "2024-05-01"}),
    ("date_from_datetime", {"due": "2024-05-01T10:30:00"}, {"due": "2024-05-01"}),
    (
        "datetime_offset",
        {"met_at": "2024-05-01T10:00:00+08:00"},
        {"met_at": "2024-05-01T02:00:00Z"},
    ),
    ("datetime_utc", {"met_at": "2024-05-01T02:00:00Z"}, {"met_at": "2024-05-01T02:00:00Z"}),
    ("boolean_true", {"vip": True}, {"vip": True}),
    ("boolean_chinese", {"vip": "是"}, {"vip": True}),
    ("boolean_zero", {"vip": 0}, {"vip": False}),
    ("choice_value", {"stage": "won"}, {"stage": "won"}),
    ("choice_label", {"stage": "赢单"}, {"stage": "won"}),
    ("multi_choice_list", {"tags": ["hot", "strategic", "hot"]}, {"tags": ["hot", "strategic"]}),
    ("multi_choice_text", {"tags": "cold；hot"}, {"tags": ["cold", "hot"]}),
    ("email", {"email": "li.wei@example.cn"}, {"email": "li.wei@example.cn"}),
    ("phone_mobile", {"phone": "13812341234"}, {"phone": "13812341234"}),
    ("phone_landline", {"phone": "+86 (21) 5555-1234"}, {"phone": "+86 (21) 5555-1234"}),
    (
        "url",
        {"website": "https://example.cn/about?x=1"},
        {"website": "https://example.cn/about?x=1"},
    ),
    (
        "file",
        {"attachment": "0f8fad5b-d9cb-469f-a165-70867728950e"},
        {"attachment": "0f8fad5b-d9cb-469f-a165-70867728950e"},
    ),
    ("formula", {"budget": 2000, "rate": 25}, {"weighted": 500}),
    ("blank_clears", {"notes": "", "quantity": None}, {"notes": None, "quantity": None}),
]


@pytest.mark.parametrize(
    ("story", "given", "expected"), ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS]
)
def test_create_specimen_with_valid_value_round_trips(lab, admin_ada, story, given, expected):
    # given a valid value for one field type
    data = {"title": "specimen", **given}

    # when admin_ada creates a record and reads it back
    created = lab.records.create(admin_ada, "specimen", data)
    fetched = lab.records.get(admin_ada, "specimen", created["id"])

    # then both answers hold the normalised value
    for key, value in expected.items():
        assert created[key] == value, key
        assert fetched[key] == value, key


def test_create_specimen_with_reference_and_user_stores_their_ids(lab, admin_ada):
    # given an account and a user
    account_id = lab.lab_account["id"]

    # when the references are given as a numeric string and as {"id": ...}
    created = lab.records.create(
        admin_ada,
        "specimen",
        {"title": "refs", "account": str(account_id), "owner": {"id": admin_ada.user_id}},
    )

    # then the record holds the referenced ids
    fetched = lab.records.get(admin_ada, "specimen", created["id"])
    assert (fetched["account"], fetched["owner"]) == (account_id, admin_ada.user_id)


def test_create_specimen_note_rolls_up_points_but_not_deleted_notes(lab, admin_ada):
    # given a specimen with three notes
    specimen = lab.records.create(admin_ada, "specimen", {"title": "rolled"})
    notes = [
        lab.records.create(admin_ada, "specimen_note", {"points": p, "specimen": specimen["id"]})
        for p in (3, 4, 10)
    ]

    # when one note is soft-deleted
    lab.records.delete(admin_ada, "specimen_note", notes[2]["id"])

    # then the roll-up sums only the notes that remain
    assert lab.records.get(admin_ada, "specimen", specimen["id"])["note_points"] == 7


def test_create_specimen_without_optional_values_reads_nulls_and_zero_rollup(lab, admin_ada):
    # when a record is created with only its required field
    created = lab.records.create(admin_ada, "specimen", {"title": "bare"})

    # then stored fields are null, the formula is null and the sum roll-up is 0
    assert created["budget"] is None and created["budget_currency"] is None
    assert created["tags"] is None and created["weighted"] is None
    assert created["note_points"] == 0


# --- invalid values are refused -------------------------------------------------------------

REFUSALS = [
    ("number_text", {"quantity": "lots"}, "quantity", "invalid_number"),
    ("number_bool", {"quantity": True}, "quantity", "invalid_number"),
    ("number_nan", {"quantity": "NaN"}, "quantity", "invalid_number"),
    ("number_list", {"quantity": [1]}, "quantity", "invalid_number"),
    ("number_below_min", {"quantity": -1}, "quantity", "number_too_small"),
    ("number_above_max", {"quantity": 1001}, "quantity", "number_too_large"),
    ("integer_fraction", {"seats": 1.5}, "seats", "invalid_integer"),
    ("money_text", {"budget": "a lot"}, "budget", "invalid_number"),
    (
        "money_currency_lowercase",
        {"budget": 5, "budget_currency": "usd"},
        "budget_currency",
        "invalid_currency",
    ),
    ("percent_text", {"rate": "high%"}, "rate", "invalid_number"),
    ("date_month_13", {"due": "2024-13-01"}, "due", "invalid_date"),
    ("date_trailing_garbage", {"due": "2024-05-01garbage"}, "due", "invalid_date"),
    ("date_number", {"due": 20240501}, "due", "invalid_date"),
    ("datetime_words", {"met_at": "yesterday"}, "met_at", "invalid_datetime"),
    ("datetime_number", {"met_at": 5}, "met_at", "invalid_datetime"),
    ("boolean_maybe", {"vip": "maybe"}, "vip", "invalid_boolean"),
    ("boolean_two", {"vip": 2}, "vip", "invalid_boolean"),
    ("choice_unknown", {"stage": "lost"}, "stage", "invalid_choice"),
    ("choice_number", {"stage": 3}, "stage", "invalid_choice"),
    ("multi_choice_unknown", {"tags": ["hot", "lukewarm"]}, "tags", "invalid_choice"),
    ("multi_choice_number", {"tags": 5}, "tags", "invalid_choice"),
    ("reference_missing", {"account": 999_999}, "account", "invalid_reference"),
    ("reference_text", {"account": "acme"}, "account", "invalid_reference"),
    ("reference_negative", {"account": -1}, "account", "invalid_reference"),
    ("reference_bool", {"account": True}, "account", "invalid_reference"),
    ("user_missing", {"owner": 999_999}, "owner", "invalid_reference"),
    ("email_no_at", {"email": "li.wei.example.cn"}, "email", "invalid_email"),
    ("email_no_domain", {"email": "li@wei"}, "email", "invalid_email"),
    ("phone_words", {"phone": "call me"}, "phone", "invalid_phone"),
    ("url_ftp", {"website": "ftp://example.cn"}, "website", "invalid_url"),
    ("url_bare", {"website": "example.cn"}, "website", "invalid_url"),
    ("file_not_an_id", {"attachment": "report.pdf"}, "attachment", "invalid_file"),
    ("text_too_long", {"title": "x" * 41}, "title", "text_too_long"),
    ("text_object", {"title": {"en": "x"}}, "title", "invalid_text"),
    ("required_blank", {"title": "   "}, "title", "required"),
    ("unknown_field", {"nickname": "x"}, "nickname", "unknown_field"),
    ("formula_written", {"weighted": 1}, "weighted", "read_only_field"),
    ("rollup_written", {"note_points": 1}, "note_points", "read_only_field"),
    (
        "system_column_written",
        {"created_at": "2024-01-01T00:00:00Z"},
        "created_at",
        "read_only_field",
    ),
    ("id_written", {"id": 7}, "id", "read_only_field"),
]


@pytest.mark.parametrize(
    ("story", "given", "field", "code"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_create_specimen_with_invalid_value_is_refused_and_changes_nothing(
    lab, admin_ada, story, given, field, code
):
    # given an invalid value for one field
    data = {"title": "specimen", **given}
    before = _counts(lab)

    # when admin_ada tries to create the record
    with pytest.raises(ValidationFailed) as refused:
        lab.records.create(admin_ada, "specimen", data)

    # then the error names the field and the rule, and nothing was written
    assert refused.value.code == code
    assert refused.value.details["field"] == field
    assert refused.value.status == 422
    assert _counts(lab) == before


def test_create_specimen_without_required_field_is_refused(lab, admin_ada):
    before = _counts(lab)

    # when the required title is left out
    with pytest.raises(ValidationFailed) as refused:
        lab.records.create(admin_ada, "specimen", {"notes": "no title"})

    # then it is refused as required and nothing changed
    assert (refused.value.code, refused.value.details["field"]) == ("required", "title")
    assert _counts(lab) == before


def test_create_specimen_with_several_bad_fields_reports_them_all(lab, admin_ada):
    before = _counts(lab)

    # when three fields are wrong at once
    with pytest.raises(ValidationFailed) as refused:
        lab.records.create(
            admin_ada, "specimen", {"title": "x", "email": "no", "vip": "maybe", "due": "soon"}
        )

    # then every one is reported with its own code
    errors = {e["field"]: e["code"] for e in refused.value.details["errors"]}
    assert errors == {"email": "invalid_email", "vip": "invalid_boolean", "due": "invalid_date"}
    assert _counts(lab) == before


def test_create_specimen_referring_to_deleted_account_is_refused(lab, admin_ada):
    # given an account that was soft-deleted
    gone = lab.records.create(admin_ada, "account", {"name": "Gone Ltd"})
    lab.records.delete(admin_ada, "account", gone["id"])
    before = _counts(lab)

    # when a specimen refers to it
    with pytest.raises(ValidationFailed) as refused:
        lab.records.create(admin_ada, "specimen", {"title": "x", "account": gone["id"]})

    # then the reference is refused and nothing was written
    assert (refused.value.code, refused.value.details["field"]) == ("invalid_reference", "account")
    assert _counts(lab) == before


def test_update_specimen_with_invalid_value_keeps_the_stored_one(lab, admin_ada):
    # given a specimen with a valid date
    created = lab.records.create(admin_ada, "specimen", {"title": "dated", "due": "2024-05-01"})
    before = _counts(lab)

    # when an update tries to store an impossible date
    with pytest.raises(ValidationFailed) as refused:
        lab.records.update(admin_ada, "specimen", created["id"], {"due": "2024-02-30"})

    # then the update is refused and the record is untouched
    assert refused.value.code == "invalid_date"
    after = lab.records.get(admin_ada, "specimen", created["id"])
    assert (after["due"], after["version"]) == ("2024-05-01", 1)
    assert _counts(lab) == before


def test_stored_values_have_native_column_types(lab, admin_ada):
    # given a specimen with a date, a date-time and a money amount
    created = lab.records.create(
        admin_ada,
        "specimen",
        {"title": "typed", "due": "2024-05-01", "met_at": "2024-05-01T10:00:00Z", "budget": 9.99},
    )

    # when the row is read through the view's table
    table = lab.registry.view().tables["specimen"]
    with lab.engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == created["id"])).mappings().one()

    # then the values are stored as dates, naive UTC date-times and two-decimal amounts
    assert row["due"] == date(2024, 5, 1)
    assert row["met_at"] == datetime(2024, 5, 1, 10, 0, 0)
    assert (row["budget"], row["budget_currency"]) == (9.99, "CNY")
