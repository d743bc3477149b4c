"""The map console page: a full-page city map with the network's layers, legend and counts."""

from __future__ import annotations

from collections.abc import Mapping

import dash_leaflet as dl
import numpy as np
from dash import Input, Output, callback, html
from dash.development.base_component import Component
from geopandas import GeoDataFrame

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
from settings import Settings, load_settings
from store import access

MAP_ID = "map"
FRAME_KEYS = (
    "jurisdictions",
    "buildings",
    "roads",
    "cameras",
    "checkpoints",
    "key_areas",
    "alarm_points",
)
# Shown when there is no data at all: the whole world.
WORLD_CENTER = (20.0, 0.0)
WORLD_ZOOM = 2


def map_bounds(frames: Mapping[str, GeoDataFrame]) -> list[list[float]] | None:
    """Initial map bounds ``[[south, west], [north, east]]`` in degrees (EPSG:4326).

    The city: the jurisdictions' extent; without jurisdictions, the extent of all frames.
    ``None`` when every frame is empty.
    """
    order = (["jurisdictions"], [k for k in FRAME_KEYS if k != "jurisdictions"])
    for keys in order:
        boxes = [
            frames[k].to_crs(4326).total_bounds
            for k in keys
            if len(frames[k]) and not frames[k].geometry.is_empty.all()
        ]
        if boxes:
            stack = np.vstack(boxes)
            west, south = np.nanmin(stack[:, :2], axis=0)
            east, north = np.nanmax(stack[:, 2:], axis=0)
            return [[float(south), float(west)], [float(north), float(east)]]
    return None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _legend(cams: GeoDataFrame) -> html.Div:
    counts = cams["status"].value_counts() if "status" in cams.columns else {}
    rows = [
        html.Div(
            [
                html.Span(className="sl-swatch", style={"background": color}),
                f"{cameras.STATUS_LABELS[status]} ({int(counts.get(status, 0))})",
            ],
            className=f"sl-legend-row sl-status-{status}",
        )
        for status, color in cameras.STATUS_COLORS.items()
    ]
    return html.Div(
        [html.Div("Camera status", className="sl-legend-title"), *rows],
        id="legend",
        className="sl-legend",
    )


def layout(settings: Settings, frames: Mapping[str, GeoDataFrame]) -> Component:
    """The console page.

    Parameters
    ----------
    settings
        Basemap settings are used (``basemap_url``, ``basemap_attribution``).
    frames
        GeoDataFrames (EPSG:4326) keyed by ``FRAME_KEYS``; any may be empty.

    Returns
    -------
    Component
        Header (title, camera and checkpoint counts) above a map with id ``"map"`` fitted to the
        city, a layer switcher, a scale bar and a camera-status legend.

    Raises
    ------
    ValueError
        If a key of ``FRAME_KEYS`` is missing from ``frames``.
    """
    missing = [k for k in FRAME_KEYS if k not in frames]
    if missing:
        raise ValueError(f"frames lacks {', '.join(missing)}; expected keys {FRAME_KEYS}")

    overlays = [
        buildings.build(frames["buildings"]),
        roads.build(frames["roads"]),
        jurisdictions.build(frames["jurisdictions"]),
        key_areas.build(frames["key_areas"]),
        cameras.build(frames["cameras"]),
        checkpoints.build(frames["checkpoints"]),
        alarm_points.build(frames["alarm_points"]),
    ]
    bounds = map_bounds(frames)
    if bounds is None:
        view = {"center": list(WORLD_CENTER), "zoom": WORLD_ZOOM}
    else:
        (south, west), (north, east) = bounds
        # With bounds and no zoom the map fits the bounds; dash-leaflet's viewport tracking
        # still needs a center to compare with (it throws on an undefined one).
        view = {
            "bounds": bounds,
            "boundsOptions": {"padding": [20, 20]},
            "center": [(south + north) / 2, (west + east) / 2],
        }
    the_map = dl.MapContainer(
        [
            *basemap.build(settings, frames["jurisdictions"]),
            dl.LayersControl(overlays, position="topright", collapsed=False),
            dl.ScaleControl(position="bottomleft", imperial=False),
            # Our own control: the OSM credit must stay visible whatever overlays are on.
            dl.AttributionControl(
                position="bottomright",
                prefix=f'<a href="https://leafletjs.com">Leaflet</a> | {basemap.OSM_ATTRIBUTION}',
            ),
        ],
        id=MAP_ID,
        attributionControl=False,
        minZoom=2,
        maxZoom=19,
        **view,
    )
    n_cameras, n_checkpoints = len(frames["cameras"]), len(frames["checkpoints"])
    header = html.Header(
        [
            html.H1("Sightline 视界"),
            html.Span(_plural(n_cameras, "camera"), id="camera-count", className="sl-count"),
            html.Span(
                _plural(n_checkpoints, "checkpoint"), id="checkpoint-count", className="sl-count"
            ),
        ],
        className="sl-header",
    )
    return html.Div(
        [
            header,
            html.Div(
                [the_map, _legend(frames["cameras"]), html.Div(id=VIDEO_PANEL_ID)],
                className="sl-map-wrap",
            ),
        ],
        className="sl-page",
    )


# -- click-to-video: a camera's live stream through the gateway (assets/player.js plays it) ------
VIDEO_PANEL_ID = "video-panel"


def video_panel(settings: Settings, feature: Mapping[str, object] | None) -> list[Component]:
    """The video panel of a clicked camera: signed, short-lived gateway URLs for this viewer."""
    props = (feature or {}).get("properties") or {}
    device_id = props.get("device_id") if isinstance(props, dict) else None
    if not device_id:
        return []
    key = access.signing_key(settings)
    q = access.sign(key, str(device_id), "console", settings.stream_url_ttl_s)
    query = "?" + "&".join(f"{k}={v}" for k, v in q.items())
    base = (settings.gateway_url or f"http://{settings.host}:{settings.gateway_port}").rstrip("/")
    stream = f"{base}/streams/{device_id}"
    return [
        html.Div(f"{props.get('name') or ''} · {device_id}", className="sl-video-title"),
        html.Video(
            id="video-player",
            className="sl-video",
            muted=True,
            autoPlay=True,
            **{
                "data-stream": stream.replace("http", "ws", 1) + "/ws" + query,
                "data-hls": f"{stream}/hls/index.m3u8{query}",
                "data-camera": str(device_id),
            },
        ),
    ]


@callback(
    Output(VIDEO_PANEL_ID, "children"),
    Input(cameras.LAYER_ID, "clickData"),
    prevent_initial_call=True,
)
def _open_video(feature: Mapping[str, object] | None) -> list[Component]:
    return video_panel(load_settings(), feature)
