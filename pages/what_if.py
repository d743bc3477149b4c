"""What-if coverage from the map (action ``analyse``): place a new camera (the marker tool) or
move one of the scope's cameras, run coverage in the background, then see the key areas'
blind spots of the what-if run against those of the base run (the newest run of the
inventory), per key area in the viewer's scope.

The run is computed by the runner the app was given (``analysis.coverage_run.run_coverage``,
injected by whoever builds the app: pages must not import ``analysis``). It stores a run of its
own with the what-if changes in its parameters; the inventory is not touched, and
``store.coverage.latest_run`` skips what-if runs. One what-if run at a time per console
process; the browser polls its progress.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import dash_leaflet as dl
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.development.base_component import Component
from dash.exceptions import PreventUpdate
from sqlalchemy import Engine

from layers import blind_spots as blind_layer
from layers import cameras as camera_layer
from pages import auth, selection
from store import console_stats, coverage, map_queries
from store.scope import Principal

log = logging.getLogger("sightline.console.what_if")

MODE_ID = "wi-mode"
MOVE_ID = "wi-move-camera"
MOVE_LABEL_ID = "wi-move-label"
AZIMUTH_ID = "wi-azimuth"
TILT_ID = "wi-tilt"
HEIGHT_ID = "wi-height"
FOCAL_ID = "wi-focal"
RUN_ID = "wi-run"
POLL_ID = "wi-poll"
JOB_ID = "wi-job"
PROGRESS_ID = "wi-progress"
STATUS_ID = "wi-status"
RESULT_ID = "wi-result"
LAYER_ID = "wi-layer"
POLL_MS = 400
KEEP_JOBS = 64  # what-if jobs remembered per console process (their runs stay in the store)
PHASES = ("read", "facades", "sectors", "occlusion", "union", "blind_spots", "assessment",
          "roads", "effectiveness", "write")  # fmt: skip
"""The phases a coverage run reports, in order (for the progress bar)."""
# Optics of a placed camera: the DOMAIN worked case (5.6 mm sensor, 2560 px); lens, height,
# tilt and azimuth are asked for.
SENSOR_W_MM, SENSOR_H_MM, RES_W_PX, RES_H_PX = 5.6, 3.15, 2560, 1440
BASE_STYLE = {"color": "#525252", "weight": 1, "fillColor": "#969696", "fillOpacity": 0.35,
              "dashArray": "2 5"}  # fmt: skip
NEW_STYLE = {"color": blind_layer.COLOR, "weight": 2, "fillColor": blind_layer.COLOR,
             "fillOpacity": 0.5}  # fmt: skip


class WhatIfRunner(Protocol):
    """``analysis.coverage_run.run_coverage``'s shape as used here (returns a report with
    ``run_id``)."""

    def __call__(self, engine: Engine, *, what_if: Mapping[str, Any], principal: Principal,
                 progress: Callable[[str], None]) -> Any: ...  # fmt: skip


@dataclass
class Job:
    """One what-if run in the background."""

    id: str
    owner: str
    base_run: int | None
    what_if: dict[str, Any]
    started: float
    phase: str = "queued"
    run_id: int | None = None
    error: str | None = None
    finished: float | None = None


class Jobs:
    """What-if runs of this console process: one runs at a time; each is seen by its owner."""

    def __init__(self, engine: Engine, runner: WhatIfRunner) -> None:
        self.engine = engine
        self.runner = runner
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._busy = False

    def start(self, who: Principal, what_if: dict[str, Any], base_run: int | None) -> Job:
        with self._lock:
            if self._busy:
                raise console_stats.SelectionError(
                    "another what-if run is computing: try again in a few seconds")
            self._busy = True
            if len(self._jobs) >= KEEP_JOBS:  # forget the oldest finished ones
                done = sorted((j for j in self._jobs.values() if j.finished is not None),
                              key=lambda j: j.started)  # fmt: skip
                for j in done[: len(self._jobs) - KEEP_JOBS + 1]:
                    del self._jobs[j.id]
            job = Job(secrets.token_urlsafe(12), who.subject, base_run, what_if,
                      time.monotonic())  # fmt: skip
            self._jobs[job.id] = job
        threading.Thread(target=self._work, args=(job, who), name=f"what-if-{job.id}",
                         daemon=True).start()  # fmt: skip
        return job

    def _work(self, job: Job, who: Principal) -> None:
        def progress(phase: str) -> None:
            job.phase = phase

        try:
            report = self.runner(self.engine, what_if=job.what_if, principal=who,
                                 progress=progress)  # fmt: skip
            job.run_id = int(report.run_id)
            job.phase = "done"
        except Exception as exc:  # reported to the user who started it, and logged
            log.exception("what-if run %s failed", job.id)
            job.error = f"{type(exc).__name__}: {exc}"
            job.phase = "failed"
        finally:
            job.finished = time.monotonic()
            with self._lock:
                self._busy = False

    def get(self, who: Principal, job_id: Any) -> Job | None:
        job = self._jobs.get(str(job_id)) if isinstance(job_id, str) else None
        return job if job is not None and job.owner == who.subject else None


def map_children() -> list[Component]:
    """Children of the map: the what-if comparison (base and new blind spots)."""
    return [dl.LayerGroup(id=LAYER_ID)]


def panel() -> Component:
    """The what-if section of the tools dock."""
    num = {"type": "number", "debounce": True, "style": {"width": "5em"}}
    return html.Details(
        [
            html.Summary("推演 What-if coverage"),
            dcc.RadioItems(id=MODE_ID, value="add", inline=True, options=[
                {"label": " 新增 add a camera ", "value": "add"},
                {"label": " 移动 move a camera", "value": "move"}]),
            html.Div("位置：用标记工具在地图上放置 Position: place a marker with the marker tool "
                     "(top left). Move: click the camera to move first.", className="sl-hint"),
            html.Div(id=MOVE_LABEL_ID, className="sl-hint"),
            html.Div([
                html.Label(["方位 azimuth° ", dcc.Input(id=AZIMUTH_ID, value=0, min=0, max=359.9,
                                                        **num)]),
                html.Label([" 俯角 tilt° ", dcc.Input(id=TILT_ID, value=15, min=0, max=89, **num)]),
                html.Label([" 高 height m ", dcc.Input(id=HEIGHT_ID, value=6, min=1, max=200,
                                                       **num)]),
                html.Label([" 焦距 focal mm ", dcc.Input(id=FOCAL_ID, value=4, min=1, max=200,
                                                        **num)]),
            ], className="sl-inputs"),
            html.Button("计算 Run what-if", id=RUN_ID),
            html.Progress(id=PROGRESS_ID, value="0", max="1", className="sl-progress"),
            html.Div(id=STATUS_ID, className="sl-hint"),
            html.Div(id=RESULT_ID),
            dcc.Store(id=MOVE_ID, data=None),
            dcc.Store(id=JOB_ID, data=None),
            dcc.Interval(id=POLL_ID, interval=POLL_MS, disabled=True),
        ],
        id="what-if-section", className="sl-tool", open=False,
    )  # fmt: skip


def _number(value: Any, default: float, lo: float, hi: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    if v != v:  # NaN
        return default
    return min(max(v, lo), hi)


def what_if_of(mode: str, move: Any, marker: dict[str, Any] | None,
               optics: dict[str, float]) -> dict[str, Any]:  # fmt: skip
    """The what-if changes (``analysis.coverage_run.load_what_if`` format) asked for.

    Raises
    ------
    console_stats.SelectionError
        No marker placed, or no camera chosen to move.
    """
    if marker is None:
        raise console_stats.SelectionError("place a marker on the map first (marker tool)")
    lon, lat = (float(v) for v in marker["geometry"]["coordinates"][:2])
    if mode == "move":
        if not isinstance(move, str):
            raise console_stats.SelectionError("click the camera to move on the map first")
        return {"move": {move: {"lon": lon, "lat": lat, "azimuth_deg": optics["azimuth_deg"],
                                "tilt_deg": optics["tilt_deg"],
                                "mount_height_m": optics["mount_height_m"]}}}  # fmt: skip
    return {"add": [{
        "device_id": f"99{secrets.randbelow(10**18):018d}",  # what-if only, never stored
        "name": "what-if camera", "lon": lon, "lat": lat, "camera_type": "fixed",
        "any_direction": False, "azimuth_deg": optics["azimuth_deg"],
        "tilt_deg": optics["tilt_deg"], "mount_height_m": optics["mount_height_m"],
        "focal_length_mm": optics["focal_length_mm"], "sensor_width_mm": SENSOR_W_MM,
        "sensor_height_mm": SENSOR_H_MM, "resolution_w_px": RES_W_PX,
        "resolution_h_px": RES_H_PX, "status": "online", "jurisdiction_id": None,
    }]}  # fmt: skip


def _points(what_if: Mapping[str, Any]) -> list[tuple[float, float]]:
    pts = [(float(c["lon"]), float(c["lat"])) for c in what_if.get("add", [])]
    pts += [(float(c["lon"]), float(c["lat"])) for c in dict(what_if.get("move", {})).values()]
    return pts


def comparison(base: dict[int, dict[str, Any]], new: dict[int, dict[str, Any]],
               base_run: int | None, run_id: int) -> Component:  # fmt: skip
    """Blind area per key area (m²), base run vs what-if run: the total, the key areas that
    changed (most first, up to 15) and how many did not."""
    keys = sorted(set(base) | set(new),
                  key=lambda k: -abs(new.get(k, {}).get("area_m2", 0.0)
                                     - base.get(k, {}).get("area_m2", 0.0)))  # fmt: skip
    tb = sum(v["area_m2"] for v in base.values())
    tn = sum(v["area_m2"] for v in new.values())
    rows = [html.Tr([html.Th("重点区域 Key area"), html.Th(f"base (run {base_run}) m²"),
                     html.Th(f"what-if (run {run_id}) m²"), html.Th("Δ m²")])]  # fmt: skip
    rows.append(html.Tr([html.Th("合计 Total"), html.Td(f"{tb:.1f}", id="wi-base-total"),
                         html.Td(f"{tn:.1f}", id="wi-new-total"),
                         html.Td(f"{tn - tb:+.1f}")],
                        **{"data-base": f"{tb:.3f}", "data-new": f"{tn:.3f}"}))  # fmt: skip
    changed = [k for k in keys if abs(new.get(k, {}).get("area_m2", 0.0)
                                      - base.get(k, {}).get("area_m2", 0.0)) >= 0.05]
    for k in changed[:15]:
        b = base.get(k, {}).get("area_m2", 0.0)
        n = new.get(k, {}).get("area_m2", 0.0)
        name = (new.get(k) or base.get(k) or {}).get("name", str(k))
        rows.append(html.Tr([html.Td(name), html.Td(f"{b:.1f}"), html.Td(f"{n:.1f}"),
                             html.Td(f"{n - b:+.1f}")],
                            **{"data-key-area": str(k), "data-base": f"{b:.3f}",
                               "data-new": f"{n:.3f}"}))  # fmt: skip
    rows.append(html.Tr([html.Td(f"{len(keys) - len(changed)} 未变 key areas unchanged",
                                 colSpan=4)]))  # fmt: skip
    return html.Table(rows, className="sl-stats", id="wi-compare")


def register(app: Dash, engine: Engine, runner: WhatIfRunner | None) -> None:
    """Attach the callbacks (action ``analyse``). Without a runner the panel says so."""
    jobs = Jobs(engine, runner) if runner is not None else None

    @auth.callback(
        app, "analyse",
        Output(MOVE_ID, "data"),
        Output(MOVE_LABEL_ID, "children"),
        Input(camera_layer.LAYER_ID, "clickData"),
        State(MODE_ID, "value"),
        prevent_initial_call=True,
    )
    def _choose(click: Any, mode: Any) -> tuple[Any, ...]:
        props = (click or {}).get("properties") if isinstance(click, dict) else None
        device = props.get("device_id") if isinstance(props, dict) else None
        if mode != "move" or not isinstance(device, str):
            raise PreventUpdate
        who = auth.principal()
        with engine.connect() as conn:
            cams = console_stats.cameras_in_scope(conn, who.scope, [device])
        if not cams:
            return None, "⚠ not a camera of your jurisdiction"
        c = cams[0]
        return c["device_id"], f"移动 Moving {c.get('name') or ''} · {c['device_id']}"

    @auth.callback(
        app, "analyse",
        Output(JOB_ID, "data"),
        Output(POLL_ID, "disabled"),
        Output(STATUS_ID, "children"),
        Output(PROGRESS_ID, "value"),
        Output(RESULT_ID, "children"),
        Output(LAYER_ID, "children"),
        Input(RUN_ID, "n_clicks"),
        Input(POLL_ID, "n_intervals"),
        State(MODE_ID, "value"),
        State(MOVE_ID, "data"),
        State(selection.DRAW_ID, "geojson"),
        State(AZIMUTH_ID, "value"),
        State(TILT_ID, "value"),
        State(HEIGHT_ID, "value"),
        State(FOCAL_ID, "value"),
        State(JOB_ID, "data"),
        prevent_initial_call=True,
    )
    def _run(_n: Any, _tick: Any, mode: Any, move: Any, drawn: Any, azimuth: Any, tilt: Any,
             height: Any, focal: Any, job_id: Any) -> tuple[Any, ...]:  # fmt: skip
        who = auth.principal()
        if ctx.triggered_id == RUN_ID:
            optics = {"azimuth_deg": _number(azimuth, 0.0, 0.0, 359.999),
                      "tilt_deg": _number(tilt, 15.0, 0.0, 89.0),
                      "mount_height_m": _number(height, 6.0, 1.0, 200.0),
                      "focal_length_mm": _number(focal, 4.0, 1.0, 200.0)}  # fmt: skip
            marker = selection.last_feature(drawn, ("Point",))
            try:
                wi = what_if_of(str(mode), move, marker, optics)
                with engine.connect() as conn:
                    if not all(console_stats.point_in_scope(conn, who.scope, x, y)
                               for x, y in _points(wi)):  # fmt: skip
                        raise console_stats.SelectionError(
                            "the position is outside your jurisdiction")
                    moved = list(wi.get("move", {}))
                    if moved and not console_stats.cameras_in_scope(conn, who.scope, moved):
                        raise console_stats.SelectionError("not a camera of your jurisdiction")
                    base_run = coverage.latest_run(conn)
                if jobs is None:
                    raise console_stats.SelectionError(
                        "what-if runs are not available in this console")
                job = jobs.start(who, wi, base_run)
            except console_stats.SelectionError as exc:
                return no_update, True, f"⚠ {exc}", "0", no_update, no_update
            return job.id, False, "开始 started: read", "0.02", [], []
        job = jobs.get(who, job_id) if jobs is not None else None
        if job is None:
            return None, True, "", "0", no_update, no_update
        elapsed = (job.finished or time.monotonic()) - job.started
        if job.error is not None:
            return None, True, f"⚠ failed: {job.error}", "0", no_update, no_update
        if job.run_id is None:
            i = PHASES.index(job.phase) if job.phase in PHASES else 0
            return (no_update, False, f"计算中 computing: {job.phase} · {elapsed:.1f} s",
                    f"{(i + 0.5) / len(PHASES):.3f}", no_update, no_update)  # fmt: skip
        with engine.connect() as conn:
            new_totals = console_stats.blind_spot_totals(conn, job.run_id, who.scope)
            new_gdf = map_queries.blind_spots(conn, job.run_id, who.scope)
            if job.base_run is not None:
                base_totals = console_stats.blind_spot_totals(conn, job.base_run, who.scope)
                base_gdf = map_queries.blind_spots(conn, job.base_run, who.scope)
            else:
                base_totals, base_gdf = {}, None
        layers: list[Component] = []
        if base_gdf is not None:
            layers.append(dl.GeoJSON(id="wi-base-blind", data=blind_layer.features(base_gdf),
                                     style=BASE_STYLE))  # fmt: skip
        layers.append(dl.GeoJSON(id="wi-new-blind", data=blind_layer.features(new_gdf),
                                 style=NEW_STYLE))  # fmt: skip
        layers += [dl.CircleMarker(center=[y, x], radius=9, color="#1d91c0", weight=3,
                                   fillOpacity=0.6, interactive=False)
                   for x, y in _points(job.what_if)]  # fmt: skip
        status = html.Span(f"完成 done: what-if run {job.run_id} in {elapsed:.1f} s "
                           f"(grey: base blind spots, red: what-if)", id="wi-done",
                           **{"data-run": str(job.run_id), "data-base": str(job.base_run)})
        return (None, True, status, "1",
                comparison(base_totals, new_totals, job.base_run, job.run_id), layers)
