"""Blind spot layer: the parts of each key area not seen at the DORI level it requires."""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import html
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, tooltips
from layers._legend import legend_block

NAME = "Blind spots"
LAYER_ID = "blind-spots-layer"
PANE = "sl-blind-spots"
DECIMALS = 6  # ~0.1 m: below the display simplification (store.map_queries)
COLUMNS = ("id", "key_area_id", "key_area", "area_class", "dori_level", "area_m2")
COLOR = "#e31a1c"
STYLE = {"color": COLOR, "weight": 1, "fillColor": COLOR, "fillOpacity": 0.45}


def features(gdf: GeoDataFrame) -> dict[str, Any]:
    """The layer's GeoJSON with tooltips (coordinates rounded to ``DECIMALS``) from ``gdf`` as
    for :func:`build`; the page sends it when the overlay is first switched on."""
    tips = tooltips(gdf, title="key_area", fields=("area_class", "dori_level", "area_m2"),
                    label="key area")  # fmt: skip
    return feature_collection(gdf, COLUMNS, tooltip=tips, decimals=DECIMALS)


def build(gdf: GeoDataFrame | None = None, *, checked: bool = False) -> dl.Overlay:
    """Blind spot overlay: red areas inside the key areas.

    Parameters
    ----------
    gdf
        ``id, key_area_id, key_area, area_class, dori_level, area_m2, geometry``
        (MultiPolygon), EPSG:4326, as ``store.map_queries.blind_spots`` returns it. May be
        empty. None: an empty layer whose ``data`` is filled later (:func:`features`).
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Blind spots"``; holds a ``dl.GeoJSON`` with id ``"blind-spots-layer"``.
    """
    data = None if gdf is None else features(gdf)
    layer = dl.GeoJSON(id=LAYER_ID, data=data, pane=PANE, style=STYLE)
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)


def legend(gdf: GeoDataFrame) -> html.Div:
    """Legend block: the total blind area and the number of key areas that have one."""
    total = float(gdf["area_m2"].sum()) if len(gdf) else 0.0
    areas = int(gdf["key_area_id"].nunique()) if len(gdf) else 0
    return legend_block(
        NAME, [(COLOR, f"not seen at the required level · {areas} key areas, "
                       f"{total / 1e6:.3f} km²")],  # fmt: skip
    )
