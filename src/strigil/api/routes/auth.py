"""Logging in and out."""

from __future__ import annotations

import secrets
import time

from fastapi import APIRouter, HTTPException, Request, Response, status
from sqlalchemy import select

from strigil.api.deps import (
    CurrentUser,
    SessionDep,
    SettingsDep,
    renew_token,
    request_principal,
    set_session_cookies,
)
from strigil.api.schemas import (
    LoginRequest,
    TokenResponse,
)
from strigil.api.security import CSRF_COOKIE, SESSION_COOKIE, create_access_token
from strigil.store.clinics import audit
from strigil.store.models import User
from strigil.store.passwords import verify_password

router = APIRouter(prefix="/auth", tags=["auth"])


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login", response_model=TokenResponse)
def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    db: SessionDep,
    settings: SettingsDep,
) -> TokenResponse:
    """A short-lived token, as JSON (bearer use) and as an HttpOnly cookie (dashboards)."""
    limiter = request.app.state.login_limiter
    client = _client(request)
    wait = limiter.retry_after_s(body.username, client)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed logins: try again in {wait:.0f} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    user = db.scalars(select(User).where(User.username == body.username)).first()
    password_hash = user.password_hash if user is not None and user.active else None
    matches = verify_password(password_hash, body.password)  # always: timing tells nothing
    if user is None or not matches:
        limiter.failed(body.username, client)
        audit(
            db,
            "login_failed",
            clinic_id=None if user is None else user.clinic_id,
            user_id=None if user is None else user.id,
            detail={"username": body.username, "client": client},
        )
        db.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="wrong username or password")
    limiter.succeeded(body.username, client)
    csrf = secrets.token_urlsafe(24)
    token, expires = create_access_token(
        user_id=user.id,
        clinic_id=user.clinic_id,
        role=user.role,
        csrf=csrf,
        key=settings.signing_key(),
        minutes=settings.token_minutes,
    )
    audit(db, "login", clinic_id=user.clinic_id, user_id=user.id, detail={"client": client})
    db.commit()
    max_age = set_session_cookies(request, response, token, expires, csrf=csrf)
    return TokenResponse(
        access_token=token, expires_in_s=max_age, role=user.role.value, csrf_token=csrf
    )


@router.post("/refresh", response_model=TokenResponse)
def refresh(
    request: Request, response: Response, db: SessionDep, settings: SettingsDep
) -> TokenResponse:
    """A fresh token for the same login (bearer clients; the dashboards' cookie renews by
    itself), until ``session_max_hours`` after the login: then 401, log in again."""
    found = request_principal(request, db, settings)
    if found is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="log in first")
    user, claims, via_cookie = found
    renewed = renew_token(claims, settings)
    if renewed is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail=f"the session reached its limit of {settings.session_max_hours:g} h "
            "(STRIGIL_SESSION_MAX_HOURS): log in again",
        )
    new, expires = renewed
    max_age = max(int(expires - time.time()), 1)
    if via_cookie:
        set_session_cookies(request, response, new, expires, csrf=claims.csrf)
    return TokenResponse(
        access_token=new, expires_in_s=max_age, role=user.role.value, csrf_token=claims.csrf
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, response: Response) -> Response:
    """Forget the cookies (tokens expire by themselves)."""
    response.status_code = status.HTTP_204_NO_CONTENT
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response
