"""Benchmark: exact 2.5D occlusion of 100k camera sectors among 200k buildings.

Builds a seeded synthetic 20 x 20 km city (rotated rectangular buildings of random size and
height, cameras at random street points moved off any facade they land on, 70 degree sectors
of 50 m range), then times ``gis.occlusion.visible_polygons`` with 1 and 2 workers against a
naive baseline measured in the same run: a Python loop over cameras that queries the spatial
index and casts each building's shadow with scalar shapely calls (same maths, no
vectorisation), run on a slice and extrapolated. Prints medians and ratios.

    .venv/bin/python benchmarks/occlusion.py [--cameras 100000] [--buildings 200000]
        [--repeat 3] [--seed 1] [--baseline-cameras 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gis.occlusion import place_facade_cameras, visible_polygons

CRS = 32650  # UTM 50N (metres); the geometry is synthetic
CITY_M = 20_000.0
RANGE_M = 50.0
HFOV_DEG = 70.0
ARC_POINTS = 17
TARGET_SECONDS = 5.0


def synthetic_city(
    n_buildings: int, n_cameras: int, seed: int
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Seeded buildings, cameras (facade-placed) and their sectors in a metric CRS."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0, CITY_M, (n_buildings, 2))
    half = rng.uniform(4, 20, (n_buildings, 2)) / 2
    angle = rng.uniform(0, np.pi, n_buildings)
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=float)
    local = corners[None, :, :] * half[:, None, :]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    ring = np.stack([local[..., 0] * cos - local[..., 1] * sin,
                     local[..., 0] * sin + local[..., 1] * cos], axis=-1) + centre[:, None, :]
    buildings = gpd.GeoDataFrame(
        {"height_m": np.round(rng.gamma(2.0, 6.0, n_buildings) + 3.0, 1)},
        geometry=shapely.polygons(ring), crs=CRS)
    cams = gpd.GeoDataFrame(
        {"camera_id": np.arange(n_cameras),
         "mount_height_m": np.round(rng.uniform(3.0, 12.0, n_cameras), 1),
         "azimuth_deg": rng.uniform(0, 360, n_cameras)},
        geometry=shapely.points(rng.uniform(0, CITY_M, (n_cameras, 2))), crs=CRS)
    cams, _ = place_facade_cameras(cams, buildings)
    xy = shapely.get_coordinates(cams.geometry.values)
    az = np.radians(cams["azimuth_deg"].to_numpy()[:, None]
                    + np.linspace(-HFOV_DEG / 2, HFOV_DEG / 2, ARC_POINTS)[None, :])
    arc = xy[:, None, :] + RANGE_M * np.stack([np.sin(az), np.cos(az)], axis=-1)
    rings = np.concatenate([xy[:, None, :], arc], axis=1)
    sectors = gpd.GeoDataFrame({"camera_id": cams["camera_id"].to_numpy(), "level": "detect"},
                               geometry=shapely.polygons(rings), crs=CRS)
    return sectors, cams, buildings


def naive_loop(sectors: gpd.GeoDataFrame, cameras: gpd.GeoDataFrame,
               buildings: gpd.GeoDataFrame) -> list[Any]:
    """Per camera: query the index, cast each building's shadow with scalar shapely, subtract.

    Shadows as in DOMAIN section 3 (convex rectangles: hull of the footprint and its roof
    projected; at least as tall as the camera: projected out to beyond the range).
    """
    tree = shapely.STRtree(buildings.geometry.values)
    geoms = buildings.geometry.values
    heights = buildings["height_m"].to_numpy()
    mount = dict(zip(cameras["camera_id"], cameras["mount_height_m"], strict=True))
    where = dict(zip(cameras["camera_id"], cameras.geometry, strict=True))
    out = []
    for cam_id, sec in zip(sectors["camera_id"], sectors.geometry, strict=True):
        c = where[cam_id]
        h_cam = mount[cam_id]
        cx, cy = c.x, c.y
        view = shapely.convex_hull(shapely.union(sec, c))
        shadows = []
        for j in tree.query(view, predicate="intersects"):
            fp = geoms[j]
            pts = list(fp.exterior.coords)[:-1]
            if heights[j] < h_cam:
                k = h_cam / (h_cam - heights[j])
                far = [(cx + (x - cx) * k, cy + (y - cy) * k) for x, y in pts]
                shadows.append(shapely.MultiPoint(pts + far).convex_hull)
            else:
                ang = [np.arctan2(y - cy, x - cx) for x, y in pts]
                ref = np.arctan2(fp.centroid.y - cy, fp.centroid.x - cx)
                rel = [(a - ref + np.pi) % (2 * np.pi) - np.pi for a in ang]
                d = 1.2 * RANGE_M + 1 + max(np.hypot(x - cx, y - cy) for x, y in pts)
                arc = [(cx + d * np.cos(ref + a), cy + d * np.sin(ref + a))
                       for a in np.linspace(min(rel), max(rel), 6)]
                shadows.append(shapely.MultiPoint(pts + arc).convex_hull)
        out.append(sec.difference(shapely.union_all(shadows)) if shadows else sec)
    return out


def _cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def median_s(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median wall seconds, median CPU seconds (this process and its children), last result."""
    wall, cpu, result = [], [], None
    for _ in range(repeat):
        c0, t0 = _cpu_s(), time.perf_counter()
        result = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(_cpu_s() - c0)
    return statistics.median(wall), statistics.median(cpu), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=100_000)
    parser.add_argument("--buildings", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline-cameras", type=int, default=2000)
    args = parser.parse_args()

    t0 = time.perf_counter()
    sectors, cameras, buildings = synthetic_city(args.buildings, args.cameras, args.seed)
    print(f"synthetic city: {len(buildings):,} buildings, {len(cameras):,} cameras "
          f"({time.perf_counter() - t0:.1f} s to build); {platform.python_version()}, "
          f"shapely {shapely.__version__}, GEOS {shapely.geos_version_string}, "
          f"{os.cpu_count()} CPUs")

    rows: list[tuple[str, float, float]] = []
    n_base = min(args.baseline_cameras, len(sectors))
    s_base, c_base, base = median_s(
        lambda: naive_loop(sectors.iloc[:n_base], cameras, buildings), 1)
    scale = len(sectors) / n_base
    base_full = s_base * scale
    rows.append((f"naive per-camera loop ({n_base:,} cameras, extrapolated)", base_full,
                 c_base * scale))
    results = {}
    for workers in (1, 2):
        s, c, res = median_s(lambda w=workers: visible_polygons(sectors, cameras, buildings,
                                                                workers=w), args.repeat)
        results[workers] = res
        rows.append((f"visible_polygons, workers={workers}", s, c))

    exact = results[1].geometry.values  # type: ignore[attr-defined]
    same = bool((shapely.to_wkb(exact) == shapely.to_wkb(
        results[2].geometry.values)).all())  # type: ignore[attr-defined]
    area_exact = shapely.area(exact[:n_base])
    area_base = shapely.area(np.asarray(base, dtype=object))
    rel = np.abs(area_exact - area_base) / np.maximum(shapely.area(sectors.geometry.values[
        :n_base]), 1e-9)

    print()
    print(f"{'method':58s} {'wall s':>8s} {'CPU s':>8s} {'vs baseline':>12s}")
    for label, s, c in rows:
        print(f"{label:58s} {s:8.2f} {c:8.2f} {base_full / s:11.1f}x")
    visible = shapely.area(exact).sum() / shapely.area(sectors.geometry.values).sum()
    print()
    print(f"median of {args.repeat} runs; target <= {TARGET_SECONDS:.0f} s on 2 cores; "
          f"load average at the end {os.getloadavg()[0]:.1f} (other work slows every row)")
    print(f"workers 1 and 2 identical: {same}; visible share of sector area: {visible:.1%}")
    print(f"baseline slice: max |area difference| / sector area = {rel.max():.2e}")


if __name__ == "__main__":
    main()
