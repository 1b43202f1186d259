"""Browser-facing protections: cookie names and flags, the CSRF check, safe redirects."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from gas_gateway.settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADER = "X-CSRF-Token"
LOGIN_COOKIE_MAX_AGE = 600


@dataclass(frozen=True)
class Cookies:
    """Names and flags; in production (https) the ``__Host-`` prefix pins them to our origin."""

    secure: bool

    def _name(self, base: str) -> str:
        return f"__Host-{base}" if self.secure else base

    @property
    def session(self) -> str:
        return self._name("gas_session")

    @property
    def csrf(self) -> str:
        return self._name("gas_csrf")

    @property
    def login(self) -> str:
        return self._name("gas_login")

    def set_session(
        self, response: Response, *, session_id: str, csrf_token: str, max_age: int
    ) -> None:
        self._set(response, self.session, session_id, max_age=max_age)
        # Readable by the SPA, which echoes it in the X-CSRF-Token header; useless on its own.
        self._set(response, self.csrf, csrf_token, max_age=max_age, httponly=False)

    def clear_session(self, response: Response) -> None:
        self._delete(response, self.session)
        self._delete(response, self.csrf)

    def set_login(self, response: Response, state: str) -> None:
        self._set(response, self.login, state, max_age=LOGIN_COOKIE_MAX_AGE)

    def clear_login(self, response: Response) -> None:
        self._delete(response, self.login)

    def _set(
        self, response: Response, name: str, value: str, *, max_age: int, httponly: bool = True
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=httponly,
            samesite="lax",
        )

    def _delete(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", secure=self.secure, httponly=True, samesite="lax")


def cookies_for(settings: Settings) -> Cookies:
    return Cookies(secure=settings.secure_cookies)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def csrf_problem(request: Request, *, expected_token: str, public_url: str) -> str | None:
    """Why this cookie-authenticated request must be refused, or None when it may proceed."""
    if request.method in SAFE_METHODS:
        return None
    allowed_origin = origin_of(public_url)
    origin = request.headers.get("origin")
    referer = request.headers.get("referer")
    if origin is not None and origin != allowed_origin:
        return f"cross-site request refused (Origin {origin} is not {allowed_origin})"
    if origin is None and referer is not None and origin_of(referer) != allowed_origin:
        return "cross-site request refused (the Referer is another site)"
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent, expected_token):
        return f"missing or wrong {CSRF_HEADER} header: send the value of the gas_csrf cookie"
    return None


def safe_return_path(value: str | None) -> str:
    """Only same-site paths: never an open redirect to another host."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
