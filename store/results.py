"""SQL of analysis results as the HTTP API serves them: coverage runs (list, one run, its
assessment rows) and placement proposals, each limited to a principal's scope, and the checks
that keep a request's what-if or jurisdiction inside that scope."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from store.scope import Scope

_RUN = ("r.id, r.status, r.started_at, r.finished_at, r.parameters, r.results, "
        "r.timings, coalesce(r.parameters -> 'what_if', 'null'::jsonb) <> 'null'::jsonb "
        "AS what_if")  # fmt: skip


def list_runs(conn: Connection, *, before: int | None, limit: int) -> list[dict[str, Any]]:
    """Coverage runs, newest first, ids below ``before`` (keyset)."""
    rows = conn.execute(
        text(f"SELECT {_RUN} FROM coverage_runs r WHERE (CAST(:b AS integer) IS NULL "  # noqa: S608
             "OR r.id < :b) ORDER BY r.id DESC LIMIT :n"),
        {"b": before, "n": limit},
    ).all()  # fmt: skip
    return [dict(r._mapping) for r in rows]


def get_run(conn: Connection, run_id: int) -> dict[str, Any] | None:
    row = conn.execute(text(f"SELECT {_RUN} FROM coverage_runs r WHERE r.id = :i"),  # noqa: S608
                       {"i": run_id}).first()  # fmt: skip
    return None if row is None else dict(row._mapping)


def _stats_in_scope(scope: Scope) -> str:
    """Assessment rows a scope may read: its jurisdictions' rows, its key areas' rows; the
    per-class rows (city-wide sums) only for the whole city."""
    if scope.whole_city:
        return "TRUE"
    return ("((s.scope = 'jurisdiction' AND s.area_key IN (SELECT code FROM jurisdictions "
            "WHERE id = ANY(:scope_jids))) OR (s.scope = 'key_area' AND s.area_key IN "
            "(SELECT id::text FROM key_areas WHERE jurisdiction_id = ANY(:scope_jids))))")


def assessment_page(conn: Connection, run_id: int, scope: Scope, *, after: int | None,
                    limit: int, kind: str | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """Assessment rows of a run in ``scope`` (``kind``: key_area, key_area_class or
    jurisdiction; None all), by id, ids above ``after`` (keyset)."""
    rows = conn.execute(
        text("SELECT s.id, s.scope, s.area_key, s.area_name, s.level, s.area_m2, "  # noqa: S608
             "s.covered_m2, s.covered_pct, s.open_area_m2, s.open_covered_m2, "
             f"s.open_covered_pct FROM coverage_stats s WHERE s.run_id = :r AND "
             f"{_stats_in_scope(scope)} AND (CAST(:k AS text) IS NULL OR s.scope = :k) "
             "AND (CAST(:a AS integer) IS NULL OR s.id > :a) ORDER BY s.id LIMIT :n"),
        {"r": run_id, "k": kind, "a": after, "n": limit, **scope.params()},
    ).all()  # fmt: skip
    return [dict(r._mapping) for r in rows]


def codes_in_scope(conn: Connection, scope: Scope) -> set[str] | None:
    """Codes of the scope's jurisdictions (None: the whole city)."""
    if scope.whole_city:
        return None
    return set(conn.execute(text("SELECT code FROM jurisdictions WHERE id = ANY(:scope_jids)"),
                            scope.params()).scalars())  # fmt: skip


def jurisdiction_known(conn: Connection, code: str) -> bool:
    return conn.execute(text("SELECT 1 FROM jurisdictions WHERE code = :c"),
                        {"c": code}).first() is not None  # fmt: skip


def cameras_in_scope(conn: Connection, device_ids: Sequence[str], scope: Scope) -> set[str]:
    """Which of ``device_ids`` are stored cameras the scope may see."""
    where = scope.devices("c", camera=True)
    return set(conn.execute(
        text(f"SELECT device_id FROM cameras c WHERE device_id = ANY(:d) AND {where}"),  # noqa: S608
        {"d": list(device_ids), **scope.params()},
    ).scalars())  # fmt: skip


def points_in_scope(conn: Connection, points: Sequence[tuple[float, float]],
                    scope: Scope) -> list[bool]:  # fmt: skip
    """For each lon/lat (EPSG:4326): whether it lies inside the scope's unit."""
    if scope.whole_city or not points:
        return [True] * len(points)
    rows = conn.execute(
        text("SELECT p.i, EXISTS (SELECT 1 FROM jurisdictions j WHERE j.id = :scope_root AND "
             "ST_Covers(j.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))) AS inside "
             "FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY "
             "AS p(x, y, i) ORDER BY p.i"),
        {"xs": [float(p[0]) for p in points], "ys": [float(p[1]) for p in points],
         **scope.params()},
    ).all()  # fmt: skip
    return [bool(r.inside) for r in rows]


def get_proposal(conn: Connection, proposal_id: int, scope: Scope) -> dict[str, Any] | None:
    """A placement proposal with its sites in ``scope`` (rank order, lon/lat), or None when the
    scope may not see it: a district sees proposals for its units and city-wide ones, and of
    either only the sites inside its units."""
    codes = codes_in_scope(conn, scope)
    row = conn.execute(
        text("SELECT id, created_at, coverage_run_id, jurisdiction_code, budget, method, "
             "solver_status, gap, status, parameters, results FROM placement_proposals "
             "WHERE id = :p"),
        {"p": proposal_id},
    ).first()  # fmt: skip
    if row is None:
        return None
    out = dict(row._mapping)
    if codes is not None and out["jurisdiction_code"] is not None \
            and out["jurisdiction_code"] not in codes:  # fmt: skip
        return None
    sites = conn.execute(
        text("SELECT id, rank, config_id, site_kind, source_id, jurisdiction_code, "
             "mount_height_m, azimuth_deg, tilt_deg, lens_model, focal_length_mm, hfov_deg, "
             "gain_m2, gain_road_m, gain_entries, gain_weight, accepted_camera_id, "
             "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM placement_sites WHERE proposal_id = :p "
             "AND (CAST(:codes AS text[]) IS NULL OR jurisdiction_code = ANY(:codes)) "
             "ORDER BY rank"),
        {"p": proposal_id, "codes": None if codes is None else sorted(codes)},
    ).all()  # fmt: skip
    out["sites"] = [dict(s._mapping) for s in sites]
    return out
