"""Planner layers on the map page: coverage per DORI level, key-area blind spots, road coverage,
entry roads without checkpoint — each an overlay (off at first) with a legend shown while on.

The page is built with empty planner layers; a layer's GeoJSON and legend are read from the
store (``store.map_queries``, simplified for display) the first time it is switched on, so the
first view does not carry them (the demo city: ~0.9 MB less).
"""

from __future__ import annotations

import json
import time
from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update
from dash.development.base_component import Component
from sqlalchemy import Connection, Engine

from layers import blind_spots, coverage_levels, entry_roads, road_coverage
from pages import auth
from store import map_queries
from store.scope import Scope

LEGEND_ID = "planner-legend"
RUN_ID = "planner-run"
LAYER_NAMES = (coverage_levels.NAME, blind_spots.NAME, road_coverage.NAME, entry_roads.NAME)
LAYER_IDS = (coverage_levels.LAYER_ID, blind_spots.LAYER_ID, road_coverage.LAYER_ID,
             entry_roads.LAYER_ID)  # fmt: skip


def overlays(run_id: int | None) -> list[Component]:
    """The planner overlays, empty until switched on; none without a coverage run."""
    if run_id is None:
        return []
    return [coverage_levels.build(), blind_spots.build(), road_coverage.build(),
            entry_roads.build()]  # fmt: skip


def legend_panel(run_id: int | None) -> list[Component]:
    """The legend panel (one hidden block per planner layer) and the page's run id."""
    if run_id is None:
        return []
    blocks = [html.Div(id=f"legend-{i}", hidden=True, **{"data-layer": name})
              for i, name in enumerate(LAYER_NAMES)]  # fmt: skip
    return [
        html.Div(blocks, id=LEGEND_ID, className="sl-planner-legend"),
        dcc.Store(id=RUN_ID, data=run_id),
    ]


def layer_content(
    conn: Connection, run_id: int, index: int, scope: Scope
) -> tuple[dict[str, Any], Component]:
    """GeoJSON and legend of planner layer ``index`` (order of ``LAYER_NAMES``) for a run, as
    far as ``scope`` may see it."""
    if index == 0:
        gdf = map_queries.coverage_levels(conn, run_id, scope)
        return coverage_levels.features(gdf), coverage_levels.legend(gdf)
    if index == 1:
        gdf = map_queries.blind_spots(conn, run_id, scope)
        return blind_spots.features(gdf), blind_spots.legend(gdf)
    if index == 2:
        gdf = map_queries.road_coverage(conn, run_id, scope)
        return road_coverage.features(gdf), road_coverage.legend(gdf)
    entry = map_queries.entry_roads_without_checkpoint(conn, run_id, scope)
    return entry_roads.features(entry.roads), entry_roads.legend(entry.counts,
                                                                 stored=entry.stored)


def register(app: Dash, engine: Engine, layers_control_id: str) -> None:
    """Load a planner layer when first switched on; show a legend while its layer is on (both
    for users whose role may see ``coverage``)."""
    n = len(LAYER_NAMES)

    @auth.callback(
        app, "coverage",
        [Output(i, "data") for i in LAYER_IDS],
        [Output(f"legend-{i}", "children") for i in range(n)],
        Input(layers_control_id, "overlays"),
        [State(i, "data") for i in LAYER_IDS],
        State(RUN_ID, "data"),
        prevent_initial_call=True,
    )
    def _load(on: list[str] | None, *rest: Any) -> tuple[Any, ...]:
        loaded, run_id = rest[:n], rest[n]
        scope = auth.principal().scope
        want = [i for i, name in enumerate(LAYER_NAMES)
                if name in (on or []) and loaded[i] is None]  # fmt: skip
        data: list[Any] = [no_update] * n
        legends: list[Any] = [no_update] * n
        if not want or not isinstance(run_id, int):
            return (*data, *legends)
        t = time.perf_counter()
        with engine.connect() as conn:
            for i in want:
                data[i], legends[i] = layer_content(conn, run_id, i, scope)
        app.logger.debug("planner layers %s read in %.3f s", want, time.perf_counter() - t)
        return (*data, *legends)

    auth.clientside_callback(
        app, "coverage",
        "function (on) { var names = " + json.dumps(list(LAYER_NAMES)) + "; on = on || [];"
        " return names.map(function (n) { return on.indexOf(n) === -1; }); }",
        [Output(f"legend-{i}", "hidden") for i in range(n)],
        Input(layers_control_id, "overlays"),
    )

