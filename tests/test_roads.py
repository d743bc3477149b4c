"""gis.roads against independent computations: dense sampling along roads, hand-computed
intervals and hand-drawn boundary scenes."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box
from shapely.ops import substring

from gis.coverage import LEVELS, coverage_by_level
from gis.roads import (
    RoadError,
    checkpoint_completeness,
    entry_roads,
    longest_unseen,
    road_coverage,
    road_summary,
)
from tests.test_coverage import sectors

CRS = "EPSG:32632"


def road_frame(lines: list[LineString], **cols: list[object]) -> gpd.GeoDataFrame:
    data = {"road_id": [f"r{k}" for k in range(len(lines))], **cols}
    return gpd.GeoDataFrame(data, geometry=lines, crs=CRS)


def intervals(cov: pd.DataFrame, road_id: str, level: str) -> list[list[float]]:
    row = cov[(cov["road_id"] == road_id) & (cov["level"] == level)].iloc[0]
    return np.asarray(row["uncovered_intervals"]).tolist()


# -- road coverage vs dense sampling ------------------------------------------------------------
def random_roads(n: int, extent_m: float, seed: int) -> list[LineString]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        k = int(rng.integers(2, 8))
        start = rng.uniform(0, extent_m, 2)
        steps = rng.normal(0, 60, (k - 1, 2))
        out.append(LineString(np.vstack([start, start + np.cumsum(steps, axis=0)])))
    return out


@pytest.mark.parametrize("as_mapping", [False, True])
def test_road_coverage_against_dense_sampling(as_mapping: bool) -> None:
    geoms = sectors(300, 400.0, seed=4, r_max=70.0)
    level = np.array(LEVELS, dtype=object)[np.arange(len(geoms)) % 2]  # detect / observe
    vis = gpd.GeoDataFrame(
        {"camera_id": range(len(geoms)), "level": level}, geometry=geoms, crs=CRS
    )
    roads = road_frame(random_roads(40, 400.0, seed=9))
    levels = ("detect", "observe")
    cov = road_coverage(roads, coverage_by_level(vis) if as_mapping else vis, levels=levels)
    assert list(cov.columns) == [
        "road_id",
        "level",
        "length_m",
        "covered_m",
        "covered_pct",
        "uncovered_intervals",
    ]
    assert len(cov) == 2 * len(roads)
    unions = {lv: shapely.union_all(geoms[level == lv]) for lv in levels}
    for lv in levels:
        shapely.prepare(unions[lv])
    for row in cov.itertuples():
        line = roads.geometry.iloc[int(row.road_id[1:])]
        assert row.length_m == pytest.approx(line.length)
        d = np.arange(0.05, line.length, 0.1)  # midpoints of 0.1 m steps
        seen = shapely.intersects(unions[row.level], shapely.line_interpolate_point(line, d))
        gaps = np.asarray(row.uncovered_intervals).reshape(-1, 2)
        transitions = int(np.count_nonzero(np.diff(seen.astype(int)))) + 2
        assert row.covered_m == pytest.approx(seen.sum() * 0.1, abs=0.1 * transitions)
        assert row.covered_pct == pytest.approx(100 * row.covered_m / row.length_m)
        in_gap = ((d[:, None] > gaps[:, 0] + 1e-3) & (d[:, None] < gaps[:, 1] - 1e-3)).any(1)
        near_end = (np.abs(d[:, None] - gaps.ravel()[None, :]) < 1e-3).any(1)
        assert not (seen & in_gap).any()
        assert (seen | in_gap | near_end).all()
        assert row.covered_m == pytest.approx(line.length - np.diff(gaps, axis=1).sum())


def test_road_coverage_matches_line_intersection_of_the_union() -> None:
    circle = Point(0, 0).buffer(100, quad_segs=300)  # > 256 vertices: gets subdivided
    lines = [LineString([(-150, y), (150, y)]) for y in (-99.0, -30.0, 0.0, 55.5, 99.9)]
    roads = road_frame(lines)
    cov = road_coverage(roads, {"detect": circle}, levels=("detect",))
    naive = shapely.length(shapely.intersection(np.array(lines), circle))
    assert cov["covered_m"].to_numpy() == pytest.approx(naive, abs=1e-6)


def test_road_on_polygon_edge_and_multiple_entries() -> None:
    # a U-shaped polygon: the straight road at y = 5 crosses it as a MultiLineString
    u_shape = Polygon([(0, 0), (30, 0), (30, 20), (20, 20), (20, 10), (10, 10), (10, 20), (0, 20)])
    assert (
        shapely.intersection(LineString([(-5, 15), (35, 15)]), u_shape).geom_type
        == "MultiLineString"
    )
    vis = gpd.GeoDataFrame(
        {"camera_id": [1, 2], "level": ["detect", "detect"]},
        geometry=[u_shape, box(100, 0, 110, 10)],
        crs=CRS,
    )
    roads = road_frame(
        [
            LineString([(-5, 15), (35, 15)]),  # in and out of the U twice
            LineString([(100, -5), (100, 20)]),  # along the left edge of the box for 10 m
            LineString([(95, 0), (115, 0)]),  # along the bottom edge
            LineString([(90, 5), (105, 5), (105, 8), (95, 8), (95, 9), (120, 9)]),  # zigzag
            LineString([(40, 40), (50, 50)]),  # nowhere near
        ]
    )
    cov = road_coverage(roads, vis, levels=("detect",))
    assert intervals(cov, "r0", "detect") == [[0.0, 5.0], [15.0, 25.0], [35.0, 40.0]]
    assert intervals(cov, "r1", "detect") == [[0.0, 5.0], [15.0, 25.0]]
    assert intervals(cov, "r2", "detect") == [[0.0, 5.0], [15.0, 20.0]]
    # zigzag: out 10, in 5 + 3 + 5 (x 105 -> 100), out 5 + 1 + 5, in 10, out 10
    got = np.asarray(intervals(cov, "r3", "detect"))
    assert got == pytest.approx(np.array([[0, 10], [23, 34], [44, 54]], dtype=float))
    assert cov.set_index("road_id").loc["r3", "covered_m"] == pytest.approx(23.0)
    assert intervals(cov, "r4", "detect") == [[0.0, pytest.approx(np.hypot(10, 10))]]
    assert cov.set_index("road_id").loc["r4", "covered_pct"] == 0.0


def test_road_coverage_errors() -> None:
    roads = road_frame([MultiLineString([[(0, 0), (1, 0)], [(2, 0), (3, 0)]])])
    with pytest.raises(RoadError, match="LineString.*road_id 'r0'"):
        road_coverage(roads, {"detect": box(0, 0, 1, 1)}, levels=("detect",))
    with pytest.raises(RoadError, match="no level"):
        road_coverage(road_frame([LineString([(0, 0), (1, 0)])]), {"detect": box(0, 0, 1, 1)})
    with pytest.raises(RoadError, match="unknown DORI"):
        road_coverage(road_frame([LineString([(0, 0), (1, 0)])]), {}, levels=("monitor",))


def test_summary_and_longest_unseen() -> None:
    vis = gpd.GeoDataFrame(
        {"camera_id": [1], "level": ["detect"]}, geometry=[box(0, 0, 50, 50)], crs=CRS
    )
    roads = road_frame(
        [
            LineString([(-40, 10), (100, 10)]),
            LineString([(10, -10), (10, 30), (80, 30)]),
            LineString([(200, 0), (200, 25)]),
        ],
        road_class=["primary", "primary", "residential"],
        jurisdiction_id=[1, 1, 2],
    )
    cov = road_coverage(roads, vis, levels=("detect", "observe"))
    summary = road_summary(cov, roads)
    assert list(summary.columns) == [
        "jurisdiction_id",
        "road_class",
        "level",
        "roads",
        "length_km",
        "covered_km",
        "covered_pct",
    ]
    first = summary.iloc[0]
    assert (first["jurisdiction_id"], first["road_class"], first["level"]) == (
        1,
        "primary",
        "detect",
    )
    assert first["length_km"] == pytest.approx((140 + 110) / 1000)
    assert first["covered_km"] == pytest.approx((50 + 30 + 40) / 1000)
    assert first["covered_pct"] == pytest.approx(100 * 120 / 250)
    by_class = road_summary(cov, roads.drop(columns="jurisdiction_id"))
    assert by_class["road_class"].tolist() == ["primary", "primary", "residential", "residential"]

    top = longest_unseen(cov, roads, "detect", n=3)
    assert top["length_m"].tolist() == pytest.approx([50.0, 40.0, 30.0])
    assert top["road_id"].tolist() == ["r0", "r0", "r1"]
    assert top.crs == roads.crs
    for row in top.itertuples():
        line = roads.set_index("road_id").geometry[row.road_id]
        want = substring(line, row.start_m, row.end_m)
        assert shapely.equals_exact(row.geometry, want, tolerance=1e-9)
        assert row.geometry.length == pytest.approx(row.length_m)
    bent = longest_unseen(cov, roads, "observe", n=1)  # all of r0; r1 turns a corner
    assert bent["road_id"].tolist() == ["r0"]
    corner = longest_unseen(cov[cov["road_id"] == "r1"], roads, "observe", n=1).geometry.iloc[0]
    assert list(corner.coords) == [(10, -10), (10, 30), (80, 30)]


# -- entry roads and checkpoints ----------------------------------------------------------------
def city() -> Polygon:
    return box(0, 0, 1000, 1000)


def entry_scene() -> gpd.GeoDataFrame:
    return road_frame(
        [
            LineString([(-100, 500), (100, 500)]),  # r0 two-way across the west edge
            LineString([(500, -100), (500, 100)]),  # r1 oneway inbound (geometry inwards)
            LineString([(600, 100), (600, -100)]),  # r2 oneway outbound
            LineString([(700, 100), (700, -100)]),  # r3 oneway=-1: travel is inbound
            LineString([(200, 900), (200, 1100), (300, 1100), (300, 900)]),  # r4 out and back
            LineString([(400, 400), (600, 600)]),  # r5 inside only
            LineString([(1000, 200), (1000, 300), (900, 300)]),  # r6 along the edge, then in
            LineString([(1000, 700), (900, 700)]),  # r7 clipped at the boundary
            LineString([(-50, 800), (50, 800)]),  # r8 a footway: not an entry
        ],
        road_class=[
            "primary",
            "trunk",
            "trunk",
            "secondary",
            "residential",
            "primary",
            "tertiary",
            "primary_link",
            "footway",
        ],
        oneway=[None, "yes", True, "-1", "no", None, None, "no", None],
        lanes=[4, 2, "2", 1, None, 2, 2, "two", 1],
        name=[f"road {k}" for k in range(9)],
    )


def test_entry_roads() -> None:
    entries = entry_roads(entry_scene(), city())
    assert list(entries.columns) == [
        "road_id",
        "name",
        "road_class",
        "oneway",
        "lanes",
        "directions",
        "position_m",
        "geometry",
    ]
    got = {(r.road_id, r.directions, r.geometry.x, r.geometry.y) for r in entries.itertuples()}
    assert got == {
        ("r0", ("in", "out"), 0.0, 500.0),
        ("r1", ("in",), 500.0, 0.0),
        ("r2", ("out",), 600.0, 0.0),
        ("r3", ("in",), 700.0, 0.0),
        ("r4", ("in", "out"), 200.0, 1000.0),
        ("r4", ("in", "out"), 300.0, 1000.0),
        ("r6", ("in", "out"), 1000.0, 300.0),
        ("r7", ("in", "out"), 1000.0, 700.0),
    }
    by_id = entries.set_index(["road_id", "position_m"])
    assert by_id.loc[("r6", 100.0), "oneway"] == np.False_
    assert by_id.loc[("r1", 100.0), "oneway"] == np.True_
    assert by_id.loc[("r0", 100.0), "lanes"] == 4
    assert pd.isna(by_id.loc[("r4", 100.0), "lanes"])
    assert by_id.loc[("r2", 100.0), "name"] == "road 2"
    oneway_twice = entry_scene()
    oneway_twice.loc[4, "oneway"] = "yes"
    r4 = entry_roads(oneway_twice, city()).query("road_id == 'r4'")
    assert r4[["position_m", "directions"]].values.tolist() == [[100.0, ("out",)], [400.0, ("in",)]]
    everything = entry_roads(entry_scene(), city(), classes=None)
    assert "r8" in set(everything["road_id"])
    with pytest.raises(RoadError, match="boundary"):
        entry_roads(entry_scene(), LineString([(0, 0), (1, 1)]))


def test_checkpoint_completeness() -> None:
    entries = entry_roads(entry_scene(), city())
    checkpoints = gpd.GeoDataFrame(
        {
            "checkpoint_id": ["k0", "k1", "k2", "k4a", "k4b", "k6", "k7"],
            "road_id": ["r0", "r1", "r2", "r4", None, None, "r0"],
            "directions": ["both", ["in"], "in", "in,out", ["in", "out"], "out", "in"],
            "lanes": [4, 2, 2, 1, None, 2, 2],
        },
        geometry=[
            Point(20, 500),
            Point(500, 30),
            Point(600, 20),
            Point(200, 990),
            Point(310, 980),
            Point(1050, 300),
            Point(1000, 690),
        ],
        crs=CRS,
    )
    out = checkpoint_completeness(entries, checkpoints, max_distance_m=100.0)
    status = {
        (r.road_id, r.position_m): (r.status, r.missing, r.checkpoint_ids) for r in out.itertuples()
    }
    assert status[("r0", 100.0)] == ("covered", "", ("k0", "k7"))
    assert status[("r1", 100.0)] == ("covered", "", ("k1",))
    assert status[("r2", 100.0)][:2] == ("partial", "no checkpoint for direction out")
    assert status[("r3", 100.0)] == ("missing", "no checkpoint on this road", ())
    # r4 first crossing: k4a only (lanes 1 < unknown road lanes: not judged); second: k4a + k4b
    assert status[("r4", 100.0)] == ("covered", "", ("k4a",))
    assert status[("r4", 400.0)] == ("covered", "", ("k4b", "k4a"))
    assert status[("r6", 100.0)][:2] == ("partial", "no checkpoint for direction in")
    # k7 is tied to r0: not used for r7 though it is 10 m away
    assert status[("r7", 0.0)][0] == "missing"
    r0 = out[out["road_id"] == "r0"].iloc[0]
    assert r0["distance_m"] == pytest.approx(20.0)
    assert r0["covered_directions"] == ("in", "out")

    few_lanes = checkpoints.assign(lanes=[2, 2, 2, 1, None, 2, None])
    out2 = checkpoint_completeness(entries, few_lanes).set_index(["road_id", "position_m"])
    # k0 (2 lanes) + k7 (unknown): lanes not judged
    assert out2.loc[("r0", 100.0), "status"] == "covered"
    out3 = checkpoint_completeness(
        entries, few_lanes.assign(road_id=["r0", "r1", "r2", "r4", None, None, "x"])
    ).set_index(["road_id", "position_m"])
    assert out3.loc[("r0", 100.0), "status"] == "partial"
    assert out3.loc[("r0", 100.0), "missing"] == "checkpoint lanes 2 < road lanes 4"
    with pytest.raises(RoadError, match="sideways"):
        checkpoint_completeness(entries, checkpoints.assign(directions="sideways"))
