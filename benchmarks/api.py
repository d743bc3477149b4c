"""Benchmark: the HTTP API on a 100k-camera city (issue 11's figures), localhost.

Starts a throw-away PostGIS cluster, loads the seeded synthetic city of
``benchmarks/coverage_city100k.py`` (100k cameras, 200k buildings, four districts), runs one
coverage run, then starts ``sightline api`` and a bare aiohttp 'hello' server, each in its
own process, and measures with an aiohttp client in this process (keep-alive):

- items of the cameras collection inside a random ~3 x 3 km bbox, pages of 1,000 followed by
  their next links (first pages also count numberMatched): p50/p95 per page, against the same
  store query called directly (``store.features.items``);
- which-cameras for one point (GET): p50/p95, against ``store.coverage.cameras_seeing``;
- alarm intake (POST /alarms -> cameras with signed stream URLs, an alarm row and an audit
  entry per call): p50/p95, against ``api.alarms.intake`` called directly;
- a GET of the hello server (the HTTP floor of this machine) for the sequential figures;
- 200 concurrent clients (each its own token, default rate limits) for --seconds s on
  which-cameras, and the same on the hello server: requests/s, errors.

    .venv/bin/python benchmarks/api.py [--cameras 100000] [--buildings 200000] [--seconds 30]
        [--clients 200] [--pages 200] [--requests 500] [--alarms 300] [--seed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy
from sqlalchemy import Engine, text

ROOT = Path(__file__).resolve().parents[1]
# this file is benchmarks/api.py: the project's `api` package must come before it on the path
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]
if sys.path[2:3] == [str(Path(__file__).resolve().parent)]:
    del sys.path[2]
from coverage_city100k import build_city, load_city  # noqa: E402 - sibling benchmarks
from import_csv import machine_info  # noqa: E402
from which_http import _free_port, _pct, sample_points  # noqa: E402

from analysis.coverage_run import run_coverage  # noqa: E402
from api.alarms import intake, parse_alarm  # noqa: E402
from store import migrate  # noqa: E402
from store.cluster import LocalCluster  # noqa: E402
from store.coverage import cameras_seeing, latest_run  # noqa: E402
from store.engine import ensure_database  # noqa: E402
from store.features import COLLECTIONS  # noqa: E402
from store.features import items as store_items  # noqa: E402
from store.scope import EVERYTHING  # noqa: E402
from store.tokens import create_token, verify_token  # noqa: E402

TARGETS_MS = {"items": 30.0, "which": 5.0, "alarm": 10.0}
HELLO = """
import logging, sys
from aiohttp import web
logging.basicConfig(level=logging.WARNING)
async def hello(request):
    return web.Response(text="hello")
app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def _wait_port(port: int, proc: subprocess.Popen[str], what: str) -> None:
    import socket

    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"{what} did not start: {err}") from None
            time.sleep(0.2)


@contextmanager
def servers(url: str) -> Iterator[tuple[str, str]]:
    """``sightline api`` on the store and the hello server; their base URLs."""
    api_port, hello_port = _free_port(), _free_port()
    env = {**os.environ, "DATABASE_URL": url, "SIGHTLINE_LOG_LEVEL": "WARNING",
           "SIGHTLINE_STREAM_SIGNING_KEY": "benchmark-key"}  # fmt: skip
    procs = [
        subprocess.Popen([str(ROOT / ".venv/bin/sightline"), "api", "--host", "127.0.0.1",
                          "--port", str(api_port)], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True),
        subprocess.Popen([sys.executable, "-c", HELLO, str(hello_port)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
    ]  # fmt: skip
    try:
        _wait_port(api_port, procs[0], "sightline api")
        _wait_port(hello_port, procs[1], "hello server")
        yield f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{hello_port}"
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


def boxes(engine: Engine, n: int, side_deg: float, seed: int) -> list[tuple[float, ...]]:
    """``n`` random bboxes of ``side_deg`` inside the cameras' extent."""
    with engine.connect() as conn:
        w, s, e, no = conn.execute(text("SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) "
                                        "FROM (SELECT ST_Extent(geom) x FROM cameras) q")).one()
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(w, e - side_deg, n)
    y0 = rng.uniform(s, no - side_deg, n)
    return [(float(a), float(b), float(a + side_deg), float(b + side_deg)) for a, b in
            zip(x0, y0, strict=True)]  # fmt: skip


async def sequential(api: str, hello: str, tokens: list[str], bbs: list[tuple[float, ...]],
                     pts: np.ndarray, alarm_pts: np.ndarray,
                     n_pages: int) -> dict[str, list[float]]:  # fmt: skip
    """Latencies (ms) of each measure, one request at a time (the tokens taken in turn, so
    that no token reaches its rate limit: this measures latency, not the limiter)."""
    import aiohttp

    out: dict[str, list[float]] = {k: [] for k in ("first", "next", "which", "alarm", "hello")}
    turn = [0]
    async with aiohttp.ClientSession() as s:

        async def timed(key: str, method: str, url: str, **kw: Any) -> Any:
            turn[0] += 1
            headers = {"Authorization": f"Bearer {tokens[turn[0] % len(tokens)]}"}
            t = time.perf_counter()
            async with s.request(method, url, headers=headers, **kw) as r:
                body = await r.read()
                assert r.status < 300, (r.status, body[:300])
            out[key].append((time.perf_counter() - t) * 1000)
            return body

        for _ in range(20):  # warm-up: connections, pools, caches
            await timed("hello", "GET", f"{hello}/")
            await timed("which", "GET", f"{api}/coverage/which-cameras?lon={pts[0][0]}"
                        f"&lat={pts[0][1]}")  # fmt: skip
        for v in out.values():
            v.clear()
        pages = 0
        for bb in bbs:
            url: str | None = (f"{api}/collections/cameras/items?limit=1000&bbox="
                               + ",".join(f"{c:.6f}" for c in bb))  # fmt: skip
            first = True
            while url and pages < n_pages:
                body = json.loads(await timed("first" if first else "next", "GET", url))
                assert body["numberReturned"] <= 1000
                url = next((lk["href"] for lk in body["links"] if lk["rel"] == "next"), None)
                first, pages = False, pages + 1
            if pages >= n_pages:
                break
        for lon, lat in pts:
            await timed("which", "GET", f"{api}/coverage/which-cameras?lon={lon}&lat={lat}")
            await timed("hello", "GET", f"{hello}/")
        for i, (lon, lat) in enumerate(alarm_pts):
            await timed("alarm", "POST", f"{api}/alarms",
                        json={"lon": float(lon), "lat": float(lat), "kind": "110",
                              "external_id": f"bench-{i}"})  # fmt: skip
    return out


async def load(url_of: Callable[[int], str], tokens: list[str], seconds: float) -> dict[str, Any]:
    """``len(tokens)`` clients, each looping requests for ``seconds``: counts and latencies."""
    import aiohttp

    stop = time.perf_counter() + seconds
    ok, errors, lat_ms = 0, 0, []
    statuses: dict[str, int] = {}
    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def client(k: int) -> None:
            nonlocal ok, errors
            headers = {"Authorization": f"Bearer {tokens[k]}"}
            i = k
            while time.perf_counter() < stop:
                t = time.perf_counter()
                try:
                    async with s.get(url_of(i), headers=headers) as r:
                        await r.read()
                        if r.status == 200:
                            ok += 1
                        else:
                            errors += 1
                            statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
                except (aiohttp.ClientError, OSError) as exc:
                    errors += 1
                    statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                lat_ms.append((time.perf_counter() - t) * 1000)
                i += len(tokens)

        t0 = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(len(tokens))))
        wall = time.perf_counter() - t0
    return {"ok": ok, "errors": errors, "statuses": statuses, "rps": ok / wall,
            "p50": statistics.median(lat_ms), "p95": _pct(lat_ms, 95)}


def direct(engine: Engine, token: str, bbs: list[tuple[float, ...]], pts: np.ndarray,
           alarm_pts: np.ndarray, n_pages: int) -> dict[str, list[float]]:  # fmt: skip
    """The same work called in-process, without HTTP (ms)."""
    out: dict[str, list[float]] = {"first": [], "next": [], "which": [], "alarm": []}
    cams = COLLECTIONS["cameras"]
    with engine.connect() as conn:
        run_id = latest_run(conn)
        assert run_id is not None
        pages = 0
        for bb in bbs:
            after, first = None, True
            while pages < n_pages:
                t = time.perf_counter()
                page = store_items(conn, cams, EVERYTHING, bbox=bb, limit=1000, after=after,
                                   count=first)  # fmt: skip
                out["first" if first else "next"].append((time.perf_counter() - t) * 1000)
                pages += 1
                after, first = page.next_after, False
                if after is None:
                    break
            if pages >= n_pages:
                break
        for lon, lat in pts:
            t = time.perf_counter()
            cameras_seeing(conn, run_id, float(lon), float(lat), EVERYTHING)
            out["which"].append((time.perf_counter() - t) * 1000)
    for i, (lon, lat) in enumerate(alarm_pts):
        alarm = parse_alarm({"lon": float(lon), "lat": float(lat), "kind": "110",
                             "external_id": f"direct-{i}"})  # fmt: skip
        t = time.perf_counter()
        with engine.begin() as conn:
            principal = verify_token(conn, token)
            assert principal is not None
            intake(conn, principal, alarm, b"benchmark-key", "http://127.0.0.1:8052", 300)
        out["alarm"].append((time.perf_counter() - t) * 1000)
    return out


def row(label: str, values: list[float], base: list[float] | None, base_name: str,
        target: float | None = None) -> str:  # fmt: skip
    if not values:
        return f"{label:<46}{0:>6}       --       --"
    p50, p95 = statistics.median(values), _pct(values, 95)
    ratio = f"{p50 / statistics.median(base):>6.1f}x {base_name}" if base else ""
    verdict = "" if target is None else f"  target p95 < {target:g} ms: " + (
        "met" if p95 < target else "MISSED")  # fmt: skip
    return f"{label:<46}{len(values):>6}{p50:>9.2f}{p95:>9.2f}  {ratio}{verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=100_000)
    parser.add_argument("--buildings", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pages", type=int, default=200, help="item pages of 1,000")
    parser.add_argument("--box-km", type=float, default=3.0, help="bbox side (km)")
    parser.add_argument("--requests", type=int, default=500, help="which-cameras GETs")
    parser.add_argument("--alarms", type=int, default=300, help="alarm intakes")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="sightline-bench-api-", dir="/tmp"))
    workdir.chmod(0o755)  # the postgres system user must traverse it
    cluster: LocalCluster | None = None
    engine: Engine | None = None
    try:
        t = time.perf_counter()
        cluster = LocalCluster(workdir / "pg")
        cluster.start()
        ensure_database(cluster)
        engine = sqlalchemy.create_engine(cluster.url())
        migrate.upgrade(engine)
        counts, _ = load_city(engine, build_city(args.cameras, args.buildings, args.seed))
        print(f"setup: city loaded in {time.perf_counter() - t:.1f} s "
              f"({', '.join(f'{k} {v:,}' for k, v in counts.items())})", flush=True)
        t = time.perf_counter()
        run_coverage(engine, workers=2)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
            run_id = latest_run(conn)
            assert run_id is not None
            admins = [create_token(conn, f"bench-admin-{k}", user_name="bench", role="admin",
                                   jurisdiction_code=None, clearance=1000)
                      for k in range(100)]  # fmt: skip
            token = admins[0]
            tokens = [create_token(conn, f"bench-{k}-{uuid.uuid4().hex[:6]}", user_name="bench",
                                   role="investigator", jurisdiction_code=None, clearance=1000)
                      for k in range(args.clients)]  # fmt: skip
        print(f"setup: coverage run {run_id} in {time.perf_counter() - t:.1f} s", flush=True)
        side_deg = args.box_km / 111.0
        bbs = boxes(engine, max(1, args.pages), side_deg, args.seed)
        pts = sample_points(engine, run_id, args.requests)
        alarm_pts = sample_points(engine, run_id, args.alarms, seed=3)
        busy = sample_points(engine, run_id, 5000, seed=4)
        base = direct(engine, token, bbs, pts, alarm_pts, args.pages)
        load_before = os.getloadavg()
        with servers(cluster.url()) as (api, hello):
            seq = asyncio.run(sequential(api, hello, admins, bbs, pts, alarm_pts, args.pages))
            def which_url(i: int) -> str:
                lon, lat = busy[i % len(busy)]
                return f"{api}/coverage/which-cameras?lon={lon}&lat={lat}"

            conc_api = asyncio.run(load(which_url, tokens, args.seconds))
            conc_hello = asyncio.run(load(lambda i: f"{hello}/", tokens, args.seconds))
        print()
        print(f"HTTP API on a synthetic city: {counts['cameras']:,} cameras, "
              f"{counts['buildings']:,} buildings, coverage run {run_id}; server "
              f"`sightline api` in its own process, client aiohttp in this one, localhost")
        print(f"{'measure (ms per request)':<46}{'n':>6}{'p50':>9}{'p95':>9}  ratio of p50")
        print("-" * 100)
        print(row(f"items bbox {args.box_km:g} km, page of 1,000: all", seq["first"] + seq["next"],
                  base["first"] + base["next"], "direct", TARGETS_MS["items"]))
        print(row("  first pages (with numberMatched)", seq["first"], base["first"], "direct"))
        print(row("  next pages (keyset)", seq["next"], base["next"], "direct"))
        print(row("  store.features.items direct (baseline)", base["first"] + base["next"],
                  None, ""))
        print(row("which-cameras GET, 1 point", seq["which"], base["which"], "direct",
                  TARGETS_MS["which"]))
        print(row("  cameras_seeing direct (baseline)", base["which"], None, ""))
        print(row("alarm intake POST -> cameras + signed URLs", seq["alarm"], base["alarm"],
                  "direct", TARGETS_MS["alarm"]))
        print(row("  api.alarms.intake direct (baseline)", base["alarm"], None, ""))
        print(row("bare aiohttp hello GET (HTTP floor)", seq["hello"], None, ""))
        print("-" * 100)
        print(f"{args.clients} concurrent clients x {args.seconds:g} s "
              f"(each its own token; api_rate_per_s/api_burst defaults):")
        for name, r in (("which-cameras GET", conc_api), ("bare aiohttp hello GET", conc_hello)):
            print(f"  {name:<26} {r['rps']:>8.0f} req/s  ok {r['ok']:>7}  errors "
                  f"{r['errors']:>4} {r['statuses'] or ''}  latency p50 {r['p50']:.1f} ms "
                  f"p95 {r['p95']:.1f} ms")  # fmt: skip
        print(f"  throughput ratio which-cameras / hello: {conc_api['rps'] / conc_hello['rps']:.2f}"
              f"; target: no errors: {'met' if conc_api['errors'] == 0 else 'MISSED'}")
        print(f"load average at the start {' '.join(f'{x:.1f}' for x in load_start)}, before "
              f"the HTTP measures {' '.join(f'{x:.1f}' for x in load_before)}")
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
