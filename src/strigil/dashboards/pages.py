"""The dashboards: HTML pages and their static files, served by the API itself (no CDN).

Each page is the one HTML shell (``static/pages/shell.html``) with its own script, which
reads the API with the session cookie set at login; the API checks every request. The page
routes check too, so a person who is not logged in is sent to the login page, and one whose
role may not use a page gets a 403 page that says which role it needs, not an empty shell.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from strigil.api.deps import get_settings, user_of_token
from strigil.api.security import SESSION_COOKIE
from strigil.store.models import Role, User

STATIC_DIR = Path(str(resources.files("strigil.dashboards"))) / "static"
VENDOR_FILES = ("uPlot.iife.min.js", "uPlot.min.css", "swagger-ui-bundle.js", "swagger-ui.css")

ANYONE = frozenset(Role)
RUNS_SESSIONS = frozenset({Role.ADMIN, Role.THERAPIST})
PAGES: dict[str, tuple[str, str, frozenset[Role]]] = {
    # path: (script in static/js, title, roles)
    "/": ("home", "Sessions", ANYONE),
    "/live/{session_id}": ("live", "Live view", RUNS_SESSIONS),
    "/report/{session_id}": ("report", "Session report", ANYONE),
    "/patients/{patient_id}": ("course", "Patient course", ANYONE),
    "/drill": ("drill", "Practice drill", RUNS_SESSIONS),
    "/practice": ("practice", "Practice", RUNS_SESSIONS),
    "/research": ("research", "Research export", frozenset({Role.ADMIN, Role.RESEARCHER})),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class MissingStaticFilesError(RuntimeError):
    """The front-end packages were not copied into the package (``make`` does it)."""


@cache
def _page(name: str) -> str:
    return (STATIC_DIR / "pages" / name).read_text(encoding="utf-8")


def check_static_files() -> None:
    """Raise MissingStaticFilesError naming the command that builds the vendor files."""
    missing = [f for f in VENDOR_FILES if not (STATIC_DIR / "vendor" / f).is_file()]
    if missing:
        raise MissingStaticFilesError(
            f"the dashboards' front-end files are missing ({', '.join(missing)} in "
            f"{STATIC_DIR / 'vendor'}): run `make` (or `cd web && npm ci && npm run build`)"
        )


def _who(request: Request) -> User | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    with request.app.state.sessionmaker() as db:
        found = user_of_token(db, token, key=get_settings(request).signing_key())
        return None if found is None else found[0]


def _html(body: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


def _forbidden(roles: frozenset[Role]) -> HTMLResponse:
    needed = " or ".join(sorted(r.value for r in roles))
    return _html(_page("forbidden.html").replace("{{roles}}", needed), status_code=403)


@cache
def _shell(script: str, title: str) -> str:
    """A page: the one HTML shell with its title and script (the script builds the page)."""
    return _page("shell.html").replace("{{title}}", title).replace("{{script}}", script)


def _serve(script: str, title: str, roles: frozenset[Role]):  # type: ignore[no-untyped-def]
    def page(request: Request) -> Response:
        user = _who(request)
        if user is None:
            target = quote(request.url.path, safe="/")
            return RedirectResponse(f"/login?next={target}", status_code=303)
        if user.role not in roles:
            return _forbidden(roles)
        return _html(_shell(script, title))

    return page


def mount_dashboards(app: FastAPI) -> None:
    """Add the pages and ``/static`` to the app."""
    check_static_files()
    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    def login_page() -> HTMLResponse:
        return _html(_page("login.html"))

    @router.get("/docs")
    def api_docs() -> HTMLResponse:
        """Swagger UI from the package's own files, under the pages' CSP (no CDN)."""
        return _html(_page("docs.html"))

    for path, (script, title, roles) in PAGES.items():
        router.add_api_route(path, _serve(script, title, roles), methods=["GET"])
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
