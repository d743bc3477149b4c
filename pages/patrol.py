"""Video patrol (视频巡逻 / 轮巡) on the map page: collect cameras (picked on the map, the
selected area's, or those along a drawn route), save them as a patrol, run it: the video grid
shows ``PAGE_SIZE`` cameras at a time and moves on every ``interval_s`` seconds, each tile
labelled, the cameras on screen ringed on the map.

Saved patrols are the viewer's unit's (``store.patrols``). Every page of a running patrol is
signed anew for the cameras the viewer may watch at that moment (``pages.video.viewable``).
"""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from sqlalchemy import Engine

from layers import cameras as camera_layer
from pages import auth, device_tiles, first_response, selection, video
from settings import Settings
from store import console_stats, patrols

NAME_ID = "patrol-name"
INTERVAL_ID = "patrol-interval"
PICK_ID = "patrol-pick"
FROM_AREA_ID = "patrol-from-area"
FROM_ROUTE_ID = "patrol-from-route"
CLEAR_ID = "patrol-clear"
PICKED_ID = "patrol-picked"
PICKED_LIST_ID = "patrol-picked-list"
SAVE_ID = "patrol-save"
MESSAGE_ID = "patrol-message"
LIST_ID = "patrol-list"
RUN_ID = "patrol-run"
STOP_ID = "patrol-stop"
DELETE_ID = "patrol-delete"
TICK_ID = "patrol-tick"
STATE_ID = "patrol-state"
STATUS_ID = "patrol-status"
HIGHLIGHT_ID = "patrol-highlight"
PAGE_SIZE = 4  # a 2×2 grid per step
GRID_CLASS = "sl-video-grid sl-patrol-grid"


def first_response_grid_class() -> str:
    return "sl-video-grid"  # the grid's class in pages.first_response.panels
ROUTE_WITHIN_M = 30.0


def map_children() -> list[Component]:
    """Children of the map: rings around the cameras the running patrol shows."""
    return [dl.LayerGroup(id=HIGHLIGHT_ID)]


def _options(saved: list[patrols.Patrol]) -> list[dict[str, Any]]:
    return [{"label": f"{p.name} · {len(p.device_ids)} cams · {p.interval_s} s", "value": p.id}
            for p in saved]  # fmt: skip


def panel() -> Component:
    """The patrol section of the tools dock (the saved patrols are read when the page
    loads)."""
    return html.Details(
        [
            html.Summary("视频巡逻 Video patrol"),
            html.Div([
                dcc.Checklist(id=PICK_ID, options=[{"label": " 点选摄像机 pick cameras on the map",
                                                    "value": "on"}], value=[]),
                html.Button("加入区域内 Add the area's", id=FROM_AREA_ID),
                html.Button("沿路线 Along the drawn route", id=FROM_ROUTE_ID,
                            title=f"cameras within {ROUTE_WITHIN_M:.0f} m of the last line drawn"),
                html.Button("清空 Clear", id=CLEAR_ID),
            ], className="sl-buttons"),
            html.Ol(id=PICKED_LIST_ID, className="sl-point-list"),
            html.Div([
                dcc.Input(id=NAME_ID, type="text", placeholder="名称 name", maxLength=64,
                          debounce=False),
                dcc.Input(id=INTERVAL_ID, type="number", value=10,
                          min=patrols.MIN_INTERVAL_S, max=patrols.MAX_INTERVAL_S, step=1),
                html.Span(" s"),
                html.Button("保存 Save", id=SAVE_ID),
            ], className="sl-buttons"),
            html.Div(id=MESSAGE_ID, className="sl-hint"),
            dcc.Dropdown(id=LIST_ID, options=[], placeholder="已保存 saved patrols"),
            html.Div([
                html.Button("开始巡逻 Run", id=RUN_ID),
                html.Button("停止 Stop", id=STOP_ID),
                html.Button("删除 Delete", id=DELETE_ID),
            ], className="sl-buttons"),
            html.Div(id=STATUS_ID, className="sl-hint"),
            dcc.Store(id=PICKED_ID, data=[]),
            dcc.Store(id=STATE_ID, data=None),
            dcc.Interval(id=TICK_ID, interval=10_000, disabled=True),
        ],
        id="patrol-section", className="sl-tool", open=False,
    )  # fmt: skip


def picked_rows(cams: list[dict[str, Any]]) -> list[Component]:
    return [html.Li([html.Span(c.get("name") or "", className="sl-cam-name"),
                     html.Span(f" {c['device_id']}", className="sl-cam-id")],
                    **{"data-device": str(c["device_id"])}) for c in cams]  # fmt: skip


def steps(n: int) -> int:
    """Steps of a patrol of ``n`` cameras (``PAGE_SIZE`` a step)."""
    return max(1, -(-n // PAGE_SIZE))


def register(app: Dash, settings: Settings, engine: Engine) -> None:
    """Attach the callbacks (all need ``video``; saving and deleting too, within the
    user's scope)."""

    @auth.callback(
        app, "video",
        Output(PICKED_ID, "data"),
        Output(PICKED_LIST_ID, "children"),
        Input(camera_layer.LAYER_ID, "clickData"),
        Input(FROM_AREA_ID, "n_clicks"),
        Input(FROM_ROUTE_ID, "n_clicks"),
        Input(CLEAR_ID, "n_clicks"),
        State(PICK_ID, "value"),
        State(selection.STORE_ID, "data"),
        State(selection.DRAW_ID, "geojson"),
        State(PICKED_ID, "data"),
        prevent_initial_call=True,
    )
    def _collect(click: Any, _a: Any, _r: Any, _c: Any, pick: Any, area: Any, drawn: Any,
                 picked: Any) -> tuple[Any, ...]:  # fmt: skip
        if ctx.triggered_id == CLEAR_ID:
            return [], []
        ids = [d for d in (picked or []) if isinstance(d, str)]
        who = auth.principal()
        with engine.connect() as conn:
            if ctx.triggered_id == camera_layer.LAYER_ID:
                props = (click or {}).get("properties") if isinstance(click, dict) else None
                device = props.get("device_id") if isinstance(props, dict) else None
                if "on" not in (pick or []) or not isinstance(device, str):
                    raise PreventUpdate  # not picking, or a cluster was clicked
                ids.append(device)
            elif ctx.triggered_id == FROM_AREA_ID:
                got = area.get("cameras") if isinstance(area, dict) else None
                ids.extend(d for d in (got or []) if isinstance(d, str))
            elif ctx.triggered_id == FROM_ROUTE_ID:
                line = selection.last_feature(drawn, ("LineString",))
                if line is None:
                    raise PreventUpdate
                try:
                    along = console_stats.cameras_along_route(conn, line["geometry"], who.scope,
                                                              within_m=ROUTE_WITHIN_M)
                except console_stats.SelectionError:
                    raise PreventUpdate from None
                ids.extend(c["device_id"] for c in along)
            cams = console_stats.cameras_in_scope(conn, who.scope,
                                                  ids[: patrols.MAX_CAMERAS * 2])  # fmt: skip
        cams = cams[: patrols.MAX_CAMERAS]
        return [c["device_id"] for c in cams], picked_rows(cams)

    # A large city's cameras are tiles (pages.device_tiles): a click on one lands in a store
    # of its own, present only on tiled pages (so it is a callback of its own: a callback does
    # not fire while one of its inputs is missing from the page).
    @auth.callback(
        app, "video",
        Output(PICKED_LIST_ID, "children", allow_duplicate=True),
        Output(PICKED_ID, "data", allow_duplicate=True),
        Input(device_tiles.CLICK_ID, "data"),
        State(PICK_ID, "value"),
        State(PICKED_ID, "data"),
        prevent_initial_call=True,
    )
    def _collect_tiled(click: Any, pick: Any, picked: Any) -> tuple[Any, ...]:
        props = (click or {}).get("properties") if isinstance(click, dict) else None
        device = props.get("device_id") if isinstance(props, dict) else None
        if "on" not in (pick or []) or not isinstance(device, str):
            raise PreventUpdate
        ids = [d for d in (picked or []) if isinstance(d, str)] + [device]
        with engine.connect() as conn:
            cams = console_stats.cameras_in_scope(conn, auth.principal().scope,
                                                  ids[: patrols.MAX_CAMERAS * 2])  # fmt: skip
        cams = cams[: patrols.MAX_CAMERAS]
        return picked_rows(cams), [c["device_id"] for c in cams]

    @auth.callback(
        app, "video",
        Output(MESSAGE_ID, "children"),
        Output(LIST_ID, "options"),
        Output(LIST_ID, "value"),
        Input(SAVE_ID, "n_clicks"),
        Input(DELETE_ID, "n_clicks"),
        State(NAME_ID, "value"),
        State(INTERVAL_ID, "value"),
        State(PICKED_ID, "data"),
        State(LIST_ID, "value"),
    )
    def _save(_n: Any, _d: Any, name: Any, interval: Any, picked: Any,
              chosen: Any) -> tuple[Any, ...]:  # fmt: skip
        who = auth.principal()
        if ctx.triggered_id is None:  # the page loaded: the saved patrols of the scope
            with engine.connect() as conn:
                return "", _options(patrols.list_for(conn, who.scope)), no_update
        if ctx.triggered_id == DELETE_ID:
            if not isinstance(chosen, int):
                raise PreventUpdate
            with engine.begin() as conn:
                gone = patrols.delete(conn, who.scope, chosen)
                options = _options(patrols.list_for(conn, who.scope))
            return ("已删除 Deleted" if gone else "⚠ 无此巡逻 no such patrol"), options, None
        ids = [d for d in (picked or []) if isinstance(d, str)]
        with engine.begin() as conn:
            try:
                saved = patrols.save(conn, who, str(name or ""), ids, interval)
            except patrols.PatrolError as exc:
                return f"⚠ {exc}", no_update, no_update
            options = _options(patrols.list_for(conn, who.scope))
        return (f"已保存 Saved “{saved.name}”: {len(saved.device_ids)} cameras, "
                f"{saved.interval_s} s", options, saved.id)  # fmt: skip

    @auth.callback(
        app, "video",
        Output(STATE_ID, "data"),  # first: the key must not start like first_response's
        Output(first_response.GRID_TILES_ID, "children", allow_duplicate=True),
        Output(first_response.GRID_TILES_ID, "style", allow_duplicate=True),
        Output(first_response.GRID_TITLE_ID, "children", allow_duplicate=True),
        Output(first_response.GRID_ID, "hidden", allow_duplicate=True),
        Output(first_response.GRID_ID, "className", allow_duplicate=True),
        Output(TICK_ID, "disabled"),
        Output(TICK_ID, "interval"),
        Output(HIGHLIGHT_ID, "children"),
        Output(STATUS_ID, "children"),
        Input(RUN_ID, "n_clicks"),
        Input(STOP_ID, "n_clicks"),
        Input(TICK_ID, "n_intervals"),
        Input(first_response.CLOSE_GRID_ID, "n_clicks"),
        State(LIST_ID, "value"),
        State(STATE_ID, "data"),
        prevent_initial_call=True,
    )
    def _run(_run: Any, _stop: Any, _tick: Any, _close: Any, chosen: Any,
             state: Any) -> tuple[Any, ...]:  # fmt: skip
        out = _step(ctx.triggered_id, chosen, state)
        # While a patrol runs the grid takes the right part of the map only: the rings around
        # its cameras and the patrol's controls stay in view.
        grid_class = GRID_CLASS if out[6] is not None else first_response_grid_class()
        return (out[6], *out[:4], grid_class, *out[4:6], *out[7:])

    def _step(trigger: Any, chosen: Any, state: Any) -> tuple[Any, ...]:
        """(tiles, style, title, grid hidden, tick disabled, interval, state, rings, status)."""
        if trigger in (STOP_ID, first_response.CLOSE_GRID_ID):
            if state is None and trigger != STOP_ID:
                raise PreventUpdate  # the grid of another tool was closed
            hide = trigger == STOP_ID
            return ([] if hide else no_update, no_update, "" if hide else no_update,
                    True if hide else no_update, True, no_update, None, [],
                    "已停止 Stopped")  # fmt: skip
        if trigger == RUN_ID:
            try:
                patrol_id, step = int(chosen), 0
            except (TypeError, ValueError):
                raise PreventUpdate from None
        else:
            if not isinstance(state, dict):
                raise PreventUpdate
            try:
                patrol_id, step = int(state["patrol"]), int(state["step"]) + 1
            except (KeyError, TypeError, ValueError):
                raise PreventUpdate from None
        who = auth.principal()
        with engine.connect() as conn:
            patrol = patrols.get(conn, who.scope, patrol_id)
            if patrol is None:
                return ([], no_update, "", True, True, no_update, None, [],
                        "⚠ 无此巡逻 no such patrol")  # fmt: skip
            ok = video.viewable(conn, who, patrol.device_ids)
            cams = console_stats.cameras_in_scope(conn, who.scope, ok)
        if not cams:
            return ([], no_update, "No camera of this patrol that you may watch", False, True,
                    no_update, None, [], "⚠ nothing to show")  # fmt: skip
        n_steps = steps(len(cams))
        step %= n_steps
        shown = cams[step * PAGE_SIZE:(step + 1) * PAGE_SIZE]
        labelled = [{**c, "dori_level": f"{step + 1}/{n_steps}"} for c in shown]
        tiles, columns = first_response.grid_tiles(settings, labelled, who.subject)
        rings = [dl.CircleMarker(center=[c["lat"], c["lon"]], radius=14, color="#ff7f00",
                                 weight=4, fill=False, interactive=False,
                                 className="sl-patrol-ring")
                 for c in shown]  # fmt: skip
        title = (f"巡逻 Patrol “{patrol.name}” · step {step + 1}/{n_steps} · "
                 f"every {patrol.interval_s} s")  # fmt: skip
        status = html.Span(title, id="patrol-now", **{"data-step": str(step),
                                                      "data-devices": ",".join(
                                                          c["device_id"] for c in shown)})
        return (tiles, {"gridTemplateColumns": columns}, title, False, n_steps < 2,
                patrol.interval_s * 1000, {"patrol": patrol.id, "step": step}, rings, status)
