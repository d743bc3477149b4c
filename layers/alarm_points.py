"""Alarm point layer: a diamond div marker per fixed alarm point, fill by status."""

from __future__ import annotations

import dash_leaflet as dl
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, js, tooltips
from layers.cameras import STATUS_COLORS

NAME = "Alarm points"
LAYER_ID = "alarm-points-layer"
PANE = "sl-alarm-points"
MARKER_CLASS = "sl-alarm-point"
COLUMNS = ("id", "code", "name", "kind", "status")
TOOLTIP_FIELDS = ("id", "code", "status", "kind")


def build(gdf: GeoDataFrame, *, checked: bool = True) -> dl.Overlay:
    """Alarm point overlay: diamonds coloured by status.

    Parameters
    ----------
    gdf
        Alarm points (``id, code, name, kind, status, geometry`` Point), EPSG:4326. May be empty.
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Alarm points"``; holds a ``dl.GeoJSON`` with id ``"alarm-points-layer"``.
    """
    tips = tooltips(gdf, title="name", fields=TOOLTIP_FIELDS, label="alarm point")
    data = feature_collection(gdf, COLUMNS, tooltip=tips)
    hideout = {
        "className": MARKER_CLASS,
        "colorBy": "status",
        "colors": STATUS_COLORS,
        "defaultColor": STATUS_COLORS["unknown"],
        "size": 12,
    }
    layer = dl.GeoJSON(
        id=LAYER_ID, data=data, pane=PANE, hideout=hideout, pointToLayer=js("divMarker")
    )
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)
