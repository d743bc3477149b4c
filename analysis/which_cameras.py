"""Which cameras see many points at once: a run's visible polygons held in memory.

Loading a run costs one read of its polygons (seconds on a 100k-camera city); every batch
after that is an STRtree query (100k points in a fraction of a second). The HTTP API keeps
the index of the run it last served; the CLI builds one per call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from gis.lookup import LEVEL_NAMES, PreparedVisible
from store import coverage as store_cov
from store.scope import Scope

MAX_BATCH_POINTS = 100_000
"""The most points one batch may hold (HTTP and CLI)."""


class WhichCamerasError(ValueError):
    """A batch that cannot be answered (no run, bad coordinates, too many points)."""


@dataclass
class VisibleIndex:
    """One run's visible polygons and camera positions (EPSG:4326) prepared for lookups."""

    run_id: int
    prepared: PreparedVisible
    store_id: np.ndarray  # per camera code: the cameras table id, or None (what-if cameras)
    name: np.ndarray  # per camera code: the camera's name, or None
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
        return cls.build(rid, visible, cameras, time.perf_counter() - t)

    @classmethod
    def build(cls, run_id: int, visible: pd.DataFrame, cameras: pd.DataFrame,
              read_s: float = 0.0) -> VisibleIndex:  # fmt: skip
        """From a run's visible polygons (camera_id = device id, level, geometry) and the
        stored cameras (camera_id, store_id, name, geometry), EPSG:4326."""
        t = time.perf_counter()
        prepared = PreparedVisible.build(visible, cameras)
        meta = cameras.drop_duplicates("camera_id").set_index("camera_id")
        ids = pd.Index(prepared.camera_ids)
        store_id = meta["store_id"].reindex(ids).to_numpy(dtype=object)
        names = meta["name"].reindex(ids).to_numpy(dtype=object)
        store_id = np.array([None if pd.isna(v) else int(v) for v in store_id], dtype=object)
        names = np.array([None if pd.isna(v) else str(v) for v in names], dtype=object)
        return cls(run_id, prepared, store_id, names, read_s + time.perf_counter() - t)

    def in_scope(self, device_ids: Iterable[str], whole_city: bool) -> np.ndarray:
        """Per camera code, whether the camera is one of ``device_ids`` (the stored cameras of
        a scope); what-if cameras (no stored camera) only for the whole city, as in
        :func:`store.coverage.cameras_seeing`."""
        allowed = np.isin(self.prepared.camera_ids, np.asarray(list(device_ids), dtype=object))
        if whole_city:
            allowed |= np.array([s is None for s in self.store_id], dtype=bool)
        return np.asarray(allowed, dtype=bool)

    def lookup(
        self, lon: np.ndarray, lat: np.ndarray, allowed: np.ndarray | None = None
    ) -> pd.DataFrame:
        """Every (point, camera) where the camera sees the point, best DORI level first,
        then nearest: ``point``, ``device_id``, ``camera_id`` (store id, None for what-if
        cameras), ``name``, ``dori_level``, ``distance_m`` (geodesic metres).

        ``allowed`` (per camera code, from :meth:`in_scope`) keeps only those cameras."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        check_points(lon, lat)
        m = self.prepared.match(np.asarray(shapely.points(lon, lat), dtype=object))
        keep = slice(None) if allowed is None else allowed[m.camera]
        cam = m.camera[keep]
        return pd.DataFrame({
            "point": m.point_index[keep].astype(np.int64),
            "device_id": self.prepared.camera_ids[cam],
            "camera_id": self.store_id[cam],
            "name": self.name[cam],
            "dori_level": LEVEL_NAMES[m.rank[keep]],
            "distance_m": np.round(m.distance_m[keep], 2),
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


SCOPE_TTL_S = 60.0
"""How long the cameras of a scope are reused for filtering batches (a camera moved to another
jurisdiction or given another access level is filtered accordingly after at most this)."""


class IndexCache:
    """The index of the newest run asked for, reloaded when a newer run is finished, and per
    (run, scope) which of its cameras the scope may see.

    Thread-safe: one loader at a time; callers of a run being loaded wait for it.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._index: VisibleIndex | None = None
        self._allowed: dict[tuple[int, Scope], tuple[float, np.ndarray]] = {}
        self.scope_queries = 0  # how often the cameras of a scope were read (tests)

    def allowed(self, index: VisibleIndex, scope: Scope) -> np.ndarray:
        """Per camera code of ``index``, whether ``scope`` may see it (read once per
        :data:`SCOPE_TTL_S` per run and scope)."""
        key = (index.run_id, scope)
        now = time.monotonic()
        with self._lock:
            hit = self._allowed.get(key)
            if hit is not None and now - hit[0] < SCOPE_TTL_S:
                return hit[1]
            with self._engine.connect() as conn:
                ids = store_cov.device_ids_in_scope(conn, scope)
            self.scope_queries += 1
            mask = index.in_scope(ids, scope.whole_city)
            if len(self._allowed) >= 256:
                self._allowed.clear()
            self._allowed[key] = (now, mask)
            return mask

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
