"""The authorization matrix: every API operation x every built-in role x how the record relates
to the acting persona (own, same team, same region, other region, deal room, another deal room).

Nothing here hard-codes an outcome. The expected answer of each cell (allowed, denied as 404,
refused with a code, and which fields are shown, masked or hidden) is computed by the oracle
of world.py from the policy data in ``default_policies()``. The routes come from the app:
one missing from ``ROUTE_COVERAGE`` fails ``test_every_api_route_is_covered_by_the_matrix``.

The whole matrix runs on SQLite; a slice of it (four roles, two objects) on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.routing import APIRoute  # noqa: F401  (documents what the walk finds)
from starlette.routing import Mount

from dealcraft.access.principal import SYSTEM
from dealcraft.access.roles import ROLES, default_policies
from dealcraft.app import create_app
from dealcraft.records.watermark import strip_marks

from .world import (
    ACTORS,
    EDITS,
    OBJECTS,
    RELATIONS,
    SYSTEM_KEYS,
    Oracle,
    World,
    check_record_fields,
    field_types,
    masked,
)

R = "/api/v1/records/{object_name}"

# Every route of the app, and the family of matrix cells that covers it.
ROUTE_COVERAGE: dict[tuple[str, str], str] = {
    ("GET", R): "list",
    ("POST", R): "create",
    ("POST", R + "/bulk"): "bulk",
    ("POST", R + "/import"): "import",
    ("GET", R + "/export"): "export",
    ("GET", R + "/{record_id}"): "get",
    ("PATCH", R + "/{record_id}"): "update",  # also "move", below
    ("DELETE", R + "/{record_id}"): "delete",
    ("POST", R + "/{record_id}/restore"): "restore",
    ("GET", R + "/{record_id}/history"): "history",
    ("GET", "/api/openapi.json"): "public",
    ("GET", "/api/docs"): "public",
    ("GET", "/docs/oauth2-redirect"): "public",
    **{(m, "/api/{path:path}"): "unknown_api" for m in ("GET", "POST", "PUT", "PATCH", "DELETE")},
    ("GET", "/api/health"): "public",
    ("POST", "/api/v1/auth/token"): "password_login",
    ("GET", "/api/v1/auth/tokens"): "signed_in",
    ("POST", "/api/v1/auth/tokens"): "signed_in",
    ("DELETE", "/api/v1/auth/tokens/{token_id}"): "own_tokens",
    ("GET", "/api/v1/access/me"): "signed_in",
    ("GET", "/api/v1/access/roles"): "signed_in",
    ("GET", "/api/v1/access/policies"): "admin_only",
    ("PUT", "/api/v1/access/policies/{role}/{object_name}"): "admin_only",
    ("DELETE", "/api/v1/access/policies/{role}/{object_name}"): "admin_only",
    ("GET", "/api/v1/access/policies/{role}/{object_name}/versions"): "admin_only",
    ("GET", "/api/v1/audit"): "audit_readers",
    ("GET", "/api/v1/schema/objects"): "signed_in",
    ("GET", "/api/v1/schema/objects/{object_name}"): "signed_in",
    ("POST", "/api/v1/schema/objects"): "admin_only",
    ("POST", "/api/v1/schema/objects/{object_name}/fields"): "admin_only",
    ("PATCH", "/api/v1/schema/objects/{object_name}/fields/{field_name}"): "admin_only",
    ("DELETE", "/api/v1/schema/objects/{object_name}/fields/{field_name}"): "admin_only",
    ("POST", "/api/v1/schema/objects/{object_name}/fields/{field_name}/restore"): "admin_only",
    ("PUT", "/api/v1/schema/objects/{object_name}/field-order"): "admin_only",
    ("GET", "/api/v1/schema/objects/{object_name}/layout"): "signed_in",
    ("PUT", "/api/v1/schema/objects/{object_name}/layout"): "admin_only",
    ("POST", "/api/v1/files"): "signed_in",
    ("GET", "/api/v1/files/{file_id}"): "signed_in",
    # Flows: managing definitions and runs is for admins.
    ("GET", "/api/v1/flows"): "admin_only",
    ("POST", "/api/v1/flows"): "admin_only",
    ("POST", "/api/v1/flows/check"): "admin_only",
    ("GET", "/api/v1/flows/runs"): "admin_only",
    ("GET", "/api/v1/flows/runs/{run_id}"): "admin_only",
    ("POST", "/api/v1/flows/runs/{run_id}/retry"): "admin_only",
    ("POST", "/api/v1/flows/runs/{run_id}/cancel"): "admin_only",
    ("GET", "/api/v1/flows/{name}"): "admin_only",
    ("POST", "/api/v1/flows/{name}/dry-run"): "admin_only",
    # Decided on the object itself: the named approver, the record's owner, a record the
    # caller can see. For a missing one every signed-in role gets the same 404.
    ("POST", "/api/v1/flows/approvals/{approval_id}"): "signed_in_missing",
    ("POST", "/api/v1/flows/annotations/{object_name}/{record_id}"): "signed_in_missing",
    ("POST", "/api/v1/flows/{name}/runs"): "signed_in_missing",
    # Authenticated by the flow's signing secret instead of a token.
    ("POST", "/api/v1/flows/{name}/webhook"): "signed_webhook",
    # Bulk edit: each record through its own update; an unknown object is 404 for everyone.
    ("PATCH", R): "signed_in_missing",
    # The inbox and saved views are the caller's own (or their team's); another's is 404.
    ("GET", "/api/v1/inbox"): "signed_in",
    ("POST", "/api/v1/inbox/read-all"): "signed_in",
    ("POST", "/api/v1/inbox/{message_id}/read"): "signed_in_missing",
    ("GET", "/api/v1/views"): "signed_in",
    ("POST", "/api/v1/views"): "signed_in",
    ("GET", "/api/v1/views/{view_id}"): "signed_in_missing",
    ("PATCH", "/api/v1/views/{view_id}"): "signed_in_missing",
    ("DELETE", "/api/v1/views/{view_id}"): "signed_in_missing",
}


def app_routes(routes: list[Any], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route, walking into included routers and mounts."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        original = getattr(route, "original_router", None)
        if original is not None:  # FastAPI >= 0.16x keeps included routers nested
            found |= app_routes(original.routes, prefix + (route.include_context.prefix or ""))
        elif isinstance(route, Mount):
            found |= app_routes(route.routes, prefix + route.path)
        else:
            for method in (getattr(route, "methods", None) or {"WEBSOCKET"}) - {"HEAD"}:
                found.add((method, prefix + route.path))
    return found


def test_every_api_route_is_covered_by_the_matrix(world):
    # Given the app as it is built for production
    routes = app_routes(create_app(world.ws).routes)

    # Then each route has a family of matrix cells, and the table names no stale route
    assert routes - set(ROUTE_COVERAGE) == set(), "routes without authorization-matrix coverage"
    assert set(ROUTE_COVERAGE) - routes == set(), "matrix entries for routes the app lacks"


# Expected outcomes, from the oracle ---------------------------------------------------------

Outcome = tuple[int, str | None]
PG_ROLES = ("sales_rep", "regional_manager", "partner", "analyst")
PG_OBJECTS = ("account", "contact")
PG_OPS = ("list", "get", "history", "update", "create", "export")


def write_codes(op: str) -> dict[str, str]:
    """Error codes of a refused write: a bulk write reports row errors as import_rejected."""
    bulk = op in ("import", "bulk")
    return {
        "read_only": "import_rejected" if bulk else "read_only_field",
        "reference": "import_rejected" if bulk else "invalid_reference",
    }


def check_payload(
    o: Oracle, w: World, role: str, obj: str, payload: dict[str, Any], op: str
) -> Outcome | None:
    """The refusal of a payload's fields and references, before any row is looked at."""
    codes = write_codes(op)
    params = w.params(w.actor(role))
    fields = o.view.objects[obj]
    for key, value in payload.items():
        f = o.view.field_for_key(obj, key)
        assert f is not None, key
        if not o.writable([role], f):
            return 422, codes["read_only"]
        if f.type in ("reference", "user") and value is not None:
            target = "user" if f.type == "user" else f.options["object"]
            raw = w.raw(target, value)
            if raw is None or not o.in_scope([role], target, raw, params):
                return 422, codes["reference"]
    del fields
    return None


def expect(
    o: Oracle,
    w: World,
    role: str,
    obj: str,
    op: str,
    record_id: int | None,
    payload: dict[str, Any] | None = None,
    raw: dict[str, Any] | None = None,
) -> Outcome:
    params = w.params(w.actor(role))
    needed = {
        "list": ["read"],
        "export": ["export", "read"],
        "get": ["read"],
        "history": ["read"],
        "create": ["create"],
        "import": ["import", "create"],
        "bulk": ["import", "create"],
        "update": ["update"],
        "move": ["update"],
        "delete": ["delete"],
        "restore": ["delete"],
    }[op]
    for operation in needed:
        if not o.may([role], obj, operation):
            return 403, "operation_denied"
    if op in ("list", "export"):
        return 200, None
    if op in ("create", "import", "bulk"):
        refused = check_payload(o, w, role, obj, payload or {}, op)
        if refused:
            return refused
        empty = {f.name: None for f in o.view.objects[obj].active_fields}
        if not o.in_scope([role], obj, {**empty, **(payload or {}), "id": None}, params):
            return 403, "scope_violation"
        return (201 if op == "create" else 200), None
    if op in ("update", "move"):
        refused = check_payload(o, w, role, obj, payload or {}, op)
        if refused:
            return refused
    raw = raw if raw is not None else w.raw(obj, record_id)  # type: ignore[arg-type]
    if raw is None or not o.in_scope([role], obj, raw, params):
        return 404, "record_not_found"
    if op in ("update", "move") and not o.in_scope([role], obj, {**raw, **payload}, params):
        return 403, "scope_violation"
    return {"delete": 204}.get(op, 200), None


def assert_outcome(response, want: Outcome, where: str) -> None:
    status, code = want
    body = response.text[:400]
    assert response.status_code == status, f"{where}: {response.status_code} {body}"
    if code is not None:
        assert response.json()["error"]["code"] == code, f"{where}: {body}"


# The record cells -----------------------------------------------------------------------------


def relation_payload(w: World, role: str, obj: str, relation: str) -> dict[str, Any]:
    """A new record standing in ``relation`` to the actor of ``role``."""
    owner, region, _grade = RELATIONS[relation]
    actor = w.actor(role)
    owner_id = w.uid(owner or actor)
    region = region or ACTORS[role][1]
    name = f"new {obj} of {role} ({relation})"
    if obj == "account":
        return {"name": name, "region": region, "owner": owner_id}
    account = w.record_id(role, "account", relation)
    return {"name": name, "account": account, "owner": owner_id}


def move_payload(w: World, obj: str) -> dict[str, Any]:
    """A change that moves a record to the 西南 rep's patch."""
    return {
        "account": {"region": "西南"},
        "contact": {"account": w.records[("other_region", "account")]},
        "opportunity": {"owner": w.uid("rep_southwest")},
    }[obj]


def do_list(w, o, role, obj, relation):
    actor = w.actor(role)
    response = w.client.get(f"/api/v1/records/{obj}?limit=500", headers=w.headers(actor))
    want = expect(o, w, role, obj, "list", None)
    assert_outcome(response, want, f"{role} lists {obj}")
    if want[0] != 200:
        return
    raws = w.all_raw(obj)
    params = w.params(actor)
    visible = {i for i, r in raws.items() if o.in_scope([role], obj, r, params)}
    got = {r["id"]: r for r in response.json()["data"]}
    assert set(got) == visible, (
        f"{role} lists {obj}: extra {sorted(set(got) - visible)}, "
        f"missing {sorted(visible - set(got))}"
    )
    for record_id, record in got.items():
        check_record_fields(o, [role], obj, record, raws[record_id], where=f"{role} lists")


def do_export(w, o, role, obj, relation):
    actor = w.actor(role)
    response = w.client.get(f"/api/v1/records/{obj}/export?format=csv", headers=w.headers(actor))
    want = expect(o, w, role, obj, "export", None)
    assert_outcome(response, want, f"{role} exports {obj}")
    if want[0] != 200:
        return
    lines = [r for r in csv.reader(io.StringIO(response.content.decode("utf-8-sig"))) if r]
    lines = [r for r in lines if not r[0].startswith("#")]
    header, rows = lines[0], lines[1:]
    shown = o.shown([role], obj)
    assert set(header) == {"id", *shown}, f"{role} exports columns {header}"
    raws = w.all_raw(obj)
    params = w.params(actor)
    visible = {i for i, r in raws.items() if o.in_scope([role], obj, r, params)}
    exported = {int(r[0]): dict(zip(header, r, strict=True)) for r in rows}
    assert set(exported) == visible
    types = field_types(w, obj)
    for record_id, row in exported.items():
        for key, level in shown.items():
            if level == "masked" and raws[record_id].get(key):
                want_text = masked(types[key], raws[record_id][key])
                assert strip_marks(row[key]) == want_text, f"{role} exports {obj}.{key}"


def do_get(w, o, role, obj, relation):
    actor = w.actor(role)
    record_id = w.record_id(role, obj, relation)
    response = w.client.get(f"/api/v1/records/{obj}/{record_id}", headers=w.headers(actor))
    want = expect(o, w, role, obj, "get", record_id)
    assert_outcome(response, want, f"{role} gets {obj} ({relation})")
    if want[0] == 200:
        raw = w.raw(obj, record_id)
        check_record_fields(o, [role], obj, response.json(), raw, where=f"{role} gets")


def do_history(w, o, role, obj, relation):
    actor = w.actor(role)
    record_id = w.record_id(role, obj, relation)
    url = f"/api/v1/records/{obj}/{record_id}/history"
    response = w.client.get(url, headers=w.headers(actor))
    want = expect(o, w, role, obj, "history", record_id)
    assert_outcome(response, want, f"{role} reads the history of {obj} ({relation})")
    if want[0] != 200:
        return
    shown = o.shown([role], obj)
    types = field_types(w, obj)
    entries = response.json()["data"]
    assert entries and entries[0]["operation"] == "create"
    for entry in entries:
        values: dict[str, Any] = {}
        if entry["operation"] == "create":
            values = entry["new_value"]
        elif entry["field"] is not None:
            values = {entry["field"]: entry["new_value"]}
            assert entry["field"] in shown, f"{role} sees the history of hidden {entry['field']}"
            if shown[entry["field"]] == "masked":
                values[entry["field"] + "#old"] = entry["old_value"]
        for key, value in values.items():
            name = key.split("#")[0]
            assert name in shown, f"{role} sees hidden {obj}.{name} in its history"
            if shown[name] == "masked" and value is not None:
                # A masked value is a fixed point of masking: no digit of it is in clear.
                assert "*" in value and masked(types[name], value) == value, (role, name, value)


def do_create(w, o, role, obj, relation):
    actor = w.actor(role)
    payload = relation_payload(w, role, obj, relation)
    response = w.client.post(f"/api/v1/records/{obj}", json=payload, headers=w.headers(actor))
    want = expect(o, w, role, obj, "create", None, payload)
    assert_outcome(response, want, f"{role} creates {obj} ({relation})")
    if want[0] == 201:
        record = response.json()
        check_record_fields(o, [role], obj, record, w.raw(obj, record["id"]), where="created")


def _bulk_outcome(w, o, role, obj, relation, response, payload, op):
    want = expect(o, w, role, obj, op, None, payload)
    assert_outcome(response, want, f"{role} {op}s {obj} ({relation})")
    if want[0] == 200:
        assert response.json()["created"] == 1


def do_import(w, o, role, obj, relation):
    actor = w.actor(role)
    payload = relation_payload(w, role, obj, relation)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(list(payload))
    writer.writerow(list(payload.values()))
    files = {"file": ("rows.csv", text.getvalue().encode(), "text/csv")}
    url = f"/api/v1/records/{obj}/import"
    response = w.client.post(url, files=files, headers=w.headers(actor))
    _bulk_outcome(w, o, role, obj, relation, response, payload, "import")


def do_bulk(w, o, role, obj, relation):
    actor = w.actor(role)
    payload = relation_payload(w, role, obj, relation)
    url = f"/api/v1/records/{obj}/bulk"
    response = w.client.post(url, json={"records": [payload]}, headers=w.headers(actor))
    _bulk_outcome(w, o, role, obj, relation, response, payload, "bulk")


def do_update(w, o, role, obj, relation):
    actor = w.actor(role)
    record_id = w.record_id(role, obj, relation)
    payload = EDITS[obj]
    url = f"/api/v1/records/{obj}/{record_id}"
    before = w.raw(obj, record_id)
    response = w.client.patch(url, json=payload, headers=w.headers(actor))
    want = expect(o, w, role, obj, "update", record_id, payload, raw=before)
    assert_outcome(response, want, f"{role} updates {obj} ({relation})")
    if want[0] == 200:
        check_record_fields(o, [role], obj, response.json(), w.raw(obj, record_id), where="upd")
    else:
        assert w.raw(obj, record_id)["version"] == before["version"], "a refused update wrote"


def do_move(w, o, role, obj, relation):
    actor = w.actor(role)
    record_id = w.record_id(role, obj, "own")
    payload = move_payload(w, obj)
    before = w.raw(obj, record_id)
    response = w.client.patch(
        f"/api/v1/records/{obj}/{record_id}", json=payload, headers=w.headers(actor)
    )
    want = expect(o, w, role, obj, "move", record_id, payload, raw=before)
    try:
        assert_outcome(response, want, f"{role} moves own {obj} to 西南")
        if want[0] != 200:
            assert w.raw(obj, record_id)["version"] == before["version"], "a refused move wrote"
    finally:
        if response.status_code == 200:
            w.ws.records.update(SYSTEM, obj, record_id, {k: before[k] for k in payload})


def do_delete(w, o, role, obj, relation):
    actor = w.actor(role)
    record_id = w.record_id(role, obj, relation)
    before = w.raw(obj, record_id)
    response = w.client.delete(f"/api/v1/records/{obj}/{record_id}", headers=w.headers(actor))
    try:
        assert_outcome(response, expect(o, w, role, obj, "delete", record_id, raw=before), role)
    finally:
        if response.status_code == 204:
            w.ws.records.restore(SYSTEM, obj, record_id)


def do_restore(w, o, role, obj, relation):
    actor = w.actor(role)
    record_id = w.record_id(role, obj, relation)
    before = w.raw(obj, record_id)
    w.ws.records.delete(SYSTEM, obj, record_id)
    try:
        url = f"/api/v1/records/{obj}/{record_id}/restore"
        response = w.client.post(url, headers=w.headers(actor))
        assert_outcome(response, expect(o, w, role, obj, "restore", record_id, raw=before), role)
    finally:
        if w.raw(obj, record_id) is None:
            w.ws.records.restore(SYSTEM, obj, record_id)


RECORD_CELLS: dict[str, Callable[..., None]] = {
    "list": do_list,
    "export": do_export,
    "get": do_get,
    "history": do_history,
    "create": do_create,
    "import": do_import,
    "bulk": do_bulk,
    "update": do_update,
    "move": do_move,
    "delete": do_delete,
    "restore": do_restore,
}
# Cells that do not depend on a record's relation run once per role and object; restore and
# bulk share their gate with delete and import, so three relations show they are wired to it.
ONCE = frozenset({"list", "export", "move"})
FEW = {
    "restore": ("own", "other_region", "deal_room"),
    "bulk": ("own", "other_region", "deal_room"),
}


def record_cells() -> list[Any]:
    families = {family for family in ROUTE_COVERAGE.values() if family in RECORD_CELLS}
    families.add("move")
    cells = []
    for backend in ("sqlite", "postgresql"):
        for role in ROLES:
            for obj in OBJECTS:
                for op in sorted(families):
                    if backend == "postgresql" and (
                        role not in PG_ROLES or obj not in PG_OBJECTS or op not in PG_OPS
                    ):
                        continue
                    relations = ["-"] if op in ONCE else list(FEW.get(op, RELATIONS))
                    for relation in relations:
                        cells.append(
                            pytest.param(
                                backend,
                                role,
                                obj,
                                op,
                                relation,
                                id=f"{backend}-{role}-{op}-{obj}-{relation}",
                            )
                        )
    return cells


def oracle_of(w: World) -> Oracle:
    """One oracle per world (it caches checked scopes)."""
    if not hasattr(w, "oracle"):
        w.oracle = Oracle(w)  # type: ignore[attr-defined]
    return w.oracle  # type: ignore[attr-defined]


@pytest.fixture
def oracle(world) -> Oracle:
    return oracle_of(world)


@pytest.mark.parametrize(("backend", "role", "obj", "op", "relation"), record_cells())
def test_record_operation_answers_what_the_policy_allows(request, backend, role, obj, op, relation):
    w = request.getfixturevalue("world" if backend == "sqlite" else "pg_world")
    # Given a persona of the role, and a record standing in a relation to them
    # When they call the endpoint; Then the answer is the one the policy data gives
    RECORD_CELLS[op](w, oracle_of(w), role, obj, relation)


# The other routes ---------------------------------------------------------------------------

ADMIN_REFUSAL = {
    "/api/v1/access": "admin_required",
    "/api/v1/schema": "schema_admin_required",
    "/api/v1/flows": "admin_required",
}


UNKNOWN_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def other_requests(w: World) -> dict[tuple[str, str], dict[str, Any]]:
    """A concrete request per non-record route that changes nothing when it is allowed."""
    analyst_lead = next(
        p for p in default_policies() if p["role"] == "analyst" and p["object_name"] == "lead"
    )
    body = {k: analyst_lead[k] for k in ("operations", "row_scope", "field_rules")}
    fields = "/api/v1/schema/objects/account/fields"
    return {
        ("GET", "/api/openapi.json"): {"url": "/api/openapi.json"},
        ("GET", "/api/docs"): {"url": "/api/docs"},
        ("GET", "/docs/oauth2-redirect"): {"url": "/docs/oauth2-redirect"},
        **{(m, "/api/{path:path}"): {"url": "/api/no-such-endpoint"} for m in UNKNOWN_METHODS},
        ("GET", "/api/health"): {"url": "/api/health"},
        ("POST", "/api/v1/auth/token"): {
            "url": "/api/v1/auth/token",
            "json": {"username": "rep_east", "password": "not-the-password"},
        },
        ("GET", "/api/v1/auth/tokens"): {"url": "/api/v1/auth/tokens"},
        ("POST", "/api/v1/auth/tokens"): {
            "url": "/api/v1/auth/tokens",
            "json": {"name": "matrix", "scopes": ["records:read"], "ttl_hours": 1},
        },
        ("DELETE", "/api/v1/auth/tokens/{token_id}"): {"url": "/api/v1/auth/tokens/{victim}"},
        ("GET", "/api/v1/access/me"): {"url": "/api/v1/access/me"},
        ("GET", "/api/v1/access/roles"): {"url": "/api/v1/access/roles"},
        ("GET", "/api/v1/access/policies"): {"url": "/api/v1/access/policies"},
        ("PUT", "/api/v1/access/policies/{role}/{object_name}"): {
            "url": "/api/v1/access/policies/analyst/lead",
            "json": body,
        },
        # No partner policy on leads exists: an admin gets past the gate to a 404.
        ("DELETE", "/api/v1/access/policies/{role}/{object_name}"): {
            "url": "/api/v1/access/policies/partner/lead"
        },
        ("GET", "/api/v1/access/policies/{role}/{object_name}/versions"): {
            "url": "/api/v1/access/policies/sales_rep/account/versions"
        },
        ("GET", "/api/v1/audit"): {"url": "/api/v1/audit?limit=5"},
        ("GET", "/api/v1/schema/objects"): {"url": "/api/v1/schema/objects"},
        ("GET", "/api/v1/schema/objects/{object_name}"): {"url": "/api/v1/schema/objects/account"},
        ("POST", "/api/v1/schema/objects"): {"url": "/api/v1/schema/objects", "json": {}},
        ("POST", "/api/v1/schema/objects/{object_name}/fields"): {"url": fields, "json": {}},
        ("PATCH", "/api/v1/schema/objects/{object_name}/fields/{field_name}"): {
            "url": fields + "/no_such_field",
            "json": {"label": "x"},
        },
        ("DELETE", "/api/v1/schema/objects/{object_name}/fields/{field_name}"): {
            "url": fields + "/no_such_field"
        },
        ("POST", "/api/v1/schema/objects/{object_name}/fields/{field_name}/restore"): {
            "url": fields + "/no_such_field/restore"
        },
        # Bodies the schema service refuses (422), so an allowed call changes nothing.
        ("PUT", "/api/v1/schema/objects/{object_name}/field-order"): {
            "url": "/api/v1/schema/objects/account/field-order",
            "json": {"fields": "name"},
        },
        ("GET", "/api/v1/schema/objects/{object_name}/layout"): {
            "url": "/api/v1/schema/objects/account/layout"
        },
        ("PUT", "/api/v1/schema/objects/{object_name}/layout"): {
            "url": "/api/v1/schema/objects/account/layout",
            "json": {"sections": []},
        },
        ("POST", "/api/v1/files"): {
            "url": "/api/v1/files",
            "files": {"file": ("note.txt", b"hello", "text/plain")},
        },
        ("GET", "/api/v1/files/{file_id}"): {"url": "/api/v1/files/no-such-file"},
        ("GET", "/api/v1/flows"): {"url": "/api/v1/flows"},
        ("POST", "/api/v1/flows"): {"url": "/api/v1/flows", "json": {}},
        ("POST", "/api/v1/flows/check"): {"url": "/api/v1/flows/check", "json": {}},
        ("GET", "/api/v1/flows/runs"): {"url": "/api/v1/flows/runs"},
        ("GET", "/api/v1/flows/runs/{run_id}"): {"url": "/api/v1/flows/runs/999999"},
        ("POST", "/api/v1/flows/runs/{run_id}/retry"): {"url": "/api/v1/flows/runs/999999/retry"},
        ("POST", "/api/v1/flows/runs/{run_id}/cancel"): {"url": "/api/v1/flows/runs/999999/cancel"},
        ("GET", "/api/v1/flows/{name}"): {"url": "/api/v1/flows/no_such_flow"},
        ("POST", "/api/v1/flows/{name}/dry-run"): {
            "url": "/api/v1/flows/no_such_flow/dry-run",
            "json": {"object": "lead", "record_id": 999999},
        },
        ("POST", "/api/v1/flows/approvals/{approval_id}"): {
            "url": "/api/v1/flows/approvals/999999",
            "json": {"approved": True},
        },
        ("POST", "/api/v1/flows/annotations/{object_name}/{record_id}"): {
            "url": "/api/v1/flows/annotations/proposal/999999",
            "json": {"text": "my own strategy for this customer"},
        },
        ("POST", "/api/v1/flows/{name}/runs"): {
            "url": "/api/v1/flows/no_such_flow/runs",
            "json": {},
        },
        ("POST", "/api/v1/flows/{name}/webhook"): {
            "url": "/api/v1/flows/no_such_flow/webhook",
            "content": b"{}",
        },
        ("PATCH", R): {
            "url": "/api/v1/records/no_such_object",
            "json": {"ids": [1], "values": {"name": "x"}},
        },
        ("GET", "/api/v1/inbox"): {"url": "/api/v1/inbox"},
        ("POST", "/api/v1/inbox/read-all"): {"url": "/api/v1/inbox/read-all"},
        ("POST", "/api/v1/inbox/{message_id}/read"): {"url": "/api/v1/inbox/999999/read"},
        ("GET", "/api/v1/views"): {"url": "/api/v1/views"},
        ("POST", "/api/v1/views"): {
            "url": "/api/v1/views",
            "json": {"object_name": "no_such_object", "name": "x"},
        },
        ("GET", "/api/v1/views/{view_id}"): {"url": "/api/v1/views/999999"},
        ("PATCH", "/api/v1/views/{view_id}"): {"url": "/api/v1/views/999999", "json": {}},
        ("DELETE", "/api/v1/views/{view_id}"): {"url": "/api/v1/views/999999"},
    }


def _grants(role: str, object_name: str, operation: str) -> bool:
    return any(
        p["role"] == role
        and p["object_name"] in (object_name, "*")
        and operation in p["operations"]
        for p in default_policies()
    )


def expect_other(family: str, role: str | None, path: str) -> tuple[set[int], str | None]:
    """Allowed statuses and, when refused, the error code, for a non-record route."""
    anonymous = role is None
    if family == "public":
        return {200, 307}, None
    if family == "unknown_api":
        return {404}, "not_found"
    if family == "password_login":
        return {401}, "invalid_credentials"
    if family == "signed_webhook":
        # No token needed, and an unknown flow is simply not there (for anyone).
        return {404}, "flow_not_found"
    if anonymous:
        return {401}, "authentication_required"
    if family == "signed_in_missing":
        if "/annotations/" in path and not _grants(role, "proposal", "read"):
            return {403}, "operation_denied"
        return {404}, None
    if family == "signed_in":
        return {200, 201, 404}, None
    if family == "own_tokens":
        # Someone else's token: only an admin may revoke it; anyone else is told it is not there.
        return ({204}, None) if role == "admin" else ({404}, "token_not_found")
    if family == "audit_readers":
        allowed = role in ("admin", "legal_counsel")
        return ({200}, None) if allowed else ({403}, "audit_reader_required")
    if family == "admin_only":
        if role == "admin":
            return {200, 404, 422}, None
        code = next(c for prefix, c in ADMIN_REFUSAL.items() if path.startswith(prefix))
        return {403}, code
    raise AssertionError(f"no rule for the {family} routes")


def other_cells() -> list[Any]:
    cells = []
    for (method, path), family in sorted(ROUTE_COVERAGE.items()):
        if family in RECORD_CELLS:
            continue
        # Signing in with a password is the same for every role (and costs an argon2 hash).
        roles = [None] if family == "password_login" else [None, *ROLES]
        for role in roles:
            who = role or "anonymous"
            cells.append(pytest.param(method, path, role, id=f"{who}-{method}-{path}"))
    return cells


@pytest.mark.parametrize(("method", "path", "role"), other_cells())
def test_other_route_answers_its_access_rule(world, method, path, role):
    # Given a persona of the role (or nobody), and a request that changes nothing
    spec = dict(other_requests(world)[(method, path)])
    url = spec.pop("url")
    if "{victim}" in url:
        victim, _ = world.ws.identity.issue_token(
            world.ws.identity.principal_for_user(world.users["rep_east2"]), name="victim"
        )
        token_id = world.client.get(
            "/api/v1/auth/tokens", headers={"Authorization": f"Bearer {victim}"}
        ).json()["data"][-1]["id"]
        url = url.replace("{victim}", str(token_id))
    headers = world.headers(world.actor(role)) if role else {}
    if path == "/api/v1/auth/token":
        # One failure per user, so no lockout builds up across the cells
        spec["json"] = {**spec["json"], "username": world.actor(role) if role else "nobody"}

    # When they call the route
    response = world.client.request(method, url, headers=headers, **spec)

    # Then the answer follows the route's access rule
    allowed, code = expect_other(ROUTE_COVERAGE[(method, path)], role, path)
    assert response.status_code in allowed, f"{response.status_code} {response.text[:300]}"
    if code is not None:
        assert response.json()["error"]["code"] == code


def test_masked_and_hidden_keys_are_exactly_the_system_columns_plus_policy_fields(world, oracle):
    # A guard on the oracle itself: a rep's account hides the supply chain, shows the rest.
    shown = oracle.shown(["sales_rep"], "account")
    assert {"credit_limit", "supply_chain_notes", "annual_revenue"}.isdisjoint(shown)
    assert {"name", "region", "phone"} <= set(shown)
    assert oracle.shown(["sales_rep"], "contact")["phone"] == "masked"
    assert "last_contacted_at" not in oracle.shown(["admin"], "contact")
    assert "last_contacted_at" in oracle.shown(["admin"], "contact", ["sales_followup"])
    assert SYSTEM_KEYS == {"id", "version", "created_at", "updated_at", "created_by", "updated_by"}


def test_matrix_cell_fails_when_the_engine_departs_from_the_policy_data(world, oracle):
    # Given the rep's account policy changed in the database only, showing the credit limit
    default = next(
        p for p in default_policies() if p["role"] == "sales_rep" and p["object_name"] == "account"
    )
    world.ws.policies.save({**default, "field_rules": {}}, actor_id=None)
    try:
        # Then the matrix cell of a rep reading an account notices
        with pytest.raises(AssertionError, match="credit_limit"):
            do_get(world, oracle, "sales_rep", "account", "own")
    finally:
        world.ws.policies.save(default, actor_id=None)
