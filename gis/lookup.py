"""Which cameras see given points: in-memory lookup over visible polygons.

In a projected metric CRS distances are planar; in WGS-84 / CGCS2000 longitude-latitude
(as the store keeps the polygons) they are geodesic on the ellipsoid, so a run's stored
polygons can be searched without reprojecting them.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Geod

LEVEL_RANK = {"detect": 1, "observe": 2, "recognise": 3, "identify": 4}
_LEVEL_OF_RANK = np.array(["", "detect", "observe", "recognise", "identify"], dtype=object)


class CameraLookupError(ValueError):
    """Inputs that cannot be looked up (CRS mismatch, missing columns)."""


def cameras_at_points(
    visible: gpd.GeoDataFrame,
    cameras: gpd.GeoDataFrame,
    points: np.ndarray | gpd.GeoSeries,
    *,
    tree: shapely.STRtree | None = None,
) -> pd.DataFrame:
    """For every point, the cameras whose visible area contains it, best DORI level first.

    Parameters
    ----------
    visible
        camera_id, level, geometry (visible polygons); a projected metric CRS or a
        geographic (longitude/latitude) one.
    cameras
        camera_id, geometry (Point, the camera position), same CRS. Cameras of ``visible``
        missing here get a NaN distance.
    points
        Shapely points in the same CRS.
    tree
        ``shapely.STRtree(visible.geometry)`` built once for many calls (optional).

    Returns
    -------
    DataFrame
        point_index, camera_id, dori_level (the best level that camera reaches there) and
        distance_m (camera to point, metres), ordered by point, best level, then distance.
    """
    for name, frame, cols in (("visible", visible, ("camera_id", "level")),
                              ("cameras", cameras, ("camera_id",))):  # fmt: skip
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise CameraLookupError(f"{name} lacks column(s) {', '.join(missing)}")
    if visible.crs is None or visible.crs != cameras.crs:
        raise CameraLookupError("visible and cameras must share one CRS (projected or lon/lat)")
    pts = np.asarray(points.to_numpy() if hasattr(points, "to_numpy") else points, dtype=object)
    if tree is None:
        tree = shapely.STRtree(visible.geometry.to_numpy())
    p_idx, v_idx = tree.query(pts, predicate="intersects")  # edges count as seen
    if len(p_idx) == 0:
        return pd.DataFrame({"point_index": [], "camera_id": [], "dori_level": [],
                             "distance_m": []})  # fmt: skip
    rank = visible["level"].map(LEVEL_RANK).to_numpy()[v_idx]
    cam = visible["camera_id"].to_numpy()[v_idx]
    hits = pd.DataFrame({"point_index": p_idx, "camera_id": cam, "rank": rank})
    best = hits.groupby(["point_index", "camera_id"], sort=False)["rank"].max().reset_index()
    pos = cameras.drop_duplicates("camera_id").set_index("camera_id").geometry
    cam_pts = pos.reindex(best["camera_id"]).to_numpy()
    known = ~shapely.is_missing(cam_pts)
    cam_xy = np.full((len(best), 2), np.nan)
    cam_xy[known] = shapely.get_coordinates(cam_pts[known])
    pt_xy = shapely.get_coordinates(pts[best["point_index"].to_numpy()])
    best["distance_m"] = _distance_m(CRS.from_user_input(visible.crs), cam_xy, pt_xy)
    best["dori_level"] = _LEVEL_OF_RANK[best["rank"].to_numpy()]
    best = best.sort_values(["point_index", "rank", "distance_m"], ascending=[True, False, True])
    return best[["point_index", "camera_id", "dori_level", "distance_m"]].reset_index(drop=True)


def _distance_m(crs: CRS, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Metres between coordinate rows: planar in a projected CRS, geodesic in lon/lat."""
    if not crs.is_geographic:
        return np.asarray(np.hypot(*(a - b).T), dtype=np.float64)
    geod = crs.get_geod() or Geod(ellps="WGS84")
    out = np.full(len(a), np.nan)
    ok = np.isfinite(a).all(axis=1)
    if ok.any():
        _, _, dist = geod.inv(a[ok, 0], a[ok, 1], b[ok, 0], b[ok, 1])
        out[ok] = dist
    return out
