"""Benchmark: which cameras see each of 100k points, over 100k cameras' visible areas.

    .venv/bin/python benchmarks/which_batch.py [--cameras 100000] [--points 100000] [--repeat 3]

Measures gis.lookup.cameras_at_points (in memory, STRtree) against the bare STRtree query it is
built on (the floor) and a plain per-point shapely loop on a 1 % slice (extrapolated), all in
the same run. Sectors come from benchmarks/union.py's seeded street-grid generator.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from union import EXTENT_M, seeded_sectors  # noqa: E402 - the sibling benchmark's generator

from gis.lookup import cameras_at_points  # noqa: E402

CRS = "EPSG:32632"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cameras", type=int, default=100_000)
    p.add_argument("--points", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    sectors = seeded_sectors(args.cameras)
    ids = np.array([f"c{i}" for i in range(args.cameras)], dtype=object)
    visible = gpd.GeoDataFrame({"camera_id": ids, "level": "detect"}, geometry=sectors, crs=CRS)
    cams = gpd.GeoDataFrame({"camera_id": ids},
                            geometry=shapely.centroid(sectors), crs=CRS)  # fmt: skip
    rng = np.random.default_rng(2)
    pts = shapely.points(
        rng.uniform(0, EXTENT_M, args.points), rng.uniform(0, EXTENT_M, args.points)
    )
    ours, floor = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        res = cameras_at_points(visible, cams, pts)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        shapely.STRtree(sectors).query(pts, predicate="intersects")
        floor.append(time.perf_counter() - t)
    sl = max(1, args.points // 100)
    t = time.perf_counter()
    prepared = sectors.copy()
    shapely.prepare(prepared)
    for q in pts[:sl]:
        np.flatnonzero(shapely.intersects(prepared, q))
    naive = (time.perf_counter() - t) * (args.points / sl)
    m_ours, m_floor = statistics.median(ours), statistics.median(floor)
    print(f"{args.cameras:,} visible polygons, {args.points:,} points, {len(res):,} hits")
    print(f"{'measure':<52}{'median s':>10}{'vs naive':>10}")
    print("-" * 72)
    print(f"{'gis.lookup.cameras_at_points':<52}{m_ours:>10.3f}{naive / m_ours:>9.0f}x")
    print(
        f"{'  floor: bare STRtree.query(intersects)':<52}{m_floor:>10.3f}{naive / m_floor:>9.0f}x"
    )
    print(f"{'naive: per-point intersects loop (1 % slice, extrapolated)':<52}{naive:>10.3f}"
          f"{1:>9.0f}x")  # fmt: skip
    print("-" * 72)
    print(f"median of {args.repeat}; target (issue 5): batch of 100k points < 0.3 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
