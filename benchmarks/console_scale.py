"""Benchmark: the map console with 100k and 1M cameras in headless Chromium, against stock
dash-leaflet (default markers; client-side clustering) measured in the same run.

For each size a seeded synthetic 20 x 20 km city (four districts, cameras clustered round 300
hot spots plus a uniform share, 5 % not online) is COPYd into a throw-away PostGIS cluster.
Three ways to show its cameras, each served by its own process on 127.0.0.1:

* ``markers``: a minimal Dash app, one ``dl.GeoJSON`` (data by URL, gzip) with dash-leaflet's
  default markers; a click on a marker fills a panel through a server callback. Run on a
  ``--markers-at`` city (20k): at 100k its page does not paint within minutes and its frozen
  renderer blocks the run.
* ``cluster``: the same with ``cluster=True`` (supercluster in the browser).
* ``tiles``: the real console (``app.create_app``; logged in as a whole-city admin, live
  health poll on), whose camera layer comes as tiles (``pages/device_tiles.py``); while it runs
  the benchmark changes the status of 200 cameras every 2 s (deltas reach the page).

Per run (a fresh browser context and session; one server per variant and size, so run 1 meets
cold server caches and the later runs warm ones — the per-run lines show both):
first view (navigation start -> the visible cameras drawn), click -> panel (median of 5 clicks
on cameras at zoom 18), pan (map.panBy 300 px -> the second animation frame after it; median of
6), the longest main-thread task of the run (PerformanceObserver ``longtask``), JS heap after a
forced GC (CDP ``Runtime.getHeapUsage``) and the bytes on the wire until the first view (CDP
``encodedDataLength``). Medians over ``--runs``; the table gives the ratio to ``cluster``.

    .venv/bin/python benchmarks/console_scale.py [--sizes 100000,1000000] [--runs 3]
        [--marker-timeout 60] [--seed 1]
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing as mp
import os
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import requests
import shapely
import sqlalchemy
from pyproj import Transformer
from sqlalchemy import Engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from coverage_city100k import copy_table  # noqa: E402 - sibling benchmark
from import_csv import machine_info  # noqa: E402

from gis.gb28181 import make_device_id  # noqa: E402
from store import migrate  # noqa: E402
from store.cluster import LocalCluster  # noqa: E402
from store.engine import ensure_database  # noqa: E402

CITY_M = 20_000.0
METRIC_CRS = "EPSG:32632"
CENTRE_LONLAT = (7.4, 43.7)
KINDS = ("road", "community", "social", "high_point")
KIND_P = (0.45, 0.4, 0.1, 0.05)
STATUSES = ("online", "offline", "fault", "unknown")
STATUS_P = (0.95, 0.025, 0.015, 0.01)
VIEWPORT = {"width": 1400, "height": 900}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
TARGETS = {"first_s": 1.5, "click_ms": 150.0, "pan_ms": 50.0, "freeze_ms": 500.0,
           "heap_mb": 100.0, "first_mb": 5.0}  # fmt: skip
KEY = "console-scale-bench-key"

INIT_JS = """
window.__b = {longest: 0, longtasks: 0, clickAt: null, panelAt: null};
try {
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
            window.__b.longest = Math.max(window.__b.longest, e.duration);
            window.__b.longtasks += 1;
        }
    }).observe({type: "longtask", buffered: true});
} catch (e) { window.__b.noLongtask = String(e); }
document.addEventListener("click", () => { window.__b.clickAt = performance.now(); }, true);
"""
HOOK_JS = """
if (window.L && window.L.Map) {
    window.L.Map.addInitHook(function () { this.getContainer().sightlineMap = this; });
}
"""


# -- the city ----------------------------------------------------------------------------------
def city_rows(n: int, seed: int) -> tuple[list[tuple[Any, ...]], Any, np.ndarray]:
    """Jurisdiction rows, camera rows (a generator) and the cameras' lon/lat (n x 2)."""
    rng = np.random.default_rng(seed)
    n_hot = int(n * 0.7)
    centres = rng.uniform(1000, CITY_M - 1000, (300, 2))
    sigma = rng.uniform(200, 800, 300)
    pick = rng.integers(0, 300, n_hot)
    hot = centres[pick] + rng.normal(size=(n_hot, 2)) * sigma[pick, None]
    flat = rng.uniform(0, CITY_M, (n - n_hot, 2))
    xy = np.clip(np.vstack([hot, flat]), 1.0, CITY_M - 1.0)
    xy = xy[rng.permutation(n)]
    tr = Transformer.from_crs(METRIC_CRS, 4326, always_xy=True)
    cx, cy = Transformer.from_crs(4326, METRIC_CRS, always_xy=True).transform(*CENTRE_LONLAT)
    x0, y0 = cx - CITY_M / 2, cy - CITY_M / 2
    lon, lat = tr.transform(xy[:, 0] + x0, xy[:, 1] + y0)
    lonlat = np.column_stack([lon, lat])

    def box(a: float, b: float, c: float, d: float) -> Any:
        xs, ys = tr.transform(np.array([a, c, c, a, a]) + x0, np.array([b, b, d, d, b]) + y0)
        return shapely.MultiPolygon([shapely.Polygon(np.column_stack([xs, ys]))])

    half = CITY_M / 2
    jur: list[tuple[Any, ...]] = [(1, "990100", "Synthetic City", "city", None,
                                   box(0, 0, CITY_M, CITY_M))]  # fmt: skip
    quads = [(0, 0, half, half), (half, 0, CITY_M, half), (0, half, half, CITY_M),
             (half, half, CITY_M, CITY_M)]  # fmt: skip
    for k, q in enumerate(quads):
        jur.append((2 + k, f"99010{k + 1}", f"District {k + 1}", "district", 1, box(*q)))
    dist = 2 + (xy[:, 0] >= half).astype(int) + 2 * (xy[:, 1] >= half).astype(int)
    kinds = np.array(KINDS, dtype=object)[rng.choice(4, n, p=KIND_P)]
    statuses = np.array(STATUSES, dtype=object)[rng.choice(4, n, p=STATUS_P)]
    points = shapely.points(lonlat)
    units = ["99010101", "99010102"]
    cams = ((i + 1, make_device_id(units[i // 999_999], "00", "132", 0, i % 999_999 + 1),
             f"Camera {i + 1}", kinds[i], "fixed", statuses[i], int(dist[i]), points[i])
            for i in range(n))  # fmt: skip
    return jur, cams, lonlat


def load(engine: Engine, n: int, seed: int) -> np.ndarray:
    jur, cams, lonlat = city_rows(n, seed)
    conn = engine.raw_connection()
    try:
        raw = conn.driver_connection
        copy_table(raw, "jurisdictions", ("id", "code", "name", "level", "parent_id", "geom"),
                   jur)  # fmt: skip
        copy_table(raw, "cameras", ("id", "device_id", "name", "kind", "camera_type", "status",
                                    "jurisdiction_id", "geom"), cams)  # fmt: skip
        with raw.cursor() as cur:
            for t in ("jurisdictions", "cameras"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), "
                            f"(SELECT max(id) FROM {t}))")  # fmt: skip
        conn.commit()
    finally:
        conn.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE"))
    return lonlat


# -- servers (each in its own process) ---------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(server_app: Any, port: int) -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *a: Any, **k: Any) -> None:
            pass

    make_server("127.0.0.1", port, server_app, threaded=True,
                request_handler=Quiet).serve_forever()  # fmt: skip


def serve_console(url: str, port: int) -> None:
    from app import create_app
    from settings import Settings

    engine = sqlalchemy.create_engine(url, pool_size=8)
    settings = Settings(basemap_url=None, stream_signing_key=KEY,  # type: ignore[call-arg]
                        gateway_url="http://127.0.0.1:9", health_interval_s=2.0)  # fmt: skip
    _run(create_app(settings, engine).server, port)


def serve_baseline(url: str, port: int, cluster: bool, assets: str) -> None:
    import dash
    import dash_leaflet as dl
    import flask
    from dash import Input, Output, html

    engine = sqlalchemy.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT device_id, kind, status, ST_X(geom), ST_Y(geom) "
                                 "FROM cameras ORDER BY id")).all()  # fmt: skip
        b = conn.execute(text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                              "(SELECT ST_Extent(geom) e FROM jurisdictions) q")).one()  # fmt: skip
    feats = ",".join(
        f'{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{x:.6f},{y:.6f}]}},'
        f'"properties":{{"device_id":"{d}","kind":"{k}","status":"{s}"}}}}'
        for d, k, s, x, y in rows
    )
    packed = gzip.compress(f'{{"type":"FeatureCollection","features":[{feats}]}}'.encode(), 5)
    app = dash.Dash(__name__, serve_locally=True, assets_folder=assets)
    bounds = [[b[1], b[0]], [b[3], b[2]]]
    app.layout = html.Div([
        dl.MapContainer(
            [dl.GeoJSON(id="cams", url="/cams.geojson", cluster=cluster,
                        superClusterOptions={"radius": 40, "maxZoom": 16},
                        zoomToBoundsOnClick=True)],
            id="map", bounds=bounds, center=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2],
            boundsOptions={"padding": [20, 20]}, style={"height": "860px"}, maxZoom=19),
        html.Div(id="panel"),
    ])  # fmt: skip

    @app.callback(Output("panel", "children"), Input("cams", "clickData"),
                  prevent_initial_call=True)  # fmt: skip
    def _panel(feature: dict[str, Any] | None) -> str:
        props = (feature or {}).get("properties") or {}
        if props.get("cluster"):
            raise dash.exceptions.PreventUpdate
        return f"clicked {props.get('device_id')}"

    @app.server.route("/cams.geojson")
    def _data() -> flask.Response:
        resp = flask.make_response(packed)
        resp.headers["Content-Encoding"] = "gzip"
        resp.headers["Content-Type"] = "application/json"
        return resp

    _run(app.server, port)


class Server:
    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        self.port = _free_port()
        ctx = mp.get_context("spawn")
        self.proc = ctx.Process(target=target, args=(*args[:1], self.port, *args[1:]),
                                daemon=True)  # fmt: skip
        self.proc.start()
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.base}/login", timeout=2)
                return
            except requests.ConnectionError:
                if not self.proc.is_alive():
                    raise RuntimeError("server process died") from None
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join(10)


# -- browser measurements ------------------------------------------------------------------------
def _median(xs: list[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def measure(
    browser: Any, base: str, variant: str, lonlat: np.ndarray, seed: int, timeout_s: float,
    cookies: list[dict[str, Any]] | None,
) -> dict[str, float]:  # fmt: skip
    """One run of one variant in a fresh context; figures in s / ms / MB."""
    ctx = browser.new_context(viewport=VIEWPORT)
    if cookies:
        ctx.add_cookies(cookies)
    page = ctx.new_page()
    page.add_init_script(INIT_JS)
    cdp = ctx.new_cdp_session(page)
    cdp.send("Network.enable")
    wire = {"bytes": 0.0, "data": 0.0}
    urls: dict[str, str] = {}
    static = ("/_dash-component-suites/", "/assets/", "/_favicon")

    def finished(e: dict[str, Any]) -> None:
        size = float(e.get("encodedDataLength", 0))
        wire["bytes"] += size
        if not any(p in urls.get(e.get("requestId", ""), "") for p in static):
            wire["data"] += size

    cdp.on("Network.responseReceived",
           lambda e: urls.__setitem__(e["requestId"], e["response"]["url"]))
    cdp.on("Network.loadingFinished", finished)
    out: dict[str, float] = {}
    try:
        page.goto(f"{base}/", wait_until="commit", timeout=60_000)
        if variant == "tiles":
            ready = "() => window.sightline && window.sightline.deviceTiles.firstLoad"
        else:
            ready = ("() => { if (document.querySelector('#map .leaflet-marker-icon')) {"
                     " window.__b.fv = window.__b.fv || performance.now(); return true; }"
                     " return false; }")  # fmt: skip
        try:
            page.wait_for_function(ready, polling="raf", timeout=timeout_s * 1000)
        except Exception:  # noqa: BLE001 - a baseline that never paints is a result
            # Its main thread is still busy: nothing can be read from the page any more (an
            # evaluate would wait for it); the longest task is at least the wait.
            out["first_s"] = float("inf")
            out["first_mb"] = wire["bytes"] / 1e6
            out["data_mb"] = wire["data"] / 1e6
            out["freeze_ms"] = float("inf")
            return out
        first = page.evaluate("() => window.__b.fv || window.sightline.deviceTiles.firstLoad")
        out["first_s"] = float(first) / 1000
        out["first_mb"] = wire["bytes"] / 1e6
        out["data_mb"] = wire["data"] / 1e6
        page.wait_for_timeout(500)
        # Pan: map.panBy -> the second animation frame after it.
        pans = []
        for i in range(6):
            dx = 300 if i % 2 == 0 else -300
            pans.append(float(page.evaluate("""(dx) => new Promise((done) => {
                const m = document.getElementById("map").sightlineMap;
                const t0 = performance.now();
                m.panBy([dx, 0], {animate: false});
                requestAnimationFrame(() => requestAnimationFrame(
                    () => done(performance.now() - t0)));
            })""", dx)))
            page.wait_for_timeout(400)
        out["pan_ms"] = _median(pans)
        # Click -> panel: cameras at zoom 18.
        rng = np.random.default_rng(seed)
        panel = "#video-panel" if variant == "tiles" else "#panel"
        clicks = []
        for idx in rng.choice(len(lonlat), 5, replace=False):
            lon, lat = (float(v) for v in lonlat[idx])
            loads = page.evaluate("() => window.sightline && window.sightline.deviceTiles ?"
                                  " window.sightline.deviceTiles.loads : 0")  # fmt: skip
            page.evaluate("([lat, lon]) => { document.getElementById('map').sightlineMap"
                          ".setView([lat, lon], 18, {animate: false}); }", [lat, lon])  # fmt: skip
            if variant == "tiles":
                page.wait_for_function(f"() => window.sightline.deviceTiles.loads > {loads}",
                                       timeout=30_000)  # fmt: skip
            else:
                page.wait_for_timeout(1500)
            x, y = page.evaluate("""([lat, lon]) => {
                const m = document.getElementById("map").sightlineMap;
                const p = m.latLngToContainerPoint([lat, lon]);
                const r = m.getContainer().getBoundingClientRect();
                return [r.x + p.x, r.y + p.y]; }""", [lat, lon])  # fmt: skip
            if variant != "tiles":
                y -= 20  # a default marker's icon stands above its point
            before = page.inner_text(panel) if page.query_selector(panel) else ""
            page.evaluate("() => { window.__b.clickAt = null; }")
            page.mouse.click(x, y)
            try:
                page.wait_for_function(
                    f"""(before) => {{ const el = document.querySelector("{panel}");
                    if (el && el.innerText && el.innerText !== before) {{
                        window.__b.panelAt = performance.now(); return true; }}
                    return false; }}""", arg=before, polling="raf", timeout=10_000)  # fmt: skip
            except Exception:  # noqa: BLE001 - the click hit nothing: no figure
                continue
            clicks.append(float(page.evaluate("() => window.__b.panelAt - window.__b.clickAt")))
        out["click_ms"] = _median(clicks)
        out["clicks_ok"] = float(len(clicks))
        out["freeze_ms"] = float(page.evaluate("() => window.__b.longest"))
        cdp.send("HeapProfiler.collectGarbage")
        out["heap_mb"] = float(cdp.send("Runtime.getHeapUsage")["usedSize"]) / 1e6
        return out
    finally:
        ctx.close()


def login_cookies(base: str, name: str, password: str) -> list[dict[str, Any]]:
    import re

    s = requests.Session()
    form = s.get(f"{base}/login", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    r = s.post(f"{base}/login", data={"name": name, "password": password, "csrf": csrf.group(1),
                                      "next": "/"}, allow_redirects=False, timeout=30)  # fmt: skip
    assert r.status_code == 303, r.text[:300]
    return [{"name": c.name, "value": c.value or "", "url": base} for c in s.cookies
            if c.name in ("sightline_session", "_csrf_token")]  # fmt: skip


def live_status(url: str, stop: threading.Event, n: int) -> None:
    """200 status changes every 2 s while the console is measured (the health poll's deltas)."""
    engine = sqlalchemy.create_engine(url)
    rng = np.random.default_rng(99)
    try:
        while not stop.wait(2.0):
            ids = [int(i) for i in rng.integers(1, n + 1, 200)]
            with engine.begin() as conn:
                conn.execute(text("""
                    WITH c AS (UPDATE cameras SET status = CASE WHEN status = 'online'
                        THEN 'offline' ELSE 'online' END WHERE id = ANY(:ids)
                        RETURNING id, status)
                    INSERT INTO camera_health_events (camera_id, at, status, previous_status)
                    SELECT id, now(), status, NULL FROM c"""), {"ids": ids})
    finally:
        engine.dispose()


# -- the table -----------------------------------------------------------------------------------
COLS = (("first_s", "first view s", "{:.2f}"), ("click_ms", "click→panel ms", "{:.0f}"),
        ("pan_ms", "pan ms", "{:.1f}"), ("freeze_ms", "longest task ms", "{:.0f}"),
        ("heap_mb", "JS heap MB", "{:.1f}"), ("first_mb", "wire MB 1st view", "{:.2f}"),
        ("data_mb", "of which data MB", "{:.2f}"))  # fmt: skip


def _fmt(fmt: str, v: float) -> str:
    if v != v:
        return "—"
    if v == float("inf"):
        return "never" if fmt == "{:.2f}" else "frozen"
    return fmt.format(v)


def print_table(results: dict[tuple[int, str], list[dict[str, float]]], timeout_s: float) -> None:
    print()
    head = f"{'cameras':>9} {'variant':<8} {'runs':>4} " + " ".join(f"{h:>20}" for _, h, _ in COLS)
    print(head)
    print("-" * len(head))
    for (n, variant), runs in sorted(results.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        med = {k: _median([r[k] for r in runs if k in r]) for k, _, _ in COLS}
        base = results.get((n, "cluster"))
        bmed = {k: _median([r[k] for r in base if k in r]) for k, _, _ in COLS} if base else {}
        cells = []
        for k, _, fmt in COLS:
            cell = _fmt(fmt, med[k])
            vals = [r[k] for r in runs if k in r]
            if len(vals) > 1 and all(np.isfinite(vals)):
                cell += f" [{_fmt(fmt, min(vals))}–{_fmt(fmt, max(vals))}]"
            if variant != "cluster" and bmed.get(k) and np.isfinite(med[k]) \
                    and np.isfinite(bmed[k]) and bmed[k] > 0:  # fmt: skip
                cell += f" ×{med[k] / bmed[k]:.2f}"
            cells.append(f"{cell:>20}")
        print(f"{n:>9,} {variant:<8} {len(runs):>4} " + " ".join(cells))
    print(f"targets (100k and 1M): first view ≤ {TARGETS['first_s']} s, click→panel ≤ "
          f"{TARGETS['click_ms']:.0f} ms, pan ≤ {TARGETS['pan_ms']:.0f} ms, longest task ≤ "
          f"{TARGETS['freeze_ms']:.0f} ms, heap ≤ {TARGETS['heap_mb']:.0f} MB, ≤ "
          f"{TARGETS['first_mb']:.0f} MB compressed for the first view")
    print(f"'never': not painted within {timeout_s:.0f} s ('frozen': its main thread was still "
          "busy, nothing more measurable). ×r: median / the same size's cluster "
          "median. [min–max] over the runs.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--marker-timeout", type=float, default=60.0)
    parser.add_argument("--markers-at", type=int, default=20_000,
                        help="city size for the default-markers baseline (0: at every size); "
                             "at 100k its page never paints and cannot be closed cleanly")
    parser.add_argument("--variants", default="markers,cluster,tiles")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    variants = args.variants.split(",")
    plan = {n: [v for v in variants if v != "markers" or not args.markers_at] for n in sizes}
    if args.markers_at and "markers" in variants:
        plan = {args.markers_at: ["markers"], **plan}

    from playwright.sync_api import sync_playwright

    from store.users import create_user

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
          flush=True)  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="sightline-bench-", dir="/tmp"))
    workdir.chmod(0o755)
    assets = workdir / "assets"
    assets.mkdir()
    (assets / "hook.js").write_text(HOOK_JS)
    cluster: LocalCluster | None = None
    engines: list[Engine] = []
    results: dict[tuple[int, str], list[dict[str, float]]] = {}
    try:
        cluster = LocalCluster(workdir / "pg")
        cluster.start()
        ensure_database(cluster)
        admin_engine = sqlalchemy.create_engine(cluster.url("postgres"),
                                                isolation_level="AUTOCOMMIT")  # fmt: skip
        engines.append(admin_engine)
        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            for n, size_variants in plan.items():
                name = f"scale_{n}"
                with admin_engine.connect() as c:
                    c.execute(text(f'CREATE DATABASE "{name}"'))
                url = cluster.url(name)
                engine = sqlalchemy.create_engine(url)
                engines.append(engine)
                with engine.begin() as c:
                    c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
                migrate.upgrade(engine)
                t = time.perf_counter()
                lonlat = load(engine, n, args.seed)
                print(f"setup: {n:,} cameras loaded in {time.perf_counter() - t:.1f} s",
                      flush=True)  # fmt: skip
                with engine.begin() as c:
                    password = create_user(c, "bench-admin", "admin", clearance=10)
                for variant in size_variants:
                    runs = 1 if variant == "markers" else args.runs
                    timeout = args.marker_timeout if variant == "markers" else 120.0
                    # One server per variant and size, started before the runs (not timed):
                    # run 1 meets its cold caches, the later runs a warm server.
                    stop = threading.Event()
                    th = None
                    if variant == "tiles":
                        server = Server(serve_console, url)
                        th = threading.Thread(target=live_status, args=(url, stop, n))
                        th.start()
                    else:
                        server = Server(serve_baseline, url, variant == "cluster", str(assets))
                    try:
                        for i in range(runs):
                            cookies = login_cookies(server.base, "bench-admin", password) \
                                if variant == "tiles" else None  # fmt: skip
                            r = measure(browser, server.base, variant, lonlat, args.seed + i,
                                        timeout, cookies)  # fmt: skip
                            r["load1"] = os.getloadavg()[0]
                            results.setdefault((n, variant), []).append(r)
                            print(f"{n:,} {variant} run {i + 1}: "
                                  + ", ".join(f"{k} {v:.3g}" for k, v in r.items()), flush=True)
                    finally:
                        stop.set()
                        if th is not None:
                            th.join()
                        server.stop()
        finally:
            browser.close()
            pw.stop()
        print_table(results, args.marker_timeout)
        for line in machine_info(engines[-1]):
            print(line)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        if results:
            print_table(results, args.marker_timeout)
        return 130
    finally:
        for e in engines:
            e.dispose()
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
