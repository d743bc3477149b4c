"""What new cameras should see (demand points) and which candidate sees which (the sparse
coverage matrix), for the placement solvers.

Demand: seeded stratified samples inside blind spots (each point stands for an equal share of
its blind spot's area), points along uncovered road stretches (each stands for a length), and
entry roads without a checkpoint. Each point carries the DORI level it needs. The matrix comes
from the coverage engine itself — DORI sectors (:func:`gis.fov.camera_sectors`), 2.5D building
occlusion (:func:`gis.occlusion.visible_polygons`) — and an STRtree point-in-polygon join.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
import shapely

from gis import fov, occlusion, sampling
from gis.placement_sites import PlacementInputError, _check_metric

__all__ = [
    "CLASS_WEIGHT",
    "LEVEL_WEIGHT",
    "CoverageMatrix",
    "area_demand",
    "coverage_matrix",
    "entry_demand",
    "road_demand",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_RANK = {lv: i for i, lv in enumerate(fov.LEVELS)}

#: Default weight per key-area class (per m²); classes not named weigh 1.
CLASS_WEIGHT: dict[str, float] = {
    "transport_hub": 3.0, "government": 3.0, "school": 2.0, "hospital": 2.0,
    "market": 1.5, "tourism": 1.5, "junction": 1.5, "worship": 1.0, "park": 1.0,
}  # fmt: skip
#: Default weight per required DORI level (a stricter level is worth more per m²).
LEVEL_WEIGHT: dict[str, float] = {"detect": 1.0, "observe": 1.5, "recognise": 2.0,
                                  "identify": 3.0}

_COLUMNS = ["demand_id", "kind", "source_id", "required_level", "area_m2", "length_m",
            "weight", "geometry"]  # fmt: skip


def _empty(crs: object) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in _COLUMNS[:-1]},
                            geometry=gpd.GeoSeries([], crs=crs))  # fmt: skip


def area_demand(
    blind: gpd.GeoDataFrame,
    *,
    spacing_m: float = 4.0,
    seed: int = 0,
    class_weight: Mapping[str, float] | None = None,
    level_weight: Mapping[str, float] | None = None,
    alarms: npt.ArrayLike | None = None,
    alarm_radius_m: float = 50.0,
    alarm_factor: float = 0.0,
) -> gpd.GeoDataFrame:
    """Stratified random points inside blind spots, each standing for an equal area share.

    A grid of ``spacing_m`` cells (origin drawn from ``seed``) covers each polygon; one point is
    drawn uniformly in each cell and kept when inside the polygon. The points of one polygon
    share its area equally (so their ``area_m2`` sums to its area exactly); a polygon that
    catches no point gets one at a point on its surface carrying its whole area.

    Parameters
    ----------
    blind
        Blind spots: ``key_area_id``, ``dori_level`` (the level required there), optional
        ``area_class``, (Multi)Polygon ``geometry``; metric CRS.
    spacing_m
        Cell size in metres.
    seed
        Seed of the sampling (same seed and input, same points).
    class_weight, level_weight
        Weight per m² by key-area class and by required level (defaults :data:`CLASS_WEIGHT`,
        :data:`LEVEL_WEIGHT`; missing keys weigh 1).
    alarms, alarm_radius_m, alarm_factor
        Past alarm points (same CRS): a point's weight is multiplied by
        ``1 + alarm_factor * n / mean(n)`` with ``n`` the alarms within ``alarm_radius_m``
        (0 = off).

    Returns
    -------
    geopandas.GeoDataFrame
        ``demand_id`` ("area:<key area>:<k>"), ``kind`` "area", ``source_id`` (key area id),
        ``required_level``, ``area_m2``, ``length_m`` (0), ``weight``, Point ``geometry``.

    Raises
    ------
    PlacementInputError
        On a geographic CRS, missing columns, an unknown level or a bad spacing.
    """
    crs = _check_metric(blind, "blind spots")
    for col in ("key_area_id", "dori_level"):
        if col not in blind.columns:
            raise PlacementInputError(f"blind spots need a {col} column")
    if not (math.isfinite(spacing_m) and spacing_m > 0):
        raise PlacementInputError(f"spacing_m must be positive metres, not {spacing_m!r}")
    levels = blind["dori_level"].astype(str).to_numpy()
    unknown = sorted(set(levels) - set(fov.LEVELS))
    if unknown:
        raise PlacementInputError(f"unknown DORI level(s) {unknown}; known: {fov.LEVELS}")
    cw = {**CLASS_WEIGHT, **(class_weight or {})}
    lw = {**LEVEL_WEIGHT, **(level_weight or {})}
    rng = np.random.default_rng(seed)
    ox, oy = rng.uniform(0.0, spacing_m, 2)
    geoms = np.asarray(blind.geometry.to_numpy(), dtype=object)
    classes = (blind["area_class"].astype(str).to_numpy() if "area_class" in blind.columns
               else np.full(len(blind), "", dtype=object))  # fmt: skip
    xs: list[FloatArray] = []
    ys: list[FloatArray] = []
    owner: list[IntArray] = []
    share: list[FloatArray] = []
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            continue
        x0, y0, x1, y1 = g.bounds
        gx = np.arange(math.floor((x0 - ox) / spacing_m), math.ceil((x1 - ox) / spacing_m))
        gy = np.arange(math.floor((y0 - oy) / spacing_m), math.ceil((y1 - oy) / spacing_m))
        cx, cy = np.meshgrid(gx, gy, indexing="xy")
        jit = rng.uniform(0.0, spacing_m, (2, cx.size))
        px = ox + cx.ravel() * spacing_m + jit[0]
        py = oy + cy.ravel() * spacing_m + jit[1]
        inside = shapely.contains_xy(g, px, py)
        px, py = px[inside], py[inside]
        if len(px) == 0:
            rep = shapely.point_on_surface(g)
            px, py = np.array([rep.x]), np.array([rep.y])
        xs.append(px)
        ys.append(py)
        owner.append(np.full(len(px), i, dtype=np.int64))
        share.append(np.full(len(px), float(g.area) / len(px)))
    if not xs:
        return _empty(crs)
    x, y, own, area = (np.concatenate(xs), np.concatenate(ys), np.concatenate(owner),
                       np.concatenate(share))  # fmt: skip
    w = area * np.array([cw.get(str(c), 1.0) for c in classes])[own] \
        * np.array([lw.get(str(lv), 1.0) for lv in levels])[own]
    pts = shapely.points(x, y)
    if alarms is not None and alarm_factor > 0:
        al = np.asarray(alarms, dtype=object)
        if len(al):
            pi, _ = shapely.STRtree(al).query(pts, predicate="dwithin", distance=alarm_radius_m)
            n = np.bincount(pi, minlength=len(pts)).astype(float)
            if n.mean() > 0:
                w = w * (1.0 + alarm_factor * n / n.mean())
    ka = blind["key_area_id"].to_numpy()
    k = np.arange(len(own)) - np.searchsorted(own, own)
    return gpd.GeoDataFrame({
        "demand_id": [f"area:{ka[o]}:{j}" for o, j in zip(own, k, strict=True)],
        "kind": "area", "source_id": ka[own].astype(str), "required_level": levels[own],
        "area_m2": area, "length_m": 0.0, "weight": w,
    }, geometry=gpd.GeoSeries(pts, crs=crs))  # fmt: skip


def road_demand(
    roads: gpd.GeoDataFrame,
    gaps_m: Mapping[int, list[tuple[float, float]]],
    *,
    level: str = "detect",
    spacing_m: float = 10.0,
    weight_per_m: float = 0.0,
) -> gpd.GeoDataFrame:
    """Points along uncovered road stretches, each standing for an equal length share.

    Parameters
    ----------
    roads
        ``road_id`` and LineString ``geometry``, metric CRS.
    gaps_m
        Road id → uncovered [start, end] intervals in metres along the road (as the coverage
        run stores them at ``level``).
    level
        The DORI level the roads need.
    spacing_m
        About one point per this many metres (at least one per stretch).
    weight_per_m
        Weight of a metre of road in the objective (0: reported, not optimised).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`area_demand`, ``kind`` "road", ``source_id`` the road id, ``length_m`` set.
    """
    crs = _check_metric(roads, "roads")
    if level not in fov.LEVELS:
        raise PlacementInputError(f"unknown DORI level {level!r}; known: {fov.LEVELS}")
    ids = roads["road_id"].to_numpy()
    lines = np.asarray(roads.geometry.to_numpy(), dtype=object)
    pos = {int(r): i for i, r in enumerate(ids)}
    li: list[int] = []
    a: list[float] = []
    b: list[float] = []
    for rid, gaps in gaps_m.items():
        i = pos.get(int(rid))
        if i is None:
            continue
        for s, e in gaps:
            if e > s:
                li.append(i)
                a.append(float(s))
                b.append(float(e))
    if not li:
        return _empty(crs)
    line_i, start, end = np.asarray(li), np.asarray(a), np.asarray(b)
    n = np.maximum(1, np.round((end - start) / spacing_m)).astype(np.int64)
    seg = np.repeat(np.arange(len(n)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    step = (end - start) / n
    d = start[seg] + (k + 0.5) * step[seg]
    pts = shapely.line_interpolate_point(lines[line_i[seg]], d)
    rid = ids[line_i[seg]]
    return gpd.GeoDataFrame({
        "demand_id": [f"road:{r}:{dd:.1f}" for r, dd in zip(rid, d, strict=True)],
        "kind": "road", "source_id": rid.astype(str), "required_level": level,
        "area_m2": 0.0, "length_m": step[seg], "weight": step[seg] * weight_per_m,
    }, geometry=gpd.GeoSeries(pts, crs=crs))  # fmt: skip


def entry_demand(
    entries: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    city: shapely.Geometry,
    *,
    level: str = "recognise",
    inside_m: float = 15.0,
    weight: float = 0.0,
) -> gpd.GeoDataFrame:
    """One point per entry road crossing without a full checkpoint, ``inside_m`` inside.

    Parameters
    ----------
    entries
        Crossings (:func:`gis.roads.checkpoint_completeness` output: ``road_id``,
        ``position_m``, ``status``); rows with status "covered" are skipped.
    roads
        ``road_id`` and LineString ``geometry``, same metric CRS.
    city
        The city polygon (the point is moved along the road to inside it).
    level
        Level a checkpoint camera needs (recognise: number plates).
    inside_m
        Distance inside the boundary along the road, metres.
    weight
        Weight of one entry road in the objective (0: reported, not optimised).

    Returns
    -------
    geopandas.GeoDataFrame
        As :func:`area_demand`, ``kind`` "entry", ``source_id`` "<road id>@<position>".
    """
    crs = _check_metric(roads, "roads")
    if len(entries) == 0:
        return _empty(crs)
    todo = entries[entries["status"].astype(str) != "covered"]
    if len(todo) == 0:
        return _empty(crs)
    line_of = dict(zip(roads["road_id"].to_numpy(), roads.geometry.to_numpy(), strict=True))
    lines = np.array([line_of[r] for r in todo["road_id"]], dtype=object)
    pos = todo["position_m"].to_numpy(dtype=float)
    steps = (inside_m, inside_m / 2, inside_m * 4 / 3, 5.0, 2.0)
    pts, _ = sampling.step_inside(lines, pos, city, steps_m=steps)
    fallback = np.asarray(todo.geometry.to_numpy(), dtype=object)
    pts = np.where(pd.isna(pts), fallback, pts)
    src = [f"{r}@{p:.0f}" for r, p in zip(todo["road_id"], pos, strict=True)]
    return gpd.GeoDataFrame({
        "demand_id": [f"entry:{s}" for s in src], "kind": "entry", "source_id": src,
        "required_level": level, "area_m2": 0.0, "length_m": 0.0, "weight": float(weight),
    }, geometry=gpd.GeoSeries(pts, crs=crs))  # fmt: skip


@dataclass(frozen=True)
class CoverageMatrix:
    """Sparse "configuration covers demand point" pairs and the polygons they came from.

    Attributes
    ----------
    config_index, demand_index : (nnz,) int64
        Pair t: configuration row ``config_index[t]`` covers demand row ``demand_index[t]``
        (repeats possible; :meth:`CoverageInstance.from_pairs` drops them).
    visible : geopandas.GeoDataFrame
        ``camera_id`` (configuration id), ``level``, visible ``geometry`` per configuration and
        level (occlusion applied).
    notes : list of str
        Assumptions reported by the sector builder.
    timings_s : dict
        Seconds per step: ``sectors``, ``occlusion``, ``query`` (STRtree build + bulk query).
    """

    config_index: IntArray
    demand_index: IntArray
    visible: gpd.GeoDataFrame
    notes: list[str]
    timings_s: dict[str, float] = field(default_factory=dict)


def coverage_matrix(
    configs: gpd.GeoDataFrame,
    demand: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    target_height_m: float = 0.0,
    workers: int = 1,
) -> CoverageMatrix:
    """Which configuration sees which demand point at the level that point needs.

    A point needing level L is covered by a configuration when the configuration's visible
    polygon (DORI sector at that level minus 2.5D building shadows and footprints) at some
    level at least as strict as L contains it (edges count). Only the levels some demand needs
    are computed. No dense loop: one STRtree over the visible polygons, one bulk query.

    Parameters
    ----------
    configs
        Camera rows (:func:`gis.placement_sites.candidate_configs`), metric CRS.
    demand
        ``required_level`` and Point ``geometry``, same CRS.
    buildings
        ``geometry`` footprints and ``height_m``, same CRS.
    target_height_m
        Height of the target plane, metres.
    workers
        Processes for the occlusion step.

    Returns
    -------
    CoverageMatrix
    """
    crs = _check_metric(configs, "configs")
    if _check_metric(demand, "demand") != crs:
        raise PlacementInputError("configs and demand must share one CRS")
    need = set(demand["required_level"].astype(str))
    if need - set(fov.LEVELS):
        raise PlacementInputError(f"unknown DORI level(s) {sorted(need - set(fov.LEVELS))}; "
                                  f"known: {fov.LEVELS}")
    # Only the needed levels: one camera's levels are nested (a stricter one is inside a
    # looser one), so a point inside a stricter polygon is inside the needed one too.
    levels = [lv for lv in fov.LEVELS if lv in need]
    empty = np.empty(0, dtype=np.int64)
    if len(configs) == 0 or len(demand) == 0 or not need:
        return CoverageMatrix(empty, empty, gpd.GeoDataFrame(
            {"camera_id": [], "level": []}, geometry=gpd.GeoSeries([], crs=crs)), [])
    t0 = time.perf_counter()
    sectors, notes = fov.camera_sectors(configs, levels=levels, target_height_m=target_height_m)
    t1 = time.perf_counter()
    visible = occlusion.visible_polygons(sectors, configs, buildings,
                                         target_height_m=target_height_m, workers=workers)
    t2 = time.perf_counter()
    visible = visible[~shapely.is_empty(visible.geometry.to_numpy())].reset_index(drop=True)
    cfg_of = pd.Index(configs["camera_id"]).get_indexer(visible["camera_id"])
    vis_rank = visible["level"].map(_RANK).to_numpy()
    tree = shapely.STRtree(visible.geometry.to_numpy())
    pts = np.asarray(demand.geometry.to_numpy(), dtype=object)
    p_idx, v_idx = tree.query(pts, predicate="intersects")
    need_rank = demand["required_level"].map(_RANK).to_numpy()
    ok = vis_rank[v_idx] >= need_rank[p_idx]
    timings = {"sectors": t1 - t0, "occlusion": t2 - t1, "query": time.perf_counter() - t2}
    return CoverageMatrix(cfg_of[v_idx[ok]].astype(np.int64), p_idx[ok].astype(np.int64),
                          visible, notes, timings)  # fmt: skip
