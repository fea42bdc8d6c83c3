"""The schema endpoints that edit what exists: field labels and choices, order, page layout."""

from __future__ import annotations

import pytest
from fixtures_fast import persona, signed_in_client

FIELDS = "/api/v1/schema/objects/opportunity/fields"


@pytest.fixture
def api(crm_sqlite):
    with signed_in_client(crm_sqlite, "admin_ada") as c:
        yield c


def error_of(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert set(answer.json()["error"]) == {"code", "message", "details"}
    return answer.json()["error"]


def _field_names(api) -> list[str]:
    return [f["name"] for f in api.get("/api/v1/schema/objects/opportunity").json()["fields"]]


def test_patch_field_labels_answers_in_the_callers_language(api):
    answer = api.patch(
        f"{FIELDS}/close_date",
        json={"labels": {"en": "Expected close", "zh-CN": "预计签约"}, "required": True},
    )
    assert answer.status_code == 200
    assert (answer.json()["label"], answer.json()["required"]) == ("Expected close", True)
    zh = api.get("/api/v1/schema/objects/opportunity", headers={"Accept-Language": "zh-CN"})
    field = next(f for f in zh.json()["fields"] if f["name"] == "close_date")
    assert field["label"] == "预计签约"


def test_patch_stage_adds_a_stage_usable_at_once(api):
    stage = next(
        f
        for f in api.get("/api/v1/schema/objects/opportunity").json()["fields"]
        if f["name"] == "stage"
    )
    tender = {"value": "tender", "labels": {"en": "Tender", "zh-CN": "招投标"}}

    answer = api.patch(f"{FIELDS}/stage", json={"choices": [*stage["choices"], tender]})

    assert answer.status_code == 200
    assert answer.json()["choices"][-1]["value"] == "tender"
    created = api.post("/api/v1/records/opportunity", json={"name": "Bid", "stage": "招投标"})
    assert created.status_code == 201 and created.json()["stage"] == "tender"


def test_patch_stage_removing_a_used_stage_answers_409_with_the_count(api, crm_sqlite):
    director = persona(crm_sqlite, "director_east")
    crm_sqlite.records.create(director, "opportunity", {"name": "Deal", "stage": "proposal"})
    stage = crm_sqlite.registry.view().objects["opportunity"].field("stage")
    kept = [c for c in stage.options["choices"] if c["value"] != "proposal"]

    error = error_of(api.patch(f"{FIELDS}/stage", json={"choices": kept}), 409)

    assert error["code"] == "choice_in_use"
    assert error["details"] == {"field": "stage", "value": "proposal", "count": 1}
    assert "1 record(s) use the choice 'proposal'" in error["message"]


def test_put_field_order_puts_fields_first(api):
    answer = api.put(
        "/api/v1/schema/objects/opportunity/field-order", json={"fields": ["amount", "name"]}
    )
    assert answer.status_code == 200
    assert [f["name"] for f in answer.json()["fields"]][:2] == ["amount", "name"]
    assert _field_names(api)[:2] == ["amount", "name"]


def test_put_field_order_with_a_bad_body_answers_422(api):
    before = _field_names(api)
    error = error_of(
        api.put("/api/v1/schema/objects/opportunity/field-order", json={"fields": "amount"}), 422
    )
    assert (error["code"], error["details"]["field"]) == ("invalid_order", "fields")
    assert _field_names(api) == before


def test_put_layout_then_get_it_back_in_order(api):
    layout = {
        "sections": [
            {"key": "deal", "labels": {"en": "Deal", "zh-CN": "交易"}, "fields": ["name"]},
            {"key": "money", "label": "Money", "fields": ["amount", "probability"]},
        ],
        "related_lists": ["contract.opportunity"],
    }
    saved = api.put("/api/v1/schema/objects/opportunity/layout", json=layout)
    assert saved.status_code == 200

    answer = api.get(
        "/api/v1/schema/objects/opportunity/layout", headers={"Accept-Language": "zh-CN"}
    ).json()
    assert [s["key"] for s in answer["sections"]] == ["deal", "money"]
    assert answer["sections"][0]["label"] == "交易"
    assert answer["sections"][1]["fields"][:2] == ["amount", "probability"]
    shown = {r["key"]: r["shown"] for r in answer["related_lists"]}
    assert shown["contract.opportunity"] is True
    assert shown["activity.opportunity"] is False


def test_put_layout_placing_a_field_twice_answers_422_naming_the_place(api):
    layout = {"sections": [{"key": "a", "fields": ["name", "name"]}]}
    error = error_of(api.put("/api/v1/schema/objects/opportunity/layout", json=layout), 422)
    assert error["details"]["errors"][0]["code"] == "field_placed_twice"
    assert error["details"]["errors"][0]["field"] == "sections[0].fields[1]"


def test_put_layout_by_a_sales_rep_is_forbidden(crm_sqlite):
    with signed_in_client(crm_sqlite, "rep_east") as rep:
        layout = {"sections": [{"key": "a", "fields": ["name"]}]}
        error = error_of(rep.put("/api/v1/schema/objects/account/layout", json=layout), 403)
        assert error["code"] == "schema_admin_required"
        assert rep.get("/api/v1/schema/objects/account/layout").json()["sections"][0]["key"] == (
            "details"
        )


def test_get_layout_of_a_missing_object_answers_404(api):
    error = error_of(api.get("/api/v1/schema/objects/planet/layout"), 404)
    assert error["code"] == "object_not_found"
