"""Benchmark: union of 100k camera sectors, Sightline's tiled union vs shapely.union_all.

Seeded synthetic city (20 x 20 km, metric coordinates): cameras stand along a 100 m street
grid (up to 8 m off the street centre line), each with an annular sector of random azimuth,
HFOV 40-100 deg, near edge 1-6 m, far edge 20-80 m (24 arc vertices). Every way is timed
``--repeat`` times; the table gives medians and the ratio to the baseline measured in the same
run, and checks that every result has the area of the baseline union.

    .venv/bin/python benchmarks/union.py [--n 100000] [--repeat 3] [--workers 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from gis.coverage import union_tiled

TARGET_SECONDS = 4.0
EXTENT_M = 20_000.0


def seeded_sectors(
    n: int = 100_000,
    extent_m: float = EXTENT_M,
    seed: int = 1,
    street_spacing_m: float = 100.0,
    arc_vertices: int = 24,
) -> np.ndarray:
    """``n`` annular camera sectors (Polygons) along a street grid, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    lines = int(extent_m // street_spacing_m) + 1
    along = rng.uniform(0, extent_m, n)
    across = rng.integers(0, lines, n) * street_spacing_m + rng.uniform(-8, 8, n)
    vertical = rng.random(n) < 0.5
    x = np.where(vertical, across, along)
    y = np.where(vertical, along, across)
    azimuth = np.radians(rng.uniform(0, 360, n))  # clockwise from grid north
    half = np.radians(rng.uniform(40, 100, n)) / 2
    far, near = rng.uniform(20, 80, n), rng.uniform(1, 6, n)
    t = np.linspace(-1, 1, arc_vertices)[None, :] * half[:, None] + azimuth[:, None]
    outer = np.stack(
        [x[:, None] + far[:, None] * np.sin(t), y[:, None] + far[:, None] * np.cos(t)], -1
    )
    ti = np.array([1.0, 0.0, -1.0])[None, :] * half[:, None] + azimuth[:, None]
    inner = np.stack(
        [x[:, None] + near[:, None] * np.sin(ti), y[:, None] + near[:, None] * np.cos(ti)], -1
    )
    return np.asarray(shapely.polygons(np.concatenate([outer, inner], axis=1)), dtype=object)


@dataclass
class Figure:
    label: str
    run: Callable[[], Any]
    seconds: list[float] = field(default_factory=list)
    result: Any = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tile-m", type=float, default=2000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--extent-m", type=float, default=EXTENT_M, help="city side; 8000 gives one dense mesh"
    )
    args = ap.parse_args(argv)

    t = time.perf_counter()
    geoms = seeded_sectors(args.n, extent_m=args.extent_m, seed=args.seed)
    print(
        f"setup: {args.n} sectors over {args.extent_m / 1000:g} x {args.extent_m / 1000:g} km, "
        f"{shapely.get_num_coordinates(geoms).sum()} vertices, "
        f"{time.perf_counter() - t:.1f} s"
    )
    baseline = Figure("shapely.union_all (baseline)", lambda: shapely.union_all(geoms))
    figures = [
        Figure(
            f"union_tiled(workers={args.workers}, tile_m={args.tile_m:.0f})",
            lambda: union_tiled(geoms, tile_m=args.tile_m, workers=args.workers),
        ),
        Figure(
            f"union_tiled(workers=1, tile_m={args.tile_m:.0f})",
            lambda: union_tiled(geoms, tile_m=args.tile_m, workers=1),
        ),
        Figure(
            "shapely.disjoint_subset_union_all", lambda: shapely.disjoint_subset_union_all(geoms)
        ),
        baseline,
    ]
    for i in range(args.repeat):
        for f in figures:
            t = time.perf_counter()
            f.result = f.run()
            f.seconds.append(time.perf_counter() - t)
            print(f"run {i + 1}/{args.repeat}: {f.label} {f.seconds[-1]:.2f} s", flush=True)

    ref = baseline.result
    print()
    print(
        f"Union of {args.n} camera sectors over {args.extent_m / 1000:g} km square "
        f"(seed {args.seed}); {platform.processor() or 'cpu'}"
        f", {os.cpu_count()} cores, shapely {shapely.__version__}, "
        f"GEOS {'.'.join(map(str, shapely.geos_version))}"
    )
    head = (
        f"{'measure':<42} {'median s':>9} {'min-max s':>13} {'vs baseline':>11} "
        f"{'area km²':>10} {'|A△B|/A':>9}"
    )
    print(head)
    print("-" * len(head))
    for f in figures:
        diff = shapely.symmetric_difference(f.result, ref).area / ref.area
        lo, hi = min(f.seconds), max(f.seconds)
        print(
            f"{f.label:<42} {f.median_s:>9.2f} {f'{lo:.2f}-{hi:.2f}':>13} "
            f"{baseline.median_s / f.median_s:>10.1f}x {f.result.area / 1e6:>10.3f} "
            f"{diff:>9.1e}"
        )
    print("-" * len(head))
    print(
        f"vs baseline = baseline median / this median (higher is faster); {args.repeat} run(s) "
        "each, interleaved; |A△B|/A = symmetric-difference area / baseline area"
    )
    tiled = figures[0]
    verdict = "met" if tiled.median_s <= TARGET_SECONDS else "not met"
    print(
        f"target: union_tiled(workers=2) ≤ {TARGET_SECONDS:.0f} s → {verdict} "
        f"({tiled.median_s:.2f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
