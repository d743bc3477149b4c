"""Benchmark: importing a large camera survey CSV, Sightline's importer vs naive row-by-row INSERTs.

Starts a throw-away PostGIS cluster, loads the demo city (Monaco), writes a seeded survey CSV of
cameras inside the city's police-station areas, then times each way ``--repeat`` times on a
clean cameras table and prints medians and the ratio to the baseline measured in the same run.

    .venv/bin/python benchmarks/import_csv.py [--rows 100000] [--repeat 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import sqlalchemy
from sqlalchemy import Engine, text

import importers.survey.importer as importer_module
from gis.gb28181 import make_device_id
from importers.city import load_demo
from importers.survey.importer import import_survey
from importers.survey.readers import open_survey
from settings import Settings
from store import migrate
from store import survey as store_survey
from store.cluster import LocalCluster
from store.engine import ensure_database

TARGET_ROWS = 100_000
TARGET_SECONDS = 10.0
BASELINE_BUDGET_S = 120.0  # above this per run, the baseline runs on a slice and is extrapolated
BASELINE_SLICE = 10_000
HEADERS = ("设备编码", "设备名称", "经度", "纬度", "方位角", "俯仰角", "安装高度", "焦距",
           "分辨率", "靶面", "建设单位")  # fmt: skip
BASELINE_SQL = text(
    "INSERT INTO cameras (device_id, name, azimuth_deg, tilt_deg, mount_height_m, "
    "focal_length_mm, geom, source) VALUES (:d, :n, :a, :t, :h, :f, "
    "ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'survey')"
)


@dataclass
class Figure:
    """Timings of one measured thing; ``scale`` extrapolates a slice to the full row count."""

    label: str
    rows: int
    seconds: list[float] = field(default_factory=list)
    scale: float = 1.0
    note: str = ""

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds) * self.scale


# -- setup -------------------------------------------------------------------------------------
def start_store(cluster: LocalCluster) -> Engine:
    """Start ``cluster`` and return an engine on it with the schema and the demo city loaded."""
    cluster.start()
    ensure_database(cluster)
    engine = sqlalchemy.create_engine(cluster.url())
    migrate.upgrade(engine)
    settings = Settings()
    load_demo(engine, settings.demo_osm_file, settings.demo_seed)
    return engine


def _points_in(polygon: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` uniform random points (lon, lat, 7 decimals) inside ``polygon``, by rejection."""
    x0, y0, x1, y1 = polygon.bounds
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        # Round as the CSV will (7 decimals, ~1 cm) before testing: a point rounded across a
        # station edge would rightly be rejected for its division prefix.
        xy = rng.uniform((x0, y0), (x1, y1), size=(max(2 * (n - have), 64), 2)).round(7)
        xy = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]
        out.append(xy)
        have += len(xy)
    return np.concatenate(out)[:n]


def write_survey_csv(engine: Engine, path: Path, rows: int, seed: int) -> int:
    """Write a survey CSV of ``rows`` valid cameras inside the station areas; returns stations.

    Rows are spread over the stations in proportion to their area; ids are the station's
    centre code + industry 00 + IP camera 132 + network 0 + a serial numbered per station,
    starting above every serial already stored so that ``mode="insert"`` finds no clash.
    """
    with engine.connect() as conn:
        stations = gpd.read_postgis(
            text("SELECT code, geom FROM jurisdictions WHERE level = 'station' ORDER BY code"),
            conn, geom_col="geom",
        )  # fmt: skip
        top = conn.execute(
            text("SELECT coalesce(max(substr(device_id, 15, 6)::int), 0) FROM cameras")
        ).scalar_one()
    if stations.empty:
        raise RuntimeError("the demo city has no station jurisdictions")
    rng = np.random.default_rng(seed)
    areas = stations.to_crs(stations.estimate_utm_crs()).area.to_numpy()
    counts = rng.multinomial(rows, areas / areas.sum())
    if int(counts.max()) + int(top) > 999_999:
        raise ValueError(f"{rows} rows do not fit in 6-digit serials per station")
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADERS)
        for code, polygon, n in zip(stations["code"], stations.geometry, counts, strict=True):
            xy = _points_in(polygon, int(n), rng)
            azimuth = rng.uniform(0, 360, n).round(1) % 360  # 359.96 rounds to 360
            tilt = rng.uniform(0, 45, n).round(1)
            height = rng.uniform(2.5, 12, n).round(1)
            focal = rng.choice([2.8, 4.0, 6.0, 8.0, 12.0], n)
            for i in range(int(n)):
                device_id = make_device_id(centre_code=str(code), industry="00",
                                           type_code="132", network=0,
                                           serial=int(top) + 1 + i)  # fmt: skip
                out.writerow((device_id, f"测试点位{code}-{i + 1}", f"{xy[i, 0]:.7f}",
                              f"{xy[i, 1]:.7f}", azimuth[i], tilt[i], height[i], focal[i],
                              "1920x1080", '1/2.8"', "市公安局"))  # fmt: skip
    return len(stations)


def clean(engine: Engine) -> None:
    """Remove surveyed cameras and refresh the table's statistics, as before a first import."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("DELETE FROM cameras WHERE source = 'survey'"))
        conn.execute(text("VACUUM ANALYZE cameras"))


# -- the measured things -----------------------------------------------------------------------
@contextlib.contextmanager
def phase_timers() -> Iterator[dict[str, float]]:
    """Seconds spent in the importer's validate and COPY steps while the block runs.

    Wraps the two functions where ``importers.survey.importer`` looks them up (two calls per
    50k-row batch, so the wrapping costs nothing measurable) and restores them afterwards.
    """
    spent = {"validate": 0.0, "copy": 0.0}
    originals = {"validate": importer_module.validate_batch, "copy": store_survey.copy_stage}

    def timed(key: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return originals[key](*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - t

        return wrapper

    importer_module.validate_batch = timed("validate")  # type: ignore[assignment]
    store_survey.copy_stage = timed("copy")  # type: ignore[assignment]
    try:
        yield spent
    finally:
        importer_module.validate_batch = originals["validate"]  # type: ignore[assignment]
        store_survey.copy_stage = originals["copy"]  # type: ignore[assignment]


def run_sightline(engine: Engine, csv_path: Path, rows: int) -> dict[str, float]:
    """Full import; returns seconds: total, validate, copy, and after (checks, merge, record
    after the last batch was staged)."""
    staged_at = [0.0]

    def progress(p: dict[str, Any]) -> None:
        staged_at[0] = time.perf_counter()

    with phase_timers() as spent:
        t0 = time.perf_counter()
        report = import_survey(engine, csv_path, "cameras", crs="wgs84", mode="insert",
                               progress=progress)  # fmt: skip
        done = time.perf_counter()
    if report.counts.get("inserted") != rows:
        errors = "; ".join(str(e.as_dict()) for e in report.errors[:3])
        raise RuntimeError(f"Sightline imported {report.counts}, expected {rows}: {errors}")
    return {"total": done - t0, **spent, "after": done - staged_at[0]}


def run_read(csv_path: Path, rows: int) -> float:
    """Only reading the file into batches (encoding detection, CSV parse, DataFrames)."""
    t0 = time.perf_counter()
    _, batches = open_survey(csv_path)
    n = sum(len(b.rows) for b in batches)
    seconds = time.perf_counter() - t0
    if n != rows:
        raise RuntimeError(f"open_survey read {n} rows, expected {rows}")
    return seconds


def baseline_params(csv_path: Path, limit: int) -> Callable[[], list[dict[str, Any]]]:
    """A function reading the first ``limit`` rows the naive way (csv module + float())."""

    def read() -> list[dict[str, Any]]:
        params = []
        with csv_path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for i, r in enumerate(reader):
                if i == limit:
                    break
                params.append({
                    "d": r["设备编码"], "n": r["设备名称"], "a": float(r["方位角"]),
                    "t": float(r["俯仰角"]), "h": float(r["安装高度"]), "f": float(r["焦距"]),
                    "x": float(r["经度"]), "y": float(r["纬度"]),
                })  # fmt: skip
        return params

    return read


def run_baseline(engine: Engine, csv_path: Path, limit: int, *, commit: bool = True) -> float:
    """Read with the csv module and INSERT row by row in one transaction, no validation."""
    t0 = time.perf_counter()
    params = baseline_params(csv_path, limit)()
    with engine.connect() as conn:
        trans = conn.begin()
        for p in params:
            conn.execute(BASELINE_SQL, p)
        if commit:
            trans.commit()
        else:
            trans.rollback()
    return time.perf_counter() - t0


# -- report ------------------------------------------------------------------------------------
def machine_info(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        pg = conn.execute(text("SELECT version()")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        f"machine:    {platform.machine()}, {os.cpu_count()} cores ({usable} usable), "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end",
        f"python:     {platform.python_version()} ({sys.executable})",
        f"postgresql: {pg}",
        f"postgis:    {postgis}",
        "note:       shared, noisy machine: figures are medians of the runs; min-max shown",
    ]


def print_table(figures: list[Figure], baseline: Figure, rows: int, repeat: int) -> None:
    """The table; the first figure is Sightline's import, indented ones are parts of it."""
    head = (f"{'measure':<44} {'rows':>7} {'median s':>9} {'min-max s':>12} {'rows/s':>8} "
            f"{'vs baseline':>11} {'of import':>9}")  # fmt: skip
    print(head)
    print("-" * len(head))
    for f in figures:
        lo, hi = min(f.seconds) * f.scale, max(f.seconds) * f.scale
        ratio = baseline.median_s / f.median_s
        share = f"{f.median_s / figures[0].median_s:>8.0%}" if f.label.startswith(" ") else ""
        print(f"{f.label:<44} {f.rows:>7} {f.median_s:>9.2f} {f'{lo:.2f}-{hi:.2f}':>12} "
              f"{f.rows / f.median_s:>8.0f} {ratio:>10.1f}x {share:>9}")  # fmt: skip
        if f.note:
            print(f"  ({f.note})")
    print("-" * len(head))
    print(f"vs baseline = baseline median s / this median s (higher is faster); {repeat} run(s) "
          "each on a clean cameras table (survey rows deleted, VACUUM ANALYZE)")
    sightline = figures[0]
    per_100k = sightline.median_s * TARGET_ROWS / rows
    verdict = "met" if per_100k < TARGET_SECONDS else "not met"
    scaled = "" if rows == TARGET_ROWS else f" (scaled linearly from {rows} rows)"
    print(f"target: 100k rows < {TARGET_SECONDS:.0f} s → {verdict} "
          f"({per_100k:.2f} s per 100k rows{scaled})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS, help="rows in the survey CSV")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each measure")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated survey")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.repeat < 1:
        parser.error("--rows and --repeat must be positive")

    workdir = Path(tempfile.mkdtemp(prefix="sightline-bench-", dir="/tmp"))
    workdir.chmod(0o755)  # the postgres system user must traverse it to reach its data dir
    cluster: LocalCluster | None = None
    engine: Engine | None = None
    try:
        t = time.perf_counter()
        cluster = LocalCluster(workdir / "pg")
        engine = start_store(cluster)
        print(f"setup: cluster + schema + demo city in {time.perf_counter() - t:.1f} s",
              flush=True)  # fmt: skip
        csv_path = workdir / "survey.csv"
        t = time.perf_counter()
        stations = write_survey_csv(engine, csv_path, args.rows, args.seed)
        print(f"setup: {args.rows} rows over {stations} stations, "
              f"{csv_path.stat().st_size / 1e6:.1f} MB, in {time.perf_counter() - t:.1f} s",
              flush=True)  # fmt: skip

        sightline = Figure("sightline import_survey (full path)", args.rows)
        phases = {
            "validate": Figure("  of which validate (validate_batch)", args.rows),
            "copy": Figure("  of which COPY to staging (copy_stage)", args.rows),
            "after": Figure("  of which dup checks + merge + record", args.rows),
        }
        read = Figure("read only (open_survey, all batches)", args.rows)
        for i in range(args.repeat):
            clean(engine)
            t = run_sightline(engine, csv_path, args.rows)
            sightline.seconds.append(t["total"])
            for key, fig in phases.items():
                fig.seconds.append(t[key])
            read.seconds.append(run_read(csv_path, args.rows))
            print(f"run {i + 1}/{args.repeat}: sightline {t['total']:.2f} s (validate "
                  f"{t['validate']:.2f}, copy {t['copy']:.2f}, after staging {t['after']:.2f}), "
                  f"read only {read.seconds[-1]:.2f} s", flush=True)  # fmt: skip

        # A rolled-back probe on a slice: warms the baseline up and decides full run or slice.
        clean(engine)
        probe_rows = min(BASELINE_SLICE, args.rows)
        probe = run_baseline(engine, csv_path, probe_rows, commit=False)
        projected = probe * args.rows / probe_rows
        limit = args.rows if projected <= BASELINE_BUDGET_S else BASELINE_SLICE
        baseline = Figure("baseline: csv + float() + row-by-row INSERT", args.rows)
        if limit < args.rows:
            baseline.scale = args.rows / limit
            baseline.note = (f"measured on the first {limit} rows and extrapolated linearly "
                             f"x{baseline.scale:g}: the full run projected {projected:.0f} s "
                             f"per run, over the {BASELINE_BUDGET_S:.0f} s budget")  # fmt: skip
        for i in range(args.repeat):
            clean(engine)
            baseline.seconds.append(run_baseline(engine, csv_path, limit))
            print(f"run {i + 1}/{args.repeat}: baseline {baseline.seconds[-1]:.2f} s "
                  f"on {limit} rows", flush=True)  # fmt: skip
        clean(engine)

        print()
        print(f"Survey CSV import, {args.rows} cameras (Monaco demo city), "
              f"{args.repeat} run(s) each")
        print_table([sightline, *phases.values(), read, baseline], baseline, args.rows,
                    args.repeat)  # fmt: skip
        print()
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
