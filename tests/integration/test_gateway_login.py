"""Browser login through the real dev IdP, sessions, CSRF, logout and API tokens."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from gas_testing.gateway import DevIdp, browser_login, start_idp
from gas_testing.localstack import stop_process
from gas_testing.plugin import ServiceProcess

pytestmark = pytest.mark.integration


def test_login_sets_a_hardened_session_cookie_and_rotates_it(
    accounts_gateway: ServiceProcess,
) -> None:
    with httpx.Client() as browser:
        final = browser_login(browser, accounts_gateway.url, login="free", password="free")
        callback = next(r for r in final.history if r.url.path == "/auth/callback")
        assert callback.status_code == 303
        set_cookies = callback.headers.get_list("set-cookie")
        session_cookie = next(c for c in set_cookies if c.startswith("gas_session="))
        flags = session_cookie.lower()
        assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
        csrf_cookie = next(c for c in set_cookies if c.startswith("gas_csrf="))
        assert "httponly" not in csrf_cookie.lower()
        assert not any("verifier" in c or "id_token" in c for c in set_cookies)
        first_session = browser.cookies["gas_session"]

        me = browser.get(f"{accounts_gateway.url}/api/me")
        assert me.status_code == 200, me.text
        assert me.json()["email"] == "free@example.org"
        assert me.json()["tier"] == "free"

        # Still signed in at the IdP: logging in again goes straight through, with a new id.
        again = browser.get(f"{accounts_gateway.url}/auth/login", follow_redirects=True)
        assert any(r.url.path == "/auth/callback" for r in again.history)
        assert browser.cookies["gas_session"] != first_session
        stale = httpx.get(f"{accounts_gateway.url}/api/me", cookies={"gas_session": first_session})
        assert stale.status_code == 401


def test_unsafe_requests_need_the_csrf_token_and_logout_ends_the_session(
    accounts_gateway: ServiceProcess, dev_idp: DevIdp
) -> None:
    with httpx.Client() as browser:
        browser_login(browser, accounts_gateway.url, login="free", password="free")
        csrf = browser.cookies["gas_csrf"]

        refused = browser.post(f"{accounts_gateway.url}/api/tokens", json={"name": "laptop"})
        assert refused.status_code == 403
        assert "X-CSRF-Token" in refused.json()["detail"]
        cross_site = browser.post(
            f"{accounts_gateway.url}/api/tokens",
            json={"name": "laptop"},
            headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
        )
        assert cross_site.status_code == 403
        accepted = browser.post(
            f"{accounts_gateway.url}/api/tokens",
            json={"name": "laptop"},
            headers={"X-CSRF-Token": csrf, "Origin": accounts_gateway.url},
        )
        assert accepted.status_code == 201, accepted.text

        session = browser.cookies["gas_session"]
        assert browser.post(f"{accounts_gateway.url}/auth/logout").status_code == 403
        logout = browser.post(
            f"{accounts_gateway.url}/auth/logout",
            headers={"X-CSRF-Token": csrf},
            follow_redirects=False,
        )
        assert logout.status_code == 303
        assert logout.headers["location"].startswith(f"{dev_idp.url}/session/end")
        assert "id_token_hint=" in logout.headers["location"]
        after = httpx.get(f"{accounts_gateway.url}/api/me", cookies={"gas_session": session})
        assert after.status_code == 401


def test_api_token_works_until_revoked(accounts_gateway: ServiceProcess) -> None:
    with httpx.Client() as browser:
        browser_login(browser, accounts_gateway.url, login="other", password="other")
        csrf = {"X-CSRF-Token": browser.cookies["gas_csrf"]}
        created = browser.post(
            f"{accounts_gateway.url}/api/tokens", json={"name": "ci"}, headers=csrf
        )
        token = created.json()["token"]
        assert token.startswith(f"gas_{created.json()['prefix']}_")

        listed = browser.get(f"{accounts_gateway.url}/api/tokens").json()
        assert listed["count"] == 1 and "token" not in listed["data"][0]

    script = httpx.Client(
        base_url=accounts_gateway.url, headers={"Authorization": f"Bearer {token}"}
    )
    assert script.get("/api/me").json()["email"] == "other@example.org"
    # A script with a token needs no CSRF header: it sends no ambient credentials.
    assert script.post("/api/tokens", json={"name": "second"}).status_code == 201

    token_id = created.json()["id"]
    assert script.delete(f"/api/tokens/{token_id}").status_code == 204
    refused = script.get("/api/me")
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    assert httpx.get(f"{accounts_gateway.url}/api/me").status_code == 401


def test_wrong_password_keeps_the_user_at_the_idp(accounts_gateway: ServiceProcess) -> None:
    with httpx.Client() as browser:
        page = browser_login(browser, accounts_gateway.url, login="free", password="nope")
        assert page.status_code == 401
        assert "Wrong login or password" in page.text
        assert "gas_session" not in browser.cookies


def test_the_dev_idp_keeps_its_signing_key_across_restarts(tmp_path: Path) -> None:
    url, process = start_idp(tmp_path / "data", tmp_path / "idp.log")
    try:
        keys = httpx.get(f"{url}/jwks").json()["keys"]
    finally:
        stop_process(process)
    assert keys and all("d" not in key for key in keys), "private key material published"

    url, process = start_idp(tmp_path / "data", tmp_path / "idp.log")
    try:
        assert httpx.get(f"{url}/jwks").json()["keys"] == keys
    finally:
        stop_process(process)
    assert (tmp_path / "data" / "keys.json").stat().st_mode & 0o077 == 0
