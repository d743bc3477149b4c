"""Shared helpers of the layer modules: GeoDataFrame -> JSON-safe GeoJSON, JS function refs, panes.

Not a layer itself; the public layer modules are the siblings of this file.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

import dash_leaflet as dl
import numpy as np
import pandas as pd
import shapely
from dash.development.base_component import Component
from geopandas import GeoDataFrame

JS_NAMESPACE = "sightline"
OSM_ATTRIBUTION = "© OpenStreetMap contributors"

# Custom Leaflet panes, bottom to top. Each pane gets its own SVG renderer, so the drawing
# order stays fixed when a user switches overlays off and on again (re-added paths would
# otherwise land on top of the camera markers). Leaflet's own panes: tile 200, overlay 400,
# marker 600, tooltip 650, popup 700.
PANE_Z_INDEX = {
    "sl-land": 210,
    "sl-buildings": 320,
    "sl-roads": 340,
    "sl-key-areas": 360,
    "sl-jurisdictions": 380,
    "sl-coverage": 390,
    "sl-road-coverage": 395,
    "sl-entry-roads": 397,
    "sl-blind-spots": 399,
    "sl-alarm-points": 610,
    "sl-checkpoints": 620,
    "sl-cameras": 630,
}


def js(name: str) -> dict[str, str]:
    """Reference to a function in ``assets/sightline.js``, in dash-leaflet's function-prop form.

    dash-leaflet 1.x resolves ``{"variable": "a.b"}`` to ``window.a.b`` in the browser and calls
    it with the Leaflet arguments plus a final ``context`` (the component's props and ``map``).
    This is what ``dash_extensions.javascript.Namespace`` produces, without the dependency.
    """
    return {"variable": f"{JS_NAMESPACE}.{name}"}


def in_pane(pane: str, layer: Component) -> dl.Pane:
    """Wrap ``layer`` in its Leaflet pane; the pane exists before the layer renders into it."""
    return dl.Pane(layer, name=pane, style={"zIndex": PANE_Z_INDEX[pane]})


def _json_safe(values: pd.Series) -> pd.Series:
    """One property column as Python scalars that ``json.dumps(allow_nan=False)`` accepts."""
    if pd.api.types.is_datetime64_any_dtype(values):
        iso = values.map(lambda t: t.isoformat(), na_action="ignore")
        return iso.astype(object).where(values.notna(), None)
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_integer_dtype(values):
        out = values.astype(object)
        return out.where(values.notna(), None)
    if pd.api.types.is_float_dtype(values):
        arr = values.to_numpy(dtype="float64", na_value=np.nan)
        out = pd.Series(arr, index=values.index).astype(object)
        return out.where(np.isfinite(arr), None)
    # Object columns (text, None, mixed): pandas/numpy scalars and NaN become JSON-able.
    return values.map(_scalar, na_action=None).astype(object)


def _scalar(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def tooltips(gdf: GeoDataFrame, *, title: str, fields: Sequence[str], label: str) -> list[str]:
    """HTML tooltip per row: the escaped ``title`` column in bold, then ``field: value`` lines.

    A row whose title is empty is titled ``"<label> <id>"``.
    """
    present = [f for f in fields if f in gdf.columns]
    titles = gdf[title] if title in gdf.columns else pd.Series([None] * len(gdf), index=gdf.index)
    ids = gdf["id"] if "id" in gdf.columns else pd.Series(range(len(gdf)), index=gdf.index)
    columns = [_json_safe(gdf[f]).tolist() for f in present]
    out = []
    for i, (name, ident) in enumerate(zip(titles.tolist(), ids.tolist(), strict=True)):
        heading = name if isinstance(name, str) and name.strip() else f"{label} {ident}"
        lines = [f"<b>{html.escape(heading)}</b>"]
        lines += [
            f"{html.escape(f)}: {html.escape(str(col[i]))}"
            for f, col in zip(present, columns, strict=True)
            if col[i] is not None
        ]
        out.append("<br>".join(lines))
    return out


def feature_collection(
    gdf: GeoDataFrame,
    columns: Iterable[str],
    *,
    tooltip: list[str] | None = None,
    decimals: int | None = None,
) -> dict[str, Any]:
    """GeoJSON FeatureCollection (EPSG:4326) of ``gdf`` with only the listed property columns.

    Columns missing from ``gdf`` are skipped. Rows with a missing or empty geometry are dropped
    (Leaflet and supercluster cannot place them). NaN, NaT and infinities become ``null``;
    datetimes become ISO 8601 strings, so the result passes ``json.dumps(allow_nan=False)``.

    Parameters
    ----------
    gdf
        Frame with a ``geometry`` column, CRS EPSG:4326 (other CRSs are transformed).
    columns
        Property columns to keep, e.g. ``("id", "name", "status")``.
    tooltip
        Optional HTML per row of ``gdf``; stored as the ``tooltip`` property, which dash-leaflet
        binds as a Leaflet tooltip by default.
    decimals
        Round coordinates to this many decimal places of a degree (6: ~0.1 m), for display
        layers whose full float precision would only add bytes. None: unrounded.

    Raises
    ------
    ValueError
        If ``gdf`` has rows but no CRS, or ``tooltip`` has the wrong length.
    """
    if tooltip is not None and len(tooltip) != len(gdf):
        raise ValueError(f"{len(tooltip)} tooltips for {len(gdf)} rows")
    if len(gdf) and gdf.crs is None:
        raise ValueError("GeoDataFrame has no CRS; expected EPSG:4326 (WGS-84 lon/lat)")
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)

    keep = [c for c in dict.fromkeys(columns) if c in gdf.columns and c != gdf.geometry.name]
    props = pd.DataFrame({c: _json_safe(gdf[c]) for c in keep}, index=gdf.index)
    if tooltip is not None:
        props["tooltip"] = tooltip
    geoms = gdf.geometry.to_numpy()
    valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    shown = geoms[valid]
    if decimals is not None:
        shown = shapely.transform(shown, lambda xy: np.round(xy, decimals))
    out = GeoDataFrame(props[valid], geometry=shown, crs=4326)
    collection: dict[str, Any] = out.to_geo_dict(na="null", drop_id=True)
    return collection
