"""Coverage runs on the Monaco demo city in PostGIS, checked against independent sampling."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod, Proj
from sqlalchemy import Engine, create_engine, text

from analysis.coverage_run import run_coverage
from gis import fov
from gis.occlusion import place_facade_cameras
from store.coverage import read_inputs
from store.scope import EVERYTHING, Scope
from tests.test_cli import run

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def city(city_url: str) -> Iterator[Engine]:
    engine = create_engine(city_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def first_run(city: Engine) -> int:
    report = run_coverage(city, workers=2)
    assert report.run_id is not None
    return report.run_id


def _level_wkb(engine: Engine, run_id: int) -> dict[str, bytes]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT level, ST_AsBinary(geom) FROM coverage_levels WHERE run_id=:r"),
            {"r": run_id},
        ).all()
    return {r[0]: bytes(r[1]) for r in rows}


def test_a_run_fills_every_result_table(city: Engine, first_run: int) -> None:
    with city.connect() as conn:
        counts = {
            t: conn.execute(
                text(f"SELECT count(*) FROM {t} WHERE run_id = :r"), {"r": first_run}
            ).scalar_one()  # fmt: skip
            for t in (
                "coverage_visible",
                "coverage_levels",
                "blind_spots",
                "coverage_stats",
                "road_coverage",
            )  # fmt: skip
        }
        status = conn.execute(text("SELECT status, timings FROM coverage_runs WHERE id=:r"),
                              {"r": first_run}).one()  # fmt: skip
        juris = conn.execute(text("SELECT count(*) FROM jurisdictions")).scalar_one()
    assert status.status == "done" and status.timings["compute"] > 0
    assert counts["coverage_levels"] >= 3
    assert counts["coverage_visible"] > 300
    assert counts["blind_spots"] > 0
    assert counts["road_coverage"] > 0
    # every jurisdiction at every level in the assessment table
    with city.connect() as conn:
        jrows = conn.execute(
            text("SELECT count(DISTINCT area_key) FROM coverage_stats "
                 "WHERE run_id=:r AND scope='jurisdiction'"), {"r": first_run},
        ).scalar_one()  # fmt: skip
    assert jrows == juris
    # the entry roads' status per crossing, for the console's layer, agrees with the counts
    with city.connect() as conn:
        results = conn.execute(text("SELECT results FROM coverage_runs WHERE id=:r"),
                               {"r": first_run}).scalar_one()  # fmt: skip
    per_road = results["entry_roads_status"]
    assert per_road and {d["status"] for d in per_road} <= {"covered", "partial", "missing"}
    by_status: dict[str, int] = {}
    for d in per_road:
        by_status[d["status"]] = by_status.get(d["status"], 0) + 1
    assert by_status == results["entry_roads_by_status"]


def _audit_of(engine: Engine, action: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.actor, r.target) for r in conn.execute(
            text("SELECT actor, target FROM audit_log WHERE action = :a ORDER BY seq"),
            {"a": action})]  # fmt: skip


def test_rerun_gives_byte_identical_geometry(city: Engine, first_run: int) -> None:
    from store.scope import Principal, Scope

    before = _audit_of(city, "coverage.run")
    planner = Principal("user:planner-x", "planner-x", "planner", Scope())
    again = run_coverage(city, workers=1, principal=planner)
    assert again.run_id is not None and again.run_id != first_run
    assert _level_wkb(city, again.run_id) == _level_wkb(city, first_run)
    # one audit entry per stored run, under who started it; none for an unsaved run
    assert _audit_of(city, "coverage.run") == [*before, ("user:planner-x", str(again.run_id))]
    run_coverage(city, workers=1, save=False)
    assert len(_audit_of(city, "coverage.run")) == len(before) + 1


def _grid_azimuth(lon: float, lat: float, az_true: float, crs: str) -> float:
    gamma = Proj(crs).get_factors(lon, lat).meridian_convergence
    return (az_true - gamma) % 360.0


def _in_sector(dx: float, dy: float, az: float, hfov: float, near: float, far: float) -> bool:
    d = math.hypot(dx, dy)
    if not near - 1e-9 <= d <= far + 1e-9:
        return False
    if hfov >= 359.0:
        return True
    bearing = math.degrees(math.atan2(dx, dy)) % 360.0
    diff = abs((bearing - az + 180.0) % 360.0 - 180.0)
    return diff <= hfov / 2.0


def test_detect_coverage_agrees_with_line_of_sight_sampling(city: Engine, first_run: int) -> None:
    """Independent check: sector by plain trigonometry + 2.5D line of sight against buildings."""
    with city.connect() as conn:
        inputs = read_inputs(conn)
        crs = json.loads(json.dumps(conn.execute(
            text("SELECT parameters->>'crs' FROM coverage_runs WHERE id=:r"), {"r": first_run}
        ).scalar_one()))  # fmt: skip
        cov = shapely.from_wkb(bytes(conn.execute(
            text("SELECT ST_AsBinary(ST_Transform(geom, :srid)) FROM coverage_levels "
                 "WHERE run_id=:r AND level='detect'"),
            {"r": first_run, "srid": int(crs.split(":")[1])},
        ).scalar_one()))  # fmt: skip
    cams = inputs["cameras"]
    cams = cams[cams["azimuth_deg"].notna() & ~cams["any_direction"]
                & (cams["camera_type"] == "fixed")].copy()  # fmt: skip
    lonlat = cams.geometry
    cams_m = cams.to_crs(crs)
    buildings = inputs["buildings"].to_crs(crs)
    cams_m["camera_id"] = cams_m["device_id"]
    cams_m["grid_az"] = [
        _grid_azimuth(p.x, p.y, a, crs) for p, a in zip(lonlat, cams["azimuth_deg"], strict=True)
    ]
    moved, _ = place_facade_cameras(cams_m.assign(azimuth_deg=cams_m["grid_az"]), buildings)
    cams_m = cams_m.set_geometry(moved.geometry.to_numpy()).set_crs(crs, allow_override=True)
    # bands by the DOMAIN formulas (fov's scalar functions are checked on hand-computed cases)
    hfov, vfov = fov.fov_deg(cams_m["sensor_width_mm"].to_numpy(),
                             cams_m["sensor_height_mm"].to_numpy(),
                             cams_m["focal_length_mm"].to_numpy())  # fmt: skip
    slant = fov.max_slant_range_m(cams_m["resolution_w_px"].to_numpy(), hfov, 25.0)
    near, far = fov.ground_band_m(cams_m["mount_height_m"].to_numpy(),
                                  cams_m["tilt_deg"].to_numpy(), vfov, 0.0, slant)  # fmt: skip
    tree_b = shapely.STRtree(buildings.geometry.to_numpy())
    heights = buildings["height_m"].to_numpy()
    bgeoms = buildings.geometry.to_numpy()

    rng = np.random.default_rng(7)
    cx, cy = cams_m.geometry.x.to_numpy(), cams_m.geometry.y.to_numpy()
    # points near the fixed cameras (where the answer is not trivially "not covered")
    pick = rng.integers(0, len(cams_m), 3000)
    r = rng.uniform(0, 80, 3000)
    t = rng.uniform(0, 2 * np.pi, 3000)
    px, py = cx[pick] + r * np.sin(t), cy[pick] + r * np.cos(t)
    pts = shapely.points(px, py)
    boundary = cov.boundary
    shapely.prepare(cov)
    tree_c = shapely.STRtree(shapely.points(cx, cy))
    agree = total = 0
    for k, p in enumerate(pts):
        if shapely.distance(boundary, p) < 0.05:
            continue  # on an edge: polygonization tolerance, not a visibility question
        inside_building = len(tree_b.query(p, predicate="intersects")) > 0
        seen = False
        if not inside_building:
            for i in tree_c.query(shapely.buffer(p, 80.0)):
                if not np.isfinite(near[i]) or not _in_sector(
                    px[k] - cx[i], py[k] - cy[i], cams_m["grid_az"].iloc[i], hfov[i], near[i],
                    far[i],
                ):  # fmt: skip
                    continue
                seg = shapely.LineString([(cx[i], cy[i]), (px[k], py[k])])
                length = seg.length
                blocked = False
                for b in tree_b.query(seg, predicate="intersects"):
                    piece = shapely.intersection(seg, bgeoms[b])
                    coords = shapely.get_coordinates(piece)
                    if not len(coords):
                        continue
                    d = max(math.hypot(x - cx[i], y - cy[i]) for x, y in coords)
                    h_line = cams_m["mount_height_m"].iloc[i] * (1.0 - d / length)
                    if h_line < heights[b] - 1e-6:
                        blocked = True
                        break
                if not blocked:
                    seen = True
                    break
        got = bool(cov.contains(p))
        # the stored coverage also includes PTZ/dome/OSM cameras this check ignores: count
        # only disagreements the fixed cameras can explain
        if seen or not got:
            total += 1
            agree += int(seen == got)
    print(f"detect coverage vs line-of-sight sampling: {agree}/{total} agree")
    assert total > 1000
    assert agree / total >= 0.999, f"{agree}/{total} agree"


def test_which_cameras_cli(city: Engine, first_run: int) -> None:
    with city.connect() as conn:
        lon, lat = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM "
                 "coverage_visible WHERE run_id=:r AND level='observe' AND area_m2 > 50 "
                 "ORDER BY id LIMIT 1) s"), {"r": first_run},
        ).one()  # fmt: skip
    out = run("coverage", "which-cameras", str(lon), str(lat), "--json",
              env={"DATABASE_URL": city.url.render_as_string(False)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)["cameras"]
    assert found and {"camera_id", "device_id", "dori_level", "distance_m"} <= set(found[0])
    ranks = [fov.LEVELS.index(c["dori_level"]) for c in found]
    assert ranks == sorted(ranks, reverse=True)  # best level first
    # independent: the nearest returned camera really is that far away
    with city.connect() as conn:
        clon, clat = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE id=:i"),
                                  {"i": found[0]["camera_id"]}).one()  # fmt: skip
    _, _, dist = GEOD.inv(clon, clat, lon, lat)
    assert found[0]["distance_m"] == pytest.approx(dist, abs=0.05)


def test_what_if_adds_coverage_without_touching_the_inventory(city: Engine, tmp_path: Path,
                                                             first_run: int) -> None:  # fmt: skip
    with city.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM cameras")).scalar_one()
        spot = conn.execute(
            text("SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)), "
                 "area_m2 FROM blind_spots WHERE run_id=:r ORDER BY area_m2 DESC LIMIT 1"),
            {"r": first_run},
        ).one()  # fmt: skip
    what_if = {"add": [{"device_id": "99010101001329999999", "lon": spot[0], "lat": spot[1],
                        "azimuth_deg": 0, "any_direction": True, "camera_type": "ptz",
                        "mount_height_m": 6, "tilt_deg": 30, "sensor_width_mm": 5.6,
                        "sensor_height_mm": 3.1, "focal_length_mm": 2.8,
                        "resolution_w_px": 2560, "resolution_h_px": 1440}]}  # fmt: skip
    path = tmp_path / "what_if.json"
    path.write_text(json.dumps(what_if))
    out = run("coverage", "run", "--what-if", str(path), "--json",
              env={"DATABASE_URL": city.url.render_as_string(False)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    with city.connect() as conn:
        after = conn.execute(text("SELECT count(*) FROM cameras")).scalar_one()
        base = conn.execute(text("SELECT results FROM coverage_runs WHERE id=:r"),
                            {"r": first_run}).scalar_one()  # fmt: skip
    assert after == before
    assert rep["totals"]["blind_spot_m2"] < base["blind_spot_m2"]
    assert rep["totals"]["cameras"] == base["cameras"] + 1


def test_report_exports_the_assessment(city: Engine, first_run: int, tmp_path: Path) -> None:
    out = run("coverage", "report", "--csv", str(tmp_path / "a.csv"), "--json",
              env={"DATABASE_URL": city.url.render_as_string(False)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert rows and all(0 <= r["open_covered_pct"] <= 100 for r in rows)
    table = gpd.pd.read_csv(tmp_path / "a.csv")
    assert len(table) == len(rows)


def test_optics_cli_worked_case() -> None:
    out = run("coverage", "optics", "--sensor-width-mm", "5.6", "--focal-mm", "4", "--pixels",
              "2560", "--sensor-height-mm", "3.15", "--mount-height-m", "6", "--tilt-deg", "10",
              "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["hfov_deg"] == pytest.approx(70.0, abs=0.05)
    slants = {k: v["max_slant_m"] for k, v in rep["levels"].items()}
    assert slants == pytest.approx({"detect": 73.1, "observe": 29.3, "recognise": 14.6,
                                    "identify": 7.3}, abs=0.05)  # fmt: skip
    assert rep["levels"]["identify"]["possible"] is False


def test_which_cameras_over_http(city: Engine, first_run: int) -> None:
    import asyncio

    import aiohttp
    from aiohttp.test_utils import TestServer

    from api.app import create_app
    from settings import Settings
    from store.coverage import cameras_seeing
    from store.scope import Scope
    from store.tokens import create_token

    with city.begin() as conn:
        token = create_token(conn, "which-investigator", user_name="v", role="investigator",
                             jurisdiction_code=None)  # fmt: skip
        viewer = create_token(conn, "which-viewer", user_name="v", role="viewer",
                              jurisdiction_code=None)  # fmt: skip
        lon, lat = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM "
                 "coverage_visible WHERE run_id=:r AND area_m2 > 50 ORDER BY id LIMIT 1) s"),
            {"r": first_run},
        ).one()  # fmt: skip
        # the token: whole city, clearance 0 (social-resource cameras above it are not listed)
        expected = cameras_seeing(conn, first_run, lon, lat, Scope(None, clearance=0))

    async def go() -> list[tuple[int, dict[str, object]]]:
        async with TestServer(create_app(Settings(), city), host="127.0.0.1") as server:
            async with aiohttp.ClientSession() as s:
                out = []
                for query, hdr in (
                    (f"lon={lon}&lat={lat}&run={first_run}", {"Authorization": f"Bearer {token}"}),
                    (f"lon={lon}&lat={lat}", {}),
                    ("lon=abc&lat=1", {"Authorization": f"Bearer {token}"}),
                    (f"lon={lon}&lat={lat}", {"Authorization": f"Bearer {viewer}"}),
                ):
                    url = server.make_url(f"/coverage/which-cameras?{query}")
                    async with s.get(url, headers=hdr) as resp:
                        out.append((resp.status, await resp.json(content_type=None)))
                return out

    (ok, body), (unauth, _), (bad, problem), (refused, why) = asyncio.run(go())
    assert ok == 200 and body["cameras"] == expected and expected
    assert unauth == 401
    assert bad == 400 and "lon" in problem["detail"]
    assert refused == 403 and "may not coverage" in why["detail"]  # viewers see the map only


def test_road_report_lists_the_longest_unseen_stretches(city: Engine, first_run: int) -> None:
    out = run("coverage", "report", "--roads", "detect", "--json",
              env={"DATABASE_URL": city.url.render_as_string(False)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    lengths = [g["length_m"] for g in rep["longest_unseen"]]
    assert lengths and lengths == sorted(lengths, reverse=True)
    with city.connect() as conn:
        road_len = dict(
            conn.execute(text("SELECT id, ST_Length(geom::geography) FROM roads")).all()
        )
    for g in rep["longest_unseen"]:  # a gap lies within its road
        assert 0 <= g["start_m"] < g["end_m"] <= road_len[g["road_id"]] * 1.001 + 0.01
    assert all(0 <= r["covered_pct"] <= 100 for r in rep["by_class"])


def _batch_points(city: Engine, run_id: int, n_seen: int = 60, n_random: int = 60) -> np.ndarray:
    """Points inside visible polygons (seen) and random points over the city (mostly not)."""
    with city.connect() as conn:
        seen = conn.execute(
            text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM "
                 "coverage_visible WHERE run_id=:r AND area_m2 > 20 ORDER BY id LIMIT :n) s"),
            {"r": run_id, "n": n_seen},
        ).all()  # fmt: skip
        w, s, e, n = conn.execute(text(
            "SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM "
            "(SELECT ST_Extent(geom) x FROM coverage_levels WHERE run_id=:r) q"),
            {"r": run_id}).one()  # fmt: skip
    rng = np.random.default_rng(3)
    rand = np.column_stack([rng.uniform(w, e, n_random), rng.uniform(s, n, n_random)])
    return np.vstack([np.asarray(seen, dtype=float), rand])


def _per_point_from_postgis(
    city: Engine, run_id: int, pts: np.ndarray, scope: Scope = EVERYTHING
) -> dict[int, list]:
    from store.coverage import cameras_seeing

    with city.connect() as conn:
        return {i: cameras_seeing(conn, run_id, float(x), float(y), scope) for i, (x, y) in
                enumerate(pts)}  # fmt: skip


def _assert_matches_postgis(matches: list[dict], expected: dict[int, list]) -> None:
    got: dict[int, list] = {}
    for m in matches:
        got.setdefault(int(m["point"]), []).append(m)
    assert set(got) == {i for i, cams in expected.items() if cams}
    for i, cams in got.items():
        want = expected[i]
        assert [(c["device_id"], c["dori_level"]) for c in cams] == [
            (c["device_id"], c["dori_level"]) for c in want]  # fmt: skip
        for c, w in zip(cams, want, strict=True):
            assert c["distance_m"] == pytest.approx(w["distance_m"], abs=0.02)


def test_which_cameras_batch_over_http_agrees_with_postgis(city: Engine, first_run: int) -> None:
    """The in-memory batch (STRtree over the stored polygons) against one PostGIS ST_Covers
    query per point."""
    import asyncio
    import io

    import aiohttp
    from aiohttp.test_utils import TestServer

    from api.app import create_app
    from settings import Settings
    from store.tokens import create_token

    pts = _batch_points(city, first_run)
    # the token's scope: whole city, clearance 0
    expected = _per_point_from_postgis(city, first_run, pts, Scope(None, clearance=0))
    assert 20 < sum(1 for v in expected.values() if v) < len(pts)  # seen and unseen points
    with city.begin() as conn:
        token = create_token(conn, "batch-planner", user_name="v", role="planner",
                             jurisdiction_code=None)  # fmt: skip
        viewer = create_token(conn, "batch-viewer", user_name="v", role="viewer",
                              jurisdiction_code=None)  # fmt: skip
    auth = {"Authorization": f"Bearer {token}"}

    async def go() -> list[tuple[int, dict]]:
        async with TestServer(create_app(Settings(), city), host="127.0.0.1") as server:
            url = server.make_url("/coverage/which-cameras")
            async with aiohttp.ClientSession() as s:
                out = []
                for body, hdr in (
                    ({"points": pts.tolist(), "run": first_run}, auth),
                    ({"points": pts.tolist()}, {}),
                    ({"points": [[7.42, 43.73], [7.42, "x"]]}, auth),
                    ({"points": [[7.42, 95.0]]}, auth),
                    ({"pts": []}, auth),
                    ({"points": [[7.42, 43.73]] * 100_001}, auth),
                    ({"points": pts.tolist()}, {"Authorization": f"Bearer {viewer}"}),
                ):
                    raw = io.BytesIO(json.dumps(body).encode())  # big bodies as a stream
                    hdr = {**hdr, "Content-Type": "application/json"}
                    async with s.post(url, data=raw, headers=hdr) as resp:
                        out.append((resp.status, await resp.json(content_type=None)))
                return out

    (ok, body), (unauth, _), (bad1, p1), (bad2, p2), (bad3, p3), (big, p4), (refused, _) = (
        asyncio.run(go()))  # fmt: skip
    assert ok == 200 and body["run_id"] == first_run and body["points"] == len(pts)
    _assert_matches_postgis(body["matches"], expected)
    assert unauth == 401
    assert bad1 == 400 and "points[1]" in p1["detail"]
    assert bad2 == 400 and "point 0" in p2["detail"] and "95" in p2["detail"]
    assert bad3 == 400 and '"points"' in p3["detail"]
    assert big == 400 and "100,000" in p4["detail"]
    assert refused == 403


def test_which_cameras_cli_file(city: Engine, first_run: int, tmp_path: Path) -> None:
    pts = _batch_points(city, first_run, n_seen=20, n_random=20)
    src = tmp_path / "points.csv"
    rows = "".join(f"{float(x)!r},{float(y)!r}\n" for x, y in pts)
    src.write_text("lon,lat\n" + rows, encoding="utf-8")
    out_csv = tmp_path / "matches.csv"
    env = {"DATABASE_URL": city.url.render_as_string(False)}
    out = run("coverage", "which-cameras", "--file", str(src), "--run", str(first_run), "--json",
              env=env)  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["points"] == len(pts) and data["run_id"] == first_run
    _assert_matches_postgis(data["matches"], _per_point_from_postgis(city, first_run, pts))
    out = run("coverage", "which-cameras", "--file", str(src), "--out", str(out_csv), env=env)
    assert out.returncode == 0, out.stderr
    assert out_csv.read_text(encoding="utf-8").splitlines()[0] == (
        "point,device_id,camera_id,name,dori_level,distance_m")
    both = run("coverage", "which-cameras", "7.4", "43.7", "--file", str(src), env=env)
    assert both.returncode != 0 and "either LON LAT or --file" in both.stderr


def test_coverage_run_cli_shows_a_progress_bar(city: Engine, first_run: int) -> None:
    from analysis.coverage_run import PHASES

    out = run("coverage", "run", "--no-save",
              env={"DATABASE_URL": city.url.render_as_string(False)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("[")]
    shown = [ln.split("%", 1)[1].split()[0] for ln in lines]
    assert shown == [name for name, _ in PHASES if name != "write"] + ["done"]
    pct = [int(ln.split("]", 1)[1].split("%")[0]) for ln in lines]
    assert pct == sorted(pct) and pct[0] == 0 and pct[-1] == 100
    assert "coverage run (not saved)" in out.stdout


def test_coverage_run_if_missing_keeps_an_existing_run(city: Engine, first_run: int) -> None:
    env = {"DATABASE_URL": city.url.render_as_string(False)}
    with city.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM coverage_runs")).scalar_one()
    out = run("coverage", "run", "--if-missing", "--json", env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["skipped"] is True and data["run_id"] >= first_run
    with city.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM coverage_runs")).scalar_one() == before
