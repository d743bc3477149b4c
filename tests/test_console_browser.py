"""The console in a real browser (Debian Chromium via Playwright): every camera is on the map,
and the page talks to nobody but our own server. A city admin logs in first."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import Engine, create_engine, text

from settings import Settings
from store import migrate
from tests import console_frames as cf
from tests.console_auth import load_frames, login_page, make_user, serving

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
def small_city(pg_cluster: Any) -> Iterator[Engine]:
    """A store of its own holding the hand-made frames plus 250 cameras within ~40 m."""
    name = "console_dense"
    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(pg_cluster.url(name))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_every_camera_is_on_the_map_and_nothing_leaves_localhost(
    demo_engine: Engine, artefacts_dir: Path
) -> None:
    with demo_engine.connect() as conn:
        expected = int(conn.execute(text("SELECT count(*) FROM cameras")).scalar_one())
    assert expected > 300  # the real demo city, not a toy
    requests: list[str] = []
    page_errors: list[str] = []
    started = time.perf_counter()
    admin = make_user(demo_engine, "admin", clearance=10)  # social cameras too
    with serving(Settings(basemap_url=None), demo_engine) as url, \
            chromium_page(requests, page_errors) as page:  # fmt: skip
        login_page(page, url, admin)
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


def test_dense_cameras_cluster_without_losing_any(small_city: Engine, artefacts_dir: Path) -> None:
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
    load_frames(small_city, frames)
    admin = make_user(small_city, "admin")
    requests: list[str] = []
    page_errors: list[str] = []
    with serving(Settings(basemap_url=None), small_city) as url, \
            chromium_page(requests, page_errors) as page:  # fmt: skip
        login_page(page, url, admin)
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
