"""A placement run: the best new cameras for the blind spots of the latest coverage run.

Steps: read the city and the latest coverage run (or compute one) -> demand points in the blind
spots of the key areas (and optionally along unseen roads and at entry roads without a
checkpoint) -> candidate sites x azimuths x lenses -> sparse coverage matrix from the coverage
engine (DORI sectors, 2.5D occlusion) -> max-coverage solver (greedy + swap, or HiGHS ILP) ->
a proposal with its curve, bound and gap, written in one transaction. Accepting a proposal
inserts its cameras into the inventory (GB/T 28181 ids), also in one transaction.
"""

from __future__ import annotations

import html
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from gis import placement_demand as pdem
from gis import placement_sites as psites
from gis import roads as groads
from gis.crs import metric_crs_for
from gis.fov import LEVELS
from gis.gb28181 import make_device_id
from gis.placement_instance import CoverageInstance
from gis.placement_solver import coverage_curve, max_coverage, set_cover
from store import access, audit
from store import coverage as store_cov
from store import placement as store_pl
from store.scope import Principal, cli_principal

Progress = Callable[[str], None]

_KIND = {"pole": ("road", "pole"), "existing": ("road", "pole"), "facade": ("community", "wall"),
         "corner": ("community", "wall"), "roof": ("high_point", "roof")}  # fmt: skip
INDUSTRY, IP_CAMERA, POLICE_NETWORK = "00", "132", 0


class PlacementRunError(ValueError):
    """A placement run that cannot start as asked (unknown jurisdiction, no demand ...)."""


@dataclass
class ProposalReport:
    """What a placement run proposed, with timings (s), assumptions and figures."""

    proposal_id: int | None
    coverage_run_id: int
    crs: str
    timings_s: dict[str, float] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    solver: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    curve: dict[str, list[float]] = field(default_factory=dict)
    sites: gpd.GeoDataFrame | None = None

    def as_dict(self) -> dict[str, Any]:
        sites = [] if self.sites is None else _site_records(self.sites)
        return {"proposal_id": self.proposal_id, "coverage_run_id": self.coverage_run_id,
                "crs": self.crs, "timings_s": self.timings_s, "assumptions": self.assumptions,
                "sizes": self.sizes, "solver": self.solver, "figures": self.figures,
                "curve": self.curve, "sites": sites}  # fmt: skip


def _site_records(sites: gpd.GeoDataFrame) -> list[dict[str, Any]]:
    cols = ["rank", "config_id", "site_kind", "source_id", "jurisdiction_code",
            "mount_height_m", "azimuth_deg", "tilt_deg", "lens_model", "focal_length_mm",
            "hfov_deg", "gain_m2", "gain_road_m", "gain_entries", "gain_weight"]  # fmt: skip
    out = []
    for i, rec in enumerate(sites[[c for c in cols if c in sites.columns]].to_dict("records")):
        g = sites.geometry.iloc[i]
        rec = {k: (None if _missing(v) else v.item() if isinstance(v, np.generic) else v)
               for k, v in rec.items()}  # fmt: skip
        out.append({**rec, "lon": round(g.x, 7), "lat": round(g.y, 7)})
    return out


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _step(report: ProposalReport, name: str, progress: Progress | None,
          detail: str = "") -> Callable[[], None]:  # fmt: skip
    if progress is not None:
        progress(name + (f" ({detail})" if detail else ""))
    t0 = time.perf_counter()

    def done() -> None:
        report.timings_s[name] = round(time.perf_counter() - t0, 3)

    return done


def propose(
    engine: Engine,
    *,
    cameras: int = 10,
    cover_all: bool = False,
    jurisdiction: str | None = None,
    budgets: Mapping[str, int] | None = None,
    method: str = "greedy",
    time_limit_s: float = 10.0,
    road_level: str = "detect",
    road_weight_per_m: float = 0.0,
    entry_weight: float = 0.0,
    spacing_m: float = 4.0,
    seed: int = 0,
    lenses: Sequence[psites.LensOption] = psites.DEFAULT_LENSES,
    azimuth_step_deg: float = 45.0,
    pole_spacing_m: float = 30.0,
    facade_spacing_m: float = 30.0,
    reach_m: float = 80.0,
    alarm_factor: float = 0.0,
    curve_max: int | None = None,
    rerun_coverage: bool = False,
    workers: int = 1,
    save: bool = True,
    progress: Progress | None = None,
    principal: Principal | None = None,
) -> ProposalReport:
    """Best ``cameras`` new cameras for the blind spots of the latest coverage run.

    Parameters
    ----------
    cameras
        Budget p: most new cameras (configurations) to choose.
    cover_all
        Instead of a budget: the fewest new cameras covering every demand point some candidate
        can cover (set cover). Demand that no candidate covers is reported
        (``figures["uncoverable_*"]``), not dropped silently.
    jurisdiction
        Code of the jurisdiction to plan for (demand and sites inside it); None: the city.
    budgets
        Most new cameras per jurisdiction code (a site counts for the first listed
        jurisdiction that covers it).
    method, time_limit_s
        "greedy" (greedy + 1-swap) or "ilp" (HiGHS, warm-started, time limit in seconds).
    road_level, road_weight_per_m
        Uncovered road stretches at ``road_level`` become demand, each metre weighing
        ``road_weight_per_m`` (0: only reported).
    entry_weight
        Weight of each entry road lacking a checkpoint (seen at recognise; 0: only reported).
    spacing_m, seed
        Demand sampling cell in metres and its seed.
    lenses, azimuth_step_deg, pole_spacing_m, facade_spacing_m, reach_m
        Candidate generation (see :mod:`gis.placement_sites`).
    alarm_factor
        Weight blind-spot points up by past alarm density (0: off).
    curve_max
        Largest k of the "coverage vs number of cameras" curve (default max(2p, 20)).
    rerun_coverage
        Compute a fresh coverage run first (default: use the latest, computing one if none).
    workers
        Processes for the occlusion step.
    save
        Write the proposal to the store.

    Raises
    ------
    PlacementRunError
        Unknown jurisdiction, nothing to cover.
    """
    t_all = time.perf_counter()
    with engine.connect() as conn:
        run_id = store_cov.latest_run(conn)
    if run_id is None or rerun_coverage:
        from analysis.coverage_run import run_coverage

        if progress is not None:
            progress("coverage run (no usable run stored)" if run_id is None
                     else "coverage run (asked for)")  # fmt: skip
        run_id = run_coverage(engine, workers=workers).run_id
        assert run_id is not None
    if progress is not None:
        progress(f"read city and coverage run {run_id}")
    with engine.connect() as conn:
        inputs = store_cov.read_inputs(conn)
        info = store_pl.run_info(conn, run_id)
        blind = store_pl.read_blind_spots(conn, run_id)
        gaps = store_pl.read_road_gaps(conn, run_id, road_level)
        alarms = store_cov.alarms_since(conn) if alarm_factor > 0 else None
    jur = inputs["jurisdictions"]
    crs = metric_crs_for(jur if len(jur) else inputs["cameras"])
    report = ProposalReport(proposal_id=None, coverage_run_id=run_id, crs=crs.to_string())
    report.timings_s["read"] = round(time.perf_counter() - t_all, 3)
    target_h = float(info["parameters"].get("target_height_m", 0.0) or 0.0)
    if info["stale"]:
        report.assumptions.append(
            f"the camera inventory changed after coverage run {run_id}; its blind spots may be "
            "out of date (use --rerun-coverage)")  # fmt: skip
    report.assumptions.append("no water or other no-mount polygons are stored: sites are only "
                              "kept out of buildings and inside the jurisdiction")  # fmt: skip
    m = {k: v.to_crs(crs) for k, v in inputs.items()}
    jm = m["jurisdictions"]
    city_rows = jm[jm["level"] == "city"]
    city = (city_rows if len(city_rows) else jm).union_all() if len(jm) else None
    if jurisdiction is not None:
        hit = jm[jm["code"] == jurisdiction]
        if len(hit) == 0:
            known = ", ".join(sorted(jm["code"].astype(str)))
            raise PlacementRunError(f"unknown jurisdiction {jurisdiction!r}; known: {known}")
        scope = hit.union_all()
    else:
        scope = city
    buildings = m["buildings"]

    done = _step(report, "demand", progress)
    blind_m = blind.to_crs(crs)
    if scope is not None and len(blind_m):
        geoms = _valid(blind_m.geometry.to_numpy())
        scope = _valid(np.array([scope], dtype=object))[0]
        blind_m = blind_m.set_geometry(
            gpd.GeoSeries(shapely.intersection(geoms, scope), index=blind_m.index, crs=crs))
        blind_m = blind_m[~shapely.is_empty(blind_m.geometry.to_numpy())]
    frames = [pdem.area_demand(
        blind_m, spacing_m=spacing_m, seed=seed,
        alarms=None if alarms is None else alarms.to_crs(crs).geometry.to_numpy(),
        alarm_factor=alarm_factor)]  # fmt: skip
    road_frame = m["roads"].rename(columns={"id": "road_id"})
    rd = pdem.road_demand(road_frame, gaps, level=road_level, weight_per_m=road_weight_per_m)
    if scope is not None and len(rd):
        rd = rd[shapely.covers(scope, rd.geometry.to_numpy())]
    frames.append(rd)
    n_entries_open = 0
    if city is not None and not city.is_empty:
        entries = groads.entry_roads(road_frame, city)
        cps = m["checkpoints"].rename(columns={"id": "checkpoint_id"})
        cps["directions"] = [[d for d in (ds or []) if d in ("in", "out", "both")]
                             for ds in cps["directions"]]  # fmt: skip
        comp = groads.checkpoint_completeness(entries, cps)
        ed = pdem.entry_demand(comp, road_frame, city, weight=entry_weight)
        if scope is not None and len(ed):
            ed = ed[shapely.dwithin(scope, ed.geometry.to_numpy(), 1.0)]
        n_entries_open = len(ed)
        frames.append(ed)
    demand = pd.concat([f for f in frames if len(f)], ignore_index=True) if any(
        len(f) for f in frames) else frames[0]  # fmt: skip
    demand = gpd.GeoDataFrame(demand, geometry="geometry", crs=crs)
    if len(demand) == 0 or float(demand["weight"].sum()) <= 0:
        raise PlacementRunError(f"nothing to cover: coverage run {run_id} left no blind spot "
                                "in scope (and no weighted road/entry demand)")  # fmt: skip
    report.sizes["demand_points"] = len(demand)
    done()

    done = _step(report, "candidates", progress)
    cams = m["cameras"].rename(columns={"device_id": "camera_id"})
    if scope is not None:
        cams = cams[shapely.covers(scope, cams.geometry.to_numpy())]
    weighted = demand.geometry.to_numpy()[demand["weight"].to_numpy() > 0]
    t_sites = time.perf_counter()
    sites = psites.candidate_sites(
        roads=m["roads"], buildings=buildings, cameras=cams, area=scope, near=weighted,
        reach_m=reach_m, pole_spacing_m=pole_spacing_m, facade_spacing_m=facade_spacing_m)
    t_configs = time.perf_counter()
    report.timings_s["sites"] = round(t_configs - t_sites, 3)
    configs = psites.candidate_configs(sites, lenses=lenses, azimuth_step_deg=azimuth_step_deg,
                                       target_height_m=target_h)  # fmt: skip
    report.timings_s["configs"] = round(time.perf_counter() - t_configs, 3)
    report.sizes.update(sites=len(sites), configs=len(configs))
    for kind, n in sites["kind"].value_counts().sort_index().items():
        report.sizes[f"sites_{kind}"] = int(n)
    done()

    done = _step(report, "coverage_matrix", progress,
                 f"{len(configs):,} configurations x {len(demand):,} points")
    mat = pdem.coverage_matrix(configs, demand, buildings, target_height_m=target_h,
                               workers=workers)  # fmt: skip
    report.assumptions.extend(mat.notes)
    report.timings_s.update({f"matrix_{k}": round(v, 3) for k, v in mat.timings_s.items()})
    inst = CoverageInstance.from_pairs(
        mat.config_index, mat.demand_index, demand["weight"].to_numpy(dtype=float),
        candidate_ids=list(configs["camera_id"]), demand_ids=list(demand["demand_id"]))
    report.sizes["nonzeros"] = inst.nnz
    done()

    # jurisdiction of each site (deepest level) and the budget groups
    site_code = _codes_at(jm, configs.geometry.to_numpy())
    group_of = group_budget = None
    if budgets:
        unknown = sorted(set(budgets) - set(jm["code"].astype(str)))
        if unknown:
            raise PlacementRunError(f"budget for unknown jurisdiction(s) {unknown}")
        grp = np.full(len(configs), None, dtype=object)
        pts = configs.geometry.to_numpy()
        for code in budgets:  # first listed wins
            poly = jm[jm["code"] == code].union_all()
            grp[(grp == None) & shapely.covers(poly, pts)] = code  # noqa: E711
        group_of = {c: g for c, g in zip(configs["camera_id"], grp, strict=True) if g is not None}
        group_budget = {str(k): int(v) for k, v in budgets.items()}

    done = _step(report, "solve", progress, f"{method}, " + ("cover all" if cover_all
                                                           else f"p={cameras}"))  # fmt: skip
    if cover_all:
        result = set_cover(inst, method=method,  # type: ignore[arg-type]
                           time_limit_s=time_limit_s, group_of=group_of,
                           group_budget=group_budget)  # fmt: skip
        k_max = int(curve_max) if curve_max is not None else len(result.selected)
    else:
        result = max_coverage(inst, int(cameras), method=method,  # type: ignore[arg-type]
                              time_limit_s=time_limit_s, group_of=group_of,
                              group_budget=group_budget)  # fmt: skip
        k_max = int(curve_max) if curve_max is not None else max(2 * int(cameras), 20)
    greedy_curve, bound_curve = coverage_curve(inst, k_max, group_of=group_of,
                                               group_budget=group_budget)  # fmt: skip
    done()
    report.solver = {k: v for k, v in result.to_dict().items()
                     if k not in ("curve", "uncoverable", "selected", "fixed")}  # fmt: skip

    # what each pick adds, in the solver's order of marginal gain
    sel = np.asarray(result.selected_index, dtype=np.int64)
    covered = np.zeros(len(demand), dtype=bool)
    area = demand["area_m2"].to_numpy(dtype=float)
    length = demand["length_m"].to_numpy(dtype=float)
    kind = demand["kind"].to_numpy(dtype=object)
    w = demand["weight"].to_numpy(dtype=float)
    gains: list[dict[str, float]] = []
    for c in sel:
        d = inst.covers(int(c))
        new = d[~covered[d]]
        covered[new] = True
        gains.append({"gain_weight": float(w[new].sum()), "gain_m2": float(area[new].sum()),
                      "gain_road_m": float(length[new][kind[new] == "road"].sum()),
                      "gain_entries": int((kind[new] == "entry").sum())})  # fmt: skip
    level = demand["required_level"].to_numpy(dtype=object)
    blind_total = float(area.sum())
    by_level = {}
    for lv in LEVELS:
        mask = (kind == "area") & (level == lv)
        if mask.any():
            by_level[lv] = {"blind_m2": round(float(area[mask].sum()), 1),
                            "gained_m2": round(float(area[mask & covered].sum()), 1)}  # fmt: skip
    road_total = float(length[kind == "road"].sum())
    gained_m2 = float(area[covered].sum())
    report.figures = {
        "cameras": int(len(sel)),
        "blind_m2": round(blind_total, 1),
        "gained_m2": round(gained_m2, 1),
        "gained_pct_of_blind": round(100.0 * gained_m2 / blind_total, 2) if blind_total else 0.0,
        "by_level": by_level,
        "road_level": road_level,
        "unseen_road_km": round(road_total / 1000.0, 3),
        "gained_road_km": round(float(length[covered & (kind == "road")].sum()) / 1000.0, 3),
        "entry_roads_open": n_entries_open,
        "entry_roads_closed": int((covered & (kind == "entry")).sum()),
        "covered_weight": round(result.covered_weight, 1),
        "total_weight": round(result.total_weight, 1),
        "upper_bound_weight": round(result.lp_bound, 1),
        "gap_pct": round(100.0 * result.gap, 3),
        "status": result.status,
        "objective": result.objective,
    }
    if cover_all:
        # what no candidate can see: reported with its size, never silently left out
        no_cand = np.isin(np.asarray(demand["demand_id"], dtype=object),
                          np.asarray(result.uncoverable, dtype=object))  # fmt: skip
        report.figures.update(
            lower_bound_cameras=int(round(result.lp_bound)),
            upper_bound_weight=round(result.coverable_weight, 1),
            uncoverable_points=int(no_cand.sum()),
            uncoverable_weight=round(float(w[no_cand].sum()), 1),
            uncoverable_m2=round(float(area[no_cand].sum()), 1),
            uncoverable_road_km=round(float(length[no_cand & (kind == "road")].sum()) / 1000, 3),
            uncoverable_entries=int((no_cand & (kind == "entry")).sum()),
            uncoverable_ids=list(result.uncoverable[:200]),
            uncovered_after=int(result.uncovered_count),
        )  # fmt: skip
    total_w = max(result.total_weight, 1e-12)
    report.curve = {
        "k": list(range(len(greedy_curve))),
        "greedy_pct": [round(100.0 * v / total_w, 3) for v in greedy_curve],
        "bound_pct": [round(100.0 * v / total_w, 3) for v in bound_curve],
        "chosen_pct": [round(100.0 * v / total_w, 3) for v in result.curve],
    }

    # the proposed sites, with their visible area at the loosest computed level
    chosen = configs.iloc[sel].reset_index(drop=True)
    vis = mat.visible
    views = []
    for cid in chosen["camera_id"]:
        rows = vis[vis["camera_id"] == cid]
        views.append(shapely.union_all(rows.geometry.to_numpy()) if len(rows)
                     else shapely.MultiPolygon())  # fmt: skip
    out = chosen.drop(columns=["building_index"]).assign(
        rank=np.arange(1, len(chosen) + 1), config_id=chosen["camera_id"],
        jurisdiction_code=site_code[sel] if len(sel) else [],
        view_geom=gpd.GeoSeries(views, crs=crs).to_crs(4326).to_numpy(),
        **{k: [g[k] for g in gains] for k in ("gain_weight", "gain_m2", "gain_road_m",
                                              "gain_entries")},
    )  # fmt: skip
    report.sites = gpd.GeoDataFrame(out, geometry="geometry", crs=crs).to_crs(4326)
    report.timings_s["compute"] = round(time.perf_counter() - t_all, 3)
    if save:
        done = _step(report, "write", progress)
        params = {"cameras": cameras, "cover_all": cover_all, "jurisdiction": jurisdiction,
                  "budgets": dict(budgets or {}),
                  "method": method, "time_limit_s": time_limit_s, "road_level": road_level,
                  "road_weight_per_m": road_weight_per_m, "entry_weight": entry_weight,
                  "spacing_m": spacing_m, "seed": seed, "lenses": [ln.key for ln in lenses],
                  "azimuth_step_deg": azimuth_step_deg, "pole_spacing_m": pole_spacing_m,
                  "facade_spacing_m": facade_spacing_m, "reach_m": reach_m,
                  "alarm_factor": alarm_factor, "target_height_m": target_h}  # fmt: skip
        with engine.begin() as conn:
            report.proposal_id = store_pl.write_proposal(conn, {
                "coverage_run_id": run_id, "jurisdiction_code": jurisdiction,
                "budget": len(sel) if cover_all else cameras, "method": method,
                "solver_status": result.status,
                "gap": result.gap, "parameters": params,
                "results": {"figures": report.figures, "curve": report.curve,
                            "solver": report.solver, "sizes": report.sizes,
                            "assumptions": report.assumptions,
                            "timings_s": report.timings_s}}, report.sites)  # fmt: skip
            audit.record(conn, principal or cli_principal(), "placement.propose",
                         str(report.proposal_id),
                         details={"jurisdiction": jurisdiction, "cameras": cameras,
                                  "cover_all": cover_all, "method": method})  # fmt: skip
        done()
    report.timings_s["total"] = round(time.perf_counter() - t_all, 3)
    return report


def _valid(geoms: np.ndarray) -> np.ndarray:
    """Geometries repaired where reprojection left them invalid."""
    out = np.asarray(geoms, dtype=object).copy()
    bad = ~shapely.is_valid(out)
    if bad.any():
        out[bad] = shapely.make_valid(out[bad])
    return out


def _codes_at(jur: gpd.GeoDataFrame, pts: np.ndarray) -> np.ndarray:
    """Code of the deepest jurisdiction covering each point (None outside all)."""
    out = np.full(len(pts), None, dtype=object)
    for lvl in ("city", "district", "station"):  # deeper levels overwrite
        rows = jur[jur["level"] == lvl]
        if len(rows) == 0 or len(pts) == 0:
            continue
        pi, ji = shapely.STRtree(rows.geometry.to_numpy()).query(pts, predicate="covered_by")
        out[pi] = rows["code"].to_numpy(dtype=object)[ji]
    return out


# --------------------------------------------------------------------------- accept


def accept(engine: Engine, proposal_id: int, ranks: Sequence[int] | None = None,
           principal: Principal | None = None) -> list[dict[str, Any]]:
    """Insert a proposal's sites (those of ``ranks``, or all not accepted yet) as cameras, in
    one transaction.

    Each camera gets a GB/T 28181 id: the 8-digit centre code of the deepest jurisdiction
    covering the site (a 6-digit division code + "00" where the jurisdiction code is not 8
    digits), industry 00, type 132 (IP camera), network 0, the next free serial. Source
    "placement", status "unknown", attributes name the proposal and rank.

    Returns
    -------
    list of dict
        ``rank``, ``camera_id`` (store id), ``device_id``.

    ``principal`` (None: the operator) must be allowed to ``placement`` and may accept only
    sites inside its jurisdiction; the acceptance is one ``placement.accept`` audit entry.

    Raises
    ------
    store.placement.ProposalError
        Unknown proposal, unknown rank, a site already accepted, a site outside every
        jurisdiction or outside the principal's.
    """
    principal = principal or cli_principal()
    access.check(principal, "placement")
    added = []
    with engine.begin() as conn:
        sites = store_pl.read_sites(conn, proposal_id)
        if ranks:
            missing = sorted(set(ranks) - set(sites["rank"]))
            if missing:
                raise store_pl.ProposalError(f"proposal {proposal_id} has no site of rank "
                                             f"{missing}; ranks 1..{len(sites)}")  # fmt: skip
            sites = sites[sites["rank"].isin(list(ranks))]
        else:  # all sites not accepted yet
            sites = sites[sites["accepted_camera_id"].isna()]
            if len(sites) == 0:
                raise store_pl.ProposalError(f"proposal {proposal_id}: every site is already "
                                             "accepted")  # fmt: skip
        done = sites[sites["accepted_camera_id"].notna()]
        if len(done):
            raise store_pl.ProposalError(
                f"proposal {proposal_id}: site(s) of rank {sorted(done['rank'].tolist())} "
                "already accepted")  # fmt: skip
        for _, s in sites.iterrows():
            g = s.geometry
            j = store_pl.jurisdiction_at(conn, g.x, g.y)
            if j is None:
                raise store_pl.ProposalError(f"proposal {proposal_id} rank {s['rank']}: the site "
                                             "lies outside every jurisdiction")  # fmt: skip
            if not principal.scope.sees_jurisdiction(int(j["id"])):
                raise store_pl.ProposalError(
                    f"proposal {proposal_id} rank {s['rank']}: the site lies in {j['code']}, "
                    f"outside your jurisdiction {principal.scope.root_code}")  # fmt: skip
            code = str(j["code"])
            centre = code if len(code) == 8 and code.isdigit() else \
                str(j["admin_code"] or code)[:6] + "00"
            prefix = f"{centre}{INDUSTRY}{IP_CAMERA}{POLICE_NETWORK}"
            device_id = make_device_id(centre, INDUSTRY, IP_CAMERA, POLICE_NETWORK,
                                       store_pl.max_serial(conn, prefix) + 1)  # fmt: skip
            kind, mount = _KIND.get(str(s["site_kind"]), ("road", "pole"))
            cam_id = store_pl.insert_camera(conn, {
                "device_id": device_id,
                "name": f"Proposed camera {s['rank']} of proposal {proposal_id} "
                        f"({s['site_kind']}, {s['lens_model']})",
                "kind": kind, "camera_type": "fixed", "mount": mount,
                "mount_height_m": float(s["mount_height_m"]),
                "azimuth_deg": float(s["azimuth_deg"]) % 360.0, "tilt_deg": float(s["tilt_deg"]),
                "lens_model": str(s["lens_model"]),
                "sensor_width_mm": float(s["sensor_width_mm"]),
                "sensor_height_mm": float(s["sensor_height_mm"]),
                "focal_length_mm": float(s["focal_length_mm"]), "hfov_deg": float(s["hfov_deg"]),
                "resolution_w_px": int(s["resolution_w_px"]),
                "resolution_h_px": int(s["resolution_h_px"]),
                "status": "unknown", "source": "placement", "jurisdiction_id": int(j["id"]),
                "attributes": {"placement_proposal_id": proposal_id, "placement_rank":
                               int(s["rank"]), "config_id": str(s["config_id"])},
                "lon": g.x, "lat": g.y,
            })  # fmt: skip
            added.append({"rank": int(s["rank"]), "site_id": int(s["id"]), "camera_id": cam_id,
                          "device_id": device_id})  # fmt: skip
        status = store_pl.mark_accepted(conn, proposal_id, [a["site_id"] for a in added],
                                        [a["camera_id"] for a in added])  # fmt: skip
        audit.record(conn, principal, "placement.accept", str(proposal_id),
                     details={"ranks": [a["rank"] for a in added],
                              "cameras": [a["device_id"] for a in added],
                              "status": status})  # fmt: skip
    for a in added:
        a["proposal_status"] = status
    return added


def what_if(sites: gpd.GeoDataFrame) -> dict[str, Any]:
    """A coverage what-if (``{"add": [...]}``) adding a proposal's sites as cameras."""
    add = []
    for i, s in enumerate(sites.to_dict("records")):
        g = sites.geometry.iloc[i]
        add.append({"device_id": f"proposed-{s['rank']}", "lon": g.x, "lat": g.y,
                    **{k: s[k] for k in ("mount_height_m", "azimuth_deg", "tilt_deg",
                                         "sensor_width_mm", "sensor_height_mm",
                                         "focal_length_mm", "hfov_deg", "resolution_w_px",
                                         "resolution_h_px")}})  # fmt: skip
    return {"add": add}


# --------------------------------------------------------------------------- the curve plot


def curve_svg(curve: Mapping[str, Sequence[float]], *, title: str, budget: int,
              width: int = 640, height: int = 360) -> str:  # fmt: skip
    """The "coverage vs number of cameras" plot as a self-contained SVG document.

    ``curve`` as :attr:`ProposalReport.curve`: ``k``, ``greedy_pct`` (greedy covered weight,
    % of the demand weight), ``bound_pct`` (proven upper bound) and ``chosen_pct`` (the
    proposal, in order of marginal gain).
    """
    left, right, top, bottom = 56, 16, 36, 44
    ks = list(curve["k"])
    series = [("bound_pct", "#999999", "proven upper bound", "4 3"),
              ("greedy_pct", "#1f77b4", "greedy", ""),
              ("chosen_pct", "#d62728", f"proposal (p = {budget})", "")]  # fmt: skip
    top_pct = max([1e-9, *(v for key, *_ in series for v in curve.get(key, []))])
    y_max = _nice(top_pct * 1.05)
    x_max = max(1, max(ks) if ks else 1)

    def px(k: float) -> float:
        return left + (width - left - right) * k / x_max

    def py(v: float) -> float:
        return height - bottom - (height - top - bottom) * v / y_max

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{width / 2}" y="18" text-anchor="middle" font-size="13">'
             f'{html.escape(title)}</text>']  # fmt: skip
    for i in range(6):
        v = y_max * i / 5
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{py(v):.1f}" y2="{py(v):.1f}" '
                     f'stroke="#eeeeee"/><text x="{left - 6}" y="{py(v) + 4:.1f}" '
                     f'text-anchor="end">{v:g} %</text>')  # fmt: skip
    step = max(1, math.ceil(x_max / 10))
    for k in range(0, x_max + 1, step):
        parts.append(f'<text x="{px(k):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
                     f'{k}</text>')  # fmt: skip
    parts.append(f'<text x="{(left + width - right) / 2}" y="{height - 8}" text-anchor="middle">'
                 'new cameras</text>')  # fmt: skip
    parts.append(f'<text x="14" y="{(top + height - bottom) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(top + height - bottom) / 2})">'
                 'blind-spot demand covered (weighted)</text>')  # fmt: skip
    parts.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}" '
                 'stroke="black"/>')  # fmt: skip
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" '
                 f'y2="{height - bottom}" stroke="black"/>')  # fmt: skip
    for n, (key, colour, label, dash) in enumerate(series):
        vals = list(curve.get(key, []))
        if not vals:
            continue
        pts = " ".join(f"{px(k):.1f},{py(v):.1f}" for k, v in enumerate(vals))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash_attr} '
                     f'points="{pts}"/>')  # fmt: skip
        ly = top + 6 + 14 * n
        parts.append(f'<line x1="{left + 10}" x2="{left + 30}" y1="{ly}" y2="{ly}" '
                     f'stroke="{colour}" stroke-width="2"{dash_attr}/><text x="{left + 36}" '
                     f'y="{ly + 4}">{html.escape(label)}</text>')  # fmt: skip
    parts.append("</svg>")
    return "\n".join(parts)


def _nice(v: float) -> float:
    """A round axis maximum at or above ``v``."""
    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= v:
            return float(m * mag)
    return float(10 * mag)


def curve_html(report: ProposalReport) -> str:
    """A self-contained HTML page: the curve plot, the figures and the proposed sites."""
    f = report.figures
    svg = curve_svg(report.curve, title=f"Proposal {report.proposal_id or '(not saved)'}: "
                    "coverage vs number of new cameras", budget=f.get("cameras", 0))  # fmt: skip
    rows = "".join(
        f"<tr><td>{s['rank']}</td><td>{html.escape(str(s['site_kind']))}</td>"
        f"<td>{s['lat']:.6f}, {s['lon']:.6f}</td><td>{s['azimuth_deg']:.1f}°</td>"
        f"<td>{html.escape(str(s['lens_model']))}</td><td>{s['mount_height_m']:.1f} m</td>"
        f"<td>{s['gain_m2']:,.0f}</td></tr>"
        for s in _site_records(report.sites) if report.sites is not None
    ) if report.sites is not None else ""  # fmt: skip
    return (
        "<!doctype html><meta charset='utf-8'><title>Sightline placement proposal</title>"
        "<body style='font-family:sans-serif'>" + svg +
        f"<p>Blind area gained: {f.get('gained_m2', 0):,.0f} m² of {f.get('blind_m2', 0):,.0f} "
        f"m² ({f.get('gained_pct_of_blind', 0)} %); solver status {f.get('status')}, gap "
        f"{f.get('gap_pct')} % to the proven bound.</p>"
        "<table border='1' cellpadding='3' style='border-collapse:collapse'><tr><th>rank</th>"
        "<th>site</th><th>lat, lon</th><th>azimuth (true)</th><th>lens</th><th>mount</th>"
        "<th>m² gained</th></tr>" + rows + "</table></body>"
    )
