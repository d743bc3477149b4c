"""Benchmark: a whole coverage run, PostGIS -> compute -> PostGIS, on a 100k-camera city.

Starts a throw-away PostGIS cluster, loads a seeded synthetic 20 x 20 km city placed in UTM
zone 32N around lon 7.4, lat 43.7 (buildings and cameras of ``benchmarks/occlusion.py``, the
jittered 100 m street grid of ``benchmarks/roads.py``, one city split into four districts, a
few key areas, entry-road checkpoints and past alarms) with COPY, then times
``run_coverage(engine, workers=2)`` ``--repeat`` times on an empty results store and prints
the median of every phase, its share of the run and its ratio to the run's own I/O floor
(the ``read`` + ``write`` phases of the same runs: reading the inputs from PostGIS and writing
the results back, which no faster computation can remove).

    .venv/bin/python benchmarks/coverage_city100k.py [--cameras 100000] [--buildings 200000]
        [--repeat 1] [--seed 1] [--workers 2] [--requests 500] [--batch 100000]

After the run it measures which-cameras through the HTTP API on the stored results
(``benchmarks/which_http.py``: one point per GET, p95 target < 5 ms; a 100k-point batch).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import sqlalchemy
from pyproj import Transformer
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import which_http  # noqa: E402
from import_csv import machine_info  # noqa: E402 - sibling benchmarks
from occlusion import CITY_M, synthetic_city  # noqa: E402
from roads import street_grid  # noqa: E402

from analysis.coverage_run import run_coverage  # noqa: E402
from gis.gb28181 import make_device_id  # noqa: E402
from store import migrate  # noqa: E402
from store.cluster import LocalCluster  # noqa: E402
from store.engine import ensure_database  # noqa: E402

TARGET_SECONDS = 15.0
TARGET_CAMERAS = 100_000
METRIC_CRS = "EPSG:32632"
CENTRE_LONLAT = (7.4, 43.7)
CENTRE_CODE = "99010101"  # 6-digit division 990101 + grassroots unit 01
CITY_CODE = "990100"
PHASES = ("read", "facades", "sectors", "occlusion", "union", "blind_spots", "assessment",
          "roads", "effectiveness", "write")  # fmt: skip
FOCALS_MM = np.array([2.8, 4.0, 6.0, 8.0, 12.0])
SENSOR_MM = (5.6, 3.15)  # 1/2.8", 16:9


# -- the synthetic city ------------------------------------------------------------------------
def _to_wgs84(geoms: np.ndarray, offset: tuple[float, float]) -> np.ndarray:
    """Local metres (0..CITY_M) -> EPSG:32632 (shifted by ``offset``) -> EPSG:4326."""
    tr = Transformer.from_crs(METRIC_CRS, 4326, always_xy=True)

    def fn(xy: np.ndarray) -> np.ndarray:
        lon, lat = tr.transform(xy[:, 0] + offset[0], xy[:, 1] + offset[1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), fn)


def _multi(polys: np.ndarray) -> np.ndarray:
    """One MultiPolygon per Polygon."""
    polys = np.asarray(polys, dtype=object)
    return np.asarray(shapely.multipolygons(polys, indices=np.arange(len(polys))), dtype=object)


def _box(x0: float, y0: float, x1: float, y1: float) -> Any:
    return shapely.box(x0, y0, x1, y1)


def build_city(n_cameras: int, n_buildings: int, seed: int) -> dict[str, Any]:
    """Rows of every input table (ids given here), geometries in EPSG:4326."""
    tr = Transformer.from_crs(4326, METRIC_CRS, always_xy=True)
    cx, cy = tr.transform(*CENTRE_LONLAT)
    offset = (round(cx - CITY_M / 2), round(cy - CITY_M / 2))
    rng = np.random.default_rng(seed + 1000)

    _, cams, buildings = synthetic_city(n_buildings, n_cameras, seed)
    roads = street_grid(CITY_M, 100.0, seed)

    # Jurisdictions: the city square and four district quadrants (local metres).
    half = CITY_M / 2
    city = _box(0, 0, CITY_M, CITY_M)
    quads = [_box(0, 0, half, half), _box(half, 0, CITY_M, half),
             _box(0, half, half, CITY_M), _box(half, half, CITY_M, CITY_M)]  # fmt: skip
    jur_geoms = _multi(_to_wgs84(np.array([city, *quads], dtype=object), offset))
    jur = [(1, CITY_CODE, "Synthetic City", "city", None, jur_geoms[0])]
    for k in range(4):
        jur.append((2 + k, f"99010{k + 1}", f"District {k + 1}", "district", 1, jur_geoms[1 + k]))

    def district_id(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 2 + (x >= half).astype(int) + 2 * (y >= half).astype(int)

    # Key areas: a handful of squares of 0.4-1.5 km.
    classes = ("school", "hospital", "transport_hub", "commercial", "residential_compound")
    doris = ("detect", "observe", "recognise", "identify")
    n_ka = 8
    side = rng.uniform(400, 1500, n_ka)
    kx, ky = rng.uniform(0, CITY_M - side), rng.uniform(0, CITY_M - side)
    ka_geoms = _multi(_to_wgs84(shapely.box(kx, ky, kx + side, ky + side), offset))
    kdist = district_id(kx + side / 2, ky + side / 2)
    key_areas = [(i + 1, f"Key area {i + 1}", classes[i % len(classes)], doris[i % 4],
                  int(kdist[i]), ka_geoms[i]) for i in range(n_ka)]  # fmt: skip

    # Buildings.
    b_geoms = _multi(_to_wgs84(buildings.geometry.to_numpy(), offset))
    b_rows = zip(range(1, len(b_geoms) + 1), buildings["height_m"].to_numpy(), b_geoms,
                 strict=True)  # fmt: skip

    # Cameras: positions from occlusion.py (already off facades), optics drawn here.
    n = len(cams)
    xy = shapely.get_coordinates(cams.geometry.to_numpy())
    c_geoms = _to_wgs84(shapely.points(xy), offset)
    focal = FOCALS_MM[rng.integers(0, len(FOCALS_MM), n)]
    hfov = np.degrees(2 * np.arctan(SENSOR_MM[0] / (2 * focal))).round(2)
    res_4mp = rng.random(n) < 0.3
    res_w = np.where(res_4mp, 2560, 1920)
    res_h = np.where(res_4mp, 1440, 1080)
    tilt = rng.uniform(5, 35, n).round(1)
    azimuth = cams["azimuth_deg"].to_numpy().round(2) % 360.0
    cdist = district_id(xy[:, 0], xy[:, 1])
    units = max(1, -(-n // 999_999))
    codes = [CENTRE_CODE[:6] + f"{u + 1:02d}" for u in range(units)]
    mount = cams["mount_height_m"].to_numpy(dtype=float).tolist()
    cam_rows = (
        (i + 1, make_device_id(codes[i // 999_999], "00", "132", 0, i % 999_999 + 1),
         f"Camera {i + 1}", mount[i], az, ti, SENSOR_MM[0], SENSOR_MM[1], fo, hf, rw, rh,
         "fixed", "online", di, c_geoms[i])
        for i, az, ti, fo, hf, rw, rh, di in zip(
            range(n), azimuth.tolist(), tilt.tolist(), focal.tolist(), hfov.tolist(),
            res_w.tolist(), res_h.tolist(), cdist.tolist(), strict=True)
    )  # fmt: skip

    # Roads: one per block edge; all 'residential' two-way streets.
    r_lines = roads.geometry.to_numpy()
    r_geoms = _to_wgs84(r_lines, offset)
    road_rows = ((i + 1, f"Street {i + 1}", "residential", False, 2, r_geoms[i])
                 for i in range(len(r_geoms)))  # fmt: skip

    # Checkpoints: on a seeded sample of the roads that cross the city boundary.
    crossing = np.flatnonzero(shapely.crosses(r_lines, city.boundary))
    picked = np.sort(rng.choice(crossing, size=min(40, len(crossing)), replace=False))
    mids = shapely.line_interpolate_point(r_lines[picked], 0.5, normalized=True)
    cp_geoms = _to_wgs84(mids, offset)
    cp_xy = shapely.get_coordinates(mids)
    cp_dist = district_id(np.clip(cp_xy[:, 0], 0, CITY_M - 1), np.clip(cp_xy[:, 1], 0, CITY_M - 1))
    checkpoints = [(k + 1, make_device_id("99010199", "00", "132", 0, k + 1),
                    f"Checkpoint {k + 1}", int(r) + 1,
                    json.dumps(["in", "out"] if k % 3 else ["in"]), 2, True, "online",
                    int(cp_dist[k]), cp_geoms[k]) for k, r in enumerate(picked)]  # fmt: skip

    # Alarms over the last year.
    n_al = 5000
    al_xy = rng.uniform(0, CITY_M, (n_al, 2))
    al_geoms = _to_wgs84(shapely.points(al_xy), offset)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    when = [now - dt.timedelta(seconds=float(s)) for s in rng.uniform(0, 365 * 86400, n_al)]
    kinds = np.array(["theft", "assault", "traffic", "fraud", "noise"], dtype=object)
    al_kind = kinds[rng.integers(0, len(kinds), n_al)]
    al_dist = district_id(al_xy[:, 0], al_xy[:, 1])
    alarms = ((i + 1, when[i], al_kind[i], 3, "closed", int(al_dist[i]), al_geoms[i])
              for i in range(n_al))  # fmt: skip

    return {
        "jurisdictions": (("id", "code", "name", "level", "parent_id", "geom"), jur),
        "key_areas": (("id", "name", "area_class", "required_dori", "jurisdiction_id", "geom"),
                      key_areas),
        "buildings": (("id", "height_m", "height_source", "geom"),
                      ((i, float(h), "synthetic", g) for i, h, g in b_rows)),
        "cameras": (("id", "device_id", "name", "mount_height_m", "azimuth_deg", "tilt_deg",
                     "sensor_width_mm", "sensor_height_mm", "focal_length_mm", "hfov_deg",
                     "resolution_w_px", "resolution_h_px", "camera_type", "status",
                     "jurisdiction_id", "geom"), cam_rows),
        "roads": (("id", "name", "road_class", "oneway", "lanes", "geom"), road_rows),
        "checkpoints": (("id", "device_id", "name", "road_id", "directions", "lanes",
                         "is_entry", "status", "jurisdiction_id", "geom"), checkpoints),
        "alarms": (("id", "occurred_at", "kind", "priority", "status", "jurisdiction_id",
                    "geom"), alarms),
    }  # fmt: skip


# -- loading -----------------------------------------------------------------------------------
def copy_table(raw: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` into ``table``; the last column is a shapely geometry (EPSG:4326)."""
    n = 0
    with raw.cursor() as cur:
        with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row((*row[:-1], "SRID=4326;" + shapely.to_wkb(row[-1], hex=True)))
                n += 1
    return n


def load_city(engine: Engine, tables: dict[str, Any]) -> tuple[dict[str, int], float]:
    """COPY every table in one transaction, move the id sequences on, ANALYZE.

    Returns the row counts and the seconds of the COPY transaction alone.
    """
    counts: dict[str, int] = {}
    t0 = time.perf_counter()
    conn = engine.raw_connection()
    try:
        raw = conn.driver_connection
        for table, (columns, rows) in tables.items():
            counts[table] = copy_table(raw, table, columns, rows)
        with raw.cursor() as cur:
            for table in tables:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))")  # fmt: skip
        conn.commit()
    finally:
        conn.close()
    copy_s = time.perf_counter() - t0
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("ANALYZE"))
    return counts, copy_s


def clear_runs(engine: Engine) -> None:
    """Remove earlier runs' results so that every timed run writes into empty tables."""
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE coverage_runs CASCADE"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


# -- report ------------------------------------------------------------------------------------
def print_table(timings: list[dict[str, float]], walls: list[float]) -> float:
    """Median per phase, min-max, share of the run and ratio to the read + write floor."""

    def med(key: str) -> float:
        return statistics.median(t.get(key, 0.0) for t in timings)

    def span(values: list[float]) -> str:
        return f"{min(values):.2f}-{max(values):.2f}"

    total = med("total")
    floor = statistics.median(t["read"] + t["write"] for t in timings)
    other = [t["total"] - sum(t.get(p, 0.0) for p in PHASES) for t in timings]
    head = f"{'phase':<44} {'median s':>9} {'min-max s':>12} {'of run':>7} {'vs I/O floor':>12}"
    print(head)
    print("-" * len(head))
    rows: list[tuple[str, list[float]]] = [(p, [t.get(p, 0.0) for t in timings]) for p in PHASES]
    rows.append(("other (to metric CRS, bookkeeping)", other))
    for name, vals in rows:
        m = statistics.median(vals)
        print(f"{name:<44} {m:>9.2f} {span(vals):>12} {m / total:>7.0%} {m / floor:>11.2f}x")
    print("-" * len(head))
    io = [t["read"] + t["write"] for t in timings]
    comp = [t["total"] - t["read"] - t["write"] for t in timings]
    for name, vals in (("I/O floor = read + write (baseline)", io),
                       ("compute = total - read - write", comp),
                       ("total (run_coverage timings_s)", [t["total"] for t in timings]),
                       ("wall clock around run_coverage", walls)):  # fmt: skip
        m = statistics.median(vals)
        print(f"{name:<44} {m:>9.2f} {span(vals):>12} {m / total:>7.0%} {m / floor:>11.2f}x")
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=TARGET_CAMERAS)
    parser.add_argument("--buildings", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=1, help="timed coverage runs")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="run_coverage workers")
    parser.add_argument("--requests", type=int, default=500,
                        help="which-cameras HTTP requests after the run (0: skip)")
    parser.add_argument("--batch", type=int, default=100_000,
                        help="points in the which-cameras batch after the run")
    args = parser.parse_args(argv)
    if args.cameras < 1 or args.buildings < 1 or args.repeat < 1 or args.workers < 1:
        parser.error("--cameras, --buildings, --repeat and --workers must be positive")

    # SIGTERM ends like Ctrl-C, so that the cluster is destroyed either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="sightline-bench-", dir="/tmp"))
    workdir.chmod(0o755)  # the postgres system user must traverse it to reach its data dir
    cluster: LocalCluster | None = None
    engine: Engine | None = None
    try:
        t = time.perf_counter()
        cluster = LocalCluster(workdir / "pg")
        cluster.start()
        ensure_database(cluster)
        engine = sqlalchemy.create_engine(cluster.url())
        migrate.upgrade(engine)
        print(f"setup: cluster + schema in {time.perf_counter() - t:.1f} s", flush=True)

        t = time.perf_counter()
        tables = build_city(args.cameras, args.buildings, args.seed)
        print(f"setup: synthetic city generated in {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        counts, copy_s = load_city(engine, tables)
        listing = ", ".join(f"{k} {v:,}" for k, v in counts.items())
        print(f"setup: COPY of {sum(counts.values()):,} rows in {copy_s:.1f} s, with ANALYZE "
              f"{time.perf_counter() - t:.1f} s ({listing})", flush=True)  # fmt: skip

        timings: list[dict[str, float]] = []
        walls: list[float] = []
        report = None
        for i in range(args.repeat):
            clear_runs(engine)
            t = time.perf_counter()
            report = run_coverage(engine, workers=args.workers)
            walls.append(time.perf_counter() - t)
            timings.append(dict(report.timings_s))
            print(f"run {i + 1}/{args.repeat}: {walls[-1]:.2f} s {report.timings_s}", flush=True)
        assert report is not None
        with engine.connect() as conn:
            n_vis = conn.execute(text("SELECT count(*) FROM coverage_visible WHERE run_id = :r"),
                                 {"r": report.run_id}).scalar_one()  # fmt: skip

        print()
        print(f"Coverage run on a synthetic 20 x 20 km city (UTM 32N, {report.crs}): "
              f"{counts['cameras']:,} cameras, {counts['buildings']:,} buildings, "
              f"{counts['roads']:,} roads, {counts['key_areas']} key areas, "
              f"{counts['jurisdictions']} jurisdictions, {counts['checkpoints']} checkpoints, "
              f"{counts['alarms']:,} alarms; workers={args.workers}; median of {args.repeat} "
              f"run(s)")  # fmt: skip
        print(
            f"results: {n_vis:,} visible polygons, "
            f"{report.totals.get('cameras_with_coverage', 0):,} cameras with coverage, "
            f"covered m2 {report.totals.get('covered_m2')}"
        )
        print(
            "baseline: the I/O floor of the same run(s), i.e. its `read` (PostGIS -> "
            "GeoDataFrames) + `write` (results -> PostGIS, one transaction) phases"
        )
        print()
        total = print_table(timings, walls)
        print()
        verdict = "met" if total <= TARGET_SECONDS else "MISSED"
        scale = "" if args.cameras == TARGET_CAMERAS else f" (run at {args.cameras:,} cameras)"
        print(
            f"target: total <= {TARGET_SECONDS:.0f} s for 100k cameras / 200k buildings: "
            f"{total:.2f} s, {verdict}{scale}"
        )
        if args.requests > 0:
            print()
            print(f"which-cameras on this store ({n_vis:,} visible polygons), API server in its "
                  f"own process, sequential client, {args.requests} points (half seen):")
            rows = which_http.measure(cluster.url(), args.requests, args.batch)
            which_http.print_rows(rows)
            get_p95 = rows[0][2]
            batch_lookup = rows[5][1]
            print(f"target: GET p95 < 5 ms: {get_p95:.2f} ms, "
                  f"{'met' if get_p95 < 5 else 'MISSED'}; batch of {args.batch:,} < 0.3 s "
                  f"(in-memory lookup): {batch_lookup:.2f} s, "
                  f"{'met' if batch_lookup < 0.3 else 'MISSED'}")  # fmt: skip
        print(f"load average at the start {' '.join(f'{x:.1f}' for x in load_start)}")
        for line in machine_info(engine):
            print(line)
        return 0
    finally:
        if engine is not None:
            engine.dispose()
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
