"""The import and export endpoints."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import Workbook, load_workbook

from dealcraft.api import transfer as transfer_api
from dealcraft.records.watermark import strip_marks

EXPORT_PATH = "/api/v1/records/{object_name}/export"


@pytest.fixture
def workspace(sqlite_workspace):
    """SQLite only: these tests are about HTTP; tests/records/test_transfer.py covers both."""
    return sqlite_workspace


@pytest.fixture
def api(client):
    """The signed-in admin client, on an app that serves the transfer routes.

    Until ``dealcraft/app.py`` includes the router, it is added here, ahead of the record
    routes as it must be (``/{object}/export`` would otherwise be read as a record id).
    """
    routes = client.app.router.routes
    if not any(getattr(r, "path", None) == EXPORT_PATH for r in routes):
        before = len(routes)
        client.app.include_router(transfer_api.router)
        added = routes[before:]
        del routes[before:]
        routes[:0] = added
    return client


def csv_bytes(rows: list[list[object]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(api, object_name: str, name: str, content: bytes, **form: str):
    return api.post(
        f"/api/v1/records/{object_name}/import",
        files={"file": (name, content, "application/octet-stream")},
        data=form,
    )


def test_import_accounts_api_creates_records(api):
    # Given a CSV of accounts with Chinese headers
    content = csv_bytes([["客户名称", "区域"], ["华为", "华南"], ["Acme", "East China"]])

    # When it is uploaded
    response = upload(api, "account", "客户.csv", content)

    # Then both records are created and counted
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"], body["rejected"]) == (2, 0, [])
    assert len(body["ids"]) == 2
    listed = api.get("/api/v1/records/account", params={"sort": "id"}).json()["data"]
    assert [(r["name"], r["region"]) for r in listed] == [("华为", "华南"), ("Acme", "华东")]


def test_import_accounts_api_bad_row_answers_422_with_rows(api):
    # Given a workbook with one bad row
    content = xlsx_bytes([["name", "grade"], ["Acme", "A"], ["Beta", "Z"]])

    # When it is uploaded all-or-nothing
    response = upload(api, "account", "accounts.xlsx", content)

    # Then it is refused with the rejected row, and nothing was written
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "import_rejected"
    (row,) = error["details"]["rejected"]
    assert (row["row"], row["sheet_row"], row["column"], row["field"], row["code"]) == (
        2,
        3,
        "grade",
        "grade",
        "invalid_choice",
    )
    assert api.get("/api/v1/records/account").json()["data"] == []


def test_import_accounts_api_key_skip_and_mapping_applied(api):
    # Given an account, and a file updating it under another column name, plus a bad row
    api.post("/api/v1/records/account", json={"name": "Acme", "grade": "C"})
    content = csv_bytes([["公司", "grade", "备注"], ["Acme", "A", "x"], ["Beta", "Q", "y"]])

    # When it is uploaded with a mapping, a key and skip_bad_rows
    response = upload(
        api,
        "account",
        "a.csv",
        content,
        key="name",
        skip_bad_rows="true",
        mapping=json.dumps({"公司": "name", "备注": ""}),
    )

    # Then the account is updated and the bad row reported
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["updated"]) == (0, 1)
    assert [(r["row"], r["code"]) for r in body["rejected"]] == [(2, "invalid_choice")]
    (account,) = api.get("/api/v1/records/account").json()["data"]
    assert account["grade"] == "A"


@pytest.mark.parametrize(
    ("name", "form", "code", "status"),
    [
        ("a.csv", {"mapping": "{not json"}, "invalid_mapping", 400),
        ("a.csv", {"mapping": '["name"]'}, "invalid_mapping", 400),
        ("a.pdf", {}, "unsupported_format", 400),
        ("a.csv", {"mapping": '{"Fax": "name"}'}, "mapping_column_not_found", 400),
    ],
)
def test_import_accounts_api_bad_request_refused(api, name, form, code, status):
    # When a request with a bad mapping or file is uploaded
    response = upload(api, "account", name, csv_bytes([["name"], ["Acme"]]), **form)

    # Then it is refused with the code
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_import_accounts_api_needs_sign_in(api):
    # Given a client without a token
    api.headers.pop("Authorization")

    # When it uploads a file
    response = upload(api, "account", "a.csv", csv_bytes([["name"], ["Acme"]]))

    # Then it is refused
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_required"


def test_export_accounts_api_csv_downloaded(api):
    # Given two accounts
    api.post("/api/v1/records/account", json={"name": "华为", "region": "华南"})
    api.post("/api/v1/records/account", json={"name": "Acme", "region": "华东"})

    # When the South China ones are exported as CSV
    response = api.get(
        "/api/v1/records/account/export", params={"where": "region = '华南'", "format": "csv"}
    )

    # Then the file is a CSV attachment with only that account
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and ".csv" in disposition
    assert "account-" in disposition
    # ... whose first line is the visible confidentiality notice, and whose rows carry the
    # invisible fingerprint after the name
    notice, body = response.content.decode("utf-8-sig").split("\r\n", 1)
    assert notice.startswith("# ") and "admin" in notice
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [strip_marks(r["name"]) for r in rows] == ["华为"]
    assert rows[0]["name"] != "华为"


def test_export_opportunities_api_xlsx_reimports(api):
    # Given an opportunity
    account = api.post("/api/v1/records/account", json={"name": "Acme"}).json()
    api.post(
        "/api/v1/records/opportunity",
        json={"name": "MES", "account": account["id"], "amount": 1000, "close_date": "2025-01-31"},
    )

    # When it is exported as XLSX and the file uploaded again with the name as key
    response = api.get("/api/v1/records/opportunity/export", params={"format": "xlsx"})
    again = upload(api, "opportunity", "o.xlsx", response.content, key="name")

    # Then the workbook holds it, and the re-import changes nothing
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == transfer_api.transfer.CONTENT_TYPES["xlsx"]
    sheet = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert str(sheet[1][0].value).startswith("# ")  # the notice row
    header = [c.value for c in sheet[2]]
    values = dict(zip(header, [c.value for c in sheet[3]], strict=True))
    assert (strip_marks(values["name"]), values["account"], values["amount"]) == (
        "MES",
        account["id"],
        1000,
    )
    assert again.status_code == 200, again.text
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 1)


@pytest.mark.parametrize(
    ("params", "code", "status"),
    [
        ({"format": "json"}, "unsupported_format", 400),
        ({"where": "colour = 'red'"}, "expr_unknown_field", 400),
    ],
)
def test_export_accounts_api_bad_request_refused(api, params, code, status):
    # When an export is asked for with a bad format or filter
    response = api.get("/api/v1/records/account/export", params=params)

    # Then it is refused with the code
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_export_unknown_object_api_not_found(api):
    # When an object that does not exist is exported
    response = api.get("/api/v1/records/spaceship/export")

    # Then it is not found
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "object_not_found"
