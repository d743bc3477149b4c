"""Where new cameras close the most gap: solvers on an abstract covering instance.

`max_coverage` picks at most ``p`` new candidates maximising covered demand weight (MCLP);
`set_cover` picks the fewest new candidates covering every coverable demand item (LSCP). Both
run a lazy greedy, improve it (1-swap / redundancy removal) and, with ``method="ilp"``, solve the
integer programme with HiGHS warm-started from it. Every result states a proven bound and its gap.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gis.placement_ilp import (
    IlpModel,
    max_coverage_model,
    prune_dominated,
    set_cover_model,
    solve_lp,
    solve_model,
)
from gis.placement_instance import (
    CoverageInstance,
    FloatArray,
    IntArray,
    Problem,
    gather_rows,
    prepare,
)

Status = Literal["optimal", "feasible", "heuristic", "infeasible"]
Method = Literal["greedy", "ilp"]
_EPS = 1e-9
_DENSE_SWAP_CELLS = 4_000_000  # chosen x candidates table of swap values up to this size


@dataclass(frozen=True, eq=False)
class PlacementResult:
    """The answer of a placement solver.

    Attributes
    ----------
    objective : "max_coverage" or "set_cover"
    method : "greedy", "greedy+swap", "greedy+prune" or "ilp"
    status : "optimal", "feasible", "heuristic" or "infeasible"
        ``optimal`` only when HiGHS proved it; ``feasible`` for an ILP stopped by its time limit;
        ``heuristic`` for greedy answers; ``infeasible`` when group budgets leave coverable
        demand uncovered in set cover.
    selected : tuple of str
        New candidate ids (fixed ones excluded), in greedy order of marginal gain.
    selected_index : (k,) int64
        Their candidate indices.
    fixed : tuple of str
        The fixed candidates, always part of the answer.
    covered_weight, total_weight, coverable_weight : float
        Demand weight covered by fixed + selected; of all demand; coverable by any allowed
        candidate.
    lp_bound : float
        Proven bound on the optimum: an upper bound on covered weight (max coverage) or a lower
        bound on the number of new candidates (set cover). ``bound_source`` says where it comes
        from: ``highs`` (HiGHS's MIP dual bound, never above the LP relaxation), ``submodular``
        (greedy's data-dependent bound) or ``packing`` (demand items no two of which share a
        candidate). The tightest available is reported.
    gap : float
        ``|value - bound| / value`` with value = covered weight or number selected (0 if both 0).
    runtime_s : float
    curve : tuple of float
        Covered weight with the fixed candidates only, then after each pick in ``selected``
        order: the "coverage vs number of cameras" curve (length ``len(selected) + 1``).
    uncoverable : tuple of str
        Demand ids of weight > 0 that no fixed or allowed candidate covers.
    uncovered_count : int
        Demand items of weight > 0 left uncovered by the answer.
    greedy_value : float
        Value of the plain greedy answer (covered weight or count), for comparison.
    details : dict
        Solver particulars (HiGHS status, nodes, model size, swaps made).
    """

    objective: Literal["max_coverage", "set_cover"]
    method: str
    status: Status
    selected: tuple[str, ...]
    selected_index: IntArray
    fixed: tuple[str, ...]
    covered_weight: float
    total_weight: float
    coverable_weight: float
    lp_bound: float
    bound_source: str
    gap: float
    runtime_s: float
    curve: tuple[float, ...]
    uncoverable: tuple[str, ...]
    uncovered_count: int
    greedy_value: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> float:
        """The objective value: covered weight, or the number of new candidates for set cover."""
        if self.objective == "set_cover":
            return float(len(self.selected))
        return self.covered_weight

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready mapping (ids, numbers, lists)."""
        return {
            "objective": self.objective,
            "method": self.method,
            "status": self.status,
            "selected": list(self.selected),
            "n_selected": len(self.selected),
            "fixed": list(self.fixed),
            "covered_weight": self.covered_weight,
            "total_weight": self.total_weight,
            "coverable_weight": self.coverable_weight,
            "covered_fraction": (
                self.covered_weight / self.total_weight if self.total_weight > 0 else 1.0
            ),
            "lp_bound": self.lp_bound,
            "bound_source": self.bound_source,
            "gap": self.gap,
            "runtime_s": self.runtime_s,
            "curve": list(self.curve),
            "uncoverable": list(self.uncoverable),
            "uncovered_count": self.uncovered_count,
            "greedy_value": self.greedy_value,
            **{k: v for k, v in self.details.items() if k not in {"curve"}},
        }


# -- public verbs -----------------------------------------------------------------------------
def max_coverage(
    inst: CoverageInstance,
    p: int,
    *,
    method: Method = "greedy",
    swap: bool = True,
    perturb_rounds: int = 3,
    fixed: Iterable[str] = (),
    forbidden: Iterable[str] = (),
    group_of: Mapping[str, str] | None = None,
    group_budget: Mapping[str, int] | None = None,
    time_limit_s: float = 10.0,
    mip_rel_gap: float = 0.0,
    threads: int | None = None,
) -> PlacementResult:
    """Best ``p`` new candidates: maximise the demand weight covered (maximal covering).

    Parameters
    ----------
    inst : CoverageInstance
    p : int
        Most new candidates to choose (fixed ones are extra and use no budget). Fewer are chosen
        when no further candidate adds coverage.
    method : "greedy" or "ilp"
        ``greedy``: lazy greedy, then 1-swap improvement unless ``swap=False`` (milliseconds).
        ``ilp``: the same, then HiGHS on the integer programme warm-started from it.
    perturb_rounds : int
        Kicks of the iterated local search after 1-swap (drop a seeded random fifth of the
        picks, refill greedily, 1-swap again, keep only if better; 0: plain 1-swap). A fixed
        count, not a clock, so answers are reproducible.
    fixed, forbidden, group_of, group_budget
        Planner's rules, see `gis.placement_instance.prepare`.
    time_limit_s : float
        HiGHS time limit in seconds (``ilp`` only).
    mip_rel_gap : float
        Relative gap at which HiGHS may stop and call its answer optimal (default 0: proven).
    threads : int, optional
        HiGHS threads (default: HiGHS's choice).

    Returns
    -------
    PlacementResult

    Raises
    ------
    InstanceError
        Unknown ids in the rules, a candidate both fixed and forbidden, a bad budget.
    """
    if isinstance(p, bool) or int(p) != p or p < 0:
        raise ValueError(f"p must be an integer >= 0, not {p!r}")
    t0 = time.perf_counter()
    prob = prepare(
        inst, fixed=fixed, forbidden=forbidden, group_of=group_of, group_budget=group_budget
    )
    w = inst.demand_weight
    picks, _ = _lazy_greedy(prob, int(p), w)
    greedy_value = _covered(prob, picks)
    details: dict[str, Any] = {}
    best = picks
    method_name = "greedy"
    if swap and picks:
        best, n_swaps = _swap_improve(prob, picks)
        details["swaps"] = n_swaps
        if perturb_rounds > 0:
            best, n_kicks = _perturb_improve(prob, best, int(p), int(perturb_rounds))
            details["perturb_rounds"] = int(perturb_rounds)
            details["perturb_improved"] = n_kicks
        method_name = "greedy+swap"
    bound = min(
        _submodular_bound(prob, np.asarray([], dtype=np.int64), int(p)),
        _submodular_bound(prob, np.asarray(best, dtype=np.int64), int(p)),
        float(w[prob.coverable].sum()),
    )
    bound_source = "submodular"
    status: Status = "heuristic"
    if method == "ilp" and best:
        # the LP's value without solving the LP: a few hundred cheap subgradient steps on the
        # pruned problem, so a bound near the LP one exists even when HiGHS runs out of time
        reduced = dataclasses.replace(prob, free=prune_dominated(prob, keep=_arr(best))[0])
        t_lag = time.perf_counter()
        lag, n_iter = _lagrangian_bound(reduced, int(p), best, 400,
                                        t0 + 0.25 * time_limit_s)  # fmt: skip
        details.update(lagrangian_bound=lag, lagrangian_iterations=n_iter,
                       lagrangian_runtime_s=round(time.perf_counter() - t_lag, 3))  # fmt: skip
        if lag < bound:
            bound, bound_source = lag, "lagrangian"
    if method == "ilp":
        method_name = "ilp"
        w_of = inst.demand_weight

        def better(new: IntArray, old: list[int]) -> bool:
            return _covered(prob, new.tolist()) > _covered(prob, old) + _EPS * float(w_of.sum())

        best, optimal, bounds, info = _exact(
            prob, "max_coverage", int(p), best, better,
            time_limit_s - (time.perf_counter() - t0), mip_rel_gap, threads,
            value=lambda b: _covered(prob, b))  # fmt: skip
        details.update(info)
        status = "optimal" if optimal else "feasible"
        if optimal and mip_rel_gap == 0:  # HiGHS proved it (its bound may be a hair off)
            bounds.append(_covered(prob, best))
        for b in bounds:
            if b < bound:
                bound, bound_source = b, "highs"
    if method == "ilp":
        _time_report(details, time_limit_s, time.perf_counter() - t0)
    order, curve = _order_by_gain(prob, best, w)
    value = curve[-1]
    bound = max(bound, value)  # a bound below the value can only be solver tolerance
    return _result(prob, "max_coverage", method_name, status, order, curve, bound,
                   bound_source, _gap(value, bound), time.perf_counter() - t0, greedy_value,
                   details)  # fmt: skip


def set_cover(
    inst: CoverageInstance,
    *,
    method: Method = "greedy",
    fixed: Iterable[str] = (),
    forbidden: Iterable[str] = (),
    group_of: Mapping[str, str] | None = None,
    group_budget: Mapping[str, int] | None = None,
    time_limit_s: float = 10.0,
    mip_rel_gap: float = 0.0,
    threads: int | None = None,
) -> PlacementResult:
    """Fewest new candidates covering every coverable demand item of weight > 0 (set cover).

    Demand that no fixed or allowed candidate covers is reported in ``uncoverable`` and left out
    of the requirement; demand of weight 0 need not be covered. With group budgets the
    requirement may be impossible: status ``infeasible`` and the best-effort greedy answer.

    Parameters and raised errors as for `max_coverage` (no ``p``).
    """
    t0 = time.perf_counter()
    prob = prepare(
        inst, fixed=fixed, forbidden=forbidden, group_of=group_of, group_budget=group_budget
    )
    w = inst.demand_weight
    unit = ((w > 0) & prob.coverable).astype(np.float64)
    picks, _ = _lazy_greedy(prob, inst.n_candidates, unit)
    greedy_value = float(len(picks))
    best = _prune_redundant(prob, picks, unit)
    method_name = "greedy+prune"
    required = unit > 0
    missing = required & ~_covered_mask(prob, best)
    status: Status = "infeasible" if missing.any() else "heuristic"
    bound = float(_packing_bound(prob, required))
    bound_source = "packing"
    details: dict[str, Any] = {}
    if method == "ilp" and status != "infeasible":
        method_name = "ilp"

        def better(new: IntArray, old: list[int]) -> bool:
            return new.size < len(old) and not (required & ~_covered_mask(prob, new.tolist())).any()

        best, optimal, bounds, info = _exact(
            prob, "set_cover", 0, best, better, time_limit_s - (time.perf_counter() - t0),
            mip_rel_gap, threads, value=lambda b: float(len(b)))  # fmt: skip
        details.update(info)
        status = "optimal" if optimal else "feasible"
        if optimal and mip_rel_gap == 0:  # proved; HiGHS rounds its bound up, integral costs
            bounds.append(float(len(best)))
        for b in bounds:
            hb = float(math.ceil(b - 1e-6))
            if hb > bound:
                bound, bound_source = hb, "highs"
    if method == "ilp" and status != "infeasible":
        _time_report(details, time_limit_s, time.perf_counter() - t0)
    order, curve = _order_by_gain(prob, best, w)
    bound = min(bound, float(len(order)))
    return _result(prob, "set_cover", method_name, status, order, curve, bound, bound_source,
                   _gap(float(len(order)), bound), time.perf_counter() - t0, greedy_value,
                   details)  # fmt: skip


def solve(
    inst: CoverageInstance,
    *,
    p: int | None = None,
    cover_all: bool = False,
    method: Method = "greedy",
    **rules: Any,
) -> PlacementResult:
    """`max_coverage` when ``p`` is given, `set_cover` when ``cover_all``; one of the two."""
    if (p is None) == (not cover_all):
        raise ValueError("give either p (best p candidates) or cover_all, not both or neither")
    if p is not None:
        return max_coverage(inst, p, method=method, **rules)
    return set_cover(inst, method=method, **rules)


def coverage_curve(
    inst: CoverageInstance, k_max: int, **rules: Any
) -> tuple[FloatArray, FloatArray]:
    """Greedy covered weight and its proven upper bound for k = 0..k_max new candidates.

    For the "coverage vs number of cameras" plot: the greedy curve is one run (greedy picks
    are nested); the bound at each k is the submodular bound of the greedy set of size k.
    ``rules`` as for `max_coverage` (fixed, forbidden, group_of, group_budget).
    """
    prob = prepare(inst, **rules)
    picks, curve = _lazy_greedy(prob, int(k_max), inst.demand_weight)
    bounds = [
        min(
            _submodular_bound(prob, np.asarray(picks[:k], dtype=np.int64), k),
            float(inst.demand_weight[prob.coverable].sum()),
        )  # fmt: skip
        for k in range(len(curve))
    ]
    return np.asarray(curve), np.asarray(bounds)


# -- exact -----------------------------------------------------------------------------------
def _exact(
    prob: Problem,
    objective: Literal["max_coverage", "set_cover"],
    p: int,
    best: list[int],
    better: Callable[[IntArray, list[int]], bool],
    time_limit_s: float,
    mip_rel_gap: float,
    threads: int | None,
    value: Callable[[list[int]], float] | None = None,
) -> tuple[list[int], bool, list[float], dict[str, Any]]:
    """HiGHS within ``time_limit_s``: reduce, LP relaxation, LP-guided restricted MIPs, full MIP.

    0. Candidates that cover no required demand or are dominated (`prune_dominated`) get no
       column; identical demand rows are merged (in the model builders). Neither changes the
       optimum or the LP bound.
    1. The LP relaxation by interior point gives the LP bound, a fractional answer and reduced
       costs. A column at 0 whose reduced cost shows that forcing it in would drop the LP bound
       below the incumbent's value (max coverage) or lift it to the incumbent's size (set cover)
       cannot be in a better answer and is fixed out (reduced-cost fixing).
    2. MIPs restricted to the candidates the LP uses above 0.5, 0.2, 0.1, 0.05 (plus the
       incumbent), each warm-started from the best answer so far, find good answers fast;
       they prove nothing about the full problem.
    3. The MIP on the reduced model, warm-started, with the time left: the only step that can
       prove optimality and tighten the bound below the LP's. Its bound holds for the full
       problem, since only columns that cannot beat the incumbent were left out.

    Returns the best answer, whether the MIP proved it optimal, the proven bounds found
    (LP optimum, MIP dual bound; objective units) and details for the result.
    """
    t0 = time.perf_counter()

    def left() -> float:
        return time_limit_s - (time.perf_counter() - t0)

    def build(pr: Problem) -> IlpModel:
        return max_coverage_model(pr, p) if objective == "max_coverage" else set_cover_model(pr)

    n_free = int(prob.free.sum())
    free, pruned = prune_dominated(prob, keep=_arr(best))
    prob = dataclasses.replace(prob, free=free)
    model = build(prob)
    details: dict[str, Any] = {
        "free_candidates": n_free,
        "pruned_empty": pruned["empty"],
        "pruned_dominated": pruned["dominated"],
        "model_columns": model.lp.num_col_,
        "model_rows": model.lp.num_row_,
        "demand_rows_merged": model.n_demand_rows,
        "reduce_runtime_s": round(time.perf_counter() - t0, 3),
    }
    if model.columns.size == 0 or model.n_demand_rows == 0:
        return best, True, [], details  # nothing to choose or nothing to gain: exact as is
    bounds: list[float] = []
    lp = solve_lp(model, time_limit_s=0.5 * left(), threads=threads)
    details["lp_runtime_s"] = round(lp.runtime_s, 3)
    details["lp_relaxation"] = lp.bound
    if lp.bound is not None:
        bounds.append(lp.bound)
    if lp.optimal and lp.bound is not None and lp.reduced_cost is not None and value is not None:
        incumbent = value(best)
        d = np.abs(lp.reduced_cost)
        at_zero = lp.x < 1e-9
        if objective == "max_coverage":
            out = at_zero & (lp.bound - d < incumbent - 1e-6 * max(abs(incumbent), 1.0))
        else:
            out = at_zero & (lp.bound + d > incumbent - 1 + 1e-6)
        out[np.isin(model.columns, best)] = False
        if out.any():
            free = prob.free.copy()
            free[model.columns[out]] = False
            prob = dataclasses.replace(prob, free=free)
            keep_cols = ~out
            lp = dataclasses.replace(lp, x=lp.x[keep_cols])
            model = build(prob)
        details["fixed_by_reduced_cost"] = int(out.sum())
        details["model_columns_after_fixing"] = int(model.columns.size)
    dive: list[dict[str, Any]] = []
    if lp.optimal:
        n_prev = -1
        for threshold in (0.5, 0.2, 0.1, 0.05):
            if left() < 0.1 * time_limit_s:
                break
            mask = np.zeros(prob.inst.n_candidates, dtype=bool)
            mask[model.columns[lp.x > threshold]] = True
            mask[best] = True
            k = int(mask.sum())
            if k >= model.columns.size:
                break  # that is the full model, solved next
            if k == n_prev:
                continue
            n_prev = k
            sub = solve_model(build(dataclasses.replace(prob, free=mask)), _arr(best),
                              time_limit_s=0.5 * left(), mip_rel_gap=mip_rel_gap,
                              threads=threads)  # fmt: skip
            dive.append({"lp_above": threshold, "candidates": k, "status": sub.model_status,
                         "runtime_s": round(sub.runtime_s, 3)})  # fmt: skip
            if sub.selected is not None and better(sub.selected, best):
                best = sub.selected.tolist()
            if not sub.optimal:
                break  # larger restrictions would not finish either
    details["restricted_mips"] = dive
    optimal = False
    if left() > 0.01:
        full = solve_model(model, _arr(best), time_limit_s=left(), mip_rel_gap=mip_rel_gap,
                           threads=threads)  # fmt: skip
        details.update(highs_status=full.model_status, highs_nodes=full.nodes,
                       highs_runtime_s=round(full.runtime_s, 3))  # fmt: skip
        if full.selected is not None and better(full.selected, best):
            best = full.selected.tolist()
        optimal = full.optimal
        if full.dual_bound is not None:
            bounds.append(full.dual_bound)
    else:
        details["highs_status"] = "no time left for the full MIP"
    return best, optimal, bounds, details


def _time_report(details: dict[str, Any], time_limit_s: float, elapsed_s: float) -> None:
    """The time limit counts from the call (greedy, reduction, LP, MIPs); HiGHS cannot be
    interrupted while it reads a model or presolves, so say by how much it was overrun."""
    details["time_limit_s"] = float(time_limit_s)
    details["time_limit_overrun_s"] = round(max(0.0, elapsed_s - time_limit_s), 3)


def _arr(picks: list[int]) -> IntArray:
    return np.asarray(picks, dtype=np.int64)


# -- greedy -----------------------------------------------------------------------------------
def _lazy_greedy(
    prob: Problem, p: int, weight: FloatArray, only: IntArray | None = None
) -> tuple[list[int], list[float]]:
    """Lazy greedy (priority queue of stale gains, which only fall: submodularity).

    Picks up to ``p`` free candidates, each time the one with the largest weight of still
    uncovered demand, within group budgets; stops early when nothing adds weight. With ``only``,
    orders just those candidates (no budgets: they were chosen within them).
    Returns the picks in order and the covered weight after 0..k picks.
    """
    inst = prob.inst
    uncovered_w = np.where(prob.fixed_count > 0, 0.0, weight)
    gains = _row_sums(inst, uncovered_w)
    covered = float(weight[prob.fixed_count > 0].sum())
    if only is None:
        free = np.flatnonzero(prob.free & (gains > 0))
    else:
        free = only[gains[only] > 0]
    heap = list(zip((-gains[free]).tolist(), free.tolist(), strict=True))
    heapq.heapify(heap)
    used = np.zeros(prob.group_cap.size, dtype=np.int64)
    picks: list[int] = []
    curve = [covered]
    while heap and len(picks) < p:
        _, i = heapq.heappop(heap)
        g = int(prob.group[i]) if only is None else -1
        if g >= 0 and used[g] >= prob.group_cap[g]:
            continue  # its group is full for good
        d = inst.covers(i)
        gain = float(uncovered_w[d].sum())
        if gain <= 0.0:
            continue
        if heap and gain < -heap[0][0]:
            heapq.heappush(heap, (-gain, i))
            continue
        picks.append(i)
        uncovered_w[d] = 0.0
        covered += gain
        curve.append(covered)
        if g >= 0:
            used[g] += 1
    return picks, curve


def _row_sums(inst: CoverageInstance, demand_values: FloatArray) -> FloatArray:
    """Per candidate, the sum of ``demand_values`` over the demand it covers."""
    ptr = inst.cand_ptr
    if inst.n_candidates == 0:
        return np.zeros(0)
    # a trailing 0 keeps every start index valid (empty rows at the end start at nnz)
    vals = np.append(demand_values[inst.cand_demand].astype(np.float64, copy=False), 0.0)
    sums = np.add.reduceat(vals, ptr[:-1])
    sums[ptr[:-1] == ptr[1:]] = 0.0  # reduceat gives an element, not 0, for an empty row
    return np.asarray(sums, dtype=np.float64)


def _cover_count(prob: Problem, picks: Iterable[int]) -> IntArray:
    inst = prob.inst
    idx = np.asarray(list(picks), dtype=np.int64)
    _, dem = gather_rows(inst.cand_ptr, inst.cand_demand, idx)
    return prob.fixed_count + np.bincount(dem, minlength=inst.n_demand)


def _covered_mask(prob: Problem, picks: Iterable[int]) -> NDArray[np.bool_]:
    return _cover_count(prob, picks) > 0


def _covered(prob: Problem, picks: Iterable[int]) -> float:
    return float(prob.inst.demand_weight[_covered_mask(prob, picks)].sum())


def _swap_improve(prob: Problem, picks: list[int]) -> tuple[list[int], int]:
    """Best-improvement 1-swap: replace one chosen candidate by an unchosen one while it gains.

    For chosen ``s`` and unchosen ``a`` the change is
    ``gain0(a) + shared(s, a) - loss(s)``: weight ``a`` covers that nobody covers, plus weight
    covered only by ``s`` that ``a`` also covers, minus weight covered only by ``s``. All swaps
    are scored at once per pass: ``shared`` is sparse (pairs from the demand only one chosen
    candidate covers), and for a pair outside it the best ``a`` is simply the one of largest
    ``gain0``. ``gain0`` is kept up to date from the demand a swap uncovers or newly covers, so
    a pass costs O(Σ_s |demand only s covers| · degree + n), not O(nnz).
    """
    inst = prob.inst
    w = inst.demand_weight
    n = inst.n_candidates
    sel = list(picks)
    k = len(sel)
    if k == 0:
        return sel, 0
    count = _cover_count(prob, sel)
    chosen = np.zeros(n, dtype=bool)
    chosen[sel] = True
    pos_of = np.full(n, -1, dtype=np.int64)
    pos_of[sel] = np.arange(k)
    groups = prob.has_groups
    used = np.bincount(prob.group[sel][prob.group[sel] >= 0], minlength=prob.group_cap.size)
    gain0 = _row_sums(inst, np.where(count == 0, w, 0.0))
    lone = prob.fixed_count == 0  # demand a fixed candidate covers is never lost
    tol = _EPS * max(float(w.sum()), 1.0)
    swaps = 0
    for _ in range(10 * k + 10):
        open_ = prob.free & ~chosen
        if groups:
            room = (prob.group_cap - used) > 0
            g_sel = prob.group[sel]
            ok = open_ & ((prob.group < 0) | room[np.maximum(prob.group, 0)])
        else:
            ok = open_
        only = np.flatnonzero((count == 1) & lone)
        o, c = gather_rows(inst.dem_ptr, inst.dem_cand, only)
        hit = chosen[c]
        owner = np.empty(only.size, dtype=np.int64)
        owner[o[hit]] = pos_of[c[hit]]
        loss = np.bincount(owner, weights=w[only], minlength=k)
        # dense part: best a by gain0 alone (per group too, for a swap within a full group)
        g_ok = np.where(ok, gain0, -np.inf)
        a_any = int(np.argmax(g_ok))
        best_val = np.full(k, g_ok[a_any]) - loss
        best_a = np.full(k, a_any, dtype=np.int64)
        if groups:
            for sp in np.flatnonzero((g_sel >= 0) & ~room[np.maximum(g_sel, 0)]).tolist():
                inside = open_ & (prob.group == g_sel[sp])
                if inside.any():
                    a_g = int(np.argmax(np.where(inside, gain0, -np.inf)))
                    if gain0[a_g] - loss[sp] > best_val[sp]:
                        best_val[sp], best_a[sp] = gain0[a_g] - loss[sp], a_g
        # sparse part: pairs (s, a) sharing demand that only s covers
        so = owner[o]
        keep = open_[c]
        if groups:
            same = (prob.group[c] >= 0) & (prob.group[c] == g_sel[so])
            keep &= ok[c] | same
        key = so[keep] * n + c[keep]
        if k * n <= _DENSE_SWAP_CELLS:  # a k x n table is cheaper than sorting the pairs
            shared_kn = np.bincount(key, weights=w[only][o[keep]], minlength=k * n)
            val_kn = gain0 + shared_kn.reshape(k, n) - loss[:, None]
            allowed = np.broadcast_to(ok, (k, n))
            if groups:
                allowed = allowed | (open_ & (prob.group >= 0)
                                     & (prob.group == g_sel[:, None]))  # fmt: skip
            val_kn[~allowed] = -np.inf
            best_a = np.argmax(val_kn, axis=1).astype(np.int64)
            best_val = val_kn[np.arange(k), best_a]
        elif key.size:
            uk, inv = np.unique(key, return_inverse=True)
            shared = np.bincount(inv.ravel(), weights=w[only][o[keep]], minlength=uk.size)
            us, ua = np.divmod(uk, n)
            val = gain0[ua] + shared - loss[us]
            order = np.lexsort((-val, us))  # per s, its best pair first
            first = order[np.r_[True, us[order][1:] != us[order][:-1]]]
            better = val[first] > best_val[us[first]]
            best_val[us[first][better]] = val[first][better]
            best_a[us[first][better]] = ua[first][better]
        pos = int(np.argmax(best_val))
        if not best_val[pos] > tol:
            break
        s, a = sel[pos], int(best_a[pos])
        ds, da = inst.covers(s), inst.covers(a)
        won = da[count[da] == 0]  # nobody covered it, so s did not either
        count[ds] -= 1
        count[da] += 1
        lost = ds[count[ds] == 0]
        for dem, sign in ((lost, 1.0), (won, -1.0)):
            if dem.size:
                oo, cc = gather_rows(inst.dem_ptr, inst.dem_cand, dem)
                gain0 += sign * np.bincount(cc, weights=w[dem][oo], minlength=n)
        chosen[s], chosen[a] = False, True
        pos_of[s], pos_of[a] = -1, pos
        for cand, step in ((s, -1), (a, 1)):
            if prob.group[cand] >= 0:
                used[prob.group[cand]] += step
        sel[pos] = a
        swaps += 1
    return sel, swaps


def _perturb_improve(
    prob: Problem, sel: list[int], p: int, rounds: int, seed: int = 0
) -> tuple[list[int], int]:
    """Iterated local search around a 1-swap optimum, with a fixed number of kicks.

    Each round drops a seeded random fifth of the best answer (at least 2 picks), refills the
    budget greedily with the dropped picks barred (so the refill explores), and runs 1-swap
    again on the full problem; the result replaces the best answer only when it covers more.
    The answer is therefore never worse than the 1-swap one it starts from, and deterministic
    (the kicks come from ``seed``, the budget is a number of rounds, not a clock).
    Returns the best answer and the number of rounds that improved it.
    """
    inst = prob.inst
    w = inst.demand_weight
    rng = np.random.default_rng(seed)
    best = list(sel)
    best_value = _covered(prob, best)
    tol = _EPS * max(float(w.sum()), 1.0)
    improved = 0
    k = len(best)
    if k < 2:
        return best, 0
    n_drop = max(2, math.ceil(k / 5))
    for _ in range(rounds):
        drop = np.sort(rng.choice(k, size=min(n_drop, k), replace=False))
        dropped = [best[int(i)] for i in drop]
        keep = [c for i, c in enumerate(best) if i not in set(drop.tolist())]
        barred = np.zeros(inst.n_candidates, dtype=bool)
        barred[keep] = True
        barred[dropped] = True
        kept_groups = prob.group[keep]
        used = np.bincount(kept_groups[kept_groups >= 0], minlength=prob.group_cap.size)
        sub = dataclasses.replace(prob, free=prob.free & ~barred,
                                  fixed_count=_cover_count(prob, keep),
                                  group_cap=prob.group_cap - used)  # fmt: skip
        refill, _ = _lazy_greedy(sub, p - len(keep), w)
        trial, _ = _swap_improve(prob, keep + refill)
        value = _covered(prob, trial)
        if value > best_value + tol:
            best, best_value = trial, value
            improved += 1
    return best, improved


def _prune_redundant(prob: Problem, picks: list[int], unit: FloatArray) -> list[int]:
    """Drop picks (latest first) whose required demand all stays covered without them."""
    inst = prob.inst
    count = _cover_count(prob, picks)
    keep = list(picks)
    for i in reversed(picks):
        d = inst.covers(i)
        d = d[unit[d] > 0]
        if d.size == 0 or (count[d] >= 2).all():
            count[inst.covers(i)] -= 1
            keep.remove(i)
    return keep


def _order_by_gain(
    prob: Problem, picks: list[int], weight: FloatArray
) -> tuple[list[int], list[float]]:
    """The same picks in greedy order of marginal weight, with the coverage curve.

    Picks that add nothing given the others are dropped: no camera for no gain.
    """
    return _lazy_greedy(prob, len(picks), weight, only=np.asarray(picks, dtype=np.int64))


# -- bounds -----------------------------------------------------------------------------------
def _submodular_bound(prob: Problem, base: IntArray, p: int) -> float:
    """Upper bound on the best coverage with ``p`` new picks: f(S) + the best p gains given S.

    For any feasible answer T, f(T) <= f(S ∪ T) <= f(S) + Σ_{t in T} gain(t | S) by
    submodularity, and the sum is at most the ``p`` largest gains that the group budgets allow.
    """
    inst = prob.inst
    w = inst.demand_weight
    covered = _covered_mask(prob, base.tolist())
    gains = _row_sums(inst, np.where(covered, 0.0, w))
    gains[~prob.free] = 0.0
    if prob.has_groups:
        # keep each group's cap largest gains (a partition matroid's best p is greedy)
        order = np.lexsort((-gains, prob.group))
        g = prob.group[order]
        first = np.searchsorted(g, g, side="left")
        rank = np.arange(order.size) - first
        cap = np.where(g >= 0, prob.group_cap[np.maximum(g, 0)], np.iinfo(np.int64).max)
        gains[order[rank >= cap]] = 0.0
    top = np.sort(gains)[::-1][:p]
    return float(w[covered].sum() + top.sum())


def _top_allowed(prob: Problem, gains: FloatArray, p: int) -> IntArray:
    """Indices of the ``p`` largest positive ``gains`` of free candidates within group caps."""
    g = np.where(prob.free, gains, 0.0)
    if prob.has_groups:
        order = np.lexsort((-g, prob.group))
        grp = prob.group[order]
        first = np.searchsorted(grp, grp, side="left")
        rank = np.arange(order.size) - first
        cap = np.where(grp >= 0, prob.group_cap[np.maximum(grp, 0)], np.iinfo(np.int64).max)
        g[order[rank >= cap]] = 0.0
    if p <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-g, min(p, g.size - 1))[:p] if p < g.size else np.arange(g.size)
    return np.asarray(top[g[top] > 0], dtype=np.int64)


def _lagrangian_bound(
    prob: Problem, p: int, incumbent: list[int], iterations: int, deadline: float
) -> tuple[float, int]:
    """Upper bound on max coverage by Lagrangian relaxation of "y_r <= Σ x_i", subgradient.

    For multipliers ``0 <= u_r <= w_r``, ``Σ_r (w_r - u_r) + (the p largest Σ_{r in i} u_r)``
    bounds every answer; minimised over ``u`` it equals the LP relaxation's optimum (the
    subproblem, best p columns, has integral vertices), and every iterate is already a valid
    bound. It starts at the submodular bound of the incumbent (``u_r = w_r`` on the demand it
    leaves uncovered, 0 elsewhere) and takes Polyak steps towards the incumbent's value.
    Stops after ``iterations`` or at ``deadline`` (perf_counter seconds). Returns the best
    bound and the iterations done.
    """
    inst = prob.inst
    w = np.where(prob.fixed_count > 0, 0.0, inst.demand_weight)
    base = float(inst.demand_weight[prob.fixed_count > 0].sum())
    covered = _covered_mask(prob, incumbent)
    target = float(inst.demand_weight[covered].sum())
    u = np.where(covered, 0.0, w)
    best = math.inf
    lam = 1.0
    stall = 0
    done = 0
    while done < iterations:
        done += 1
        top = _top_allowed(prob, _row_sums(inst, u), p)
        _, dem = gather_rows(inst.cand_ptr, inst.cand_demand, top)
        c = np.bincount(dem, minlength=inst.n_demand)
        value = base + float((w - u).sum()) + float(u[dem].sum())
        if not math.isfinite(best) or value < best - 1e-9 * max(best, 1.0):
            best, stall = value, 0
        else:
            stall += 1
            if stall >= 10:
                lam, stall = lam / 2, 0
        g = (c - 1.0) * (w > 0)
        g[(u <= 0) & (g > 0)] = 0.0  # projected: u cannot fall below 0 ...
        g[(u >= w) & (g < 0)] = 0.0  # ... nor rise above w
        norm = float((g * g).sum())
        if norm == 0.0 or best - target <= 1e-9 * max(target, 1.0) or lam < 1e-4:
            break
        if time.perf_counter() > deadline:
            break
        u = np.clip(u - lam * (value - target) / norm * g, 0.0, w)
    return best, done


def _packing_bound(prob: Problem, required: NDArray[np.bool_]) -> int:
    """Lower bound on set cover: required demand items pairwise sharing no free candidate.

    Each needs a candidate of its own. Items with few candidates are tried first.
    """
    inst = prob.inst
    todo = np.flatnonzero(required & (prob.fixed_count == 0))
    if todo.size == 0:
        return 0
    deg = np.diff(inst.dem_ptr)[todo]
    used = ~prob.free.copy()
    found = 0
    for j in todo[np.argsort(deg, kind="stable")]:
        cs = inst.covered_by(int(j))
        cs = cs[prob.free[cs]]
        if cs.size and not used[cs].any():
            used[cs] = True
            found += 1
    return found


def _gap(value: float, bound: float) -> float:
    if value == bound:
        return 0.0
    return abs(bound - value) / max(abs(value), 1e-12)


def _result(
    prob: Problem,
    objective: Literal["max_coverage", "set_cover"],
    method: str,
    status: Status,
    order: list[int],
    curve: list[float],
    bound: float,
    bound_source: str,
    gap: float,
    runtime_s: float,
    greedy_value: float,
    details: dict[str, Any],
) -> PlacementResult:
    inst = prob.inst
    w = inst.demand_weight
    covered = _covered_mask(prob, order)
    positive = w > 0
    return PlacementResult(
        objective=objective,
        method=method,
        status=status,
        selected=tuple(inst.candidate_ids[i] for i in order),
        selected_index=np.asarray(order, dtype=np.int64),
        fixed=tuple(inst.candidate_ids[int(i)] for i in prob.fixed),
        covered_weight=float(w[covered].sum()),
        total_weight=float(w.sum()),
        coverable_weight=float(w[prob.coverable].sum()),
        lp_bound=float(bound),
        bound_source=bound_source,
        gap=float(gap),
        runtime_s=runtime_s,
        curve=tuple(float(c) for c in curve),
        uncoverable=tuple(
            inst.demand_ids[int(j)] for j in np.flatnonzero(positive & ~prob.coverable)
        ),
        uncovered_count=int((positive & ~covered).sum()),
        greedy_value=greedy_value,
        details=details,
    )
