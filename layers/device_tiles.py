"""Tiled camera layer for large cities: an overlay entry and the drawing configuration of
``assets/sightline-tiles.js`` (a canvas grid layer over ``/device-tiles/...`` tiles)."""

from __future__ import annotations

from typing import Any

import dash_leaflet as dl

from layers import cameras
from layers._geojson import PANE_Z_INDEX

NAME = cameras.NAME  # the same entry in the layer switcher as the small-city layer
GROUP_ID = "camera-tiles-group"
# A pane of its own, made by the script (a dash-leaflet Pane is removed with its overlay).
PANE = "sl-camera-tiles"
PANE_Z = PANE_Z_INDEX[cameras.PANE]
# Cluster bubbles: the neutral navy of the small-city clusters (sightline.css), so that no
# bubble reads as a status colour; the share of cameras not online is a ring in fault red.
BUBBLE = {"fill": "rgba(31, 45, 61, 0.8)", "halo": "rgba(31, 45, 61, 0.25)",
          "text": "#ffffff", "ring": cameras.STATUS_COLORS["fault"]}  # fmt: skip


def config(url_template: str, *, map_id: str, click_id: str | None) -> dict[str, Any]:
    """What the browser needs to draw the tiles: where to fetch them (``{z}/{x}/{y}`` in
    ``url_template``), the colours by status and outlines by kind of ``layers.cameras``, the
    map and, when the user may open video, the store a clicked camera is written to."""
    return {
        "url": url_template,
        "mapId": map_id,
        "pane": PANE,
        "paneZ": PANE_Z,
        "overlayName": NAME,
        "clickId": click_id,
        "colors": cameras.STATUS_COLORS,
        "defaultColor": cameras.STATUS_COLORS["unknown"],
        "styles": cameras.KIND_STYLES,
        "base": {"radius": 6, "color": "#ffffff", "weight": 1.5},
        "bubble": BUBBLE,
    }


def build(*, checked: bool = True) -> dl.Overlay:
    """The "Cameras" entry of the layer switcher for a tiled page.

    The drawing itself is a Leaflet grid layer made by ``assets/sightline-tiles.js``, which
    follows this entry (``overlayadd`` / ``overlayremove``). The entry holds an empty GeoJSON
    with the small-city layer's id, so the page's other callbacks (health colours, search,
    click-to-video) find the component they name and do nothing.
    """
    placeholder = dl.GeoJSON(
        id=cameras.LAYER_ID, data={"type": "FeatureCollection", "features": []}, hideout={}
    )
    return dl.Overlay(dl.LayerGroup(placeholder, id=GROUP_ID), name=NAME, checked=checked)
