"""The map console page: a full-page city map with the network's layers, legend and counts.

The page is built per request for the logged-in user (:func:`page_for_user`): the frames of the
user's scope (``store.queries.map_frames``, cached per scope for a few seconds) and only the
panels the user's role may use.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

import dash_leaflet as dl
import numpy as np
from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from geopandas import GeoDataFrame
from sqlalchemy import Engine

from layers import (
    alarm_points,
    basemap,
    buildings,
    cameras,
    checkpoints,
    jurisdictions,
    key_areas,
    placement,
    roads,
)
from pages import (
    assessment,
    auth,
    camera_search,
    device_tiles,
    first_response,
    patrol,
    planner,
    selection,
    trajectory,
    video,
    what_if,
)
from settings import Settings
from store import coverage, health
from store.access import allowed
from store.device_tiles import map_frames_tiled
from store.queries import map_frames
from store.scope import Principal, Scope

log = logging.getLogger("sightline.console")

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


def _legend_rows(counts: Mapping[str, int]) -> list[Component]:
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
    return [html.Div("Camera status", className="sl-legend-title"), *rows]


def _legend(cams: GeoDataFrame) -> html.Div:
    counts = cams["status"].value_counts() if "status" in cams.columns else {}
    return html.Div(_legend_rows(counts), id="legend", className="sl-legend")


LAYERS_CONTROL_ID = "layers-control"


def coverage_run(engine: Engine) -> int | None:
    """The newest finished coverage run, whose results the planner layers show."""
    with engine.connect() as conn:
        return coverage.latest_run(conn)


def _who(principal: Principal, jur: GeoDataFrame) -> list[Component]:
    """Who is logged in, their unit, and the logout button (``assets/sightline-auth.js``)."""
    scope = principal.scope
    unit = "全市 whole city"
    if scope.root_id is not None and len(jur):
        names = jur.loc[jur["id"] == scope.root_id, "name"]
        unit = str(names.iloc[0]) if len(names) else str(scope.root_code or "")
    if not scope.whole_city and scope.root_id is None:
        unit = "—"
    return [
        html.Span(
            [html.Span(principal.user_name, id="user-name"), f" · {principal.role} · ",
             html.Span(unit, id="user-unit")],
            id="who", className="sl-who",
        ),
        *([html.A("审计 Audit", href="/audit", id="audit-link", className="sl-who")]
          if allowed(principal, "admin") else []),
        html.Button("退出 Log out", id="logout-button", className="sl-logout",
                    **{"data-sl-logout": "1"}),
    ]  # fmt: skip


def layout(
    settings: Settings,
    frames: Mapping[str, GeoDataFrame],
    *,
    principal: Principal,
    health_cursor: int | None = None,
    planner_run: int | None = None,
    camera_tiles: device_tiles.Tiled | None = None,
    trajectory_tool: bool = False,
) -> Component:
    """The console page for ``principal``.

    Parameters
    ----------
    settings
        Basemap settings are used (``basemap_url``, ``basemap_attribution``), and
        ``health_interval_s`` for the refresh of camera status.
    frames
        GeoDataFrames (EPSG:4326) keyed by ``FRAME_KEYS``; any may be empty. They must be of
        the principal's scope (``store.queries.map_frames(engine, principal.scope)``).
    principal
        The logged-in user: shown in the header; their role decides the panels (planner layers
        and the cameras at a point need ``coverage``, video ``video``, the live health
        ``health``).
    health_cursor
        The newest camera status change (:func:`store.health.last_event_id`) the frames
        reflect; the page then polls for later changes (colours, legend, fault list). None: a
        static page.
    planner_run
        The coverage run whose results the planner layers show (:func:`coverage_run`):
        coverage per DORI level, blind spots, road coverage, entry roads without checkpoint;
        each a toggleable overlay (off at first, read from the store when first switched on)
        with a legend shown while it is on. None: no planner layers.
    camera_tiles
        Set for a scope with many cameras (:func:`pages.device_tiles.tiled`): the cameras are
        drawn from tiles (``frames["cameras"]`` is then empty) and counted from this.
    trajectory_tool
        The app has a trajectory service: roles with ``trajectory`` get the tool and its
        layers (``pages/trajectory.py``).

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
        device_tiles.overlay() if camera_tiles else cameras.build(frames["cameras"]),
        checkpoints.build(frames["checkpoints"]),
        alarm_points.build(frames["alarm_points"]),
    ]
    may = {a: allowed(principal, a)
           for a in ("coverage", "video", "health", "placement", "analyse", "export",
                     "trajectory")}
    may["trajectory"] = may["trajectory"] and trajectory_tool
    if may["placement"] and "placement" in frames and len(frames["placement"]):
        overlays.append(placement.build(frames["placement"]))  # the newest placement proposal
    if not may["coverage"]:
        planner_run = None
    overlays.extend(planner.overlays(planner_run))
    if may["trajectory"]:
        overlays.extend(trajectory.overlays())
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
            dl.LayersControl(overlays, id=LAYERS_CONTROL_ID, position="topright", collapsed=False),
            *(first_response.map_children() if may["coverage"] else []),
            *_tool_layers(may),
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
    legend, tile_parts = _legend(frames["cameras"]), []
    if camera_tiles is not None:  # a large city: cameras come as tiles (pages/device_tiles.py)
        n_cameras = camera_tiles.count
        legend = html.Div(_legend_rows(camera_tiles.status_counts), id="legend",
                          className="sl-legend")  # fmt: skip
        tile_parts = device_tiles.page_parts(principal.scope, may_video=may["video"],
                                             map_id=MAP_ID)  # fmt: skip
    header = html.Header(
        [
            html.H1("Sightline 视界"),
            html.Span(_plural(n_cameras, "camera"), id="camera-count", className="sl-count"),
            html.Span(
                _plural(n_checkpoints, "checkpoint"), id="checkpoint-count", className="sl-count"
            ),
            *camera_search.controls(frames["cameras"], frames["jurisdictions"]),
            *_who(principal, frames["jurisdictions"]),
        ],
        className="sl-header",
    )
    return html.Div(
        [
            header,
            html.Div(
                [
                    the_map,
                    legend,
                    *tile_parts,
                    *planner.legend_panel(planner_run),
                    *([html.Div(id=VIDEO_PANEL_ID)] if may["video"] else []),
                    *(first_response.panels(with_video=may["video"]) if may["coverage"] else []),
                    _tools(may, frames["jurisdictions"]),
                ],
                className="sl-map-wrap",
            ),
            *([] if health_cursor is None or not may["health"]
              else _live_health(settings, health_cursor)),  # fmt: skip
        ],
        className="sl-page",
    )


# -- the area tools (issue 7): selection, patrol, assessment, what-if ---------------------------
def _tool_layers(may: Mapping[str, bool]) -> list[Component]:
    return [*selection.map_children(marker=may["analyse"]),
            *(patrol.map_children() if may["video"] else []),
            *(what_if.map_children() if may["analyse"] else []),
            *(trajectory.map_children() if may["trajectory"] else [])]  # fmt: skip


def _tools(may: Mapping[str, bool], jur: GeoDataFrame) -> Component:
    """The tools dock beside the map: one collapsible section per tool the role may use."""
    return html.Div(
        [selection.panel(jur),
         *([patrol.panel()] if may["video"] else []),
         *([assessment.panel(may_export=may["export"])] if may["coverage"] else []),
         *([what_if.panel()] if may["analyse"] else []),
         *([trajectory.panel()] if may["trajectory"] else [])],
        id="tools", className="sl-tools",
    )  # fmt: skip


# -- click-to-video: a camera's live stream through the gateway (assets/player.js plays it) ------
VIDEO_PANEL_ID = "video-panel"


def video_panel(
    settings: Settings, engine: Engine, who: Principal, feature: Mapping[str, object] | None
) -> list[Component]:
    """The video panel of a clicked camera: signed, short-lived gateway URLs for this viewer,
    only if the store says they may watch it (the feature comes from the browser)."""
    props = (feature or {}).get("properties") if isinstance(feature, Mapping) else None
    device_id = props.get("device_id") if isinstance(props, dict) else None
    if not device_id or not isinstance(device_id, str):
        return []
    with engine.connect() as conn:
        ok = bool(video.viewable(conn, who, [device_id]))
    if not ok:
        return [html.Div(f"{device_id}: 无权查看 not a camera you may watch",
                         className="sl-video-title sl-video-refused")]  # fmt: skip
    return [
        html.Div(f"{props.get('name') or ''} · {device_id}", className="sl-video-title"),
        video.video(settings, device_id, who.subject, id="video-player", className="sl-video"),
    ]


# -- live camera health: colours, legend and fault list follow the prober without a restart ----
HEALTH_POLL_ID = "health-poll"
HEALTH_STATE_ID = "health-state"
HEALTH_CHANGES_ID = "health-changes"
FAULT_LIST_ID = "fault-list"
FAULT_LIST_ROWS = 20
HEALTH_POLL_MAX_S = 5.0


def health_cursor(engine: Engine) -> int:
    """The newest camera status change now (read after the map frames: the page polls from it)."""
    with engine.connect() as conn:
        return health.last_event_id(conn)


def _live_health(settings: Settings, cursor: int) -> list[Component]:
    every_s = min(HEALTH_POLL_MAX_S, settings.health_interval_s)
    return [
        html.Div(id=FAULT_LIST_ID, className="sl-faults"),
        dcc.Interval(id=HEALTH_POLL_ID, interval=int(every_s * 1000)),
        dcc.Store(id=HEALTH_STATE_ID, data={"cursor": cursor, "filled": False}),
        dcc.Store(id=HEALTH_CHANGES_ID, data={}),
    ]


def fault_list(rows: list[dict[str, object]], not_online: int) -> list[Component]:
    """The fault list panel: cameras not online, longest-standing first, with since-when."""
    items = [
        html.Li(
            [
                html.Span(str(r["status"]), className=f"sl-fault-status sl-status-{r['status']}"),
                f" {r['name'] or ''} · {r['device_id']}",
                f" · since {r['since']:%Y-%m-%d %H:%M}" if r.get("since") else "",
                html.Span(f" {r['reason'] or ''}", className="sl-fault-reason"),
            ],
            className="sl-fault",
            **{"data-device": str(r["device_id"]), "data-status": str(r["status"])},
        )
        for r in rows
    ]
    more = not_online - len(rows)
    return [
        html.Div(f"Not online ({not_online})", className="sl-faults-title"),
        html.Ul(items),
        *([html.Div(f"… and {more} more (sightline camera faults)")] if more > 0 else []),
    ]


# -- the page per user ---------------------------------------------------------------------------
FRAMES_TTL_S = 10.0
"""How long the frames of one scope are reused by the pages of every user of that scope."""
FRAMES_CACHE_SCOPES = 64


class FramesCache:
    """The map frames of each scope and the health cursor read just before them, kept for
    ``ttl_s`` (a page built from them polls the status changes since that cursor)."""

    def __init__(self, engine: Engine, ttl_s: float = FRAMES_TTL_S) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._kept: dict[Scope, tuple[float, dict[str, GeoDataFrame], int]] = {}
        self._tiled: dict[Scope, device_tiles.Tiled | None] = {}

    def get(self, scope: Scope) -> tuple[dict[str, GeoDataFrame], int]:
        now = time.monotonic()
        with self._lock:
            hit = self._kept.get(scope)
            if hit is not None and now - hit[0] < self.ttl_s:
                return hit[1], hit[2]
        cursor = health_cursor(self.engine)  # before the frames: no change falls in between
        tiled = device_tiles.tiled(self.engine, scope)
        frames = map_frames(self.engine, scope) if tiled is None else \
            map_frames_tiled(self.engine, scope)  # fmt: skip
        with self._lock:
            if len(self._kept) >= FRAMES_CACHE_SCOPES:
                self._kept.clear()
                self._tiled.clear()
            self._kept[scope] = (now, frames, cursor)
            self._tiled[scope] = tiled
        return frames, cursor

    def tiled(self, scope: Scope) -> device_tiles.Tiled | None:
        """The camera facts of a tiled page of ``scope`` (after :meth:`get`), else None."""
        with self._lock:
            return self._tiled.get(scope)


def page_for_user(settings: Settings, engine: Engine, *,
                  trajectory_tool: bool = False) -> Callable[[], Component]:  # fmt: skip
    """The app's layout function: the page of the logged-in user (an empty page outside a
    logged-in request; the guard sends those to the login form before they get here)."""
    cache = FramesCache(engine)

    def serve() -> Component:
        who = auth.current_principal()
        if who is None:
            return html.Div(id="signed-out")
        t = time.perf_counter()
        frames, cursor = cache.get(who.scope)
        page = layout(settings, frames, principal=who, health_cursor=cursor,
                      planner_run=coverage_run(engine),
                      camera_tiles=cache.tiled(who.scope),
                      trajectory_tool=trajectory_tool)  # fmt: skip
        log.debug("page for %s built in %.3f s", who.subject, time.perf_counter() - t)
        return page

    return serve


def register(app: Dash, settings: Settings, engine: Engine, *,
             what_if_runner: what_if.WhatIfRunner | None = None,
             trajectory_service: trajectory.TrajectoryService | None = None) -> None:  # fmt: skip
    """Attach the page's callbacks to ``app``, each under the action it needs
    (``pages.auth.callback``), and the assessment export route. ``what_if_runner`` computes
    what-if runs (``analysis.coverage_run.run_coverage``; None: no what-if runs);
    ``trajectory_service`` answers trajectory queries (``analysis.trajectory``; None: no
    trajectory tool, callbacks or export route)."""

    @auth.callback(
        app, "video",
        Output(VIDEO_PANEL_ID, "children"),
        Input(cameras.LAYER_ID, "clickData"),
        prevent_initial_call=True,
    )  # fmt: skip
    def _open_video(feature: Mapping[str, object] | None) -> list[Component]:
        panel = video_panel(settings, engine, auth.principal(), feature)
        if not panel:
            raise PreventUpdate  # a cluster was clicked (it zooms in): keep the panel
        return panel

    camera_search.register(app)
    device_tiles.register(app, engine,
                          lambda f: video_panel(settings, engine, auth.principal(), f),
                          VIDEO_PANEL_ID, HEALTH_CHANGES_ID)  # fmt: skip
    first_response.register(app, settings, engine, MAP_ID)
    planner.register(app, engine, LAYERS_CONTROL_ID)
    selection.register(app, settings, engine)
    patrol.register(app, settings, engine)
    assessment.register(app, engine)
    assessment.install(app, engine)
    what_if.register(app, engine, what_if_runner)
    if trajectory_service is not None:
        trajectory.register(app, engine, trajectory_service,
                            lambda f: video_panel(settings, engine, auth.principal(), f),
                            VIDEO_PANEL_ID)  # fmt: skip

    @auth.callback(
        app, "health",
        Output(HEALTH_CHANGES_ID, "data"),
        Output(HEALTH_STATE_ID, "data"),
        Output(FAULT_LIST_ID, "children"),
        Output("legend", "children"),
        Input(HEALTH_POLL_ID, "n_intervals"),
        State(HEALTH_STATE_ID, "data"),
    )
    def _poll_health(
        _n: int | None, state: dict[str, object]
    ) -> tuple[object, dict[str, object], object, object]:
        try:
            cursor = int(state.get("cursor") or 0)  # type: ignore[call-overload]
        except (AttributeError, TypeError, ValueError):
            raise PreventUpdate from None
        scope = auth.principal().scope
        with engine.connect() as conn:
            # Nothing new (the usual case): one primary-key lookup, nothing sent back.
            if state.get("filled") and health.last_event_id(conn) == cursor:
                raise PreventUpdate
            new_cursor, changes = health.status_changes(conn, cursor, scope)
            rows = health.faults(conn, scope, FAULT_LIST_ROWS)
            not_online = sum(n for s, n in health.status_counts(conn, scope).items()
                             if s != "online")
            counts = health.camera_status_counts(conn, scope)
        return (
            changes or no_update,
            {"cursor": new_cursor, "filled": True},
            fault_list(rows, not_online),
            _legend_rows(counts),
        )

    # The markers are recoloured in the browser: the new statuses go into the layer's hideout
    # (assets/sightline.js reads hideout.live), the GeoJSON itself is not sent again.
    auth.clientside_callback(
        app, "health",
        """function (changes, hideout) {
            if (!changes || !Object.keys(changes).length) {
                return window.dash_clientside.no_update;
            }
            var live = Object.assign({}, (hideout && hideout.live) || {}, changes);
            return Object.assign({}, hideout, {live: live});
        }""",
        Output(cameras.LAYER_ID, "hideout", allow_duplicate=True),
        Input(HEALTH_CHANGES_ID, "data"),
        State(cameras.LAYER_ID, "hideout"),
        prevent_initial_call=True,
    )

