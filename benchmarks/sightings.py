"""Benchmark: 10M sightings — bulk load, a day's append under queries, object lookups (database
and API), paging a heavy object, per-device hourly counts, 50-hop reconstruction.

Starts a throw-away PostGIS cluster with 2,000 synthetic checkpoints and generates ``--rows``
sightings over 30 days of November 2026, skewed: ``--heavy`` objects hold ``--heavy-share``
of the rows (tens of thousands each), the rest are ~1M objects with a few sightings each.
Every figure is printed next to a same-run baseline on a plain table without indexes (and,
for the load, COPY into a table whose btree is maintained row by row, on a 2M-row sample).
Reconstruction runs on the Monaco demo city (another database in the same cluster).

    .venv/bin/python benchmarks/sightings.py [--rows 10000000] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import sqlalchemy
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from import_csv import machine_info  # noqa: E402

from store import migrate  # noqa: E402
from store import sightings as ss  # noqa: E402
from store.cluster import LocalCluster  # noqa: E402
from store.engine import ensure_database  # noqa: E402
from store.scope import EVERYTHING  # noqa: E402

MONTH0_US = int(dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp() * 1e6)
DAY_US = 86_400_000_000
DEVICES = 2000


def ms(xs: list[float]) -> str:
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    return f"p50 {statistics.median(xs) * 1e3:8.3f} ms  p95 {p95 * 1e3:8.3f} ms"


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


def make_batch(
    n: int, heavy: int, heavy_share: float, seed: int, day0: int = 0, days: int = 30,
    ids: np.ndarray | None = None,
) -> tuple[ss.SightingBatch, np.ndarray]:
    """``n`` sightings in time order and the object number of each (0..heavy-1 heavy)."""
    rng = np.random.default_rng(seed)
    n_heavy = int(n * heavy_share)
    light_objects = max(1, (n - n_heavy) // 7)
    obj = np.concatenate([rng.integers(0, heavy, n_heavy),
                          heavy + rng.integers(0, light_objects, n - n_heavy)])  # fmt: skip
    t = MONTH0_US + day0 * DAY_US + rng.integers(0, days * DAY_US, n)
    order = np.argsort(t, kind="stable")
    obj, t = obj[order], t[order]
    refs = np.char.add(b"O", np.char.zfill(obj.astype("S8"), 8))
    assert ids is not None
    dev = ids[rng.integers(0, len(ids), n)]
    return ss.SightingBatch(refs, t.astype(np.int64), np.zeros(n, np.int64), dev,
                            None, None, rng.uniform(0.5, 1.0, n)), obj  # fmt: skip


def setup_devices(engine: Engine) -> np.ndarray:
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO checkpoints (device_id, name, geom) SELECT "
            "'990101010013200' || lpad(g::text, 5, '0'), 'cp ' || g, "
            "ST_SetSRID(ST_MakePoint(7.40 + (g % 50) * 0.001, 43.70 + (g / 50) * 0.001), 4326) "
            f"FROM generate_series(1, {DEVICES}) g"))  # fmt: skip
        return np.array(conn.execute(text("SELECT id FROM checkpoints ORDER BY id")).scalars()
                        .all(), dtype=np.int64)  # fmt: skip


def timed(fn: Callable[[], Any], reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--heavy", type=int, default=100, help="objects seen very often")
    parser.add_argument("--heavy-share", type=float, default=0.3)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-demo", action="store_true", help="skip the reconstruction part")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="sightline-bench-", dir="/tmp"))
    workdir.chmod(0o755)
    cluster: LocalCluster | None = None
    engine: Engine | None = None
    lines: list[str] = []

    def say(s: str) -> None:
        print(s, flush=True)
        lines.append(s)

    try:
        cluster = LocalCluster(workdir / "pg")
        cluster.start()
        ensure_database(cluster)
        engine = sqlalchemy.create_engine(cluster.url())
        migrate.upgrade(engine)
        ids = setup_devices(engine)
        t = time.perf_counter()
        batch, obj = make_batch(args.rows, args.heavy, args.heavy_share, args.seed, ids=ids)
        say(f"generated {len(batch):,} sightings in {time.perf_counter() - t:.1f} s "
            f"({args.heavy} heavy objects with {args.heavy_share:.0%} of them)")

        # -- load -------------------------------------------------------------------------
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE plain (LIKE sightings)"))
            t = time.perf_counter()
            ss.copy_batch(conn, "plain", batch)
        plain_s = time.perf_counter() - t
        sample = batch.take(np.arange(min(2_000_000, len(batch))))
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            conn.execute(text("CREATE TABLE rowwise (LIKE sightings)"))
            conn.execute(text("CREATE UNIQUE INDEX ON rowwise (object_ref, seen_at, camera_id, "
                              "checkpoint_id) NULLS NOT DISTINCT"))  # fmt: skip
            t = time.perf_counter()
            ss.copy_batch(conn, "rowwise", sample)
        rowwise_s = time.perf_counter() - t
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE rowwise"))
        with engine.begin() as conn:
            t = time.perf_counter()
            stats = ss.load(conn, batch)
        load_s = time.perf_counter() - t
        slow = sorted(stats.timings_s.values())
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE plain"))
            conn.execute(text("VACUUM ANALYZE sightings"))
        n = len(batch)
        say("")
        say("load (rows/s; target >= 400k/s including indexes)")
        say(f"  store.sightings.load (COPY binary, index + BRIN, counts, ATTACH, ANALYZE): "
            f"{load_s:6.1f} s  {n / load_s / 1e3:7.0f} k rows/s   {len(stats.partitions)} day "
            f"partitions, {statistics.median(slow):.2f} s each (max {slow[-1]:.2f})")
        say(f"  baseline: plain COPY, no index                       "
            f"{plain_s:6.1f} s  {n / plain_s / 1e3:7.0f} k rows/s   ratio {load_s / plain_s:.2f}")
        say(f"  baseline: COPY with the btree kept row by row (2M)   "
            f"{rowwise_s:6.1f} s  {len(sample) / rowwise_s / 1e3:7.0f} k rows/s")

        # -- queries ----------------------------------------------------------------------
        counts = np.bincount(obj)
        light = np.flatnonzero(counts[args.heavy:] > 0) + args.heavy
        rng = np.random.default_rng(7)
        typical = rng.choice(light, args.queries)
        heavy = rng.choice(np.arange(args.heavy), min(20, args.heavy))
        ref = lambda o: f"O{int(o):08d}"  # noqa: E731
        t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
        t1 = t0 + dt.timedelta(days=30)
        say("")
        say(f"one object over 30 days (typical: {statistics.median(counts[typical]):.0f} "
            f"sightings; target p95 < 1 ms in the database)")  # fmt: skip
        with engine.connect() as conn:
            lat = []
            for o in typical:
                t = time.perf_counter()
                ss.object_sightings(conn, EVERYTHING, ref(o), t0, t1)
                lat.append(time.perf_counter() - t)
            say(f"  store.object_sightings (with device join, scope)   {ms(lat)}")
            raw = conn.connection.driver_connection
            assert raw is not None
            lat2 = []
            with raw.cursor() as cur:
                for o in typical:
                    t = time.perf_counter()
                    cur.execute("SELECT * FROM sightings WHERE object_ref = %s AND seen_at >= %s "
                                "AND seen_at < %s ORDER BY seen_at", (ref(o), t0, t1),
                                prepare=True).fetchall()  # fmt: skip
                    lat2.append(time.perf_counter() - t)
                say(f"  bare lookup, prepared (psycopg round trip)       {ms(lat2)}")
                lat3 = []
                for o in typical[:3]:
                    t = time.perf_counter()
                    cur.execute("SELECT * FROM plain WHERE object_ref = %s AND seen_at >= %s "
                                "AND seen_at < %s ORDER BY seen_at", (ref(o), t0, t1)).fetchall()
                    lat3.append(time.perf_counter() - t)
                say(f"  baseline: unindexed table (3 queries)            {ms(lat3)}  ratio "
                    f"{statistics.median(lat3) / statistics.median(lat2):,.0f}x")
            conn.rollback()
            say("")
            say(f"heavy objects ({statistics.median(counts[heavy]):,.0f} sightings each), "
                "first page of 1000 (target < 20 ms)")  # fmt: skip
            lat = []
            for o in heavy:
                t = time.perf_counter()
                rows = ss.object_sightings(conn, EVERYTHING, ref(o), t0, t1, limit=1000)
                lat.append(time.perf_counter() - t)
            assert len(rows) >= min(1000, int(counts[heavy[-1]]))
            say(f"  store.object_sightings limit 1000                {ms(lat)}")
            lat3 = timed(lambda: conn.execute(text(
                "SELECT * FROM plain WHERE object_ref = :o ORDER BY seen_at LIMIT 1000"),
                {"o": ref(heavy[0])}).all(), 3)  # fmt: skip
            say(f"  baseline: unindexed table                        {ms(lat3)}  ratio "
                f"{statistics.median(lat3) / statistics.median(lat):,.0f}x")
            say("")
            say("per-device counts for a 1-hour window (target < 5 ms)")
            hours = [t0 + dt.timedelta(hours=int(h)) for h in rng.integers(0, 719, 50)]
            lat = timed_each(lambda h: ss.device_counts(conn, EVERYTHING, h,
                                                        h + dt.timedelta(hours=1)), hours)
            say(f"  whole hour (sighting_counts)                     {ms(lat)}")
            lat_b = timed_each(lambda h: ss.device_counts(
                conn, EVERYTHING, h + dt.timedelta(minutes=7), h + dt.timedelta(minutes=67)),
                hours)  # fmt: skip
            say(f"  any hour (rows, BRIN on seen_at)                 {ms(lat_b)}")
            lat3 = timed_each(lambda h: conn.execute(text(
                "SELECT checkpoint_id, count(*) FROM plain WHERE seen_at >= :a AND seen_at < :b "
                "GROUP BY 1"), {"a": h, "b": h + dt.timedelta(hours=1)}).all(),
                hours[:3])  # fmt: skip
            say(f"  baseline: unindexed table                        {ms(lat3)}  ratio "
                f"{statistics.median(lat3) / statistics.median(lat_b):,.0f}x (vs BRIN)")
            conn.rollback()

        # -- compaction ---------------------------------------------------------------------
        say("")
        with engine.begin() as conn:
            t = time.perf_counter()
            done = ss.compact_month(conn, 2026, 11)
        say(f"compact {len(done['days'])} day partitions into {done['partition']}: "
            f"{time.perf_counter() - t:.1f} s")  # fmt: skip
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            lat2 = []
            with raw.cursor() as cur:
                for o in typical:
                    t = time.perf_counter()
                    cur.execute("SELECT * FROM sightings WHERE object_ref = %s AND seen_at >= %s "
                                "AND seen_at < %s ORDER BY seen_at", (ref(o), t0, t1),
                                prepare=True).fetchall()  # fmt: skip
                    lat2.append(time.perf_counter() - t)
            say(f"  one object, 30 days, one month partition, prepared {ms(lat2)}")
            lat = timed_each(lambda o: ss.object_sightings(conn, EVERYTHING, ref(o), t0, t1),
                             list(typical))  # fmt: skip
            say(f"  store.object_sightings on it                     {ms(lat)}")
            lat = timed_each(lambda o: ss.object_sightings(conn, EVERYTHING, ref(o), t0, t1,
                                                           limit=1000), list(heavy))  # fmt: skip
            say(f"  heavy object, first page of 1000                 {ms(lat)}")
            conn.rollback()

        # -- API --------------------------------------------------------------------------
        say("")
        say("one object through the API, route=false (target p95 < 5 ms)")
        api_lat = api_latency(engine, [ref(o) for o in typical], t0, t1)
        say(f"  GET /trajectories/{{ref}} (token, query, audit)    {ms(api_lat)}")

        # -- append a day while querying ---------------------------------------------------
        say("")
        day_n = len(batch) // 30
        day, _ = make_batch(day_n, args.heavy, args.heavy_share, args.seed + 1, day0=30,
                            days=1, ids=ids)  # fmt: skip  (December 1: a new day partition)
        idle = query_loop(engine, [ref(o) for o in typical], 2.0, None)
        done = threading.Event()
        t_app: list[float] = []

        def append() -> None:
            with engine.begin() as conn:
                t = time.perf_counter()
                ss.load(conn, day)
                t_app.append(time.perf_counter() - t)
            done.set()

        th = threading.Thread(target=append)
        th.start()
        busy = query_loop(engine, [ref(o) for o in typical], 600.0, done)
        th.join()
        say(f"append the next day ({day_n:,} rows) to the live store: {t_app[0]:.1f} s "
            f"({day_n / t_app[0] / 1e3:.0f} k rows/s); lookups meanwhile: {len(busy)}")
        say(f"  lookups idle   {ms(idle)}   max {max(idle) * 1e3:.1f} ms")
        say(f"  lookups during {ms(busy)}   max {max(busy) * 1e3:.1f} ms")

        if not args.no_demo:
            say("")
            say("reconstruction of a 50-hop trajectory on the Monaco demo (target < 0.5 s)")
            for line in reconstruction(cluster):
                say("  " + line)
        say("")
        for line in machine_info(engine):
            say(line)
        say(f"load average at the start: {' '.join(f'{x:.1f}' for x in load_start)}")
        return 0
    finally:
        if engine is not None:
            engine.dispose()
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


def timed_each(fn: Callable[[Any], Any], items: list[Any]) -> list[float]:
    out = []
    for x in items:
        t = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t)
    return out


def query_loop(engine: Engine, refs: list[str], seconds: float,
               stop: threading.Event | None) -> list[float]:  # fmt: skip
    t0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    t1 = t0 + dt.timedelta(days=30)
    out: list[float] = []
    end = time.perf_counter() + seconds
    with engine.connect() as conn:
        i = 0
        while time.perf_counter() < end and not (stop is not None and stop.is_set()):
            t = time.perf_counter()
            ss.object_sightings(conn, EVERYTHING, refs[i % len(refs)], t0, t1)
            conn.rollback()
            out.append(time.perf_counter() - t)
            i += 1
            time.sleep(0.002)
    return out


def api_latency(engine: Engine, refs: list[str], t0: dt.datetime, t1: dt.datetime) -> list[float]:
    import aiohttp
    from aiohttp import web

    from api import app as api_app
    from settings import Settings
    from store.tokens import create_token

    with engine.begin() as conn:
        token = create_token(conn, "bench", user_name="bench", role="investigator",
                             jurisdiction_code=None, clearance=10)  # fmt: skip

    async def run() -> list[float]:
        runner = web.AppRunner(api_app.create_app(Settings(), engine), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        q = urlencode({"from": t0.isoformat(), "to": t1.isoformat(), "case_ref": "BENCH-1",
                       "purpose": "benchmark"})  # fmt: skip
        out = []
        try:
            async with aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {token}"}) as s:  # fmt: skip
                for i, r in enumerate(refs + refs[:20]):
                    url = f"http://127.0.0.1:{port}/trajectories/{r}?{q}&route=false"
                    t = time.perf_counter()
                    async with s.get(url) as resp:
                        await resp.read()
                        assert resp.status == 200, resp.status
                    if i >= 20:  # the first 20 warm the pool
                        out.append(time.perf_counter() - t)
        finally:
            await runner.cleanup()
        return out

    return asyncio.run(run())


def reconstruction(cluster: LocalCluster) -> list[str]:
    from analysis import trajectory as atraj
    from analysis.coverage_run import run_coverage
    from importers.city import load_demo
    from settings import Settings
    from store.scope import cli_principal

    admin = sqlalchemy.create_engine(cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('CREATE DATABASE "demo"'))
    admin.dispose()
    engine = sqlalchemy.create_engine(cluster.url("demo"))
    try:
        migrate.upgrade(engine)
        s = Settings()
        load_demo(engine, s.demo_osm_file, s.demo_seed)
        run_coverage(engine, workers=2)
        with engine.connect() as conn:
            net = atraj.network(conn)
        import networkx as nx

        core = max(nx.strongly_connected_components(net.graph.graph), key=len)
        devs = sorted(d for d, n in net.device_nodes.items() if n in core)
        rng = np.random.default_rng(3)
        pick = rng.choice(devs, 51)
        rows = []
        for i, d in enumerate(pick):
            m = 3 * i  # 3 minutes apart: most hops have slack, so corridors are computed
            rows.append(f"{d},2026-11-02T{8 + m // 60:02d}:{m % 60:02d}:00Z,HOPS-50,,,")
        path = Path(tempfile.mkdtemp()) / "hops.csv"
        path.write_text("device_id,seen_at,object_ref,direction,lane,confidence\n"
                        + "\n".join(rows) + "\n")  # fmt: skip
        from importers.sightings import import_sightings

        import_sightings(engine, path, cli_principal())

        def query() -> dict[str, Any]:
            with engine.begin() as conn:
                r = atraj.query(conn, cli_principal(), "HOPS-50", "2026-11-02T00:00:00Z",
                                "2026-11-03T00:00:00Z", "BENCH", "benchmark")  # fmt: skip
                assert isinstance(r, dict)
                return r

        atraj._CACHE.clear()
        t = time.perf_counter()
        r = query()
        cold = time.perf_counter() - t
        warm = timed(query, 5)
        hops = len(r["hops"])
        corridors = sum(1 for h in r["hops"] if h["corridor_road_ids"])
        return [f"{hops} hops between random devices 3 min apart, {corridors} with unseen "
                "corridors",
                f"query + routing + corridors, network cached: median "
                f"{statistics.median(warm):.3f} s (min {min(warm):.3f})",
                f"baseline: first query, network built (roads, snapping): {cold:.3f} s"]
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
