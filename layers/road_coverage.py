"""Road coverage layer: road centre lines coloured by the share of their length seen."""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl
from dash import html
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, js, tooltips
from layers._legend import legend_block

NAME = "Road coverage"
LAYER_ID = "road-coverage-layer"
PANE = "sl-road-coverage"
DECIMALS = 6  # ~0.1 m: below the display simplification (store.map_queries)
LEVELS = ("detect", "observe", "recognise", "identify")
COLUMNS = ("id", "name", "road_class", "length_m", *(f"{lv}_pct" for lv in LEVELS))
# (lower bound in %, colour): a road gets the colour of the highest bound it reaches.
STEPS = [(0.0, "#d7191c"), (25.0, "#fdae61"), (50.0, "#a6d96a"), (75.0, "#1a9641")]
BASE_STYLE = {"weight": 4, "opacity": 0.9, "lineCap": "round"}


def features(gdf: GeoDataFrame, *, level: str = "detect") -> dict[str, Any]:
    """The layer's GeoJSON with tooltips (coordinates rounded to ``DECIMALS``) from ``gdf`` as
    for :func:`build`; the page sends it when the overlay is first switched on."""
    tips = tooltips(gdf, title="name", fields=("road_class", "length_m", f"{level}_pct"),
                    label="road")  # fmt: skip
    return feature_collection(gdf, COLUMNS, tooltip=tips, decimals=DECIMALS)


def build(
    gdf: GeoDataFrame | None = None, *, level: str = "detect", checked: bool = False
) -> dl.Overlay:
    """Road coverage overlay: each road coloured by its covered % at one DORI level.

    Parameters
    ----------
    gdf
        ``id, name, road_class, length_m, <level>_pct ..., geometry`` (LineString), EPSG:4326,
        as ``store.map_queries.road_coverage`` returns it. May be empty. None: an empty layer
        whose ``data`` is filled later (:func:`features`).
    level
        The DORI level whose covered % colours the roads (it sits in the layer's ``hideout``,
        so the browser can switch it without resending the roads).
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Road coverage"``; holds a ``dl.GeoJSON`` with id ``"road-coverage-layer"``.
    """
    if level not in LEVELS:
        raise ValueError(f"level {level!r} is not one of {LEVELS}")
    data = None if gdf is None else features(gdf, level=level)
    hideout = {"property": f"{level}_pct", "steps": STEPS, "base": BASE_STYLE}
    layer = dl.GeoJSON(id=LAYER_ID, data=data, pane=PANE, hideout=hideout, style=js("styleByStep"))
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)


def legend(gdf: GeoDataFrame, *, level: str = "detect") -> html.Div:
    """Legend block: the colour steps, and the km of road per step at ``level``."""
    col = f"{level}_pct"
    rows = []
    bounds = [b for b, _ in STEPS] + [100.0001]
    for (lo, colour), hi in zip(STEPS, bounds[1:], strict=True):
        if len(gdf):
            sel = (gdf[col] >= lo) & (gdf[col] < hi)
            km = float(gdf.loc[sel, "length_m"].sum()) / 1000
            rows.append((colour, f"{lo:.0f}–{min(hi, 100):.0f} % seen · {km:.1f} km"))
        else:
            rows.append((colour, f"{lo:.0f}–{min(hi, 100):.0f} % seen"))
    return legend_block(f"{NAME}", rows, note=f"at DORI level {level}", shape="line")
