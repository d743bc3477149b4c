"""An abstract covering instance: weighted demand items, candidates, and who covers what.

The placement solvers (`gis.placement_solver`) work on this and nothing else, so they can be
checked on published set-cover instances as well as on our own geometry. The coverage relation
is stored twice as compressed sparse rows (candidate -> demand and demand -> candidate), never as
a dense candidate x demand matrix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


class InstanceError(ValueError):
    """An instance that cannot be solved as given (unknown id, negative weight, ...)."""


@dataclass(frozen=True, eq=False)
class CoverageInstance:
    """Candidates, weighted demand items and the sparse relation "candidate covers demand".

    Build one with `from_pairs` (index arrays, as a spatial join returns them) or `from_sets`
    (ids, as an instance file holds them); the constructor does not check its arguments.

    Attributes
    ----------
    candidate_ids, demand_ids : tuple of str
        Unique ids; position = index used by every array below.
    demand_weight : (m,) float64
        Weight of each demand item, finite and >= 0 (e.g. m² of blind spot, alarm density).
    cand_ptr, cand_demand : (n+1,) and (nnz,) int64
        CSR rows: candidate ``i`` covers ``cand_demand[cand_ptr[i]:cand_ptr[i+1]]`` (sorted,
        no repeats).
    dem_ptr, dem_cand : (m+1,) and (nnz,) int64
        The transpose: demand ``j`` is covered by ``dem_cand[dem_ptr[j]:dem_ptr[j+1]]``.
    """

    candidate_ids: tuple[str, ...]
    demand_ids: tuple[str, ...]
    demand_weight: FloatArray
    cand_ptr: IntArray
    cand_demand: IntArray
    dem_ptr: IntArray
    dem_cand: IntArray

    @property
    def n_candidates(self) -> int:
        return len(self.candidate_ids)

    @property
    def n_demand(self) -> int:
        return len(self.demand_ids)

    @property
    def nnz(self) -> int:
        """Number of (candidate, demand) coverage pairs."""
        return int(self.cand_demand.size)

    @property
    def total_weight(self) -> float:
        return float(self.demand_weight.sum())

    def covers(self, candidate: int) -> IntArray:
        """Demand indices covered by candidate index ``candidate``."""
        return self.cand_demand[self.cand_ptr[candidate] : self.cand_ptr[candidate + 1]]

    def covered_by(self, demand: int) -> IntArray:
        """Candidate indices covering demand index ``demand``."""
        return self.dem_cand[self.dem_ptr[demand] : self.dem_ptr[demand + 1]]

    def candidate_index(self, ids: Iterable[str], what: str = "candidate") -> IntArray:
        """Indices of candidate ids; `InstanceError` naming the first unknown one."""
        pos = {c: i for i, c in enumerate(self.candidate_ids)}
        out = []
        for c in ids:
            if c not in pos:
                raise InstanceError(f"{what} {c!r} is not a candidate of this instance")
            out.append(pos[c])
        return np.asarray(out, dtype=np.int64)

    @classmethod
    def from_pairs(
        cls,
        candidate: ArrayLike,
        demand: ArrayLike,
        demand_weight: ArrayLike,
        *,
        candidate_ids: Sequence[str] | None = None,
        demand_ids: Sequence[str] | None = None,
        n_candidates: int | None = None,
    ) -> CoverageInstance:
        """Instance from parallel index arrays of coverage pairs (the sparse build).

        Parameters
        ----------
        candidate, demand : (k,) int arrays
            Pair ``t`` says candidate ``candidate[t]`` covers demand ``demand[t]`` — e.g. the two
            rows of ``STRtree.query(..., predicate="intersects")``. Repeated pairs are dropped.
        demand_weight : (m,) float array
            Weight of each demand item, finite and >= 0; ``m`` = number of demand items.
        candidate_ids, demand_ids : sequences of str, optional
            Unique ids (default: the indices as strings).
        n_candidates : int, optional
            Number of candidates when ``candidate_ids`` is not given (default: max index + 1).

        Raises
        ------
        InstanceError
            Index out of range, weights negative/NaN/infinite, ids repeated or of the wrong length.
        """
        w = np.asarray(demand_weight, dtype=np.float64)
        if w.ndim != 1:
            raise InstanceError("demand_weight must be one-dimensional")
        cand = np.asarray(candidate, dtype=np.int64).ravel()
        dem = np.asarray(demand, dtype=np.int64).ravel()
        if cand.shape != dem.shape:
            raise InstanceError(f"{cand.size} candidate indices but {dem.size} demand indices")
        m = int(w.size)
        if candidate_ids is not None:
            n = len(candidate_ids)
        elif n_candidates is not None:
            n = int(n_candidates)
        else:
            n = int(cand.max()) + 1 if cand.size else 0
        bad = ~np.isfinite(w) | (w < 0)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            name = demand_ids[j] if demand_ids is not None and j < len(demand_ids) else str(j)
            raise InstanceError(f"demand {name!r}: weight {w[j]} is not a finite number >= 0")
        if cand.size and (cand.min() < 0 or cand.max() >= n):
            raise InstanceError(f"candidate index out of range 0..{n - 1}")
        if dem.size and (dem.min() < 0 or dem.max() >= m):
            raise InstanceError(f"demand index out of range 0..{m - 1}")
        cids = _ids(candidate_ids, n, "candidate")
        dids = _ids(demand_ids, m, "demand")
        # One sort by (candidate, demand) gives CSR rows; a stable sort of that by demand gives
        # the transpose with candidates ascending inside each demand row. Both O(nnz log nnz).
        key = np.sort(cand * max(m, 1) + dem)
        if key.size:
            key = key[np.concatenate(([True], key[1:] != key[:-1]))]
        cand, dem = np.divmod(key, max(m, 1))
        cand_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(cand, minlength=n), out=cand_ptr[1:])
        order = np.argsort(dem, kind="stable")
        dem_ptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(dem, minlength=m), out=dem_ptr[1:])
        return cls(
            candidate_ids=cids,
            demand_ids=dids,
            demand_weight=w.copy(),
            cand_ptr=cand_ptr,
            cand_demand=dem.astype(np.int64),
            dem_ptr=dem_ptr,
            dem_cand=cand[order].astype(np.int64),
        )

    @classmethod
    def from_sets(
        cls, demand: Mapping[str, float], candidates: Mapping[str, Iterable[str]]
    ) -> CoverageInstance:
        """Instance from ``{demand id: weight}`` and ``{candidate id: [demand ids covered]}``.

        Raises
        ------
        InstanceError
            A candidate names a demand id not in ``demand``, or a weight is invalid.
        """
        dids = list(demand)
        dpos = {d: j for j, d in enumerate(dids)}
        cand_idx: list[int] = []
        dem_idx: list[int] = []
        for i, (cid, covered) in enumerate(candidates.items()):
            for d in covered:
                j = dpos.get(d)
                if j is None:
                    raise InstanceError(f"candidate {cid!r} covers unknown demand id {d!r}")
                cand_idx.append(i)
                dem_idx.append(j)
        return cls.from_pairs(
            np.asarray(cand_idx, dtype=np.int64),
            np.asarray(dem_idx, dtype=np.int64),
            np.asarray([demand[d] for d in dids], dtype=np.float64),
            candidate_ids=list(candidates),
            demand_ids=dids,
        )


def _ids(ids: Sequence[str] | None, size: int, what: str) -> tuple[str, ...]:
    if ids is None:
        return tuple(str(i) for i in range(size))
    out = tuple(str(x) for x in ids)
    if len(out) != size:
        raise InstanceError(f"{len(out)} {what} ids for {size} {what} items")
    if len(set(out)) != len(out):
        seen: set[str] = set()
        for x in out:
            if x in seen:
                raise InstanceError(f"{what} id {x!r} appears more than once")
            seen.add(x)
    return out


def gather_rows(ptr: IntArray, idx: IntArray, rows: IntArray) -> tuple[IntArray, IntArray]:
    """Entries of several CSR rows at once: ``(row position in rows, entry)`` per entry.

    Vectorised multi-slice ``concatenate([idx[ptr[r]:ptr[r+1]] for r in rows])``.
    """
    owner = np.repeat(np.arange(rows.size, dtype=np.int64), ptr[rows + 1] - ptr[rows])
    return owner, idx[row_positions(ptr, rows)]


@dataclass(frozen=True, eq=False)
class Problem:
    """An instance with the planner's rules applied: what is kept, what may be chosen.

    Made by `prepare`; shared by the greedy and the ILP solvers.

    Attributes
    ----------
    inst : CoverageInstance
    fixed : (f,) int64
        Candidate indices always selected (existing cameras kept); they use no budget.
    free : (n,) bool
        Candidates that may be chosen: neither fixed nor forbidden.
    group : (n,) int64
        Group index of each candidate (e.g. jurisdiction), -1 for none.
    group_names : tuple of str
    group_cap : (g,) int64
        Most new (non-fixed) candidates that may be chosen in each group.
    fixed_count : (m,) int64
        How many fixed candidates cover each demand item.
    coverable : (m,) bool
        Demand covered by a fixed candidate or coverable by a free one.
    """

    inst: CoverageInstance
    fixed: IntArray
    free: NDArray[np.bool_]
    group: IntArray
    group_names: tuple[str, ...]
    group_cap: IntArray
    fixed_count: IntArray
    coverable: NDArray[np.bool_]

    @property
    def has_groups(self) -> bool:
        return bool(self.group_cap.size)


def prepare(
    inst: CoverageInstance,
    *,
    fixed: Iterable[str] = (),
    forbidden: Iterable[str] = (),
    group_of: Mapping[str, str] | None = None,
    group_budget: Mapping[str, int] | None = None,
) -> Problem:
    """Apply the planner's rules to an instance.

    Parameters
    ----------
    inst : CoverageInstance
    fixed : candidate ids
        Always selected (existing cameras kept); their coverage counts, they use no budget.
    forbidden : candidate ids
        Never selected (cameras to be removed, sites not allowed).
    group_of : {candidate id: group}, optional
        Group (e.g. jurisdiction code) of each candidate; candidates not named have no group.
    group_budget : {group: int}, optional
        Most new candidates chosen per group; groups not named are unlimited.

    Raises
    ------
    InstanceError
        Unknown candidate id, a candidate both fixed and forbidden, a negative group budget.
    """
    n = inst.n_candidates
    fixed_idx = np.unique(inst.candidate_index(fixed, "fixed candidate"))
    forbidden_idx = np.unique(inst.candidate_index(forbidden, "forbidden candidate"))
    both = np.intersect1d(fixed_idx, forbidden_idx)
    if both.size:
        raise InstanceError(
            f"candidate {inst.candidate_ids[int(both[0])]!r} is both fixed and forbidden"
        )
    free = np.ones(n, dtype=bool)
    free[fixed_idx] = False
    free[forbidden_idx] = False
    group = np.full(n, -1, dtype=np.int64)
    names: list[str] = []
    caps: list[int] = []
    if group_budget:
        for g, cap in group_budget.items():
            if isinstance(cap, bool) or not isinstance(cap, int | np.integer) or cap < 0:
                raise InstanceError(f"group {g!r}: budget {cap!r} is not an integer >= 0")
            names.append(str(g))
            caps.append(int(cap))
        gpos = {g: k for k, g in enumerate(names)}
        if group_of:
            idx = inst.candidate_index(group_of.keys(), "grouped candidate")
            group[idx] = [gpos.get(str(g), -1) for g in group_of.values()]
    fixed_count = np.bincount(
        inst.cand_demand[row_positions(inst.cand_ptr, fixed_idx)], minlength=inst.n_demand
    ).astype(np.int64)
    free_deg = _segment_sums(inst.dem_ptr, free[inst.dem_cand].astype(np.int64))
    return Problem(
        inst=inst,
        fixed=fixed_idx,
        free=free,
        group=group,
        group_names=tuple(names),
        group_cap=np.asarray(caps, dtype=np.int64),
        fixed_count=fixed_count,
        coverable=(fixed_count > 0) | (free_deg > 0),
    )


def row_positions(ptr: IntArray, rows: IntArray) -> IntArray:
    """Positions (into the CSR entry array) of the entries of ``rows``."""
    starts = ptr[rows]
    lengths = ptr[rows + 1] - starts
    offsets = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )
    return np.asarray(np.repeat(starts, lengths) + offsets, dtype=np.int64)


def _segment_sums(ptr: IntArray, values: NDArray[np.int64]) -> IntArray:
    """Sum of ``values`` over each CSR row (empty rows give 0)."""
    owner = np.repeat(np.arange(ptr.size - 1, dtype=np.int64), np.diff(ptr))
    return np.bincount(owner, weights=values, minlength=ptr.size - 1).astype(np.int64)
