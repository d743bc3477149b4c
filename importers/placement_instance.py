"""Read an abstract placement instance (JSON or CSV) for `sightline placement solve`.

JSON: ``{"demand": {"<id>": <weight>, ...}, "candidates": {"<id>": ["<demand id>", ...], ...}}``
with optional ``"fixed": [ids]``, ``"forbidden": [ids]``, ``"groups": {"<candidate id>":
"<group>"}`` and ``"group_budget": {"<group>": <int>}``.

CSV: a header ``candidate_id,demand_id`` then one coverage pair per row; demand weights come
from an optional second CSV ``demand_id,weight`` (default: weight 1 for every demand id seen in
the pairs). With a weights file every pair must name a demand id of that file, and demand that
no candidate covers can be listed there (it then counts as uncoverable).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gis.placement_instance import CoverageInstance, InstanceError


class PlacementInstanceError(ValueError):
    """An instance file that cannot be used, naming the file and the key or row at fault."""

    def __init__(self, path: Path, where: str, reason: str) -> None:
        self.path, self.where, self.reason = path, where, reason
        super().__init__(f"{path}: {where}: {reason}" if where else f"{path}: {reason}")


@dataclass(frozen=True, eq=False)
class InstanceFile:
    """An instance as read from a file, with the planner's rules it carries (JSON only)."""

    instance: CoverageInstance
    fixed: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    group_of: dict[str, str] = field(default_factory=dict)
    group_budget: dict[str, int] = field(default_factory=dict)


def read_instance(path: Path, weights: Path | None = None) -> InstanceFile:
    """Read a ``.json`` or ``.csv`` instance (``weights``: optional demand weight CSV).

    Raises
    ------
    PlacementInstanceError
        Not JSON/CSV, malformed, empty, an unknown demand id referenced, a bad weight.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PlacementInstanceError(path, "", f"not UTF-8 text ({exc.reason})") from exc
    if suffix == ".json":
        if weights is not None:
            raise PlacementInstanceError(weights, "", "a weights file goes with a CSV instance; "
                                         "JSON instances carry their weights")  # fmt: skip
        return _from_json(path, text)
    if suffix == ".csv":
        return _from_csv(path, text, weights)
    raise PlacementInstanceError(path, "", "expected a .json or .csv instance file")


def _dupe_check(path: Path) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise PlacementInstanceError(path, f"key {k!r}", "appears more than once")
            out[k] = v
        return out

    return hook


def _weight(path: Path, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PlacementInstanceError(path, where, f"weight {value!r} is not a number")
    if not math.isfinite(value) or value < 0:
        raise PlacementInstanceError(path, where, f"weight {value!r} is not a finite number >= 0")
    return float(value)


def _id_list(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str | int) for x in value):
        raise PlacementInstanceError(path, where, "must be a list of ids")
    return [str(x) for x in value]


def _from_json(path: Path, text: str) -> InstanceFile:
    if not text.strip():
        raise PlacementInstanceError(path, "", "the file is empty")
    try:
        data = json.loads(text, object_pairs_hook=_dupe_check(path))
    except json.JSONDecodeError as exc:
        raise PlacementInstanceError(
            path, f"line {exc.lineno} column {exc.colno}", f"not JSON ({exc.msg})"
        ) from exc
    if not isinstance(data, dict):
        raise PlacementInstanceError(path, "", "expected a JSON object with demand, candidates")
    known = {"demand", "candidates", "fixed", "forbidden", "groups", "group_budget"}
    extra = sorted(set(data) - known)
    if extra:
        raise PlacementInstanceError(
            path, f"key {extra[0]!r}", f"unknown; expected {sorted(known)}"
        )
    for key in ("demand", "candidates"):
        if key not in data:
            raise PlacementInstanceError(path, f"key {key!r}", "missing")
        if not isinstance(data[key], dict):
            raise PlacementInstanceError(path, f"key {key!r}", "must be an object of id -> ...")
        if not data[key]:
            raise PlacementInstanceError(path, f"key {key!r}", "is empty")
    demand = {str(d): _weight(path, f"demand {d!r}", v) for d, v in data["demand"].items()}
    candidates: dict[str, list[str]] = {}
    for c, covered in data["candidates"].items():
        ids = _id_list(path, f"candidates {c!r}", covered)
        for d in ids:
            if d not in demand:
                raise PlacementInstanceError(
                    path, f"candidates {c!r}", f"unknown demand id {d!r} (not in 'demand')"
                )
        candidates[str(c)] = ids
    groups = data.get("groups", {})
    budget = data.get("group_budget", {})
    for key, obj in (("groups", groups), ("group_budget", budget)):
        if not isinstance(obj, dict):
            raise PlacementInstanceError(path, f"key {key!r}", "must be an object")
    for c in groups:
        if c not in candidates:
            raise PlacementInstanceError(path, f"groups {c!r}", "is not a candidate")
    for g, cap in budget.items():
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
            raise PlacementInstanceError(path, f"group_budget {g!r}", f"{cap!r} is not an "
                                         "integer >= 0")  # fmt: skip
    rules = {k: _id_list(path, f"key {k!r}", data.get(k, [])) for k in ("fixed", "forbidden")}
    for key, ids in rules.items():
        for c in ids:
            if c not in candidates:
                raise PlacementInstanceError(path, f"key {key!r}", f"{c!r} is not a candidate")
    try:
        inst = CoverageInstance.from_sets(demand, candidates)
    except InstanceError as exc:
        raise PlacementInstanceError(path, "", str(exc)) from exc
    return InstanceFile(inst, rules["fixed"], rules["forbidden"],
                        {str(c): str(g) for c, g in groups.items()},
                        {str(g): int(v) for g, v in budget.items()})  # fmt: skip


def _csv_rows(path: Path, text: str, header: tuple[str, str]) -> list[tuple[int, str, str]]:
    rows = list(csv.reader(text.splitlines()))
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise PlacementInstanceError(path, "", "the file is empty")
    head = tuple(c.strip().lower() for c in rows[0])
    if head[:2] != header or len(head) != 2:
        raise PlacementInstanceError(path, "row 1", f"expected the header {','.join(header)}, "
                                     f"found {','.join(rows[0])!r}")  # fmt: skip
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise PlacementInstanceError(path, f"row {n}", f"expected two values, found {row!r}")
        out.append((n, row[0].strip(), row[1].strip()))
    if not out:
        raise PlacementInstanceError(path, "", "no data rows after the header")
    return out


def _from_csv(path: Path, text: str, weights: Path | None) -> InstanceFile:
    pairs = _csv_rows(path, text, ("candidate_id", "demand_id"))
    demand: dict[str, float] = {}
    if weights is not None:
        try:
            wtext = weights.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise PlacementInstanceError(weights, "", f"not UTF-8 text ({exc.reason})") from exc
        for n, d, v in _csv_rows(weights, wtext, ("demand_id", "weight")):
            if d in demand:
                raise PlacementInstanceError(weights, f"row {n}", f"demand id {d!r} repeated")
            try:
                value = float(v)
            except ValueError:
                raise PlacementInstanceError(weights, f"row {n}",
                                             f"weight {v!r} is not a number") from None  # fmt: skip
            demand[d] = _weight(weights, f"row {n}", value)
    candidates: dict[str, list[str]] = {}
    for n, c, d in pairs:
        if weights is not None and d not in demand:
            raise PlacementInstanceError(path, f"row {n}", f"unknown demand id {d!r} (not in "
                                         f"{weights.name})")  # fmt: skip
        demand.setdefault(d, 1.0)
        candidates.setdefault(c, []).append(d)
    return InstanceFile(CoverageInstance.from_sets(demand, candidates))


def rules_summary(f: InstanceFile) -> Mapping[str, Any]:
    """The rules an instance file carries, as keyword arguments of the solvers."""
    return {
        "fixed": f.fixed,
        "forbidden": f.forbidden,
        "group_of": f.group_of or None,
        "group_budget": f.group_budget or None,
    }
