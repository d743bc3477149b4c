"""Trajectory 轨迹 on the map (action ``trajectory``): one object's sightings in a time window,
routed on the road graph, for a case — flags, unseen corridors, a time slider with playback,
a hops table and audited exports (GeoJSON / GPX / CSV).

The query is the service the app was given (``analysis.trajectory``, injected: pages must not
import ``analysis``); it needs a case reference and a purpose, sees the viewer's scope only and
writes one ``trajectory.query`` audit entry per call (refusals too). The browser's Query button
stays disabled until both are filled in; the server refuses (and audits) them anyway. A
result is kept in this process for its owner's exports only (by a random key).
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import dash_leaflet as dl
import flask
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from sqlalchemy import Connection, Engine

from layers import trajectory as traj_layer
from pages import auth
from store import audit
from store import sightings as store_sightings
from store.scope import Principal

SECTION_ID = "traj-section"
OBJECT_ID = "traj-object"
FROM_ID = "traj-from"
TO_ID = "traj-to"
CASE_ID = "traj-case"
PURPOSE_ID = "traj-purpose"
QUERY_ID = "traj-query"
STATUS_ID = "traj-status"
TABLE_ID = "traj-table"
EXPORTS_ID = "traj-exports"
DETAILS_ID = "traj-details"
DATA_ID = "traj-data"
SLIDER_ID = "traj-slider"
PLAY_ID = "traj-play"
TICK_ID = "traj-tick"
CLOCK_ID = "traj-clock"
LAYER_ID = "traj-layer"
CORRIDOR_GROUP_ID = "traj-corridors"
CURSOR_ID = "traj-cursor"
TICK_MS = 200
PLAY_STEPS = 150  # ticks from start to end: a whole trajectory plays in ~30 s
EXPORT_PATH = "/trajectory/export/<key>/<fmt>"
EXPORT_ENDPOINT = "export_trajectory"
FORMATS = {"geojson": ("application/geo+json", "geojson"), "gpx": ("application/gpx+xml", "gpx"),
           "csv": ("text/csv", "csv")}  # fmt: skip
KEEP_RESULTS = 64  # results kept for exports per console process (newest)


class TrajectoryService(Protocol):
    """``analysis.trajectory``'s shape as used here."""

    def query(self, conn: Connection, principal: Principal, object_ref: str | None, start: Any,
              end: Any, case_ref: str | None, purpose: str | None) -> Any: ...  # fmt: skip

    def to_geojson(self, result: dict[str, Any], roads_geojson: dict[int, Any] | None = None
                   ) -> dict[str, Any]: ...  # fmt: skip

    def to_gpx(self, result: dict[str, Any]) -> str: ...

    def to_csv(self, result: dict[str, Any]) -> str: ...


class Results:
    """Query results of this process, each readable by the user who asked only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, tuple[str, dict[str, Any], dict[int, Any]]] = OrderedDict()

    def put(self, who: Principal, result: dict[str, Any], roads: dict[int, Any]) -> str:
        key = secrets.token_urlsafe(16)
        with self._lock:
            self._kept[key] = (who.subject, result, roads)
            while len(self._kept) > KEEP_RESULTS:
                self._kept.popitem(last=False)
        return key

    def get(self, who: Principal, key: str) -> tuple[dict[str, Any], dict[int, Any]] | None:
        with self._lock:
            hit = self._kept.get(key)
        if hit is None or hit[0] != who.subject:
            return None
        return hit[1], hit[2]


# -- layout ----------------------------------------------------------------------------------------
def overlays() -> list[Component]:
    """Layer-switcher overlays: the trajectory, and the unseen corridors (semi-transparent)."""
    return [dl.Overlay(dl.LayerGroup(id=LAYER_ID), name="轨迹 Trajectory", checked=True),
            dl.Overlay(dl.LayerGroup(id=CORRIDOR_GROUP_ID), name="未覆盖通道 Unseen corridors",
                       checked=True)]  # fmt: skip


def map_children() -> list[Component]:
    """Children of the map: the playback cursor (hidden until a trajectory is drawn)."""
    cursor = dl.CircleMarker(id=CURSOR_ID, center=[0.0, 0.0], radius=9,
                             pathOptions=cursor_style(False), className="sl-traj-cursor",
                             interactive=False)  # fmt: skip
    # above the camera markers and the numbered sightings (panes 630, 640)
    return [dl.Pane(cursor, name="sl-trajectory-cursor", style={"zIndex": 645})]


def cursor_style(shown: bool) -> dict[str, Any]:
    """The playback cursor's Leaflet path options (hidden until a trajectory is drawn)."""
    return {"color": "#000000", "weight": 3, "fillColor": traj_layer.CURRENT_COLOR,
            "opacity": 1 if shown else 0, "fillOpacity": 0.9 if shown else 0}  # fmt: skip


def panel() -> Component:
    """The trajectory section of the tools dock."""
    text: dict[str, Any] = {"type": "text", "debounce": False, "style": {"width": "100%"}}
    return html.Details(
        [
            html.Summary("轨迹 Trajectory"),
            html.Label(["对象 object (plate) ", dcc.Input(id=OBJECT_ID, **text)]),
            html.Label(["从 from ", dcc.Input(id=FROM_ID, placeholder="2026-11-01T00:00+08:00",
                                              **text)]),
            html.Label(["到 to ", dcc.Input(id=TO_ID, placeholder="2026-11-02T00:00+08:00",
                                            **text)]),
            html.Label(["案件编号 case reference* ", dcc.Input(id=CASE_ID, required=True,
                                                             **text)]),
            html.Label(["用途 purpose* ", dcc.Input(id=PURPOSE_ID, required=True, **text)]),
            html.Div("* 必填，写入审计日志 required; written to the audit log",
                     className="sl-hint"),
            html.Button("查询 Query", id=QUERY_ID, disabled=True),
            html.Div(id=STATUS_ID, className="sl-hint"),
            html.Div([
                html.Button("播放 Play", id=PLAY_ID, disabled=True),
                html.Span(id=CLOCK_ID, className="sl-traj-clock"),
            ], className="sl-buttons"),
            dcc.Slider(id=SLIDER_ID, min=0, max=1, step=1, value=0, marks=None,
                       updatemode="drag", disabled=True),
            html.Div(id=EXPORTS_ID),
            html.Div(id=DETAILS_ID, className="sl-traj-details"),
            html.Div(id=TABLE_ID, className="sl-traj-table"),
            dcc.Store(id=DATA_ID, data=None),
            dcc.Interval(id=TICK_ID, interval=TICK_MS, disabled=True),
        ],
        id=SECTION_ID, className="sl-tool", open=False,
    )  # fmt: skip


def _fmt(x: Any, spec: str) -> str:
    return "—" if x is None else format(x, spec)


def hops_table(result: Mapping[str, Any], start_s: float = 0.0) -> Component:
    """One row per hop: arrival time, from → to device, distance (m), speed (km/h), flags. A
    click on a row puts the slider in the middle of that hop (``data-t``: seconds after
    ``start_s``, the first sighting; ``assets/sightline-trajectory.js``)."""
    s = result["sightings"]
    play = traj_layer.playback(result)["hops"]
    head = html.Tr([html.Th(x) for x in ("#", "时间 time", "设备 device", "m", "km/h",
                                         "标记 flags")])  # fmt: skip
    rows = []
    for k, h in enumerate(result["hops"]):
        a, b = s[h["from_sighting"]], s[h["to_sighting"]]
        rows.append(html.Tr(
            [html.Td(str(k + 1)), html.Td(b["seen_at"][11:19]),
             html.Td(f"{a['device_id'][-6:]} → {b['device_id'][-6:]}",
                     title=f"{a['device_id']} → {b['device_id']}"),
             html.Td(_fmt(h.get("length_m"), ".0f")), html.Td(_fmt(h.get("speed_kmh"), ".1f")),
             html.Td(", ".join(h["flags"]))],
            className="sl-traj-row" + (" sl-traj-flagged" if h["flags"] else ""),
            **{"data-hop": str(k), "data-flags": ",".join(h["flags"]),
               "data-t": str(round((play[k]["t0"] + play[k]["t1"]) / 2 - start_s))}))  # fmt: skip
    return html.Table([html.Thead(head), html.Tbody(rows)], className="sl-stats")


def summary(result: Mapping[str, Any]) -> str:
    flags = ", ".join(f"{k} {v}" for k, v in sorted(result["flags"].items())) or "无 none"
    more = (f" — only the first {len(result['sightings'])} sightings: narrow the window "
            f"(later ones from {result['next_after']})" if result.get("next_after") else "")
    return (f"{result['object_ref']}: {len(result['sightings'])} sightings, "
            f"{len(result['hops'])} hops, flags: {flags}, "
            f"{len(result['corridor_roads'])} unseen corridor roads{more}")  # fmt: skip


def exports(key: str) -> Component:
    return html.Div([
        html.A(f"⬇ {name}", href=f"/trajectory/export/{key}/{fmt}", download="",
               id=f"traj-export-{fmt}", className="sl-export", style={"marginRight": "8px"})
        for fmt, name in (("geojson", "GeoJSON"), ("gpx", "GPX"), ("csv", "CSV"))
    ])  # fmt: skip


def details(props: Mapping[str, Any]) -> Component:
    """The clicked sighting's or hop's device: kind, id, name, time, speed and flags."""
    kind = "摄像机 camera" if props.get("device_kind") == "camera" else "卡口 checkpoint"
    lines = [html.Div(f"{kind} · {props.get('device_id')}", className="sl-sel-title"),
             html.Div(str(props.get("name") or "")),
             html.Div(f"时间 time {props.get('seen_at')}")]  # fmt: skip
    if props.get("kind") == "hop":
        lines += [html.Div(f"from {props.get('from_device_id')} at {props.get('from_seen_at')}"),
                  html.Div(f"{_fmt(props.get('length_m'), '.0f')} m · "
                           f"{_fmt(props.get('speed_kmh'), '.1f')} km/h"),
                  html.Div("标记 flags: " + (", ".join(props.get("flags") or []) or "—"),
                           className="sl-traj-flag" if props.get("flags") else "")]  # fmt: skip
    return html.Div(lines, **{"data-device": str(props.get("device_id"))})


# -- callbacks and the export route ----------------------------------------------------------------
def _export(engine: Engine, results: Results, service: TrajectoryService, key: str,
            fmt: str) -> flask.Response:  # fmt: skip
    who = auth.principal()
    hit = results.get(who, key)
    if hit is None or fmt not in FORMATS:
        return flask.Response("no such trajectory result\n", status=404, mimetype="text/plain")
    result, roads = hit
    if fmt == "geojson":
        body = json.dumps(service.to_geojson(result, roads), ensure_ascii=False)
    elif fmt == "gpx":
        body = service.to_gpx(result)
    else:
        body = "\ufeff" + service.to_csv(result)
    with engine.begin() as conn:
        audit.record(conn, who, "export", f"trajectory:{result['object_ref']}",
                     details={"what": "trajectory", "format": fmt,
                              "case_ref": result.get("case_ref"),
                              "purpose": result.get("purpose"), "from": result.get("from"),
                              "to": result.get("to"), "sightings": len(result["sightings"]),
                              "scope": who.scope.describe()})  # fmt: skip
    mimetype, ext = FORMATS[fmt]
    # HTTP headers are latin-1: an ASCII name, and the plate itself in RFC 5987 form
    ref = result["object_ref"][:40]
    ascii_ref = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in ref)
    resp = flask.Response(body.encode("utf-8"), mimetype=mimetype)
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="trajectory-{ascii_ref}.{ext}"; '
        f"filename*=UTF-8''{urllib.parse.quote(f'trajectory-{ref}.{ext}', safe='')}")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def register(app: Dash, engine: Engine, service: TrajectoryService,
             open_video: Callable[[Mapping[str, object] | None], list[Component]],
             video_panel_id: str) -> None:  # fmt: skip
    """Add the export route (endpoint :data:`EXPORT_ENDPOINT`, action ``export`` in
    ``auth.ROUTES``) and the callbacks: query, click details, the clicked camera's video
    (``open_video(feature)``), and the browser-side form check and playback."""
    results = Results()
    app.server.add_url_rule(EXPORT_PATH, EXPORT_ENDPOINT,
                            lambda key, fmt: _export(engine, results, service, key, fmt),
                            methods=["GET"])  # fmt: skip

    # The form refuses to submit without a case reference and a purpose.
    auth.clientside_callback(
        app, "trajectory",
        """function (obj, t0, t1, caseRef, purpose) {
            var blank = function (v) { return !v || !String(v).trim(); };
            return blank(obj) || blank(t0) || blank(t1) || blank(caseRef) || blank(purpose);
        }""",
        Output(QUERY_ID, "disabled"),
        Input(OBJECT_ID, "value"), Input(FROM_ID, "value"), Input(TO_ID, "value"),
        Input(CASE_ID, "value"), Input(PURPOSE_ID, "value"),
    )  # fmt: skip

    @auth.callback(
        app, "trajectory",
        Output(LAYER_ID, "children"),
        Output(CORRIDOR_GROUP_ID, "children"),
        Output(DATA_ID, "data"),
        Output(SLIDER_ID, "max"),
        Output(SLIDER_ID, "value"),
        Output(SLIDER_ID, "disabled"),
        Output(PLAY_ID, "disabled"),
        Output(TABLE_ID, "children"),
        Output(EXPORTS_ID, "children"),
        Output(STATUS_ID, "children"),
        Input(QUERY_ID, "n_clicks"),
        State(OBJECT_ID, "value"), State(FROM_ID, "value"), State(TO_ID, "value"),
        State(CASE_ID, "value"), State(PURPOSE_ID, "value"),
        prevent_initial_call=True,
    )  # fmt: skip
    def _query(n: int | None, obj: Any, t0: Any, t1: Any, case_ref: Any,
               purpose: Any) -> tuple[Any, ...]:  # fmt: skip
        if not n:
            raise PreventUpdate
        who = auth.principal()
        text = [str(v) if isinstance(v, str | int | float) else None
                for v in (obj, t0, t1, case_ref, purpose)]  # fmt: skip
        with engine.begin() as conn:
            result = service.query(conn, who, *text)
            if not isinstance(result, dict):  # a refusal (audited by the service)
                refusal = f"拒绝 refused ({result.field}): {result.detail}"
                roads: dict[int, Any] = {}
            else:
                refusal = None
                ids = [r["road_id"] for r in result["corridor_roads"]]
                roads = store_sightings.road_geojson(conn, ids) if ids else {}
        if refusal is not None:
            return (*([no_update] * 9), html.Span(refusal, className="sl-traj-refused"))
        play = traj_layer.playback(result)
        play["key"] = results.put(who, result, roads)
        span = int(round(play["end"] - play["start"]))
        return (traj_layer.build(result), traj_layer.corridors(result, roads), play,
                max(span, 1), 0, not result["hops"], not result["hops"],
                hops_table(result, play["start"]),
                exports(play["key"]), summary(result))  # fmt: skip

    @auth.callback(
        app, "trajectory",
        Output(DETAILS_ID, "children"),
        Input(traj_layer.SIGHTINGS_ID, "clickData"),
        Input(traj_layer.HOPS_ID, "clickData"),
        prevent_initial_call=True,
    )
    def _details(sighting: Any, hop: Any) -> Component:
        feature = hop if ctx.triggered_id == traj_layer.HOPS_ID else sighting
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict):
            raise PreventUpdate
        return details(props)

    @auth.callback(
        app, "video",
        Output(video_panel_id, "children", allow_duplicate=True),
        Input(traj_layer.SIGHTINGS_ID, "clickData"),
        Input(traj_layer.HOPS_ID, "clickData"),
        prevent_initial_call=True,
    )
    def _video(sighting: Any, hop: Any) -> list[Component]:
        feature = hop if ctx.triggered_id == traj_layer.HOPS_ID else sighting
        props = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(props, dict) or props.get("device_kind") != "camera":
            raise PreventUpdate  # a checkpoint: its details only (no stream of its own here)
        panel = open_video(feature)
        if not panel:
            raise PreventUpdate
        return panel

    # Playback: the slider is seconds since the first sighting; play advances it.
    auth.clientside_callback(
        app, "trajectory",
        """function (n, stopped, value, max) {
            var trig = (window.dash_clientside.callback_context.triggered || [])[0] || {};
            if (String(trig.prop_id || "").indexOf("n_clicks") >= 0) {
                var start = !!stopped;
                return [!start, start ? "暂停 Pause" : "播放 Play",
                        (start && value >= max) ? 0 : window.dash_clientside.no_update];
            }
            return [window.dash_clientside.no_update, window.dash_clientside.no_update,
                    window.dash_clientside.no_update];
        }""",
        Output(TICK_ID, "disabled"), Output(PLAY_ID, "children"), Output(SLIDER_ID, "value",
                                                                         allow_duplicate=True),
        Input(PLAY_ID, "n_clicks"), State(TICK_ID, "disabled"), State(SLIDER_ID, "value"),
        State(SLIDER_ID, "max"),
        prevent_initial_call=True,
    )  # fmt: skip
    auth.clientside_callback(
        app, "trajectory",
        """function (n, value, max) {
            var step = Math.max(1, Math.round(max / STEPS));
            var next = Math.min(max, (value || 0) + step);
            if (next >= max) { return [max, true, "播放 Play"]; }
            return [next, false, window.dash_clientside.no_update];
        }""".replace("STEPS", str(PLAY_STEPS)),
        Output(SLIDER_ID, "value", allow_duplicate=True),
        Output(TICK_ID, "disabled", allow_duplicate=True),
        Output(PLAY_ID, "children", allow_duplicate=True),
        Input(TICK_ID, "n_intervals"), State(SLIDER_ID, "value"), State(SLIDER_ID, "max"),
        prevent_initial_call=True,
    )  # fmt: skip
    auth.clientside_callback(
        app, "trajectory",
        """function (value, data, hideout) {
            var nu = window.dash_clientside.no_update;
            if (!data || !data.hops || !data.hops.length) { return [nu, HIDDEN, "", nu]; }
            var t = data.start + (value || 0);
            var at = window.sightline.trajAt(data, t);
            var h = Object.assign({}, hideout || {}, {current: at.hop});
            var trig = (window.dash_clientside.callback_context.triggered || [])[0] || {};
            var map = document.getElementById("map").sightlineMap;
            if (map && data.bounds && String(trig.prop_id || "").indexOf("data") >= 0) {
                // clear of the tools dock (left) and the layer switcher (right)
                map.fitBounds(data.bounds, {paddingTopLeft: [430, 30],
                                            paddingBottomRight: [240, 30], animate: false});
            }
            var clock = new Date(t * 1000).toISOString().slice(0, 19) + "Z";
            return [at.latlng, SHOWN, clock + " · hop " + (at.hop + 1), h];
        }""".replace("HIDDEN", json.dumps(cursor_style(False))).replace(
            "SHOWN", json.dumps(cursor_style(True))),
        Output(CURSOR_ID, "center"), Output(CURSOR_ID, "pathOptions"),
        Output(CLOCK_ID, "children"),
        Output(traj_layer.HOPS_ID, "hideout"),
        Input(SLIDER_ID, "value"), Input(DATA_ID, "data"),
        State(traj_layer.HOPS_ID, "hideout"),
        prevent_initial_call=True,
    )  # fmt: skip
