"""Exact placement models for HiGHS: maximal covering (best p) and set cover (fewest to cover all).

Models are built straight from the sparse rows of a `Problem` (numpy only, no loop over
candidate x demand); demand items covered by exactly the same free candidates become one row
with their weights summed, which shrinks geometric instances a lot and changes no optimum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np
from highspy import _core
from numpy.typing import NDArray

from gis.placement_instance import FloatArray, IntArray, Problem, gather_rows, row_positions

Objective = Literal["max_coverage", "set_cover"]


@dataclass(frozen=True, eq=False)
class IlpModel:
    """A HiGHS model of a placement problem and how to read its columns back.

    Attributes
    ----------
    lp : highspy.HighsLp
        Columns ``0..len(columns)-1`` are the binary "choose candidate" variables; for maximal
        covering, one continuous "row covered" variable per merged demand row follows.
    objective : "max_coverage" or "set_cover"
    columns : (k,) int64
        Candidate index of each binary column (the free candidates).
    offset : float
        Demand weight already covered by the fixed candidates (added to the model objective).
    n_demand_rows : int
        Demand rows after merging identical ones.
    row_cols, row_ptr : int64 arrays
        Binary columns covering each merged demand row (CSR), to build warm starts.
    """

    lp: highspy.HighsLp
    objective: Objective
    columns: IntArray
    offset: float
    n_demand_rows: int
    row_ptr: IntArray
    row_cols: IntArray


@dataclass(frozen=True)
class LpOutcome:
    """The LP relaxation: its optimum (plus ``offset``) when solved, and the column values."""

    optimal: bool
    bound: float | None
    x: FloatArray
    runtime_s: float
    reduced_cost: FloatArray | None = None


@dataclass(frozen=True)
class IlpOutcome:
    """What HiGHS returned, in candidate indices.

    ``selected`` is None when HiGHS found no solution at all (e.g. time limit during presolve).
    ``dual_bound`` is HiGHS's best proven bound on the model objective (plus ``offset``), or
    None when it has none.
    """

    model_status: str
    optimal: bool
    infeasible: bool
    selected: IntArray | None
    dual_bound: float | None
    runtime_s: float
    nodes: int


def _demand_rows(prob: Problem, required: NDArray[np.bool_]) -> tuple[IntArray, IntArray, IntArray]:
    """CSR (row_ptr, row_cols) of ``required`` demand over free columns, and the row demand ids.

    Column ``k`` is the ``k``-th free candidate.
    """
    inst = prob.inst
    col_of = np.full(inst.n_candidates, -1, dtype=np.int64)
    free_idx = np.flatnonzero(prob.free)
    col_of[free_idx] = np.arange(free_idx.size, dtype=np.int64)
    dem_of_nnz = np.repeat(np.arange(inst.n_demand, dtype=np.int64), np.diff(inst.dem_ptr))
    keep = required[dem_of_nnz] & prob.free[inst.dem_cand]
    rows = dem_of_nnz[keep]
    cols = col_of[inst.dem_cand[keep]]
    counts = np.bincount(rows, minlength=inst.n_demand)
    row_dem = np.flatnonzero(counts)
    ptr = np.zeros(row_dem.size + 1, dtype=np.int64)
    np.cumsum(counts[row_dem], out=ptr[1:])
    return ptr, cols, row_dem


def _merge_identical(
    ptr: IntArray, cols: IntArray, weight: FloatArray, n_cols: int
) -> tuple[IntArray, IntArray, FloatArray]:
    """Merge rows with the same column set, summing their weights (rows must be non-empty).

    Rows are grouped by (length, two random 64-bit sums) and each group is then checked entry by
    entry against its first row, so a hash collision can never merge different rows.
    """
    n_rows = ptr.size - 1
    if n_rows == 0:
        return ptr, cols, weight
    rng = np.random.default_rng(0x5EED)
    h = rng.integers(0, 2**63, size=(2, n_cols), dtype=np.uint64)
    starts = ptr[:-1]
    lengths = np.diff(ptr).astype(np.uint64)
    keys = np.stack(
        [lengths, np.add.reduceat(h[0][cols], starts), np.add.reduceat(h[1][cols], starts)],
        axis=1,
    )
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    rep = first[inverse]
    if not np.array_equal(cols[row_positions(ptr, np.arange(n_rows))],
                          cols[row_positions(ptr, rep)]):  # fmt: skip
        return ptr, cols, weight
    merged_w = np.bincount(inverse, weights=weight, minlength=first.size).astype(np.float64)
    new_ptr = np.zeros(first.size + 1, dtype=np.int64)
    np.cumsum(np.diff(ptr)[first], out=new_ptr[1:])
    return new_ptr, cols[row_positions(ptr, first)], merged_w


def prune_dominated(
    prob: Problem, keep: IntArray | None = None, chunk: int = 2_000_000
) -> tuple[NDArray[np.bool_], dict[str, int]]:
    """Free candidates worth a column: those covering required demand and not dominated.

    Required demand: weight > 0, not covered by a fixed candidate. Candidate ``a`` is dominated
    by ``b`` when ``b`` covers all the required demand ``a`` covers (for equal sets, the one of
    lower index stays) and ``b`` is in ``a``'s budget group or in none; then any answer using
    ``a`` is matched by one using ``b`` (or neither, if ``b`` is already in), so pruning changes
    neither the optimum of maximal covering nor of set cover, nor either LP bound. ``keep``
    (e.g. the incumbent) is never pruned.

    Subsets are found without a candidate x candidate table: the only possible dominators of
    ``a`` are the candidates covering ``a``'s rarest demand item, and each (a, b, demand) test
    is a binary search in the sorted coverage pairs; ``chunk`` bounds the tests held at once.

    Returns the new free mask and counts (``empty``, ``dominated``).
    """
    inst = prob.inst
    n, m = inst.n_candidates, inst.n_demand
    req = (inst.demand_weight > 0) & (prob.fixed_count == 0)
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(inst.cand_ptr))
    on = req[inst.cand_demand] & prob.free[owner]
    cand, dem = owner[on], inst.cand_demand[on]  # required pairs of free candidates, sorted
    deg = np.bincount(cand, minlength=n)
    free = prob.free & (deg > 0)
    n_empty = int((prob.free & (deg == 0)).sum())
    if keep is not None and keep.size:
        free[keep[prob.free[keep]]] = True
    if cand.size == 0:
        return free, {"empty": n_empty, "dominated": 0}
    dem_deg = np.bincount(dem, minlength=m)
    # a's rarest demand item
    order = np.lexsort((dem_deg[dem], cand))
    first = order[np.r_[0, np.flatnonzero(np.diff(cand[order])) + 1]]
    a_of, rare = cand[first], dem[first]
    # pairs (a, b): b a free candidate covering a's rarest item, b != a, b has at least as much
    by_dem = np.argsort(dem, kind="stable")
    dptr = np.zeros(m + 1, dtype=np.int64)
    np.cumsum(dem_deg, out=dptr[1:])
    o, pos = gather_rows(dptr, np.arange(cand.size, dtype=np.int64)[by_dem], rare)
    pa, pb = a_of[o], cand[pos]
    ok = (pb != pa) & (deg[pb] >= deg[pa])
    if prob.has_groups:
        ok &= (prob.group[pb] < 0) | (prob.group[pb] == prob.group[pa])
    pa, pb = pa[ok], pb[ok]
    ptr_a = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=ptr_a[1:])
    pair_key = cand * m + dem  # sorted: cand major, dem minor
    dominated = np.zeros(n, dtype=bool)
    start = 0
    while start < pa.size:
        # pairs whose (a, b, demand) tests fit in one chunk
        cum = np.cumsum(deg[pa[start:]])
        stop = start + max(1, int(np.searchsorted(cum, chunk, side="right")))
        ca, cb = pa[start:stop], pb[start:stop]
        t_own, t_pos = gather_rows(ptr_a, np.arange(cand.size, dtype=np.int64), ca)
        probe = cb[t_own] * m + dem[t_pos]
        at = np.minimum(np.searchsorted(pair_key, probe), pair_key.size - 1)
        hit = pair_key[at] == probe
        hits = np.bincount(t_own, weights=hit, minlength=ca.size)
        subset = hits == deg[ca]
        # equal sets: only the higher index goes, so one of them stays
        subset &= (deg[cb] > deg[ca]) | (cb < ca)
        dominated[ca[subset]] = True
        start = stop
    if keep is not None and keep.size:
        dominated[keep] = False
    free &= ~dominated
    return free, {"empty": n_empty, "dominated": int((dominated & prob.free & (deg > 0)).sum())}


def _group_rows(prob: Problem, columns: IntArray) -> tuple[list[IntArray], list[float]]:
    """One "at most cap" row per group whose cap binds (fewer than its free candidates)."""
    rows: list[IntArray] = []
    caps: list[float] = []
    if not prob.has_groups:
        return rows, caps
    g = prob.group[columns]
    order = np.argsort(g, kind="stable")
    bounds = np.searchsorted(g[order], np.arange(prob.group_cap.size + 1))
    for k, cap in enumerate(prob.group_cap):
        members = order[bounds[k] : bounds[k + 1]]
        if members.size > cap:
            rows.append(members.astype(np.int64))
            caps.append(float(cap))
    return rows, caps


def _rowwise_lp(
    n_col: int,
    col_cost: FloatArray,
    col_upper: FloatArray,
    integer: int,
    blocks: list[tuple[IntArray, IntArray, FloatArray, FloatArray, FloatArray]],
    maximise: bool,
) -> highspy.HighsLp:
    """HighsLp from row blocks ``(ptr, index, value, lower, upper)``; first ``integer`` cols int."""
    starts: list[IntArray] = []
    shift = 0
    for ptr, *_ in blocks:
        starts.append(ptr[:-1] + shift)
        shift += int(ptr[-1])
    lp = highspy.HighsLp()
    lp.num_col_ = n_col
    lp.num_row_ = sum(b[0].size - 1 for b in blocks)
    lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    lp.col_cost_ = col_cost
    lp.col_lower_ = np.zeros(n_col)
    lp.col_upper_ = col_upper
    lp.row_lower_ = np.concatenate([b[3] for b in blocks])
    lp.row_upper_ = np.concatenate([b[4] for b in blocks])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = n_col
    lp.a_matrix_.num_row_ = lp.num_row_
    lp.a_matrix_.start_ = np.append(np.concatenate(starts), shift).astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate([b[1] for b in blocks]).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate([b[2] for b in blocks]).astype(np.float64)
    lp.integrality_ = _integrality(n_col, integer)
    return lp


def _integrality(n_col: int, integer: int) -> list[highspy.HighsVarType]:
    return [highspy.HighsVarType.kInteger] * integer + [highspy.HighsVarType.kContinuous] * (
        n_col - integer
    )


def _single_row(index: IntArray, lower: float, upper: float) -> tuple[
    IntArray, IntArray, FloatArray, FloatArray, FloatArray
]:  # fmt: skip
    return (np.array([0, index.size], dtype=np.int64), index, np.ones(index.size),
            np.array([lower]), np.array([upper]))  # fmt: skip


def max_coverage_model(prob: Problem, p: int) -> IlpModel:
    """Maximal covering model: at most ``p`` new candidates, maximise covered demand weight.

    max Σ w_r y_r  s.t.  y_r <= Σ_{i covers r} x_i,  Σ x_i <= p,  Σ_{i in g} x_i <= cap_g,
    x binary, 0 <= y <= 1 (y is integral at any optimum once x is).
    """
    inst = prob.inst
    w = inst.demand_weight
    columns = np.flatnonzero(prob.free).astype(np.int64)
    nf = columns.size
    required = (w > 0) & (prob.fixed_count == 0) & prob.coverable
    ptr, cols, row_dem = _demand_rows(prob, required)
    ptr, cols, row_w = _merge_identical(ptr, cols, w[row_dem], nf)
    n_rows = ptr.size - 1
    # Row r: -Σ x_i + y_r <= 0, the y entry placed after the row's x entries.
    lengths = np.diff(ptr)
    cov_ptr = ptr + np.arange(n_rows + 1)
    index = np.empty(int(cov_ptr[-1]), dtype=np.int64)
    value = np.empty(index.size)
    x_pos = np.arange(cols.size) + np.repeat(np.arange(n_rows), lengths)
    index[x_pos] = cols
    value[x_pos] = -1.0
    index[cov_ptr[1:] - 1] = nf + np.arange(n_rows)
    value[cov_ptr[1:] - 1] = 1.0
    blocks = [(cov_ptr, index, value, np.full(n_rows, -highspy.kHighsInf), np.zeros(n_rows))]
    blocks.append(_single_row(np.arange(nf, dtype=np.int64), -highspy.kHighsInf, float(p)))
    for members, cap in zip(*_group_rows(prob, columns), strict=True):
        blocks.append(_single_row(members, -highspy.kHighsInf, cap))
    lp = _rowwise_lp(
        nf + n_rows,
        np.concatenate([np.zeros(nf), row_w]),
        np.ones(nf + n_rows),
        nf,
        blocks,
        maximise=True,
    )
    offset = float(w[prob.fixed_count > 0].sum())
    return IlpModel(lp, "max_coverage", columns, offset, n_rows, ptr, cols)


def set_cover_model(prob: Problem) -> IlpModel:
    """Set-cover model: fewest new candidates covering every coverable demand item of weight > 0.

    min Σ x_i  s.t.  Σ_{i covers r} x_i >= 1 for each demand row not covered by a fixed candidate,
    Σ_{i in g} x_i <= cap_g, x binary.
    """
    inst = prob.inst
    w = inst.demand_weight
    columns = np.flatnonzero(prob.free).astype(np.int64)
    nf = columns.size
    required = (w > 0) & (prob.fixed_count == 0) & prob.coverable
    ptr, cols, row_dem = _demand_rows(prob, required)
    ptr, cols, _ = _merge_identical(ptr, cols, np.ones(row_dem.size), nf)
    n_rows = ptr.size - 1
    blocks = [(ptr, cols, np.ones(cols.size), np.ones(n_rows), np.full(n_rows, highspy.kHighsInf))]
    for members, cap in zip(*_group_rows(prob, columns), strict=True):
        blocks.append(_single_row(members, -highspy.kHighsInf, cap))
    lp = _rowwise_lp(nf, np.ones(nf), np.ones(nf), nf, blocks, maximise=False)
    return IlpModel(lp, "set_cover", columns, 0.0, n_rows, ptr, cols)


def _highs(time_limit_s: float, threads: int | None, seed: int) -> _core._Highs:
    # The Python wrapper `highspy.Highs()` registers its log callback before any option can be
    # set and so prints a version banner on the process's stdout, which would break the CLI's
    # --json output; the core class (exported by highspy) starts silent once output_flag is off.
    h = _core._Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(max(time_limit_s, 0.0)))
    h.setOptionValue("random_seed", int(seed))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    return h


def solve_lp(
    model: IlpModel, *, time_limit_s: float, threads: int | None = None, seed: int = 0
) -> LpOutcome:
    """Solve the LP relaxation (interior point, then crossover to an exact vertex).

    The dual simplex HiGHS uses at the root of a MIP is slow on these degenerate covering LPs
    (minutes for 1,500 x 8,000 at 35 per row) where the interior point method takes seconds.
    """
    t0 = time.perf_counter()
    h = _highs(time_limit_s, threads, seed)
    h.setOptionValue("solver", "ipm")
    lp = model.lp
    lp.integrality_ = []
    try:
        h.passModel(lp)
    finally:
        lp.integrality_ = _integrality(lp.num_col_, model.columns.size)
    h.run()
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    nf = model.columns.size
    sol = h.getSolution()
    x = np.asarray(sol.col_value[:nf], dtype=np.float64) if optimal else np.zeros(nf)
    bound = float(h.getInfo().objective_function_value) + model.offset if optimal else None
    dj = None
    if optimal and sol.dual_valid:
        dj = np.asarray(sol.col_dual[:nf], dtype=np.float64)
    return LpOutcome(optimal, bound, x, time.perf_counter() - t0, dj)


def solve_model(
    model: IlpModel,
    warm_start: IntArray | None,
    *,
    time_limit_s: float,
    mip_rel_gap: float = 0.0,
    threads: int | None = None,
    seed: int = 0,
) -> IlpOutcome:
    """Run HiGHS on a model, optionally warm-started from candidate indices ``warm_start``.

    Parameters
    ----------
    time_limit_s : float
        Wall-clock limit of the HiGHS run in seconds (model passing included).
    mip_rel_gap : float
        Relative gap at which HiGHS may stop and call the answer optimal; 0 (default) means
        optimal is proven up to HiGHS's absolute tolerance (1e-6).
    """
    t0 = time.perf_counter()
    h = _highs(time_limit_s, threads, seed)
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.passModel(model.lp)
    nf = model.columns.size
    if warm_start is not None:
        pos = np.searchsorted(model.columns, warm_start)
        x = np.zeros(nf)
        ok = (pos < nf) & (model.columns[np.minimum(pos, nf - 1)] == warm_start)
        x[pos[ok]] = 1.0
        values = [x]
        if model.objective == "max_coverage":
            hit = (
                np.add.reduceat(x[model.row_cols], model.row_ptr[:-1])
                if model.row_cols.size
                else x[:0]
            )
            values.append(np.minimum(hit, 1.0))
        sol = highspy.HighsSolution()
        sol.col_value = np.concatenate(values).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    selected: IntArray | None = None
    if info.primal_solution_status == highspy.kSolutionStatusFeasible:
        col_value = np.asarray(h.getSolution().col_value[:nf])
        selected = model.columns[col_value > 0.5]
    bound = float(info.mip_dual_bound)
    dual_bound = bound + model.offset if np.isfinite(bound) and abs(bound) < 1e29 else None
    return IlpOutcome(
        model_status=h.modelStatusToString(status),
        optimal=status == highspy.HighsModelStatus.kOptimal,
        infeasible=status == highspy.HighsModelStatus.kInfeasible,
        selected=selected,
        dual_bound=dual_bound,
        runtime_s=time.perf_counter() - t0,
        nodes=int(info.mip_node_count),
    )
