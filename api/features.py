"""OGC API – Features (Part 1 core, GeoJSON, OpenAPI 3.0; Part 2 CRS) over the store.

Landing page, conformance and the OpenAPI document are public (they hold no data); every
collection route needs a token whose role may ``view`` (coverage results and blind spots:
``coverage``), and answers only with the token's scope (:mod:`store.features`). Output CRS:
CRS84 (default, lon/lat), EPSG:4326 and EPSG:4490 (CGCS2000, both lat/lon as EPSG defines
them; CGCS2000 is taken as equal to WGS-84, a centimetre difference) and GCJ-02 as the vendor
extension :data:`GCJ02` (lon/lat, the obfuscated system of AMap/Tencent maps). Paging is by
keyset: the ``next`` link carries ``after=<key>``; a page costs the same wherever it is.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from aiohttp import web
from sqlalchemy import Connection, Engine

from api.app import ENGINE, problem
from api.auth import authorized, require
from gis.crs import transform_xy
from store import features as store_features
from store.features import COLLECTIONS, MAX_LIMIT, Collection
from store.scope import Principal

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
CGCS2000 = "http://www.opengis.net/def/crs/EPSG/0/4490"
GCJ02 = "urn:x-sightline:def:crs:GCJ-02"
"""Vendor URI of GCJ-02 (no registry defines it): longitude, latitude in degrees."""
DEFAULT_LIMIT = 100
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
# the parameters every items request may carry; the collection's queryables come on top
ITEMS_PARAMETERS = ("limit", "bbox", "bbox-crs", "datetime", "crs", "f", "after")


@dataclass(frozen=True)
class OutputCrs:
    """A supported CRS: ``flip`` = latitude first; ``gcj`` = GCJ-02 (converted in Python)."""

    uri: str
    flip: bool = False
    gcj: bool = False


CRSS: dict[str, OutputCrs] = {c.uri: c for c in (
    OutputCrs(CRS84), OutputCrs(EPSG4326, flip=True), OutputCrs(CGCS2000, flip=True),
    OutputCrs(GCJ02, gcj=True),
)}  # fmt: skip


class BadQuery(ValueError):
    """A query parameter that cannot be used; ``param`` names it."""

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


def _json(body: Any, content_type: str = "application/json") -> web.Response:
    # a header, not content_type=: aiohttp refuses parameters there (OpenAPI's ;version=3.0)
    return web.Response(text=json.dumps(body, ensure_ascii=False, default=str),
                        headers={"Content-Type": content_type})  # fmt: skip


def engine_of(request: web.Request) -> Engine:
    return request.app[ENGINE]


def base_url(request: web.Request) -> str:
    return str(request.url.origin())


def _link(href: str, rel: str, typ: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": typ}
    if title:
        link["title"] = title
    return link


# -- query parsing ------------------------------------------------------------------------
def parse_crs(value: str | None, param: str) -> OutputCrs:
    if value is None:
        return CRSS[CRS84]
    crs = CRSS.get(value.strip().strip("<>"))
    if crs is None:
        raise BadQuery(param, f"{param} {value!r} is not supported; one of {', '.join(CRSS)}")
    return crs


def parse_bbox(value: str, crs: OutputCrs) -> tuple[float, float, float, float]:
    """A bbox in ``crs`` (its axis order) as (min lon, min lat, max lon, max lat), WGS-84."""
    try:
        nums = [float(v) for v in value.split(",")]
    except ValueError:
        nums = []
    if len(nums) != 4 or not all(np.isfinite(nums)):
        raise BadQuery("bbox", "bbox must be 4 numbers: minx,miny,maxx,maxy (2-D only)")
    x0, y0, x1, y1 = (nums[1], nums[0], nums[3], nums[2]) if crs.flip else nums
    if x0 > x1 or y0 > y1:
        raise BadQuery("bbox", "bbox corners: lower left first, then upper right "
                       "(a box across the antimeridian is not supported)")  # fmt: skip
    if crs.gcj:
        # the box's corners in WGS-84 (GCJ-02 offsets vary by metres across a city: the
        # envelope of the four corners is the box to within that)
        lon, lat = transform_xy([x0, x1, x1, x0], [y0, y0, y1, y1], "gcj02", "wgs84")
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())
    return x0, y0, x1, y1


def _instant(text: str) -> dt.datetime | None:
    if text in ("", ".."):
        return None
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadQuery("datetime", f"datetime {text!r} is not RFC 3339 "
                       "(e.g. 2026-11-25T08:00:00Z)") from exc  # fmt: skip
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def parse_datetime(value: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """An instant or an interval (``start/end``, ``..`` or empty for an open end)."""
    if "/" in value:
        start, _, end = value.partition("/")
        interval = (_instant(start), _instant(end))
        if interval == (None, None):
            raise BadQuery("datetime", "an interval needs at least one end")
        if interval[0] and interval[1] and interval[0] > interval[1]:
            raise BadQuery("datetime", "the interval ends before it starts")
        return interval
    at = _instant(value)
    if at is None:
        raise BadQuery("datetime", "give an instant or an interval start/end")
    return at, at


def _value(name: str, typ: str, raw: str) -> Any:
    try:
        if typ == "integer":
            return int(raw)
        if typ == "number":
            return float(raw)
        if typ == "boolean":
            return {"true": True, "1": True, "false": False, "0": False}[raw.lower()]
    except (KeyError, ValueError) as exc:
        raise BadQuery(name, f"{name} must be a {typ}, got {raw!r}") from exc
    return raw


@dataclass
class ItemsQuery:
    limit: int
    bbox: tuple[float, float, float, float] | None
    interval: tuple[dt.datetime | None, dt.datetime | None] | None
    filters: dict[str, Any]
    after: int | None
    crs: OutputCrs


def parse_items_query(coll: Collection, query: Mapping[str, str]) -> ItemsQuery:
    """The items parameters; unknown parameters, repeated ones and bad values raise
    :class:`BadQuery` naming the parameter."""
    for name in query:
        if name not in ITEMS_PARAMETERS and name not in coll.queryables:
            known = ", ".join([*ITEMS_PARAMETERS, *coll.queryables])
            raise BadQuery(name, f"unknown parameter {name!r} for {coll.id}; known: {known}")
        if len(query.getall(name)) > 1:  # type: ignore[attr-defined]
            raise BadQuery(name, f"{name} given more than once")
    limit = DEFAULT_LIMIT
    if "limit" in query:
        limit = _value("limit", "integer", query["limit"])
        if limit < 1:
            raise BadQuery("limit", "limit must be at least 1")
        limit = min(limit, MAX_LIMIT)  # OGC: a larger limit is served at the maximum
    if query.get("f", "json") not in ("json", "geojson"):
        raise BadQuery("f", "f must be json (the only encoding served)")
    bbox_crs = parse_crs(query.get("bbox-crs"), "bbox-crs")
    bbox = parse_bbox(query["bbox"], bbox_crs) if "bbox" in query else None
    if "bbox-crs" in query and bbox is None:
        raise BadQuery("bbox-crs", "bbox-crs without bbox")
    interval = parse_datetime(query["datetime"]) if "datetime" in query else None
    if interval is not None and coll.time is None:
        raise BadQuery("datetime", f"{coll.id} has no time property to filter on")
    after = None
    if "after" in query:
        after = _value("after", "integer", query["after"])
    filters = {n: _value(n, q.type, query[n]) for n, q in coll.queryables.items() if n in query}
    return ItemsQuery(limit, bbox, interval, filters, after, parse_crs(query.get("crs"), "crs"))


# -- GCJ-02 output ------------------------------------------------------------------------
def _to_gcj(coords: np.ndarray) -> np.ndarray:
    lon, lat = transform_xy(coords[:, 0], coords[:, 1], "wgs84", "gcj02")
    return np.column_stack([lon, lat])


def gcj_features(rows: list[tuple[str, str, bytes]]) -> list[str]:
    """GeoJSON features from (id JSON, properties JSON, WKB in WGS-84), geometry in GCJ-02."""
    if not rows:
        return []
    geoms = shapely.transform(shapely.from_wkb([r[2] for r in rows]), _to_gcj)
    texts = shapely.to_geojson(geoms)
    return [f'{{"type":"Feature","id":{fid},"geometry":{g},"properties":{p}}}'
            for (fid, p, _), g in zip(rows, texts, strict=True)]  # fmt: skip


# -- handlers -----------------------------------------------------------------------------
async def landing(request: web.Request) -> web.Response:
    """GET /: the landing page (public)."""
    b = base_url(request)
    return _json({
        "title": "Sightline", "description": "Cameras, checkpoints, alarm points, key areas, "
        "jurisdictions, blind spots and coverage results of the city's video network. Every "
        "data route needs 'Authorization: Bearer <token>' (sightline token create).",
        "links": [
            _link(f"{b}/", "self", "application/json", "this document"),
            _link(f"{b}/api", "service-desc", OPENAPI, "the API definition (OpenAPI 3.0)"),
            _link(f"{b}/conformance", "conformance", "application/json",
                  "OGC API conformance classes implemented"),
            _link(f"{b}/collections", "data", "application/json", "the feature collections"),
        ],
    })  # fmt: skip


async def conformance(request: web.Request) -> web.Response:
    """GET /conformance (public)."""
    return _json({"conformsTo": CONFORMANCE})


def collection_doc(b: str, coll: Collection) -> dict[str, Any]:
    url = f"{b}/collections/{coll.id}"
    return {
        "id": coll.id, "title": coll.title, "description": coll.description,
        "itemType": "feature", "crs": list(CRSS), "storageCrs": CRS84,
        "links": [
            _link(url, "self", "application/json", coll.title),
            _link(f"{url}/items", "items", GEOJSON, f"{coll.title} as GeoJSON"),
            _link(f"{url}/queryables", "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                  "application/schema+json", "the properties one may filter on"),
        ],
    }  # fmt: skip


async def collections(request: web.Request) -> web.Response:
    """GET /collections (action view)."""
    await require(request, engine_of(request), "view")
    b = base_url(request)
    return _json({
        "links": [_link(f"{b}/collections", "self", "application/json")],
        "collections": [collection_doc(b, c) for c in COLLECTIONS.values()],
    })  # fmt: skip


def collection_of(request: web.Request) -> Collection:
    coll = COLLECTIONS.get(request.match_info.get("collectionId", ""))
    if coll is None:
        raise web.HTTPNotFound(text=f"no collection {request.match_info['collectionId']!r}; "
                               f"one of {', '.join(COLLECTIONS)}")  # fmt: skip
    return coll


def _collection_from_path(request: web.Request) -> Collection:
    # the result collections have routes of their own (another guard): /collections/<id>/...
    cid = request.match_info.get("collectionId") or request.path.split("/")[2]
    coll = COLLECTIONS.get(cid)
    if coll is None:
        raise web.HTTPNotFound(text=f"no collection {cid!r}; one of {', '.join(COLLECTIONS)}")
    return coll


async def collection(request: web.Request) -> web.Response:
    """GET /collections/{collectionId} (action view)."""
    await require(request, engine_of(request), "view")
    return _json(collection_doc(base_url(request), collection_of(request)))


async def queryables(request: web.Request) -> web.Response:
    """GET /collections/{collectionId}/queryables (OGC API Features Part 3; action view)."""
    await require(request, engine_of(request), "view")
    coll = collection_of(request)
    url = f"{base_url(request)}/collections/{coll.id}/queryables"
    return _json({
        "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": url,
        "type": "object", "title": coll.title,
        "properties": {n: {"type": q.type, "description": q.description}
                       for n, q in coll.queryables.items()},
        "additionalProperties": False,
    }, "application/schema+json")  # fmt: skip


def _page_body(
    request: web.Request, coll: Collection, q: ItemsQuery, page: store_features.Page,
    features: list[str],
) -> str:  # fmt: skip
    url = request.url
    links = [_link(str(url), "self", GEOJSON, "this page"),
             _link(f"{base_url(request)}/collections/{coll.id}", "collection",
                   "application/json", coll.title)]  # fmt: skip
    if page.next_after is not None:
        nxt = url.update_query(after=str(page.next_after))
        links.append(_link(str(nxt), "next", GEOJSON, "next page"))
    tail: dict[str, Any] = {"numberReturned": len(features),
                            "timeStamp": dt.datetime.now(dt.UTC).isoformat(), "links": links}
    if page.matched is not None:
        tail["numberMatched"] = page.matched
    if coll.per_run:
        tail["run"] = page.run_id
    return ('{"type":"FeatureCollection","features":[' + ",".join(features) + "],"
            + json.dumps(tail, ensure_ascii=False)[1:])  # fmt: skip


async def items(request: web.Request) -> web.Response:
    """GET /collections/{collectionId}/items: one page of features (keyset paging)."""
    engine = engine_of(request)
    coll = _collection_from_path(request)
    try:
        q = parse_items_query(coll, request.query)
    except BadQuery as exc:
        await require(request, engine, coll.action)  # 401/403 before a 400 for strangers
        return problem(400, "Bad query", str(exc), invalid_params=[exc.param])

    def work(conn: Connection, principal: Principal) -> str:
        page = store_features.items(
            conn, coll, principal.scope, bbox=q.bbox, interval=q.interval, filters=q.filters,
            after=q.after, limit=q.limit, flip=q.crs.flip, wkb=q.crs.gcj,
            count=q.after is None,  # numberMatched on the first page: a count costs a scan
        )  # fmt: skip
        feats = gcj_features(page.features) if q.crs.gcj else page.features
        return _page_body(request, coll, q, page, feats)

    body = await authorized(request, engine, coll.action, work)
    return web.Response(text=body, content_type=GEOJSON,
                        headers={"Content-Crs": f"<{q.crs.uri}>"})  # fmt: skip


def feature_text(
    conn: Connection, coll: Collection, principal: Principal, fid: str, crs: OutputCrs
) -> str | None:
    """One feature as GeoJSON text in ``crs``, None when missing or outside the scope."""
    row = store_features.item(conn, coll, principal.scope, fid, flip=crs.flip, wkb=crs.gcj)
    if row is None:
        return None
    return gcj_features([row])[0] if crs.gcj else str(row)


def with_links(request: web.Request, coll: Collection, feature: str, fid: str) -> str:
    b = base_url(request)
    links = [_link(f"{b}/collections/{coll.id}/items/{fid}", "self", GEOJSON),
             _link(f"{b}/collections/{coll.id}", "collection", "application/json", coll.title)]
    return feature[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"


async def item(request: web.Request) -> web.Response:
    """GET /collections/{collectionId}/items/{featureId}; 404 when missing or not in scope."""
    engine = engine_of(request)
    coll = _collection_from_path(request)
    fid = request.match_info["featureId"]
    try:
        for name in request.query:
            if name not in ("crs", "f"):
                raise BadQuery(name, f"unknown parameter {name!r}; known: crs, f")
        crs = parse_crs(request.query.get("crs"), "crs")
    except BadQuery as exc:
        await require(request, engine, coll.action)
        return problem(400, "Bad query", str(exc), invalid_params=[exc.param])
    feature = await authorized(
        request, engine, coll.action,
        lambda conn, principal: feature_text(conn, coll, principal, fid, crs),
    )  # fmt: skip
    if feature is None:
        return problem(404, "Not Found", f"no feature {fid!r} in {coll.id} (or not yours)")
    return web.Response(text=with_links(request, coll, feature, fid), content_type=GEOJSON,
                        headers={"Content-Crs": f"<{crs.uri}>"})  # fmt: skip


async def api_document(request: web.Request) -> web.Response:
    """GET /api: the OpenAPI 3.0 document (public)."""
    from api.openapi import document

    return _json(document(base_url(request)), OPENAPI)

