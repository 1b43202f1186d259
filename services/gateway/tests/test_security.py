"""Unit tests of the browser protections and forwarding rules (no processes)."""

from __future__ import annotations

import pytest
from starlette.requests import Request
from starlette.responses import Response

from gas_gateway.forwarding import upstream_path
from gas_gateway.payments import TEST_CARD_ACCEPTED, TEST_CARD_DECLINED, TestModePayments
from gas_gateway.security import Cookies, csrf_problem, safe_return_path

PUBLIC_URL = "https://gas.example.org"


def request(method: str, headers: dict[str, str]) -> Request:
    return Request(
        {
            "type": "http",
            "method": method,
            "path": "/api/tokens",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
    )


def test_production_cookies_are_host_prefixed_secure_and_http_only() -> None:
    response = Response()
    Cookies(secure=True).set_session(response, session_id="s", csrf_token="c", max_age=60)
    session, csrf = response.headers.getlist("set-cookie")
    assert session.startswith("__Host-gas_session=s;")
    assert "Secure" in session and "HttpOnly" in session and "SameSite=lax" in session
    assert csrf.startswith("__Host-gas_csrf=c;") and "Secure" in csrf and "HttpOnly" not in csrf


@pytest.mark.parametrize(
    ("method", "headers", "refused"),
    [
        ("GET", {}, False),
        ("POST", {}, True),
        ("POST", {"X-CSRF-Token": "wrong"}, True),
        ("POST", {"X-CSRF-Token": "tok"}, False),
        ("POST", {"X-CSRF-Token": "tok", "Origin": PUBLIC_URL}, False),
        ("DELETE", {"X-CSRF-Token": "tok", "Origin": "https://evil.example"}, True),
        ("POST", {"X-CSRF-Token": "tok", "Referer": "https://evil.example/page"}, True),
        ("PUT", {"X-CSRF-Token": "tok", "Referer": f"{PUBLIC_URL}/jobs"}, False),
    ],
)
def test_csrf_check(method: str, headers: dict[str, str], refused: bool) -> None:
    problem = csrf_problem(request(method, headers), expected_token="tok", public_url=PUBLIC_URL)
    assert (problem is not None) is refused


@pytest.mark.parametrize(
    ("asked", "allowed"),
    [(None, "/"), ("/jobs/1", "/jobs/1"), ("//evil.example", "/"), ("https://evil.example", "/")],
)
def test_login_returns_only_to_our_own_pages(asked: str | None, allowed: str) -> None:
    assert safe_return_path(asked) == allowed


def test_forwarded_paths_cannot_leave_the_jobs_api() -> None:
    assert upstream_path("abc/submit") == "/abc/submit"
    assert upstream_path("") == ""
    assert upstream_path("../internal/users/1") is None
    assert upstream_path("a b/log") == "/a%20b/log"


async def test_test_mode_payments_accept_the_test_card_and_decline_others() -> None:
    payments = TestModePayments()
    assert (await payments.charge_upgrade(user_id="u", card_number=TEST_CARD_ACCEPTED)).accepted
    declined = await payments.charge_upgrade(user_id="u", card_number=TEST_CARD_DECLINED)
    assert not declined.accepted and "declined" in declined.message
    assert not (
        await payments.charge_upgrade(user_id="u", card_number="5555 5555 5555 4444")
    ).accepted
