"""Placement on the demo city, the geometric part: sites, configurations, demand, matrix, solve.

    .venv/bin/python benchmarks/placement_city.py [--repeat 3] [--cameras 10] [--workers 2]
        [--baseline-configs 400] [--ilp-limit 30]

Sets up a throw-away PostGIS cluster with the demo city and one coverage run (untimed), then
runs `analysis.placement_run.propose` (CLI defaults: 4 m demand cells, poles and facades every
30 m, 45-degree azimuths, three lenses) ``--repeat`` times without storing and prints the median
and min-max of each step: demand, sites, configurations, the coverage matrix split into DORI
sectors, 2.5D occlusion and the STRtree query, and the greedy + swap solve. Same-run baseline
for the matrix's last step: the naive way, one point-in-polygon test of every demand point
against each configuration's visible polygons (shapely, vectorised over points, a Python loop
over configurations), timed on a seeded subset of ``--baseline-configs`` configurations and
extrapolated to all of them; its pairs are checked equal to the STRtree's on that subset. Last,
the exact path once on the same instance (HiGHS, ``--ilp-limit`` s): status, gap to the LP
relaxation and to the proven bound, runtime.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from import_csv import start_store  # noqa: E402 - a sibling benchmark's setup

import gis.placement_demand as pdem  # noqa: E402
from analysis import placement_run as pr  # noqa: E402
from analysis.coverage_run import run_coverage  # noqa: E402
from gis.placement_instance import CoverageInstance  # noqa: E402
from gis.placement_solver import max_coverage  # noqa: E402
from store.cluster import LocalCluster  # noqa: E402

_RANK = {"detect": 0, "observe": 1, "recognise": 2, "identify": 3}


def naive_pairs(mat: Any, configs: Any, demand: Any, subset: np.ndarray) -> set[tuple[int, int]]:
    """Every demand point against each subset configuration's visible polygons, no index."""
    pts = demand.geometry.to_numpy()
    need = demand["required_level"].map(_RANK).to_numpy()
    vis = mat.visible
    by_cfg = vis.groupby("camera_id").indices
    ids = configs["camera_id"].to_numpy()
    out: set[tuple[int, int]] = set()
    for c in subset.tolist():
        rows = by_cfg.get(ids[c])
        if rows is None:
            continue
        hit = np.zeros(len(pts), dtype=bool)
        for r in rows:
            poly, rank = vis.geometry.iloc[r], _RANK[vis["level"].iloc[r]]
            hit |= shapely.intersects(poly, pts) & (rank >= need)
        out.update((c, int(j)) for j in np.flatnonzero(hit))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cameras", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--baseline-configs", type=int, default=400)
    ap.add_argument("--ilp-limit", type=float, default=30.0)
    args = ap.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="sightline-bench-", dir="/tmp"))
    workdir.chmod(0o755)
    cluster = LocalCluster(workdir / "pg")
    captured: dict[str, Any] = {}
    real_matrix = pdem.coverage_matrix

    def capture(configs: Any, demand: Any, buildings: Any, **kw: Any) -> Any:
        mat = real_matrix(configs, demand, buildings, **kw)
        captured.update(mat=mat, configs=configs, demand=demand)
        return mat

    pdem.coverage_matrix = capture  # keep the last run's matrix inputs for the baseline
    try:
        engine = start_store(cluster)
        t = time.perf_counter()
        run_coverage(engine, workers=args.workers)
        print(f"setup: demo city + coverage run {time.perf_counter() - t:.1f} s", flush=True)
        steps = ["demand", "sites", "configs", "matrix_sectors", "matrix_occlusion",
                 "matrix_query", "coverage_matrix", "solve", "compute"]  # fmt: skip
        times: dict[str, list[float]] = {s: [] for s in steps}
        rep = None
        for i in range(args.repeat):
            rep = pr.propose(engine, cameras=args.cameras, workers=args.workers, save=False)
            for s in steps:
                times[s].append(float(rep.timings_s.get(s, float("nan"))))
            print(f"run {i + 1}: {rep.timings_s}", flush=True)
        assert rep is not None
        mat, configs, demand = captured["mat"], captured["configs"], captured["demand"]
        n_cfg = len(configs)
        rng = np.random.default_rng(1)
        subset = np.sort(rng.choice(n_cfg, size=min(args.baseline_configs, n_cfg),
                                    replace=False))  # fmt: skip
        t = time.perf_counter()
        naive = naive_pairs(mat, configs, demand, subset)
        naive_s = time.perf_counter() - t
        naive_all = naive_s * n_cfg / subset.size
        in_sub = np.isin(mat.config_index, subset)
        engine_pairs = set(zip(mat.config_index[in_sub].tolist(),
                               mat.demand_index[in_sub].tolist(), strict=True))  # fmt: skip
        same = "equal" if engine_pairs == naive else f"DIFFER ({len(engine_pairs ^ naive)})"
        inst = CoverageInstance.from_pairs(mat.config_index, mat.demand_index,
                                           demand["weight"].to_numpy(dtype=float),
                                           n_candidates=n_cfg)  # fmt: skip
        ilp = max_coverage(inst, args.cameras, method="ilp", time_limit_s=args.ilp_limit)
        greedy = max_coverage(inst, args.cameras)
        s = rep.sizes
        print(f"\ndemo city: {s['sites']:,} sites, {s['configs']:,} configurations, "
              f"{s['demand_points']:,} demand points, {s['nonzeros']:,} non-zeros; "
              f"p = {args.cameras}, {args.repeat} run(s), workers {args.workers}")  # fmt: skip
        print(f"\n{'step':<40} {'median s':>9} {'min-max s':>19} {'ratio':>9}")
        base = naive_all
        for name in steps:
            v = times[name]
            ratio = f"{statistics.median(v) / base:.4f}" if name == "matrix_query" else ""
            print(f"{name:<40} {statistics.median(v):9.3f} {min(v):9.3f}-{max(v):9.3f} {ratio:>9}")
        print(f"{'baseline: naive point-in-polygon loop':<40} {naive_all:9.3f} "
              f"{'(' + str(subset.size) + ' configs: ' + f'{naive_s:.2f} s, x' + str(round(n_cfg / subset.size)) + ')':>19} "  # noqa: E501
              f"{1.0:9.4f}")  # fmt: skip
        print(f"  naive pairs vs STRtree pairs on the subset: {same}")
        lp = ilp.details.get("lp_relaxation")
        gap_lp = (lp - ilp.covered_weight) / ilp.covered_weight if lp else float("nan")
        print(f"\ngreedy + swap: weight {greedy.covered_weight:,.0f}, {greedy.bound_source} "
              f"bound gap {100 * greedy.gap:.2f} %, {greedy.runtime_s:.2f} s")
        print(f"ILP {args.ilp_limit:g} s: {ilp.status}, weight {ilp.covered_weight:,.0f}, "
              f"LP relaxation {lp or float('nan'):,.0f} (gap {100 * gap_lp:.2f} %), proven bound "
              f"{ilp.lp_bound:,.0f} ({ilp.bound_source}, gap {100 * ilp.gap:.2f} %), "
              f"{ilp.runtime_s:.1f} s, overrun {ilp.details.get('time_limit_overrun_s')} s; "
              f"columns {ilp.details.get('free_candidates'):,} -> "
              f"{ilp.details.get('model_columns_after_fixing', '?')} after pruning "
              f"({ilp.details.get('pruned_empty'):,} empty, "
              f"{ilp.details.get('pruned_dominated'):,} dominated) and reduced-cost fixing "
              f"({ilp.details.get('fixed_by_reduced_cost', 0):,})")  # fmt: skip
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load "
              f"{os.getloadavg()[0]:.2f}; Python {platform.python_version()}")  # fmt: skip
    finally:
        pdem.coverage_matrix = real_matrix
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
