"""gis.coverage against independent computations: shapely.union_all, hand-drawn scenes and
dense point sampling."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gis.coverage import (
    LEVELS,
    CoverageError,
    blind_spots,
    building_pieces,
    coverage_by_level,
    coverage_pieces,
    coverage_stats,
    effectiveness,
    subdivide,
    union_tiled,
)

CRS = "EPSG:32632"


def sectors(n: int, extent_m: float, seed: int, r_max: float = 80.0) -> np.ndarray:
    """Seeded annular camera sectors (independent of gis.fov)."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, extent_m, n), rng.uniform(0, extent_m, n)
    az = np.radians(rng.uniform(0, 360, n))
    half = np.radians(rng.uniform(20, 60, n))
    r_out, r_in = rng.uniform(10, r_max, n), rng.uniform(0.5, 5, n)
    t = np.linspace(-1, 1, 17)[None, :] * half[:, None] + az[:, None]
    ti = t[:, ::-8]
    outer = np.stack(
        [x[:, None] + r_out[:, None] * np.sin(t), y[:, None] + r_out[:, None] * np.cos(t)], -1
    )
    inner = np.stack(
        [x[:, None] + r_in[:, None] * np.sin(ti), y[:, None] + r_in[:, None] * np.cos(ti)], -1
    )
    return np.asarray(shapely.polygons(np.concatenate([outer, inner], axis=1)), dtype=object)


def same_area(a: shapely.Geometry, b: shapely.Geometry) -> None:
    total = max(a.area, b.area, 1.0)
    assert shapely.symmetric_difference(a, b).area < 1e-6 * total


# -- union_tiled --------------------------------------------------------------------------------
@pytest.mark.parametrize("tile_m", [150.0, 500.0, 2000.0])
def test_union_tiled_equals_union_all_on_random_sectors(tile_m: float) -> None:
    geoms = sectors(3000, 1500.0, seed=7)
    got = union_tiled(geoms, tile_m=tile_m)
    want = shapely.union_all(geoms)
    assert got.is_valid
    same_area(got, want)
    # dissolved across seams: as many separate polygons as the reference
    assert shapely.get_num_geometries(got) == shapely.get_num_geometries(want)


def test_union_tiled_at_tile_edges() -> None:
    # tile seams at x, y = 0, 100, 200
    geoms = [
        box(90, 10, 110, 20),  # crosses a seam
        box(80, 30, 100, 40),  # touches the seam from the left ...
        box(100, 30, 120, 40),  # ... and this one from the right: one box after the union
        box(100, 50, 105, 60),  # lies on the seam (left edge on x = 100)
        box(95, 95, 105, 105),  # spans four tiles around a tile corner
        Polygon([(100, 70), (110, 65), (110, 75)]),  # vertex exactly on the seam
        Polygon([(90, 70), (100, 70), (95, 75)]),  # edge ending on that vertex
        box(150, 100, 160, 110),  # bottom edge on a horizontal seam
        box(150, 90, 160, 100),  # top edge on the same seam
        box(0, 0, 300, 1),  # long strip across every vertical seam
        MultiPolygon([box(10, 150, 20, 160), box(180, 150, 220, 160)]),
    ]
    got = union_tiled(geoms, tile_m=100.0)
    want = shapely.union_all(geoms)
    assert got.is_valid
    same_area(got, want)
    assert shapely.get_num_geometries(got) == shapely.get_num_geometries(want)
    assert shapely.equals(got, want)


def test_union_tiled_is_deterministic_across_runs_and_workers() -> None:
    geoms = sectors(1500, 1200.0, seed=3)
    one = shapely.to_wkb(union_tiled(geoms, tile_m=300.0))
    again = shapely.to_wkb(union_tiled(geoms.copy(), tile_m=300.0))
    two = shapely.to_wkb(union_tiled(geoms, tile_m=300.0, workers=2))
    assert one == again == two
    same_area(shapely.from_wkb(two), shapely.union_all(geoms))


def test_union_tiled_grid_size_and_inputs() -> None:
    geoms = sectors(500, 600.0, seed=11)
    got = union_tiled(gpd.GeoSeries(geoms, crs=CRS), tile_m=200.0, grid_size=0.01)
    want = shapely.union_all(geoms, grid_size=0.01)
    assert got.is_valid
    # seam vertices are rounded to the grid too: differences of the order of grid x seam length
    assert abs(got.area - want.area) < 1e-5 * want.area
    assert union_tiled([]).is_empty
    assert union_tiled([None, Polygon()]).is_empty
    assert isinstance(union_tiled([box(0, 0, 1, 1)]), MultiPolygon)


def test_union_tiled_rejects_bad_input() -> None:
    with pytest.raises(CoverageError, match="LINESTRING"):
        union_tiled([box(0, 0, 1, 1), shapely.LineString([(0, 0), (1, 1)])])
    with pytest.raises(CoverageError, match="tile_m"):
        union_tiled([box(0, 0, 1, 1)], tile_m=0)
    with pytest.raises(CoverageError, match="workers"):
        union_tiled([box(0, 0, 1, 1)], workers=0)


def test_subdivide_covers_exactly() -> None:
    circle = Point(0, 0).buffer(100, quad_segs=200)
    ring = circle.difference(Point(10, 0).buffer(40, quad_segs=100))
    pieces, idx = subdivide(np.array([circle, None, ring], dtype=object), max_vertices=32)
    assert set(idx) == {0, 2}
    assert shapely.get_num_coordinates(pieces).max() <= 40
    for k, geom in ((0, circle), (2, ring)):
        assert shapely.area(pieces[idx == k]).sum() == pytest.approx(geom.area, rel=1e-12)
        same_area(shapely.union_all(pieces[idx == k]), geom)


# -- coverage per level, blind spots ------------------------------------------------------------
def visible_frame() -> gpd.GeoDataFrame:
    rows = []
    for cam, (x, w) in enumerate([(0.0, 60.0)]):
        for k, level in enumerate(LEVELS):
            rows.append((cam, level, box(x, 0, x + w / (k + 1), 100)))
    return gpd.GeoDataFrame(rows, columns=["camera_id", "level", "geometry"], crs=CRS)


def test_coverage_by_level_unions_each_level() -> None:
    geoms = sectors(400, 500.0, seed=5)
    level = np.array(LEVELS, dtype=object)[np.arange(len(geoms)) % 4]
    vis = gpd.GeoDataFrame(
        {"camera_id": range(len(geoms)), "level": level}, geometry=geoms, crs=CRS
    )
    cov = coverage_by_level(vis)
    assert list(cov) == list(LEVELS)
    for lv in LEVELS:
        same_area(cov[lv], shapely.union_all(geoms[level == lv]))
    with pytest.raises(CoverageError, match="unknown DORI"):
        coverage_by_level(vis.assign(level="monitor"))
    with pytest.raises(CoverageError, match="metric"):
        coverage_by_level(vis.set_crs(4326, allow_override=True))


def test_blind_spot_hand_drawn_scene() -> None:
    cov = coverage_by_level(visible_frame())  # detect: the 60 x 100 strip x in [0, 60]
    areas = gpd.GeoDataFrame(
        {"key_area_id": ["square", "square-observe"], "required_dori": ["detect", "observe"]},
        geometry=[box(0, 0, 100, 100), box(0, 0, 100, 100)],
        crs=CRS,
    )
    out = blind_spots(areas, cov)
    assert list(out.columns) == ["key_area_id", "dori_level", "geometry", "area_m2"]
    assert out.crs == areas.crs
    detect = out.set_index("key_area_id").loc["square"]
    assert detect["dori_level"] == "detect"
    assert detect["area_m2"] == pytest.approx(4000.0)
    assert detect.geometry.geom_type == "MultiPolygon"
    assert shapely.equals(detect.geometry, box(60, 0, 100, 100))
    # observe covers x in [0, 30]
    assert out.set_index("key_area_id").loc["square-observe", "area_m2"] == pytest.approx(7000.0)


def test_blind_spots_exclude_building_interiors_and_slivers() -> None:
    cov = coverage_by_level(visible_frame())
    areas = gpd.GeoDataFrame(
        {"key_area_id": [1, 2], "required_dori": ["detect", "detect"]},
        geometry=[box(0, 0, 100, 100), box(0, 0, 60.5, 1)],
        crs=CRS,
    )
    buildings = gpd.GeoDataFrame(
        geometry=[box(70, 70, 80, 80), box(50, 10, 70, 20), box(75, 75, 85, 85)], crs=CRS
    )  # overlapping footprints, one straddling the covered edge
    out = blind_spots(areas, cov, buildings=buildings)
    # building area in the blind part: 100 + 100 - 25 (overlap) + 10 x 10 of the straddler
    assert out["area_m2"].tolist() == pytest.approx([4000.0 - 275.0])
    assert out["key_area_id"].tolist() == [1]  # area 2's 0.5 m² blind sliver is dropped
    geom = out.geometry.iloc[0]
    for x, y, blind in [(75, 75, False), (65, 15, False), (65, 25, True), (55, 15, False)]:
        assert geom.contains(Point(x, y)) is blind
    kept = blind_spots(areas, cov, buildings=buildings, min_area_m2=0.1)
    assert kept["area_m2"].tolist() == pytest.approx([3725.0, 0.5])


def test_blind_spots_errors() -> None:
    cov = coverage_by_level(visible_frame())
    areas = gpd.GeoDataFrame(
        {"key_area_id": [1], "required_dori": ["inspect"]}, geometry=[box(0, 0, 1, 1)], crs=CRS
    )
    with pytest.raises(CoverageError, match="inspect"):
        blind_spots(areas, cov)
    with pytest.raises(CoverageError, match="no 'observe' level"):
        blind_spots(areas.assign(required_dori="observe"), {"detect": box(0, 0, 1, 1)})
    with pytest.raises(CoverageError, match="required_dori"):
        blind_spots(areas.drop(columns="required_dori"), cov)
    none = blind_spots(areas.iloc[:0], cov)
    assert none.empty and list(none.columns) == ["key_area_id", "dori_level", "geometry", "area_m2"]


# -- coverage statistics vs dense sampling ------------------------------------------------------
def test_coverage_stats_against_dense_sampling() -> None:
    geoms = sectors(250, 300.0, seed=21, r_max=60.0)
    level = np.where(np.arange(len(geoms)) % 2 == 0, "detect", "observe").astype(object)
    vis = gpd.GeoDataFrame(
        {"camera_id": range(len(geoms)), "level": level}, geometry=geoms, crs=CRS
    )
    cov = coverage_by_level(vis)
    rng = np.random.default_rng(2)
    blds = [
        box(x, y, x + w, y + h)
        for x, y, w, h in zip(
            *rng.uniform(0, 280, (2, 60)), *rng.uniform(5, 25, (2, 60)), strict=True
        )
    ]
    buildings = gpd.GeoDataFrame(geometry=blds, crs=CRS)
    areas = gpd.GeoDataFrame(
        {"area_id": ["disc", "poly"]},
        geometry=[
            Point(150, 150).buffer(110, quad_segs=64),
            Polygon([(10, 10), (290, 30), (200, 290), (120, 120), (20, 250)]),
        ],
        crs=CRS,
    )
    stats = coverage_stats(areas, cov, buildings=buildings, levels=("detect", "observe"))
    assert list(stats.columns) == [
        "area_id",
        "level",
        "area_m2",
        "covered_m2",
        "covered_pct",
        "open_area_m2",
        "open_covered_m2",
        "open_covered_pct",
    ]
    assert stats[["area_id", "level"]].values.tolist() == [
        ["disc", "detect"],
        ["disc", "observe"],
        ["poly", "detect"],
        ["poly", "observe"],
    ]

    step = 0.5
    g = np.arange(-step / 2, 300 + step, step) + step / 2
    xx, yy = (a.ravel() for a in np.meshgrid(g, g))
    in_bld = shapely.contains_xy(shapely.union_all(blds), xx, yy)
    for row in stats.itertuples():
        area = areas.set_index("area_id").geometry[row.area_id]
        in_area = shapely.contains_xy(area, xx, yy)
        in_cov = shapely.contains_xy(shapely.union_all(geoms[level == row.level]), xx, yy)
        cell = step * step
        assert row.area_m2 == pytest.approx(area.area)
        assert row.covered_m2 == pytest.approx((in_area & in_cov).sum() * cell, rel=0.01)
        assert row.open_area_m2 == pytest.approx((in_area & ~in_bld).sum() * cell, rel=0.01)
        assert row.open_covered_m2 == pytest.approx(
            (in_area & in_cov & ~in_bld).sum() * cell, rel=0.01
        )
        assert row.covered_pct == pytest.approx(100 * row.covered_m2 / row.area_m2)
        assert row.open_covered_pct == pytest.approx(100 * row.open_covered_m2 / row.open_area_m2)
    plain = coverage_stats(areas, cov, levels=("detect",))
    assert (plain["open_covered_m2"] == plain["covered_m2"]).all()
    assert (plain["open_area_m2"] == plain["area_m2"]).all()


def test_prepared_pieces_and_the_no_interiors_shortcut_give_the_same_table() -> None:
    """Coverage cut out of the buildings (as occlusion makes it): skipping the overlay with
    the buildings, and passing pieces prepared once, changes no figure."""
    geoms = sectors(120, 200.0, seed=5, r_max=50.0)
    rng = np.random.default_rng(8)
    blds = [box(x, y, x + w, y + h) for x, y, w, h in zip(
        *rng.uniform(0, 180, (2, 40)), *rng.uniform(5, 20, (2, 40)), strict=True)]  # fmt: skip
    buildings = gpd.GeoDataFrame(geometry=blds, crs=CRS)
    walls = shapely.union_all(blds)
    vis = gpd.GeoDataFrame({"camera_id": range(len(geoms)), "level": "detect"},
                           geometry=shapely.difference(geoms, walls), crs=CRS)  # fmt: skip
    cov = coverage_by_level(vis)
    areas = gpd.GeoDataFrame({"area_id": ["a", "b"]},
                             geometry=[box(0, 0, 120, 200), box(80, 20, 200, 150)], crs=CRS)
    full = coverage_stats(areas, cov, buildings=buildings, levels=("detect",))
    fast = coverage_stats(areas, coverage_pieces(cov), buildings=building_pieces(buildings),
                          levels=("detect",), coverage_excludes_buildings=True)  # fmt: skip
    assert full["covered_m2"].iloc[0] > 1000  # a real overlap, not two empty tables
    pd.testing.assert_frame_equal(full, fast, rtol=1e-9)


# -- effectiveness ------------------------------------------------------------------------------
def test_effectiveness_per_jurisdiction_and_month() -> None:
    cov = coverage_by_level(visible_frame())  # detect x<=60, observe x<=30
    key_areas = gpd.GeoDataFrame(
        {"key_area_id": [1], "required_dori": ["recognise"]},
        geometry=[box(0, 80, 100, 100)],
        crs=CRS,
    )
    incidents = gpd.GeoDataFrame(
        {
            "incident_id": ["a", "b", "c", "d", "e"],
            "jurisdiction_id": [1, 1, 1, 2, 2],
            "occurred_at": pd.to_datetime(
                [
                    "2024-01-03 23:30",
                    "2024-01-31 08:00",
                    "2024-02-01 00:10",
                    "2024-01-15 12:00",
                    "2024-01-16 12:00",
                ]
            ).tz_localize("Europe/Monaco"),
        },
        geometry=[Point(10, 10), Point(50, 10), Point(30, 50), Point(10, 90), Point(90, 10)],
        crs=CRS,
    )
    out = effectiveness(incidents, cov, key_areas=key_areas)
    table = out.table.set_index(["jurisdiction_id", "period"])
    # required observe (x<=30, edge counts) except d: in a recognise key area (x<=20)
    assert table.loc[(1, "2024-01"), ["incidents", "covered"]].tolist() == [2, 1]
    assert table.loc[(1, "2024-02"), ["incidents", "covered"]].tolist() == [1, 1]
    assert table.loc[(2, "2024-01"), ["incidents", "covered"]].tolist() == [2, 1]
    assert table.loc[(1, "2024-01"), "covered_pct"] == pytest.approx(50.0)
    assert out.blind["incident_id"].tolist() == ["b", "e"]
    assert out.blind["required_level"].tolist() == ["observe", "observe"]
    assert out.blind["period"].tolist() == ["2024-01", "2024-01"]
    assert out.blind.crs == incidents.crs

    need = pd.Series(["detect"] * 5, index=incidents.index)
    relaxed = effectiveness(incidents, cov, required_level=need)
    assert relaxed.blind["incident_id"].tolist() == ["e"]
    quarterly = effectiveness(incidents, cov, required_level="detect", freq="Q")
    assert quarterly.table["period"].tolist() == ["2024Q1", "2024Q1"]
    with pytest.raises(CoverageError, match="without a Point"):
        effectiveness(incidents.set_geometry([None] * 5, crs=CRS), cov)
