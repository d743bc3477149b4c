"""Issue 7: video patrol (视频巡逻 / 轮巡) in the REAL console — pick cameras on the map or take
those along a drawn route, save the patrol, run it: the grid steps through the cameras at the
set interval, each tile labelled, the cameras on screen ringed on the map; a district user sees
only the patrols of their district.

Monaco demo city in PostGIS, headless Chromium, the real Leaflet.draw toolbar. Expected
answers are computed here: the cameras along a route with shapely in UTM 32N (distance to the
line the browser drew ≤ 30 m, ordered by position along it); saved rows read back in SQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import Engine, create_engine, text

from pages.patrol import PAGE_SIZE, ROUTE_WITHIN_M
from tests import console_tools as ct
from tests.console_auth import User, district_codes, make_user

pytestmark = pytest.mark.browser


def test_cameras_are_picked_on_a_tiled_page_too(city_url: str, artefacts_dir: Path) -> None:
    """A large city's cameras are drawn from tiles (pages.device_tiles): a click on one lands
    in the patrol while picking. The demo is made "large" by lowering the threshold. (First in
    the module: it runs its own Playwright, which cannot start while the module's runs.)"""
    from pages import device_tiles as tile_pages

    engine = create_engine(city_url)
    mp = pytest.MonkeyPatch()
    mp.setattr(tile_pages, "TILES_ABOVE", 10)
    try:
        admin = make_user(engine, "admin", clearance=10)
        device, lon, lat = _lone_cameras(engine)[0]
        with ct.console(engine, [admin]) as (b,):
            page = b.page
            page.wait_for_function("() => window.sightline && window.sightline.deviceTiles",
                                   timeout=15_000)  # fmt: skip
            ct.set_view(page, lat, lon, 18)
            page.wait_for_function("([lat, lon]) => { const l = window.sightline.deviceTiles"
                                   ".layer, m = l._map, z = l._tileZoom;"
                                   " const p = m.project([lat, lon], z);"
                                   " return !!l.loaded[Math.floor(p.x / 256) + ':' +"
                                   " Math.floor(p.y / 256) + ':' + z]; }", arg=[lat, lon],
                                   timeout=15_000)  # fmt: skip
            ct.open_tool(page, "patrol")
            page.check("#patrol-pick input")
            page.mouse.click(*ct.to_page(page, lon, lat))
            page.wait_for_selector("#patrol-picked-list li", timeout=10_000)
            assert _picked(page) == [device]
            page.screenshot(path=str(artefacts_dir / "console-patrol-tiled-pick.png"))
    finally:
        mp.undo()
        engine.dispose()


@dataclass
class Env:
    engine: Engine
    admin: ct.Browser
    district: ct.Browser
    admin_user: User
    district_user: User
    district_ids: list[int]


@pytest.fixture(scope="module")
def env(city_url: str) -> Iterator[Env]:
    engine = create_engine(city_url)
    code = district_codes(engine)[1]
    with engine.connect() as conn:
        ids = list(conn.execute(text(
            "WITH RECURSIVE t AS (SELECT id FROM jurisdictions WHERE code = :c UNION ALL "
            "SELECT j.id FROM jurisdictions j JOIN t ON j.parent_id = t.id) SELECT id FROM t"),
            {"c": code}).scalars())  # fmt: skip
    admin = make_user(engine, "admin", clearance=10)
    commander = make_user(engine, "commander", code)
    try:
        with ct.console(engine, [admin, commander]) as (a, d):
            yield Env(engine, a, d, admin, commander, ids)
    finally:
        engine.dispose()


def _lone_cameras(engine: Engine, jids: list[int] | None = None) -> list[tuple[str, float, float]]:
    """Cameras with no other camera within 8 m (a click on one hits only it), busiest
    neighbourhood first."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT c.device_id, ST_X(c.geom), ST_Y(c.geom) FROM cameras c WHERE "
            "(CAST(:j AS int[]) IS NULL OR c.jurisdiction_id = ANY(:j)) AND c.access_level = 0 "
            "AND NOT EXISTS (SELECT 1 FROM cameras o WHERE o.id <> c.id AND "
            "ST_DWithin(o.geom::geography, c.geom::geography, 8)) "
            "ORDER BY (SELECT count(*) FROM cameras o WHERE ST_DWithin(o.geom::geography, "
            "c.geom::geography, 120)) DESC, c.id"), {"j": jids}).all()  # fmt: skip
    return [(str(d), float(x), float(y)) for d, x, y in rows]


def _picked(page: ct.Page) -> list[str]:
    return [li.get_attribute("data-device") or ""
            for li in page.query_selector_all("#patrol-picked-list li")]  # fmt: skip


def _along(engine: Engine, line: shapely.LineString) -> tuple[list[str], set[str],
                                                              dict[str, float]]:
    """Cameras surely within ROUTE_WITHIN_M of ``line`` (by more than 0.5 m, in UTM 32N) in
    route order, those within 0.5 m of the threshold (UTM and the spheroid may disagree), and
    every near camera's position along the line (m)."""
    cams = gpd.read_postgis(text("SELECT device_id, geom FROM cameras"), engine,
                            geom_col="geom").to_crs(ct.METRIC_CRS)  # fmt: skip
    ln = gpd.GeoSeries([line], crs=4326).to_crs(ct.METRIC_CRS).iloc[0]
    cams["dist"] = cams.geometry.distance(ln)
    near = cams[cams["dist"] <= ROUTE_WITHIN_M + 0.5].copy()
    near["along"] = [ln.project(p) for p in near.geometry]
    near = near.sort_values(["along", "dist", "device_id"])
    sure = near[near["dist"] < ROUTE_WITHIN_M - 0.5]
    maybe = set(near.loc[near["dist"] >= ROUTE_WITHIN_M - 0.5, "device_id"])
    return list(sure["device_id"]), maybe, dict(zip(near["device_id"], near["along"],
                                                     strict=True))


def test_pick_save_and_run_a_patrol(env: Env, artefacts_dir: Path) -> None:
    page = env.admin.page
    lone = _lone_cameras(env.engine)
    first = lone[0]
    ct.set_view(page, first[2], first[1], 18)
    ct.open_tool(page, "patrol")
    page.check("#patrol-pick input")
    chosen: list[str] = []
    for device, lon, lat in lone:
        if len(chosen) == 6:
            break
        x, y = ct.to_page(page, lon, lat)
        if not (420 < x < 1130 and 120 < y < 860):  # on screen, clear of the panels
            continue
        hit = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y);"
                            " return !!e && e.classList.contains('sl-camera'); }", [x, y])
        if not hit:
            continue
        page.mouse.click(x, y)
        chosen.append(device)
        page.wait_for_function(f"() => document.querySelectorAll('#patrol-picked-list li')"
                               f".length === {len(chosen)}", timeout=10_000)  # fmt: skip
    assert len(chosen) >= 5, "not enough clickable cameras on screen"
    assert _picked(page) == chosen

    page.fill("#patrol-name", "巡逻 test patrol")
    page.fill("#patrol-interval", "3")
    page.click("#patrol-save")
    page.wait_for_function("() => (document.getElementById('patrol-message').textContent || '')"
                           ".includes('Saved')", timeout=10_000)  # fmt: skip
    with env.engine.connect() as conn:
        row = conn.execute(text(
            "SELECT p.id, p.device_ids, p.interval_s, p.jurisdiction_id, u.name FROM patrols p "
            "JOIN users u ON u.id = p.owner_id WHERE p.name = '巡逻 test patrol'")).one()
    assert list(row.device_ids) == chosen and row.interval_s == 3
    assert row.jurisdiction_id is None and row.name == env.admin_user.name  # a city user

    page.uncheck("#patrol-pick input")
    t0 = time.perf_counter()
    page.click("#patrol-run")
    page.wait_for_selector("#video-grid:not([hidden]) .sl-tile", timeout=10_000)
    steps = -(-len(chosen) // PAGE_SIZE)

    def on_screen() -> tuple[list[str], int]:
        tiles = [el.get_attribute("data-device") or ""
                 for el in page.query_selector_all("#video-grid .sl-tile")]  # fmt: skip
        rings = len(page.query_selector_all("path.sl-patrol-ring"))
        return tiles, rings

    page.wait_for_function("() => document.querySelectorAll('path.sl-patrol-ring').length > 0",
                           timeout=10_000)  # fmt: skip
    tiles, rings = on_screen()
    assert tiles == chosen[:PAGE_SIZE] and rings == len(tiles)
    labels = [el.inner_text() for el in page.query_selector_all("#video-grid .sl-tile-label")]
    assert all(d in lab and f"1/{steps}" in lab for d, lab in zip(tiles, labels, strict=True))
    assert "step 1/" in page.inner_text("#video-grid-title")
    page.screenshot(path=str(artefacts_dir / "console-patrol-step1.png"))
    # The next step after ~3 s: the remaining cameras.
    page.wait_for_function("() => { const e = document.getElementById('patrol-now');"
                           " return e && e.dataset.step === '1'; }", timeout=8_000)  # fmt: skip
    t1 = time.perf_counter() - t0
    page.wait_for_timeout(300)
    tiles, rings = on_screen()
    assert tiles == chosen[PAGE_SIZE:2 * PAGE_SIZE] and rings == len(tiles)
    print(f"patrol step 2 after {t1:.1f} s (interval 3 s)")
    assert 2.5 < t1 < 6.0
    page.screenshot(path=str(artefacts_dir / "console-patrol-step2.png"))
    # ... and back to the first.
    page.wait_for_function("() => document.getElementById('patrol-now').dataset.step === '0'",
                           timeout=8_000)  # fmt: skip
    page.click("#patrol-stop")
    page.wait_for_selector("#video-grid", state="hidden", timeout=5_000)
    assert not page.query_selector_all("path.sl-patrol-ring")
    assert not env.admin.errors


def test_cameras_along_a_drawn_route(env: Env, artefacts_dir: Path) -> None:
    page = env.admin.page
    ct.open_tool(page, "patrol")
    page.click("#patrol-clear")
    lone = _lone_cameras(env.engine)
    lon, lat = lone[0][1], lone[0][2]
    ct.set_view(page, lat, lon, 17)
    # A zig-zag route through the busiest neighbourhood (~250 m each way).
    d = 0.0025
    ct.draw_line(page, [(lon - d, lat - d / 3), (lon + 0.00012, lat + 0.0001),
                        (lon + d, lat + d / 4)])
    (geom,) = ct.drawn(page, "LineString")
    assert len(geom["coordinates"]) == 3
    line = shape(geom)
    expected, maybe, pos = _along(env.engine, line)
    assert len(expected) >= 3
    page.click("#patrol-from-route")
    page.wait_for_function(f"() => document.querySelectorAll('#patrol-picked-list li').length"
                           f" >= {len(expected)}", timeout=10_000)  # fmt: skip
    page.wait_for_timeout(300)
    got = _picked(page)
    assert set(expected) <= set(got) <= set(expected) | maybe
    # Route order: UTM's grid is turned ~1° from true north here, so two cameras about level
    # along the route may swap within a metre; beyond that the order must hold.
    assert all(pos[b] - pos[a] > -1.0 for a, b in zip(got, got[1:], strict=False))
    page.screenshot(path=str(artefacts_dir / "console-patrol-route.png"))


def test_a_district_sees_only_its_patrols(env: Env) -> None:
    page = env.district.page
    lone = _lone_cameras(env.engine, env.district_ids)
    ct.set_view(page, lone[0][2], lone[0][1], 18)
    ct.open_tool(page, "patrol")
    page.check("#patrol-pick input")
    x, y = ct.to_page(page, lone[0][1], lone[0][2])
    page.mouse.click(x, y)
    page.wait_for_selector("#patrol-picked-list li", timeout=10_000)
    page.fill("#patrol-name", "district patrol")
    page.click("#patrol-save")
    page.wait_for_function("() => (document.getElementById('patrol-message').textContent || '')"
                           ".includes('Saved')", timeout=10_000)  # fmt: skip
    with env.engine.connect() as conn:
        mine = conn.execute(text("SELECT jurisdiction_id FROM patrols WHERE name = "
                                 "'district patrol'")).scalar_one()  # fmt: skip
        visible = set(conn.execute(text(
            "SELECT name FROM patrols WHERE jurisdiction_id = ANY(:j)"),
            {"j": env.district_ids}).scalars())  # fmt: skip
    assert mine in env.district_ids
    listed = _listed_patrols(page)
    assert "district patrol" in listed and "巡逻 test patrol" not in listed
    assert listed == visible
    # Delete it: the row goes, and the list with it.
    page.click("#patrol-list")
    page.click("[role=listbox] [role=option]:has-text('district patrol')")
    page.click("#patrol-delete")
    page.wait_for_function("() => (document.getElementById('patrol-message').textContent || '')"
                           ".includes('Deleted')", timeout=10_000)  # fmt: skip
    with env.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM patrols WHERE name = 'district patrol'"))\
            .scalar_one() == 0  # fmt: skip
    assert "district patrol" not in _listed_patrols(page)
    visible.discard("district patrol")
    # The city admin sees every patrol.
    with env.engine.connect() as conn:
        every = set(conn.execute(text("SELECT name FROM patrols")).scalars())
    assert _listed_patrols(env.admin.page) == every


def _listed_patrols(page: ct.Page) -> set[str]:
    """Names of the saved patrols the page's dropdown offers (after a reload)."""
    page.reload()
    page.wait_for_selector("#patrol-list", state="attached", timeout=30_000)
    ct.open_tool(page, "patrol")
    page.wait_for_timeout(500)
    page.click("#patrol-list")
    page.wait_for_selector("[role=listbox] [role=option]", timeout=10_000)
    texts = page.evaluate("() => Array.from(document.querySelectorAll('[role=option]'))"
                          ".filter((e) => !e.closest('#patrol-pick', '#tools .dash-checklist'))"
                          ".map((e) => e.innerText)")  # the dropdown's, not the checklist's
    names = {t.split(" · ")[0].strip() for t in texts} - {""}
    page.keyboard.press("Escape")
    return names


# -- store.patrols without a browser ------------------------------------------------------------
def test_saving_a_patrol_checks_its_input_and_keeps_only_cameras_in_scope(city_url: str) -> None:
    from store import patrols
    from store.users import principal_of_name

    engine = create_engine(city_url)
    try:
        user = make_user(engine, "commander", district_codes(engine)[0])
        with engine.begin() as conn:
            who = principal_of_name(conn, user.name)
            assert who is not None
            mine = list(conn.execute(text(
                "SELECT device_id FROM cameras WHERE jurisdiction_id = ANY(:j) AND "
                "access_level = 0 ORDER BY id LIMIT 3"),
                {"j": sorted(who.scope.jurisdiction_ids or ())}).scalars())  # fmt: skip
            other = list(conn.execute(text(
                "SELECT device_id FROM cameras WHERE jurisdiction_id <> ALL(:j) "
                "ORDER BY id LIMIT 2"), {"j": sorted(who.scope.jurisdiction_ids or ())}
            ).scalars())  # fmt: skip
            assert len(mine) == 3 and len(other) == 2
            for name, ids, interval, match in (
                ("", mine, 10, "name the patrol"),
                ("x", mine, 2, "interval 2 s"),
                ("x", mine, 3601, "interval 3601 s"),
                ("x", mine, "ten", "whole seconds"),
                ("x", other, 10, "no camera of your jurisdiction"),
            ):
                with pytest.raises(patrols.PatrolError, match=match):
                    patrols.save(conn, who, name, ids, interval)  # type: ignore[arg-type]
            # Out-of-scope and repeated cameras are dropped, the order kept.
            saved = patrols.save(conn, who, "  mixed  ", [other[0], mine[2], mine[0], mine[2],
                                                          other[1], mine[1]], 7)  # fmt: skip
            assert saved.name == "mixed" and saved.device_ids == [mine[2], mine[0], mine[1]]
            assert saved.jurisdiction_id == who.scope.root_id
            assert patrols.get(conn, who.scope, saved.id) == saved
            assert saved in patrols.list_for(conn, who.scope)
            assert patrols.delete(conn, who.scope, saved.id)
            assert patrols.get(conn, who.scope, saved.id) is None
    finally:
        engine.dispose()

