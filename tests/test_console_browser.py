"""The console in a real browser (Debian Chromium via Playwright): every camera is on the map,
and the page talks to nobody but our own server."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import Engine, text
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from settings import Settings
from store.queries import map_frames
from tests import console_frames as cf

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOT_NAME = "console.png"  # in test-artefacts/ (conftest `artefacts_dir`)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
RENDER_TIMEOUT_MS = 30_000

# Cameras on the map = SVG circles of single cameras + the exact counts of cluster icons.
COUNT_CAMERAS_JS = """() => {
    const single = document.querySelectorAll("path.sl-camera").length;
    let clustered = 0;
    document.querySelectorAll(".sl-camera-cluster [data-count]")
        .forEach((el) => { clustered += Number(el.dataset.count); });
    return {single: single, clustered: clustered, total: single + clustered};
}"""


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # one line per request on stderr is noise here; errors are still logged


@contextmanager
def serving(frames: dict[str, gpd.GeoDataFrame]) -> Iterator[str]:
    """Serve the console app built from ``frames`` on a free 127.0.0.1 port; yield its URL."""
    app = create_app(Settings(basemap_url=None), frames)
    server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="console-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def chromium_page(requests: list[str], page_errors: list[str]) -> Iterator[Page]:
    """A headless Debian-Chromium page recording every request URL and uncaught JS error."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian chromium (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.on("request", lambda req: requests.append(req.url))
            page.on("pageerror", lambda exc: page_errors.append(f"{exc}\n{exc.stack}"))
            yield page
        finally:
            browser.close()


def wait_for_cameras(page: Page, expected: int, failure_shot: Path) -> dict[str, int]:
    """Wait until the map shows ``expected`` cameras (single + clustered); fail with the count."""
    page.wait_for_selector("#map.leaflet-container", timeout=RENDER_TIMEOUT_MS)
    try:
        page.wait_for_function(
            f"() => ({COUNT_CAMERAS_JS})().total === {expected}", timeout=RENDER_TIMEOUT_MS
        )
    except PlaywrightError:
        found = page.evaluate(COUNT_CAMERAS_JS)
        page.screenshot(path=str(failure_shot))
        pytest.fail(f"{expected} cameras expected on the map, found {found} (see {failure_shot})")
    counts: dict[str, int] = page.evaluate(COUNT_CAMERAS_JS)
    return counts


def assert_only_local(requests: list[str]) -> None:
    # data: URLs are Leaflet's inlined control icons, not network requests.
    hosts = {urllib.parse.urlsplit(u).hostname for u in requests if not u.startswith("data:")}
    assert hosts <= LOCAL_HOSTS, sorted(u for u in requests if "127.0.0.1" not in u)
    assert any("async-GeoJSON" in u for u in requests)  # the lazy chunk came from us too


@pytest.fixture
def console_frames(demo_engine: Engine) -> dict[str, gpd.GeoDataFrame]:
    """The frames the console is built from: the Monaco demo city read back from PostGIS."""
    return map_frames(demo_engine)


def test_every_camera_is_on_the_map_and_nothing_leaves_localhost(
    console_frames: dict[str, gpd.GeoDataFrame], demo_engine: Engine, artefacts_dir: Path
) -> None:
    with demo_engine.connect() as conn:
        expected = int(conn.execute(text("SELECT count(*) FROM cameras")).scalar_one())
    assert expected > 300  # the real demo city, not a toy
    requests: list[str] = []
    page_errors: list[str] = []
    started = time.perf_counter()
    with serving(console_frames) as url, chromium_page(requests, page_errors) as page:
        page.goto(url)
        wait_for_cameras(page, expected, artefacts_dir / "console-failed.png")
        # The plain basemap (land) and the buildings are drawn too.
        page.wait_for_selector(".leaflet-sl-land-pane path", state="attached")
        page.wait_for_selector(".leaflet-sl-buildings-pane path", state="attached")
        header = page.inner_text("header")
        page.screenshot(path=str(artefacts_dir / SCREENSHOT_NAME))
    elapsed_s = time.perf_counter() - started

    assert page_errors == []
    assert f"{expected} camera" in header
    assert_only_local(requests)
    print(f"browser check of {expected} cameras took {elapsed_s:.1f} s")


def test_dense_cameras_cluster_without_losing_any(artefacts_dir: Path) -> None:
    frames = cf.small_frames()
    rng = np.random.default_rng(28181)
    n_dense = 250
    dense = cf.cameras().iloc[[0] * n_dense].reset_index(drop=True)
    dense["id"] = np.arange(1000, 1000 + n_dense)
    dense["device_id"] = [f"310101000013200{i:05d}" for i in range(1000, 1000 + n_dense)]
    # Within ~40 m of one spot: one or a few cluster icons at the city view.
    dense["geometry"] = gpd.points_from_xy(
        7.4200 + rng.normal(0, 0.0003, n_dense), 43.7320 + rng.normal(0, 0.0002, n_dense)
    )
    frames["cameras"] = gpd.GeoDataFrame(
        pd.concat([frames["cameras"], dense], ignore_index=True), crs=4326
    )
    requests: list[str] = []
    page_errors: list[str] = []
    with serving(frames) as url, chromium_page(requests, page_errors) as page:
        page.goto(url)
        counts = wait_for_cameras(page, len(frames["cameras"]), artefacts_dir / "dense-failed.png")
        assert counts["clustered"] >= n_dense * 0.9  # the dense ones really are clustered
        # Outline by kind survives dash-leaflet's restyling of clustered layers.
        high_point = page.query_selector("path.sl-camera.sl-kind-high_point")
        assert high_point is not None
        assert high_point.get_attribute("stroke-width") == "3"
        # A single camera shows its tooltip on hover.
        page.hover("path.sl-camera.sl-status-fault")
        tooltip = page.wait_for_selector(".leaflet-tooltip", timeout=RENDER_TIMEOUT_MS)
        assert tooltip is not None
        assert "Casino <tower>" in tooltip.inner_text() and "status: fault" in tooltip.inner_text()
        page.screenshot(path=str(artefacts_dir / "console-clustered.png"))
    assert page_errors == []
    assert_only_local(requests)
