"""Camera layer: one circle marker per camera, fill by status, outline by kind, clustered."""

from __future__ import annotations

import dash_leaflet as dl
from geopandas import GeoDataFrame

from layers._geojson import feature_collection, in_pane, js, tooltips

NAME = "Cameras"
LAYER_ID = "cameras-layer"
PANE = "sl-cameras"
MARKER_CLASS = "sl-camera"
CLUSTER_CLASS = "sl-camera-cluster"

STATUS_COLORS = {
    "online": "#1a9850",
    "offline": "#7f8790",
    "fault": "#d7301f",
    "unknown": "#f0a30a",
}
STATUS_LABELS = {"online": "online", "offline": "offline", "fault": "fault", "unknown": "unknown"}
# Outline (Leaflet path options) by camera kind; radius in screen pixels.
KIND_STYLES = {
    "road": {"radius": 6, "color": "#ffffff", "weight": 1.5},
    "community": {"radius": 5, "color": "#203040", "weight": 1.5},
    "social": {"radius": 5, "color": "#6a3d9a", "weight": 2, "dashArray": "2 2"},
    "high_point": {"radius": 8, "color": "#000000", "weight": 3},
}
COLUMNS = (
    "id",
    "device_id",
    "name",
    "kind",
    "camera_type",
    "status",
    "azimuth_deg",
    "hfov_deg",
    "mount_height_m",
    "is_social_resource",
    "owner",
    "jurisdiction_id",
)
TOOLTIP_FIELDS = ("id", "device_id", "status", "kind", "camera_type", "azimuth_deg")


def build(
    gdf: GeoDataFrame,
    *,
    cluster: bool = True,
    cluster_radius_px: int = 40,
    cluster_max_zoom: int = 16,
    checked: bool = True,
) -> dl.Overlay:
    """Camera overlay for the layer switcher.

    Parameters
    ----------
    gdf
        Cameras (``id, device_id, name, kind, status, azimuth_deg, ..., geometry`` Point),
        EPSG:4326. May be empty.
    cluster
        Group nearby cameras (supercluster, in the browser) below ``cluster_max_zoom``.
    cluster_radius_px
        Cluster radius in screen pixels.
    cluster_max_zoom
        Highest zoom level at which cameras are still clustered.
    checked
        Whether the overlay is shown initially.

    Returns
    -------
    dl.Overlay
        Named ``"Cameras"``; holds a ``dl.GeoJSON`` with id ``"cameras-layer"``. Each marker is
        an SVG circle with classes ``sl-camera sl-status-<status> sl-kind-<kind>``; each cluster
        a div icon with class ``sl-camera-cluster`` carrying its exact count in ``data-count``.
    """
    data = feature_collection(
        gdf, COLUMNS, tooltip=tooltips(gdf, title="name", fields=TOOLTIP_FIELDS, label="camera")
    )
    hideout = {
        "className": MARKER_CLASS,
        "clusterClassName": CLUSTER_CLASS,
        "colorBy": "status",
        # pages/map.py puts live statuses from the health poll in hideout["live"] by device id.
        "liveKey": "device_id",
        "colors": STATUS_COLORS,
        "defaultColor": STATUS_COLORS["unknown"],
        "styleBy": "kind",
        "property": "kind",
        "styles": KIND_STYLES,
        "base": {"radius": 6, "color": "#ffffff", "weight": 1.5, "opacity": 1, "fillOpacity": 0.95},
    }
    layer = dl.GeoJSON(
        id=LAYER_ID,
        data=data,
        pane=PANE,
        hideout=hideout,
        pointToLayer=js("circleMarker"),
        # Search and filters (pages/camera_search.py) live in hideout["filter"].
        filter=js("cameraFilter"),
        # With cluster=True dash-leaflet restyles every feature (default: thin grey outline),
        # so the outline by kind must come from the style function as well.
        style=js("styleByProperty"),
        clusterToLayer=js("clusterMarker"),
        cluster=cluster,
        superClusterOptions={"radius": cluster_radius_px, "maxZoom": cluster_max_zoom},
        zoomToBoundsOnClick=True,
    )
    return dl.Overlay(in_pane(PANE, layer), name=NAME, checked=checked)
