"""Entry road layer: roads entering the city without a checkpoint (or with one direction only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_leaflet as dl
from dash import html
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, js, tooltips
from layers._legend import legend_block

NAME = "Entry roads without checkpoint"
LAYER_ID = "entry-roads-layer"
PANE = "sl-entry-roads"
DECIMALS = 6  # ~0.1 m: below the display simplification (store.map_queries)
COLUMNS = ("id", "name", "road_class", "status")
STATUS_STYLES = {
    "missing": {"color": "#7b3294", "weight": 7},
    "partial": {"color": "#c2a5cf", "weight": 6, "dashArray": "6 6"},
}
BASE_STYLE = {"opacity": 1, "lineCap": "round"}
NOT_STORED_NOTE = ("the coverage run stored only counts, not which roads: "
                   "nothing to draw until runs store the per-road status")  # fmt: skip


def features(gdf: GeoDataFrame) -> dict[str, Any]:
    """The layer's GeoJSON with tooltips (coordinates rounded to ``DECIMALS``) from ``gdf`` as
    for :func:`build`; the page sends it when the overlay is first switched on."""
    tips = tooltips(gdf, title="name", fields=("road_class", "status"), label="road")
    return feature_collection(gdf, COLUMNS, tooltip=tips, decimals=DECIMALS)


def build(gdf: GeoDataFrame | None = None, *, checked: bool = False) -> dl.Overlay:
    """Entry road overlay: thick purple roads (missing), dashed lilac (one direction missing).

    Parameters
    ----------
    gdf
        ``id, name, road_class, status, geometry`` (LineString), EPSG:4326, as
        ``store.map_queries.entry_roads_without_checkpoint(...).roads``. May be empty. None: an
        empty layer whose ``data`` is filled later (:func:`features`).
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Entry roads without checkpoint"``; holds a ``dl.GeoJSON`` with id
        ``"entry-roads-layer"``.
    """
    data = None if gdf is None else features(gdf)
    hideout = {"property": "status", "styles": STATUS_STYLES, "base": BASE_STYLE}
    layer = dl.GeoJSON(
        id=LAYER_ID, data=data, pane=PANE, hideout=hideout, style=js("styleByProperty")
    )
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)


def legend(counts: Mapping[str, int], *, stored: bool) -> html.Div:
    """Legend block: the run's entry roads per status; says so when the run kept no per-road
    status (then the layer is empty)."""
    rows = [
        (STATUS_STYLES["missing"]["color"], f"no checkpoint ({int(counts.get('missing', 0))})"),
        (STATUS_STYLES["partial"]["color"],
         f"one direction unwatched ({int(counts.get('partial', 0))})"),
    ]  # fmt: skip
    total = sum(int(v) for v in counts.values())
    note = f"{total} entry roads in the run" + ("" if stored else f"; {NOT_STORED_NOTE}")
    return legend_block(NAME, rows, note=note, shape="line")
