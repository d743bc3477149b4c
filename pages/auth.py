"""Console login and the guard in front of every request: session, CSRF, permission.

``/login`` (a self-contained form, zh-CN + English) checks the password with
:func:`store.users.authenticate`, opens a server-side session and sets two cookies: the session
(HttpOnly, SameSite=Strict) and ``_csrf_token`` (readable by the page: dash-renderer sends it
back as the ``X-CSRFToken`` header of every callback POST). The guard runs before anything else
on the Flask server: a route not in :data:`ROUTES` is refused, a Dash callback not registered
through :func:`callback` / :func:`clientside_callback` is refused, every other request needs a
live session, every POST the session's CSRF token, and the route's or callback's action
(:data:`store.access.PERMISSIONS`) for the user's role. Callbacks read the user with
:func:`principal` and pass its scope to every store query.

Every login attempt and every logout writes exactly one audit entry. Passwords, session
cookies and CSRF tokens are never logged or echoed.
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import flask
from dash import Dash
from markupsafe import escape
from sqlalchemy import Engine

from settings import Settings
from store import audit, users
from store.access import PERMISSIONS, AccessDenied, allowed
from store.scope import Principal

SESSION_COOKIE = "sightline_session"
CSRF_COOKIE = "_csrf_token"  # dash-renderer's default name: it sends the value as X-CSRFToken
CSRF_HEADER = "X-CSRFToken"
LOGIN_CSRF_COOKIE = "sightline_login_csrf"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
CALLBACK_ACTIONS = "sightline.callback_actions"
"""Key in ``app.server.extensions``: Dash callback (``callback_map`` key) -> action."""
NAME_IN_AUDIT = 64  # characters of an attempted user name kept in a refused login's entry

PUBLIC = "public"
SESSION = "session"
CALLBACK = "callback"
ROUTES: dict[str, str] = {
    # The login form is self-contained; Dash's scripts, our assets and the favicon hold no data.
    "login": PUBLIC,
    "_dash_assets.static": PUBLIC,
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": PUBLIC,
    "/_favicon.ico": PUBLIC,
    "logout": SESSION,
    "/": "view",
    "/<path:path>": "view",
    "/_dash-layout": "view",
    "/_dash-dependencies": "view",
    "/_reload-hash": "view",
    "static": "view",
    "/_dash-update-component": CALLBACK,
    "audit": "admin",
    "export_assessment": "export",  # the assessment table as CSV (pages/assessment.py)
    "device_tiles": "view",  # camera tiles of a large city, read for the user's scope
    "export_trajectory": "export",  # a trajectory result as GeoJSON/GPX/CSV (pages/trajectory.py)
}
"""Flask endpoint -> who may use it: ``public``; ``session`` (any logged-in user); ``callback``
(the action registered for the Dash callback named in the request); else an action of
:data:`store.access.PERMISSIONS`. An endpoint missing here is refused to everyone."""
HTML_ENDPOINTS = frozenset({"/", "/<path:path>", "audit"})
"""Pages a browser navigates to: without a session they redirect to the login form."""

F = TypeVar("F", bound=Callable[..., Any])


# -- what callbacks use -----------------------------------------------------------------------
def principal() -> Principal:
    """The logged-in user of this request (set by the guard).

    Raises
    ------
    AccessDenied
        Outside a request the guard let through (fail closed).
    """
    who = flask.g.get("sightline_principal") if flask.has_request_context() else None
    if not isinstance(who, Principal):
        raise AccessDenied("no logged-in user for this request")
    return who


def current_principal() -> Principal | None:
    """The logged-in user of this request, or None (no request, no session)."""
    if not flask.has_request_context():
        return None
    who = flask.g.get("sightline_principal")
    return who if isinstance(who, Principal) else None


def _actions(app: Dash) -> dict[str, str]:
    table: dict[str, str] = app.server.extensions.setdefault(CALLBACK_ACTIONS, {})
    return table


def _register(app: Dash, before: set[str], action: str) -> None:
    if action not in PERMISSIONS:
        raise ValueError(f"unknown action {action!r}; see store.access.PERMISSIONS")
    new = set(app.callback_map) - before
    if not new:
        raise ValueError("no callback was registered")
    for key in new:
        _actions(app)[key] = action


def callback(app: Dash, action: str, *args: Any, **kwargs: Any) -> Callable[[F], F]:
    """``app.callback(*args, **kwargs)`` for users whose role may do ``action``: the guard
    refuses the request otherwise, and the function checks again before it runs."""
    if action not in PERMISSIONS:
        raise ValueError(f"unknown action {action!r}; see store.access.PERMISSIONS")

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def guarded(*a: Any, **k: Any) -> Any:
            who = principal()
            if not allowed(who, action):
                raise AccessDenied(f"role {who.role!r} may not {action}")
            return fn(*a, **k)

        before = set(app.callback_map)
        app.callback(*args, **kwargs)(guarded)
        _register(app, before, action)
        return fn

    return decorate


def clientside_callback(app: Dash, action: str, js: str, *args: Any, **kwargs: Any) -> None:
    """``app.clientside_callback`` classified under ``action`` (it never reaches the server,
    but its components are only in the layout of users whose role may do ``action``)."""
    before = set(app.callback_map)
    app.clientside_callback(js, *args, **kwargs)
    _register(app, before, action)


def callback_actions(app: Dash) -> dict[str, str]:
    """Every registered callback (``callback_map`` key) and the action it needs."""
    return dict(_actions(app))


# -- the guard ----------------------------------------------------------------------------------
def _refuse(status: int, message: str) -> flask.Response:
    resp = flask.jsonify({"error": message})
    resp.status_code = status
    return resp


def _to_login() -> flask.Response:
    here = flask.request.full_path.rstrip("?") if flask.request.query_string else \
        flask.request.path  # fmt: skip
    return flask.redirect(f"{LOGIN_PATH}?{urllib.parse.urlencode({'next': here})}", 303)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _guard(app: Dash, settings: Settings, engine: Engine) -> flask.Response | None:
    request = flask.request
    rule = request.url_rule
    if rule is None:
        return _refuse(404, "no such page")
    need = ROUTES.get(rule.endpoint)
    if need is None:
        return _refuse(403, "this route is not open to anyone")
    if need == PUBLIC:
        return None
    token = request.cookies.get(SESSION_COOKIE, "")
    session = None
    if token:
        with engine.begin() as conn:
            session = users.session_of(conn, token, idle_minutes=settings.session_idle_minutes)
    if session is None:
        if request.method in ("GET", "HEAD") and rule.endpoint in HTML_ENDPOINTS:
            return _to_login()
        return _refuse(401, "login required (the session ended or expired)")
    if request.method not in ("GET", "HEAD", "OPTIONS") and not _same(
        request.headers.get(CSRF_HEADER, ""), session.csrf_token
    ):
        return _refuse(403, "missing or wrong CSRF token: reload the page")
    flask.g.sightline_principal = session.principal
    flask.g.sightline_session = token
    action: str | None = need
    if need == CALLBACK:
        body = request.get_json(silent=True)
        output = body.get("output") if isinstance(body, dict) else None
        action = _actions(app).get(output) if isinstance(output, str) else None
        # Only server callbacks: a clientside one's name must not reach Dash's dispatcher.
        if action is None or "callback" not in app.callback_map.get(str(output), {}):
            return _refuse(403, "unknown callback")
    if need != SESSION and not allowed(session.principal, str(action)):
        return _refuse(403, f"role {session.principal.role} may not {action}")
    return None


# -- login / logout -----------------------------------------------------------------------------
_FORM = """<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录 Sign in · Sightline 视界</title>
<style>
body {{ margin: 0; min-height: 100vh; display: flex; align-items: center; justify-content: center;
  background: #1f2d3d; color: #1f2933; font-family: system-ui, -apple-system, "Segoe UI",
  "Noto Sans", "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; }}
form {{ background: #f5f7fa; padding: 1.5rem 2rem; border-radius: 6px; min-width: 18rem; }}
h1 {{ margin: 0 0 1rem; font-size: 1.3rem; }}
label {{ display: block; margin: 0.6rem 0 0.2rem; font-size: 0.9rem; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: 0.4rem;
  font-size: 1rem; }}
button {{ margin-top: 1rem; width: 100%; padding: 0.5rem; font-size: 1rem; }}
.sl-login-error {{ color: #b42318; margin: 0.5rem 0; max-width: 18rem; }}
</style></head>
<body><form method="post" action="{action}" id="login-form">
<h1>Sightline 视界</h1>
{error}
<label for="login-name">用户名 User name</label>
<input type="text" id="login-name" name="name" autocomplete="username" required autofocus
 value="{name}">
<label for="login-password">密码 Password</label>
<input type="password" id="login-password" name="password" autocomplete="current-password"
 required>
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<button type="submit" id="login-submit">登录 Sign in</button>
</form></body></html>
"""


_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")


def _safe_next(value: str | None) -> str:
    """A local path to go to after login (never another site: only path characters, no
    ``//`` or ``/\\`` start that a browser would read as a host)."""
    if not value or len(value) > 500 or not _LOCAL_PATH.fullmatch(value):
        return "/"
    if value.startswith((LOGIN_PATH, LOGOUT_PATH)):
        return "/"
    return value


def _form(settings: Settings, *, error: str = "", name: str = "", next_path: str = "/",
          status: int = 200) -> flask.Response:  # fmt: skip
    # Keep the form token the browser has: a second GET (the favicon redirected here, a second
    # tab) must not invalidate a form already on screen.
    csrf = flask.request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (20 <= len(csrf) <= 64 and csrf.replace("-", "").replace("_", "").isalnum()):
        csrf = secrets.token_urlsafe(24)
    body = _FORM.format(
        action=LOGIN_PATH, csrf=csrf, next=escape(_safe_next(next_path)), name=escape(name),
        error=f'<p class="sl-login-error" role="alert">{escape(error)}</p>' if error else "",
    )  # fmt: skip
    resp = flask.make_response(body, status)
    resp.headers["Content-Type"] = "text/html; charset=utf-8"
    resp.headers["Cache-Control"] = "no-store"
    resp.set_cookie(LOGIN_CSRF_COOKIE, csrf, max_age=3600, httponly=True, samesite="Strict",
                    secure=settings.cookie_secure, path=LOGIN_PATH)  # fmt: skip
    return resp


def _client() -> str:
    return str(flask.request.remote_addr or "")


def _login(settings: Settings, engine: Engine) -> flask.Response:
    request = flask.request
    if request.method == "GET":
        return _form(settings, next_path=request.args.get("next", "/"))
    name = str(request.form.get("name", "")).strip()
    password = str(request.form.get("password", ""))
    next_path = _safe_next(request.form.get("next"))
    attempted = {"name": name[:NAME_IN_AUDIT], "client": _client()}
    if not _same(str(request.form.get("csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")) \
            or not request.cookies.get(LOGIN_CSRF_COOKIE):  # fmt: skip
        audit.record_now(engine, None, "login", outcome="refused", actor="anonymous",
                         details={**attempted, "reason": "login form token missing or wrong"})
        return _form(settings, error="登录表单已过期，请重试 The login form expired: try again.",
                     name=name, next_path=next_path, status=403)  # fmt: skip
    with engine.begin() as conn:
        try:
            who = users.authenticate(conn, name, password)
        except users.LoginRefused as refused:
            # Committed with the entry: the failure count is the lockout.
            audit.record(conn, None, "login", outcome="refused", actor="anonymous",
                         details={**attempted, "reason": refused.reason})  # fmt: skip
            message = str(refused)
        else:
            # A new login replaces the session this browser had (no second live cookie).
            users.end_session(conn, request.cookies.get(SESSION_COOKIE, ""))
            token, csrf = users.open_session(conn, who.user_name, hours=settings.session_hours,
                                             client=request.user_agent.string)  # fmt: skip
            audit.record(conn, who, "login", who.subject, details={"client": _client()})
            message = ""
    if message:
        return _form(settings, error=message, name=name, next_path=next_path, status=401)
    resp = flask.redirect(next_path, 303)
    age = int(settings.session_hours * 3600)
    resp.set_cookie(SESSION_COOKIE, token, max_age=age, httponly=True, samesite="Strict",
                    secure=settings.cookie_secure, path="/")  # fmt: skip
    resp.set_cookie(CSRF_COOKIE, csrf, max_age=age, httponly=False, samesite="Strict",
                    secure=settings.cookie_secure, path="/")  # fmt: skip
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path=LOGIN_PATH, httponly=True, samesite="Strict",
                       secure=settings.cookie_secure)  # fmt: skip
    return resp


def _logout(settings: Settings, engine: Engine) -> flask.Response:
    who = principal()
    token = str(flask.g.get("sightline_session") or "")
    with engine.begin() as conn:
        users.end_session(conn, token)
        audit.record(conn, who, "logout", who.subject, details={"client": _client()})
    resp = flask.jsonify({"ok": True, "next": LOGIN_PATH})
    resp.delete_cookie(SESSION_COOKIE, path="/", samesite="Strict", httponly=True,
                       secure=settings.cookie_secure)  # fmt: skip
    resp.delete_cookie(CSRF_COOKIE, path="/", samesite="Strict", secure=settings.cookie_secure)
    return resp


def install(app: Dash, settings: Settings, engine: Engine) -> None:
    """Add ``/login`` and ``/logout`` to the app's server and put the guard before every
    other request handler (Dash's own included)."""
    server = app.server
    server.add_url_rule(LOGIN_PATH, "login", lambda: _login(settings, engine),
                        methods=["GET", "POST"])  # fmt: skip
    server.add_url_rule(LOGOUT_PATH, "logout", lambda: _logout(settings, engine),
                        methods=["POST"])  # fmt: skip
    server.before_request_funcs.setdefault(None, []).insert(
        0, lambda: _guard(app, settings, engine)
    )
