"""Candidate sites, demand sampling and the coverage matrix, against independent computation:
hand-made scenes, dense sampling and straight-line 2.5D line of sight."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gis import placement_demand as pdem
from gis import placement_sites as ps
from gis.fov import DORI_PPM
from gis.placement_instance import CoverageInstance
from gis.placement_solver import max_coverage

CRS = "EPSG:32632"  # Monaco's UTM zone; the scenes sit near Monaco so convergence is small
X0, Y0 = 372000.0, 4842000.0
LENS = ps.LensOption("8mm", "test 8 mm", 5.6, 3.1, 8.0, 2560, 1440, "observe")


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def frame(geoms: list[shapely.Geometry], **cols: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries(geoms, crs=CRS))


def line(*xy: tuple[float, float]) -> shapely.LineString:
    return shapely.LineString([(X0 + x, Y0 + y) for x, y in xy])


# --------------------------------------------------------------------------- independent model


def seen(cfg: dict[str, float], px: float, py: float, level: str,
         buildings: gpd.GeoDataFrame, target_h: float = 0.0) -> bool:  # fmt: skip
    """Pinhole + 2.5D straight-line check, written without the engine's polygons."""
    cx, cy, h_m = cfg["x"], cfg["y"], cfg["mount_height_m"]
    dx, dy = px - cx, py - cy
    d = math.hypot(dx, dy)
    if d < 1e-6:
        return False
    bearing = math.degrees(math.atan2(dx, dy)) % 360.0
    off = (bearing - cfg["azimuth_grid_deg"] + 180.0) % 360.0 - 180.0
    if abs(off) > cfg["hfov_deg"] / 2:
        return False
    h = h_m - target_h
    slant = math.hypot(d, h)
    hfov = math.radians(cfg["hfov_deg"])
    d_max = cfg["resolution_w_px"] / (2 * DORI_PPM[level] * math.tan(hfov / 2))
    if slant > d_max:
        return False
    vfov = math.degrees(2 * math.atan(cfg["sensor_height_mm"] / (2 * cfg["focal_length_mm"])))
    dep = math.degrees(math.atan2(h, d))
    if not (cfg["tilt_deg"] - vfov / 2 <= dep <= cfg["tilt_deg"] + vfov / 2):
        return False
    s = np.linspace(0.0, 1.0, 400)
    xs, ys = cx + s * dx, cy + s * dy
    z = h_m + (target_h - h_m) * s
    for g, hb in zip(buildings.geometry, buildings["height_m"], strict=True):
        inside = shapely.contains_xy(g, xs, ys)
        if inside[-1] or np.any(inside & (z < hb)):
            return False
    return True


def near_edge(cfg: dict[str, float], px: float, py: float, level: str,
              buildings: gpd.GeoDataFrame, tol_m: float = 0.6) -> bool:  # fmt: skip
    """Whether a point is within tol of a decision boundary (sampling or arc chords)."""
    return any(seen(cfg, px + ex, py + ey, level, buildings) != seen(cfg, px, py, level, buildings)
               for ex, ey in ((tol_m, 0), (-tol_m, 0), (0, tol_m), (0, -tol_m)))


def records(configs: gpd.GeoDataFrame) -> list[dict[str, float]]:
    out = []
    for i, r in enumerate(configs.to_dict("records")):
        g = configs.geometry.iloc[i]
        out.append({**r, "x": g.x, "y": g.y})
    return out


# --------------------------------------------------------------------------- sites


def scene() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    buildings = frame([box(10, 10, 40, 40), box(60, 10, 90, 30), box(10, 60, 30, 90)],
                      height_m=[12.0, 30.0, 8.0])  # fmt: skip
    roads = frame([line((0, 50), (100, 50)), line((50, 0), (50, 100))], lanes=[2, 4])
    return buildings, roads


def test_candidates_never_inside_buildings_and_inside_the_area() -> None:
    buildings, roads = scene()
    cams = frame([shapely.Point(X0 + 20, Y0 + 20), shapely.Point(X0 + 45, Y0 + 45)],
                 camera_id=["inside", "outside"], mount_height_m=[5.0, 4.0])  # fmt: skip
    area = box(0, 0, 95, 95)
    sites = ps.candidate_sites(roads=roads, buildings=buildings, cameras=cams, area=area,
                               roof_min_height_m=25.0, pole_spacing_m=10.0,
                               facade_spacing_m=8.0)  # fmt: skip
    assert set(sites["kind"]) == {"pole", "facade", "corner", "roof", "existing"}
    pts = sites.geometry.to_numpy()
    assert not shapely.intersects(buildings.union_all(), pts).any()
    assert shapely.covers(area, pts).all()
    # facade and corner sites hug their wall, poles sit at the kerb (2 lanes: 4.25 m)
    walls = sites[sites["kind"].isin(["facade", "corner"])]
    assert shapely.distance(buildings.union_all(), walls.geometry.to_numpy()).max() < 0.75
    poles = sites[sites["kind"] == "pole"]
    d = shapely.distance(roads.geometry.iloc[0], poles.geometry.to_numpy())
    assert np.isclose(d[d < 5.0], 4.25, atol=1e-6).all()
    # the camera surveyed inside a footprint is offered just outside it
    inside = sites[sites["source_id"] == "inside"]
    assert len(inside) == 1 and 0.3 < buildings.geometry.iloc[0].distance(
        inside.geometry.iloc[0]) < 0.75
    # roof sites only on the 30 m building, mounted above its roof
    roofs = sites[sites["kind"] == "roof"]
    assert (roofs["mount_height_m"] == 33.0).all() and len(roofs) > 0
    # no_mount polygons (water) keep sites out
    water = box(0, 40, 100, 60)
    wet = ps.candidate_sites(roads=roads, buildings=buildings, area=area, no_mount=[water])
    assert not shapely.intersects(water, wet.geometry.to_numpy()).any()


def test_configs_never_face_their_wall_and_store_true_azimuths() -> None:
    buildings, roads = scene()
    sites = ps.candidate_sites(roads=roads, buildings=buildings)
    cfg = ps.candidate_configs(sites, lenses=[LENS], azimuth_step_deg=30.0)
    wall = cfg.merge(sites[["site_id", "facing_deg"]], on="site_id")
    wall = wall[wall["site_kind"].isin(["facade", "roof"])]
    off = (wall["azimuth_grid_deg"] - wall["facing_deg"] + 180.0) % 360.0 - 180.0
    assert off.abs().max() <= 60.0 + 1e-6
    # true = grid + meridian convergence (about -0.9 degrees west of the zone's central meridian)
    conv = ((cfg["azimuth_deg"] - cfg["azimuth_grid_deg"] + 180) % 360) - 180
    assert conv.between(-2.0, 0.0).all() and conv.std() < 0.01
    assert cfg["azimuth_deg"].between(0, 360, inclusive="left").all()


# --------------------------------------------------------------------------- demand


def test_area_demand_is_seeded_and_shares_the_area_exactly() -> None:
    blind = frame([box(0, 0, 30, 20), box(40, 0, 40.5, 0.5)], key_area_id=[1, 2],
                  dori_level=["observe", "recognise"], area_class=["school", "government"])
    a = pdem.area_demand(blind, spacing_m=3.0, seed=7)
    b = pdem.area_demand(blind, spacing_m=3.0, seed=7)
    c = pdem.area_demand(blind, spacing_m=3.0, seed=8)
    assert a.geometry.equals(b.geometry) and not a.geometry.equals(c.geometry)
    per = a.groupby("source_id")["area_m2"].sum()
    assert per["1"] == pytest.approx(600.0) and per["2"] == pytest.approx(0.25)
    assert 60 <= (a["source_id"] == "1").sum() <= 75  # ~ 600 / 9 cells
    assert shapely.covers(blind.union_all(), a.geometry.to_numpy()).all()
    # weights: m2 x class x level
    one = a[a["source_id"] == "1"]
    assert np.allclose(one["weight"], one["area_m2"] * 2.0 * 1.5)


def test_road_demand_stands_for_the_unseen_length() -> None:
    roads = frame([line((0, 0), (100, 0))], road_id=[5])
    d = pdem.road_demand(roads, {5: [(10.0, 40.0), (90.0, 95.0)]}, spacing_m=10.0,
                         weight_per_m=2.0)  # fmt: skip
    assert d["length_m"].sum() == pytest.approx(35.0)
    xs = shapely.get_x(d.geometry.to_numpy()) - X0
    assert ((xs > 10) & (xs < 40) | (xs > 90) & (xs < 95)).all()
    assert np.allclose(d["weight"], 2.0 * d["length_m"])


# --------------------------------------------------------------------------- matrix and choice


def test_blind_corner_the_chosen_site_is_the_one_dense_sampling_prefers() -> None:
    # An L-shaped street around a block: the blind corner is a 20 x 20 m square behind it.
    buildings = frame([box(0, 0, 40, 40), box(60, 60, 100, 100)], height_m=[15.0, 15.0])
    blind = frame([box(40, 40, 60, 60)], key_area_id=[1], dori_level=["observe"])
    sites = frame([shapely.Point(X0 + 52, Y0 + 22),   # in the street south of the corner
                   shapely.Point(X0 + 15, Y0 + 50),   # farther down the street west of it
                   shapely.Point(X0 + 75, Y0 + 45)],  # east, in the side street's mouth
                  site_id=["south", "west", "east"], kind=["pole", "pole", "pole"],
                  mount_height_m=[6.0, 4.0, 8.0], facing_deg=[np.nan] * 3,
                  building_index=[-1] * 3, source_id=[None] * 3)  # fmt: skip
    cfg = ps.candidate_configs(sites, lenses=[LENS], azimuth_step_deg=45.0)
    demand = pdem.area_demand(blind, spacing_m=1.0, seed=3)
    mat = pdem.coverage_matrix(cfg, demand, buildings)
    inst = CoverageInstance.from_pairs(mat.config_index, mat.demand_index,
                                       demand["weight"].to_numpy(),
                                       candidate_ids=list(cfg["camera_id"]))  # fmt: skip
    best = max_coverage(inst, 1, method="ilp", time_limit_s=5.0)
    assert best.status == "optimal"
    # dense sampling with the independent line-of-sight model
    recs = records(cfg)
    xs, ys = np.meshgrid(np.arange(40.25, 60, 0.5) + X0, np.arange(40.25, 60, 0.5) + Y0)
    counts = [sum(seen(r, x, y, "observe", buildings) for x, y in zip(xs.ravel(), ys.ravel(),
                                                                      strict=True))
              for r in recs]  # fmt: skip
    order = np.argsort(counts)[::-1]
    assert counts[order[0]] > counts[order[1]]  # one clear winner
    assert best.selected[0] == recs[int(order[0])]["camera_id"]
    # and the engine's covered share agrees with dense sampling for that configuration
    share = best.covered_weight / inst.total_weight
    assert share == pytest.approx(max(counts) / xs.size, abs=0.03)


def test_a_building_blocks_one_of_two_symmetric_candidates() -> None:
    blind = frame([box(45, 45, 55, 55)], key_area_id=[1], dori_level=["observe"])
    wall = frame([box(49, 30, 51, 38)], height_m=[20.0])  # between "south" and the area
    sites = frame([shapely.Point(X0 + 50, Y0 + 25), shapely.Point(X0 + 75, Y0 + 50)],
                  site_id=["south", "east"], kind=["pole", "pole"], mount_height_m=[6.0, 6.0],
                  facing_deg=[np.nan] * 2, building_index=[-1] * 2, source_id=[None] * 2)
    cfg = ps.candidate_configs(sites, lenses=[LENS], azimuth_step_deg=90.0)
    demand = pdem.area_demand(blind, spacing_m=1.0, seed=1)
    free = pdem.coverage_matrix(cfg, demand, wall.iloc[:0])
    blocked = pdem.coverage_matrix(cfg, demand, wall)
    def best(m: pdem.CoverageMatrix) -> tuple[str, ...]:
        inst = CoverageInstance.from_pairs(m.config_index, m.demand_index,
                                           demand["weight"].to_numpy(),
                                           candidate_ids=list(cfg["camera_id"]))  # fmt: skip
        return max_coverage(inst, 1).selected
    south, east = "south/0/8mm", "east/270/8mm"
    counts = {c: int((cfg["camera_id"].to_numpy()[free.config_index] == c).sum())
              for c in (south, east)}  # fmt: skip
    assert counts[south] == counts[east] > 0.9 * len(demand)  # symmetric without the wall
    assert best(blocked) == (east,)
    n_south = int((cfg["camera_id"].to_numpy()[blocked.config_index] == south).sum())
    assert n_south < 0.5 * counts[south]


def test_matrix_entries_agree_with_straight_line_sight_on_a_random_subset() -> None:
    rng = np.random.default_rng(11)
    blocks = [box(x, y, x + rng.uniform(8, 20), y + rng.uniform(8, 20))
              for x in range(0, 150, 30) for y in range(0, 150, 30)]  # fmt: skip
    buildings = frame(blocks, height_m=list(rng.uniform(4, 25, len(blocks))))
    roads = frame([line((0, y), (150, y)) for y in (25, 55, 85, 115)]
                  + [line((x, 0), (x, 150)) for x in (25, 55, 85, 115)])  # fmt: skip
    sites = ps.candidate_sites(roads=roads, buildings=buildings, pole_spacing_m=40.0,
                               facade_spacing_m=40.0, roof_min_height_m=20.0)  # fmt: skip
    cfg = ps.candidate_configs(sites, lenses=[LENS], azimuth_step_deg=90.0)
    pts = shapely.points(rng.uniform(X0, X0 + 150, 600), rng.uniform(Y0, Y0 + 150, 600))
    pts = pts[~shapely.intersects(buildings.union_all(), pts)]
    demand = frame(list(pts), required_level=["observe"] * len(pts))
    mat = pdem.coverage_matrix(cfg, demand, buildings)
    pairs = set(zip(mat.config_index.tolist(), mat.demand_index.tolist(), strict=True))
    recs = records(cfg)
    # half the subset from the matrix's own pairs (positives), half from random pairs
    listed = list(pairs)
    pick = [listed[i] for i in rng.choice(len(listed), 150, replace=False)]
    pick += [(int(c), int(d)) for c, d in zip(rng.integers(0, len(cfg), 1500),
                                              rng.integers(0, len(demand), 1500), strict=True)]
    agree = checked = 0
    for c, d in pick:
        p = demand.geometry.iloc[d]
        if near_edge(recs[c], p.x, p.y, "observe", buildings):
            continue
        checked += 1
        agree += ((c, d) in pairs) == seen(recs[c], p.x, p.y, "observe", buildings)
    assert checked > 1200
    assert agree == checked


def test_cover_all_on_a_small_scene_is_exhaustively_optimal_and_reports_the_unseeable() -> None:
    import itertools

    from gis.placement_solver import set_cover

    # the blind corner of the L-shaped street, plus a blind patch 400 m away: out of every reach
    buildings = frame([box(0, 0, 40, 40), box(60, 60, 100, 100)], height_m=[15.0, 15.0])
    blind = frame([box(40, 40, 60, 60), box(400, 400, 410, 410)], key_area_id=[1, 2],
                  dori_level=["observe", "observe"])  # fmt: skip
    sites = frame([shapely.Point(X0 + 52, Y0 + 22), shapely.Point(X0 + 15, Y0 + 50),
                   shapely.Point(X0 + 75, Y0 + 45)],
                  site_id=["south", "west", "east"], kind=["pole", "pole", "pole"],
                  mount_height_m=[6.0, 4.0, 8.0], facing_deg=[np.nan] * 3,
                  building_index=[-1] * 3, source_id=[None] * 3)  # fmt: skip
    cfg = ps.candidate_configs(sites, lenses=[LENS], azimuth_step_deg=45.0)
    demand = pdem.area_demand(blind, spacing_m=2.5, seed=3)
    mat = pdem.coverage_matrix(cfg, demand, buildings)
    w = demand["weight"].to_numpy()
    inst = CoverageInstance.from_pairs(mat.config_index, mat.demand_index, w,
                                       candidate_ids=list(cfg["camera_id"]),
                                       demand_ids=list(demand["demand_id"]))  # fmt: skip
    greedy = set_cover(inst)
    exact = set_cover(inst, method="ilp", time_limit_s=10.0)
    # exhaustive search over the configurations (bit masks of the demand each one covers)
    masks = [0] * len(cfg)
    for c, d in zip(mat.config_index, mat.demand_index, strict=True):
        masks[int(c)] |= 1 << int(d)
    need = 0
    for m_ in masks:
        need |= m_
    need &= sum(1 << j for j in np.flatnonzero(w > 0).tolist())
    opt = next(k for k in range(len(cfg) + 1)
               if any(_or(masks, s) & need == need
                      for s in itertools.combinations(range(len(cfg)), k)))  # fmt: skip
    assert exact.status == "optimal" and len(exact.selected) == opt >= 2
    assert len(greedy.selected) >= opt and greedy.lp_bound <= opt
    # every far point is reported as uncoverable, and nothing else is left uncovered
    ids = demand["demand_id"].to_numpy(dtype=object)
    far = set(ids[demand.geometry.x.to_numpy() > X0 + 300].tolist())
    assert far and far <= set(exact.uncoverable)
    assert exact.uncovered_count == len(exact.uncoverable)
    # independently: no configuration sees an uncoverable point (straight-line 2.5D sight)
    recs = records(cfg)
    pts = demand.set_index("demand_id").geometry
    for did in exact.uncoverable:
        x, y = pts[did].x, pts[did].y
        assert not any(seen(r, x, y, "observe", buildings) and not near_edge(
            r, x, y, "observe", buildings) for r in recs)  # fmt: skip


def _or(masks: list[int], chosen: tuple[int, ...]) -> int:
    out = 0
    for i in chosen:
        out |= masks[i]
    return out
