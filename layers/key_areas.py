"""Key area (重点区域) layer: priority areas with their required DORI level."""

from __future__ import annotations

import dash_leaflet as dl
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, tooltips

NAME = "Key areas"
LAYER_ID = "key-areas-layer"
PANE = "sl-key-areas"
COLUMNS = ("id", "name", "area_class", "required_dori")
STYLE = {
    "color": "#c2185b",
    "weight": 1.5,
    "dashArray": "4 3",
    "fillColor": "#c2185b",
    "fillOpacity": 0.12,
}


def build(gdf: GeoDataFrame, *, checked: bool = True) -> dl.Overlay:
    """Key area overlay: translucent magenta polygons.

    Parameters
    ----------
    gdf
        Key areas (``id, name, area_class, required_dori, geometry`` (Multi)Polygon),
        EPSG:4326. May be empty.
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Key areas"``; holds a ``dl.GeoJSON`` with id ``"key-areas-layer"``.
    """
    data = feature_collection(
        gdf,
        COLUMNS,
        tooltip=tooltips(
            gdf, title="name", fields=("id", "area_class", "required_dori"), label="key area"
        ),
    )
    layer = dl.GeoJSON(id=LAYER_ID, data=data, pane=PANE, style=STYLE)
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)
