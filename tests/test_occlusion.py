"""Occlusion checked against an independent 2.5D line-of-sight test on dense random points,
and against hand-computed cases."""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gis.occlusion import OcclusionInputError, place_facade_cameras, visible_polygons

CRS = 32632  # UTM 32N: metres
EDGE_M = 0.05  # points this close to a computed visible edge are not compared


def sector(x: float, y: float, azimuth_deg: float, hfov_deg: float, range_m: float,
           near_m: float = 0.0, n: int = 65) -> Polygon:
    """Annular sector around (x, y), azimuth clockwise from north (test's own construction)."""
    a = np.radians(azimuth_deg + np.linspace(-hfov_deg / 2, hfov_deg / 2, n))
    far = np.column_stack([x + range_m * np.sin(a), y + range_m * np.cos(a)])
    if near_m > 0:
        near = np.column_stack([x + near_m * np.sin(a), y + near_m * np.cos(a)])[::-1]
    else:
        near = np.array([[x, y]])
    return Polygon(np.vstack([far, near]))


@dataclass
class Scene:
    cameras: list[tuple[float, float, float]]  # x, y, mount height (m)
    sectors: list[tuple[int, Polygon | MultiPolygon]]  # camera index, field of view
    buildings: list[tuple[Polygon | MultiPolygon, float]]  # footprint, height (m)
    target_m: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    def frames(self) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
        cams = gpd.GeoDataFrame(
            {"camera_id": [f"c{i}" for i in range(len(self.cameras))],
             "mount_height_m": [c[2] for c in self.cameras]},
            geometry=[Point(c[0], c[1]) for c in self.cameras], crs=CRS)
        secs = gpd.GeoDataFrame(
            {"camera_id": [f"c{i}" for i, _ in self.sectors],
             "level": ["detect"] * len(self.sectors)},
            geometry=[g for _, g in self.sectors], crs=CRS)
        blds = gpd.GeoDataFrame({"height_m": [h for _, h in self.buildings]},
                                geometry=[g for g, _ in self.buildings], crs=CRS)
        return secs, cams, blds


def line_of_sight(cam_xy: tuple[float, float], mount_m: float, points: np.ndarray,
                  buildings: list[tuple[Polygon | MultiPolygon, float]],
                  target_m: float) -> np.ndarray:
    """True where the segment camera -> point clears every building (exact, per footprint).

    The segment's height falls (or rises) linearly from the camera to the point; over the
    stretch where it crosses a footprint its lowest point is at one end of that stretch, so a
    building hides the point when its height exceeds the segment's height there.
    """
    c = np.asarray(cam_xy, dtype=float)
    lines = shapely.linestrings(np.stack([np.broadcast_to(c, points.shape), points], axis=1))
    geoms = np.array([g for g, _ in buildings], dtype=object)
    heights = np.array([h for _, h in buildings], dtype=float)
    blocked = np.zeros(len(points), dtype=bool)
    li, bi = shapely.STRtree(geoms).query(lines, predicate="intersects")
    crossing = shapely.intersection(lines[li], geoms[bi])
    coords, which = shapely.get_coordinates(crossing, return_index=True)
    vec = points[li[which]] - c
    s = np.einsum("ij,ij->i", coords - c, vec) / np.einsum("ij,ij->i", vec, vec)
    z = mount_m + s * (target_m - mount_m)
    hit = heights[bi[which]] > z + 1e-12
    blocked[li[which][hit]] = True
    return ~blocked


def expected_visible(scene: Scene, row: int, points: np.ndarray) -> np.ndarray:
    cam_i, geom = scene.sectors[row]
    x, y, h = scene.cameras[cam_i]
    inside_any = np.zeros(len(points), dtype=bool)
    for g, _ in scene.buildings:
        inside_any |= shapely.contains_xy(g, points[:, 0], points[:, 1]) | shapely.intersects_xy(
            g.boundary, points[:, 0], points[:, 1])
    in_sector = shapely.contains_xy(geom, points[:, 0], points[:, 1])
    return in_sector & ~inside_any & line_of_sight((x, y), h, points, scene.buildings,
                                                   scene.target_m)


def agreement(scene: Scene, n: int = 6000, seed: int = 0) -> tuple[float, int]:
    """Share of compared sample points where visible_polygons and line of sight agree."""
    secs, cams, blds = scene.frames()
    out = visible_polygons(secs, cams, blds, target_height_m=scene.target_m)
    rng = np.random.default_rng(seed)
    agree = compared = 0
    for row in range(len(scene.sectors)):
        vis = out.geometry.iloc[row]
        x0, y0, x1, y1 = scene.sectors[row][1].buffer(2.0).bounds
        pts = rng.uniform([x0, y0], [x1, y1], size=(n, 2))
        far = shapely.distance(vis.boundary, shapely.points(pts)) > EDGE_M if not vis.is_empty \
            else np.ones(n, dtype=bool)
        got = shapely.contains_xy(vis, pts[:, 0], pts[:, 1])
        want = expected_visible(scene, row, pts)
        agree += int((got == want)[far].sum())
        compared += int(far.sum())
    return agree / compared, compared


# ---- hand-drawn scenes (camera at the origin looking north unless said) ----------------------

NORTH = sector(0, 0, 0, 70, 50)
L_SHAPE = Polygon([(-8, 12), (8, 12), (8, 16), (-4, 16), (-4, 28), (-8, 28)])
COURTYARD = box(-30, -30, 30, 30).difference(box(-10, -10, 10, 10))
YARD = shapely.affinity.translate(COURTYARD, 100, 0)  # courtyard 90..110 x -10..10

SCENES: dict[str, Scene] = {
    "wall behind which the camera looks": Scene(
        [(0, 0, 6.0)], [(0, NORTH)], [(box(-5, 10, 5, 10.3), 10.0)]),
    "building taller than the camera": Scene(
        [(0, 0, 8.0)], [(0, NORTH)], [(box(-4, 15, 6, 25), 20.0), (box(10, 20, 16, 30), 30.0)]),
    "building shorter than the camera": Scene(
        [(0, 0, 6.0)], [(0, NORTH)], [(box(-5, 10, 5, 15), 3.0)]),
    "camera inside a courtyard": Scene(
        [(0, 0, 6.0)], [(0, NORTH)], [(COURTYARD, 12.0)]),
    "courtyard camera above the roofs": Scene(
        [(0, 0, 20.0)], [(0, NORTH)], [(COURTYARD, 12.0), (box(-6, 35, 6, 40), 8.0)]),
    "L-shaped building, lower": Scene(
        [(0, 0, 6.0)], [(0, NORTH)], [(L_SHAPE, 4.0)]),
    "L-shaped building, taller": Scene(
        [(1, 0, 6.0)], [(0, NORTH)], [(L_SHAPE, 9.0)]),
    "building across the sector edge": Scene(
        # the sector's right edge (azimuth 35 deg) passes through this block
        [(0, 0, 6.0)], [(0, NORTH)], [(box(10, 15, 16, 22), 7.0), (box(-18, 20, -12, 24), 4.0)]),
    "face plane, low buildings": Scene(
        [(0, 0, 6.0)], [(0, NORTH)],
        [(box(-5, 10, 5, 12), 1.0), (box(-12, 25, -2, 27), 3.0), (box(4, 30, 9, 31), 1.6)],
        target_m=1.6),
    "camera below the face plane": Scene(
        [(0, 0, 1.0)], [(0, NORTH)], [(box(-5, 10, 5, 12), 1.3), (box(8, 20, 12, 21), 2.0)],
        target_m=1.6),
    "camera on a lower roof": Scene(
        [(0, 0, 10.0)], [(0, sector(0, 0, 0, 70, 50))], [(box(-6, -6, 6, 4), 8.0),
                                                         (box(-3, 20, 3, 22), 5.0)]),
    "PTZ presets as a MultiPolygon": Scene(
        [(0, 0, 6.0)],
        [(0, MultiPolygon([sector(0, 0, 0, 70, 40), sector(0, 0, 180, 70, 40)]))],
        [(box(-5, 10, 5, 10.3), 10.0), (box(-4, -20, 4, -14), 3.0)]),
}


@pytest.mark.parametrize("name", list(SCENES))
def test_agrees_with_line_of_sight(name: str) -> None:
    share, compared = agreement(SCENES[name])
    assert compared > 3000
    assert share >= 0.999, f"{name}: {share:.4%} of {compared}"


def test_facade_camera_scene() -> None:
    host = box(-10, -20, 10, 0)
    cams = gpd.GeoDataFrame({"camera_id": ["f"], "azimuth_deg": [0.0]},
                            geometry=[Point(0, 0)], crs=CRS)
    blds = gpd.GeoDataFrame(geometry=[host, box(8, 5, 14, 12)], crs=CRS)
    moved, count = place_facade_cameras(cams, blds)
    assert count == 1
    x, y = moved.geometry.iloc[0].x, moved.geometry.iloc[0].y
    assert (x, y) == pytest.approx((0.0, 0.4))
    scene = Scene([(x, y, 5.0)], [(0, sector(x, y, 0, 70, 50))],
                  [(host, 15.0), (box(8, 5, 14, 12), 4.0)])
    share, _ = agreement(scene)
    assert share >= 0.999
    # Unplaced, the camera stands in its 15 m building's wall and sees only ahead.
    secs, c2, b2 = Scene([(0, -0.2, 5.0)], [(0, sector(0, -0.2, 0, 70, 50))],
                         [(host, 15.0)]).frames()
    assert visible_polygons(secs, c2, b2).geometry.iloc[0].is_empty


def test_random_city_agrees_with_line_of_sight() -> None:
    rng = np.random.default_rng(7)
    buildings: list[tuple[Polygon | MultiPolygon, float]] = []
    for _ in range(60):
        cx, cy = rng.uniform(-120, 120, 2)
        w, d = rng.uniform(4, 25, 2)
        g: Polygon = box(cx - w / 2, cy - d / 2, cx + w / 2, cy + d / 2)
        if rng.random() < 0.3:  # L shapes
            g = Polygon(g.difference(box(cx, cy, cx + w, cy + d)))
        g = shapely.affinity.rotate(g, rng.uniform(0, 90), origin=(cx, cy))
        if not any(g.intersects(b) for b, _ in buildings):
            buildings.append((g, float(rng.choice([2.0, 5.0, 9.0, 15.0, 40.0]))))
    occupied = shapely.union_all([b for b, _ in buildings]).buffer(0.5)
    cameras: list[tuple[float, float, float]] = []
    sectors: list[tuple[int, Polygon | MultiPolygon]] = []
    while len(cameras) < 10:
        x, y = rng.uniform(-100, 100, 2)
        if occupied.contains(Point(x, y)):
            continue
        cameras.append((x, y, float(rng.uniform(3, 20))))
        az = float(rng.uniform(0, 360))
        sectors.append((len(cameras) - 1, sector(x, y, az, float(rng.uniform(30, 110)), 60.0)))
    for target in (0.0, 1.6):
        scene = Scene(cameras, sectors, buildings, target_m=target)
        share, compared = agreement(scene, n=3000)
        assert compared > 25000
        assert share >= 0.999, f"target {target}: {share:.4%}"


def test_shorter_building_hides_ground_only_up_to_the_projected_roof() -> None:
    # H = 6, roof 3 m: the roof edge y = 15 projects to y = 15 * 6 / (6 - 3) = 30.
    secs, cams, blds = SCENES["building shorter than the camera"].frames()
    vis = visible_polygons(secs, cams, blds).geometry.iloc[0]
    assert not vis.contains(Point(0, 12))  # inside the footprint
    assert not vis.contains(Point(0, 16)) and not vis.contains(Point(0, 29.9))
    assert vis.contains(Point(0, 30.1)) and vis.contains(Point(0, 45))
    assert vis.contains(Point(0, 9.9))
    # Shadow: hull of the box and its roof projected (x 2): area 150 + 200 + the box inside.
    assert secs.geometry.iloc[0].area - vis.area == pytest.approx(350.0)


def test_taller_building_shadow_runs_to_the_range() -> None:
    secs, cams, blds = SCENES["wall behind which the camera looks"].frames()
    vis = visible_polygons(secs, cams, blds).geometry.iloc[0]
    assert not vis.contains(Point(0, 49)) and not vis.contains(Point(5.5, 49))
    assert vis.contains(Point(0, 9.9)) and vis.contains(Point(12, 20))


def test_courtyard_camera_sees_the_courtyard_only() -> None:
    secs, cams, blds = SCENES["camera inside a courtyard"].frames()
    vis = visible_polygons(secs, cams, blds).geometry.iloc[0]
    # Triangle from the camera to the courtyard wall y = 10: base 2 * 10 tan 35 deg.
    assert vis.area == pytest.approx(100 * np.tan(np.radians(35)), rel=1e-9)
    assert vis.within(box(-10, -10, 10, 10).buffer(1e-9))


def test_target_plane_above_a_building_ignores_its_shadow() -> None:
    scene = Scene([(0, 0, 6.0)], [(0, NORTH)], [(box(-5, 10, 5, 12), 1.0)], target_m=1.6)
    secs, cams, blds = scene.frames()
    vis = visible_polygons(secs, cams, blds, target_height_m=1.6).geometry.iloc[0]
    assert vis.area == pytest.approx(NORTH.area - 20.0)  # only the footprint itself
    vis0 = visible_polygons(secs, cams, blds, target_height_m=0.0).geometry.iloc[0]
    assert vis0.area < vis.area - 1.0


def test_rows_kept_empty_and_unchanged() -> None:
    scene = Scene(
        [(0, 0, 6.0), (200, 200, 6.0)],
        [(0, sector(0, 0, 0, 70, 50, near_m=5)), (0, NORTH), (1, sector(200, 200, 90, 60, 30))],
        [(box(-100, 1, 100, 2), 50.0)])
    secs, cams, blds = scene.frames()
    secs.loc[3] = ["c1", "identify", None]
    out = visible_polygons(secs, cams, blds)
    assert list(out.index) == list(secs.index) and list(out.columns) == list(secs.columns)
    assert out.crs == secs.crs
    g = out.geometry
    assert g.iloc[0].is_empty and g.iloc[0].geom_type == "Polygon"
    assert g.iloc[1].area == pytest.approx(2 * np.tan(np.radians(35)) / 2 * 1.0 * 1.0, rel=1e-9)
    assert g.iloc[2].equals(secs.geometry.iloc[2])  # no building near camera c1
    assert g.iloc[3].is_empty
    assert list(out["level"]) == list(secs["level"])


def test_one_or_two_workers_give_identical_geometry() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 400, (300, 2))
    size = rng.uniform(5, 20, (300, 2))
    blds = gpd.GeoDataFrame({"height_m": rng.uniform(2, 30, 300)},
                            geometry=shapely.box(*(xy - size / 2).T, *(xy + size / 2).T), crs=CRS)
    cxy = rng.uniform(0, 400, (200, 2))
    cams = gpd.GeoDataFrame({"camera_id": np.arange(200), "mount_height_m": rng.uniform(3, 12, 200),
                             "azimuth_deg": rng.uniform(0, 360, 200)},
                            geometry=shapely.points(cxy), crs=CRS)
    cams, _ = place_facade_cameras(cams, blds)
    secs = gpd.GeoDataFrame(
        {"camera_id": np.repeat(np.arange(200), 2)},
        geometry=[sector(p.x, p.y, a, 70, r) for p, a in zip(cams.geometry, cams.azimuth_deg,
                                                             strict=True) for r in (50, 20)],
        crs=CRS)
    one = visible_polygons(secs, cams, blds, workers=1)
    two = visible_polygons(secs, cams, blds, workers=2)
    assert (shapely.to_wkb(one.geometry.values) == shapely.to_wkb(two.geometry.values)).all()
    assert (one.geometry.area < secs.geometry.area - 1e-9).sum() > 50  # something was hidden


def test_a_failing_worker_process_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import gis.occlusion as occlusion

    here = os.getpid()
    real = occlusion._visible_rows

    def fail_in_child(*args: object) -> object:
        if os.getpid() != here:
            raise ZeroDivisionError("boom in the child")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(occlusion, "_visible_rows", fail_in_child)
    scene = Scene([(0, 0, 6.0), (100, 0, 6.0)], [(0, NORTH), (1, sector(100, 0, 0, 70, 50))],
                  [(box(-5, 10, 5, 10.3), 10.0)])
    with pytest.raises(RuntimeError, match="(?s)worker process failed.*boom in the child"):
        visible_polygons(*scene.frames(), workers=2)


# ---- facade placement ------------------------------------------------------------------------

def _cams(points: list[tuple[float, float]], azimuths: list[float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"camera_id": list(range(len(points))), "azimuth_deg": azimuths},
                            geometry=[Point(p) for p in points], crs=CRS)


def test_place_facade_cameras_moves_out_along_azimuth() -> None:
    blds = gpd.GeoDataFrame(geometry=[box(0, 0, 20, 10), box(20, 0, 30, 10), YARD], crs=CRS)
    cams = _cams(
        [(10, 10), (10, 9.5), (25, 5), (5, -5), (12, 0), (20, 5), (100, 20)],
        [0.0, 0.0, 90.0, 0.0, 180.0, 270.0, 180.0])
    moved, count = place_facade_cameras(cams, blds, offset_m=0.4)
    got = shapely.get_coordinates(moved.geometry.values)
    want = [
        (10, 10.4),  # on the north wall, looking north
        (10, 10.4),  # inside, looking north: leaves at y = 10
        (30.4, 5),  # looking east across the neighbour block to its east wall
        (5, -5),  # in the street: untouched
        (12, -0.4),  # on the south wall, looking south
        (-0.4, 5),  # on the shared wall looking west: across the whole 20 m block
        (100, 9.6),  # in the courtyard building, looking south into the courtyard
    ]
    assert got == pytest.approx(np.array(want, dtype=float))
    assert count == 6
    assert list(moved["azimuth_deg"]) == list(cams["azimuth_deg"])
    assert list(moved.index) == list(cams.index) and moved.crs == cams.crs


def test_place_facade_cameras_without_azimuth_goes_to_nearest_wall() -> None:
    blds = gpd.GeoDataFrame(geometry=[box(0, 0, 20, 10), YARD], crs=CRS)
    cams = _cams([(3, 9), (15, 0), (100, -12), (75, 3)], [np.nan] * 4)
    moved, count = place_facade_cameras(cams, blds, offset_m=0.5)
    got = shapely.get_coordinates(moved.geometry.values)
    assert count == 4
    want = [
        (3, 10.5),  # nearest wall is the north one
        (15, -0.5),  # on the wall: out along its normal
        (100, -9.5),  # courtyard wall is nearer than the outer one: into the courtyard
        (69.5, 3),
    ]
    assert got == pytest.approx(np.array(want, dtype=float))


def test_place_facade_cameras_leaves_street_cameras() -> None:
    blds = gpd.GeoDataFrame(geometry=[box(0, 0, 20, 10)], crs=CRS)
    cams = _cams([(-1, -1), (50, 50)], [0.0, np.nan])
    moved, count = place_facade_cameras(cams, blds)
    assert count == 0
    assert moved.geometry.equals(cams.geometry)


# ---- errors ----------------------------------------------------------------------------------

def test_errors_say_what_to_fix() -> None:
    secs, cams, blds = SCENES["wall behind which the camera looks"].frames()
    with pytest.raises(OcclusionInputError, match="geographic"):
        visible_polygons(secs.set_crs(4326, allow_override=True), cams, blds)
    with pytest.raises(OcclusionInputError, match="differs"):
        visible_polygons(secs, cams.set_crs(32633, allow_override=True), blds)
    with pytest.raises(OcclusionInputError, match="height_m"):
        visible_polygons(secs, cams, blds.drop(columns="height_m"))
    with pytest.raises(OcclusionInputError, match="'zz' is not in cameras"):
        visible_polygons(secs.assign(camera_id="zz"), cams, blds)
    with pytest.raises(OcclusionInputError, match="mount_height_m.*nan"):
        visible_polygons(secs, cams.assign(mount_height_m=np.nan), blds)
    with pytest.raises(OcclusionInputError, match="unique"):
        visible_polygons(secs, gpd.GeoDataFrame(pd.concat([cams, cams]), crs=CRS), blds)
    with pytest.raises(OcclusionInputError, match="workers"):
        visible_polygons(secs, cams, blds, workers=0)
    with pytest.raises(OcclusionInputError, match="offset_m"):
        place_facade_cameras(cams.assign(azimuth_deg=0.0), blds, offset_m=0)
    assert issubclass(OcclusionInputError, ValueError)

