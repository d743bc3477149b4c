"""Large camera layers on the map page: tiles per user scope instead of inline GeoJSON.

Above :data:`TILES_ABOVE` cameras in a user's scope the page carries no camera features at
all. The browser (``assets/sightline-tiles.js``) draws 256 px canvas tiles fetched from
``/device-tiles/cameras/{z}/{x}/{y}.json``: the cameras one by one where a tile holds few
enough, else counts per 64 px cell (``store.device_tiles``). Each tile is read for the
logged-in user's scope and kept for :data:`TILE_TTL_S` per (scope, z, x, y). Status changes
reach the tiles as the health poll's deltas (``{device_id: status}``) and only the loaded
tiles holding a changed camera are redrawn. A click on a camera opens the video panel as on a
small city's page; a click on a bubble zooms in.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import flask
from dash import Dash, Input, Output, State, dcc
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from sqlalchemy import Engine

from layers import device_tiles as tile_layer
from pages import auth
from store import device_tiles
from store.scope import Scope

TILES_ABOVE = 5000
"""A scope with more cameras than this gets the tiled layer (fewer: inline GeoJSON)."""
ENDPOINT = "device_tiles"
ROUTE = "/device-tiles/cameras/<int:z>/<int:x>/<int:y>.json"
URL_TEMPLATE = "/device-tiles/cameras/{z}/{x}/{y}.json"
TILE_TTL_S = 15.0
"""How long a tile is reused (server cache and browser cache). New or moved cameras and the
not-online rings of count tiles may be this late; camera colours are not (deltas)."""
TILE_CACHE_SIZE = 4096
CONFIG_ID = "camera-tiles-config"
CLICK_ID = "camera-tiles-click"
SINK_ID = "camera-tiles-sink"
LIVE_SINK_ID = "camera-tiles-live"


@dataclass(frozen=True)
class Tiled:
    """A tiled page's camera facts: how many cameras the scope sees, per status."""

    count: int
    status_counts: Mapping[str, int]


GRID_TTL_S = 60.0
"""How long a scope's camera grid (``store.device_tiles.camera_grid``: counts per cell for the
zoomed-out tiles, totals per status for the page) is used before it is read again (in the
background: the old grid serves meanwhile)."""
GRID_CACHE_SCOPES = 64


class GridCache:
    """The camera grid of each scope: built once (one scan in PostGIS; concurrent first
    requests wait for the same build), then refreshed in the background when older than
    ``ttl_s``."""

    def __init__(self, engine: Engine, ttl_s: float = GRID_TTL_S) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._kept: dict[Scope, tuple[float, device_tiles.CameraGrid]] = {}
        self._building: dict[Scope, threading.Lock] = {}

    def get(self, scope: Scope) -> device_tiles.CameraGrid:
        with self._lock:
            hit = self._kept.get(scope)
            building = self._building.setdefault(scope, threading.Lock())
        if hit is not None:
            if time.monotonic() - hit[0] >= self.ttl_s and building.acquire(blocking=False):
                threading.Thread(target=self._refresh, args=(scope, building), daemon=True,
                                 name="camera-grid").start()  # fmt: skip
            return hit[1]
        with building:
            with self._lock:
                hit = self._kept.get(scope)
            return hit[1] if hit is not None else self._build(scope)

    def _build(self, scope: Scope) -> device_tiles.CameraGrid:
        at = time.monotonic()
        with self.engine.connect() as conn:
            grid = device_tiles.camera_grid(conn, scope)
        with self._lock:
            if len(self._kept) >= GRID_CACHE_SCOPES and scope not in self._kept:
                self._kept.clear()
            self._kept[scope] = (at, grid)
        return grid

    def _refresh(self, scope: Scope, building: threading.Lock) -> None:
        try:
            self._build(scope)
        finally:
            building.release()


_GRIDS: dict[Engine, GridCache] = {}
_GRIDS_LOCK = threading.Lock()


def grids_for(engine: Engine) -> GridCache:
    """The grid cache of ``engine`` (one per store, shared by the page and the tile route)."""
    with _GRIDS_LOCK:
        return _GRIDS.setdefault(engine, GridCache(engine))


def tiled(engine: Engine, scope: Scope, above: int | None = None) -> Tiled | None:
    """The camera facts of ``scope`` when it sees more than ``above`` cameras (default
    :data:`TILES_ABOVE`, read at call time), else None (the page inlines its cameras).

    The count and statuses come from the scope's grid (built here the first time, then kept),
    so a page of a 1M-camera city does not count the table again."""
    limit = TILES_ABOVE if above is None else above
    grid = grids_for(engine).get(scope)  # for a small city a scan of a few rows
    if grid.total <= limit:
        return None
    return Tiled(grid.total, dict(grid.status_counts))


def overlay() -> Component:
    """The "Cameras" entry of the layer switcher on a tiled page."""
    entry: Component = tile_layer.build()
    return entry


def _scope_tag(scope: Scope) -> str:
    """A short tag of the scope for tile URLs: another user's cached tiles are not reused."""
    raw = repr((sorted(scope.jurisdiction_ids or ()), scope.whole_city, scope.clearance))
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def page_parts(scope: Scope, *, may_video: bool, map_id: str) -> list[Component]:
    """The stores the tiled layer's script reads (config) and writes (clicked camera)."""
    url = f"{URL_TEMPLATE}?s={_scope_tag(scope)}"
    cfg = tile_layer.config(url, map_id=map_id, click_id=CLICK_ID if may_video else None)
    return [
        dcc.Store(id=CONFIG_ID, data=cfg),
        dcc.Store(id=CLICK_ID, data=None),
        dcc.Store(id=SINK_ID, data=None),
        dcc.Store(id=LIVE_SINK_ID, data=None),
    ]


def encode(tile: device_tiles.PointTile | device_tiles.CountTile, z: int) -> dict[str, Any]:
    """A tile as the script reads it (columns of equal length; pixels to 0.1 px)."""
    if isinstance(tile, device_tiles.PointTile):
        return {
            "type": "points", "z": z, "id": tile.ids, "d": tile.device_ids, "n": tile.names,
            "k": tile.kinds, "s": tile.statuses,
            "x": [round(float(v), 1) for v in tile.x_px],
            "y": [round(float(v), 1) for v in tile.y_px],
        }  # fmt: skip
    return {
        "type": "counts", "z": z, "cell": device_tiles.CELL_PX, "c": tile.col, "r": tile.row,
        "n": tile.count, "bad": tile.not_online, "x": tile.x_px, "y": tile.y_px,
        "total": tile.total,
    }  # fmt: skip


class TileCache:
    """Encoded tiles (JSON bytes, raw and gzip) per (scope, z, x, y), kept ``ttl_s``."""

    def __init__(self, engine: Engine, ttl_s: float = TILE_TTL_S,
                 size: int = TILE_CACHE_SIZE) -> None:  # fmt: skip
        self.engine = engine
        self.grids = grids_for(engine)
        self.ttl_s = ttl_s
        self.size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[Scope, int, int, int], tuple[float, bytes, bytes]] = \
            OrderedDict()  # fmt: skip

    def get(self, scope: Scope, z: int, x: int, y: int) -> tuple[bytes, bytes]:
        key = (scope, z, x, y)
        now = time.monotonic()
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                self._kept.move_to_end(key)
                return hit[1], hit[2]
        device_tiles.tile_bounds(z, x, y)  # a bad address is refused before any read
        grid = self.grids.get(scope) if z <= device_tiles.GRID_ZOOM else None
        with self.engine.connect() as conn:
            tile = device_tiles.camera_tile(conn, scope, z, x, y, grid)
        raw = json.dumps(encode(tile, z), separators=(",", ":")).encode()
        packed = gzip.compress(raw, compresslevel=5)
        with self._lock:
            self._kept[key] = (now, raw, packed)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return raw, packed


def _serve_tile(cache: TileCache, z: int, x: int, y: int) -> flask.Response:
    # The guard let this request through with a session and the "view" action; the scope is
    # the logged-in user's, whatever the URL says.
    scope = auth.principal().scope
    try:
        raw, packed = cache.get(scope, z, x, y)
    except device_tiles.TileError as err:
        resp = flask.jsonify({"error": str(err)})
        resp.status_code = 404
        return resp
    gz = "gzip" in flask.request.headers.get("Accept-Encoding", "")
    resp = flask.make_response(packed if gz else raw)
    resp.headers["Content-Type"] = "application/json"
    if gz:
        resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Vary"] = "Accept-Encoding, Cookie"
    resp.headers["Cache-Control"] = f"private, max-age={int(TILE_TTL_S)}"
    return resp


def register(
    app: Dash,
    engine: Engine,
    open_video: Callable[[Mapping[str, object] | None], list[Component]],
    video_panel_id: str,
    health_changes_id: str,
) -> None:
    """Add the tile route (endpoint :data:`ENDPOINT`, action ``view`` in ``auth.ROUTES``) and
    the callbacks: draw the layer, restyle it on status deltas, open a clicked camera's video
    (``open_video(feature)``: the panel's children, empty when the user may not watch it)."""
    cache = TileCache(engine)
    app.server.add_url_rule(
        ROUTE, ENDPOINT, lambda z, x, y: _serve_tile(cache, z, x, y), methods=["GET"]
    )
    auth.clientside_callback(
        app, "view",
        """function (cfg) {
            if (cfg) { window.sightline.deviceTiles.attach(cfg); }
            return window.dash_clientside.no_update;
        }""",
        Output(SINK_ID, "data"),
        Input(CONFIG_ID, "data"),
    )  # fmt: skip
    auth.clientside_callback(
        app, "health",
        """function (changes) {
            window.sightline.deviceTiles.applyChanges(changes || {});
            return window.dash_clientside.no_update;
        }""",
        Output(LIVE_SINK_ID, "data"),
        Input(health_changes_id, "data"),
        State(CONFIG_ID, "data"),  # only on tiled pages (the callback needs all its parts)
        prevent_initial_call=True,
    )  # fmt: skip

    @auth.callback(
        app, "video",
        Output(video_panel_id, "children", allow_duplicate=True),
        Input(CLICK_ID, "data"),
        prevent_initial_call=True,
    )  # fmt: skip
    def _open(clicked: Mapping[str, object] | None) -> list[Component]:
        panel = open_video(clicked)
        if not panel:
            raise PreventUpdate
        return panel
