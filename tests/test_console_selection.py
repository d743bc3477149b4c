"""Issue 7: area selection in the REAL console — draw a polygon or pick a jurisdiction → the
cameras inside it, its coverage % per DORI level, and the cameras opened in the video grid.

Monaco demo city in PostGIS with a coverage run, headless Chromium, the drawing done with the
real Leaflet.draw toolbar. Expected answers are computed here: cameras inside = ``ST_Covers``
in SQL on the polygon the browser drew; coverage % = shapely, in UTM 32N, on the run's stored
coverage unions; a district user's area = the drawn polygon ∩ their district (shapely).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import Engine, create_engine, text

from analysis.coverage_run import run_coverage
from store import coverage
from tests import console_tools as ct
from tests.console_auth import User, district_codes, make_user

pytestmark = pytest.mark.browser


@dataclass
class Env:
    engine: Engine
    run_id: int
    admin: ct.Browser
    district: ct.Browser
    district_code: str


@pytest.fixture(scope="module")
def env(city_url: str) -> Iterator[Env]:
    engine = create_engine(city_url)
    with engine.connect() as conn:
        run_id = coverage.latest_run(conn)
    if run_id is None:
        run_id = run_coverage(engine, workers=2).run_id
    assert run_id is not None
    code = district_codes(engine)[1]
    users: list[User] = [make_user(engine, "admin", clearance=10),
                         make_user(engine, "commander", code)]  # fmt: skip
    try:
        with ct.console(engine, users) as (admin, district):
            yield Env(engine, run_id, admin, district, code)
    finally:
        engine.dispose()


def _metric(geom: shapely.Geometry) -> shapely.Geometry:
    return gpd.GeoSeries([geom], crs=4326).to_crs(ct.METRIC_CRS).iloc[0]


def _coverage_pct(engine: Engine, run_id: int, area: shapely.Geometry) -> dict[str, float]:
    """% of ``area`` (EPSG:4326) inside the run's stored union per level, in UTM 32N."""
    levels = gpd.read_postgis(text("SELECT level, geom FROM coverage_levels WHERE run_id = :r"),
                              engine, params={"r": run_id}, geom_col="geom").to_crs(
                                  ct.METRIC_CRS)  # fmt: skip
    a = _metric(area)
    return {r.level: 100.0 * shapely.intersection(r.geom, a).area / a.area
            for r in levels.itertuples()}  # fmt: skip


def _cameras_covered(engine: Engine, area: shapely.Geometry, jids: list[int] | None,
                     clearance: int) -> list[str]:  # fmt: skip
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT device_id FROM cameras WHERE ST_Covers(ST_GeomFromText(:g, 4326), geom) "
            "AND access_level <= :c AND (CAST(:j AS int[]) IS NULL OR jurisdiction_id = ANY(:j)) "
            "ORDER BY device_id"), {"g": area.wkt, "c": clearance, "j": jids}).scalars())


def _subtree(engine: Engine, code: str) -> tuple[list[int], shapely.Geometry]:
    with engine.connect() as conn:
        ids = list(conn.execute(text(
            "WITH RECURSIVE t AS (SELECT id FROM jurisdictions WHERE code = :c UNION ALL "
            "SELECT j.id FROM jurisdictions j JOIN t ON j.parent_id = t.id) SELECT id FROM t"),
            {"c": code}).scalars())  # fmt: skip
        wkt = conn.execute(text("SELECT ST_AsText(geom) FROM jurisdictions WHERE code = :c"),
                           {"c": code}).scalar_one()  # fmt: skip
    return ids, shapely.from_wkt(wkt)


def _ring(lon: float, lat: float, r_m: float, n: int = 6) -> list[tuple[float, float]]:
    dlat = r_m / 111_320.0
    dlon = r_m / (111_320.0 * math.cos(math.radians(lat)))
    return [(lon + dlon * math.cos(2 * math.pi * k / n + 0.3),
             lat + dlat * math.sin(2 * math.pi * k / n + 0.3)) for k in range(n)]  # fmt: skip


def _busy_spot(engine: Engine, jids: list[int] | None = None) -> tuple[float, float]:
    """A camera with the most other cameras within 150 m (optionally in ``jids``), away from
    the sites of stored placement proposals: their pin markers (shown by the console's
    "Proposed cameras" layer, which another test module may have filled in the shared city)
    would take the drawing clicks."""
    with engine.connect() as conn:
        x, y = conn.execute(text(
            "SELECT ST_X(c.geom), ST_Y(c.geom) FROM cameras c WHERE "
            "NOT EXISTS (SELECT 1 FROM placement_sites s "
            "WHERE ST_DWithin(s.geom::geography, c.geom::geography, 250)) AND "
            "(CAST(:j AS int[]) IS NULL OR c.jurisdiction_id = ANY(:j)) ORDER BY (SELECT count(*) "
            "FROM cameras o WHERE ST_DWithin(o.geom::geography, c.geom::geography, 150)) DESC, "
            "c.id LIMIT 1"), {"j": jids}).one()  # fmt: skip
    return float(x), float(y)


def _shown(page: ct.Page) -> list[str]:
    return sorted(li.get_attribute("data-device") or ""
                  for li in page.query_selector_all("#sel-cameras li"))  # fmt: skip


def _shown_pct(page: ct.Page) -> dict[str, float]:
    return {td.get_attribute("data-level") or "": float(td.get_attribute("data-pct") or "nan")
            for td in page.query_selector_all("#sel-stats td.sl-cov-pct")}  # fmt: skip


def test_drawn_polygon_lists_the_cameras_inside_and_its_coverage(
    env: Env, artefacts_dir: Path
) -> None:
    page = env.admin.page
    lon, lat = _busy_spot(env.engine)
    ct.set_view(page, lat, lon, 17)
    ct.open_tool(page, "sel")
    t = time.perf_counter()
    ct.draw_polygon(page, _ring(lon, lat, 120.0))
    page.wait_for_selector("#sel-stats table", timeout=10_000)
    print(f"polygon closed -> statistics: {time.perf_counter() - t:.2f} s (incl. clicks)")
    (poly,) = ct.drawn(page, "Polygon")
    area = shape(poly)
    expected = _cameras_covered(env.engine, area, None, 10)
    assert len(expected) >= 3
    page.wait_for_function(f"() => document.querySelectorAll('#sel-cameras li').length === "
                           f"{len(expected)}", timeout=10_000)  # fmt: skip
    assert _shown(page) == expected
    assert page.inner_text("#sel-count") == str(len(expected))
    # Drawing clicks add vertices only: they do not ask which cameras see the point.
    assert page.is_hidden("#point-panel")
    m2 = float(page.get_attribute("#sel-area-m2", "data-m2") or "nan")
    assert m2 == pytest.approx(_metric(area).area, rel=2e-3)  # spheroid vs UTM scale ~0.9996
    want = _coverage_pct(env.engine, env.run_id, area)
    got = _shown_pct(page)
    assert set(got) == {"detect", "observe", "recognise", "identify"}
    assert got["detect"] > 0
    for level, pct in want.items():
        assert got[level] == pytest.approx(pct, abs=0.05), level
    page.screenshot(path=str(artefacts_dir / "console-selection-polygon.png"))

    # Open them in the video grid: one tile per camera (up to nine), each labelled.
    page.click("#sel-open-grid")
    page.wait_for_selector("#video-grid:not([hidden]) .sl-tile", timeout=10_000)
    tiles = [el.get_attribute("data-device") for el in page.query_selector_all(
        "#video-grid .sl-tile")]  # fmt: skip
    assert tiles == expected[:9]
    labels = page.query_selector_all("#video-grid .sl-tile-label")
    assert all(t in lab.inner_text() for t, lab in zip(tiles, labels, strict=True))
    page.screenshot(path=str(artefacts_dir / "console-selection-grid.png"))
    page.click("#close-grid")
    page.wait_for_selector("#video-grid", state="hidden", timeout=5000)
    assert not env.admin.errors


def test_picking_a_jurisdiction_selects_its_area(env: Env, artefacts_dir: Path) -> None:
    page = env.admin.page
    ids, geom = _subtree(env.engine, env.district_code)
    with env.engine.connect() as conn:
        name = conn.execute(text("SELECT name FROM jurisdictions WHERE code = :c"),
                            {"c": env.district_code}).scalar_one()  # fmt: skip
    ct.open_tool(page, "sel")
    page.click("#sel-jurisdiction")
    page.click(f"[role=listbox] [role=option]:has-text('({env.district_code})')")
    page.wait_for_function(f"() => (document.getElementById('sel-title').textContent || '')"
                           f".startsWith({name!r})", timeout=10_000)  # fmt: skip
    expected = _cameras_covered(env.engine, geom, None, 10)
    page.wait_for_function(f"() => document.querySelectorAll('#sel-cameras li').length === "
                           f"{len(expected)}", timeout=10_000)  # fmt: skip
    assert _shown(page) == expected
    want = _coverage_pct(env.engine, env.run_id, geom)
    got = _shown_pct(page)
    for level, pct in want.items():
        assert got[level] == pytest.approx(pct, abs=0.05), level
    page.screenshot(path=str(artefacts_dir / "console-selection-jurisdiction.png"))


def test_a_district_user_gets_only_their_district_of_a_drawn_area(
    env: Env, artefacts_dir: Path
) -> None:
    page = env.district.page
    ids, geom = _subtree(env.engine, env.district_code)
    # A polygon around a point of the district's border: half inside, half outside.
    border = shapely.LineString(shapely.get_exterior_ring(shapely.get_geometry(geom, 0)).coords)
    with env.engine.connect() as conn:
        lon, lat = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_ClosestPoint(ST_GeomFromText(:b, 4326), "
            "c.geom) AS p, ST_Distance(ST_GeomFromText(:b, 4326)::geography, c.geom::geography)"
            " AS d FROM cameras c WHERE c.jurisdiction_id = ANY(:j) AND c.access_level = 0) q "
            "WHERE d BETWEEN 20 AND 120 ORDER BY d LIMIT 1"),
            {"b": border.wkt, "j": ids}).one()  # fmt: skip
    ct.set_view(page, lat, lon, 17)
    ct.open_tool(page, "sel")
    ct.draw_polygon(page, _ring(lon, lat, 160.0, n=8))
    page.wait_for_selector("#sel-stats table", timeout=10_000)
    (poly,) = ct.drawn(page, "Polygon")
    drawn_area = shape(poly)
    clipped = shapely.intersection(drawn_area, geom)
    assert 0.05 < _metric(clipped).area / _metric(drawn_area).area < 0.95  # really both sides
    expected = _cameras_covered(env.engine, clipped, ids, 0)
    everyone = _cameras_covered(env.engine, drawn_area, None, 10)
    page.wait_for_function(f"() => document.querySelectorAll('#sel-cameras li').length === "
                           f"{len(expected)}", timeout=10_000)  # fmt: skip
    assert _shown(page) == expected
    assert set(everyone) - set(expected), "the area should hold cameras the district may not see"
    m2 = float(page.get_attribute("#sel-area-m2", "data-m2") or "nan")
    assert m2 == pytest.approx(_metric(clipped).area, rel=2e-3)
    want = _coverage_pct(env.engine, env.run_id, clipped)
    for level, pct in want.items():
        assert _shown_pct(page)[level] == pytest.approx(pct, abs=0.05), level
    page.screenshot(path=str(artefacts_dir / "console-selection-district.png"))
    assert not env.district.errors


def test_bad_selections_are_refused_with_a_reason(city_url: str) -> None:
    from store import console_stats
    from store.scope import EVERYTHING

    engine = create_engine(city_url)
    try:
        with engine.connect() as conn:
            for kwargs, match in (
                ({}, "draw a polygon or pick a jurisdiction"),
                ({"polygon": {"type": "LineString", "coordinates": [[7.42, 43.73],
                                                                   [7.43, 43.74]]}},
                 "expected a GeoJSON Polygon"),
                ({"polygon": {"type": "Polygon", "coordinates": [
                    [[7.42 + i * 1e-6, 43.73] for i in range(6000)] + [[7.42, 43.73]]]}},
                 "more than 5000 vertices"),
                ({"polygon": {"type": "Polygon", "coordinates": [
                    [[0, 0], [0.001, 0], [0.001, 0.001], [0, 0]]]}},
                 None),  # the whole city may draw anywhere
                ({"jurisdiction_id": -1}, "outside your jurisdiction"),
            ):
                if match is None:
                    assert console_stats.selection_area(conn, EVERYTHING, **kwargs)["area_m2"] > 0
                    continue
                with pytest.raises(console_stats.SelectionError, match=match):
                    console_stats.selection_area(conn, EVERYTHING, **kwargs)
    finally:
        engine.dispose()
