"""The console app serves everything itself: no CDN, every referenced file answers 200 (to a
logged-in user, on the demo city and on an empty store)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import dash
import dash_leaflet as dl
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, create_engine

from app import create_app
from pages import map as map_page
from settings import Settings
from store import migrate
from store.scope import Principal, Scope
from tests import console_frames as cf
from tests.console_auth import make_user

ADMIN = Principal("user:test-admin", "test-admin", "admin", Scope(None, 0))


class _Resources(HTMLParser):
    """Collects every src/href of the index page's tags."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href") and v]


@pytest.fixture(scope="module")
def empty_store(pg_cluster: Any) -> Iterator[Engine]:
    """A migrated store with no city in it."""
    from sqlalchemy import text

    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    name = "console_empty"
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


@pytest.fixture(params=["demo", "empty"])
def store_engine(request: pytest.FixtureRequest) -> Engine:
    fixture = "demo_engine" if request.param == "demo" else "empty_store"
    engine: Engine = request.getfixturevalue(fixture)
    return engine


def _client(engine: Engine) -> FlaskClient:
    """A test client of the real app, logged in (through the form) as a city admin."""
    app = create_app(Settings(basemap_url=None), engine)
    assert isinstance(app, dash.Dash)
    client = app.server.test_client()
    user = make_user(engine, "admin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert csrf is not None
    r = client.post("/login", data={"name": user.name, "password": user.password,
                                    "csrf": csrf.group(1)})  # fmt: skip
    assert r.status_code == 303
    return client


def test_index_references_only_local_files_that_load(store_engine: Engine) -> None:
    client = _client(store_engine)
    index = client.get("/")
    assert index.status_code == 200
    parser = _Resources()
    parser.feed(index.get_data(as_text=True))
    urls = parser.urls
    assert any("dash_leaflet" in u for u in urls)
    assert any(u.startswith("/assets/sightline.js") for u in urls)
    assert any(u.startswith("/assets/sightline.css") for u in urls)
    external = [u for u in urls if not u.startswith("/") or u.startswith("//")]
    assert external == []
    for url in urls:
        with client.get(url) as resp:  # closes the served file (else a ResourceWarning)
            assert resp.status_code == 200, url


def test_lazily_loaded_leaflet_chunks_are_served_locally(demo_engine: Engine) -> None:
    # dash-leaflet loads GeoJSON (and supercluster) as an async chunk at runtime, not from the
    # index page; with serve_locally it comes from the component suite, not unpkg.
    client = _client(demo_engine)
    client.get("/")
    with client.get("/_dash-component-suites/dash_leaflet/async-GeoJSON.js") as chunk:
        assert chunk.status_code == 200
        assert b"getClusters" in chunk.data


def test_layout_and_dependencies_are_served(store_engine: Engine) -> None:
    client = _client(store_engine)
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    text = layout.get_data(as_text=True)
    assert "NaN" not in text and "Infinity" not in text
    assert '"cameras-layer"' in text and '"map"' in text
    assert client.get("/_dash-dependencies").status_code == 200
    json.loads(text)


def test_layout_shows_counts_and_fits_the_city() -> None:
    frames = cf.small_frames()
    page = map_page.layout(Settings(basemap_url=None), frames, principal=ADMIN)
    text = json.dumps(
        page.to_plotly_json(), default=lambda c: c.to_plotly_json(), ensure_ascii=False
    )
    assert "Sightline 视界" in text
    assert "3 cameras" in text and "2 checkpoints" in text
    (the_map,) = _find(page, dl.MapContainer)
    assert the_map.id == "map"
    assert the_map.bounds == [[cf.SOUTH, cf.WEST], [cf.NORTH, cf.EAST]]
    names = [o.name for o in _find(page, dl.Overlay)]
    assert names == [
        "Buildings", "Roads", "Jurisdictions", "Key areas", "Cameras", "Checkpoints",
        "Alarm points",
    ]  # fmt: skip
    assert _find(page, dl.ScaleControl) and _find(page, dl.LayersControl)
    (attribution,) = _find(page, dl.AttributionControl)
    assert "© OpenStreetMap contributors" in attribution.prefix
    assert "online (1)" in text and "fault (1)" in text and "unknown (0)" in text


def test_layout_without_jurisdictions_fits_all_frames() -> None:
    frames = cf.small_frames()
    frames["jurisdictions"] = frames["jurisdictions"].iloc[0:0]
    page = map_page.layout(Settings(basemap_url=None), frames, principal=ADMIN)
    (the_map,) = _find(page, dl.MapContainer)
    points = [frames[k] for k in ("cameras", "checkpoints", "alarm_points")]
    west = min(min(f.geometry.x) for f in points)
    (south, w), (north, east) = the_map.bounds
    assert w <= west and south < north and w < east


def test_layout_of_an_empty_store_shows_the_world() -> None:
    page = map_page.layout(Settings(basemap_url=None), cf.empty_frames(), principal=ADMIN)
    (the_map,) = _find(page, dl.MapContainer)
    assert getattr(the_map, "bounds", None) is None
    assert the_map.zoom == map_page.WORLD_ZOOM
    text = json.dumps(
        page.to_plotly_json(), default=lambda c: c.to_plotly_json(), ensure_ascii=False
    )
    assert "0 cameras" in text and "0 checkpoints" in text


def test_layout_names_a_missing_frame() -> None:
    frames = cf.small_frames()
    del frames["key_areas"]
    with pytest.raises(ValueError, match="frames lacks key_areas"):
        map_page.layout(Settings(basemap_url=None), frames, principal=ADMIN)


def _find(component: Any, kind: type) -> list[Any]:
    found = [component] if isinstance(component, kind) else []
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            found += _find(child, kind)
    elif children is not None and hasattr(children, "children"):
        found += _find(children, kind)
    return found
