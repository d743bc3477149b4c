"""Which-cameras through the real HTTP API, the client in another process than the server.

Used by ``coverage_city100k.py --requests N`` after its run (and runnable on any store
that has a coverage run):

    .venv/bin/python benchmarks/which_http.py DATABASE_URL [--requests 500] [--batch 100000]

Starts ``sightline api`` as a subprocess on a free port, creates a whole-city investigator
token (which-cameras needs action ``coverage``), then measures (medians and p95, same run):
- GET /coverage/which-cameras?lon=&lat= one point per request, sequential, keep-alive;
- the same query called directly (SQLAlchemy) and a bare GiST ST_Covers lookup (baseline);
- POST /coverage/which-cameras with a batch of points: the first call (loads the run's
  polygons into memory), the next calls (lookup + JSON), the in-process lookup alone, and one
  PostGIS join of the same points (baseline).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis.which_cameras import VisibleIndex  # noqa: E402
from store.coverage import cameras_seeing, latest_run  # noqa: E402
from store.scope import EVERYTHING  # noqa: E402
from store.tokens import create_token  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def sample_points(engine: Engine, run_id: int, n: int, seed: int = 1) -> np.ndarray:
    """Half inside random visible polygons (seen), half uniform over the covered extent."""
    with engine.connect() as conn:
        seen = conn.execute(text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM "
            "coverage_visible WHERE run_id = :r AND NOT ST_IsEmpty(geom) "
            "ORDER BY md5(id::text) LIMIT :n) s"),
            {"r": run_id, "n": n - n // 2}).all()  # fmt: skip
        w, s, e, no = conn.execute(text(
            "SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM "
            "(SELECT ST_Extent(geom) x FROM coverage_visible WHERE run_id = :r) q"),
            {"r": run_id}).one()  # fmt: skip
    rng = np.random.default_rng(seed)
    rand = np.column_stack([rng.uniform(w, e, n // 2), rng.uniform(s, no, n // 2)])
    pts = np.vstack([np.asarray(seen, dtype=float).reshape(-1, 2), rand])
    return pts[rng.permutation(len(pts))]


async def _http(base: str, token: str, pts: np.ndarray, batch: np.ndarray,
                batch_calls: int) -> dict[str, list[float]]:  # fmt: skip
    import aiohttp

    out: dict[str, list[float]] = {"get": [], "batch_first": [], "batch": []}
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as s:
        for lon, lat in pts[:20]:  # warm-up: connections, pools
            async with s.get(f"{base}/coverage/which-cameras?lon={lon}&lat={lat}") as r:
                await r.read()
        for lon, lat in pts:
            t = time.perf_counter()
            async with s.get(f"{base}/coverage/which-cameras?lon={lon}&lat={lat}") as r:
                await r.read()
                assert r.status == 200, await r.text()
            out["get"].append((time.perf_counter() - t) * 1000)
        body = json.dumps({"points": batch.tolist()}).encode()
        for k in range(batch_calls + 1):
            t = time.perf_counter()
            async with s.post(f"{base}/coverage/which-cameras", data=io.BytesIO(body),
                              headers={"Content-Type": "application/json"}) as r:  # fmt: skip
                await r.read()
                assert r.status == 200, await r.text()
            out["batch_first" if k == 0 else "batch"].append(time.perf_counter() - t)
    return out


def measure(url: str, n_requests: int = 500, n_batch: int = 100_000,
            batch_calls: int = 3) -> list[tuple[str, float, float, str]]:  # fmt: skip
    """Rows (measure, median, p95, unit) for the store at ``url`` (latest run)."""
    engine = sqlalchemy.create_engine(url)
    port = _free_port()
    server = None
    try:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE coverage_visible"))
            run_id = latest_run(conn)
            assert run_id is not None, "no coverage run in this store"
            token = create_token(conn, f"bench-{time.time_ns()}", user_name="bench",
                                 role="investigator", jurisdiction_code=None,
                                 clearance=1000)  # fmt: skip  # whole city, every camera
        pts = sample_points(engine, run_id, n_requests)
        batch = sample_points(engine, run_id, n_batch, seed=2)
        env = {**os.environ, "DATABASE_URL": url, "SIGHTLINE_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/sightline"), "api", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    err = server.stderr.read() if server.stderr else ""
                    raise RuntimeError(f"sightline api did not start: {err}") from None
                time.sleep(0.2)
        direct: list[float] = []
        gist: list[float] = []
        with engine.connect() as conn:
            for lon, lat in pts:
                t = time.perf_counter()
                cameras_seeing(conn, run_id, float(lon), float(lat), EVERYTHING)
                direct.append((time.perf_counter() - t) * 1000)
                t = time.perf_counter()
                conn.execute(text(
                    "SELECT id FROM coverage_visible WHERE run_id = :r AND "
                    "ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))"),
                    {"r": run_id, "x": float(lon), "y": float(lat)}).all()  # fmt: skip
                gist.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            conn.execute(text(
                "SELECT p.i, v.camera_ref, v.level FROM unnest(:xs, :ys) WITH ORDINALITY "
                "AS p(x, y, i) JOIN coverage_visible v ON v.run_id = :r AND "
                "ST_Covers(v.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))"),
                {"xs": batch[:, 0].tolist(), "ys": batch[:, 1].tolist(), "r": run_id},
            ).all()  # fmt: skip
            join_s = time.perf_counter() - t
        http = asyncio.run(_http(base, token, pts, batch, batch_calls))
        index = VisibleIndex.load(engine, run_id)
        lookups = []
        for _ in range(batch_calls):
            t = time.perf_counter()
            index.lookup(batch[:, 0], batch[:, 1])
            lookups.append(time.perf_counter() - t)
        return [
            ("which-cameras GET via HTTP, 1 point (ms)", statistics.median(http["get"]),
             _pct(http["get"], 95), "ms"),
            ("  same query called directly (ms)", statistics.median(direct), _pct(direct, 95),
             "ms"),
            ("  bare GiST ST_Covers lookup (ms, baseline)", statistics.median(gist),
             _pct(gist, 95), "ms"),
            (f"batch POST {n_batch:,} points, first call: load + lookup (s)",
             http["batch_first"][0], http["batch_first"][0], "s"),
            (f"batch POST {n_batch:,} points, next calls (s)", statistics.median(http["batch"]),
             max(http["batch"]), "s"),
            (f"  in-memory lookup of {n_batch:,} points alone (s)", statistics.median(lookups),
             max(lookups), "s"),
            ("  index load of the run (s)", index.load_s, index.load_s, "s"),
            (f"  one PostGIS join of {n_batch:,} points (s, baseline)", join_s, join_s, "s"),
        ]  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        engine.dispose()


def print_rows(rows: list[tuple[str, float, float, str]]) -> None:
    print(f"{'measure':<58}{'median':>10}{'p95/max':>10}")
    print("-" * 78)
    for name, med, p95, _unit in rows:
        print(f"{name:<58}{med:>10.3f}{p95:>10.3f}")
    print("-" * 78)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="DATABASE_URL of a store with a coverage run")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--batch", type=int, default=100_000)
    args = parser.parse_args(argv)
    rows: list[Any] = measure(args.url, args.requests, args.batch)
    print_rows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
