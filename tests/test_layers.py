"""Layer builders: GeoDataFrame -> dash-leaflet components with JSON-safe GeoJSON."""

from __future__ import annotations

import http.server
import json
import math
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import dash_leaflet as dl
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from dash.development.base_component import Component
from shapely.geometry import Point

from layers import (
    alarm_points,
    basemap,
    buildings,
    cameras,
    checkpoints,
    jurisdictions,
    key_areas,
    roads,
)
from layers._geojson import feature_collection, tooltips
from settings import PROJECT_ROOT, Settings
from tests import console_frames as cf

# (module, frame factory, overlay name, GeoJSON id)
LAYERS: list[tuple[ModuleType, Any, str, str]] = [
    (jurisdictions, cf.jurisdictions, "Jurisdictions", "jurisdictions-layer"),
    (buildings, cf.buildings, "Buildings", "buildings-layer"),
    (roads, cf.roads, "Roads", "roads-layer"),
    (cameras, cf.cameras, "Cameras", "cameras-layer"),
    (checkpoints, cf.checkpoints, "Checkpoints", "checkpoints-layer"),
    (key_areas, cf.key_areas, "Key areas", "key-areas-layer"),
    (alarm_points, cf.alarm_points, "Alarm points", "alarm-points-layer"),
]
LAYER_IDS = [m.__name__ for m, *_ in LAYERS]


def find_all(component: Any, kind: type[Component]) -> list[Any]:
    """Every component of type ``kind`` in a component tree (depth first)."""
    found = [component] if isinstance(component, kind) else []
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            found += find_all(child, kind)
    elif isinstance(children, Component):
        found += find_all(children, kind)
    return found


def the_geojson(component: Component) -> dl.GeoJSON:
    (layer,) = find_all(component, dl.GeoJSON)
    return layer


def js_functions() -> set[str]:
    """Names defined in the window.sightline namespace of assets/sightline.js."""
    text = (PROJECT_ROOT / "assets" / "sightline.js").read_text()
    return set(re.findall(r"^\s{8}(\w+): function\s*\(", text, flags=re.M))


def function_refs(layer: dl.GeoJSON) -> list[str]:
    props = ("pointToLayer", "clusterToLayer", "style", "onEachFeature", "filter")
    refs = [getattr(layer, p, None) for p in props]
    return [r["variable"] for r in refs if isinstance(r, dict) and "variable" in r]


@pytest.mark.parametrize(("module", "make", "name", "layer_id"), LAYERS, ids=LAYER_IDS)
def test_build_carries_every_feature_json_safe(module, make, name, layer_id) -> None:  # type: ignore[no-untyped-def]
    gdf = make()
    overlay = module.build(gdf)

    assert isinstance(overlay, dl.Overlay)
    assert overlay.name == name
    layer = the_geojson(overlay)
    assert layer.id == layer_id
    data = layer.data
    json.dumps(data, allow_nan=False)  # raises on NaN / inf / numpy scalars
    assert data["type"] == "FeatureCollection"
    assert len(data["features"]) == len(gdf)
    by_id = {f["properties"]["id"]: f for f in data["features"]}
    assert set(by_id) == set(gdf["id"])
    for row in gdf.itertuples():
        props = by_id[row.id]["properties"]
        if hasattr(row, "name") and isinstance(row.name, str):
            assert props["name"] == row.name
            assert row.name.replace("<", "&lt;").replace(">", "&gt;") in props["tooltip"]
        if hasattr(row, "status"):
            assert props["status"] == row.status
            assert f"status: {row.status}" in props["tooltip"]
        assert f"id: {row.id}" in props["tooltip"]
        assert by_id[row.id]["geometry"]["type"] == row.geometry.geom_type


@pytest.mark.parametrize(("module", "make", "name", "layer_id"), LAYERS, ids=LAYER_IDS)
def test_build_on_an_empty_frame(module, make, name, layer_id) -> None:  # type: ignore[no-untyped-def]
    empty = make().iloc[0:0]
    layer = the_geojson(module.build(empty))
    assert layer.data == {"type": "FeatureCollection", "features": []}
    json.dumps(layer.data, allow_nan=False)


@pytest.mark.parametrize(("module", "make", "name", "layer_id"), LAYERS, ids=LAYER_IDS)
def test_js_functions_referenced_exist_in_assets(module, make, name, layer_id) -> None:  # type: ignore[no-untyped-def]
    refs = function_refs(the_geojson(module.build(make())))
    assert all(r.startswith("sightline.") for r in refs)
    assert {r.removeprefix("sightline.") for r in refs} <= js_functions()


def test_camera_nan_azimuth_becomes_null_and_html_is_escaped() -> None:
    data = the_geojson(cameras.build(cf.cameras())).data
    tower = next(f["properties"] for f in data["features"] if f["properties"]["id"] == 12)
    assert tower["azimuth_deg"] is None and tower["hfov_deg"] is None and tower["owner"] is None
    assert tower["tooltip"].startswith("<b>Casino &lt;tower&gt;</b>")
    assert "azimuth_deg" not in tower["tooltip"]  # null values are left out of the tooltip
    assert isinstance(tower["is_social_resource"], bool)
    assert isinstance(tower["id"], int)


def test_cameras_are_clustered_svg_circles_with_our_classes() -> None:
    layer = the_geojson(cameras.build(cf.cameras()))
    assert layer.cluster is True
    assert layer.pointToLayer == {"variable": "sightline.circleMarker"}
    assert layer.clusterToLayer == {"variable": "sightline.clusterMarker"}
    # dash-leaflet restyles clustered features; the kind outline must survive that.
    assert layer.style == {"variable": "sightline.styleByProperty"}
    assert layer.hideout["property"] == "kind"
    assert layer.hideout["className"] == "sl-camera"
    assert layer.hideout["clusterClassName"] == "sl-camera-cluster"
    assert set(layer.hideout["colors"]) == {"online", "offline", "fault", "unknown"}
    assert set(layer.hideout["styles"]) == {"road", "community", "social", "high_point"}
    assert the_geojson(cameras.build(cf.cameras(), cluster=False)).cluster is False


def test_layers_sit_in_their_own_panes() -> None:
    panes = set()
    for module, make, *_ in LAYERS:
        (pane,) = find_all(module.build(make()), dl.Pane)
        layer = the_geojson(pane)
        assert layer.pane == pane.name  # Leaflet options need the name; dl.Pane makes the pane
        panes.add(pane.name)
    assert len(panes) == len(LAYERS)


def test_building_without_a_name_is_titled_by_id() -> None:
    data = the_geojson(buildings.build(cf.buildings())).data
    second = next(f["properties"] for f in data["features"] if f["properties"]["id"] == 2)
    assert second["name"] is None
    assert second["tooltip"].startswith("<b>building 2</b>")


# --- the GeoJSON conversion itself -------------------------------------------------------


def test_feature_collection_makes_every_value_json_safe() -> None:
    gdf = gpd.GeoDataFrame(
        {
            "id": [1, 2, 3],
            "seen": pd.to_datetime(["2024-05-01T08:00:00Z", None, "2024-05-02T09:30:00Z"]),
            "x": [1.5, np.inf, np.nan],
            "n": pd.array([1, None, 3], dtype="Int64"),
            "flag": [True, False, True],
            "tags": [{"a": 1}, None, np.float64(2.5)],
            "secret": ["s", "s", "s"],
        },
        geometry=[Point(7.42, 43.73), Point(7.43, 43.74), Point(7.41, 43.72)],
        crs=4326,
    )
    data = feature_collection(gdf, ("id", "seen", "x", "n", "flag", "tags", "missing"))
    json.dumps(data, allow_nan=False)
    props = [f["properties"] for f in data["features"]]
    assert props[0] == {
        "id": 1, "seen": "2024-05-01T08:00:00+00:00", "x": 1.5, "n": 1, "flag": True,
        "tags": "{'a': 1}",
    }  # fmt: skip
    assert props[1] == {"id": 2, "seen": None, "x": None, "n": None, "flag": False, "tags": None}
    assert props[2]["x"] is None and props[2]["tags"] == 2.5
    assert all("secret" not in p and "missing" not in p for p in props)


def test_feature_collection_drops_rows_without_geometry() -> None:
    gdf = gpd.GeoDataFrame(
        {"id": [1, 2, 3]}, geometry=[Point(7.42, 43.73), None, Point()], crs=4326
    )
    data = feature_collection(gdf, ("id",), tooltip=["a", "b", "c"])
    assert [(f["properties"]["id"], f["properties"]["tooltip"]) for f in data["features"]] == [
        (1, "a")
    ]


def test_feature_collection_reprojects_to_wgs84() -> None:
    # Monaco's port in UTM 32N (EPSG:32632); independent reference from pyproj's own transformer.
    from pyproj import Transformer

    x, y = 370000.0, 4844000.0
    lon, lat = Transformer.from_crs(32632, 4326, always_xy=True).transform(x, y)
    gdf = gpd.GeoDataFrame({"id": [1]}, geometry=[Point(x, y)], crs=32632)
    (feature,) = feature_collection(gdf, ("id",))["features"]
    got_lon, got_lat = feature["geometry"]["coordinates"]
    assert math.isclose(got_lon, lon, abs_tol=1e-9) and math.isclose(got_lat, lat, abs_tol=1e-9)
    assert 7.3 < got_lon < 7.5 and 43.6 < got_lat < 43.8


def test_feature_collection_refuses_rows_without_crs() -> None:
    gdf = gpd.GeoDataFrame({"id": [1]}, geometry=[Point(7.42, 43.73)])
    with pytest.raises(ValueError, match="no CRS"):
        feature_collection(gdf, ("id",))


def test_tooltips_escape_and_skip_nulls() -> None:
    gdf = gpd.GeoDataFrame(
        {"id": [5], "name": ["<script>x</script>"], "status": [None]},
        geometry=[Point(0, 0)],
        crs=4326,
    )
    (tip,) = tooltips(gdf, title="name", fields=("id", "status"), label="thing")
    assert tip == "<b>&lt;script&gt;x&lt;/script&gt;</b><br>id: 5"


# --- basemap ---------------------------------------------------------------------------------


class _TileHandler(http.server.BaseHTTPRequestHandler):
    status = 200
    requests: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).requests.append(self.path)
        body = b"\x89PNG fake tile"
        self.send_response(self.status)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep the test output quiet


@pytest.fixture
def tile_server() -> Iterator[tuple[str, type[_TileHandler]]]:
    handler = type("Handler", (_TileHandler,), {"status": 200, "requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", handler
    server.shutdown()
    server.server_close()
    thread.join()


def _no_network(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the basemap must not touch the network here")


def test_basemap_without_url_is_the_local_land(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    land = cf.jurisdictions()
    (pane,) = basemap.build(Settings(basemap_url=None), land)
    layer = the_geojson(pane)
    assert layer.id == basemap.LAND_LAYER_ID
    assert len(layer.data["features"]) == len(land)
    assert find_all(pane, dl.TileLayer) == []
    assert basemap.build(Settings(basemap_url=None), land.iloc[0:0]) == []


def test_basemap_uses_tiles_when_one_tile_loads(tile_server) -> None:  # type: ignore[no-untyped-def]
    base, handler = tile_server
    settings = Settings(basemap_url=base + "/{z}/{x}/{y}.png", basemap_attribution="© tiles")
    (tiles,) = basemap.build(settings, cf.jurisdictions())
    assert isinstance(tiles, dl.TileLayer)
    assert tiles.url == settings.basemap_url and tiles.attribution == "© tiles"
    # The tile probed is the z12 tile over the city (Web Mercator, computed independently).
    lon, lat = (cf.WEST + cf.EAST) / 2, (cf.SOUTH + cf.NORTH) / 2
    x = math.floor((lon + 180) / 360 * 4096)
    phi = math.radians(lat)
    y = math.floor((1 - math.log(math.tan(phi) + 1 / math.cos(phi)) / math.pi) / 2 * 4096)
    assert handler.requests == [f"/12/{x}/{y}.png"]


def test_basemap_falls_back_when_tiles_fail(tile_server) -> None:  # type: ignore[no-untyped-def]
    base, handler = tile_server
    handler.status = 404
    layers = basemap.build(Settings(basemap_url=base + "/{z}/{x}/{y}.png"), cf.jurisdictions())
    assert [the_geojson(c).id for c in layers] == [basemap.LAND_LAYER_ID]


def test_basemap_falls_back_quickly_when_the_server_is_away() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    layers = basemap.build(
        Settings(basemap_url=f"http://127.0.0.1:{port}/{{z}}/{{x}}/{{y}}.png"), cf.jurisdictions()
    )
    assert time.perf_counter() - start < 2 * basemap.PROBE_TIMEOUT_S
    assert find_all(layers, dl.TileLayer) == []
    assert [the_geojson(c).id for c in layers] == [basemap.LAND_LAYER_ID]


@pytest.mark.parametrize(
    "url", ["file:///etc/{z}/{x}/{y}.png", "https://t.example/{z}/{x}/{y}.png?key={apikey}"]
)
def test_basemap_refuses_templates_it_cannot_fill(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    with pytest.raises(ValueError, match="basemap_url"):
        basemap.probe_url(url)
    layers = basemap.build(Settings(basemap_url=url), cf.jurisdictions())
    assert find_all(layers, dl.TileLayer) == []


def test_probe_url_fills_the_template() -> None:
    assert basemap.probe_url("http://{s}.t/{z}/{x}/{y}{r}.png", 0.0, 0.0, zoom=1) == (
        "http://a.t/1/1/1.png"
    )
    assert basemap.probe_url("http://t/{z}/{x}/{y}.png", -180.0, 85.0511, zoom=3) == (
        "http://t/3/0/0.png"
    )
