"""The record endpoints over HTTP: JSON records, ETags, filters, pages and errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from fixtures_fast import signed_in_client

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture
def api(crm_sqlite):
    """admin_ada's client on SQLite: these stories are about HTTP, not the backend."""
    with signed_in_client(crm_sqlite, "admin_ada") as c:
        yield c


@pytest.fixture
def api_both(crm):
    with signed_in_client(crm, "admin_ada") as c:
        yield c


def error_of(answer, status: int) -> dict:
    """The error of an answer, after checking its status and its shape."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert re.fullmatch(r"[a-z][a-z_]+", body["error"]["code"])
    assert body["error"]["message"]
    return body["error"]


def _count(ws, table: str) -> int:
    with ws.engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


# --- create, read, update, delete -----------------------------------------------------------


def test_post_record_answers_201_with_the_record_etag_and_location(api):
    # when admin_ada posts an account
    answer = api.post("/api/v1/records/account", json={"name": "深圳华强", "region": "华南"})

    # then the answer is the record with its system fields and fields by name
    assert answer.status_code == 201
    record = answer.json()
    assert {"id", "version", "created_at", "updated_at"} <= set(record)
    assert (record["name"], record["region"], record["version"]) == ("深圳华强", "华南", 1)
    assert answer.headers["ETag"] == '"1"'
    assert answer.headers["Location"] == f"/api/v1/records/account/{record['id']}"
    assert "深圳华强".encode() in answer.content  # not \\u-escaped


def test_get_record_holds_reference_ids_and_its_version_as_etag(api):
    account = api.post("/api/v1/records/account", json={"name": "Acme"}).json()
    deal = api.post(
        "/api/v1/records/opportunity", json={"name": "Deal", "account": account["id"]}
    ).json()

    answer = api.get(f"/api/v1/records/opportunity/{deal['id']}")

    assert answer.status_code == 200
    assert answer.json()["account"] == account["id"]
    assert answer.headers["ETag"] == '"1"'


def test_patch_record_changes_only_the_given_fields(api):
    deal = api.post("/api/v1/records/opportunity", json={"name": "Deal", "amount": 10}).json()
    answer = api.patch(
        f"/api/v1/records/opportunity/{deal['id']}",
        json={"amount": 20},
        headers={"If-Match": '"1"'},
    )
    assert answer.status_code == 200
    assert (answer.json()["amount"], answer.json()["name"]) == (20, "Deal")
    assert answer.headers["ETag"] == '"2"'


def test_patch_with_stale_if_match_answers_412_and_changes_nothing(api_both, crm):
    # given an opportunity saved twice
    deal = api_both.post("/api/v1/records/opportunity", json={"name": "Deal", "amount": 10}).json()
    api_both.patch(f"/api/v1/records/opportunity/{deal['id']}", json={"amount": 20})
    history = _count(crm, "dc_history")

    # when a client that read version 1 patches it
    answer = api_both.patch(
        f"/api/v1/records/opportunity/{deal['id']}",
        json={"amount": 99},
        headers={"If-Match": '"1"'},
    )

    # then it is a 412 version conflict and the record keeps version 2
    error = error_of(answer, 412)
    assert error["code"] == "version_conflict"
    assert (error["details"]["expected"], error["details"]["current"]) == (1, 2)
    current = api_both.get(f"/api/v1/records/opportunity/{deal['id']}")
    assert (current.json()["amount"], current.headers["ETag"]) == (20, '"2"')
    assert _count(crm, "dc_history") == history


def test_patch_with_stale_body_version_answers_409(api):
    deal = api.post("/api/v1/records/opportunity", json={"name": "Deal"}).json()
    api.patch(f"/api/v1/records/opportunity/{deal['id']}", json={"amount": 5})
    answer = api.patch(
        f"/api/v1/records/opportunity/{deal['id']}", json={"amount": 6, "version": 1}
    )
    assert error_of(answer, 409)["code"] == "version_conflict"
    assert api.get(f"/api/v1/records/opportunity/{deal['id']}").json()["amount"] == 5


def test_patch_with_malformed_if_match_is_refused(api):
    deal = api.post("/api/v1/records/opportunity", json={"name": "Deal"}).json()
    answer = api.patch(
        f"/api/v1/records/opportunity/{deal['id']}", json={"amount": 6}, headers={"If-Match": "*x"}
    )
    error = error_of(answer, 400)
    assert (error["code"], error["details"]["field"]) == ("invalid_if_match", "If-Match")


def test_delete_record_answers_204_and_restore_brings_it_back(api):
    deal = api.post("/api/v1/records/opportunity", json={"name": "Deal"}).json()
    url = f"/api/v1/records/opportunity/{deal['id']}"

    assert api.delete(url, headers={"If-Match": '"1"'}).status_code == 204
    assert error_of(api.get(url), 404)["code"] == "record_not_found"

    restored = api.post(url + "/restore")
    assert restored.status_code == 200 and restored.json()["version"] == 3
    assert api.get(url).status_code == 200


def test_delete_with_stale_if_match_answers_412_and_keeps_the_record(api):
    deal = api.post("/api/v1/records/opportunity", json={"name": "Deal"}).json()
    url = f"/api/v1/records/opportunity/{deal['id']}"
    api.patch(url, json={"amount": 1})
    assert error_of(api.delete(url, headers={"If-Match": '"1"'}), 412)["code"] == "version_conflict"
    assert api.get(url).status_code == 200


def test_history_lists_who_changed_what(api):
    deal = api.post(
        "/api/v1/records/opportunity", json={"name": "Deal", "stage": "proposal"}
    ).json()
    api.patch(f"/api/v1/records/opportunity/{deal['id']}", json={"stage": "won"})
    entries = api.get(f"/api/v1/records/opportunity/{deal['id']}/history").json()["data"]
    assert [(e["operation"], e["field"]) for e in entries] == [
        ("create", None),
        ("update", "stage"),
    ]
    assert (entries[1]["old_value"], entries[1]["new_value"]) == ("proposal", "won")
    assert entries[1]["changed_by"] == deal["created_by"]


def test_post_record_with_invalid_values_answers_422_with_every_field(api, crm_sqlite):
    before = _count(crm_sqlite, "obj_account")
    answer = api.post(
        "/api/v1/records/account",
        json={"name": "Bad", "website": "nope", "industry": "mining", "nickname": "x"},
    )
    error = error_of(answer, 422)
    first = error["details"]["errors"][0]
    assert (error["code"], error["details"]["field"]) == (first["code"], first["field"])
    assert {(e["field"], e["code"]) for e in error["details"]["errors"]} == {
        ("website", "invalid_url"),
        ("industry", "invalid_choice"),
        ("nickname", "unknown_field"),
    }
    assert _count(crm_sqlite, "obj_account") == before


def test_post_record_that_is_not_an_object_answers_422(api):
    error = error_of(api.post("/api/v1/records/account", json=["Acme"]), 422)
    assert (error["code"], error["details"]["field"]) == ("invalid_request", "body")


def test_get_record_of_missing_object_answers_404(api):
    error = error_of(api.get("/api/v1/records/planet/1"), 404)
    assert (error["code"], error["details"]["object"]) == ("object_not_found", "planet")


def test_unknown_path_answers_404_in_the_error_shape(api):
    assert error_of(api.get("/api/v1/nowhere"), 404)["code"] == "not_found"


# --- list, where, sort and pages ------------------------------------------------------------


def test_list_records_with_where_sort_and_cursor_walks_every_page(api_both):
    # given seven opportunities, two without an amount
    amounts = [500, None, 100, 500, 300, None, 900]
    for i, amount in enumerate(amounts):
        api_both.post("/api/v1/records/opportunity", json={"name": f"deal{i}", "amount": amount})

    # when the client walks pages of two sorted by -amount,name and filtered
    params = {"sort": "-amount,name", "limit": 2, "where": "name != 'deal6'"}
    seen, cursor = [], None
    while True:
        page = api_both.get(
            "/api/v1/records/opportunity", params={**params, "cursor": cursor} if cursor else params
        ).json()
        assert set(page) == {"data", "next_cursor"}
        seen += [(r["amount"], r["name"]) for r in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # then NULLs come first descending, and every other row follows once, in order
    assert seen == [
        (None, "deal1"),
        (None, "deal5"),
        (500, "deal0"),
        (500, "deal3"),
        (300, "deal4"),
        (100, "deal2"),
    ]


@pytest.mark.parametrize(
    ("where", "code", "position"),
    [
        ("amount >", "expr_syntax", None),
        ("revenue > 5", "expr_unknown_field", 0),
        ("name + 1 > 2", "expr_type_mismatch", 0),
        ("annual_revenue", "expr_type_mismatch", 0),
        ("pg_sleep(5) is null", "expr_unknown_function", 0),
        ("1=1; DROP TABLE obj_account", "expr_not_allowed", 3),
        ("name = 'x' OR 1=1 --", "expr_not_allowed", 18),
        ("name = 'x' /* c */", "expr_not_allowed", None),
        ("(SELECT count(*) FROM dc_credential) > 0", "expr_not_allowed", None),
        ("name = 'a' UNION SELECT password_hash FROM dc_credential", "expr_not_allowed", None),
        ("name = 'x') OR (1=1", "expr_syntax", None),
        ("name IN (SELECT name FROM obj_user)", "expr_not_allowed", None),
        ("obj_account.name = 'x'", None, None),
    ],
)
def test_list_with_malformed_or_malicious_where_answers_400_with_position(
    api_both, crm, where, code, position
):
    # given an account that must survive
    api_both.post("/api/v1/records/account", json={"name": "Survivor"})

    # when the where is malformed or tries to smuggle SQL
    answer = api_both.get("/api/v1/records/account", params={"where": where})

    # then it is a 400 naming the rule and the place, never a 500
    error = error_of(answer, 400)
    assert error["code"].startswith("expr_")
    if code is not None:
        assert error["code"] == code
    assert error["details"]["field"] == "where"
    assert isinstance(error["details"]["position"], int)
    if position is not None:
        assert error["details"]["position"] == position

    # and nothing was executed: the tables and the account are still there
    tables = set(sa.inspect(crm.engine).get_table_names())
    assert {"obj_account", "dc_credential", "obj_user"} <= tables
    assert api_both.get("/api/v1/records/account").json()["data"][0]["name"] == "Survivor"


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"sort": "size"}, "invalid_sort", "sort"),
        ({"limit": 0}, "invalid_limit", "limit"),
        ({"limit": 10_000}, "invalid_limit", "limit"),
        ({"cursor": "bm90LWEtY3Vyc29y"}, "invalid_cursor", "cursor"),
    ],
)
def test_list_with_bad_paging_parameter_answers_400(api, params, code, field):
    error = error_of(api.get("/api/v1/records/opportunity", params=params), 400)
    assert (error["code"], error["details"]["field"]) == (code, field)


def test_list_with_non_numeric_limit_answers_422_naming_it(api):
    error = error_of(api.get("/api/v1/records/opportunity", params={"limit": "ten"}), 422)
    assert (error["code"], error["details"]["field"]) == ("invalid_request", "limit")


# --- bulk -----------------------------------------------------------------------------------


def test_bulk_post_creates_all_rows_or_none(api, crm_sqlite):
    good = api.post(
        "/api/v1/records/task/bulk", json={"records": [{"subject": "a"}, {"subject": "b"}]}
    )
    assert good.status_code == 200 and good.json()["created"] == 2

    bad = api.post(
        "/api/v1/records/task/bulk", json={"records": [{"subject": "c"}, {"subject": ""}]}
    )
    error = error_of(bad, 422)
    assert error["code"] == "import_rejected"
    assert error["details"]["rejected"][0]["row"] == 2
    assert _count(crm_sqlite, "obj_task") == 2


def test_bulk_post_without_a_list_of_records_answers_400(api):
    error = error_of(api.post("/api/v1/records/task/bulk", json={"records": "a,b"}), 400)
    assert (error["code"], error["details"]["field"]) == ("invalid_body", "records")


# --- every failure code is documented -------------------------------------------------------


def documented_codes() -> set[str]:
    """The codes listed in the errors table of docs/api.md."""
    text = DOCS.read_text(encoding="utf-8")
    table = text[text.index("| status | codes |") :]
    return set(re.findall(r"`([a-z][a-z_]+)`", table))


def test_every_error_code_of_the_failure_paths_is_documented(api, crm_sqlite):
    # given a record to conflict over
    deal = api.post("/api/v1/records/opportunity", json={"name": "Deal"}).json()
    url = f"/api/v1/records/opportunity/{deal['id']}"
    api.patch(url, json={"amount": 1})

    # when every failure path is exercised
    failures = [
        api.get("/api/v1/records/opportunity", params={"where": "amount >"}),
        api.get("/api/v1/records/opportunity", params={"where": "x > 1"}),
        api.get("/api/v1/records/opportunity", params={"where": "name + 1 > 0"}),
        api.get("/api/v1/records/opportunity", params={"where": "nope(1)"}),
        api.get("/api/v1/records/opportunity", params={"where": "a; b"}),
        api.get("/api/v1/records/opportunity", params={"sort": "x"}),
        api.get("/api/v1/records/opportunity", params={"limit": 0}),
        api.get("/api/v1/records/opportunity", params={"limit": "x"}),
        api.get("/api/v1/records/opportunity", params={"cursor": "x"}),
        api.patch(url, json={"amount": 2}, headers={"If-Match": "x"}),
        api.patch(url, json={"amount": 2}, headers={"If-Match": '"1"'}),
        api.patch(url, json={"amount": 2, "version": 1}),
        api.get("/api/v1/records/planet"),
        api.get("/api/v1/records/opportunity/999999"),
        api.get("/api/v1/nowhere"),
        api.post("/api/v1/records/opportunity", json={}),
        api.post("/api/v1/records/opportunity", json={"name": "x", "y": 1}),
        api.post("/api/v1/records/opportunity", json={"name": "x", "stage": "y"}),
        api.post("/api/v1/records/opportunity", json={"name": "x", "id": 1}),
        api.post("/api/v1/records/opportunity", json={"name": "x", "close_date": "y"}),
        api.post("/api/v1/records/opportunity", json={"name": "x", "account": 999999}),
        api.post("/api/v1/records/opportunity", json={"name": "x", "probability": 101}),
        api.post("/api/v1/records/task/bulk", json={"records": [{"subject": ""}]}),
        api.post("/api/v1/records/task/bulk", json={"records": [{"subject": "a"}], "key": "x"}),
        api.post("/api/v1/schema/objects", json={"name": "account"}),
        api.post("/api/v1/schema/objects", json={"name": "Bad Name"}),
        api.post("/api/v1/schema/objects/account/fields", json={"name": "name", "type": "text"}),
        api.post("/api/v1/schema/objects/account/fields", json={"name": "id", "type": "text"}),
        api.post("/api/v1/schema/objects/account/fields", json={"name": "x", "type": "nope"}),
        api.post(
            "/api/v1/schema/objects/account/fields",
            json={"name": "x", "type": "formula", "expression": "name + 1"},
        ),
        api.delete("/api/v1/schema/objects/opportunity/fields/probability"),
        api.delete("/api/v1/schema/objects/account/fields/nope"),
        api.get("/api/v1/schema/objects/planet"),
        api.post("/api/v1/auth/token", json={"username": "admin_ada", "password": "wrong-pass"}),
        api.get("/api/v1/records/account", headers={"Authorization": "Bearer dct_forged"}),
    ]
    codes = {f.json()["error"]["code"] for f in failures}

    # then each answered an error, and every code is one docs/api.md lists
    assert all(400 <= f.status_code < 500 for f in failures)
    assert len(codes) >= 25
    assert codes - documented_codes() == set()
