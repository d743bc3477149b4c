"""The one place that decides who a request is and what it may do.

Tokens come as ``Authorization: Bearer <token>``. Every handler calls :func:`require`; the
users/roles/jurisdiction issue extends these two functions, not the handlers.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import Engine

from store.tokens import Principal, verify_token

# action -> roles allowed to do it
PERMISSIONS: dict[str, frozenset[str]] = {
    "import": frozenset({"admin", "planner"}),
    "view": frozenset({"admin", "planner", "commander", "investigator", "viewer"}),
}


def _verify(engine: Engine, token: str) -> Principal | None:
    with engine.begin() as conn:
        return verify_token(conn, token)


async def authenticate(request: web.Request, engine: Engine) -> Principal:
    """The principal behind the request's bearer token; 401 when there is none or it is bad."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise web.HTTPUnauthorized(
            text="send Authorization: Bearer <token> (create one with `sightline token create`)",
            headers={"WWW-Authenticate": 'Bearer realm="sightline"'},
        )
    principal = await asyncio.to_thread(_verify, engine, token.strip())
    if principal is None:
        raise web.HTTPUnauthorized(
            text="the token is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer realm="sightline", error="invalid_token"'},
        )
    return principal


async def require(request: web.Request, engine: Engine, action: str) -> Principal:
    """Authenticate and check that the principal may do ``action``; 403 otherwise."""
    principal = await authenticate(request, engine)
    allowed = PERMISSIONS.get(action, frozenset())
    if principal.role not in allowed:
        needed = ", ".join(sorted(allowed))
        raise web.HTTPForbidden(text=f"role {principal.role!r} may not {action}; needs {needed}")
    return principal
