"""Signing in, and the rule that every endpoint but a few needs a bearer token."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from fixtures_fast import PERSONAS, persona

from dealcraft.app import create_app

# Endpoints anyone may call: signing in, the health check and the API documentation.
PUBLIC = {
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/health"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/docs/oauth2-redirect"),
    # Inbound flow webhooks authenticate by each flow's signing secret, not a bearer token.
    ("POST", "/api/v1/flows/{name}/webhook"),
}
# Unknown /api paths answer a JSON 404 before the web app's catch-all.
CATCH_ALL = "/api/{path:path}"


def all_routes(routes, prefix: str = ""):
    """(method, path) of every route, also inside included routers of newer FastAPI."""
    for route in routes:
        if getattr(route, "path", None) is not None and getattr(route, "methods", None):
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                yield method, prefix + route.path
        original = getattr(route, "original_router", None)
        if original is not None:
            context = getattr(route, "include_context", None)
            yield from all_routes(original.routes, prefix + (getattr(context, "prefix", "") or ""))
        elif getattr(route, "routes", None) and getattr(route, "path", None) is not None:
            yield from all_routes(route.routes, prefix + route.path)


@pytest.fixture
def anonymous(crm_sqlite):
    with TestClient(create_app(crm_sqlite), raise_server_exceptions=False) as c:
        yield c


def test_sign_in_with_right_password_returns_a_bearer_token(anonymous):
    # when admin_ada signs in
    username, password, _role, _region = PERSONAS["admin_ada"]
    answer = anonymous.post("/api/v1/auth/token", json={"username": username, "password": password})

    # then she gets a bearer token that opens the API
    assert answer.status_code == 200
    body = answer.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("dct_")
    objects = anonymous.get(
        "/api/v1/schema/objects", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert objects.status_code == 200


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin_ada", "not-her-password"), ("nobody", "whatever-password")],
    ids=["wrong_password", "unknown_user"],
)
def test_sign_in_with_wrong_credentials_is_refused(anonymous, username, password):
    answer = anonymous.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_credentials"
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_sign_in_without_password_is_refused_as_invalid_request(anonymous):
    answer = anonymous.post("/api/v1/auth/token", json={"username": "admin_ada"})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_request", "password")


def test_sign_in_with_malformed_json_names_the_body(anonymous):
    answer = anonymous.post(
        "/api/v1/auth/token", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert (error["code"], error["details"]["field"]) == ("invalid_request", "body")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "authentication_required"),
        ("Basic YWRtaW46YWRtaW4=", "authentication_required"),
        ("Bearer dct_forged", "invalid_token"),
    ],
)
def test_request_without_valid_token_is_refused(anonymous, header, code):
    headers = {"Authorization": header} if header else {}
    answer = anonymous.get("/api/v1/records/account", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == code


def test_request_with_revoked_token_is_refused(crm_sqlite, anonymous):
    token, _ = crm_sqlite.identity.issue_token(persona(crm_sqlite, "rep_east"))
    crm_sqlite.identity.revoke_token(token)
    answer = anonymous.get("/api/v1/records/account", headers={"Authorization": f"Bearer {token}"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (401, "invalid_token")


def test_every_route_but_the_public_ones_requires_a_token(anonymous):
    # given every route the app serves
    # (the web app's pages sign people in themselves; the API is everything under /api)
    routes = sorted(
        (m, p) for m, p in set(all_routes(anonymous.app.routes)) if p.startswith("/api/")
    )
    assert ("GET", "/api/v1/records/{object_name}") in routes

    # when each private one is called without a token
    answers = {}
    for method, path in routes:
        if (method, path) in PUBLIC or path == CATCH_ALL:
            continue
        url = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "1" if "id" in m.group(1) else "account", path)
        answer = anonymous.request(method, url, json={})
        answers[(method, path)] = (answer.status_code, answer.json()["error"]["code"])

    # then every one answers 401 authentication_required
    assert len(answers) >= 15
    refused = {
        route: result
        for route, result in answers.items()
        if result != (401, "authentication_required")
    }
    assert refused == {}


def test_public_routes_answer_without_a_token(anonymous):
    assert anonymous.get("/api/health").json()["status"] == "ok"
    assert anonymous.get("/api/openapi.json").status_code == 200
