"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from gas_core.auth import InternalIdentity, InvalidInternalToken, verify_internal_token
from gas_jobs.service import Jobs


def _jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


def _current_user(request: Request) -> InternalIdentity:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Missing internal token: call this API through the gateway.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return verify_internal_token(token, _jobs(request).stack.internal_jwt_secret)
    except InvalidInternalToken as error:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Invalid or expired internal token.",
            headers={"WWW-Authenticate": "Bearer"},
        ) from error


JobsDep = Annotated[Jobs, Depends(_jobs)]
CurrentUser = Annotated[InternalIdentity, Depends(_current_user)]
