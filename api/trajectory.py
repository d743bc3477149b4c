"""GET /trajectories/{object_ref}: one object's sightings in a window, routed, for a case.

Query: ``from``, ``to`` (ISO 8601 with zone), ``case_ref`` and ``purpose`` (required: a request
without them is a 400 problem naming the field, and is audited as refused), optional
``route`` (default true), ``limit`` (a page, default 1000, at most 5000), ``after`` (the
previous page's ``next_after``) and ``format`` (``json`` or ``geojson``). Action
``trajectory``; the token sees only sightings of devices in its jurisdiction. Token check,
query and the ``trajectory.query`` audit entry are one transaction in one thread hop.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy import Connection

from analysis import trajectory as atraj
from api.app import ENGINE, ROUTE_ACTIONS, problem
from api.auth import authorized, require
from store import sightings as store_sightings
from store.scope import Principal

ROUTE = ("GET", "/trajectories/{object_ref}")
_FALSE = {"0", "false", "no", "off"}


async def get_trajectory(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    action = ROUTE_ACTIONS[ROUTE]
    q = request.query
    ref = request.match_info["object_ref"]
    fmt = q.get("format", "json")
    try:
        limit = int(q.get("limit", atraj.DEFAULT_PAGE))
        if not 1 <= limit <= atraj.MAX_PAGE:
            raise ValueError
        if fmt not in ("json", "geojson"):
            raise KeyError
    except ValueError:
        await require(request, engine, action)  # 401/403 before a 400 for strangers
        return problem(400, "Bad query", f"limit must be a whole number from 1 to "
                       f"{atraj.MAX_PAGE}", invalid_params=["limit"])  # fmt: skip
    except KeyError:
        await require(request, engine, action)
        return problem(400, "Bad query", "format must be json or geojson",
                       invalid_params=["format"])  # fmt: skip
    route = q.get("route", "true").lower() not in _FALSE

    def work(conn: Connection, principal: Principal) -> Any:
        result = atraj.query(conn, principal, ref, q.get("from"), q.get("to"),
                             q.get("case_ref"), q.get("purpose"), route=route, limit=limit,
                             after=q.get("after"))  # fmt: skip
        if fmt == "geojson" and isinstance(result, dict):
            ids = [r["road_id"] for r in result["corridor_roads"]]
            return atraj.to_geojson(result, store_sightings.road_geojson(conn, ids))
        return result

    result = await authorized(request, engine, action, work)
    if isinstance(result, atraj.Refusal):
        return problem(400, "Bad query", result.detail, invalid_params=[result.field])
    ctype = "application/geo+json" if fmt == "geojson" else "application/json"
    return web.Response(text=json.dumps(result, ensure_ascii=False, default=str),
                        content_type=ctype)  # fmt: skip
