"""Dependencies every route uses: settings, database session, the person asking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from strigil.api.live import LiveHub
from strigil.api.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    InvalidTokenError,
    decode_access_token,
)
from strigil.config import Settings
from strigil.store.models import Role, User

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as db:
        yield db


def hub_of(request: Request) -> LiveHub:
    """The process's live hub (store thread, live sessions, viewers)."""
    hub: LiveHub = request.app.state.hub
    return hub


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]

_UNAUTHENTICATED = HTTPException(
    status_code=status.HTTP_401_UNAUTHORIZED,
    detail="log in first: POST /api/v1/auth/login, then send the token as a bearer token",
    headers={"WWW-Authenticate": "Bearer"},
)


def get_current_user(request: Request, settings: SettingsDep, db: SessionDep) -> User:
    """The logged-in user, from a bearer token or the session cookie.

    A write authenticated by cookie must carry the CSRF cookie's value in the X-CSRF-Token
    header (double submit), and that value must be the one the token was issued with.
    """
    header = request.headers.get("Authorization", "")
    via_cookie = False
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    else:
        token = request.cookies.get(SESSION_COOKIE, "")
        via_cookie = True
    if not token:
        raise _UNAUTHENTICATED
    try:
        claims = decode_access_token(token, key=settings.signing_key())
    except InvalidTokenError:
        raise _UNAUTHENTICATED from None
    if via_cookie and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or sent != request.cookies.get(CSRF_COOKIE) or sent != claims.csrf:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"cookie-authenticated writes need the {CSRF_HEADER} header "
                f"(the value of the {CSRF_COOKIE} cookie)",
            )
    user = db.get(User, claims.user_id)
    if user is None or not user.active or user.clinic_id != claims.clinic_id:
        raise _UNAUTHENTICATED
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_roles(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency admitting only these roles (403 for the others)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this needs the role {' or '.join(r.value for r in roles)}",
            )
        return user

    return Depends(check)
