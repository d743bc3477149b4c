"""Benchmark: road coverage on ≈ 8,000 km of streets, Sightline's segment × polygon intervals vs
intersecting every road with the global union.

Seeded synthetic city (20 x 20 km): a 100 m street grid with nodes jittered by up to 10 m,
one road per block edge (≈ 80k roads, ≈ 8,040 km), and the union of the 100k camera sectors of
``benchmarks/union.py`` as the covered area (computed once in setup, not timed). The naive
baseline (``shapely.intersection(road, union)`` per road) is run on a seeded 5 % subset of the
roads and extrapolated linearly to all roads; the table says so. Covered lengths of both ways
are compared on that subset.

    .venv/bin/python benchmarks/roads.py [--repeat 3] [--sample 0.05] [--workers 2] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from union import EXTENT_M, seeded_sectors  # benchmarks/union.py, next to this file

from gis.coverage import union_tiled
from gis.roads import road_coverage

TARGET_SECONDS = 2.5
CRS = "EPSG:32632"


def street_grid(
    extent_m: float = EXTENT_M, spacing_m: float = 100.0, seed: int = 1
) -> gpd.GeoDataFrame:
    """One two-point road per block edge of a jittered square grid, metric CRS."""
    rng = np.random.default_rng(seed)
    k = int(extent_m // spacing_m) + 1
    gx, gy = np.meshgrid(np.arange(k) * spacing_m, np.arange(k) * spacing_m, indexing="ij")
    nodes = np.stack([gx, gy], -1) + rng.uniform(-10, 10, (k, k, 2))
    east = np.stack([nodes[:-1, :], nodes[1:, :]], axis=2).reshape(-1, 2, 2)
    north = np.stack([nodes[:, :-1], nodes[:, 1:]], axis=2).reshape(-1, 2, 2)
    lines = shapely.linestrings(np.concatenate([east, north]))
    classes = np.array(["primary", "secondary", "tertiary", "residential"], dtype=object)
    return gpd.GeoDataFrame(
        {"road_id": np.arange(len(lines)), "road_class": classes[rng.integers(0, 4, len(lines))]},
        geometry=lines,
        crs=CRS,
    )


@dataclass
class Figure:
    label: str
    run: Callable[[], Any]
    scale: float = 1.0
    note: str = ""
    repeat: int | None = None
    seconds: list[float] = field(default_factory=list)
    result: Any = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds) * self.scale


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sample", type=float, default=0.05)
    ap.add_argument(
        "--baseline-repeat", type=int, default=1, help="runs of the naive baseline (~5 min each)"
    )
    ap.add_argument("--workers", type=int, default=2, help="for the setup union only")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    t = time.perf_counter()
    roads = street_grid(seed=args.seed)
    sectors = seeded_sectors(seed=args.seed)
    union = union_tiled(sectors, workers=args.workers)
    visible = gpd.GeoDataFrame(
        {"camera_id": np.arange(len(sectors)), "level": "detect"}, geometry=sectors, crs=CRS
    )
    km = roads.length.sum() / 1000
    rng = np.random.default_rng(args.seed)
    subset = np.sort(rng.choice(len(roads), int(round(args.sample * len(roads))), replace=False))
    lines = np.asarray(roads.geometry.array, dtype=object)
    print(
        f"setup: {len(roads)} roads, {km:,.0f} km; union of {len(sectors)} sectors "
        f"({shapely.get_num_coordinates(union)} vertices, {union.area / 1e6:.1f} km²), "
        f"{time.perf_counter() - t:.1f} s"
    )

    ours = Figure(
        "road_coverage(roads, {detect: union})",
        lambda: road_coverage(roads, {"detect": union}, levels=("detect",)),
    )
    per_polygon = Figure(
        "road_coverage(roads, visible sectors)",
        lambda: road_coverage(roads, visible, levels=("detect",)),
        note="the 100k sector polygons themselves, no union at all",
    )
    naive = Figure(
        "naive: intersection(road, union) (baseline)",
        lambda: shapely.length(shapely.intersection(lines[subset], union)),
        scale=len(roads) / len(subset),
        repeat=args.baseline_repeat,
        note=f"run on a seeded {100 * args.sample:g} % subset ({len(subset)} roads), "
        f"time extrapolated linearly ×{len(roads) / len(subset):.1f}",
    )
    figures = [ours, per_polygon, naive]
    for i in range(args.repeat):
        for f in figures:
            if f.repeat is not None and i >= f.repeat:
                continue
            t = time.perf_counter()
            f.result = f.run()
            f.seconds.append(time.perf_counter() - t)
            print(f"run {i + 1}/{args.repeat}: {f.label} {f.seconds[-1]:.2f} s", flush=True)

    want = naive.result
    print()
    print(
        f"Road coverage, {len(roads)} roads / {km:,.0f} km, union of {len(sectors)} sectors "
        f"(seed {args.seed}); {os.cpu_count()} cores, shapely {shapely.__version__}, GEOS "
        f"{'.'.join(map(str, shapely.geos_version))}"
    )
    head = (
        f"{'measure':<46} {'median s':>9} {'min-max s':>13} {'vs baseline':>11} "
        f"{'covered km':>10} {'max |Δ| m':>10}"
    )
    print(head)
    print("-" * len(head))
    for f in figures:
        if f is naive:
            covered_km = float("nan")
            diff = 0.0
        else:
            covered = f.result["covered_m"].to_numpy()
            covered_km = covered.sum() / 1000
            diff = float(np.abs(covered[subset] - want).max())
        lo, hi = min(f.seconds) * f.scale, max(f.seconds) * f.scale
        print(
            f"{f.label:<46} {f.median_s:>9.2f} {f'{lo:.2f}-{hi:.2f}':>13} "
            f"{naive.median_s / f.median_s:>10.1f}x {covered_km:>10.1f} {diff:>10.1e}"
        )
        if f.note:
            print(f"  ({f.note})")
    print("-" * len(head))
    print(
        f"vs baseline = baseline median / this median (higher is faster); {args.repeat} run(s) "
        f"each ({args.baseline_repeat} of the baseline), interleaved;\nmax |Δ| = largest "
        "difference in covered metres of a road vs the "
        "baseline on its subset"
    )
    verdict = "met" if ours.median_s <= TARGET_SECONDS else "not met"
    print(f"target: road_coverage ≤ {TARGET_SECONDS} s → {verdict} ({ours.median_s:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
