"""Demo sightings: a seeded generator that drives vehicles along the demo city's roads and
emits a sighting wherever a checkpoint or camera actually covers the road they pass.

How it works (documented because tests compare against its ground truth):

- The road graph is :func:`gis.road_graph.build` of the stored roads (travel time by class).
  Each device observes traffic at one graph node (:func:`gis.road_graph.snap_devices`): a
  camera at the node inside its detect-level visible area (the coverage engine's latest run)
  nearest to it — a camera whose visible area holds no road node never sees a vehicle; a
  checkpoint at its nearest node (within 60 m).
- Each vehicle makes 1-3 trips between random nodes of the largest strongly connected part
  of the graph (at least ``min_trip_m`` apart by route), each along the fastest route, at
  80-100 % of free-flow speed, with a 20-60 minute stop between trips; the first departure
  is uniform in the 6 hours after ``start``.
- At every node of a route that a device observes, the device emits a sighting unless it
  misses the vehicle (probability ``miss_rate``); its time is the arrival time plus Gaussian
  noise (``time_noise_s``); cameras report the direction of travel in degrees, checkpoints
  as one of 8 compass points; confidence is uniform in [0.7, 1.0].
- The ground truth per vehicle: every trip's nodes, road ids and arrival times.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from gis import road_graph
from gis import trajectory as gtraj

_POINTS8 = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")
Row = tuple[str, dt.datetime, str, str, float]  # device_id, seen_at, object_ref, direction, conf


@dataclass
class Trip:
    nodes: list[int]
    road_ids: list[int]
    times_s: list[float]  # arrival at each node, seconds since the epoch


@dataclass
class Vehicle:
    object_ref: str
    trips: list[Trip] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"object_ref": self.object_ref,
                "trips": [{"road_ids": t.road_ids, "nodes": t.nodes,
                           "start": _iso(t.times_s[0]), "end": _iso(t.times_s[-1])}
                          for t in self.trips]}  # fmt: skip


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def plate(i: int, seed: int) -> str:
    """A made-up plate-like object reference (opaque to Sightline)."""
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return f"粤B{letters[(i + seed) % len(letters)]}{(i * 7919 + seed) % 10000:04d}D"


def generate(
    roads: Any, devices: Any, visible: Any, *, vehicles: int = 20, seed: int = 7,
    start: dt.datetime | None = None, miss_rate: float = 0.15, time_noise_s: float = 1.5,
    min_trip_m: float = 1500.0, max_trips: int = 3,
) -> tuple[pd.DataFrame, list[Vehicle]]:  # fmt: skip
    """Sightings (device_id, seen_at, object_ref, direction, confidence) and the truth.

    ``roads``, ``devices`` and ``visible`` are :class:`store.sightings.NetworkFrames`'
    frames (EPSG:4326).
    """
    rng = np.random.default_rng(seed)
    start = start or dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)
    rg = road_graph.build(roads)
    g = rg.graph
    at_node: dict[int, list[tuple[str, str]]] = {}
    kinds = dict(zip(devices["device_id"].astype(str), devices["device_kind"], strict=True))
    for dev, node in road_graph.snap_devices(rg, devices, visible).items():
        at_node.setdefault(node, []).append((dev, kinds[dev]))
    core = sorted(max(nx.strongly_connected_components(g), key=len))
    rows: list[Row] = []
    fleet: list[Vehicle] = []
    for i in range(vehicles):
        v = Vehicle(plate(i, seed))
        t = start.timestamp() + float(rng.uniform(0, 6 * 3600))
        here = int(core[rng.integers(len(core))])
        for _ in range(int(rng.integers(1, max_trips + 1))):
            trip = _trip(rg, core, here, t, rng, min_trip_m)
            if trip is None:
                break
            v.trips.append(trip)
            rows.extend(_emit(rg, v.object_ref, trip, at_node, rng, miss_rate, time_noise_s))
            here = trip.nodes[-1]
            t = trip.times_s[-1] + float(rng.uniform(20 * 60, 60 * 60))
        fleet.append(v)
    df = pd.DataFrame(rows, columns=["device_id", "seen_at", "object_ref", "direction",
                                     "confidence"])  # fmt: skip
    df = df.sort_values(["seen_at", "device_id"], kind="stable").reset_index(drop=True)
    return df, fleet


def _trip(rg: road_graph.RoadGraph, core: list[int], origin: int, t0: float,
          rng: np.random.Generator, min_trip_m: float) -> Trip | None:  # fmt: skip
    g = rg.graph
    for _ in range(50):
        dest = int(core[rng.integers(len(core))])
        found = gtraj.route(rg, origin, dest)
        if found is None:
            continue
        path, _ = found
        edges = [g.edges[a, b] for a, b in zip(path[:-1], path[1:], strict=True)]
        if sum(e["length_m"] for e in edges) < min_trip_m:
            continue
        pace = float(rng.uniform(0.8, 1.0))
        times = [t0]
        roads: list[int] = []
        for e in edges:
            times.append(times[-1] + e["time_s"] / pace)
            if not roads or roads[-1] != e["road_id"]:
                roads.append(int(e["road_id"]))
        return Trip(path, roads, times)
    return None


def _emit(rg: road_graph.RoadGraph, ref: str, trip: Trip,
          at_node: dict[int, list[tuple[str, str]]], rng: np.random.Generator,
          miss_rate: float, noise_s: float) -> list[Row]:  # fmt: skip
    out = []
    lon, lat = rg.lon_deg, rg.lat_deg
    for k, node in enumerate(trip.nodes):
        for dev, kind in at_node.get(node, ()):
            if rng.random() < miss_rate:
                continue
            a, b = (trip.nodes[k - 1], node) if k > 0 else (node, trip.nodes[1])
            heading = gtraj.bearing_deg(lon[a], lat[a], lon[b], lat[b])
            direction = (f"{heading:.0f}" if kind == "camera"
                         else _POINTS8[int(math.floor((heading + 22.5) / 45.0)) % 8])  # fmt: skip
            ts = trip.times_s[k] + float(rng.normal(0.0, noise_s))
            seen = dt.datetime.fromtimestamp(round(ts, 1), dt.UTC)
            out.append((dev, seen, ref, direction, round(float(rng.uniform(0.7, 1.0)), 2)))
    return out


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """The sightings as a sighting file (times ISO 8601 with +08:00, as a Chinese source
    system would write them)."""
    out = df.copy()
    tz = dt.timezone(dt.timedelta(hours=8))
    out["seen_at"] = [t.astimezone(tz).isoformat() for t in out["seen_at"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False)
