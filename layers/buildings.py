"""Building layer: footprints in grey (the occluders of the coverage analysis)."""

from __future__ import annotations

import dash_leaflet as dl
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, tooltips

NAME = "Buildings"
LAYER_ID = "buildings-layer"
PANE = "sl-buildings"
COLUMNS = ("id", "name", "height_m")
STYLE = {"color": "#b9b4aa", "weight": 0.5, "fillColor": "#d6d2ca", "fillOpacity": 1}


def build(gdf: GeoDataFrame, *, checked: bool = True) -> dl.Overlay:
    """Building overlay.

    Parameters
    ----------
    gdf
        Buildings (``id, name, height_m, geometry`` (Multi)Polygon), EPSG:4326. May be empty.
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Buildings"``; holds a ``dl.GeoJSON`` with id ``"buildings-layer"``.
    """
    tips = tooltips(gdf, title="name", fields=("id", "height_m"), label="building")
    data = feature_collection(gdf, COLUMNS, tooltip=tips)
    layer = dl.GeoJSON(id=LAYER_ID, data=data, pane=PANE, style=STYLE)
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)
