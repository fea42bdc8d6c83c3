import pytest
pytestmark = pytest.mark.anyio
async def test_dbg(user):
    r = await user.http_client.get("/login")
    print("HEADERS", r.headers.get_list("set-cookie"), dict(user.http_client.cookies))
    from nicegui import core
    print("MW", [m.cls.__name__ for m in core.app.user_middleware])
