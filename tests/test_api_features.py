"""OGC API – Features over the demo city: the core rules (landing page, conformance,
collections, items, single item, paging, bbox), CRSs, filters and scopes, checked against
independent SQL and shapely on a real PostGIS store through a real HTTP server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from api import app as api_app
from api.features import CGCS2000, CONFORMANCE, CRS84, GCJ02
from gis.crs import transform_xy
from settings import Settings
from store import coverage
from store.features import COLLECTIONS
from store.tokens import create_token
from tests.districts import two_districts
from tests.fake_cameras import GatewayThread

CLEARANCE = 10


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def problem(self) -> bool:
        return self.headers.get("Content-Type", "").startswith("application/problem+json")


def call(method: str, url: str, token: str | None = None, body: Any = None,
         headers: dict[str, str] | None = None) -> Reply:  # fmt: skip
    """One HTTP request (blocking); the body parsed as JSON when it is JSON."""
    hdrs = dict(headers or {})
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw, h = resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        with exc:  # an unclosed error response is a ResourceWarning (an error here)
            status, raw, h = exc.code, exc.read(), dict(exc.headers)
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw
    return Reply(status, h, parsed)


@dataclass
class Town:
    engine: Engine
    api: GatewayThread
    run_id: int
    codes: dict[str, str]  # "city", "a", "b" -> jurisdiction code
    units: dict[str, list[int]]  # "a", "b" -> the district and its stations (ids)
    tokens: dict[str, str]  # "<role>:<unit>" -> token

    def url(self, path: str, **query: Any) -> str:
        return f"{self.api.base}{path}" + ("?" + urlencode(query) if query else "")

    def sql(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())


def make_town(city_url: str) -> Iterator[Town]:
    """The demo city with a coverage run, tokens of each role for the city and two
    districts, and the API serving it (for a module fixture: ``yield from``)."""
    engine = create_engine(city_url)
    run_id, codes, unit_sets = two_districts(engine)
    units = {k: sorted(v) for k, v in unit_sets.items()}
    tokens = {}
    with engine.begin() as conn:
        for role in ("viewer", "planner", "investigator", "commander"):
            for unit in ("city", "a", "b"):
                tokens[f"{role}:{unit}"] = create_token(
                    conn, f"f-{role}-{unit}-{uuid.uuid4().hex[:6]}", user_name=f"{role} {unit}",
                    role=role, jurisdiction_code=None if unit == "city" else codes[unit],
                    clearance=CLEARANCE,
                )  # fmt: skip
    settings = Settings(stream_signing_key="features-test-key")  # type: ignore[arg-type]
    api = GatewayThread(lambda: api_app.create_app(settings, engine)).start()
    yield Town(engine, api, run_id, codes, units, tokens)
    api.stop()
    engine.dispose()


@pytest.fixture(scope="module")
def town(city_url: str) -> Iterator[Town]:
    yield from make_town(city_url)


def all_pages(town: Town, url: str, token: str) -> tuple[list[dict[str, Any]], list[Reply]]:
    """Follow ``next`` links from ``url`` to the end; every feature and every reply."""
    feats: list[dict[str, Any]] = []
    replies = []
    while url:
        r = call("GET", url, token)
        assert r.status == 200, r.body
        replies.append(r)
        feats.extend(r.body["features"])
        nxt = [link["href"] for link in r.body["links"] if link["rel"] == "next"]
        assert len(nxt) <= 1
        url = nxt[0] if nxt else ""
        assert len(replies) < 1000
    return feats, replies


# -- landing page, conformance, collections ------------------------------------------------
def _links_ok(links: list[dict[str, str]]) -> None:
    for link in links:
        assert link["href"].startswith("http") and link["rel"] and link["type"], link


def test_landing_page_links_to_api_conformance_and_data(town: Town) -> None:
    r = call("GET", town.url("/"))  # public: no data
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
    _links_ok(r.body["links"])
    rels = {link["rel"]: link for link in r.body["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"].startswith("application/vnd.oai.openapi+json")
    doc = call("GET", rels["service-desc"]["href"])
    assert doc.status == 200 and doc.body["openapi"].startswith("3.0")
    assert doc.headers["Content-Type"].replace(" ", "").startswith(rels["service-desc"]["type"])
    assert doc.body["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    # every route of the app is in the document (bar HEAD twins and /health's own)
    routes = {(m.lower(), p) for m, p in api_app.ROUTE_ACTIONS} | {
        (m.lower(), p) for m, p in api_app.PUBLIC_ROUTES}  # fmt: skip
    documented = {(m, p) for p, ops in doc.body["paths"].items() for m in ops}
    for m, p in routes:
        if p.startswith(("/imports", "/coverage")):
            continue  # documented in the README (issue 5 / 4 routes)
        if p.startswith("/collections/{collectionId}/items"):  # documented per collection
            cids = ["cameras", "checkpoints"] if m != "get" else list(COLLECTIONS)
            for cid in cids:
                assert (m, p.replace("{collectionId}", cid)) in documented, (m, p, cid)
        else:
            assert (m, p) in documented, (m, p)
    conf = call("GET", rels["conformance"]["href"])
    assert conf.status == 200 and set(CONFORMANCE) <= set(conf.body["conformsTo"])
    assert any(c.endswith("/conf/core") for c in conf.body["conformsTo"])
    assert call("GET", rels["data"]["href"]).status == 401  # data needs a token


def test_collections_describe_themselves_with_links(town: Town) -> None:
    tok = town.tokens["viewer:city"]
    r = call("GET", town.url("/collections"), tok)
    assert r.status == 200
    _links_ok(r.body["links"])
    ids = [c["id"] for c in r.body["collections"]]
    assert ids == ["cameras", "checkpoints", "alarm-points", "key-areas", "jurisdictions",
                   "blind-spots", "coverage"]  # fmt: skip
    for c in r.body["collections"]:
        _links_ok(c["links"])
        rels = {link["rel"]: link for link in c["links"]}
        assert rels["items"]["type"] == "application/geo+json" and c["itemType"] == "feature"
        assert CRS84 in c["crs"] and CGCS2000 in c["crs"] and GCJ02 in c["crs"]
        one = call("GET", rels["self"]["href"], tok)
        assert one.status == 200 and one.body["id"] == c["id"]
        q = call("GET", town.url(f"/collections/{c['id']}/queryables"), tok)
        assert q.status == 200 and q.body["type"] == "object"
    r = call("GET", town.url("/collections/nope"), tok)
    assert r.status == 404 and r.problem and "nope" in r.body["detail"]


# -- items: paging, bbox, filters, scope ----------------------------------------------------
def _cameras_sql(town: Town, units: list[int] | None = None) -> dict[str, tuple[float, float]]:
    cond = "TRUE" if units is None else "jurisdiction_id = ANY(:u)"
    rows = town.sql(f"SELECT device_id, ST_X(geom), ST_Y(geom) FROM cameras WHERE {cond} "
                    "AND access_level <= :c", u=units, c=CLEARANCE)  # fmt: skip
    return {r[0]: (float(r[1]), float(r[2])) for r in rows}


def test_paging_returns_every_feature_exactly_once(town: Town) -> None:
    expected = _cameras_sql(town)
    feats, replies = all_pages(town, town.url("/collections/cameras/items", limit=7),
                               town.tokens["viewer:city"])  # fmt: skip
    ids = [f["id"] for f in feats]
    assert len(ids) == len(set(ids)) and set(ids) == set(expected)
    assert len(replies) == -(-len(expected) // 7)
    for r in replies:
        assert r.headers["Content-Type"].startswith("application/geo+json")
        assert r.headers["Content-Crs"] == f"<{CRS84}>"
        assert r.body["type"] == "FeatureCollection"
    # numberMatched on the first page (later pages skip the count, as OGC allows)
    assert replies[0].body["numberMatched"] == len(expected)
    assert all("numberMatched" not in r.body for r in replies[1:])
    for r in replies:
        assert r.body["numberReturned"] == len(r.body["features"]) <= 7
        _links_ok(r.body["links"])
        assert {"self", "collection"} <= {link["rel"] for link in r.body["links"]}
    for f in feats:  # geometry as stored
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        assert f["properties"]["device_id"] == f["id"]
        assert np.allclose(f["geometry"]["coordinates"], expected[f["id"]], atol=1e-9)
    # the other collections page the same way
    for cid, sql in (("key-areas", "SELECT id FROM key_areas"),
                     ("jurisdictions", "SELECT code FROM jurisdictions"),
                     ("alarm-points", "SELECT code FROM alarm_points"),
                     ("checkpoints", "SELECT device_id FROM checkpoints")):  # fmt: skip
        feats, _ = all_pages(town, town.url(f"/collections/{cid}/items", limit=5),
                             town.tokens["viewer:city"])  # fmt: skip
        ids = [f["id"] for f in feats]
        assert len(ids) == len(set(ids)) and set(ids) == {r[0] for r in town.sql(sql)}, cid


def test_default_and_maximum_limit(town: Town) -> None:
    tok = town.tokens["viewer:city"]
    r = call("GET", town.url("/collections/cameras/items"), tok)
    assert r.body["numberReturned"] == min(100, r.body["numberMatched"])
    r = call("GET", town.url("/collections/cameras/items", limit=50_000), tok)
    assert r.status == 200 and r.body["numberReturned"] == r.body["numberMatched"]
    for bad in ({"limit": 0}, {"limit": "ten"}):
        r = call("GET", town.url("/collections/cameras/items", **bad), tok)
        assert r.status == 400 and r.problem and r.body["invalid_params"] == ["limit"]


def _city_box(town: Town, frac: float = 0.5) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = town.sql("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                              "(SELECT ST_Extent(geom) e FROM cameras) s")[0]  # fmt: skip
    cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * frac, (y1 - y0) * frac
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def test_bbox_selects_what_shapely_selects(town: Town) -> None:
    tok = town.tokens["viewer:city"]
    box = _city_box(town)
    pts = _cameras_sql(town)
    inside = {d for d, (x, y) in pts.items()
              if box[0] <= x <= box[2] and box[1] <= y <= box[3]}  # fmt: skip
    assert 0 < len(inside) < len(pts)
    bbox = ",".join(map(str, box))
    feats, replies = all_pages(town, town.url("/collections/cameras/items", bbox=bbox, limit=9),
                               tok)  # fmt: skip
    assert [f["id"] for f in feats] and {f["id"] for f in feats} == inside
    assert len(feats) == len(inside) and replies[0].body["numberMatched"] == len(inside)
    # the same box in EPSG:4490 (latitude first) selects the same cameras
    flipped = ",".join(map(str, (box[1], box[0], box[3], box[2])))
    feats2, _ = all_pages(town, town.url("/collections/cameras/items", bbox=flipped,
                                         **{"bbox-crs": CGCS2000}), tok)  # fmt: skip
    assert {f["id"] for f in feats2} == inside
    # a box drawn on a GCJ-02 (AMap) basemap: its corners in WGS-84 bound the selection
    gx, gy = transform_xy([box[0], box[2]], [box[1], box[3]], "wgs84", "gcj02")
    gcj = ",".join(map(str, (gx[0], gy[0], gx[1], gy[1])))
    feats3, _ = all_pages(town, town.url("/collections/cameras/items", bbox=gcj,
                                         **{"bbox-crs": GCJ02}), tok)  # fmt: skip
    near = {d for d, (x, y) in pts.items()
            if min(abs(x - box[0]), abs(x - box[2]), abs(y - box[1]), abs(y - box[3])) < 1e-5}
    assert {f["id"] for f in feats3} - near == inside - near  # GCJ-02 offsets vary by < 1 m
    # polygons: key areas whose geometry intersects the box
    rows = town.sql("SELECT id, ST_AsBinary(geom) FROM key_areas")
    geoms = shapely.from_wkb([bytes(r[1]) for r in rows])
    hit = shapely.intersects(geoms, shapely.box(*box))
    expected = {r[0] for r, h in zip(rows, hit, strict=True) if h}
    assert 0 < len(expected) < len(rows)
    feats, _ = all_pages(town, town.url("/collections/key-areas/items", bbox=bbox), tok)
    assert {f["id"] for f in feats} == expected
    for bad in ("1,2,3", "a,b,c,d", "7.5,43.8,7.4,43.7", "1,2,3,4,5,6"):
        r = call("GET", town.url("/collections/cameras/items", bbox=bad), tok)
        assert r.status == 400 and r.body["invalid_params"] == ["bbox"], bad


def test_output_crs_cgcs2000_and_gcj02(town: Town) -> None:
    tok = town.tokens["viewer:city"]
    pts = _cameras_sql(town)
    r = call("GET", town.url("/collections/cameras/items", crs=CGCS2000, limit=20), tok)
    assert r.status == 200 and r.headers["Content-Crs"] == f"<{CGCS2000}>"
    for f in r.body["features"]:
        lon, lat = pts[f["id"]]
        assert np.allclose(f["geometry"]["coordinates"], (lat, lon), atol=1e-9)
    r = call("GET", town.url("/collections/cameras/items", crs=GCJ02, limit=20), tok)
    assert r.status == 200 and r.headers["Content-Crs"] == f"<{GCJ02}>"
    for f in r.body["features"]:
        gx, gy = transform_xy(*pts[f["id"]], "wgs84", "gcj02")
        assert np.allclose(f["geometry"]["coordinates"], (gx, gy), atol=1e-9)
    one = r.body["features"][0]["id"]
    r1 = call("GET", town.url(f"/collections/cameras/items/{one}", crs=GCJ02), tok)
    assert r1.status == 200 and r1.body["geometry"] == r.body["features"][0]["geometry"]
    r = call("GET", town.url("/collections/cameras/items", crs="EPSG:3857"), tok)
    assert r.status == 400 and r.body["invalid_params"] == ["crs"]


def test_property_filters_and_datetime(town: Town) -> None:
    tok = town.tokens["viewer:city"]
    road = {r[0] for r in town.sql("SELECT device_id FROM cameras WHERE kind = 'road'")}
    feats, _ = all_pages(town, town.url("/collections/cameras/items", kind="road", limit=1000),
                         tok)  # fmt: skip
    assert road and {f["id"] for f in feats} == road
    a = set(_cameras_sql(town, town.units["a"]))
    feats, _ = all_pages(town, town.url("/collections/cameras/items",
                                        jurisdiction=town.codes["a"], limit=1000), tok)  # fmt: skip
    assert a and {f["id"] for f in feats} == a
    r = call("GET", town.url("/collections/cameras/items", datetime="../2000-01-01T00:00:00Z"),
             tok)  # fmt: skip
    assert r.status == 200 and r.body["numberMatched"] == 0
    r = call("GET", town.url("/collections/cameras/items", datetime="2000-01-01T00:00:00Z/.."),
             tok)  # fmt: skip
    assert r.body["numberMatched"] == len(_cameras_sql(town))
    for query, param in (({"colour": "red"}, "colour"), ({"access_level": "high"},
                         "access_level"), ({"datetime": "yesterday"}, "datetime")):  # fmt: skip
        r = call("GET", town.url("/collections/cameras/items", **query), tok)
        assert r.status == 400 and r.problem and r.body["invalid_params"] == [param], query
    r = call("GET", town.url("/collections/checkpoints/items", datetime="2000-01-01T00:00:00Z"),
             tok)  # fmt: skip
    assert r.status == 400 and "no time" in r.body["detail"]


def test_a_district_token_sees_only_its_district(town: Town) -> None:
    for unit, other in (("a", "b"), ("b", "a")):
        tok = town.tokens[f"viewer:{unit}"]
        mine, theirs = _cameras_sql(town, town.units[unit]), _cameras_sql(town, town.units[other])
        feats, _ = all_pages(town, town.url("/collections/cameras/items", limit=1000), tok)
        assert mine and {f["id"] for f in feats} == set(mine)
        # single item of another district: 404, as for an id that does not exist
        for fid in (next(iter(theirs)), "00000000000000000000"):
            r = call("GET", town.url(f"/collections/cameras/items/{fid}"), tok)
            assert r.status == 404 and r.problem, (unit, fid)
        r = call("GET", town.url(f"/collections/cameras/items/{next(iter(mine))}"), tok)
        assert r.status == 200
        # a filter naming the other district finds nothing
        r = call("GET", town.url("/collections/cameras/items", jurisdiction=town.codes[other]),
                 tok)  # fmt: skip
        assert r.body["numberMatched"] == 0 and r.body["features"] == []
        feats, _ = all_pages(town, town.url("/collections/jurisdictions/items"), tok)
        assert {f["id"] for f in feats} == {
            r[0] for r in town.sql("SELECT code FROM jurisdictions WHERE id = ANY(:u)",
                                   u=town.units[unit])}  # fmt: skip


def test_single_item(town: Town) -> None:
    tok = town.tokens["viewer:city"]
    device, (x, y) = next(iter(_cameras_sql(town).items()))
    r = call("GET", town.url(f"/collections/cameras/items/{device}"), tok)
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/geo+json")
    assert r.body["id"] == device and np.allclose(r.body["geometry"]["coordinates"], (x, y))
    _links_ok(r.body["links"])
    assert {"self", "collection"} <= {link["rel"] for link in r.body["links"]}
    key_area = town.sql("SELECT id, name FROM key_areas ORDER BY id LIMIT 1")[0]
    r = call("GET", town.url(f"/collections/key-areas/items/{key_area.id}"), tok)
    assert r.status == 200 and r.body["properties"]["name"] == key_area.name
    for fid in ("not-a-number", "99999999"):
        assert call("GET", town.url(f"/collections/key-areas/items/{fid}"), tok).status == 404
    r = call("GET", town.url(f"/collections/cameras/items/{device}", bbox="1,2,3,4"), tok)
    assert r.status == 400 and r.body["invalid_params"] == ["bbox"]


def test_result_collections_need_coverage_and_default_to_the_latest_run(town: Town) -> None:
    for path in ("/collections/blind-spots/items", "/collections/coverage/items"):
        r = call("GET", town.url(path), town.tokens["viewer:city"])
        assert r.status == 403 and "may not coverage" in r.body["detail"]
    tok = town.tokens["investigator:city"]
    run = coverage.latest_run(town.engine.connect())
    expected = {r[0] for r in town.sql("SELECT id FROM blind_spots WHERE run_id = :r", r=run)}
    feats, replies = all_pages(town, town.url("/collections/blind-spots/items", limit=50), tok)
    assert expected and {f["id"] for f in feats} == expected and replies[0].body["run"] == run
    # coverage results of district a: the visible areas of a's cameras
    a_cams = set(_cameras_sql(town, town.units["a"]))
    feats, _ = all_pages(town, town.url("/collections/coverage/items", level="detect",
                                        limit=200), town.tokens["investigator:a"])  # fmt: skip
    expected = {r[0] for r in town.sql(
        "SELECT v.id FROM coverage_visible v JOIN cameras c ON c.id = v.camera_id "
        "WHERE v.run_id = :r AND v.level = 'detect' AND c.jurisdiction_id = ANY(:u)",
        r=run, u=town.units["a"])}  # fmt: skip
    assert expected and {f["id"] for f in feats} == expected
    assert {f["properties"]["camera"] for f in feats} <= a_cams
    other = town.sql("SELECT v.id FROM coverage_visible v JOIN cameras c ON c.id = v.camera_id "
                     "WHERE v.run_id = :r AND c.jurisdiction_id = ANY(:u) LIMIT 1",
                     r=run, u=town.units["b"])[0][0]  # fmt: skip
    r = call("GET", town.url(f"/collections/coverage/items/{other}"),
             town.tokens["investigator:a"])  # fmt: skip
    assert r.status == 404
    r = call("GET", town.url(f"/collections/coverage/items/{other}"),
             town.tokens["investigator:b"])  # fmt: skip
    assert r.status == 200 and r.body["properties"]["run"] == run


def test_tokens_are_required(town: Town) -> None:
    for path in ("/collections", "/collections/cameras", "/collections/cameras/items",
                 "/collections/cameras/items/x", "/collections/cameras/queryables"):  # fmt: skip
        r = call("GET", town.url(path))
        assert r.status == 401 and r.problem and "Bearer" in r.headers["WWW-Authenticate"]
    # a bad query from a stranger is a 401, not a 400 that describes the API to them
    r = call("GET", town.url("/collections/cameras/items", colour="red"))
    assert r.status == 401
