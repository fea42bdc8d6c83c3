import pytest

pytestmark = pytest.mark.anyio


async def test_sign_in(user):
    await user.open("/")
    await user.should_see("Sign in")
    user.find(marker="username").type("rep_east")
    user.find(marker="password").type("web-test-password")
    user.find(marker="login").click()
    await user.should_see("Call the CIO back")
