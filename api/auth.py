"""The one place that decides who a request is and what it may do.

Tokens come as ``Authorization: Bearer <token>``. Every handler calls :func:`require` (or
:func:`authorized`, which runs the handler's query in the same thread hop). Roles are checked
against ``store.access.PERMISSIONS`` (the one table for console, API and gateway); what the
token may see is its principal's scope, which the handlers pass to the store queries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from sqlalchemy import Connection, Engine

from store.access import AccessDenied, check
from store.scope import Principal
from store.tokens import verify_token

T = TypeVar("T")


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise web.HTTPUnauthorized(
            text="send Authorization: Bearer <token> (create one with `sightline token create`)",
            headers={"WWW-Authenticate": 'Bearer realm="sightline"'},
        )
    return token.strip()


def _check(conn: Connection, token: str, action: str) -> Principal:
    principal = verify_token(conn, token)
    if principal is None:
        raise web.HTTPUnauthorized(
            text="the token is unknown or revoked",
            headers={"WWW-Authenticate": 'Bearer realm="sightline", error="invalid_token"'},
        )
    try:
        check(principal, action)
    except AccessDenied as exc:
        raise web.HTTPForbidden(text=str(exc)) from exc
    return principal


async def authorized(
    request: web.Request, engine: Engine, action: str,
    work: Callable[[Connection, Principal], T],
) -> T:  # fmt: skip
    """Check the request's token and ``action``, then run ``work(conn, principal)`` in the
    same worker thread and transaction: one thread hop and one connection per request.

    401 without a valid token, 403 when the role may not do ``action``.
    """
    token = _bearer(request)

    def job() -> T:
        with engine.begin() as conn:
            return work(conn, _check(conn, token, action))

    return await asyncio.to_thread(job)


async def require(request: web.Request, engine: Engine, action: str) -> Principal:
    """Authenticate and check that the principal may do ``action``; 401/403 otherwise."""
    return await authorized(request, engine, action, lambda conn, principal: principal)
