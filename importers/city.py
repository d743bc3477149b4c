"""Load a city into the store: an OSM extract (any .osm.pbf) and the seeded demo inventory.

Each load is one transaction: on any error nothing of it is written.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine, delete, select

from gis.crs import metric_crs_for
from gis.gb28181 import make_device_id, parse_device_id
from importers import demo, osm
from importers.jurisdictions import jurisdictions_from_boundaries
from store import load as store_load
from store.models import (
    Alarm,
    AlarmPoint,
    Building,
    Camera,
    Checkpoint,
    KeyArea,
    Road,
)
from store.queries import row_counts

log = logging.getLogger(__name__)

DEMO_LOAD_NAME = "demo-city"
OSM_LOAD_NAME = "osm"


@dataclass
class LoadReport:
    """What a load did: rows written per table, whether it was skipped, and timings in seconds."""

    name: str
    source: str
    skipped: bool
    rows: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def file_sha256(*paths: Path) -> str:
    """SHA-256 over the bytes of the given files, in order."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()


def _timed(timings: dict[str, float], key: str, fn: Callable[[], object]) -> object:
    t0 = time.perf_counter()
    out = fn()
    timings[key] = round(time.perf_counter() - t0, 3)
    return out


def _write_base_geography(conn: Connection, extract: osm.OsmExtract) -> dict[str, int]:
    """Replace buildings and roads with the extract's."""
    conn.execute(Checkpoint.__table__.update().values(road_id=None))
    conn.execute(delete(Building))
    conn.execute(delete(Road))
    b = store_load.insert_frame(conn, Building, extract.buildings)
    r = store_load.insert_frame(conn, Road, extract.roads)
    return {"buildings": len(b), "roads": len(r)}


def load_demo(
    engine: Engine,
    osm_file: Path,
    seed: int,
    *,
    force: bool = False,
    progress: Callable[[str], None] = log.info,
) -> LoadReport:
    """Load the demo city: the real OSM extract plus the seeded synthetic inventory.

    Skips the work when the store already holds a load of the same file, seed and generator
    (compared by checksum), unless ``force``.
    """
    osm_file = Path(osm_file)
    if not osm_file.exists():
        raise osm.OsmImportError(f"{osm_file}: OSM file not found")
    sha = file_sha256(osm_file, Path(demo.__file__), Path(osm.__file__))
    params = {"seed": seed, "osm_file": osm_file.name}
    report = LoadReport(name=DEMO_LOAD_NAME, source=str(osm_file), skipped=False)
    with engine.connect() as conn:
        previous = store_load.last_load(conn, DEMO_LOAD_NAME)
    if (
        not force
        and previous is not None
        and previous.source_sha256 == sha
        and previous.parameters == params
    ):
        report.skipped = True
        report.rows = dict(previous.row_counts)
        return report

    progress(f"reading {osm_file.name}")
    extract = _timed(report.timings_s, "read_osm", lambda: osm.read_osm(osm_file))
    assert isinstance(extract, osm.OsmExtract)
    report.notes.extend(extract.issues)
    progress(f"generating the synthetic inventory (seed {seed})")
    inv = _timed(report.timings_s, "build_demo", lambda: demo.build_demo(extract, seed=seed))
    assert isinstance(inv, demo.DemoInventory)

    progress("writing to the store (one transaction)")
    t0 = time.perf_counter()
    with engine.begin() as conn:
        store_load.delete_by_source(
            conn, (Alarm, AlarmPoint, KeyArea, Checkpoint, Camera), ["osm", "demo"]
        )
        report.rows.update(_write_base_geography(conn, extract))
        store_load.replace_jurisdictions(conn, inv.jurisdictions)
        report.rows["jurisdictions"] = len(inv.jurisdictions)
        report.rows["cameras"] = len(store_load.insert_frame(conn, Camera, inv.cameras))
        road_ids = _road_ids(conn)
        checkpoints = inv.checkpoints.copy()
        checkpoints["road_id"] = [road_ids.get(o) for o in checkpoints.pop("road_osm_id")]
        report.rows["checkpoints"] = len(store_load.insert_frame(conn, Checkpoint, checkpoints))
        report.rows["key_areas"] = len(store_load.insert_frame(conn, KeyArea, inv.key_areas))
        ap_ids = store_load.insert_frame(conn, AlarmPoint, inv.alarm_points)
        code_to_id = dict(zip(inv.alarm_points["code"], ap_ids, strict=True))
        alarms = inv.alarms.copy()
        alarms["alarm_point_id"] = [
            code_to_id.get(c) if c is not None else None for c in alarms.pop("alarm_point_code")
        ]
        report.rows["alarm_points"] = len(ap_ids)
        report.rows["alarms"] = len(store_load.insert_frame(conn, Alarm, alarms))
        store_load.assign_jurisdictions(conn)
        store_load.record_load(conn, DEMO_LOAD_NAME, str(osm_file), sha, params, report.rows)
    report.timings_s["write"] = round(time.perf_counter() - t0, 3)
    return report


def osm_camera_frame(
    cameras: gpd.GeoDataFrame, centre_code: str, existing: dict[str, str]
) -> gpd.GeoDataFrame:
    """OSM surveillance cameras as `cameras` rows, with stable GB/T 28181 device ids.

    A camera whose OSM id is in ``existing`` (osm_id -> device_id) keeps its device id; new
    ones get the next free serials after the highest one in use. Lens, tilt and mount height
    stay unknown unless OSM says: nothing is invented for a real import.
    """
    used = {int(d[-6:]) for d in existing.values()}
    next_serial = max(used, default=0) + 1
    rows = []
    for cam in cameras.itertuples(index=False):
        device_id = existing.get(cam.osm_id)
        if device_id is None:
            device_id = make_device_id(centre_code, "00", "132", 0, next_serial)
            next_serial += 1
        azimuth = float(cam.azimuth_deg)
        has_azimuth = math.isfinite(azimuth)
        height = float(cam.mount_height_m) if pd.notna(cam.mount_height_m) else None
        rows.append(
            {
                "device_id": device_id,
                "name": str(cam.tags.get("name") or f"OSM camera {cam.osm_id}"),
                "kind": "community" if cam.zone == "building" else "road",
                "camera_type": cam.camera_type,
                "mount": cam.mount,
                "mount_height_m": height,
                "azimuth_deg": azimuth if has_azimuth else None,
                "any_direction": not has_azimuth
                and cam.camera_type in ("dome", "ptz", "panoramic"),
                "status": "unknown",
                "source": "osm",
                "attributes": {"osm_id": cam.osm_id, "osm_tags": dict(cam.tags)},
                "geometry": cam.geometry,
            }
        )
    return (
        gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
        if rows
        else gpd.GeoDataFrame({"device_id": []}, geometry=gpd.GeoSeries([], crs=4326))
    )


def load_osm(
    engine: Engine,
    osm_file: Path,
    *,
    centre_code: str = "99010000",
    jurisdictions: bool = True,
    progress: Callable[[str], None] = log.info,
) -> LoadReport:
    """Import any OSM extract: buildings, drivable roads, cameras and (optionally) boundaries.

    Buildings and roads replace the stored ones; OSM cameras are synchronised (same OSM node,
    same device id); with ``jurisdictions`` the city and its districts replace the stored
    jurisdictions (codes derived from ``centre_code``). One transaction.
    """
    parse_device_id(make_device_id(centre_code, "00", "132", 0, 1))  # validates centre_code
    osm_file = Path(osm_file)
    report = LoadReport(name=OSM_LOAD_NAME, source=str(osm_file), skipped=False)
    progress(f"reading {osm_file.name}")
    extract = _timed(report.timings_s, "read_osm", lambda: osm.read_osm(osm_file))
    assert isinstance(extract, osm.OsmExtract)
    report.notes.extend(extract.issues)
    jur = None
    if jurisdictions:
        metric = metric_crs_for(extract.boundaries) if len(extract.boundaries) else None
        if metric is None:
            report.notes.append("no administrative boundaries: jurisdictions left unchanged")
        else:
            name = _city_name(extract)
            jur_m, _ = jurisdictions_from_boundaries(
                extract.boundaries.to_crs(metric),
                city_code=centre_code[:4] + "00",
                city_name=name,
                stations=False,
            )
            jur = jur_m.to_crs(4326)
    t0 = time.perf_counter()
    progress("writing to the store (one transaction)")
    with engine.begin() as conn:
        existing = {
            str(r.osm_id): str(r.device_id)
            for r in conn.execute(
                select(Camera.attributes["osm_id"].astext.label("osm_id"), Camera.device_id).where(
                    Camera.source == "osm"
                )
            )
        }
        cams = osm_camera_frame(extract.cameras, centre_code, existing)
        store_load.delete_by_source(conn, (Camera,), ["osm"])
        report.rows.update(_write_base_geography(conn, extract))
        report.rows["cameras"] = len(store_load.insert_frame(conn, Camera, cams))
        if jur is not None:
            store_load.replace_jurisdictions(conn, jur)
            report.rows["jurisdictions"] = len(jur)
        store_load.assign_jurisdictions(conn)
        store_load.record_load(
            conn, OSM_LOAD_NAME, str(osm_file), file_sha256(osm_file),
            {"centre_code": centre_code, "jurisdictions": jurisdictions}, report.rows,
        )  # fmt: skip
    report.timings_s["write"] = round(time.perf_counter() - t0, 3)
    return report


def _city_name(extract: osm.OsmExtract) -> str:
    b = extract.boundaries
    top = b[b["admin_level"] == b["admin_level"].min()]
    names = top["name"].dropna()
    if len(names) == 1 and len(top) == 1:
        return str(names.iloc[0])
    return extract.source.name.split(".")[0].title()


def _road_ids(conn: Connection) -> dict[str, int]:
    rows = conn.execute(Road.__table__.select().with_only_columns(Road.osm_id, Road.id))
    return {str(r.osm_id): int(r.id) for r in rows}


def store_summary(engine: Engine) -> dict[str, int]:
    """Row counts per table (for reports and the closing note)."""
    return row_counts(engine)
