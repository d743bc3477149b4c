"""A directed road graph (networkx) from road LineStrings, weighted by travel time by class.

Every vertex of every road is a node (vertices shared by two roads, to 0.5 m, are junctions:
OSM ways are not split at junctions, their shared nodes are); every pair of consecutive
vertices is an edge in the direction of travel (both ways unless ``oneway``). Node ids are
ints; nodes carry ``x``/``y`` (metres, the metric CRS) and ``lon``/``lat`` (EPSG:4326); edges
carry ``road_id``, ``length_m``, ``speed_kmh`` and ``time_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import numpy.typing as npt
import shapely
from pyproj import CRS

from gis.crs import metric_crs_for

SPEED_KMH: dict[str, float] = {
    "motorway": 90.0, "trunk": 70.0, "primary": 50.0, "secondary": 40.0, "tertiary": 35.0,
    "unclassified": 30.0, "residential": 25.0, "living_street": 10.0, "service": 15.0,
}  # fmt: skip
"""Free-flow speed by OSM ``highway`` class (``*_link`` as its class) when no maxspeed."""
DEFAULT_SPEED_KMH = 25.0
SNAP_M = 0.5


@dataclass
class RoadGraph:
    """The graph, its metric CRS and node positions (arrays indexed by node id)."""

    graph: Any  # networkx.DiGraph
    crs: CRS
    x_m: npt.NDArray[np.float64]
    y_m: npt.NDArray[np.float64]
    lon_deg: npt.NDArray[np.float64]
    lat_deg: npt.NDArray[np.float64]

    routing: Any = None  # the contracted graph (see contract), or None: route on ``graph``

    def contract(self, keep: set[int]) -> None:
        """Build ``routing``: the graph without pass-through vertices (shape points of a road
        between junctions), keeping ``keep`` (e.g. the nodes where devices observe). Each
        edge carries ``time_s``, ``length_m``, ``road_ids`` and ``via`` (the full node path).
        Routing and corridors on it do the same work on ~4x fewer nodes."""
        self.routing = contract(self.graph, keep)

    def nearest_nodes(self, x_m: npt.ArrayLike, y_m: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """The nearest node to each point (metric CRS)."""
        tree = shapely.STRtree(shapely.points(self.x_m, self.y_m))
        idx = tree.nearest(shapely.points(np.asarray(x_m), np.asarray(y_m)))
        return np.asarray(idx, dtype=np.int64)


def speed_kmh(road_class: str, maxspeed_kmh: float | None) -> float:
    """Travel speed on a road: its maxspeed, else the class speed (links as their class)."""
    if maxspeed_kmh is not None and np.isfinite(maxspeed_kmh) and maxspeed_kmh > 0:
        return float(maxspeed_kmh)
    return SPEED_KMH.get(road_class.removesuffix("_link"), DEFAULT_SPEED_KMH)


def build(roads: gpd.GeoDataFrame, crs: CRS | None = None) -> RoadGraph:
    """The directed road graph of ``roads``.

    Parameters
    ----------
    roads
        ``road_id``, ``road_class``, ``oneway`` (bool), optional ``maxspeed_kmh`` and
        LineString geometry in any CRS (oneway lines run in the direction of travel).
    crs
        Metric CRS for lengths (default: :func:`gis.crs.metric_crs_for` the roads).

    Returns
    -------
    RoadGraph
    """
    crs = crs or metric_crs_for(roads)
    metric = roads.to_crs(crs)
    lonlat = roads.to_crs(4326)
    xy, line = shapely.get_coordinates(metric.geometry.to_numpy(), return_index=True)
    ll = shapely.get_coordinates(lonlat.geometry.to_numpy())
    key = np.round(xy / SNAP_M).astype(np.int64)
    _, first, node = np.unique(key, axis=0, return_index=True, return_inverse=True)
    node = node.reshape(-1)
    same = line[1:] == line[:-1]
    a, b = node[:-1][same], node[1:][same]
    seg_line = line[:-1][same]
    length = np.hypot(*(xy[1:][same] - xy[:-1][same]).T)
    maxspeed = (metric["maxspeed_kmh"].to_numpy(dtype=float) if "maxspeed_kmh" in metric
                else np.full(len(metric), np.nan))  # fmt: skip
    classes = metric["road_class"].astype(str).to_numpy()
    speed = np.array([speed_kmh(c, m) for c, m in zip(classes, maxspeed, strict=True)])
    road_id = metric["road_id"].to_numpy()
    oneway = metric["oneway"].fillna(False).to_numpy(dtype=bool)
    g = nx.DiGraph()
    g.add_nodes_from(range(len(first)))
    keep = a != b
    for u, v, i, m in zip(a[keep].tolist(), b[keep].tolist(), seg_line[keep].tolist(),
                          length[keep].tolist(), strict=True):  # fmt: skip
        kmh = float(speed[i])
        attrs = {"road_id": int(road_id[i]), "length_m": m, "speed_kmh": kmh,
                 "time_s": m / (kmh / 3.6)}  # fmt: skip
        _add(g, u, v, attrs)
        if not oneway[i]:
            _add(g, v, u, attrs)
    return RoadGraph(g, crs, xy[first, 0].copy(), xy[first, 1].copy(), ll[first, 0].copy(),
                     ll[first, 1].copy())  # fmt: skip


def _add(g: Any, u: int, v: int, attrs: dict[str, Any]) -> None:
    old = g.get_edge_data(u, v)
    if old is None or old["time_s"] > attrs["time_s"]:  # parallel segments: keep the faster
        g.add_edge(u, v, **attrs)


def snap_devices(rg: RoadGraph, devices: gpd.GeoDataFrame, visible: gpd.GeoDataFrame | None = None,
                 *, max_m: float = 60.0) -> dict[str, int]:  # fmt: skip
    """The graph node where each device observes traffic.

    A device with visible areas (``visible``: ``device_id``, polygons; a camera's detect
    level) observes at the node inside its areas nearest to it; a device without any (a
    checkpoint, or a camera without a coverage run) at its nearest node within ``max_m``
    metres. A camera whose areas hold no node sees no road and gets none.

    Parameters
    ----------
    rg
        The road graph.
    devices
        ``device_id`` and Point geometry (any CRS).
    visible
        ``device_id`` and polygon geometry (any CRS), or None.

    Returns
    -------
    dict
        device id -> node id (devices without a node are left out).
    """
    if not len(devices):
        return {}
    pts = devices.to_crs(rg.crs)
    dx = pts.geometry.x.to_numpy()
    dy = pts.geometry.y.to_numpy()
    ids = pts["device_id"].astype(str).to_numpy()
    node_pts = shapely.points(rg.x_m, rg.y_m)
    out: dict[str, int] = {}
    with_areas: set[str] = set()
    if visible is not None and len(visible):
        vis = visible.to_crs(rg.crs)
        tree = shapely.STRtree(node_pts)
        poly_i, node_i = tree.query(vis.geometry.to_numpy(), predicate="contains")
        where = {d: k for k, d in enumerate(ids)}
        vis_dev = vis["device_id"].astype(str).to_numpy()
        with_areas = set(vis_dev.tolist()) & set(where)
        best: dict[str, tuple[float, int]] = {}
        for p, n in zip(poly_i.tolist(), node_i.tolist(), strict=True):
            d = vis_dev[p]
            k = where.get(d)
            if k is None:
                continue
            dist = float(np.hypot(rg.x_m[n] - dx[k], rg.y_m[n] - dy[k]))
            if d not in best or dist < best[d][0]:
                best[d] = (dist, n)
        out.update({d: n for d, (_, n) in best.items()})
    rest = np.array([d not in with_areas for d in ids], dtype=bool)
    if rest.any():
        near = rg.nearest_nodes(dx[rest], dy[rest])
        dist = np.hypot(rg.x_m[near] - dx[rest], rg.y_m[near] - dy[rest])
        for d, n, m in zip(ids[rest].tolist(), near.tolist(), dist.tolist(), strict=True):
            if m <= max_m:
                out[d] = int(n)
    return out


def _through(g: Any, v: int) -> bool:
    """Whether ``v`` only passes traffic along one road: one way in and out (one-way
    street) or the same two neighbours both ways (two-way street)."""
    preds, succs = set(g.pred[v]), set(g.succ[v])
    if len(preds) == 1 and len(succs) == 1:
        return preds != succs
    return len(preds) == 2 and preds == succs


def contract(g: Any, keep: set[int]) -> Any:
    """``g`` without its pass-through vertices (except ``keep``); see
    :meth:`RoadGraph.contract`."""
    kept = {v for v in g.nodes if v in keep or not _through(g, v)}
    h = nx.DiGraph()
    h.add_nodes_from(kept)
    for u in kept:
        for w in g.succ[u]:
            path = [u, w]
            while path[-1] not in kept and len(path) <= len(g):
                here, before = path[-1], path[-2]
                nxt = [x for x in g.succ[here] if x != before]
                if not nxt:
                    break
                path.append(nxt[0])
            end = path[-1]
            if end not in kept or end == u:
                continue
            edges = [g.edges[a, b] for a, b in zip(path[:-1], path[1:], strict=True)]
            t = float(sum(e["time_s"] for e in edges))
            old = h.get_edge_data(u, end)
            if old is not None and old["time_s"] <= t:
                continue
            roads: list[int] = []
            for e in edges:
                if not roads or roads[-1] != e["road_id"]:
                    roads.append(int(e["road_id"]))
            h.add_edge(u, end, time_s=t, length_m=float(sum(e["length_m"] for e in edges)),
                       road_ids=roads, via=path)  # fmt: skip
    return h
