"""Which cameras see given points: in-memory lookup over visible polygons (metric CRS)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

LEVEL_RANK = {"detect": 1, "observe": 2, "recognise": 3, "identify": 4}
_LEVEL_OF_RANK = np.array(["", "detect", "observe", "recognise", "identify"], dtype=object)


class CameraLookupError(ValueError):
    """Inputs that cannot be looked up (CRS mismatch, missing columns)."""


def cameras_at_points(
    visible: gpd.GeoDataFrame,
    cameras: gpd.GeoDataFrame,
    points: np.ndarray | gpd.GeoSeries,
) -> pd.DataFrame:
    """For every point, the cameras whose visible area contains it, best DORI level first.

    Parameters
    ----------
    visible
        camera_id, level, geometry (visible polygons), projected metric CRS.
    cameras
        camera_id, geometry (Point, the camera position), same CRS.
    points
        Shapely points in the same CRS.

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
        raise CameraLookupError("visible and cameras must share one projected CRS")
    pts = np.asarray(points.to_numpy() if hasattr(points, "to_numpy") else points, dtype=object)
    tree = shapely.STRtree(visible.geometry.to_numpy())
    p_idx, v_idx = tree.query(pts, predicate="intersects")  # edges count as seen
    if len(p_idx) == 0:
        return pd.DataFrame({"point_index": [], "camera_id": [], "dori_level": [],
                             "distance_m": []})  # fmt: skip
    rank = visible["level"].map(LEVEL_RANK).to_numpy()[v_idx]
    cam = visible["camera_id"].to_numpy()[v_idx]
    hits = pd.DataFrame({"point_index": p_idx, "camera_id": cam, "rank": rank})
    best = hits.groupby(["point_index", "camera_id"], sort=False)["rank"].max().reset_index()
    pos = cameras.set_index("camera_id").geometry
    cam_xy = shapely.get_coordinates(pos.loc[best["camera_id"]].to_numpy())
    pt_xy = shapely.get_coordinates(pts[best["point_index"].to_numpy()])
    best["distance_m"] = np.hypot(*(cam_xy - pt_xy).T)
    best["dori_level"] = _LEVEL_OF_RANK[best["rank"].to_numpy()]
    best = best.sort_values(["point_index", "rank", "distance_m"], ascending=[True, False, True])
    return best[["point_index", "camera_id", "dori_level", "distance_m"]].reset_index(drop=True)
