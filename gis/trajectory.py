"""Trajectories from ordered sightings: routed hops, implied speeds, flags, unseen corridors.

Pure: a :class:`gis.road_graph.RoadGraph` and arrays in, dataclasses out. Between two
consecutive sightings the most likely path is the fastest one on the road graph (free-flow
travel time); its length over the time between the sightings is the implied speed. Flags:

- ``impossible_speed`` (teleport): the route is longer than ``max_speed_kmh`` allows in
  the time between the sightings plus ``clock_tol_s`` (device clocks and time noise);
- ``long_gap``: the time between sightings exceeds the route's travel time by ``long_gap_s``;
- ``direction_conflict``: a sighting's reported direction of travel (bearing, degrees from
  true north) differs from the route's heading there by more than ``direction_tol_deg``;
- ``no_route``: the road graph has no path (one-way streets, a disconnected piece).

Unseen corridors: for a hop with time budget T, the roads on some path u -> v taking at most
T (free-flow) that no camera covers — where the object could have gone unseen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt

from gis.road_graph import RoadGraph

COMPASS = {"N": 0.0, "NNE": 22.5, "NE": 45.0, "ENE": 67.5, "E": 90.0, "ESE": 112.5,
           "SE": 135.0, "SSE": 157.5, "S": 180.0, "SSW": 202.5, "SW": 225.0, "WSW": 247.5,
           "W": 270.0, "WNW": 292.5, "NW": 315.0, "NNW": 337.5, "北": 0.0, "东北": 45.0,
           "东": 90.0, "东南": 135.0, "南": 180.0, "西南": 225.0, "西": 270.0,
           "西北": 315.0}  # fmt: skip


def direction_deg(value: str | None) -> float:
    """A reported direction of travel as a bearing (degrees clockwise from true north): a
    number of degrees, a compass point (N, NE, ... or 北, 东北 ...); NaN for anything else
    (``in``/``out`` of a checkpoint, lane words, empty)."""
    if value is None:
        return math.nan
    v = value.strip().upper()
    if v in COMPASS:
        return COMPASS[v]
    if value.strip() in COMPASS:
        return COMPASS[value.strip()]
    try:
        deg = float(v)
    except ValueError:
        return math.nan
    return deg % 360.0 if math.isfinite(deg) else math.nan


@dataclass
class Hop:
    """The routed step from sighting ``i`` to sighting ``i + 1``."""

    i: int
    from_node: int
    to_node: int
    dt_s: float
    nodes: list[int] = field(default_factory=list)
    road_ids: list[int] = field(default_factory=list)  # in travel order, repeats collapsed
    length_m: float = math.nan
    travel_time_s: float = math.nan  # free-flow along the route
    speed_kmh: float = math.nan  # implied: length / dt
    flags: list[str] = field(default_factory=list)
    corridor_road_ids: list[int] = field(default_factory=list)  # unseen corridor (gaps)

    def as_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if not math.isfinite(x) else round(x, 3)

        return {"i": self.i, "dt_s": num(self.dt_s), "length_m": num(self.length_m),
                "travel_time_s": num(self.travel_time_s), "speed_kmh": num(self.speed_kmh),
                "flags": list(self.flags), "road_ids": list(self.road_ids),
                "corridor_road_ids": list(self.corridor_road_ids)}  # fmt: skip


def bearing_deg(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Initial bearing (degrees clockwise from true north) from point 1 to point 2 (WGS-84,
    local flat approximation: fine for the metres between two graph nodes)."""
    dx = (lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return math.degrees(math.atan2(dx, lat2 - lat1)) % 360.0


def _angle(a: float, b: float) -> float:
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def route(rg: RoadGraph, u: int, v: int) -> tuple[list[int], float] | None:
    """The fastest path u -> v (nodes) and its free-flow time in seconds; None if none."""
    if u == v:
        return [u], 0.0
    h = rg.routing
    if h is not None and u in h and v in h:
        try:
            t, path = nx.bidirectional_dijkstra(h, u, v, weight="time_s")
        except nx.NetworkXNoPath:
            return None
        full = [u]
        for a, b in zip(path[:-1], path[1:], strict=True):
            full.extend(h.edges[a, b]["via"][1:])
        return full, float(t)
    try:
        t, path = nx.bidirectional_dijkstra(rg.graph, u, v, weight="time_s")
    except nx.NetworkXNoPath:
        return None
    return list(path), float(t)


def settle_order(rg: RoadGraph, nodes: npt.ArrayLike, times_s: npt.ArrayLike, *,
                 clock_tol_s: float = 5.0) -> list[int]:  # fmt: skip
    """The order to route sightings in: time order, except that two consecutive sightings
    less than ``clock_tol_s`` apart are swapped when driving them the other way round is
    faster (device clocks disagree by seconds; on a one-way street the wrong order of two
    neighbouring cameras is a long detour and a false teleport).

    Returns
    -------
    list of int
        Positions into ``nodes`` / ``times_s`` (which are in time order).
    """
    nd = [int(n) for n in np.asarray(nodes, dtype=np.int64)]
    ts = np.asarray(times_s, dtype=np.float64)
    order = list(range(len(nd)))

    def leg(u: int | None, v: int | None) -> float:
        if u is None or v is None:
            return 0.0
        found = route(rg, nd[u], nd[v])
        return math.inf if found is None else found[1]

    for k in range(len(order) - 1):
        a, b = order[k], order[k + 1]
        if ts[b] - ts[a] > clock_tol_s or nd[a] == nd[b]:
            continue
        prev = order[k - 1] if k > 0 else None
        nxt = order[k + 2] if k + 2 < len(order) else None
        kept = leg(prev, a) + leg(a, b) + leg(b, nxt)
        swapped = leg(prev, b) + leg(b, a) + leg(a, nxt)
        if swapped < kept:
            order[k], order[k + 1] = b, a
    return order


def reconstruct(
    rg: RoadGraph, nodes: npt.ArrayLike, times_s: npt.ArrayLike,
    directions_deg: npt.ArrayLike | None = None, *, max_speed_kmh: float = 150.0,
    long_gap_s: float = 900.0, direction_tol_deg: float = 90.0, clock_tol_s: float = 5.0,
) -> list[Hop]:  # fmt: skip
    """Route each pair of consecutive sightings and flag what is implausible.

    Parameters
    ----------
    rg
        The road graph.
    nodes
        The graph node of each sighting, in time order.
    times_s
        Time of each sighting in seconds (any epoch), non-decreasing.
    directions_deg
        Reported direction of travel of each sighting (degrees from true north), NaN when
        unknown.
    max_speed_kmh, long_gap_s, direction_tol_deg, clock_tol_s
        Flag thresholds (see the module docstring).

    Returns
    -------
    list of Hop
        ``len(nodes) - 1`` hops.
    """
    nd = np.asarray(nodes, dtype=np.int64)
    ts = np.asarray(times_s, dtype=np.float64)
    dirs = (np.full(len(nd), np.nan) if directions_deg is None
            else np.asarray(directions_deg, dtype=np.float64))  # fmt: skip
    g = rg.graph
    hops: list[Hop] = []
    for i in range(len(nd) - 1):
        u, v = int(nd[i]), int(nd[i + 1])
        hop = Hop(i, u, v, float(ts[i + 1] - ts[i]))
        found = route(rg, u, v)
        if found is None:
            hop.flags.append("no_route")
            hops.append(hop)
            continue
        path, t = found
        hop.nodes, hop.travel_time_s = path, t
        edges = [g.edges[a, b] for a, b in zip(path[:-1], path[1:], strict=True)]
        hop.length_m = float(sum(e["length_m"] for e in edges))
        for e in edges:
            if not hop.road_ids or hop.road_ids[-1] != e["road_id"]:
                hop.road_ids.append(int(e["road_id"]))
        if hop.dt_s > 0:
            hop.speed_kmh = hop.length_m / hop.dt_s * 3.6
        if hop.length_m > max_speed_kmh / 3.6 * (max(hop.dt_s, 0.0) + clock_tol_s):
            hop.flags.append("impossible_speed")
        if hop.dt_s - t > long_gap_s:
            hop.flags.append("long_gap")
        if len(path) > 1 and _direction_conflict(rg, path, dirs[i], dirs[i + 1],
                                                 direction_tol_deg):  # fmt: skip
            hop.flags.append("direction_conflict")
        hops.append(hop)
    return hops


def _direction_conflict(rg: RoadGraph, path: list[int], leave_deg: float, arrive_deg: float,
                        tol: float) -> bool:  # fmt: skip
    lon, lat = rg.lon_deg, rg.lat_deg
    a, b = path[0], path[1]
    y, z = path[-2], path[-1]
    if math.isfinite(leave_deg) and _angle(leave_deg, bearing_deg(lon[a], lat[a], lon[b],
                                                                  lat[b])) > tol:  # fmt: skip
        return True
    return math.isfinite(arrive_deg) and _angle(
        arrive_deg, bearing_deg(lon[y], lat[y], lon[z], lat[z])) > tol  # fmt: skip


def corridor(rg: RoadGraph, u: int, v: int, budget_s: float) -> set[int]:
    """Road ids on some path u -> v whose free-flow time is at most ``budget_s`` seconds
    (on the contracted graph when both ends are in it: no U-turns between junctions)."""
    if budget_s <= 0:
        return set()
    h = rg.routing
    g = h if h is not None and u in h and v in h else rg.graph
    d_from = nx.single_source_dijkstra_path_length(g, u, cutoff=budget_s, weight="time_s")
    d_to = nx.single_source_dijkstra_path_length(g.reverse(copy=False), v, cutoff=budget_s,
                                                 weight="time_s")  # fmt: skip
    roads: set[int] = set()
    for a, da in d_from.items():
        for b, e in g.succ[a].items():
            db = d_to.get(b)
            if db is not None and da + e["time_s"] + db <= budget_s:
                roads.update(e["road_ids"] if g is h else (e["road_id"],))
    return roads


def unseen_corridors(rg: RoadGraph, hops: list[Hop], covered_road_ids: set[int], *,
                     min_gap_s: float = 0.0) -> None:  # fmt: skip
    """Fill each hop's ``corridor_road_ids``: roads the object could have used within the
    hop's time (:func:`corridor`) that no camera covers (not in ``covered_road_ids``). Hops
    whose slack (time minus the route's travel time) is under ``min_gap_s`` are skipped; so
    are hops without a route."""
    for hop in hops:
        if "no_route" in hop.flags or not math.isfinite(hop.travel_time_s):
            continue
        if hop.dt_s - hop.travel_time_s < min_gap_s:
            continue
        roads = corridor(rg, hop.from_node, hop.to_node, hop.dt_s)
        hop.corridor_road_ids = sorted(roads - covered_road_ids)
