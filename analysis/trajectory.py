"""Trajectory queries: one object's sightings in a time window, routed on the road graph, with
flags and unseen corridors — for a case, audited.

:func:`query` is what the API and the CLI call. It needs the ``trajectory`` action, a case
reference and a purpose; every call, refused or answered, is one ``trajectory.query`` entry in
the audit log (in the caller's transaction for answers; refusals are returned, not raised, so
the caller commits their entry). The principal sees only sightings of devices in its scope.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import Connection

from gis import road_graph
from gis import trajectory as gtraj
from store import access, audit
from store import sightings as store_sightings
from store.scope import EVERYTHING, Principal

MAX_WINDOW = dt.timedelta(days=366)
MAX_PAGE = 5000
DEFAULT_PAGE = 1000
CORRIDOR_MIN_SLACK_S = 120.0


@dataclass(frozen=True)
class Refusal:
    """A query refused before it ran: the field to fix and why."""

    field: str
    detail: str


@dataclass
class Network:
    """The routing network of one coverage run: graph, device nodes, roads, watched roads."""

    key: tuple[Any, ...]
    graph: road_graph.RoadGraph
    device_nodes: dict[str, int]
    roads: dict[int, dict[str, Any]]
    covered_road_ids: set[int]
    run_id: int | None


_CACHE: dict[str, Network] = {}
_LOCK = threading.Lock()


def network(conn: Connection) -> Network:
    """The routing network for the store (cached per database until roads, devices or the
    latest coverage run change)."""
    key = store_sightings.network_key(conn)
    with _LOCK:
        cached = _CACHE.get(str(conn.engine.url) + str(key[-1]))
    if cached is not None and cached.key == key:
        return cached
    frames = store_sightings.network_frames(conn, EVERYTHING)
    rg = road_graph.build(frames.roads)
    nodes = road_graph.snap_devices(rg, frames.devices, frames.visible)
    rg.contract(set(nodes.values()))  # routes between device nodes on junctions only
    roads = {int(r.road_id): {"road_id": int(r.road_id), "name": r.name,
                              "road_class": r.road_class}
             for r in frames.roads.itertuples()}  # fmt: skip
    net = Network(key, rg, nodes, roads, frames.covered_road_ids, frames.run_id)
    with _LOCK:
        _CACHE[str(conn.engine.url) + str(key[-1])] = net
    return net


def _time(value: Any, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        t = value
    else:
        try:
            t = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"{name} must be an ISO 8601 time with its zone, e.g. "
                             "2026-11-01T00:00:00+08:00") from exc  # fmt: skip
    if t.tzinfo is None:
        raise ValueError(f"{name} has no zone: give its offset, e.g. +08:00 or Z")
    return t


def check_request(object_ref: str | None, start: Any, end: Any, case_ref: str | None,
                  purpose: str | None) -> Refusal | tuple[dt.datetime, dt.datetime]:  # fmt: skip
    """The window of a well-formed request, or why it is refused (the field named)."""
    if not (case_ref or "").strip():
        return Refusal("case_ref", "a case reference (case_ref) is required for every "
                       "trajectory query; it is written to the audit log")  # fmt: skip
    if not (purpose or "").strip():
        return Refusal("purpose", "a purpose is required for every trajectory query")
    if not (object_ref or "").strip():
        return Refusal("object_ref", "an object reference is required")
    if start is None or start == "":
        return Refusal("from", "the start of the window (from) is required")
    if end is None or end == "":
        return Refusal("to", "the end of the window (to) is required")
    try:
        t0 = _time(start, "from")
    except ValueError as exc:
        return Refusal("from", str(exc))
    try:
        t1 = _time(end, "to")
    except ValueError as exc:
        return Refusal("to", str(exc))
    if t1 <= t0:
        return Refusal("to", "the window ends before it starts")
    if t1 - t0 > MAX_WINDOW:
        return Refusal("to", f"the window is longer than {MAX_WINDOW.days} days")
    return t0, t1


def query(
    conn: Connection, principal: Principal, object_ref: str | None, start: Any, end: Any,
    case_ref: str | None, purpose: str | None, *, route: bool = True,
    limit: int = DEFAULT_PAGE, after: Any = None, max_speed_kmh: float = 150.0,
    long_gap_s: float = 900.0,
) -> dict[str, Any] | Refusal:  # fmt: skip
    """One object's trajectory in [start, end) for ``principal``; audited.

    Returns the result (see :func:`_result`) or a :class:`Refusal` (audited as refused).

    Raises
    ------
    store.access.AccessDenied
        When the principal's role may not query trajectories (nothing is audited here: the
        API and console log refusals of their own).
    """
    access.check(principal, "trajectory")
    checked = check_request(object_ref, start, end, case_ref, purpose)
    base = {"case_ref": (case_ref or "").strip(), "purpose": (purpose or "").strip(),
            "from": str(start), "to": str(end)}  # fmt: skip
    if isinstance(checked, Refusal):
        audit.record(conn, principal, "trajectory.query", (object_ref or "")[:200],
                     outcome="refused", details={**base, "field": checked.field,
                                                 "reason": checked.detail})  # fmt: skip
        return checked
    t0, t1 = checked
    ref = str(object_ref).strip()
    after_t = None
    if after not in (None, ""):
        try:
            after_t = _time(after, "after")
        except ValueError as exc:
            refusal = Refusal("after", str(exc))
            audit.record(conn, principal, "trajectory.query", ref, outcome="refused",
                         details={**base, "field": "after"})  # fmt: skip
            return refusal
    limit = max(1, min(int(limit), MAX_PAGE))
    rows = store_sightings.object_sightings(conn, principal.scope, ref, t0, t1, limit=limit,
                                            after=after_t)  # fmt: skip
    result = _result(conn, ref, t0, t1, rows, route=route, max_speed_kmh=max_speed_kmh,
                     long_gap_s=long_gap_s)  # fmt: skip
    result.update(case_ref=base["case_ref"], purpose=base["purpose"])
    more = len(rows) >= limit
    result["next_after"] = rows[-1]["seen_at"].isoformat() if more else None
    audit.record(conn, principal, "trajectory.query", ref,
                 details={**base, "from": t0.isoformat(), "to": t1.isoformat(),
                          "after": after_t.isoformat() if after_t else None,
                          "sightings": len(rows), "scope": principal.scope.describe()})  # fmt: skip
    return result


def _result(conn: Connection, ref: str, t0: dt.datetime, t1: dt.datetime,
            rows: list[dict[str, Any]], *, route: bool, max_speed_kmh: float,
            long_gap_s: float) -> dict[str, Any]:  # fmt: skip
    sightings = [{**r, "seen_at": r["seen_at"].isoformat()} for r in rows]
    out: dict[str, Any] = {
        "object_ref": ref, "from": t0.isoformat(), "to": t1.isoformat(),
        "sightings": sightings, "hops": [], "flags": {}, "corridor_roads": [],
        "unrouted_devices": [], "run_id": None,
    }  # fmt: skip
    if not route or len(rows) < 2:
        return out
    net = network(conn)
    out["run_id"] = net.run_id
    placed = [i for i, r in enumerate(rows) if r["device_id"] in net.device_nodes]
    out["unrouted_devices"] = sorted({r["device_id"] for r in rows} - set(net.device_nodes))
    nodes = [net.device_nodes[rows[i]["device_id"]] for i in placed]
    times = [rows[i]["seen_at"].timestamp() for i in placed]
    # near-simultaneous sightings are routed in the order that is faster to drive
    order = gtraj.settle_order(net.graph, nodes, times)
    placed = [placed[k] for k in order]
    nodes = [net.device_nodes[rows[i]["device_id"]] for i in placed]
    times = [rows[i]["seen_at"].timestamp() for i in placed]
    dirs = [gtraj.direction_deg(rows[i]["direction"]) for i in placed]
    hops = gtraj.reconstruct(net.graph, nodes, times, dirs, max_speed_kmh=max_speed_kmh,
                             long_gap_s=long_gap_s)  # fmt: skip
    gtraj.unseen_corridors(net.graph, hops, net.covered_road_ids,
                           min_gap_s=CORRIDOR_MIN_SLACK_S)  # fmt: skip
    lon, lat = net.graph.lon_deg, net.graph.lat_deg
    flags: dict[str, int] = {}
    corridor: set[int] = set()
    for hop in hops:
        d = hop.as_dict()
        d["from_sighting"], d["to_sighting"] = placed[hop.i], placed[hop.i + 1]
        d["path"] = [[round(float(lon[n]), 7), round(float(lat[n]), 7)] for n in hop.nodes]
        out["hops"].append(d)
        for f in hop.flags:
            flags[f] = flags.get(f, 0) + 1
        corridor.update(hop.corridor_road_ids)
    out["flags"] = flags
    out["corridor_roads"] = [net.roads[r] for r in sorted(corridor) if r in net.roads]
    return out


# -- exports --------------------------------------------------------------------------------
def to_geojson(result: dict[str, Any], roads_geojson: dict[int, Any] | None = None
               ) -> dict[str, Any]:  # fmt: skip
    """Sightings (points), routed hops (lines with speed and flags) and, given their
    geometries (road id -> GeoJSON geometry), the unseen corridor roads, EPSG:4326."""
    feats: list[dict[str, Any]] = []
    for i, s in enumerate(result["sightings"]):
        props = {k: v for k, v in s.items() if k not in ("lon", "lat")}
        feats.append({"type": "Feature", "properties": {"kind": "sighting", "order": i, **props},
                      "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]}})
    for h in result["hops"]:
        props = {k: v for k, v in h.items() if k != "path"}
        geom = ({"type": "LineString", "coordinates": h["path"]} if len(h["path"]) > 1
                else None)  # fmt: skip
        feats.append({"type": "Feature", "properties": {"kind": "hop", **props},
                      "geometry": geom})
    for r in result["corridor_roads"]:
        feats.append({"type": "Feature", "properties": {"kind": "unseen_corridor", **r},
                      "geometry": (roads_geojson or {}).get(r["road_id"])})
    return {"type": "FeatureCollection", "features": feats,
            "properties": {k: result.get(k) for k in ("object_ref", "case_ref", "purpose",
                                                      "from", "to", "flags")}}  # fmt: skip


def to_gpx(result: dict[str, Any]) -> str:
    """The routed trajectory as GPX 1.1: sightings as waypoints, the route as one track."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<gpx version="1.1" creator="sightline" xmlns="http://www.topografix.com/GPX/1/1">']
    for s in result["sightings"]:
        out.append(f'<wpt lat="{s["lat"]:.7f}" lon="{s["lon"]:.7f}"><time>{s["seen_at"]}'
                   f'</time><name>{escape(str(s["device_id"]))}</name></wpt>')  # fmt: skip
    out.append(f"<trk><name>{escape(result['object_ref'])}</name><trkseg>")
    for h in result["hops"]:
        for lon, lat in h["path"]:
            out.append(f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"/>')
    out.append("</trkseg></trk></gpx>")
    return "\n".join(out) + "\n"


def to_csv(result: dict[str, Any]) -> str:
    """One row per sighting, with the hop that leaves it (speed, flags)."""
    leaving = {h["from_sighting"]: h for h in result["hops"]}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["order", "seen_at", "device_id", "device_kind", "lon", "lat", "direction",
                "next_length_m", "next_dt_s", "next_speed_kmh", "next_flags"])
    for i, s in enumerate(result["sightings"]):
        h = leaving.get(i, {})
        w.writerow([i, s["seen_at"], s["device_id"], s["device_kind"], s["lon"], s["lat"],
                    s["direction"] or "", h.get("length_m", ""), h.get("dt_s", ""),
                    h.get("speed_kmh", ""), ";".join(h.get("flags", []))])  # fmt: skip
    return buf.getvalue()


