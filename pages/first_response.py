"""First-response video (先期视频处警) on the map page: click any point (or an alarm point) →
the cameras that see it, best DORI level first, with distance → one click opens them all in a
labelled video grid.

The list is the latest coverage run's answer (``store.coverage.cameras_seeing``: one GiST
query on the run's visible polygons); the grid's tiles are live videos with signed gateway URLs
(``pages.video``), played by ``assets/player.js``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import dash_leaflet as dl
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from sqlalchemy import Engine

from layers import alarm_points
from pages import auth, video
from settings import Settings
from store import coverage

PANEL_ID = "point-panel"
LIST_ID = "point-cameras-list"
TITLE_ID = "point-title"
OPEN_ID = "open-grid"
CLOSE_PANEL_ID = "close-point-panel"
STORE_ID = "point-cameras"
GRID_ID = "video-grid"
GRID_TILES_ID = "video-grid-tiles"
GRID_TITLE_ID = "video-grid-title"
CLOSE_GRID_ID = "close-grid"
MARK_ID = "click-point-layer"
GRID_MAX = 9  # a 3×3 grid; more cameras: the best nine (the list is best-first)

LEVEL_LABELS = {"identify": "identify", "recognise": "recognise", "observe": "observe",
                "detect": "detect"}  # fmt: skip


def grid_size(n: int) -> int:
    """Columns (= rows) of the video grid for ``n`` cameras: 2 up to four, else 3."""
    return 2 if n <= 4 else 3


def map_children() -> list[Component]:
    """Children of the map: the marker of the clicked point."""
    return [dl.LayerGroup(id=MARK_ID)]


def panels(*, with_video: bool = True) -> list[Component]:
    """The side list of the cameras seeing the clicked point, and the video grid (both hidden
    until used; without ``with_video`` no grid and no button to open it)."""
    side = html.Div(
        [
            html.Div(
                [html.Span(id=TITLE_ID, className="sl-point-title"),
                 html.Button("×", id=CLOSE_PANEL_ID, className="sl-close", title="Close")],
                className="sl-panel-head",
            ),
            html.Ol(id=LIST_ID, className="sl-point-list"),
            html.Button("Open all in a video grid", id=OPEN_ID, className="sl-open-grid",
                        disabled=True, hidden=not with_video),
        ],
        id=PANEL_ID, className="sl-point-panel", hidden=True,
    )  # fmt: skip
    grid = html.Div(
        [
            html.Div(
                [html.Span(id=GRID_TITLE_ID),
                 html.Button("×", id=CLOSE_GRID_ID, className="sl-close", title="Close")],
                className="sl-panel-head",
            ),
            html.Div(id=GRID_TILES_ID, className="sl-grid-tiles"),
        ],
        id=GRID_ID, className="sl-video-grid", hidden=True,
    )  # fmt: skip
    return [side, *([grid] if with_video else []), dcc.Store(id=STORE_ID, data=None)]


def _point_of(trigger: object, map_click: Any, alarm_click: Any) -> tuple[float, float, str]:
    """(lon, lat, description) of the clicked map point or alarm point."""
    if trigger == alarm_points.LAYER_ID and alarm_click:
        lon, lat = alarm_click["geometry"]["coordinates"][:2]
        props = alarm_click.get("properties") or {}
        name = props.get("name") or props.get("code") or f"alarm point {props.get('id')}"
        return float(lon), float(lat), f"Alarm point {name}"
    if map_click and map_click.get("latlng"):
        ll = map_click["latlng"]
        lat, lon = (ll["lat"], ll["lng"]) if isinstance(ll, dict) else (ll[0], ll[1])
        return float(lon), float(lat), "Point"
    raise PreventUpdate


def camera_rows(cams: list[Mapping[str, Any]]) -> list[Component]:
    """One list item per camera: label, DORI level, distance; ``data-device`` holds its id."""
    return [
        html.Li(
            [html.Span(c.get("name") or c["device_id"], className="sl-cam-name"),
             html.Span(f" {c['device_id']}", className="sl-cam-id"),
             html.Span(f" {LEVEL_LABELS.get(c['dori_level'], c['dori_level'])}",
                       className=f"sl-dori sl-dori-{c['dori_level']}"),
             html.Span(f" {c['distance_m']:.0f} m" if c.get("distance_m") is not None else "",
                       className="sl-cam-dist")],
            className="sl-point-camera",
            **{"data-device": str(c["device_id"]), "data-level": str(c["dori_level"]),
               "data-distance": str(c.get("distance_m"))},
        )
        for c in cams
    ]  # fmt: skip


def grid_tiles(
    settings: Settings, cams: list[Mapping[str, Any]], subject: str
) -> tuple[list[Component], str]:
    """The video grid's tiles (at most ``GRID_MAX``, best first) for ``subject`` and its CSS grid
    columns. ``cams`` must hold only cameras the subject may watch."""
    shown = cams[:GRID_MAX]
    tiles = [
        html.Div(
            [html.Div(f"{i + 1}. {c.get('name') or ''} · {c['device_id']} · {c['dori_level']}",
                      className="sl-tile-label"),
             video.video(settings, str(c["device_id"]), subject, className="sl-tile-video")],
            className="sl-tile", **{"data-device": str(c["device_id"])},
        )
        for i, c in enumerate(shown)
    ]  # fmt: skip
    return tiles, f"repeat({grid_size(len(shown))}, 1fr)"


def register(app: Dash, settings: Settings, engine: Engine, map_id: str) -> None:
    """Attach the callbacks: the list needs ``coverage``, the grid ``video``."""

    @auth.callback(
        app, "coverage",
        Output(TITLE_ID, "children"),
        Output(LIST_ID, "children"),
        Output(OPEN_ID, "disabled"),
        Output(PANEL_ID, "hidden"),
        Output(STORE_ID, "data"),
        Output(MARK_ID, "children"),
        Input(map_id, "clickData"),
        Input(alarm_points.LAYER_ID, "clickData"),
        prevent_initial_call=True,
    )
    def _cameras_at_point(map_click: Any, alarm_click: Any) -> tuple[Any, ...]:
        lon, lat, what = _point_of(ctx.triggered_id, map_click, alarm_click)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise PreventUpdate
        t = time.perf_counter()
        scope = auth.principal().scope
        with engine.connect() as conn:
            run_id = coverage.latest_run(conn)
            cams = ([] if run_id is None
                    else coverage.cameras_seeing(conn, run_id, lon, lat, scope))
        query_ms = (time.perf_counter() - t) * 1000
        where = f"{what} {lat:.6f}, {lon:.6f}"
        if run_id is None:
            title = f"{where}: no coverage run yet (sightline coverage run)"
        else:
            title = f"{where}: {len(cams)} camera{'s' if len(cams) != 1 else ''} see it"
        mark = dl.CircleMarker(center=[lat, lon], radius=7, color="#d7301f", weight=3,
                               fillOpacity=0.2, interactive=False)  # fmt: skip
        data = {"lon": lon, "lat": lat, "run_id": run_id, "cameras": cams,
                "query_ms": round(query_ms, 2)}  # fmt: skip
        return title, camera_rows(cams), not cams, False, data, [mark]

    @auth.callback(
        app, "video",
        Output(GRID_TILES_ID, "children"),
        Output(GRID_TILES_ID, "style"),
        Output(GRID_TITLE_ID, "children"),
        Output(GRID_ID, "hidden"),
        Input(OPEN_ID, "n_clicks"),
        Input(CLOSE_GRID_ID, "n_clicks"),
        State(STORE_ID, "data"),
        prevent_initial_call=True,
    )
    def _grid(_open: int | None, _close: int | None, data: Any) -> tuple[Any, ...]:
        if ctx.triggered_id == CLOSE_GRID_ID:
            return [], no_update, "", True  # tiles gone: player.js closes their streams
        try:
            cams = data.get("cameras") or []
            lat, lon = float(data["lat"]), float(data["lon"])
        except (AttributeError, KeyError, TypeError, ValueError):
            raise PreventUpdate from None
        if not isinstance(cams, list) or not cams:
            raise PreventUpdate
        # The list came back from the browser: only cameras this user may watch get a URL.
        who = auth.principal()
        cams = [c for c in cams if isinstance(c, dict) and isinstance(c.get("device_id"), str)]
        with engine.connect() as conn:
            ok = set(video.viewable(conn, who, [c["device_id"] for c in cams[:GRID_MAX * 4]]))
        cams = [c for c in cams if c["device_id"] in ok]
        if not cams:
            return [], no_update, "No camera here that you may watch", False
        tiles, columns = grid_tiles(settings, cams, who.subject)
        more = f" (best {GRID_MAX} of {len(cams)})" if len(cams) > GRID_MAX else ""
        title = f"{len(tiles)} camera{'s' if len(tiles) != 1 else ''} at " \
                f"{lat:.6f}, {lon:.6f}{more}"  # fmt: skip
        return tiles, {"gridTemplateColumns": columns}, title, False

    auth.clientside_callback(
        app, "coverage",
        "function (n) { return true; }",
        Output(PANEL_ID, "hidden", allow_duplicate=True),
        Input(CLOSE_PANEL_ID, "n_clicks"),
        prevent_initial_call=True,
    )
