"""Which cameras see many points at once: a run's visible polygons held in memory.

Loading a run costs one read of its polygons (seconds on a 100k-camera city); every batch
after that is an STRtree query (100k points in a fraction of a second). The HTTP API keeps
the index of the run it last served; the CLI builds one per call.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from gis.lookup import cameras_at_points
from store import coverage as store_cov

MAX_BATCH_POINTS = 100_000
"""The most points one batch may hold (HTTP and CLI)."""


class WhichCamerasError(ValueError):
    """A batch that cannot be answered (no run, bad coordinates, too many points)."""


@dataclass
class VisibleIndex:
    """One run's visible polygons and camera positions (EPSG:4326) with a built STRtree."""

    run_id: int
    visible: pd.DataFrame
    cameras: pd.DataFrame
    tree: shapely.STRtree
    load_s: float

    @classmethod
    def load(cls, engine: Engine, run_id: int | None = None) -> VisibleIndex:
        """The index of ``run_id`` (default: the newest finished run)."""
        t = time.perf_counter()
        with engine.connect() as conn:
            rid = run_id if run_id is not None else store_cov.latest_run(conn)
            if rid is None:
                raise WhichCamerasError("no coverage run yet: run `sightline coverage run`")
            if not store_cov.run_exists(conn, rid):
                raise WhichCamerasError(f"no finished coverage run {rid}")
            visible, cameras = store_cov.visible_of_run(conn, rid)
        tree = shapely.STRtree(visible.geometry.to_numpy())
        return cls(rid, visible, cameras, tree, time.perf_counter() - t)

    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
        """Every (point, camera) where the camera sees the point, best DORI level first,
        then nearest: ``point``, ``device_id``, ``camera_id`` (store id, None for what-if
        cameras), ``name``, ``dori_level``, ``distance_m`` (geodesic metres)."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        check_points(lon, lat)
        found = cameras_at_points(self.visible, self.cameras, shapely.points(lon, lat),
                                  tree=self.tree)  # fmt: skip
        meta = self.cameras.drop_duplicates("camera_id").set_index("camera_id")
        store_id = meta["store_id"].reindex(found["camera_id"]).to_numpy()
        names = meta["name"].reindex(found["camera_id"]).to_numpy()
        return pd.DataFrame({
            "point": found["point_index"].to_numpy(dtype=np.int64),
            "device_id": found["camera_id"].to_numpy(),
            "camera_id": [None if pd.isna(v) else int(v) for v in store_id],
            "name": [None if pd.isna(v) else v for v in names],
            "dori_level": found["dori_level"].to_numpy(),
            "distance_m": np.round(found["distance_m"].to_numpy(dtype=np.float64), 2),
        })  # fmt: skip


def check_points(lon: np.ndarray, lat: np.ndarray) -> None:
    """Refuse batches that are too large or hold coordinates outside WGS-84's range."""
    if len(lon) != len(lat):
        raise WhichCamerasError("lon and lat differ in length")
    if len(lon) > MAX_BATCH_POINTS:
        raise WhichCamerasError(
            f"{len(lon):,} points; at most {MAX_BATCH_POINTS:,} per batch: split the file"
        )
    bad = ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise WhichCamerasError(
            f"point {i}: ({lon[i]}, {lat[i]}) is not a WGS-84 longitude/latitude in degrees"
        )


class IndexCache:
    """The index of the newest run asked for, reloaded when a newer run is finished.

    Thread-safe: one loader at a time; callers of a run being loaded wait for it.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._index: VisibleIndex | None = None

    def get(self, run_id: int | None = None) -> VisibleIndex:
        """The index of ``run_id`` (default: the newest finished run)."""
        with self._lock:
            want = run_id
            if want is None:
                with self._engine.connect() as conn:
                    want = store_cov.latest_run(conn)
                if want is None:
                    raise WhichCamerasError("no coverage run yet: run `sightline coverage run`")
            if self._index is None or self._index.run_id != want:
                self._index = VisibleIndex.load(self._engine, want)
            return self._index
