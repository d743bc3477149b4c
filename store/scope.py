"""Who a request speaks for and what part of the city it may see: one place for every query.

A :class:`Principal` (a console user, an API token or the operator's CLI) carries a
:class:`Scope`: the jurisdiction subtree it works in and its clearance for social-resource
cameras. Every store query that returns devices, alarms, sightings or analysis results takes a
scope and filters with :meth:`Scope.devices` (tables with ``jurisdiction_id``) or
:meth:`Scope.area` (results without one: road coverage, coverage unions), so a district user
cannot read another district's rows by guessing ids, whatever the UI shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class Scope:
    """The jurisdictions a principal may see and its camera clearance.

    ``jurisdiction_ids`` is the unit and every unit under it; None means the whole platform
    (a city-level unit, or no unit). Rows with no jurisdiction are seen only by the whole
    platform. ``clearance`` is the highest camera ``access_level`` visible.
    """

    jurisdiction_ids: frozenset[int] | None = None
    clearance: int = 0
    root_id: int | None = None
    root_code: str | None = None

    @property
    def whole_city(self) -> bool:
        return self.jurisdiction_ids is None

    def sees_jurisdiction(self, jurisdiction_id: int | None) -> bool:
        """Whether a row of this jurisdiction is inside the scope."""
        if self.jurisdiction_ids is None:
            return True
        return jurisdiction_id is not None and jurisdiction_id in self.jurisdiction_ids

    def params(self) -> dict[str, Any]:
        """The bind parameters the SQL fragments below refer to."""
        return {
            "scope_jids": sorted(self.jurisdiction_ids or ()),
            "scope_clearance": self.clearance,
            "scope_root": self.root_id,
        }

    def devices(self, alias: str, *, camera: bool = False) -> str:
        """A SQL condition on ``alias`` (a table with ``jurisdiction_id``; cameras also have
        ``access_level``) that keeps the rows in scope. Bind :meth:`params`."""
        conds = []
        if self.jurisdiction_ids is not None:
            conds.append(f"{alias}.jurisdiction_id = ANY(:scope_jids)")
        if camera:
            conds.append(f"{alias}.access_level <= :scope_clearance")
        return " AND ".join(conds) or "TRUE"

    def area(self, geom: str) -> str:
        """A SQL condition keeping geometry ``geom`` that touches the scope's unit (for
        results without a jurisdiction column). Bind :meth:`params`."""
        if self.jurisdiction_ids is None:
            return "TRUE"
        return (f"EXISTS (SELECT 1 FROM jurisdictions sj WHERE sj.id = :scope_root "
                f"AND ST_Intersects(sj.geom, {geom}))")  # fmt: skip

    def describe(self) -> str:
        unit = "the whole city" if self.whole_city else f"jurisdiction {self.root_code}"
        return f"{unit}, clearance {self.clearance}"


EVERYTHING = Scope(None, clearance=1 << 30)
"""The operator's scope (CLI on the server): every row, every clearance."""


@dataclass(frozen=True)
class Principal:
    """Who a request speaks for: ``subject`` is ``user:<name>``, ``token:<name>`` or
    ``cli:<os user>`` (what audit entries and signed stream URLs carry)."""

    subject: str
    user_name: str
    role: str
    scope: Scope = field(default_factory=Scope)

    @property
    def jurisdiction_id(self) -> int | None:
        return self.scope.root_id

    @property
    def kind(self) -> str:
        return self.subject.partition(":")[0]


def scope_of(conn: Connection, jurisdiction_id: int | None, clearance: int) -> Scope:
    """The scope of a unit: the unit and all units below it; the whole platform for a
    city-level unit or none."""
    if jurisdiction_id is None:
        return Scope(None, clearance)
    rows = conn.execute(
        text("WITH RECURSIVE t AS (SELECT id, level, code FROM jurisdictions WHERE id = :j "
             "UNION ALL SELECT c.id, c.level, c.code FROM jurisdictions c "
             "JOIN t ON c.parent_id = t.id) SELECT id, level, code FROM t"),
        {"j": jurisdiction_id},
    ).all()  # fmt: skip
    if not rows:
        # The unit is gone (RESTRICT foreign keys should prevent it): see nothing.
        return Scope(frozenset(), clearance, jurisdiction_id, None)
    root = next(r for r in rows if r.id == jurisdiction_id)
    if root.level == "city":
        return Scope(None, clearance, jurisdiction_id, root.code)
    return Scope(frozenset(int(r.id) for r in rows), clearance, jurisdiction_id, root.code)


def cli_principal() -> Principal:
    """The operator at the server's shell: whole city, audited as ``cli:<os user>``."""
    import getpass

    user = getpass.getuser()
    return Principal(f"cli:{user}", user, "admin", EVERYTHING)
