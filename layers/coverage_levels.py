"""Coverage layer: the ground seen at each DORI level (detect → identify), one colour per level."""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import html
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, js
from layers._legend import legend_block

NAME = "Coverage (DORI)"
LAYER_ID = "coverage-levels-layer"
PANE = "sl-coverage"
DECIMALS = 6  # ~0.1 m: below the display simplification (store.map_queries)
COLUMNS = ("level", "area_m2")
# Sequential: the stronger the level, the darker. Drawn weakest first, so each level's colour
# shows where it is the best one reached.
LEVEL_COLORS = {
    "detect": "#c7e9b4",
    "observe": "#7fcdbb",
    "recognise": "#1d91c0",
    "identify": "#0c2c84",
}
LEVEL_LABELS = {
    "detect": "detect (25 px/m)",
    "observe": "observe (62.5 px/m)",
    "recognise": "recognise (125 px/m)",
    "identify": "identify (250 px/m)",
}
BASE_STYLE = {"stroke": False, "fillOpacity": 0.45}


def features(gdf: GeoDataFrame) -> dict[str, Any]:
    """The layer's GeoJSON (coordinates rounded to ``DECIMALS``) from ``gdf`` as for
    :func:`build`; the page sends it when the overlay is first switched on."""
    return feature_collection(gdf, COLUMNS, decimals=DECIMALS)


def build(gdf: GeoDataFrame | None = None, *, checked: bool = False) -> dl.Overlay:
    """Coverage overlay: the union of visible ground per DORI level of one coverage run.

    Parameters
    ----------
    gdf
        ``level, area_m2, geometry`` (MultiPolygon), EPSG:4326, weakest level first, as
        ``store.map_queries.coverage_levels`` returns it (simplified for display). May be empty.
        None: an empty layer whose ``data`` is filled later (:func:`features`).
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Coverage (DORI)"``; holds a ``dl.GeoJSON`` with id ``"coverage-levels-layer"``.
        Clicks go through to the map (a click on covered ground asks which cameras see it).
    """
    data = None if gdf is None else features(gdf)
    hideout = {
        "property": "level",
        "styles": {lv: {"fillColor": c} for lv, c in LEVEL_COLORS.items()},
        "base": BASE_STYLE,
    }
    layer = dl.GeoJSON(
        id=LAYER_ID, data=data, pane=PANE, hideout=hideout, style=js("styleByProperty")
    )
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)


def legend(gdf: GeoDataFrame) -> html.Div:
    """Legend block: one swatch per DORI level with the area covered (km²)."""
    area = dict(zip(gdf["level"], gdf["area_m2"], strict=True)) if len(gdf) else {}
    rows = [
        (c, f"{LEVEL_LABELS[lv]} · {area[lv] / 1e6:.3f} km²" if lv in area else LEVEL_LABELS[lv])
        for lv, c in LEVEL_COLORS.items()
    ]
    return legend_block(NAME, rows)
