"""Every HTTP API route and every gateway route, enumerated from the real apps: who may call it,
and that a district sees nothing of another district (IDOR). Real PostGIS, real fake cameras.

The classification tables below are this test's own: a route added to an app without a line
here fails :func:`test_every_route_is_classified`.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import Engine, create_engine, text

from api import app as api_app
from gateway import app as gw_app
from settings import Settings
from store import access, coverage, health
from store.scope import EVERYTHING
from store.tokens import create_token, revoke_token
from store.users import ROLES, create_user, set_disabled
from tests.districts import two_districts
from tests.fake_cameras import FakeCameras, GatewayThread, gstreamer_available, wait_for

KEY = "security-routes-key"
CAM_USER, CAM_PASSWORD = "viewer", "s3cret-pw"
CAM_A, CAM_B = "99010200001320091001", "99010200001320091002"
CLEARANCE = 10  # above every demo access level: these tests are about jurisdiction and role

# (method, route) -> the action guarding it; None: public (returns no data)
API_ROUTES: dict[tuple[str, str], str | None] = {
    ("GET", "/health"): None,
    ("POST", "/imports/{kind}"): "import",
    ("GET", "/coverage/which-cameras"): "coverage",
    ("POST", "/coverage/which-cameras"): "coverage",
    ("GET", "/jobs"): "view",
    ("GET", "/jobs/{id}"): "view",
    ("POST", "/coverage/runs"): "analyse",
    ("GET", "/coverage/runs"): "coverage",
    ("GET", "/coverage/runs/{id}"): "coverage",
    ("POST", "/placement/proposals"): "placement",
    ("GET", "/placement/proposals/{id}"): "placement",
    ("POST", "/placement/proposals/{id}/accept"): "placement",
    ("GET", "/"): None,
    ("GET", "/conformance"): None,
    ("GET", "/api"): None,
    ("GET", "/collections"): "view",
    ("GET", "/collections/{collectionId}"): "view",
    ("GET", "/collections/{collectionId}/queryables"): "view",
    ("GET", "/collections/{collectionId}/items"): "view",
    ("GET", "/collections/{collectionId}/items/{featureId}"): "view",
    ("GET", "/collections/blind-spots/items"): "coverage",
    ("GET", "/collections/blind-spots/items/{featureId}"): "coverage",
    ("GET", "/collections/coverage/items"): "coverage",
    ("GET", "/collections/coverage/items/{featureId}"): "coverage",
    ("POST", "/collections/{collectionId}/items"): "import",
    ("PUT", "/collections/{collectionId}/items/{featureId}"): "import",
    ("DELETE", "/collections/{collectionId}/items/{featureId}"): "import",
    ("POST", "/alarms"): "alarms",
    ("GET", "/trajectories/{object_ref}"): "trajectory",
}
GATEWAY_ROUTES: dict[tuple[str, str], str | None] = {
    ("GET", "/streams/{camera_id}/ws"): "video",
    ("GET", "/streams/{camera_id}/snapshot.jpg"): "video",
    ("GET", "/streams/{camera_id}/hls/index.m3u8"): "video",
    ("GET", "/streams/{camera_id}/hls/{name}"): "video",
    ("GET", "/health/faults"): "health",
    ("GET", "/stats"): "admin",
    ("GET", "/health"): None,
}
STREAM_ROUTES = [r for r, action in GATEWAY_ROUTES.items() if action == "video"]


def _routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, route) of every route; a HEAD route must have its GET twin (same guard)."""
    routes = {(r.method, r.resource.canonical) for r in app.router.routes() if r.resource}
    heads = {path for method, path in routes if method == "HEAD"}
    assert heads <= {path for method, path in routes if method == "GET"}
    return {(m, p) for m, p in routes if m != "HEAD"}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- the city: two districts, users and tokens of each ------------------------------------
@dataclass
class City:
    engine: Engine
    run_id: int
    codes: dict[str, str]  # "city", "a", "b" -> jurisdiction code
    units: dict[str, frozenset[int]]  # "a", "b" -> the district and its stations
    users: dict[str, str]  # "<role>:a" etc. -> user name
    tokens: dict[str, str]  # "<role>:a", "<role>:city" -> plain token
    token_names: dict[str, str]

    def subject(self, who: str) -> str:
        return f"user:{self.users[who]}"

    def devices_of(self, district: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(
                text("SELECT device_id FROM cameras WHERE jurisdiction_id = ANY(:j)"),
                {"j": sorted(self.units[district])},
            ).scalars())  # fmt: skip


@pytest.fixture(scope="module")
def city(city_url: str) -> Iterator[City]:
    engine = create_engine(city_url)
    run_id, codes, units = two_districts(engine)
    users, tokens, names = {}, {}, {}
    with engine.begin() as conn:
        for role in ROLES:
            for unit in ("a", "b", "city"):
                key = f"{role}:{unit}"
                users[key] = _name(f"{role}-{unit}")
                code = None if unit == "city" else codes[unit]
                create_user(conn, users[key], role, jurisdiction_code=code, clearance=CLEARANCE)
                names[key] = _name(f"t-{role}-{unit}")
                tokens[key] = create_token(conn, names[key], user_name=users[key], role=role,
                                           jurisdiction_code=code, clearance=CLEARANCE)  # fmt: skip
    yield City(engine, run_id, codes, units, users, tokens, names)
    engine.dispose()


def _point_seen_only_by(city: City, district: str) -> tuple[float, float]:
    """A point that cameras of ``district`` see and no camera of any other unit does."""
    mine = city.devices_of(district)
    with city.engine.connect() as conn:
        pts = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(v.geom) p "
                 "FROM coverage_visible v JOIN cameras c ON c.id = v.camera_id "
                 "WHERE v.run_id = :r AND v.level = 'detect' AND v.area_m2 > 20 "
                 "AND c.jurisdiction_id = ANY(:j) ORDER BY v.id LIMIT 300) s"),
            {"r": city.run_id, "j": sorted(city.units[district])},
        ).all()  # fmt: skip
        for x, y in pts:
            seen = {c["device_id"] for c in
                    coverage.cameras_seeing(conn, city.run_id, x, y, EVERYTHING)}  # fmt: skip
            if seen and seen <= mine:
                return float(x), float(y)
    raise AssertionError(f"no point seen only by district {district}")


# -- the API -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api(city: City) -> Iterator[GatewayThread]:
    srv = GatewayThread(lambda: api_app.create_app(Settings(), city.engine)).start()
    yield srv
    srv.stop()


Reply = tuple[int, Any]


def _call(method: str, url: str, token: str | None = None, *, data: Any = None,
          json_body: Any = None) -> Reply:  # fmt: skip
    async def go() -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as s, s.request(
            method, url, headers=headers, data=data, json=json_body
        ) as r:
            body = await r.read()
            try:
                return r.status, json.loads(body)
            except ValueError:
                return r.status, body

    return asyncio.run(go())


def _api_request(api: GatewayThread, route: tuple[str, str], token: str | None,
                 point: tuple[float, float], samples: Path) -> Reply:  # fmt: skip
    """A well-formed request to ``route`` (an import is a dry run)."""
    method, path = route
    lon, lat = point
    if path == "/imports/{kind}":
        form = aiohttp.FormData()
        form.add_field("file", io.BytesIO((samples / "cameras.xlsx").read_bytes()),
                       filename="cameras.xlsx")  # fmt: skip
        return _call(method, f"{api.base}/imports/cameras?crs=wgs84&dry_run=true", token,
                     data=form)  # fmt: skip
    if path.startswith(("/collections", "/alarms", "/conformance", "/api")) or path == "/":
        return _features_request(api, route, token, point)
    if path.startswith(("/jobs", "/coverage/runs", "/placement")):
        return _analysis_request(api, route, token)
    if path == "/trajectories/{object_ref}":
        q = urlencode({"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T00:00:00Z",
                       "case_ref": "SEC-ROUTES-1", "purpose": "route classification test"})
        return _call(method, f"{api.base}/trajectories/NO-SUCH-OBJECT?{q}", token)
    if method == "POST":
        return _call(method, f"{api.base}{path}", token, json_body={"points": [[lon, lat]]})
    return _call(method, f"{api.base}{path}?lon={lon}&lat={lat}", token)


def _features_request(api: GatewayThread, route: tuple[str, str], token: str | None,
                      point: tuple[float, float]) -> Reply:  # fmt: skip
    """A well-formed Features API request to ``route`` at ``point`` (in district a); a
    device it creates or deletes is its own and removed afterwards."""
    method, path = route
    engine = api.app[api_app.ENGINE] if api.app is not None else None
    assert engine is not None
    with engine.connect() as conn:
        cam = conn.execute(text("SELECT device_id, ST_X(geom) x, ST_Y(geom) y FROM cameras "
                                "WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326), "
                                "0.01) ORDER BY device_id LIMIT 1"),
                           {"x": point[0], "y": point[1]}).one()  # fmt: skip
        fid = {"blind-spots": "SELECT min(id) FROM blind_spots",
               "coverage": "SELECT min(id) FROM coverage_visible"}  # fmt: skip
        ids = {k: conn.execute(text(q)).scalar_one() for k, q in fid.items()}
    new_id = cam.device_id[:14] + f"{uuid.uuid4().int % 10**6:06d}"
    url = api.base + path.replace("{collectionId}", "cameras")
    if "{featureId}" in path:
        cid = path.split("/")[2]
        url = url.replace("{featureId}", str(ids.get(cid, cam.device_id)))
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [cam.x, cam.y]},
               "properties": {}}  # fmt: skip
    if method == "POST" and path == "/alarms":
        return _call(method, url, token, json_body={"lon": point[0], "lat": point[1]})
    if method == "POST":
        feature["properties"] = {"device_id": new_id, "name": "security route test"}
        try:
            return _call(method, url, token, json_body=feature)
        finally:
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM cameras WHERE device_id = :d"), {"d": new_id})
    if method == "PUT":
        return _call(method, url, token, json_body=feature)  # unchanged: a no-op update
    if method == "DELETE":
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO cameras (device_id, name, jurisdiction_id, geom) "
                              "SELECT :n, 'to delete', jurisdiction_id, geom FROM cameras "
                              "WHERE device_id = :d"), {"n": new_id, "d": cam.device_id})
        try:
            return _call(method, url.replace(cam.device_id, new_id), token)
        finally:
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM cameras WHERE device_id = :d"), {"d": new_id})
    return _call(method, url, token)


# coarse placement (one lens, 90-degree steps, sparse sites and demand) in one station
FAST_PLACEMENT = {"cameras": 2, "lenses": ["12mm"], "azimuth_step_deg": 90.0,
                  "pole_spacing_m": 60.0, "facade_spacing_m": 60.0, "spacing_m": 8.0}


def _wait_job(api: GatewayThread, reply: Reply, token: str) -> Reply:
    """After a 202: poll the job until it ends (nothing left running in the background).
    Whether it succeeds is not this module's question (the gateway's test cameras have no
    optics: a coverage run refuses them); the 202 is the route's answer."""
    status, body = reply
    if status != 202:
        return reply
    deadline = time.monotonic() + 300
    while body["status"] not in ("done", "failed"):
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
        _, body = _call("GET", f"{api.base}/jobs/{body['id']}", token)
    return reply


def _analysis_request(api: GatewayThread, route: tuple[str, str], token: str | None) -> Reply:
    """A well-formed request to a jobs / coverage-run / placement route: a job of the token's
    own, a run, a proposal in a station of district a, an acceptance undone afterwards."""
    method, path = route
    engine = api.app[api_app.ENGINE] if api.app is not None else None
    assert engine is not None
    with engine.connect() as conn:
        name = None if token is None else conn.execute(
            text("SELECT name FROM api_tokens WHERE token_sha256 = "
                 "encode(sha256(convert_to(:t, 'UTF8')), 'hex')"), {"t": token}).scalar()
        station = conn.execute(text("SELECT code FROM jurisdictions WHERE level = 'station' "
                                    "ORDER BY code LIMIT 1")).scalar_one()  # fmt: skip
        run_id = coverage.latest_run(conn)
    if path == "/jobs/{id}":
        from store import jobs as store_jobs
        from store.scope import Principal

        with engine.begin() as conn:
            job = store_jobs.create_job(conn, Principal(f"token:{name}", "u", "viewer"),
                                        "coverage.run", {})  # fmt: skip
            store_jobs.fail(conn, job, {"title": "test", "status": 500, "detail": "test"})
        return _call(method, f"{api.base}/jobs/{job}", token)
    if path == "/coverage/runs" and method == "POST":
        return _wait_job(api, _call(method, f"{api.base}{path}", token, json_body={}),
                         token or "")  # fmt: skip
    if path == "/placement/proposals":
        body = {**FAST_PLACEMENT, "jurisdiction": station}
        return _wait_job(api, _call(method, f"{api.base}{path}", token, json_body=body),
                         token or "")  # fmt: skip
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT max(id) FROM placement_proposals")).scalar()
    if pid is None and "{id}" in path and path.startswith("/placement"):
        from analysis.placement_run import propose
        from gis.placement_sites import DEFAULT_LENSES

        fast = {k: v for k, v in FAST_PLACEMENT.items() if k != "lenses"}
        pid = propose(engine, jurisdiction=station, workers=2,
                      lenses=[ln for ln in DEFAULT_LENSES if ln.key == "12mm"],
                      **fast).proposal_id  # type: ignore[arg-type]  # fmt: skip
    url = api.base + path.replace("{id}", str(pid if path.startswith("/placement") else run_id))
    if path.endswith("/accept"):
        with engine.connect() as conn:
            rank = conn.execute(text("SELECT min(rank) FROM placement_sites WHERE proposal_id = "
                                     ":p AND accepted_camera_id IS NULL"), {"p": pid}).scalar()
        reply = _call(method, url, token, json_body={"ranks": [rank]})
        if reply[0] == 200:  # undo: the site is free again (ON DELETE SET NULL)
            with engine.begin() as conn:
                conn.execute(text("DELETE FROM cameras WHERE device_id = :d"),
                             {"d": reply[1]["accepted"][0]["device_id"]})
        return reply
    return _call(method, url, token)


def test_every_route_is_classified(api: GatewayThread, gateway: GatewayThread) -> None:
    assert api.app is not None and gateway.app is not None
    assert _routes(api.app) == set(API_ROUTES)
    assert _routes(gateway.app) == set(GATEWAY_ROUTES)
    # the app's own table says the same as this test's
    assert api_app.ROUTE_ACTIONS == {r: a for r, a in API_ROUTES.items() if a is not None}
    assert api_app.PUBLIC_ROUTES == {r for r, a in API_ROUTES.items() if a is None}


def test_api_routes_refuse_strangers_and_roles_without_the_action(
    api: GatewayThread, city: City, samples: Path
) -> None:
    point = _point_seen_only_by(city, "a")
    for route, action in API_ROUTES.items():
        if action is None:
            status, body = _api_request(api, route, None, point, samples)
            assert status == 200, route
            assert body == {"status": "ok"} or route[1] != "/health"
            continue
        for token in (None, "slt_not-a-token"):
            status, body = _api_request(api, route, token, point, samples)
            assert status == 401, (route, token, body)
        for role in ROLES:
            status, body = _api_request(api, route, city.tokens[f"{role}:city"], point, samples)
            if role in access.PERMISSIONS[action]:
                assert 200 <= status < 300, (route, role, body)
            else:
                assert status == 403 and f"may not {action}" in body["detail"], (route, role)


def test_a_district_token_finds_no_camera_of_another_district(
    api: GatewayThread, city: City
) -> None:
    a_only, b_only = _point_seen_only_by(city, "a"), _point_seen_only_by(city, "b")
    a_devs, b_devs = city.devices_of("a"), city.devices_of("b")
    url = f"{api.base}/coverage/which-cameras"
    tok_a, tok_b, tok_city = (city.tokens[k] for k in ("investigator:a", "investigator:b",
                                                      "investigator:city"))  # fmt: skip
    # one point
    _, got = _call("GET", f"{url}?lon={b_only[0]}&lat={b_only[1]}", tok_a)
    assert got["cameras"] == []
    _, got = _call("GET", f"{url}?lon={b_only[0]}&lat={b_only[1]}", tok_b)
    assert got["cameras"] and {c["device_id"] for c in got["cameras"]} <= b_devs
    _, got = _call("GET", f"{url}?lon={a_only[0]}&lat={a_only[1]}", tok_a)
    assert got["cameras"] and {c["device_id"] for c in got["cameras"]} <= a_devs
    # a batch with both points: a's token gets a's cameras only, the city's both
    body = {"points": [list(a_only), list(b_only)]}
    _, got = _call("POST", url, tok_a, json_body=body)
    assert {m["point"] for m in got["matches"]} == {0} and got["points_seen"] == 1
    assert {m["device_id"] for m in got["matches"]} <= a_devs
    _, got = _call("POST", url, tok_b, json_body=body)
    assert {m["point"] for m in got["matches"]} == {1}
    assert {m["device_id"] for m in got["matches"]} <= b_devs
    _, got = _call("POST", url, tok_city, json_body=body)
    assert {m["point"] for m in got["matches"]} == {0, 1}


def test_a_district_gets_no_sighting_of_another_districts_devices(
    api: GatewayThread, city: City
) -> None:
    """IDOR on trajectories: the same object seen in districts a and b; each district's
    investigator gets its own district's sightings only, the city's both; each query (and a
    refusal without case_ref) is one trajectory.query entry under the token's subject."""
    ref = _name("IDOR-PLATE")
    with city.engine.begin() as conn:
        ids = {k: conn.execute(text("SELECT id, device_id FROM checkpoints WHERE "
                                    "jurisdiction_id = ANY(:j) ORDER BY id LIMIT 1"),
                               {"j": sorted(city.units[k])}).one() for k in ("a", "b")}  # fmt: skip
        for n, k in enumerate(("a", "b")):
            conn.execute(text("INSERT INTO sightings (object_ref, seen_at, checkpoint_id) "
                              "VALUES (:o, :t, :c)"),
                         {"o": ref, "t": f"2026-11-20T10:0{n}:00Z", "c": ids[k].id})  # fmt: skip
    q = urlencode({"from": "2026-11-20T00:00:00Z", "to": "2026-11-21T00:00:00Z",
                   "case_ref": "CASE-IDOR", "purpose": "scope test", "route": "false"})
    url = f"{api.base}/trajectories/{ref}?{q}"
    try:
        got = {who: _call("GET", url, city.tokens[f"investigator:{who}"])
               for who in ("a", "b", "city")}  # fmt: skip
        assert all(status == 200 for status, _ in got.values()), got
        seen = {who: [s["device_id"] for s in body["sightings"]]
                for who, (_, body) in got.items()}  # fmt: skip
        assert seen == {"a": [ids["a"].device_id], "b": [ids["b"].device_id],
                        "city": [ids["a"].device_id, ids["b"].device_id]}  # fmt: skip
        status, body = _call("GET", url.replace("case_ref=CASE-IDOR&", ""),
                             city.tokens["investigator:a"])  # fmt: skip
        assert status == 400 and body["invalid_params"] == ["case_ref"]
        status, _ = _call("GET", url, city.tokens["commander:a"])
        assert status == 403
        with city.engine.connect() as conn:
            entries = conn.execute(text(
                "SELECT actor, outcome FROM audit_log WHERE action = 'trajectory.query' "
                "AND target = :o ORDER BY seq"), {"o": ref}).all()  # fmt: skip
        assert [tuple(e) for e in entries] == [
            (f"token:{city.token_names['investigator:a']}", "ok"),
            (f"token:{city.token_names['investigator:b']}", "ok"),
            (f"token:{city.token_names['investigator:city']}", "ok"),
            (f"token:{city.token_names['investigator:a']}", "refused"),
        ]
    finally:
        with city.engine.begin() as conn:
            conn.execute(text("DELETE FROM sightings WHERE object_ref = :o"), {"o": ref})


def test_a_district_sees_no_job_proposal_or_run_row_of_another_district(
    api: GatewayThread, city: City
) -> None:
    """IDOR on analysis: b's job and b's proposal are 404 for a (200 for b); a's planner
    cannot plan for b, nor what-if b's cameras; a's view of a run holds a's rows only."""
    tok = {k: city.tokens[f"planner:{k}"] for k in ("a", "b")}
    with city.engine.connect() as conn:
        b_station = conn.execute(text("SELECT code FROM jurisdictions WHERE id = ANY(:u) AND "
                                      "level = 'station' ORDER BY code LIMIT 1"),
                                 {"u": sorted(city.units["b"])}).scalar_one()  # fmt: skip
        b_cam = next(iter(sorted(city.devices_of("b"))))
    status, job = _call("POST", f"{api.base}/placement/proposals", tok["b"],
                        json_body={**FAST_PLACEMENT, "jurisdiction": b_station})  # fmt: skip
    assert status == 202, job
    _wait_job(api, (status, job), tok["b"])
    _, job = _call("GET", f"{api.base}/jobs/{job['id']}", tok["b"])
    assert job["status"] == "done", job["error"]
    assert _call("GET", f"{api.base}/jobs/{job['id']}", tok["a"])[0] == 404
    assert job["id"] not in {j["id"] for j in _call("GET", f"{api.base}/jobs", tok["a"])[1]["jobs"]}
    prop = f"{api.base}/placement/proposals/{job['result']['proposal_id']}"
    assert _call("GET", prop, tok["b"])[0] == 200
    assert _call("GET", prop, tok["a"])[0] == 404
    assert _call("POST", f"{prop}/accept", tok["a"], json_body={})[0] == 404
    status, body = _call("POST", f"{api.base}/placement/proposals", tok["a"],
                         json_body={**FAST_PLACEMENT, "jurisdiction": b_station})  # fmt: skip
    assert status == 403 and body["invalid_params"] == ["jurisdiction"]
    status, body = _call("POST", f"{api.base}/coverage/runs", tok["a"],
                         json_body={"what_if": {"remove": [b_cam]}})  # fmt: skip
    assert status == 422 and body["invalid_params"] == ["what_if.remove[0]"]
    # a's view of the latest run: a's jurisdictions and key areas only
    with city.engine.connect() as conn:
        a_keys = set(conn.execute(text("SELECT code FROM jurisdictions WHERE id = ANY(:u) "
                                       "UNION ALL SELECT id::text FROM key_areas "
                                       "WHERE jurisdiction_id = ANY(:u)"),
                                  {"u": sorted(city.units["a"])}).scalars())  # fmt: skip
    _, run = _call("GET", f"{api.base}/coverage/runs/{city.run_id}",
                   city.tokens["investigator:a"])  # fmt: skip
    assert run["assessment"] and {r["area_key"] for r in run["assessment"]} <= a_keys
    assert "totals" not in run


def test_batch_reads_a_scopes_cameras_once_per_run(api: GatewayThread, city: City) -> None:
    assert api.app is not None
    cache = api.app[api_app.WHICH_INDEX]
    url = f"{api.base}/coverage/which-cameras"
    body = {"points": [list(_point_seen_only_by(city, "a"))]}
    with city.engine.connect() as conn:  # a station of district a: a scope no test used yet
        station = conn.execute(text("SELECT code FROM jurisdictions WHERE parent_id = "
                                    "(SELECT id FROM jurisdictions WHERE code = :a) ORDER BY code "
                                    "LIMIT 1"), {"a": city.codes["a"]}).scalar_one()  # fmt: skip
    with city.engine.begin() as conn:
        tok, tok2, other = (create_token(conn, _name("t-station"), user_name="u", role="planner",
                                         jurisdiction_code=station, clearance=c)
                            for c in (3, 3, 2))  # fmt: skip
    before = cache.scope_queries
    first = _call("POST", url, tok, json_body=body)
    assert first[0] == 200 and cache.scope_queries == before + 1
    for _ in range(3):
        assert _call("POST", url, tok, json_body=body) == first
    assert cache.scope_queries == before + 1  # cached for (run, scope)
    assert _call("POST", url, tok2, json_body=body) == first  # same scope, another token
    assert cache.scope_queries == before + 1
    _call("POST", url, other, json_body=body)
    assert cache.scope_queries == before + 2  # another clearance: another scope, another read


def test_a_district_planner_cannot_import_rows_of_another_district(
    api: GatewayThread, city: City, samples: Path
) -> None:
    point = (0.0, 0.0)
    route = ("POST", "/imports/{kind}")
    names = {unit: _name(f"t-import-{unit}") for unit in ("city", "a")}
    with city.engine.begin() as conn:
        tokens = {unit: create_token(conn, name, user_name="u", role="planner",
                                     jurisdiction_code=city.codes[unit] if unit == "a" else None,
                                     clearance=CLEARANCE)
                  for unit, name in names.items()}  # fmt: skip
        before = conn.execute(text("SELECT count(*) FROM cameras")).scalar_one()
    status, body = _api_request(api, route, tokens["city"], point, samples)
    assert status == 200 and not body["errors"]  # the file itself is clean
    status, body = _api_request(api, route, tokens["a"], point, samples)
    assert status == 422 and body["errors"], body
    assert all("jurisdiction" in e["reason"] for e in body["errors"])
    with city.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cameras")).scalar_one() == before
        # each upload is one import entry, under the token that sent it
        for unit, name in names.items():
            rows = conn.execute(
                text("SELECT outcome FROM audit_log WHERE action = 'import' AND actor = :a"),
                {"a": f"token:{name}"},
            ).scalars().all()  # fmt: skip
            assert len(rows) == 1, (unit, rows)


# ids of district b's rows in each collection, straight from the tables
_B_ROWS = {
    "cameras": "SELECT device_id FROM cameras WHERE jurisdiction_id = ANY(:u)",
    "checkpoints": "SELECT device_id FROM checkpoints WHERE jurisdiction_id = ANY(:u)",
    "alarm-points": "SELECT code FROM alarm_points WHERE jurisdiction_id = ANY(:u)",
    "key-areas": "SELECT id FROM key_areas WHERE jurisdiction_id = ANY(:u)",
    "jurisdictions": "SELECT code FROM jurisdictions WHERE id = ANY(:u)",
    "blind-spots": "SELECT b.id FROM blind_spots b JOIN key_areas k ON k.id = b.key_area_id "
                   "WHERE b.run_id = :r AND k.jurisdiction_id = ANY(:u)",
    "coverage": "SELECT v.id FROM coverage_visible v JOIN cameras c ON c.id = v.camera_id "
                "WHERE v.run_id = :r AND c.jurisdiction_id = ANY(:u)",
}  # fmt: skip


def test_a_district_reads_and_writes_nothing_of_another_district_over_the_features_api(
    api: GatewayThread, city: City
) -> None:
    tok_a, tok_b = city.tokens["investigator:a"], city.tokens["investigator:b"]
    with city.engine.connect() as conn:
        run = coverage.latest_run(conn)
        theirs = {cid: [str(v) for v in conn.execute(
            text(sql), {"u": sorted(city.units["b"]), "r": run}).scalars()]
            for cid, sql in _B_ROWS.items()}  # fmt: skip
    for cid, ids in theirs.items():
        if not ids:
            continue
        # every page of a's token: none of b's ids
        url, seen = f"{api.base}/collections/{cid}/items?limit=10000", set()
        while url:
            status, body = _call("GET", url, tok_a)
            assert status == 200, (cid, body)
            seen |= {str(f["id"]) for f in body["features"]}
            url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), "")
        assert not seen & set(ids), cid
        # one item: 404 for a, 200 for b
        one = f"{api.base}/collections/{cid}/items/{ids[0]}"
        assert _call("GET", one, tok_a)[0] == 404, cid
        assert _call("GET", one, tok_b)[0] == 200, cid
    # writes: a's planner cannot update or delete b's camera (404, unchanged)
    cam = theirs["cameras"][0]
    planner_a = city.tokens["planner:a"]
    with city.engine.connect() as conn:
        before = conn.execute(text("SELECT name, ST_AsText(geom) FROM cameras "
                                   "WHERE device_id = :d"), {"d": cam}).one()  # fmt: skip
    feature = {"type": "Feature", "properties": {"name": "not yours"},
               "geometry": {"type": "Point", "coordinates": [7.42, 43.73]}}  # fmt: skip
    url = f"{api.base}/collections/cameras/items/{cam}"
    assert _call("PUT", url, planner_a, json_body=feature)[0] == 404
    assert _call("DELETE", url, planner_a)[0] == 404
    with city.engine.connect() as conn:
        after = conn.execute(text("SELECT name, ST_AsText(geom) FROM cameras "
                                  "WHERE device_id = :d"), {"d": cam}).one()  # fmt: skip
    assert after == before


# -- the gateway ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cams() -> Iterator[FakeCameras]:
    if not gstreamer_available():
        pytest.skip("needs python3-gi + GStreamer")
    c = FakeCameras(["cam/1", "cam/2"], user=CAM_USER, password=CAM_PASSWORD).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, city: City, cams: FakeCameras
) -> Iterator[GatewayThread]:
    a_station = min(city.units["a"] - {_district_id(city, "a")})
    b_station = min(city.units["b"] - {_district_id(city, "b")})
    with city.engine.begin() as conn:
        for device_id, mount, unit in ((CAM_A, "cam/1", a_station), (CAM_B, "cam/2", b_station)):
            conn.execute(
                text("INSERT INTO cameras (device_id, name, stream_ref, jurisdiction_id, geom) "
                     "VALUES (:d, :n, :r, :j, ST_SetSRID(ST_MakePoint(7.42, 43.73), 4326))"),
                {"d": device_id, "n": f"security {device_id}", "r": cams.url(mount), "j": unit},
            )  # fmt: skip
    tmp = tmp_path_factory.mktemp("gw-security")
    creds = tmp / "camera-credentials.json"
    creds.write_text(json.dumps({f"127.0.0.1:{cams.port}": f"{CAM_USER}:{CAM_PASSWORD}"}))
    settings = Settings(pg_dir=tmp / "pg", stream_signing_key=KEY, stream_idle_grace_s=1.0,
                        stream_reconnect_max_s=1.0, camera_credentials_file=creds,
                        health_timeout_s=3.0)  # type: ignore[arg-type]  # fmt: skip
    gw = GatewayThread(lambda: gw_app.create_app(settings, city.engine, prober=False)).start()
    yield gw
    gw.stop()
    with city.engine.begin() as conn:  # health rows go with them (ON DELETE CASCADE)
        conn.execute(text("DELETE FROM cameras WHERE device_id = ANY(:d)"),
                     {"d": [CAM_A, CAM_B]})  # fmt: skip


def _district_id(city: City, district: str) -> int:
    with city.engine.connect() as conn:
        return int(conn.execute(text("SELECT id FROM jurisdictions WHERE code = :c"),
                                {"c": city.codes[district]}).scalar_one())  # fmt: skip


def _signed(resource: str, subject: str, ttl_s: float = 60) -> str:
    return "?" + urlencode(access.sign(KEY.encode(), resource, subject, ttl_s))


def _gateway_url(gw: GatewayThread, route: tuple[str, str], subject: str | None,
                 camera: str = CAM_A, query: str | None = None) -> str:  # fmt: skip
    """A URL of ``route`` signed for ``subject`` (None: unsigned)."""
    path = route[1]
    resource = {"/health/faults": access.FAULTS_RESOURCE,
                "/stats": gw_app.STATS_RESOURCE}.get(path, camera)  # fmt: skip
    path = path.replace("{camera_id}", camera).replace("{name}", "0.m4s")
    if query is None:
        query = "" if subject is None else _signed(resource, subject)
    return f"{gw.base}{path}{query}"


def _get(url: str) -> Reply:
    return _call("GET", url)


async def _ws_first_init(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
        while True:
            msg = await ws.receive(timeout=10)
            if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "init":
                return dict(json.loads(msg.data))


def _ws_url(gw: GatewayThread, subject: str, camera: str = CAM_A,
            query: str | None = None) -> str:  # fmt: skip
    return _gateway_url(gw, STREAM_ROUTES[0], subject, camera, query).replace("http", "ws", 1)


def _opens(city: City, subject: str, camera: str) -> list[tuple[str, str]]:
    """(outcome, route) of the stream.open entries of ``subject`` for ``camera``."""
    with city.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT outcome, details FROM audit_log WHERE action = 'stream.open' "
                 "AND actor = :s AND target = :c ORDER BY seq"),
            {"s": subject, "c": camera},
        ).all()  # fmt: skip
    return [(r.outcome, json.loads(r.details)["route"]) for r in rows]


def test_gateway_routes_refuse_unsigned_urls_and_roles_without_the_action(
    gateway: GatewayThread, city: City
) -> None:
    for route, action in GATEWAY_ROUTES.items():
        if action is None:
            assert _get(_gateway_url(gateway, route, None)) == (200, {"status": "ok"})
            continue
        status, body = _get(_gateway_url(gateway, route, None))
        assert status == 403 and b"unsigned" in body, route
        for role in ROLES:
            subject = city.subject(f"{role}:a")
            url = _gateway_url(gateway, route, subject)
            if route == STREAM_ROUTES[0] and role in access.PERMISSIONS[action]:
                assert _run(_ws_first_init(_ws_url(gateway, subject)))["type"] == "init"
                continue
            status, body = _get(url)
            if role in access.PERMISSIONS[action]:
                assert status not in (401, 403), (route, role, body)
            else:
                assert status == 403, (route, role, status)
                assert b"may not" in body, (route, role, body)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_district_user_cannot_open_another_districts_camera_on_any_stream_route(
    gateway: GatewayThread, city: City
) -> None:
    for who, mine, theirs in (("commander:a", CAM_A, CAM_B), ("commander:b", CAM_B, CAM_A)):
        subject = city.subject(who)
        q = _signed(theirs, subject)
        for route in STREAM_ROUTES:
            status, body = _get(_gateway_url(gateway, route, subject, theirs, q))
            assert status == 403 and b"may not view camera" in body, (who, route)
        # one refused grant, four routes: one audit entry, refused
        assert _opens(city, subject, theirs) == [("denied", "ws")]
        status, _ = _get(_gateway_url(gateway, STREAM_ROUTES[1], subject, mine))
        assert status == 200, who  # their own camera opens
    # a token of district a (as the console signs for API clients) likewise
    token_subject = f"token:{city.token_names['investigator:a']}"
    for route in STREAM_ROUTES:
        status, _ = _get(_gateway_url(gateway, route, token_subject, CAM_B))
        assert status == 403, route
    assert _get(_gateway_url(gateway, STREAM_ROUTES[1], token_subject, CAM_A))[0] == 200
    # the whole city sees both
    for cam in (CAM_A, CAM_B):
        assert _get(_gateway_url(gateway, STREAM_ROUTES[1], city.subject("commander:city"),
                                 cam))[0] == 200  # fmt: skip


def test_fault_list_shows_only_the_subjects_district(gateway: GatewayThread, city: City) -> None:
    import datetime as dt

    with city.engine.begin() as conn:
        ids = dict(conn.execute(text("SELECT device_id, id FROM cameras WHERE device_id = "
                                     "ANY(:d)"), {"d": [CAM_A, CAM_B]}).all())  # fmt: skip
        now = dt.datetime.now(dt.UTC)
        health.record_probes(conn, [health.ProbeResult(ids[d], "offline", now, "test")
                                    for d in (CAM_A, CAM_B)])  # fmt: skip
    route = ("GET", "/health/faults")
    seen = {}
    for who in ("commander:a", "commander:b", "planner:city"):
        status, body = _get(_gateway_url(gateway, route, city.subject(who)))
        assert status == 200, body
        seen[who] = {f["device_id"] for f in body["faults"]}
    assert CAM_A in seen["commander:a"] and CAM_B not in seen["commander:a"]
    assert seen["commander:a"] <= city.devices_of("a")
    assert CAM_B in seen["commander:b"] and seen["commander:b"] <= city.devices_of("b")
    assert {CAM_A, CAM_B} <= seen["planner:city"]


def test_every_stream_opening_is_one_audit_entry(gateway: GatewayThread, city: City) -> None:
    name = _name("watcher")
    with city.engine.begin() as conn:
        create_user(conn, name, "investigator", jurisdiction_code=city.codes["a"])
    subject = f"user:{name}"
    assert _opens(city, subject, CAM_A) == []
    # a snapshot grant used twice: one opening
    q = _signed(CAM_A, subject)
    for _ in range(2):
        assert _get(_gateway_url(gateway, STREAM_ROUTES[1], subject, CAM_A, q))[0] == 200
    assert _opens(city, subject, CAM_A) == [("ok", "snapshot")]
    # HLS: the playlist, its init segment and media segments of one grant are one opening
    # (grants signed in the same second with the same TTL are the same grant: vary the TTL)
    q = _signed(CAM_A, subject, ttl_s=61)
    status, playlist = _get(_gateway_url(gateway, STREAM_ROUTES[2], subject, CAM_A, q))
    assert status == 200
    files = [ln for ln in playlist.decode().splitlines() if ln and not ln.startswith("#")]
    init = playlist.decode().split('URI="', 1)[1].split('"', 1)[0]
    for file in [init, *files[:2]]:
        status, _ = _get(f"{gateway.base}/streams/{CAM_A}/hls/{file}")
        assert status == 200, file
    assert _opens(city, subject, CAM_A) == [("ok", "snapshot"), ("ok", "hls")]
    # a WebSocket: one entry, a reconnect with the same URL none more, a new grant one more
    q = _signed(CAM_A, subject, ttl_s=62)
    for _ in range(2):
        assert _run(_ws_first_init(_ws_url(gateway, subject, CAM_A, q)))["type"] == "init"
    _run(_ws_first_init(_ws_url(gateway, subject, CAM_A, _signed(CAM_A, subject, ttl_s=63))))
    assert _opens(city, subject, CAM_A) == [("ok", "snapshot"), ("ok", "hls"), ("ok", "ws"),
                                            ("ok", "ws")]  # fmt: skip


def test_a_disabled_user_or_revoked_token_loses_its_streams_within_the_ttl(
    gateway: GatewayThread, city: City
) -> None:
    assert gateway.app is not None
    hub = gateway.app[gw_app.HUB]
    ttl = 1.0
    gateway.call(lambda: setattr(hub, "access_ttl_s", ttl))
    name = _name("leaver")
    token_name = _name("t-leaver")
    with city.engine.begin() as conn:
        create_user(conn, name, "commander", jurisdiction_code=city.codes["a"])
        create_token(conn, token_name, user_name=city.users["admin:a"], role="commander",
                     jurisdiction_code=city.codes["a"])  # fmt: skip
    user, token = f"user:{name}", f"token:{token_name}"
    closed: dict[str, Any] = {}

    async def watch() -> None:
        async with aiohttp.ClientSession() as s, s.ws_connect(_ws_url(gateway, user)) as ws:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    m = json.loads(msg.data)
                    if m["type"] == "status" and m["state"] == "stopped":
                        closed["status"] = m
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    closed.setdefault("frames", 0)
                    closed["frames"] += 1
            closed["code"] = ws.close_code
            closed["at"] = time.monotonic()

    async def scenario() -> None:
        task = asyncio.create_task(watch())
        assert await asyncio.to_thread(wait_for, lambda: closed.get("frames", 0) > 5, 5.0)
        with city.engine.begin() as conn:
            set_disabled(conn, name, True)
            assert revoke_token(conn, token_name)
        closed["disabled"] = time.monotonic()
        await asyncio.wait_for(task, 2 * ttl + 3.0)

    try:
        assert _get(_gateway_url(gateway, STREAM_ROUTES[1], token))[0] == 200
        _run(scenario())
        took = closed["at"] - closed["disabled"]
        assert closed["code"] == 4403 and closed["status"]["reason"] == "access"
        assert took < 2 * ttl + 1.0, took
        # new requests, old grants and new ones alike, are refused after the TTL
        time.sleep(ttl)
        for subject in (user, token):
            status, body = _get(_gateway_url(gateway, STREAM_ROUTES[1], subject))
            assert status == 403 and b"disabled or revoked" in body, subject
    finally:
        gateway.call(lambda: setattr(hub, "access_ttl_s", gw_app.ACCESS_TTL_S))


def test_stats_need_an_admin_and_cli_subjects_are_the_operator(
    gateway: GatewayThread, city: City
) -> None:
    route = ("GET", "/stats")
    assert _get(_gateway_url(gateway, route, city.subject("admin:a")))[0] == 200
    assert _get(_gateway_url(gateway, route, "cli:root"))[0] == 200
    assert _get(_gateway_url(gateway, route, city.subject("commander:city")))[0] == 403
    # the operator's CLI signs cli:<os user>: the whole city, audited under that name
    assert _get(_gateway_url(gateway, STREAM_ROUTES[1], "cli:ops", CAM_B))[0] == 200
    assert _opens(city, "cli:ops", CAM_B) == [("ok", "snapshot")]
    assert _get(_gateway_url(gateway, STREAM_ROUTES[1], "cli:", CAM_B))[0] == 403


def test_a_social_camera_above_the_clearance_is_refused(gateway: GatewayThread, city: City) -> None:
    low, high = _name("low"), _name("high")
    with city.engine.begin() as conn:
        create_user(conn, low, "commander", jurisdiction_code=city.codes["a"], clearance=0)
        create_user(conn, high, "commander", jurisdiction_code=city.codes["a"], clearance=3)
        conn.execute(text("UPDATE cameras SET access_level = 3 WHERE device_id = :d"),
                     {"d": CAM_A})  # fmt: skip
    try:
        status, body = _get(_gateway_url(gateway, STREAM_ROUTES[1], f"user:{low}"))
        assert status == 403 and b"clearance 0" in body
        assert _get(_gateway_url(gateway, STREAM_ROUTES[1], f"user:{high}"))[0] == 200
    finally:
        with city.engine.begin() as conn:
            conn.execute(text("UPDATE cameras SET access_level = 0 WHERE device_id = :d"),
                         {"d": CAM_A})  # fmt: skip


def test_no_stream_opens_when_its_audit_entry_cannot_be_written(
    gateway: GatewayThread, city: City
) -> None:
    from sqlalchemy.exc import OperationalError

    assert gateway.app is not None
    hub = gateway.app[gw_app.HUB]
    subject = city.subject("admin:a")

    def broken(*args: object) -> None:
        raise OperationalError("INSERT INTO audit_log", {}, Exception("disk full"))

    gateway.call(lambda: setattr(hub, "_record_open", broken))
    try:
        q = _signed(CAM_A, subject, ttl_s=64)
        for route in STREAM_ROUTES[1:3]:
            status, body = _get(_gateway_url(gateway, route, subject, CAM_A, q))
            assert status == 503 and b"audit log could not be written" in body, route
    finally:
        gateway.call(lambda: delattr(hub, "_record_open"))
    # the same grant opens once the log can be written again, and is audited then
    assert _get(_gateway_url(gateway, STREAM_ROUTES[1], subject, CAM_A, q))[0] == 200
    assert _opens(city, subject, CAM_A)[-1] == ("ok", "snapshot")
