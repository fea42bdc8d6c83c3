"""Stories of the record page layout, field order and choice edits in the schema service."""

from __future__ import annotations

import pytest
from fixtures_fast import persona

from dealcraft.errors import Conflict, ValidationFailed

TWO_SECTIONS = {
    "sections": [
        {
            "key": "deal",
            "labels": {"en": "Deal", "zh-CN": "交易"},
            "fields": ["name", "stage", "amount"],
        },
        {
            "key": "dates",
            "labels": {"en": "Dates", "zh-CN": "日期"},
            "fields": ["close_date", "account"],
        },
    ]
}


def _positions(ws, object_name: str) -> list[str]:
    obj = ws.registry.view().objects[object_name]
    return [f.name for f in sorted(obj.active_fields, key=lambda f: f.position)]


def _stage_choices(ws) -> list[dict]:
    return ws.registry.view().objects["opportunity"].field("stage").options["choices"]


# Layout --------------------------------------------------------------------------------------
def test_layout_of_object_without_one_is_a_single_details_section(crm_sqlite):
    layout = crm_sqlite.schema.layout("opportunity")

    assert not layout.saved
    assert [s.key for s in layout.sections] == ["details"]
    assert list(layout.sections[0].fields) == _positions(crm_sqlite, "opportunity")
    assert layout.sections[0].label("zh-CN") == "详细信息"


def test_save_layout_with_two_sections_keeps_their_order(crm_sqlite):
    # when admin_ada saves a layout of two sections
    layout = crm_sqlite.schema.save_layout("opportunity", TWO_SECTIONS)

    # then the sections come back in order, with the fields in the order given
    assert [s.key for s in layout.sections] == ["deal", "dates"]
    assert layout.sections[0].fields[:3] == ("name", "stage", "amount")
    assert layout.sections[0].label("zh-CN") == "交易"
    # and the fields the layout left out follow in the last section
    assert layout.sections[1].fields[:2] == ("close_date", "account")
    assert "owner" in layout.sections[1].fields
    # and the field order of lists and forms is the layout's
    assert _positions(crm_sqlite, "opportunity")[:5] == [
        "name",
        "stage",
        "amount",
        "close_date",
        "account",
    ]


def test_field_added_after_a_layout_joins_the_last_section(crm_sqlite):
    crm_sqlite.schema.save_layout("opportunity", TWO_SECTIONS)

    crm_sqlite.schema.add_field("opportunity", {"name": "tender_no", "type": "text"})

    layout = crm_sqlite.schema.layout("opportunity")
    assert [s.key for s in layout.sections] == ["deal", "dates"]
    assert layout.sections[-1].fields[-1] == "tender_no"


@pytest.mark.parametrize(
    ("sections", "code", "where"),
    [
        ([{"key": "a", "fields": ["name", "no_such"]}], "unknown_field", "sections[0].fields[1]"),
        (
            [{"key": "a", "fields": ["name"]}, {"key": "b", "fields": ["name"]}],
            "field_placed_twice",
            "sections[1].fields[0]",
        ),
        ([{"key": "a", "fields": []}], "empty_section", "sections[0].fields"),
        (
            [{"key": "a", "fields": ["name"]}, {"key": "a", "fields": ["stage"]}],
            "duplicate_section",
            "sections[1].key",
        ),
        ([{"key": "Bad Key", "fields": ["name"]}], "invalid_name", "sections[0].key"),
    ],
)
def test_save_layout_refuses_a_bad_layout_and_changes_nothing(crm_sqlite, sections, code, where):
    before = _positions(crm_sqlite, "opportunity")

    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.save_layout("opportunity", {"sections": sections})

    error = refused.value.details["errors"][0]
    assert (error["code"], error["field"]) == (code, where)
    assert _positions(crm_sqlite, "opportunity") == before
    assert not crm_sqlite.schema.layout("opportunity").saved


def test_save_layout_hides_a_related_list_and_shows_it_again(crm_sqlite):
    # given the account page lists contacts through contact.account
    keys = {r.key: r.shown for r in crm_sqlite.schema.layout("account").related_lists}
    assert keys["contact.account"] is True

    # when the layout shows only the opportunities
    sections = [{"key": "main", "fields": ["name"]}]
    layout = crm_sqlite.schema.save_layout(
        "account", {"sections": sections, "related_lists": ["opportunity.account"]}
    )

    # then contacts are hidden, opportunities shown, and the choice is kept on the field
    shown = {r.key: r.shown for r in layout.related_lists}
    assert shown["contact.account"] is False
    assert shown["opportunity.account"] is True
    field = crm_sqlite.registry.view().objects["contact"].field("account")
    assert field.options["related_list"] is False

    # when every list is shown again, the option is gone
    all_keys = list(shown)
    crm_sqlite.schema.save_layout("account", {"sections": sections, "related_lists": all_keys})
    assert (
        "related_list" not in crm_sqlite.registry.view().objects["contact"].field("account").options
    )


def test_save_layout_refuses_an_unknown_related_list(crm_sqlite):
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.save_layout(
            "account",
            {"sections": [{"key": "main", "fields": ["name"]}], "related_lists": ["planet.x"]},
        )
    assert refused.value.details["errors"][0]["code"] == "unknown_related_list"


def test_update_field_refuses_a_layout_option(crm_sqlite):
    with pytest.raises(ValidationFailed) as refused:
        crm_sqlite.schema.update_field("opportunity", "name", {"section": {"key": "x"}})
    assert refused.value.details["errors"][0]["code"] == "layout_option"


def test_update_field_sent_back_unchanged_keeps_its_section(crm_sqlite):
    # given a saved layout, and a field as the API shows it (its section among its options)
    crm_sqlite.schema.save_layout("opportunity", TWO_SECTIONS)
    amount = crm_sqlite.registry.view().objects["opportunity"].field("amount")

    # when it is sent back with a new label only
    crm_sqlite.schema.update_field(
        "opportunity", "amount", {**amount.options, "label": "Deal value"}
    )

    # then the label changed and the field is still in its section
    layout = crm_sqlite.schema.layout("opportunity")
    assert "amount" in layout.sections[0].fields
    assert crm_sqlite.registry.view().objects["opportunity"].field("amount").label() == (
        "Deal value"
    )


# Field order ---------------------------------------------------------------------------------
def test_reorder_fields_puts_the_named_fields_first(crm_sqlite):
    before = _positions(crm_sqlite, "opportunity")

    crm_sqlite.schema.reorder_fields("opportunity", ["amount", "name"])

    after = _positions(crm_sqlite, "opportunity")
    assert after[:2] == ["amount", "name"]
    assert after[2:] == [n for n in before if n not in ("amount", "name")]


def test_reorder_fields_refuses_an_unknown_field(crm_sqlite):
    before = _positions(crm_sqlite, "opportunity")
    with pytest.raises(Exception) as refused:
        crm_sqlite.schema.reorder_fields("opportunity", ["amount", "colour"])
    assert refused.value.code == "field_not_found"
    assert _positions(crm_sqlite, "opportunity") == before


# Choices and stages --------------------------------------------------------------------------
def test_update_stage_adds_renames_and_reorders_choices(crm_sqlite):
    choices = _stage_choices(crm_sqlite)
    renamed = [
        {**c, "labels": {"en": "Discovery", "zh-CN": "需求发现"}}
        if c["value"] == "prospecting"
        else c
        for c in choices
    ]
    tender = {"value": "tender", "labels": {"en": "Tender", "zh-CN": "招投标"}, "color": "teal"}

    crm_sqlite.schema.update_field(
        "opportunity", "stage", {"choices": [renamed[0], tender, *renamed[1:]]}
    )

    after = _stage_choices(crm_sqlite)
    assert [c["value"] for c in after][:2] == ["prospecting", "tender"]
    assert after[0]["labels"]["zh-CN"] == "需求发现"
    assert after[1]["color"] == "teal"


def test_update_stage_refuses_removing_a_stage_records_use_with_the_count(crm):
    # given two live opportunities in negotiation and one deleted
    director = persona(crm, "director_east")
    for name in ("A", "B", "C"):
        crm.records.create(director, "opportunity", {"name": name, "stage": "negotiation"})
    gone = crm.records.list(director, "opportunity", where="name = 'C'").data[0]
    crm.records.delete(director, "opportunity", gone["id"], expected_version=gone["version"])
    choices = _stage_choices(crm)

    # when admin_ada removes the negotiation stage
    with pytest.raises(Conflict) as refused:
        crm.schema.update_field(
            "opportunity",
            "stage",
            {"choices": [c for c in choices if c["value"] != "negotiation"]},
        )

    # then it is refused with the number of live records using it, and nothing changed
    assert refused.value.code == "choice_in_use"
    assert refused.value.status == 409
    assert refused.value.details == {"field": "stage", "value": "negotiation", "count": 2}
    assert "2 record(s) use the choice 'negotiation'" in refused.value.message
    assert _stage_choices(crm) == choices


def test_update_stage_removes_a_stage_no_record_uses(crm_sqlite):
    choices = _stage_choices(crm_sqlite)
    crm_sqlite.schema.update_field(
        "opportunity", "stage", {"choices": [c for c in choices if c["value"] != "negotiation"]}
    )
    assert "negotiation" not in [c["value"] for c in _stage_choices(crm_sqlite)]


def test_update_multi_choice_refuses_removing_a_value_in_use(crm_sqlite):
    director = persona(crm_sqlite, "director_east")
    f = crm_sqlite.registry.view().objects["opportunity"].field("competitors")
    used = f.options["choices"][0]["value"]
    crm_sqlite.records.create(director, "opportunity", {"name": "X", "competitors": [used]})

    with pytest.raises(Conflict) as refused:
        crm_sqlite.schema.update_field(
            "opportunity", "competitors", {"choices": f.options["choices"][1:]}
        )

    assert refused.value.details == {"field": "competitors", "value": used, "count": 1}
