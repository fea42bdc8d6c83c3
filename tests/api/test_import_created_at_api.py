"""The import endpoint's ``keep_created_at`` flag: admins keep historical creation dates."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fixtures_fast import signed_in_client

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture
def admin_api(crm):
    with signed_in_client(crm, "admin_ada") as client:
        yield client


@pytest.fixture
def rep_api(crm):
    with signed_in_client(crm, "rep_east") as client:
        yield client


def documented_codes() -> set[str]:
    """The codes in the errors table of docs/api.md (as test_records_api reads them)."""
    text = DOCS.read_text(encoding="utf-8")
    return set(re.findall(r"`([a-z][a-z_]+)`", text[text.index("| status | codes |") :]))


def csv_bytes(rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8")


def upload(client, rows: list[list[object]], **form: str):
    return client.post(
        "/api/v1/records/opportunity/import",
        files={"file": ("deals.csv", csv_bytes(rows), "text/csv")},
        data=form,
    )


HISTORY = [
    ["name", "stage", "close_date", "created_at"],
    ["MES 一期", "won", "2025-06-30", "2025-03-01"],
]


def test_import_api_keeping_created_at_as_admin_backdates_and_shows_it_in_history(admin_api):
    # When admin_ada uploads closed deals keeping their creation dates
    response = upload(admin_api, HISTORY, keep_created_at="true")

    # Then the deal was created on that date, and its history says who supplied it
    assert response.status_code == 200, response.text
    (record_id,) = response.json()["ids"]
    record = admin_api.get(f"/api/v1/records/opportunity/{record_id}").json()
    assert record["created_at"] == "2025-03-01T00:00:00Z"
    (created,) = admin_api.get(f"/api/v1/records/opportunity/{record_id}/history").json()["data"]
    assert created["created_at_supplied"] == {
        "created_at": "2025-03-01T00:00:00Z",
        "supplied_by": "admin_ada",
    }


def test_import_api_keeping_created_at_as_rep_answers_403_with_the_code(rep_api, admin_api):
    # When rep_east uploads the same file asking to keep the dates
    response = upload(rep_api, HISTORY, keep_created_at="true")

    # Then it is refused with the code and the field, and nothing is written
    assert response.status_code == 403, response.text
    error = response.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("audit_fields_not_allowed", "created_at")
    assert admin_api.get("/api/v1/records/opportunity").json()["data"] == []


def test_import_api_future_created_at_answers_422_naming_the_row(admin_api):
    # Given a file whose second row is dated tomorrow
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    rows = [["name", "created_at"], ["Past", "2025-01-01"], ["Future", tomorrow]]

    # When admin_ada uploads it keeping the dates
    response = upload(admin_api, rows, keep_created_at="true")

    # Then the whole file is refused, naming the row, the column and the value
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "import_rejected"
    (rejected,) = error["details"]["rejected"]
    assert (rejected["row"], rejected["column"], rejected["code"]) == (
        2,
        "created_at",
        "created_at_in_future",
    )
    assert tomorrow in rejected["message"]


def test_import_api_bad_created_at_answers_422_with_the_row(admin_api):
    response = upload(admin_api, [["name", "created_at"], ["A", "soon"]], keep_created_at="true")

    assert response.status_code == 422, response.text
    (rejected,) = response.json()["error"]["details"]["rejected"]
    assert (rejected["row"], rejected["field"], rejected["code"]) == (
        1,
        "created_at",
        "invalid_datetime",
    )


def test_import_api_created_at_without_the_flag_is_ignored(admin_api):
    # When admin_ada uploads the file without the flag
    response = upload(admin_api, HISTORY)

    # Then the deal is created now, as before: the column is a platform column, ignored
    assert response.status_code == 200, response.text
    (record_id,) = response.json()["ids"]
    record = admin_api.get(f"/api/v1/records/opportunity/{record_id}").json()
    assert record["created_at"] > (datetime.now(UTC) - timedelta(minutes=1)).isoformat()[:19]
    (created,) = admin_api.get(f"/api/v1/records/opportunity/{record_id}/history").json()["data"]
    assert "created_at_supplied" not in created


def test_import_api_created_at_codes_are_documented(admin_api, rep_api):
    # When each refusal of the flag is provoked
    failures = [
        upload(rep_api, HISTORY, keep_created_at="true"),
        upload(admin_api, [["name"], ["A"]], keep_created_at="true"),
        upload(admin_api, [["name", "created_at"], ["A", "2999-01-01"]], keep_created_at="true"),
    ]
    codes = {f.json()["error"]["code"] for f in failures}
    row_codes = {r["code"] for r in failures[2].json()["error"]["details"]["rejected"]}

    # Then every code is in the errors table of docs/api.md
    assert codes == {"audit_fields_not_allowed", "created_at_not_mapped", "import_rejected"}
    assert row_codes == {"created_at_in_future"}
    assert (codes | row_codes) - documented_codes() == set()


# The bulk API takes the same flag in its body ---------------------------------------------------
BULK = {
    "records": [
        {"name": "MES 二期", "stage": "won", "close_date": "2025-08-31", "created_at": "2025-05-02"}
    ]
}


def test_bulk_api_keeping_created_at_as_admin_backdates(admin_api):
    response = admin_api.post(
        "/api/v1/records/opportunity/bulk", json={**BULK, "keep_created_at": True}
    )
    assert response.status_code == 200, response.text
    (record_id,) = response.json()["ids"]
    record = admin_api.get(f"/api/v1/records/opportunity/{record_id}").json()
    assert record["created_at"] == "2025-05-02T00:00:00Z"


def test_bulk_api_created_at_without_the_flag_or_as_rep_is_refused(admin_api, rep_api):
    # Without the flag the platform column is read-only, as before
    response = admin_api.post("/api/v1/records/opportunity/bulk", json=BULK)
    assert response.status_code == 422, response.text
    assert "read_only_field" in response.text

    # A rep asking for it hears the rule, and nothing is written
    response = rep_api.post(
        "/api/v1/records/opportunity/bulk", json={**BULK, "keep_created_at": True}
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "audit_fields_not_allowed"
    assert admin_api.get("/api/v1/records/opportunity").json()["data"] == []
