"""Issue 7: a what-if coverage run started from the map in the REAL console — place a camera
with the marker tool (or move one), run in the background with a progress bar, then the
what-if run's blind spots against the base run's, on the map and per key area.

Monaco demo city in PostGIS, headless Chromium, the app built with the real runner
(``analysis.coverage_run.run_coverage``). Checked here independently: the stored what-if run
holds the camera where the browser put the marker, the inventory and the city's latest run are
unchanged, the new blind spots lie inside the base ones (shapely, UTM 32N: adding a camera can
only remove blind ground) and the table's totals equal the stored blind spots (SQL).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from analysis.coverage_run import run_coverage
from app import create_app
from store import coverage
from tests import console_tools as ct
from tests.console_auth import User, district_codes, make_user

pytestmark = pytest.mark.browser

PROGRESS_JS = """
window.__wi = [];
new MutationObserver(() => {
    const p = document.getElementById("wi-progress");
    const v = p && p.getAttribute("value");
    if (v !== null && v !== undefined && window.__wi[window.__wi.length - 1] !== v) {
        window.__wi.push(v);
    }
}).observe(document, {attributes: true, childList: true, subtree: true});
"""


@dataclass
class Env:
    engine: Engine
    base_run: int
    planner: ct.Browser
    user: User
    district: ct.Browser
    district_code: str


@pytest.fixture(scope="module")
def env(city_url: str) -> Iterator[Env]:
    engine = create_engine(city_url)
    with engine.connect() as conn:
        base_run = coverage.latest_run(conn)
    if base_run is None:
        base_run = run_coverage(engine, workers=2).run_id
    assert base_run is not None
    planner = make_user(engine, "planner")
    code = district_codes(engine)[1]
    district = make_user(engine, "planner", code)
    app = create_app(ct.settings(), engine, what_if_runner=run_coverage)
    try:
        with ct.console(engine, [planner, district], app=app) as (b, d):
            b.page.evaluate(PROGRESS_JS)
            yield Env(engine, base_run, b, planner, d, code)
    finally:
        engine.dispose()


def _blind_spot_site(engine: Engine, run_id: int, jids: list[int] | None = None
                     ) -> tuple[float, float, float]:  # fmt: skip
    """(lon, lat, azimuth°) inside the largest blind spot (of key areas in ``jids``), ≥ 10 m
    from every camera, looking from its point on surface towards its farthest part."""
    with engine.connect() as conn:
        row = conn.execute(text("""
            WITH b AS (SELECT s.geom, ST_PointOnSurface(s.geom) AS p FROM blind_spots s
                       JOIN key_areas k ON k.id = s.key_area_id
                       WHERE s.run_id = :r AND (CAST(:j AS int[]) IS NULL
                                                OR k.jurisdiction_id = ANY(:j))
                       ORDER BY s.area_m2 DESC LIMIT 20)
            SELECT ST_X(p), ST_Y(p),
                   degrees(ST_Azimuth(p, ST_Centroid(ST_LongestLine(p, geom)))) FROM b
            WHERE NOT EXISTS (SELECT 1 FROM cameras c WHERE
                              ST_DWithin(c.geom::geography, b.p::geography, 10))
            LIMIT 1"""), {"r": run_id, "j": jids}).one()  # fmt: skip
    return float(row[0]), float(row[1]), float(row[2]) % 360.0


def _metric_union(engine: Engine, run_id: int, key_areas: set[int] | None = None
                  ) -> shapely.Geometry:  # fmt: skip
    gdf = gpd.read_postgis(text("SELECT key_area_id, geom FROM blind_spots WHERE run_id = :r"),
                           engine, params={"r": run_id}, geom_col="geom").to_crs(
                               ct.METRIC_CRS)  # fmt: skip
    return shapely.union_all(shapely.make_valid(gdf.geometry.to_numpy()))


def _state(engine: Engine) -> tuple[int, int | None, str]:
    with engine.connect() as conn:
        n = int(conn.execute(text("SELECT count(*) FROM cameras")).scalar_one())
        digest = str(conn.execute(text(
            "SELECT md5(string_agg(device_id || ST_AsText(geom) || coalesce(azimuth_deg, -1), "
            "',' ORDER BY id)) FROM cameras")).scalar_one())  # fmt: skip
        return n, coverage.latest_run(conn), digest


def test_place_a_camera_and_see_the_blind_spots_change(env: Env, artefacts_dir: Path) -> None:
    page = env.planner.page
    before = _state(env.engine)
    lon, lat, azimuth = _blind_spot_site(env.engine, env.base_run)
    ct.set_view(page, lat, lon, 18)
    ct.open_tool(page, "what-if")
    ct.draw_marker(page, lon, lat)
    (marker,) = ct.drawn(page, "Point")
    mlon, mlat = marker["coordinates"]
    assert math.dist((mlon, mlat), (lon, lat)) < 2e-5  # the pixel clicked, ~1 m
    page.fill("#wi-azimuth", f"{azimuth:.1f}")
    page.fill("#wi-tilt", "20")
    page.fill("#wi-height", "6")
    page.fill("#wi-focal", "2.8")
    page.keyboard.press("Tab")  # debounced inputs commit on blur
    with env.engine.connect() as conn:
        head = int(conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_log")).scalar_one())
    t0 = time.perf_counter()
    page.click("#wi-run")
    page.wait_for_function("() => (document.getElementById('wi-status').textContent || '')"
                           ".includes('started')", timeout=5_000)  # fmt: skip
    started_s = time.perf_counter() - t0
    page.wait_for_selector("#wi-done", timeout=120_000)
    done_s = time.perf_counter() - t0
    print(f"what-if: click -> started {started_s:.2f} s, -> results {done_s:.1f} s")
    assert started_s < 2.0  # the callback does not wait for the run
    progress = page.evaluate("window.__wi")
    assert any(0 < float(v) < 1 for v in progress) and progress[-1] == "1", progress

    run_id = int(page.get_attribute("#wi-done", "data-run") or "0")
    assert int(page.get_attribute("#wi-done", "data-base") or "0") == env.base_run
    with env.engine.connect() as conn:
        params = conn.execute(text("SELECT parameters FROM coverage_runs WHERE id = :r"),
                              {"r": run_id}).scalar_one()  # fmt: skip
        totals = {r: float(conn.execute(text(
            "SELECT coalesce(sum(area_m2), 0) FROM blind_spots WHERE run_id = :r"),
            {"r": r}).scalar_one()) for r in (env.base_run, run_id)}  # fmt: skip
        entries = conn.execute(text("SELECT actor, target, details FROM audit_log WHERE seq > :s "
                                    "AND action = 'coverage.run'"), {"s": head}).all()
    (added,) = params["what_if"]["add"]
    assert (added["lon"], added["lat"]) == pytest.approx((mlon, mlat), abs=1e-6)  # 6 decimals
    assert added["azimuth_deg"] == pytest.approx(round(azimuth, 1))
    assert (added["tilt_deg"], added["mount_height_m"], added["focal_length_mm"]) == (20, 6, 2.8)
    assert _state(env.engine) == before  # inventory and the city's latest run untouched
    ((actor, target, details),) = entries
    assert actor == f"user:{env.user.name}" and target == str(run_id)
    assert json.loads(details)["what_if"] is True

    # The table: the stored totals; the new blind ground lies inside the base one, and shrank.
    base_total = float(page.get_attribute("#wi-compare tr[data-base]", "data-base") or "nan")
    new_total = float(page.get_attribute("#wi-compare tr[data-base]", "data-new") or "nan")
    assert base_total == pytest.approx(totals[env.base_run], abs=0.01)
    assert new_total == pytest.approx(totals[run_id], abs=0.01)
    base_u, new_u = _metric_union(env.engine, env.base_run), _metric_union(env.engine, run_id)
    assert shapely.difference(new_u, base_u).area < max(1.0, 1e-5 * base_u.area)  # slivers
    assert new_u.area < base_u.area - 1.0, "the camera should see some blind ground"
    # Both on the map: the base blind spots dashed grey, the what-if ones red.
    styles = page.evaluate("""() => {
        const out = {base: 0, new: 0};
        document.getElementById("map").sightlineMap.eachLayer((l) => {
            if (!l.feature || !l.options) { return; }
            if (l.options.dashArray === "2 5") { out.base += 1; }
            else if (l.options.fillColor === "#e31a1c") { out.new += 1; }
        });
        return out;
    }""")
    with env.engine.connect() as conn:
        n_rows = {r: int(conn.execute(text("SELECT count(*) FROM blind_spots WHERE run_id = :r"),
                                      {"r": r}).scalar_one()) for r in (env.base_run, run_id)}
    assert styles == {"base": n_rows[env.base_run], "new": n_rows[run_id]}
    page.screenshot(path=str(artefacts_dir / "console-what-if.png"))
    assert not env.planner.errors


def test_move_a_camera(env: Env, artefacts_dir: Path) -> None:
    page = env.planner.page
    with env.engine.connect() as conn:
        device, lon, lat = conn.execute(text(
            "SELECT c.device_id, ST_X(c.geom), ST_Y(c.geom) FROM cameras c WHERE NOT EXISTS ("
            "SELECT 1 FROM cameras o WHERE o.id <> c.id AND "
            "ST_DWithin(o.geom::geography, c.geom::geography, 15)) ORDER BY c.id LIMIT 1")).one()
    ct.set_view(page, lat, lon, 18)
    ct.open_tool(page, "what-if")
    page.click("#wi-mode input[value=move]")
    x, y = ct.to_page(page, lon, lat)
    page.mouse.click(x, y)
    page.wait_for_function(f"() => (document.getElementById('wi-move-label').textContent || '')"
                           f".includes('{device}')", timeout=10_000)  # fmt: skip
    target = ct.to_page(page, lon + 0.0002, lat + 0.0001)
    page.click(".leaflet-draw-draw-marker")
    page.mouse.click(*target)
    page.wait_for_timeout(200)
    marker = ct.drawn(page, "Point")[-1]
    old = page.get_attribute("#wi-done", "data-run") if page.query_selector("#wi-done") else ""
    page.click("#wi-run")
    page.wait_for_function(f"() => {{ const e = document.getElementById('wi-done');"
                           f" return e && e.dataset.run !== {old!r}; }}", timeout=120_000)
    run_id = int(page.get_attribute("#wi-done", "data-run") or "0")
    with env.engine.connect() as conn:
        params = conn.execute(text("SELECT parameters FROM coverage_runs WHERE id = :r"),
                              {"r": run_id}).scalar_one()  # fmt: skip
        still = conn.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE "
                                  "device_id = :d"), {"d": device}).one()  # fmt: skip
    moved = params["what_if"]["move"][device]
    assert (moved["lon"], moved["lat"]) == pytest.approx(tuple(marker["coordinates"]), abs=1e-6)
    assert tuple(still) == pytest.approx((lon, lat))  # the inventory did not move
    page.screenshot(path=str(artefacts_dir / "console-what-if-move.png"))


def test_a_district_planner_compares_only_its_key_areas(env: Env, artefacts_dir: Path) -> None:
    page = env.district.page
    with env.engine.connect() as conn:
        jids = list(conn.execute(text(
            "WITH RECURSIVE t AS (SELECT id FROM jurisdictions WHERE code = :c UNION ALL "
            "SELECT j.id FROM jurisdictions j JOIN t ON j.parent_id = t.id) SELECT id FROM t"),
            {"c": env.district_code}).scalars())  # fmt: skip
    lon, lat, azimuth = _blind_spot_site(env.engine, env.base_run, jids)
    ct.set_view(page, lat, lon, 18)
    ct.open_tool(page, "what-if")
    ct.draw_marker(page, lon, lat)
    page.fill("#wi-azimuth", f"{azimuth:.1f}")
    page.keyboard.press("Tab")
    page.click("#wi-run")
    page.wait_for_selector("#wi-done", timeout=120_000)
    run_id = int(page.get_attribute("#wi-done", "data-run") or "0")
    with env.engine.connect() as conn:
        def totals(r: int) -> dict[int, float]:
            return {int(k): float(a) for k, a in conn.execute(text(
                "SELECT b.key_area_id, sum(b.area_m2) FROM blind_spots b JOIN key_areas k ON "
                "k.id = b.key_area_id WHERE b.run_id = :r AND k.jurisdiction_id = ANY(:j) "
                "GROUP BY b.key_area_id"), {"r": r, "j": jids}).all()}  # fmt: skip
        base, new = totals(env.base_run), totals(run_id)
        n_rows = {r: int(conn.execute(text(
            "SELECT count(*) FROM blind_spots b JOIN key_areas k ON k.id = b.key_area_id "
            "WHERE b.run_id = :r AND k.jurisdiction_id = ANY(:j)"), {"r": r, "j": jids}
        ).scalar_one()) for r in (env.base_run, run_id)}  # fmt: skip
    shown = {int(tr.get_attribute("data-key-area") or "0"): (
        float(tr.get_attribute("data-base") or "nan"), float(tr.get_attribute("data-new") or "nan"))
        for tr in page.query_selector_all("#wi-compare tr[data-key-area]")}  # fmt: skip
    assert shown and set(shown) <= set(base) | set(new)  # only the district's key areas
    for k, (b, n) in shown.items():
        assert (b, n) == pytest.approx((base.get(k, 0.0), new.get(k, 0.0)), abs=0.01)
    assert float(page.get_attribute("#wi-compare tr[data-base]:not([data-key-area])",
                                    "data-new") or "nan") == pytest.approx(sum(new.values()),
                                                                           abs=0.01)
    styles = page.evaluate("""() => {
        const out = {base: 0, new: 0};
        document.getElementById("map").sightlineMap.eachLayer((l) => {
            if (!l.feature || !l.options) { return; }
            if (l.options.dashArray === "2 5") { out.base += 1; }
            else if (l.options.fillColor === "#e31a1c") { out.new += 1; }
        });
        return out;
    }""")
    assert styles == {"base": n_rows[env.base_run], "new": n_rows[run_id]}
    page.screenshot(path=str(artefacts_dir / "console-what-if-district.png"))
    assert not env.district.errors
