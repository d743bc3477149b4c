"""Checkpoint (卡口) layer: a square div marker per road checkpoint, fill by status."""

from __future__ import annotations

import dash_leaflet as dl
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, js, tooltips
from layers.cameras import STATUS_COLORS

NAME = "Checkpoints"
LAYER_ID = "checkpoints-layer"
PANE = "sl-checkpoints"
MARKER_CLASS = "sl-checkpoint"
COLUMNS = ("id", "device_id", "name", "road_name", "is_entry", "status", "lanes")
TOOLTIP_FIELDS = ("id", "device_id", "status", "road_name", "is_entry", "lanes")


def build(gdf: GeoDataFrame, *, checked: bool = True) -> dl.Overlay:
    """Checkpoint overlay: squares coloured by status; city-entry checkpoints get a thick rim.

    Parameters
    ----------
    gdf
        Checkpoints (``id, device_id, name, road_name, is_entry, status, lanes, geometry``
        Point), EPSG:4326. May be empty.
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Checkpoints"``; holds a ``dl.GeoJSON`` with id ``"checkpoints-layer"``.
    """
    data = feature_collection(
        gdf, COLUMNS, tooltip=tooltips(gdf, title="name", fields=TOOLTIP_FIELDS, label="checkpoint")
    )
    hideout = {
        "className": MARKER_CLASS,
        "colorBy": "status",
        "colors": STATUS_COLORS,
        "defaultColor": STATUS_COLORS["unknown"],
        "flagClasses": {"is_entry": "sl-entry"},
        "size": 12,
    }
    layer = dl.GeoJSON(
        id=LAYER_ID, data=data, pane=PANE, hideout=hideout, pointToLayer=js("divMarker")
    )
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)
