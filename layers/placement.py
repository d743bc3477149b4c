"""Placement proposal layer: proposed camera sites with what each would see."""

from __future__ import annotations

import dash_leaflet as dl
import geopandas as gpd
import shapely
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, tooltips

NAME = "Proposed cameras"
LAYER_ID = "placement-layer"
VIEW_LAYER_ID = "placement-view-layer"
PANE = "sl-placement"
Z_INDEX = 625  # above alarm points and checkpoints, below existing cameras
COLUMNS = ("rank", "site_kind", "azimuth_deg", "tilt_deg", "mount_height_m", "lens_model",
           "hfov_deg", "gain_m2", "jurisdiction_code", "accepted_camera_id")  # fmt: skip
SITE_STYLE = {"color": "#d62728", "weight": 2, "fillColor": "#ffffff", "fillOpacity": 1.0}
VIEW_STYLE = {"color": "#d62728", "weight": 1, "fillColor": "#d62728", "fillOpacity": 0.2}


def build(sites: GeoDataFrame, *, checked: bool = True) -> dl.Overlay:
    """Overlay of a proposal: a marker per site and its visible area (occlusion applied).

    Parameters
    ----------
    sites
        Proposal sites (``rank, site_kind, azimuth_deg, lens_model, gain_m2, ...``, Point
        ``geometry``, optional ``view_wkb`` — the visible area as WKB), EPSG:4326. May be
        empty.
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Proposed cameras"``; holds a ``dl.GeoJSON`` of visible areas (id
        ``"placement-view-layer"``) and one of sites (id ``"placement-layer"``).
    """
    cols = [c for c in COLUMNS if c in sites.columns]
    if "view_wkb" in sites.columns and len(sites):
        views = gpd.GeoDataFrame(
            sites[cols], geometry=gpd.GeoSeries(shapely.from_wkb(sites["view_wkb"].to_numpy()),
                                                index=sites.index, crs=4326))  # fmt: skip
    else:
        views = gpd.GeoDataFrame(sites[cols], geometry=gpd.GeoSeries([None] * len(sites),
                                                                     crs=4326))  # fmt: skip
    views = views[~(views.geometry.isna() | views.geometry.is_empty)]
    tip = ("rank", "site_kind", "azimuth_deg", "lens_model", "mount_height_m", "gain_m2")
    site_data = feature_collection(
        sites, cols, tooltip=tooltips(sites, title="lens_model", fields=tuple(
            c for c in tip if c in sites.columns), label="proposed camera"))  # fmt: skip
    view_data = feature_collection(views, cols)
    pane = dl.Pane(
        [dl.GeoJSON(id=VIEW_LAYER_ID, data=view_data, pane=PANE, style=VIEW_STYLE),
         dl.GeoJSON(id=LAYER_ID, data=site_data, pane=PANE, style=SITE_STYLE)],
        name=PANE, style={"zIndex": Z_INDEX},
    )  # fmt: skip
    return dl.Overlay(pane, name=NAME, checked=checked)
