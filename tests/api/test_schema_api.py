"""The schema endpoints: read objects, create objects, add and archive fields."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fixtures_fast import signed_in_client


@pytest.fixture
def api(crm_sqlite):
    with signed_in_client(crm_sqlite, "admin_ada") as c:
        yield c


def error_of(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert set(answer.json()["error"]) == {"code", "message", "details"}
    return answer.json()["error"]


def test_get_objects_lists_every_core_object_with_fields(api):
    objects = {o["name"]: o for o in api.get("/api/v1/schema/objects").json()["data"]}
    assert {"account", "contact", "opportunity", "user"} <= set(objects)
    fields = {f["name"]: f for f in objects["opportunity"]["fields"]}
    assert fields["amount"]["type"] == "money"
    assert fields["stage"]["choices"][0]["value"] == "prospecting"


def test_get_object_answers_in_the_callers_language(api):
    answer = api.get("/api/v1/schema/objects/account", headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 200
    assert answer.json()["label"] == "客户"
    assert next(f for f in answer.json()["fields"] if f["name"] == "name")["label"] == "客户名称"


def test_get_missing_object_answers_404(api):
    error = error_of(api.get("/api/v1/schema/objects/planet"), 404)
    assert (error["code"], error["details"]) == ("object_not_found", {"object": "planet"})


def test_post_object_makes_a_table_usable_at_once(api, crm_sqlite):
    # when admin_ada creates a tender object over the API
    answer = api.post(
        "/api/v1/schema/objects",
        json={
            "name": "tender",
            "label": {"en": "Tender", "zh-CN": "招标"},
            "fields": [
                {"name": "title", "type": "text", "required": True},
                {"name": "deadline", "type": "date"},
            ],
        },
    )

    # then it answers 201 with the object, and records can be posted straight away
    assert answer.status_code == 201
    assert answer.headers["Location"] == "/api/v1/schema/objects/tender"
    assert [f["name"] for f in answer.json()["fields"]] == ["title", "deadline"]
    assert "obj_tender" in sa.inspect(crm_sqlite.engine).get_table_names()
    created = api.post("/api/v1/records/tender", json={"title": "MRI", "deadline": "2025-01-31"})
    assert created.status_code == 201 and created.json()["deadline"] == "2025-01-31"


def test_post_field_is_usable_in_where_at_once_on_both_backends(crm):
    # given admin_ada's client and an account
    with signed_in_client(crm, "admin_ada") as api:
        account = api.post("/api/v1/records/account", json={"name": "Qingdao Port"}).json()

        # when she adds a number field and sets it
        added = api.post(
            "/api/v1/schema/objects/account/fields",
            json={"name": "berths", "type": "number", "label": "Berths", "integer": True},
        )
        assert added.status_code == 201 and added.json()["type"] == "number"
        api.patch(f"/api/v1/records/account/{account['id']}", json={"berths": 12})

        # then a filter and a sort on it work in the same minute
        page = api.get(
            "/api/v1/records/account", params={"where": "berths > 10", "sort": "-berths"}
        )
        assert [r["id"] for r in page.json()["data"]] == [account["id"]]


def test_post_field_that_exists_answers_409(api):
    error = error_of(
        api.post("/api/v1/schema/objects/account/fields", json={"name": "name", "type": "text"}),
        409,
    )
    assert (error["code"], error["details"]["field"]) == ("field_exists", "name")


def test_post_formula_with_type_error_answers_422_naming_the_token(api):
    answer = api.post(
        "/api/v1/schema/objects/account/fields",
        json={"name": "odd", "type": "formula", "expression": "name + 1"},
    )
    error = error_of(answer, 422)
    assert (error["code"], error["details"]["field"]) == ("expr_type_mismatch", "odd.expression")
    assert error["details"]["errors"][0]["value"] == "name"
    fields = api.get("/api/v1/schema/objects/account").json()["fields"]
    assert "odd" not in {f["name"] for f in fields}


def test_delete_field_archives_it_and_keeps_its_data(api):
    # given an account with a website
    account = api.post(
        "/api/v1/records/account", json={"name": "Acme", "website": "https://acme.cn"}
    ).json()

    # when the website field is deleted
    answer = api.delete("/api/v1/schema/objects/account/fields/website")

    # then it is archived: gone from the object and the record, listed with include_archived
    assert answer.status_code == 200 and answer.json()["archived"] is True
    assert "website" not in api.get(f"/api/v1/records/account/{account['id']}").json()
    archived = api.get("/api/v1/schema/objects/account", params={"include_archived": True})
    assert any(f["name"] == "website" and f["archived"] for f in archived.json()["fields"])

    # and restoring it brings the value back
    restored = api.post("/api/v1/schema/objects/account/fields/website/restore")
    assert restored.status_code == 200
    record = api.get(f"/api/v1/records/account/{account['id']}").json()
    assert record["website"] == "https://acme.cn"


def test_delete_field_used_by_a_formula_answers_409(api):
    error = error_of(api.delete("/api/v1/schema/objects/opportunity/fields/amount"), 409)
    assert error["code"] == "field_in_use"
    assert "opportunity.weighted_amount" in error["details"]["used_by"]


def test_delete_missing_field_answers_404(api):
    error = error_of(api.delete("/api/v1/schema/objects/account/fields/nope"), 404)
    assert (error["code"], error["details"]["field"]) == ("field_not_found", "nope")


def test_schema_change_by_a_sales_rep_is_forbidden(crm_sqlite):
    with signed_in_client(crm_sqlite, "rep_east") as rep:
        answer = rep.post(
            "/api/v1/schema/objects/account/fields", json={"name": "tier", "type": "number"}
        )
        error = error_of(answer, 403)
        assert error["code"] == "schema_admin_required"
        fields = rep.get("/api/v1/schema/objects/account").json()["fields"]
        assert "tier" not in {f["name"] for f in fields}


def test_patch_field_changing_its_type_answers_422(api):
    answer = api.patch("/api/v1/schema/objects/account/fields/name", json={"type": "number"})
    assert error_of(answer, 422)["code"] == "type_change_refused"
