"""SQL of placement: a coverage run's blind spots and road gaps as demand, proposals (write,
list, read) and accepting proposed sites into the camera inventory.

Writes happen in the caller's transaction, so a failed proposal or acceptance leaves nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
from sqlalchemy import Connection, text

from store.coverage import as_multi


class ProposalError(ValueError):
    """A proposal that does not exist or cannot be accepted as asked."""


def read_blind_spots(conn: Connection, run_id: int) -> gpd.GeoDataFrame:
    """Blind spots of a run with their key area's class and name (EPSG:4326)."""
    return gpd.read_postgis(
        text("SELECT b.key_area_id, b.dori_level, b.area_m2, k.area_class, k.name, "
             "k.jurisdiction_id, b.geom AS geometry FROM blind_spots b "
             "JOIN key_areas k ON k.id = b.key_area_id WHERE b.run_id = :r ORDER BY b.id"),
        conn, geom_col="geometry", crs=4326, params={"r": run_id},
    )  # fmt: skip


def read_road_gaps(
    conn: Connection, run_id: int, level: str
) -> dict[int, list[tuple[float, float]]]:
    """Road id -> uncovered [start, end] metres along the road at ``level`` in a run."""
    rows = conn.execute(
        text("SELECT road_id, gaps_m FROM road_coverage WHERE run_id = :r AND level = :l"),
        {"r": run_id, "l": level},
    ).all()
    return {int(r.road_id): [(float(a), float(b)) for a, b in r.gaps_m] for r in rows}


def run_info(conn: Connection, run_id: int) -> dict[str, Any]:
    """A coverage run's parameters and whether the camera inventory changed after it."""
    row = conn.execute(
        text("SELECT r.parameters, r.finished_at, "
             "(SELECT max(updated_at) FROM cameras) > r.started_at AS stale "
             "FROM coverage_runs r WHERE r.id = :r"),
        {"r": run_id},
    ).one()  # fmt: skip
    return {"parameters": dict(row.parameters or {}), "finished_at": row.finished_at,
            "stale": bool(row.stale)}  # fmt: skip


def write_proposal(conn: Connection, proposal: dict[str, Any], sites: gpd.GeoDataFrame) -> int:
    """Insert a proposal and its sites (EPSG:4326 ``geometry`` points, ``view_geom``)."""
    pid = int(conn.execute(
        text("INSERT INTO placement_proposals (coverage_run_id, jurisdiction_code, budget, "
             "method, solver_status, gap, parameters, results) VALUES (:run, :jur, :budget, "
             ":method, :status, :gap, :params, :results) RETURNING id"),
        {"run": proposal["coverage_run_id"], "jur": proposal.get("jurisdiction_code"),
         "budget": int(proposal["budget"]), "method": proposal["method"],
         "status": proposal["solver_status"], "gap": float(proposal["gap"]),
         "params": json.dumps(proposal.get("parameters", {}), default=str),
         "results": json.dumps(proposal.get("results", {}), default=str)},
    ).scalar_one())  # fmt: skip
    if len(sites):
        views = as_multi(sites["view_geom"].to_numpy())
        cols = ("rank", "config_id", "site_kind", "source_id", "jurisdiction_code",
                "mount_height_m", "azimuth_deg", "tilt_deg", "lens_model", "sensor_width_mm",
                "sensor_height_mm", "focal_length_mm", "hfov_deg", "resolution_w_px",
                "resolution_h_px", "gain_weight", "gain_m2", "gain_road_m", "gain_entries")
        rows = []
        for i, rec in enumerate(sites[list(cols)].to_dict(orient="records")):
            rec = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()}
            rec.update(pid=pid, geom=sites.geometry.iloc[i].wkt, view=views[i].wkt)
            rows.append(rec)
        conn.execute(
            text(f"INSERT INTO placement_sites (proposal_id, {', '.join(cols)}, geom, view_geom) "
                 f"VALUES (:pid, {', '.join(':' + c for c in cols)}, "
                 "ST_GeomFromText(:geom, 4326), ST_GeomFromText(:view, 4326))"),
            rows,
        )  # fmt: skip
    return pid


def list_proposals(conn: Connection) -> list[dict[str, Any]]:
    """Every proposal, newest first, with its headline figures."""
    rows = conn.execute(
        text("SELECT p.id, p.created_at, p.coverage_run_id, p.jurisdiction_code, p.budget, "
             "p.method, p.solver_status, p.gap, p.status, p.results->'figures' AS figures, "
             "count(s.id) AS sites, count(s.accepted_camera_id) AS accepted "
             "FROM placement_proposals p LEFT JOIN placement_sites s ON s.proposal_id = p.id "
             "GROUP BY p.id ORDER BY p.id DESC"),
    ).all()  # fmt: skip
    return [dict(r._mapping) for r in rows]


def read_sites(conn: Connection, proposal_id: int) -> gpd.GeoDataFrame:
    """The sites of a proposal in rank order (EPSG:4326 points; ``view_geom`` as WKB)."""
    exists = conn.execute(text("SELECT 1 FROM placement_proposals WHERE id = :p"),
                          {"p": proposal_id}).scalar()  # fmt: skip
    if exists is None:
        raise ProposalError(f"no placement proposal {proposal_id}; see `sightline placement list`")
    return gpd.read_postgis(
        text("SELECT s.*, s.geom AS geometry, ST_AsBinary(s.view_geom) AS view_wkb "
             "FROM placement_sites s WHERE s.proposal_id = :p ORDER BY s.rank"),
        conn, geom_col="geometry", crs=4326, params={"p": proposal_id},
    ).drop(columns=["geom", "view_geom"])  # fmt: skip


def latest_sites(conn: Connection) -> gpd.GeoDataFrame:
    """Sites of the newest proposal, for the console (empty frame when there is none)."""
    pid = conn.execute(text("SELECT max(id) FROM placement_proposals")).scalar()
    if pid is None:
        return gpd.GeoDataFrame({"rank": []}, geometry=gpd.GeoSeries([], crs=4326))
    return read_sites(conn, int(pid))


def jurisdiction_at(conn: Connection, lon: float, lat: float) -> dict[str, Any] | None:
    """The deepest jurisdiction covering a point: id, code, admin_code, level."""
    row = conn.execute(
        text("SELECT id, code, admin_code, level FROM jurisdictions "
             "WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) "
             "ORDER BY CASE level WHEN 'station' THEN 0 WHEN 'district' THEN 1 ELSE 2 END "
             "LIMIT 1"),
        {"x": lon, "y": lat},
    ).first()  # fmt: skip
    return None if row is None else dict(row._mapping)


def max_serial(conn: Connection, prefix: str) -> int:
    """Largest 6-digit serial of camera/checkpoint device ids starting with the 14-digit prefix."""
    value = conn.execute(
        text("SELECT max(substr(device_id, 15)::int) FROM (SELECT device_id FROM cameras "
             "UNION ALL SELECT device_id FROM checkpoints) d WHERE left(device_id, 14) = :p"),
        {"p": prefix},
    ).scalar()  # fmt: skip
    return 0 if value is None else int(value)


def insert_camera(conn: Connection, row: dict[str, Any]) -> int:
    """Insert one camera (``lon``/``lat`` in EPSG:4326, other keys are columns); its id."""
    cols = [k for k in row if k not in ("lon", "lat")]
    values = {k: (json.dumps(v) if k in ("attributes", "ptz_presets") else v)
              for k, v in row.items()}  # fmt: skip
    return int(conn.execute(
        text(f"INSERT INTO cameras ({', '.join(cols)}, geom) VALUES "
             f"({', '.join(':' + c for c in cols)}, "
             "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"),
        values,
    ).scalar_one())  # fmt: skip


def mark_accepted(conn: Connection, proposal_id: int, site_ids: Sequence[int],
                  camera_ids: Sequence[int]) -> str:
    """Link accepted sites to their new cameras and update the proposal's status."""
    conn.execute(
        text("UPDATE placement_sites SET accepted_camera_id = :c WHERE id = :s"),
        [{"c": c, "s": s} for s, c in zip(site_ids, camera_ids, strict=True)],
    )
    status = str(conn.execute(
        text("UPDATE placement_proposals SET status = CASE WHEN (SELECT bool_and("
             "accepted_camera_id IS NOT NULL) FROM placement_sites WHERE proposal_id = :p) "
             "THEN 'accepted' ELSE 'partly_accepted' END WHERE id = :p RETURNING status"),
        {"p": proposal_id},
    ).scalar_one())  # fmt: skip
    return status
