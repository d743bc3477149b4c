"""Road layer: drivable road centre lines, coloured and weighted by road class."""

from __future__ import annotations

import dash_leaflet as dl
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, js, tooltips

NAME = "Roads"
LAYER_ID = "roads-layer"
PANE = "sl-roads"
COLUMNS = ("id", "name", "road_class")

_MAJOR = {"color": "#f2c84b", "weight": 5}
_SECONDARY = {"color": "#f8e08e", "weight": 4}
_MINOR = {"color": "#ffffff", "weight": 3}
# Keys are OSM highway=* values, the road_class of roads imported from OSM.
CLASS_STYLES = {
    "motorway": _MAJOR,
    "motorway_link": _MAJOR,
    "trunk": _MAJOR,
    "trunk_link": _MAJOR,
    "primary": _MAJOR,
    "primary_link": _MAJOR,
    "secondary": _SECONDARY,
    "secondary_link": _SECONDARY,
    "tertiary": {"color": "#ffffff", "weight": 4},
    "tertiary_link": {"color": "#ffffff", "weight": 4},
    "residential": _MINOR,
    "unclassified": _MINOR,
    "living_street": _MINOR,
    "service": {"color": "#ffffff", "weight": 2},
}
BASE_STYLE = {"color": "#ffffff", "weight": 2, "opacity": 1, "lineCap": "round"}


def build(gdf: GeoDataFrame, *, checked: bool = True) -> dl.Overlay:
    """Road overlay: major roads yellow, the rest white, line weight by class.

    Parameters
    ----------
    gdf
        Roads (``id, name, road_class, geometry`` LineString), EPSG:4326. May be empty.
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Roads"``; holds a ``dl.GeoJSON`` with id ``"roads-layer"``.
    """
    data = feature_collection(
        gdf, COLUMNS, tooltip=tooltips(gdf, title="name", fields=("id", "road_class"), label="road")
    )
    hideout = {"property": "road_class", "styles": CLASS_STYLES, "base": BASE_STYLE}
    layer = dl.GeoJSON(
        id=LAYER_ID, data=data, pane=PANE, hideout=hideout, style=js("styleByProperty")
    )
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)
