"""Basemap: the configured XYZ tiles if the tile server answers, else a plain local basemap.

The plain basemap is the land (city / jurisdiction polygons) on a neutral background; the
buildings and roads overlays draw on top of it. Both variants are OSM-derived here, so the map's
attribution always carries ``OSM_ATTRIBUTION`` (see ``pages.map``).
"""

from __future__ import annotations

import logging
import math
import urllib.error
import urllib.parse
import urllib.request

import dash_leaflet as dl
from dash.development.base_component import Component
from geopandas import GeoDataFrame

from layers._geojson import OSM_ATTRIBUTION, feature_collection, in_pane
from settings import Settings

__all__ = ["OSM_ATTRIBUTION", "PROBE_ZOOM", "build", "probe_url", "tiles_reachable"]

log = logging.getLogger(__name__)

LAND_LAYER_ID = "land-layer"
LAND_PANE = "sl-land"
LAND_STYLE = {"stroke": False, "fillColor": "#f2efe9", "fillOpacity": 1}
PROBE_ZOOM = 12
PROBE_TIMEOUT_S = 1.5


def probe_url(
    url_template: str, lon_deg: float = 0.0, lat_deg: float = 0.0, zoom: int = PROBE_ZOOM
) -> str:
    """URL of the tile at ``zoom`` containing (lon, lat) (WGS-84 degrees, Web Mercator tiling).

    Fills ``{z} {x} {y} {s} {r}`` of a Leaflet URL template; ``{s}`` becomes ``a``.

    Raises
    ------
    ValueError
        If the template has other placeholders (they need options we do not have) or is not
        an http(s) URL.
    """
    lat_deg = max(min(lat_deg, 85.0511), -85.0511)
    n = 2**zoom
    x = min(int((lon_deg + 180.0) / 360.0 * n), n - 1)
    lat = math.radians(lat_deg)
    y = min(int((1.0 - math.asinh(math.tan(lat)) / math.pi) / 2.0 * n), n - 1)
    url = (
        url_template.replace("{z}", str(zoom))
        .replace("{x}", str(x))
        .replace("{y}", str(y))
        .replace("{s}", "a")
        .replace("{r}", "")
    )
    if "{" in url or "}" in url:
        raise ValueError(f"basemap_url {url_template!r} has placeholders other than z, x, y, s, r")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"basemap_url {url_template!r} is not an http(s) URL")
    return url


def tiles_reachable(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether fetching the tile ``url`` answers 200 with a body within ``timeout_s`` seconds.

    A failure is logged with its reason (it selects the plain basemap, it is not an error).
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # scheme checked in probe_url
            ok = resp.status == 200 and len(resp.read(1)) == 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("basemap tiles unreachable (%s): %s; using the plain basemap", url, exc)
        return False
    if not ok:
        log.warning("basemap tile %s answered without a tile; using the plain basemap", url)
    return ok


def build(
    settings: Settings, land: GeoDataFrame, *, timeout_s: float = PROBE_TIMEOUT_S
) -> list[Component]:
    """Basemap components, bottom-most children of the map.

    Parameters
    ----------
    settings
        ``basemap_url`` (XYZ template) and ``basemap_attribution`` are used.
    land
        Polygons filled as land in the plain basemap (the jurisdictions; EPSG:4326). May be
        empty. Its centre also picks the tile fetched to check the tile server.
    timeout_s
        Time allowed for the one probe request, seconds.

    Returns
    -------
    list of Component
        ``[dl.TileLayer]`` when ``settings.basemap_url`` is set and one tile of it loads in time;
        otherwise the plain basemap: ``[land polygons]`` (or ``[]`` when ``land`` is empty).
    """
    if settings.basemap_url:
        lon, lat = 0.0, 0.0
        if len(land) and not land.geometry.is_empty.all():
            west, south, east, north = land.to_crs(4326).total_bounds
            lon, lat = (west + east) / 2, (south + north) / 2
        try:
            url = probe_url(settings.basemap_url, lon, lat)
        except ValueError as exc:
            log.warning("%s; using the plain basemap", exc)
        else:
            if tiles_reachable(url, timeout_s):
                return [
                    dl.TileLayer(
                        id="basemap-tiles",
                        url=settings.basemap_url,
                        attribution=settings.basemap_attribution,
                        maxZoom=19,
                    )
                ]
    if not len(land):
        return []
    data = feature_collection(land, ("id", "level"))
    layer = dl.GeoJSON(id=LAND_LAYER_ID, data=data, pane=LAND_PANE, style=LAND_STYLE)
    return [in_pane(LAND_PANE, layer)]
