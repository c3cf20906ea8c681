"""The dashboard's forms: signing in with a token, and managing the quarantine.

Bodies are parsed here (`application/x-www-form-urlencoded`), which spares a multipart
dependency. Every state-changing form carries the CSRF field of the signed-in token.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from splice._internal.store import quarantine
from splice._internal.store.errors import StoreError
from splice._internal.web.auth import COOKIE, config, viewer
from splice._internal.web.pages import render

router = APIRouter(include_in_schema=False)
FORM_LIMIT = 64 * 1024


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > FORM_LIMIT:
        return {}
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _safe_next(value: str) -> str:
    """Only a path of this site: never an open redirect to another host."""
    return value if value.startswith("/") and not value.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/", error: str = "") -> Response:
    return render(
        request,
        "login.html.j2",
        public=True,
        title="Sign in",
        nav="",
        next=_safe_next(next),
        error=error,
    )


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    token = form.get("token", "").strip()
    target = _safe_next(form.get("next", "/"))
    if config(request).scope(token) is None:
        return RedirectResponse(f"/login?error=unknown&next={quote(target)}", status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=30 * 86400,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.post("/quarantine/add")
async def quarantine_add(request: Request) -> Response:
    form = await _form(request)
    denied = _check(request, form)
    if denied is not None:
        return denied
    key = form.get("test", "").strip()
    back = _safe_next(form.get("back", "/quarantine"))
    try:
        quarantine.add(request.app.state.store, key, form.get("reason", "").strip(), "dashboard")
    except StoreError as exc:
        return RedirectResponse(f"/quarantine?error={quote(exc.message)}", status_code=303)
    return RedirectResponse(back, status_code=303)


@router.post("/quarantine/remove")
async def quarantine_remove(request: Request) -> Response:
    form = await _form(request)
    denied = _check(request, form)
    if denied is not None:
        return denied
    quarantine.remove(request.app.state.store, form.get("test", ""))
    return RedirectResponse(_safe_next(form.get("back", "/quarantine")), status_code=303)


def _check(request: Request, form: dict[str, str]) -> Response | None:
    """None when the signed-in token may write and the CSRF field matches; else a 403 page."""
    who = viewer(request)
    token = request.cookies.get(COOKIE)
    if not who.can_write or not config(request).csrf_ok(token, form.get("csrf")):
        return render(
            request,
            "error.html.j2",
            status_code=403,
            title="Not allowed",
            nav="",
            message="Changing the quarantine needs a write token: sign in with one, "
            "then try again from the page.",
        )
    return None
