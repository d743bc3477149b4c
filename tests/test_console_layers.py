"""Issue 7 planner layers without a browser: the store's display queries against the stored
results (read independently), the layer components, and the page helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import dash_leaflet as dl
import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine, create_engine, text

from analysis.coverage_run import run_coverage
from layers import blind_spots, coverage_levels, entry_roads, road_coverage
from layers._geojson import feature_collection
from pages import camera_search, first_response
from store import coverage, map_queries
from store.scope import EVERYTHING, scope_of
from tests import console_frames as cf


@pytest.fixture(scope="module")
def city_run(city_url: str) -> Iterator[tuple[Engine, int]]:
    engine = create_engine(city_url)
    with engine.connect() as conn:
        run_id = coverage.latest_run(conn)
    if run_id is None:
        run_id = run_coverage(engine, workers=2).run_id
    assert run_id is not None
    yield engine, run_id
    engine.dispose()


def _raw(engine: Engine, sql: str, run_id: int) -> gpd.GeoDataFrame:
    with engine.connect() as conn:
        return gpd.read_postgis(text(sql), conn, geom_col="geometry", crs=4326,
                                params={"r": run_id})  # fmt: skip


def test_coverage_levels_are_simplified_within_the_tolerance(city_run: tuple[Engine, int]) -> None:
    engine, run_id = city_run
    tol = map_queries.DISPLAY_TOLERANCE_DEG
    with engine.connect() as conn:
        shown = map_queries.coverage_levels(conn, run_id, EVERYTHING)
    raw = _raw(engine, "SELECT level, geom AS geometry FROM coverage_levels WHERE run_id = :r",
               run_id).set_index("level")  # fmt: skip
    assert list(shown["level"]) == ["detect", "observe", "recognise", "identify"]
    for level, geom in zip(shown["level"], shown.geometry, strict=True):
        original = raw.loc[level, "geometry"]
        # Every vertex moved by at most the tolerance (both ways), and far fewer vertices.
        assert shapely.hausdorff_distance(geom, original) <= tol * 1.001
        assert shapely.get_num_coordinates(geom) < shapely.get_num_coordinates(original)
    raw_bytes = len(json.dumps(feature_collection(raw.reset_index(), ("level",))))
    shown_bytes = len(json.dumps(coverage_levels.features(shown)))
    assert shown_bytes < raw_bytes / 3, (shown_bytes, raw_bytes)


def test_road_coverage_has_every_level_of_every_road(city_run: tuple[Engine, int]) -> None:
    engine, run_id = city_run
    with engine.connect() as conn:
        shown = map_queries.road_coverage(conn, run_id, EVERYTHING).set_index("id")
        rows = conn.execute(text("SELECT road_id, level, covered_pct FROM road_coverage "
                                 "WHERE run_id = :r"), {"r": run_id}).all()  # fmt: skip
    assert len(shown) == len({r.road_id for r in rows})
    for r in rows[:: max(1, len(rows) // 500)]:
        assert shown.loc[r.road_id, f"{r.level}_pct"] == pytest.approx(r.covered_pct)


def test_blind_spots_carry_their_key_area(city_run: tuple[Engine, int]) -> None:
    engine, run_id = city_run
    with engine.connect() as conn:
        shown = map_queries.blind_spots(conn, run_id, EVERYTHING)
        n = conn.execute(text("SELECT count(*), sum(area_m2) FROM blind_spots WHERE run_id = :r"),
                         {"r": run_id}).one()  # fmt: skip
    assert len(shown) == n[0] and shown["area_m2"].sum() == pytest.approx(n[1])
    assert shown["key_area"].notna().all()
    assert "not seen at the required level" in str(blind_spots.legend(shown).children)


def test_entry_roads_come_from_the_run_results_when_stored(city_run: tuple[Engine, int]) -> None:
    engine, run_id = city_run
    with engine.connect() as conn:
        now = map_queries.entry_roads_without_checkpoint(conn, run_id, EVERYTHING)
        # a coverage run stores the status of every entry-road crossing: the layer shows the
        # roads lacking a checkpoint (missing or partial), as many as the counts say at most
        assert now.stored and sum(now.counts.values()) > 0
        open_roads = now.counts.get("missing", 0) + now.counts.get("partial", 0)
        assert 0 < len(now.roads) <= open_roads
        assert set(now.roads["status"]) <= {"missing", "partial"}
        # A run that stored the per-road status (in a transaction rolled back at the end).
        road_ids = [r for (r,) in conn.execute(text("SELECT id FROM roads ORDER BY id LIMIT 3"))]
        per_road = [{"road_id": road_ids[0], "status": "missing"},
                    {"road_id": road_ids[1], "status": "partial"},
                    {"road_id": road_ids[2], "status": "covered"}]  # fmt: skip
        rid = conn.execute(text(
            "INSERT INTO coverage_runs (status, results) VALUES ('done', :res) RETURNING id"),
            {"res": json.dumps({map_queries.ENTRY_ROADS_KEY: per_road,
                                "entry_roads_by_status": {"missing": 1, "partial": 1}})},
        ).scalar_one()  # fmt: skip
        got = map_queries.entry_roads_without_checkpoint(conn, rid, EVERYTHING)
        conn.rollback()
    assert got.stored
    assert dict(zip(got.roads["id"], got.roads["status"], strict=True)) == {
        road_ids[0]: "missing", road_ids[1]: "partial"}  # fmt: skip
    assert len(entry_roads.features(got.roads)["features"]) == 2
    assert "only counts" not in str(entry_roads.legend(got.counts, stored=True).children)
    assert "only counts" in str(entry_roads.legend(now.counts, stored=False).children)
    assert "only counts" not in str(entry_roads.legend(now.counts, stored=True).children)


def test_planner_overlays_start_off_with_named_layers() -> None:
    empty = cf.empty_frame(["level", "area_m2"])
    for mod, frame in ((coverage_levels, empty),
                       (blind_spots, cf.empty_frame(list(blind_spots.COLUMNS))),
                       (road_coverage, cf.empty_frame(list(road_coverage.COLUMNS))),
                       (entry_roads, cf.empty_frame(list(entry_roads.COLUMNS)))):  # fmt: skip
        assert mod.features(frame)["features"] == []
        overlay = mod.build()  # the page's empty layer, filled when first switched on
        assert isinstance(overlay, dl.Overlay) and overlay.name == mod.NAME
        assert overlay.checked is False
        assert overlay.children.children.id == mod.LAYER_ID
    with pytest.raises(ValueError, match="level 'seen'"):
        road_coverage.build(cf.empty_frame(list(road_coverage.COLUMNS)), level="seen")


def test_coordinates_rounded_for_display() -> None:
    gdf = gpd.GeoDataFrame({"level": ["detect"]},
                           geometry=[shapely.Point(7.123456789, 43.987654321)], crs=4326)
    assert feature_collection(gdf, ("level",), decimals=6)["features"][0]["geometry"][
        "coordinates"] == (7.123457, 43.987654)  # fmt: skip


def test_jurisdiction_tree_and_grid_size() -> None:
    tree = camera_search.jurisdiction_tree(cf.jurisdictions())
    assert sorted(tree["1"]) == [1, 2, 3] and tree["2"] == [2] and tree["3"] == [3]
    assert [first_response.grid_size(n) for n in (1, 4, 5, 9, 12)] == [2, 2, 3, 3, 3]


def test_a_district_sees_only_its_part_of_every_planner_layer(
    city_run: tuple[Engine, int],
) -> None:
    engine, run_id = city_run
    with engine.connect() as conn:
        jid = conn.execute(text("SELECT id, code FROM jurisdictions WHERE level = "
                                 "'district' ORDER BY code LIMIT 1")).scalar_one()  # fmt: skip
        scope = scope_of(conn, jid, 0)
        district = gpd.read_postgis(text("SELECT geom FROM jurisdictions WHERE id = :j"), conn,
                                    params={"j": jid}).geometry.iloc[0]  # fmt: skip
        levels = map_queries.coverage_levels(conn, run_id, scope)
        whole = map_queries.coverage_levels(conn, run_id, EVERYTHING)
        blind = map_queries.blind_spots(conn, run_id, scope)
        own_areas = set(conn.execute(text("SELECT id FROM key_areas WHERE jurisdiction_id = "
                                          "ANY(:j)"), {"j": sorted(scope.jurisdiction_ids or ())})
                        .scalars())  # fmt: skip
        roads = map_queries.road_coverage(conn, run_id, scope)
        entry = map_queries.entry_roads_without_checkpoint(conn, run_id, scope)
    # Coverage clipped to the district (within the display tolerance) and smaller than the city's
    assert len(levels) == len(whole)
    grown = district.buffer(map_queries.DISPLAY_TOLERANCE_DEG * 2)
    for geom, total in zip(levels.geometry, whole.geometry, strict=True):
        assert geom.is_empty or grown.contains(geom)
        assert geom.area < total.area
    assert (levels["area_m2"] < whole["area_m2"]).all()
    # Blind spots of the district's key areas only; roads touching it only.
    assert len(blind) and set(blind["key_area_id"]) <= own_areas
    assert len(roads) and roads.geometry.intersects(district.buffer(1e-6)).all()
    with engine.connect() as conn:
        n_roads = conn.execute(text("SELECT count(DISTINCT c.road_id) FROM road_coverage c JOIN "
                                    "roads r ON r.id = c.road_id JOIN jurisdictions j ON j.id = "
                                    ":j WHERE c.run_id = :r AND ST_Intersects(j.geom, r.geom)"),
                               {"j": jid, "r": run_id}).scalar_one()  # fmt: skip
    assert len(roads) == n_roads
    assert entry.roads.geometry.intersects(district.buffer(1e-6)).all()
    with engine.connect() as conn:
        city = map_queries.entry_roads_without_checkpoint(conn, run_id, EVERYTHING)
    assert sum(entry.counts.values()) <= sum(city.counts.values())
