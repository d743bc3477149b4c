"""Helpers for the console's area-tool tests (selection, patrol, assessment, what-if): the real
app in a thread, a logged-in Chromium page, map coordinates ↔ page pixels, and drawing with
the real Leaflet.draw toolbar."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Page, sync_playwright
from sqlalchemy import Engine

from settings import Settings
from tests.console_auth import User, login_page, serving

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
KEY = "console-tools-test-key"
METRIC_CRS = 32632  # Monaco's UTM zone


def settings() -> Settings:
    return Settings(basemap_url=None, stream_signing_key=KEY,
                    gateway_url="http://127.0.0.1:9")  # type: ignore[call-arg]  # fmt: skip


@dataclass
class Browser:
    page: Page
    base: str
    errors: list[str] = field(default_factory=list)


@contextmanager
def console(engine: Engine, users: list[User], *, app: Any = None) -> Iterator[list[Browser]]:
    """The app served in a thread and one logged-in Chromium page per user (1400×900);
    everything is closed again however the block ends (a Playwright left running keeps the
    test process from exiting)."""
    with ExitStack() as stack:
        base = stack.enter_context(serving(settings(), engine, app=app))
        p = sync_playwright().start()
        stack.callback(p.stop)
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        stack.callback(browser.close)
        yield _pages(browser, base, users)


def _pages(browser: Any, base: str, users: list[User]) -> list[Browser]:
    """One logged-in page per user."""
    out = []
    for user in users:
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        b = Browser(page, base)
        page.on("pageerror", lambda exc, b=b: b.errors.append(str(exc)))
        login_page(page, base, user)
        page.wait_for_function(
            "() => document.getElementById('map') && "
            "document.getElementById('map').sightlineMap !== undefined", timeout=30_000)
        page.wait_for_selector(".leaflet-draw-draw-polygon", timeout=30_000)
        out.append(b)
    return out


def set_view(page: Page, lat: float, lon: float, zoom: int) -> None:
    # The braces matter: setView returns the map, which Playwright would serialise.
    page.evaluate("([lat, lon, z]) => { document.getElementById('map').sightlineMap"
                  ".setView([lat, lon], z, {animate: false}); }", [lat, lon, zoom])  # fmt: skip
    page.wait_for_timeout(300)


def to_page(page: Page, lon: float, lat: float) -> tuple[float, float]:
    """Page pixel of a lon/lat (Leaflet's projection of the live view)."""
    x, y = page.evaluate("""([lat, lon]) => {
        const m = document.getElementById("map").sightlineMap;
        const p = m.latLngToContainerPoint([lat, lon]);
        const r = m.getContainer().getBoundingClientRect();
        return [r.x + p.x, r.y + p.y];
    }""", [lat, lon])  # fmt: skip
    return float(x), float(y)


def open_tool(page: Page, section: str) -> None:
    """Open a tools-dock section (``sel``, ``patrol``, ``assessment``, ``what-if``)."""
    page.evaluate(f"() => {{ document.getElementById('{section}-section').open = true; }}")


def _click_all(page: Page, lonlats: list[tuple[float, float]]) -> None:
    for lon, lat in lonlats:
        x, y = to_page(page, lon, lat)
        page.mouse.click(x, y)
        page.wait_for_timeout(120)


def draw_polygon(page: Page, lonlats: list[tuple[float, float]]) -> None:
    """Draw a polygon with the toolbar's polygon tool: click each vertex, then the first."""
    page.click(".leaflet-draw-draw-polygon")
    _click_all(page, [*lonlats, lonlats[0]])


def draw_line(page: Page, lonlats: list[tuple[float, float]]) -> None:
    """Draw a line with the polyline tool: click each vertex, then the last again."""
    page.click(".leaflet-draw-draw-polyline")
    _click_all(page, [*lonlats, lonlats[-1]])


def draw_marker(page: Page, lon: float, lat: float) -> None:
    page.click(".leaflet-draw-draw-marker")
    _click_all(page, [(lon, lat)])


DRAWN_JS = """(kind) => {
    // Shapes drawn with the toolbar: Leaflet layers with no GeoJSON feature behind them.
    const m = document.getElementById("map").sightlineMap;
    const out = [];
    m.eachLayer((l) => {
        if (l.feature || !l.toGeoJSON) { return; }
        if (kind === "Point" && !l.getIcon) { return; }  // markers, not circle markers
        const g = l.toGeoJSON().geometry;
        if (g && g.type === kind) { out.push(g); }
    });
    return out;
}"""


def drawn(page: Page, kind: str) -> list[dict[str, Any]]:
    """GeoJSON geometries of the shapes of ``kind`` (``Polygon``, ``LineString``, ``Point``)
    drawn on the map, as the browser holds them."""
    return list(page.evaluate(DRAWN_JS, kind))
