"""Jurisdiction (辖区) layer: city, district and police-station outlines."""

from __future__ import annotations

import dash_leaflet as dl
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, js, tooltips

NAME = "Jurisdictions"
LAYER_ID = "jurisdictions-layer"
PANE = "sl-jurisdictions"
COLUMNS = ("id", "code", "name", "level", "parent_id")
# Outlines only: the fill would hide what lies inside, and the plain basemap draws the land.
LEVEL_STYLES = {
    "city": {"color": "#37474f", "weight": 3},
    "district": {"color": "#5e35b1", "weight": 2, "dashArray": "8 5"},
    "station": {"color": "#7e57c2", "weight": 1, "dashArray": "2 4"},
}
BASE_STYLE = {"fill": False, "opacity": 0.9}


def build(gdf: GeoDataFrame, *, checked: bool = True) -> dl.Overlay:
    """Jurisdiction overlay: thick city outline, dashed districts, dotted station areas.

    Parameters
    ----------
    gdf
        Jurisdictions (``id, code, name, level, parent_id, geometry`` MultiPolygon), EPSG:4326.
        May be empty.
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Jurisdictions"``; holds a ``dl.GeoJSON`` with id ``"jurisdictions-layer"``.
    """
    data = feature_collection(
        gdf,
        COLUMNS,
        tooltip=tooltips(gdf, title="name", fields=("id", "code", "level"), label="jurisdiction"),
    )
    hideout = {"property": "level", "styles": LEVEL_STYLES, "base": BASE_STYLE}
    layer = dl.GeoJSON(
        id=LAYER_ID, data=data, pane=PANE, hideout=hideout, style=js("styleByProperty")
    )
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)
