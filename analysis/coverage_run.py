"""A coverage run: read the city from PostGIS, compute in its metric CRS, write results back.

Steps: cameras -> facade placement -> DORI sectors (meridian convergence applied) -> occlusion
by buildings -> union per level -> blind spots of key areas -> assessment table (key areas,
key-area classes, jurisdictions) -> road coverage -> entry-road checkpoint completeness ->
effectiveness against past alarms. All results of one run are written in one transaction.
A what-if run changes cameras (add / move / remove) in memory only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from gis import coverage as gcov
from gis import fov, occlusion, reproject, roads
from gis.crs import metric_crs_for, true_to_grid_azimuth_deg
from store import audit
from store import coverage as store_cov
from store import load as store_load
from store.scope import Principal, cli_principal

Progress = Callable[[str], None]

PHASES: tuple[tuple[str, float], ...] = (
    ("read", 6.0), ("facades", 0.5), ("sectors", 1.5), ("occlusion", 12.0), ("union", 14.0),
    ("blind_spots", 6.0), ("assessment", 2.0), ("roads", 6.0), ("effectiveness", 0.5),
    ("write", 40.0),
)  # fmt: skip
"""The phases a run reports to ``progress``, in order, with their typical share of a run's
time (seconds on the 100k-camera benchmark city) for progress bars."""


class WhatIfError(ValueError):
    """A what-if file that cannot be applied (unknown device, bad coordinates ...)."""


@dataclass
class RunReport:
    """What a coverage run computed: ids, timings (s), assumptions and headline figures."""

    run_id: int | None
    crs: str
    timings_s: dict[str, float] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    assessment: pd.DataFrame | None = None
    blind_spots: gpd.GeoDataFrame | None = None
    road_summary: pd.DataFrame | None = None
    completeness: gpd.GeoDataFrame | None = None
    effectiveness: pd.DataFrame | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "crs": self.crs,
            "timings_s": self.timings_s,
            "assumptions": self.assumptions,
            "totals": self.totals,
        }


def load_what_if(path: Path) -> dict[str, Any]:
    """Read a what-if file: {"add": [camera...], "move": {device_id: {...}}, "remove": [id]}.

    Added cameras need device_id, lon, lat and may give azimuth_deg, tilt_deg,
    mount_height_m, focal_length_mm, sensor_width_mm, resolution_w_px, hfov_deg ...; moves
    give any of lon, lat, azimuth_deg, tilt_deg, mount_height_m.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WhatIfError(f"{path}: cannot read the what-if file: {exc}") from exc
    if not isinstance(data, dict) or set(data) - {"add", "move", "remove"}:
        raise WhatIfError(f'{path}: expected an object with "add", "move" and/or "remove"')
    return data


def apply_what_if(cameras: gpd.GeoDataFrame, what_if: Mapping[str, Any]) -> gpd.GeoDataFrame:
    """Cameras (EPSG:4326) with the what-if changes applied; the store is not touched."""
    cams = cameras.copy()
    known = set(cams["device_id"])
    remove = set(what_if.get("remove", []))
    missing = sorted(remove - known)
    if missing:
        raise WhatIfError(f"remove: unknown device id(s) {', '.join(missing[:5])}")
    cams = cams[~cams["device_id"].isin(remove)]
    for device_id, change in dict(what_if.get("move", {})).items():
        hit = cams.index[cams["device_id"] == device_id]
        if len(hit) == 0:
            raise WhatIfError(f"move: unknown device id {device_id}")
        i = hit[0]
        for key, value in change.items():
            if key in ("lon", "lat"):
                continue
            if key not in cams.columns:
                raise WhatIfError(f"move {device_id}: unknown field {key}")
            cams.at[i, key] = value
        if "lon" in change or "lat" in change:
            old = cams.at[i, "geometry"]
            cams.at[i, "geometry"] = shapely.Point(change.get("lon", old.x),
                                                   change.get("lat", old.y))  # fmt: skip
    added = []
    for n, cam in enumerate(what_if.get("add", []), start=1):
        if not {"device_id", "lon", "lat"} <= set(cam):
            raise WhatIfError(f"add #{n}: needs device_id, lon and lat")
        row = {k: v for k, v in cam.items() if k not in ("lon", "lat")}
        row["geometry"] = shapely.Point(float(cam["lon"]), float(cam["lat"]))
        row.setdefault("id", None)
        row.setdefault("ptz_presets", [])
        row.setdefault("any_direction", False)
        row.setdefault("camera_type", "fixed")
        added.append(row)
    if added:
        extra = gpd.GeoDataFrame(added, geometry="geometry", crs=4326)
        cams = pd.concat([cams, extra], ignore_index=True)
    return gpd.GeoDataFrame(cams, geometry="geometry", crs=4326).reset_index(drop=True)


def _step(report: RunReport, name: str, progress: Progress | None) -> Callable[[], None]:
    if progress is not None:
        progress(name)
    t0 = time.perf_counter()

    def done() -> None:
        report.timings_s[name] = round(time.perf_counter() - t0, 3)

    return done


def run_coverage(
    engine: Engine,
    *,
    what_if: Mapping[str, Any] | None = None,
    target_height_m: float = 0.0,
    unknown_azimuth: str = "skip",
    workers: int = 1,
    save: bool = True,
    progress: Progress | None = None,
    principal: Principal | None = None,
) -> RunReport:
    """Compute coverage for the stored city and (unless ``save`` is False) store the results.

    Parameters
    ----------
    what_if
        Camera changes applied in memory (see :func:`load_what_if`); the results are stored
        as a run of their own, the inventory is not changed.
    target_height_m
        Height of the target plane in metres (0 ground, 1.6 faces).
    unknown_azimuth
        "skip" cameras without azimuth (reported) or assume a full "ring".
    principal
        Who started the run, for the audit log (None: the operator, ``cli:<os user>``); a
        stored run is one ``coverage.run`` entry, written with the run.
    workers
        Processes for occlusion and unions (results are identical for any number).
    """
    t_all = time.perf_counter()
    if progress is not None:
        progress("read")
    with engine.connect() as conn:
        inputs = store_cov.read_inputs(conn)
        alarms = store_cov.alarms_since(conn)
    cams = inputs["cameras"]
    if what_if:
        cams = apply_what_if(cams, what_if)
    crs = metric_crs_for(inputs["jurisdictions"] if len(inputs["jurisdictions"]) else cams)
    report = RunReport(run_id=None, crs=crs.to_string())
    report.timings_s["read"] = round(time.perf_counter() - t_all, 3)

    m = {k: v.to_crs(crs) for k, v in inputs.items()}
    cams_m = cams.to_crs(crs).rename(columns={"id": "store_id"})
    cams_m["camera_id"] = cams_m["device_id"]

    done = _step(report, "facades", progress)
    grid = cams_m.copy()
    grid["azimuth_deg"] = true_to_grid_azimuth_deg(
        crs, grid.geometry.x.to_numpy(), grid.geometry.y.to_numpy(),
        grid["azimuth_deg"].to_numpy(dtype=float),
    )  # fmt: skip
    buildings = m["buildings"]
    moved, n_moved = occlusion.place_facade_cameras(grid, buildings)
    cams_m = cams_m.set_geometry(moved.geometry.to_numpy())
    cams_m = cams_m.set_crs(crs, allow_override=True)
    report.assumptions.append(f"{n_moved} camera(s) on or inside a building moved 0.4 m out")
    done()

    done = _step(report, "sectors", progress)
    sectors, notes = fov.camera_sectors(
        cams_m, target_height_m=target_height_m, unknown_azimuth=unknown_azimuth
    )  # type: ignore[arg-type]
    report.assumptions.extend(notes)
    done()

    done = _step(report, "occlusion", progress)
    visible = occlusion.visible_polygons(
        sectors, cams_m, buildings, target_height_m=target_height_m, workers=workers
    )
    done()

    done = _step(report, "union", progress)
    levels = gcov.coverage_by_level(visible, workers=workers)
    done()

    done = _step(report, "blind_spots", progress)
    key_areas = m["key_areas"].rename(columns={"id": "key_area_id"})
    # each big geometry cut into small pieces once, for all the overlays below
    level_pieces = gcov.coverage_pieces(levels)
    bld_pieces = gcov.building_pieces(buildings, workers=workers)
    blind = gcov.blind_spots(key_areas, level_pieces, buildings=bld_pieces)
    done()

    done = _step(report, "assessment", progress)
    tables = []
    ka = key_areas.assign(area_id=key_areas["key_area_id"].astype(str))
    t = gcov.coverage_stats(ka[["area_id", "geometry"]], level_pieces, buildings=bld_pieces,
                            coverage_excludes_buildings=True)
    names = dict(zip(ka["area_id"], ka["name"], strict=True))
    tables.append(t.assign(scope="key_area", area_name=t["area_id"].map(names)))
    by_class = ka.dissolve(by="area_class", as_index=False)[["area_class", "geometry"]]
    t = gcov.coverage_stats(by_class.rename(columns={"area_class": "area_id"}), level_pieces,
                            buildings=bld_pieces, coverage_excludes_buildings=True)  # fmt: skip
    tables.append(t.assign(scope="key_area_class", area_name=t["area_id"]))
    jur = m["jurisdictions"]
    t = gcov.coverage_stats(jur.rename(columns={"code": "area_id"})[["area_id", "geometry"]],
                            level_pieces, buildings=bld_pieces,
                            coverage_excludes_buildings=True)  # fmt: skip
    jnames = dict(zip(jur["code"], jur["name"], strict=True))
    tables.append(t.assign(scope="jurisdiction", area_name=t["area_id"].map(jnames)))
    assessment = pd.concat(tables, ignore_index=True)
    report.assessment = assessment
    done()

    done = _step(report, "roads", progress)
    road_frame = m["roads"].rename(columns={"id": "road_id"})
    road_cov = roads.road_coverage(road_frame, visible)
    report.road_summary = roads.road_summary(road_cov, road_frame)
    city = jur[jur["level"] == "city"].union_all() if len(jur) else None
    if city is not None and not city.is_empty:
        entries = roads.entry_roads(road_frame, city)
        cps = m["checkpoints"].rename(columns={"id": "checkpoint_id"})
        # Only "in"/"out" say which way across the boundary a checkpoint watches; compass
        # bearings of internal checkpoints say nothing about that.
        cps["directions"] = [
            [d for d in (ds or []) if d in ("in", "out", "both")] for ds in cps["directions"]
        ]
        report.completeness = roads.checkpoint_completeness(entries, cps)
    done()

    done = _step(report, "effectiveness", progress)
    if len(alarms):
        eff = gcov.effectiveness(alarms.to_crs(crs), level_pieces, key_areas=key_areas)
        report.effectiveness = eff.table
    done()

    report.blind_spots = blind
    report.totals = {
        "cameras": int(len(cams_m)),
        "cameras_with_coverage": int(visible["camera_id"].nunique()),
        "covered_m2": {lv: round(float(g.area), 1) for lv, g in levels.items()},
        "blind_spot_m2": round(float(blind["area_m2"].sum()), 1) if len(blind) else 0.0,
        "entry_roads": int(len(report.completeness)) if report.completeness is not None else 0,
    }
    if report.completeness is not None and len(report.completeness):
        report.totals["entry_roads_by_status"] = (
            report.completeness["status"].value_counts().sort_index().to_dict()
        )
    report.timings_s["compute"] = round(time.perf_counter() - t_all, 3)
    if save:
        done = _step(report, "write", progress)
        report.run_id = _write(
            engine, report, cams_m, visible, levels, blind, assessment, road_cov, crs,
            what_if, target_height_m, unknown_azimuth, principal or cli_principal(),
        )  # fmt: skip
        done()
    report.timings_s["total"] = round(time.perf_counter() - t_all, 3)
    return report


def _to_wgs(geoms: Any, crs: Any) -> np.ndarray:
    """Metric geometries as EPSG:4326 (a polynomial fit checked against PROJ to 1 mm)."""
    return reproject.to_lonlat(geoms, crs, tolerance_m=0.001)[0]


def _write(engine: Engine, report: RunReport, cams_m: gpd.GeoDataFrame,
           visible: gpd.GeoDataFrame, levels: Mapping[str, Any], blind: gpd.GeoDataFrame,
           assessment: pd.DataFrame, road_cov: pd.DataFrame, crs: Any,
           what_if: Mapping[str, Any] | None, target_height_m: float,
           unknown_azimuth: str, principal: Principal) -> int:  # fmt: skip
    params = {"what_if": dict(what_if) if what_if else None, "target_height_m": target_height_m,
              "unknown_azimuth": unknown_azimuth, "crs": report.crs}  # fmt: skip
    store_ids = dict(zip(cams_m["camera_id"], cams_m["store_id"], strict=True))
    with engine.begin() as conn:
        run_id = store_cov.create_run(conn, params)
        vis_geoms = store_cov.as_multi(_to_wgs(visible.geometry.to_numpy(), crs))
        n_vis = len(visible)
        part = store_cov.run_partition(conn, "coverage_visible", run_id)
        store_load.copy_columns(conn, part, {
            "run_id": np.full(n_vis, run_id),
            "camera_id": [_int_or_none(store_ids.get(c)) for c in visible["camera_id"]],
            "camera_ref": visible["camera_id"].astype(str).to_numpy(),
            "level": visible["level"].astype(str).to_numpy(),
            "area_m2": shapely.area(visible.geometry.to_numpy()),
            "geom": vis_geoms,
        })  # fmt: skip
        store_cov.attach_partition(conn, "coverage_visible", run_id)
        lv_names = list(levels)
        store_load.copy_columns(conn, "coverage_levels", {
            "run_id": np.full(len(lv_names), run_id),
            "level": lv_names,
            "area_m2": np.array([float(levels[k].area) for k in lv_names]),
            "geom": store_cov.as_multi(_to_wgs([levels[k] for k in lv_names], crs)),
        })  # fmt: skip
        if len(blind):
            b_geoms = store_cov.as_multi(_to_wgs(blind.geometry.to_numpy(), crs))
            keep = ~shapely.is_empty(b_geoms)
            store_load.copy_columns(conn, "blind_spots", {
                "run_id": np.full(int(keep.sum()), run_id),
                "key_area_id": blind["key_area_id"].to_numpy(dtype=np.int64)[keep],
                "dori_level": blind["dori_level"].astype(str).to_numpy()[keep],
                "area_m2": blind["area_m2"].to_numpy(dtype=float)[keep],
                "geom": b_geoms[keep],
            })  # fmt: skip
        cols = ("scope", "area_id", "area_name", "level", "area_m2", "covered_m2",
                "covered_pct", "open_area_m2", "open_covered_m2", "open_covered_pct")  # fmt: skip
        stats = {("area_key" if c == "area_id" else c): assessment[c].to_numpy() for c in cols}
        stats["area_key"] = assessment["area_id"].astype(str).to_numpy()
        stats["area_name"] = assessment["area_name"].fillna("").astype(str).to_numpy()
        store_load.copy_columns(conn, "coverage_stats",
                                {"run_id": np.full(len(assessment), run_id), **stats})
        part = store_cov.run_partition(conn, "road_coverage", run_id)
        if len(road_cov):
            store_load.copy_columns(conn, part, {
                "run_id": np.full(len(road_cov), run_id),
                "road_id": road_cov["road_id"].to_numpy(dtype=np.int64),
                "level": road_cov["level"].astype(str).to_numpy(),
                "length_m": road_cov["length_m"].to_numpy(dtype=float),
                "covered_m": road_cov["covered_m"].to_numpy(dtype=float),
                "covered_pct": road_cov["covered_pct"].to_numpy(dtype=float),
                "gaps_m": [_gaps(r) for r in road_cov["uncovered_intervals"]],
            })  # fmt: skip
        store_cov.attach_partition(conn, "road_coverage", run_id)
        # fresh statistics for the planner: with the stale ones of an emptier table a
        # which-cameras join of many points can fall back to scanning every polygon
        store_cov.analyze_results(conn, run_id)
        results = dict(report.totals)
        results["assumptions"] = report.assumptions
        results["entry_roads_status"] = _entry_status(report.completeness)
        store_cov.finish_run(conn, run_id, report.timings_s, results)
        audit.record(conn, principal, "coverage.run", str(run_id),
                     details={"what_if": bool(what_if), "cameras": len(cams_m),
                              "target_height_m": target_height_m,
                              "unknown_azimuth": unknown_azimuth})  # fmt: skip
    return run_id


def _entry_status(completeness: gpd.GeoDataFrame | None) -> list[dict[str, Any]]:
    """Per entry-road crossing: road id, status, what is missing and the checkpoints, worst
    status last (so a road crossing the boundary twice reads as its worst crossing)."""
    if completeness is None or not len(completeness):
        return []
    worst = {"covered": 0, "partial": 1, "missing": 2}
    rows = [
        {"road_id": int(r.road_id), "status": str(r.status), "missing": str(r.missing),
         "checkpoint_ids": [int(c) for c in r.checkpoint_ids]}
        for r in completeness.itertuples(index=False)
    ]  # fmt: skip
    return sorted(rows, key=lambda d: (worst.get(d["status"], 0), d["road_id"]))


def _int_or_none(v: Any) -> int | None:
    try:
        return None if v is None or pd.isna(v) else int(v)
    except (TypeError, ValueError):
        return None


def _gaps(gaps: Any) -> list[list[float]]:
    """Uncovered [start, end] metres along the road, from gis.roads.road_coverage."""
    return [[round(float(a), 2), round(float(b), 2)] for a, b in np.asarray(gaps).reshape(-1, 2)]
