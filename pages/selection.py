"""Area selection on the map page: draw a polygon (or rectangle) or pick a jurisdiction → the
cameras inside it (opened in the video grid with one click) and its coverage statistics.

The drawing tools (``dl.EditControl``, top left) are shared by the area tools: a polygon or
rectangle selects an area, a line is a patrol route (``pages.patrol``), a marker places a
what-if camera (``pages.what_if``). The area is always worked out again on the server from
what was drawn or picked, clipped to the viewer's unit (``store.console_stats``).
"""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from geopandas import GeoDataFrame
from sqlalchemy import Engine

from pages import auth, first_response, video
from settings import Settings
from store import console_stats, coverage
from store.access import allowed

DRAW_ID = "draw-control"
JURISDICTION_ID = "sel-jurisdiction"
TITLE_ID = "sel-title"
STATS_ID = "sel-stats"
LIST_ID = "sel-cameras"
OPEN_ID = "sel-open-grid"
CLEAR_ID = "sel-clear"
STORE_ID = "sel-data"
AREA_LAYER_ID = "sel-area-layer"
LIST_MAX = 500  # cameras listed in the panel and kept for the grid / a patrol (all counted)

STATUS_LABELS = {"online": "在线 online", "offline": "离线 offline", "fault": "故障 fault",
                 "unknown": "未知 unknown"}  # fmt: skip
LEVEL_LABELS = {"detect": "探测 detect", "observe": "观察 observe",
                "recognise": "识别 recognise", "identify": "辨认 identify"}  # fmt: skip


def map_children(*, marker: bool) -> list[Component]:
    """Children of the map: the drawing toolbar and the selected area's outline. ``marker``:
    offer the marker tool too (what-if cameras)."""
    draw = {"polygon": True, "rectangle": True, "polyline": True, "marker": marker,
            "circle": False, "circlemarker": False}  # fmt: skip
    return [
        dl.FeatureGroup([dl.EditControl(id=DRAW_ID, position="topleft", draw=draw)]),
        dl.LayerGroup(id=AREA_LAYER_ID),
    ]


def last_feature(geojson: Any, kinds: tuple[str, ...]) -> dict[str, Any] | None:
    """The newest drawn feature whose geometry type is one of ``kinds``."""
    feats = (geojson or {}).get("features") if isinstance(geojson, dict) else None
    for f in reversed(feats or []):
        geom = f.get("geometry") if isinstance(f, dict) else None
        if isinstance(geom, dict) and geom.get("type") in kinds:
            return f
    return None


def panel(jur: GeoDataFrame) -> Component:
    """The area section of the tools dock: jurisdiction picker, hint, result."""
    options = [{"label": f"{r.name} ({r.code})", "value": int(r.id)}
               for r in jur.sort_values(["level", "code"]).itertuples()]  # fmt: skip
    return html.Details(
        [
            html.Summary("区域 Area: cameras & coverage"),
            html.Div("在地图上画多边形/矩形，或选择辖区 Draw a polygon or rectangle (tools at "
                     "top left), or pick a jurisdiction:", className="sl-hint"),
            dcc.Dropdown(id=JURISDICTION_ID, options=options, placeholder="辖区 jurisdiction",
                         clearable=True),
            html.Div(id=TITLE_ID, className="sl-sel-title"),
            html.Div(id=STATS_ID),
            html.Ol(id=LIST_ID, className="sl-point-list"),
            html.Div([
                html.Button("在视频墙打开 Open in video grid", id=OPEN_ID, disabled=True),
                html.Button("清除 Clear", id=CLEAR_ID),
            ], className="sl-buttons"),
            dcc.Store(id=STORE_ID, data=None),
        ],
        id="sel-section", className="sl-tool", open=False,
    )  # fmt: skip


def stats_table(
    area_m2: float, by_status: dict[str, int], cov: dict[str, dict[str, float]] | None,
    run_id: int | None,
) -> Component:
    """Area, cameras by status, and (with a run) coverage % per DORI level."""
    n = sum(by_status.values())
    area = html.Td(f"{area_m2 / 1e6:.4f} km²", id="sel-area-m2",
                   **{"data-m2": f"{area_m2:.1f}"})  # fmt: skip
    rows = [html.Tr([html.Th("面积 Area"), area]),
            html.Tr([html.Th("摄像机 Cameras"), html.Td(str(n), id="sel-count")])]
    rows += [html.Tr([html.Th(STATUS_LABELS.get(s, s)), html.Td(str(n))],
                     className=f"sl-status-{s}") for s, n in sorted(by_status.items())]  # fmt: skip
    if cov is not None:
        rows.append(html.Tr([html.Th(f"覆盖率 Coverage (run {run_id})", colSpan=2)]))
        rows += [html.Tr([html.Th(LEVEL_LABELS[lv]),
                          html.Td(f"{v['covered_pct']:.2f} %", className="sl-cov-pct",
                                  **{"data-level": lv, "data-pct": str(v["covered_pct"]),
                                     "data-m2": str(v["covered_m2"])})])
                 for lv, v in cov.items()]  # fmt: skip
    return html.Table(rows, className="sl-stats")


def _rows(cams: list[dict[str, Any]]) -> list[Component]:
    return [
        html.Li([html.Span(c.get("name") or c["device_id"], className="sl-cam-name"),
                 html.Span(f" {c['device_id']}", className="sl-cam-id"),
                 html.Span(f" {STATUS_LABELS.get(c['status'], c['status'])}",
                           className=f"sl-status-{c['status']}")],
                className="sl-sel-camera", **{"data-device": str(c["device_id"])})
        for c in cams
    ]  # fmt: skip


def register(app: Dash, settings: Settings, engine: Engine) -> None:
    """Attach the callbacks: the selection needs ``view`` (coverage figures only for roles
    with ``coverage``), opening the grid ``video``."""

    @auth.callback(
        app, "view",
        Output(TITLE_ID, "children"),
        Output(STATS_ID, "children"),
        Output(LIST_ID, "children"),
        Output(OPEN_ID, "disabled"),
        Output(STORE_ID, "data"),
        Output(AREA_LAYER_ID, "children"),
        Input(DRAW_ID, "geojson"),
        Input(JURISDICTION_ID, "value"),
        Input(CLEAR_ID, "n_clicks"),
        State(STORE_ID, "data"),
        prevent_initial_call=True,
    )
    def _select(geojson: Any, jurisdiction: Any, _clear: Any, old: Any) -> tuple[Any, ...]:
        if ctx.triggered_id == CLEAR_ID:
            return "", [], [], True, None, []
        if ctx.triggered_id == JURISDICTION_ID:
            if jurisdiction is None:
                raise PreventUpdate
            source: dict[str, Any] = {"jurisdiction_id": int(jurisdiction)}
        else:
            feature = last_feature(geojson, ("Polygon", "MultiPolygon"))
            if feature is None:
                raise PreventUpdate
            source = {"polygon": feature["geometry"]}
            if isinstance(old, dict) and old.get("source") == source:
                raise PreventUpdate  # a line or marker was drawn: the area is unchanged
        who = auth.principal()
        with engine.connect() as conn:
            try:
                area = console_stats.selection_area(conn, who.scope, **source)
            except console_stats.SelectionError as exc:
                return f"⚠ {exc}", [], [], True, None, []
            cams = console_stats.cameras_in_area(conn, area["geometry"], who.scope,
                                                 limit=LIST_MAX)  # fmt: skip
            counts = console_stats.camera_counts(conn, area["geometry"], who.scope)
            run_id = coverage.latest_run(conn) if allowed(who, "coverage") else None
            cov = (console_stats.area_coverage(conn, run_id, area["geometry"])
                   if run_id is not None else None)  # fmt: skip
        n = sum(counts.values())
        more = f" (first {LIST_MAX} listed)" if n > len(cams) else ""
        title = f"{area['name']}: {n} 台摄像机 camera{'s' if n != 1 else ''}{more}"
        outline = dl.GeoJSON(data={"type": "Feature", "geometry": area["geometry"],
                                   "properties": {}},
                             style={"color": "#7a0177", "weight": 3, "fillOpacity": 0.08,
                                    "dashArray": "6 4"}, interactive=False)  # fmt: skip
        data = {"source": source, "cameras": [c["device_id"] for c in cams],
                "area_m2": area["area_m2"], "coverage": cov, "run_id": run_id}  # fmt: skip
        return (title, stats_table(area["area_m2"], counts, cov, run_id), _rows(cams),
                not cams or not allowed(who, "video"), data, [outline])  # fmt: skip

    @auth.callback(
        app, "video",
        # The grid's "hidden" first: this callback's key must not start like first_response's.
        Output(first_response.GRID_ID, "hidden", allow_duplicate=True),
        Output(first_response.GRID_TILES_ID, "children", allow_duplicate=True),
        Output(first_response.GRID_TILES_ID, "style", allow_duplicate=True),
        Output(first_response.GRID_TITLE_ID, "children", allow_duplicate=True),
        Input(OPEN_ID, "n_clicks"),
        State(STORE_ID, "data"),
        prevent_initial_call=True,
    )
    def _open(_n: Any, data: Any) -> tuple[Any, ...]:
        ids = data.get("cameras") if isinstance(data, dict) else None
        if not isinstance(ids, list) or not ids:
            raise PreventUpdate
        who = auth.principal()
        ids = [d for d in ids if isinstance(d, str)][: first_response.GRID_MAX * 4]
        with engine.connect() as conn:
            ok = video.viewable(conn, who, ids)  # the list came back from the browser
            cams = console_stats.cameras_in_scope(conn, who.scope, ok)
        if not cams:
            return False, [], no_update, "No camera here that you may watch"
        cams = [{**c, "dori_level": c["status"]} for c in cams]  # the tile label's last field
        tiles, columns = first_response.grid_tiles(settings, cams, who.subject)
        more = (f" (first {first_response.GRID_MAX} of {len(cams)})"
                if len(cams) > first_response.GRID_MAX else "")  # fmt: skip
        title = f"区域 Area: {len(tiles)} camera{'s' if len(tiles) != 1 else ''}{more}"
        return False, tiles, {"gridTemplateColumns": columns}, title
