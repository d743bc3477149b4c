"""Which cameras see given points: in-memory lookup over visible polygons.

In a projected metric CRS distances are planar; in WGS-84 / CGCS2000 longitude-latitude
(as the store keeps the polygons) they are geodesic on the ellipsoid, so a run's stored
polygons can be searched without reprojecting them.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely
from pyproj import CRS, Geod

LEVEL_RANK = {"detect": 1, "observe": 2, "recognise": 3, "identify": 4}
LEVEL_NAMES = np.array(["", "detect", "observe", "recognise", "identify"], dtype=object)
"""DORI level name by rank (1 detect .. 4 identify)."""


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
    prepared = PreparedVisible.build(visible, cameras, tree=tree)
    found = prepared.match(pts)
    return pd.DataFrame({
        "point_index": found.point_index,
        "camera_id": prepared.camera_ids[found.camera],
        "dori_level": LEVEL_NAMES[found.rank],
        "distance_m": found.distance_m,
    })  # fmt: skip


@dataclass(frozen=True)
class Matches:
    """Point-camera pairs, ordered by point, best level (rank 4 identify .. 1 detect), then
    distance; ``camera`` indexes :attr:`PreparedVisible.camera_ids`."""

    point_index: npt.NDArray[np.intp]
    camera: npt.NDArray[np.intp]
    rank: npt.NDArray[np.intp]
    distance_m: npt.NDArray[np.float64]


@dataclass(frozen=True)
class PreparedVisible:
    """Visible polygons in an STRtree with their camera (as an integer code) and DORI rank
    per polygon, and each camera's position: built once, matched against many batches."""

    tree: shapely.STRtree
    camera_of: npt.NDArray[np.intp]
    rank_of: npt.NDArray[np.intp]
    camera_ids: npt.NDArray[np.object_]
    camera_xy: npt.NDArray[np.float64]
    crs: CRS

    @classmethod
    def build(cls, visible: gpd.GeoDataFrame, cameras: gpd.GeoDataFrame, *,
              tree: shapely.STRtree | None = None) -> PreparedVisible:  # fmt: skip
        """From ``visible`` (camera_id, level, geometry) and ``cameras`` (camera_id, Point
        geometry; cameras missing here get NaN distances), both in one CRS."""
        code, ids = pd.factorize(visible["camera_id"].to_numpy(), sort=False)
        rank = pd.Series(visible["level"].to_numpy()).map(LEVEL_RANK)
        if rank.isna().any():
            bad = visible["level"].to_numpy()[rank.isna().to_numpy()][0]
            raise CameraLookupError(f"visible: unknown DORI level {bad!r}")
        pos = cameras.drop_duplicates("camera_id").set_index("camera_id").geometry
        cam_pts = pos.reindex(ids).to_numpy()
        known = ~shapely.is_missing(cam_pts)
        xy = np.full((len(ids), 2), np.nan)
        if known.any():
            xy[known] = shapely.get_coordinates(cam_pts[known])
        return cls(
            tree=tree if tree is not None else shapely.STRtree(visible.geometry.to_numpy()),
            camera_of=code.astype(np.intp), rank_of=rank.to_numpy(dtype=np.intp),
            camera_ids=np.asarray(ids, dtype=object), camera_xy=xy,
            crs=CRS.from_user_input(visible.crs),
        )  # fmt: skip

    def match(self, points: npt.NDArray[np.object_]) -> Matches:
        """Every camera that sees each point (edges count as seen), with its best level."""
        p_idx, v_idx = self.tree.query(points, predicate="intersects")
        cam = self.camera_of[v_idx]
        rank = self.rank_of[v_idx]
        key = p_idx.astype(np.int64) * (len(self.camera_ids) + 1) + cam
        order = np.lexsort((-rank, key))  # per (point, camera): best level first
        key = key[order]
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        sel = order[first]
        p_sel, c_sel, r_sel = p_idx[sel].astype(np.intp), cam[sel], rank[sel]
        pt_xy = shapely.get_coordinates(points[p_sel]) if len(p_sel) else np.empty((0, 2))
        dist = _distance_m(self.crs, self.camera_xy[c_sel], pt_xy)
        out = np.lexsort((dist, -r_sel, p_sel))
        return Matches(p_sel[out], c_sel[out], r_sel[out], dist[out])


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
