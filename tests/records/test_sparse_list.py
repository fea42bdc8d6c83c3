"""A sparse list (``fields=``) reads only the fields asked for, under the same access rules."""

from __future__ import annotations

import pytest
from fixtures_fast import persona, signed_in_client

from dealcraft.access.principal import SYSTEM
from dealcraft.errors import InvalidInput

SYSTEM_FIELDS = {"id", "version", "created_at", "updated_at", "created_by", "updated_by"}


@pytest.fixture
def east_account(crm):
    account = crm.records.create(
        SYSTEM, "account", {"name": "华东稀疏客户", "region": "华东", "credit_limit": 500000}
    )
    crm.records.create(
        SYSTEM,
        "contact",
        {"name": "稀疏联系人", "account": account["id"], "phone": "13812345678"},
    )
    return account


def test_list_sparse_account_returns_only_the_asked_fields(crm, east_account):
    # When the admin lists accounts asking only for the name
    page = crm.records.list(SYSTEM, "account", where="name = '华东稀疏客户'", fields=["name"])

    # Then each record carries the name and its system fields, no roll-ups or other fields
    (record,) = page.data
    assert set(record) == SYSTEM_FIELDS | {"name"}
    assert record["name"] == "华东稀疏客户"


def test_list_sparse_field_hidden_from_rep_is_refused_as_unknown(crm, east_account):
    rep_east = persona(crm, "rep_east")

    # When rep_east asks for a supply-chain field hidden from reps, it is as unknown as a typo
    for name in ("credit_limit", "no_such_field"):
        with pytest.raises(InvalidInput) as refused:
            crm.records.list(rep_east, "account", fields=["name", name])
        assert refused.value.code == "unknown_field"
        assert refused.value.details == {"field": "fields", "value": name}


def test_list_sparse_contact_keeps_the_rep_masking_and_scope(crm, east_account):
    rep_east = persona(crm, "rep_east")

    # When rep_east lists the contact's phone only, it stays masked and in scope
    page = crm.records.list(rep_east, "contact", where="name = '稀疏联系人'", fields=["phone"])
    (record,) = page.data
    assert set(record) == SYSTEM_FIELDS | {"phone"}
    assert record["phone"] != "13812345678"
    full = crm.records.list(rep_east, "contact", where="name = '稀疏联系人'").data[0]
    assert record["phone"] == full["phone"]


def test_list_api_fields_parameter_and_its_error(crm, east_account):
    with signed_in_client(crm, "admin_ada") as client:
        response = client.get(
            "/api/v1/records/account", params={"where": "name = '华东稀疏客户'", "fields": "name"}
        )
        assert response.status_code == 200, response.text
        assert set(response.json()["data"][0]) == SYSTEM_FIELDS | {"name"}

        response = client.get("/api/v1/records/account", params={"fields": "name,nope"})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "unknown_field"
