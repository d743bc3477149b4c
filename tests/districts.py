"""The demo city's two first districts and a coverage run, as the security and API tests use
them (read straight from the tables, independent of ``store.scope``)."""

from __future__ import annotations

from sqlalchemy import Engine, text

from analysis.coverage_run import run_coverage
from store import coverage


def two_districts(engine: Engine) -> tuple[int, dict[str, str], dict[str, frozenset[int]]]:
    """(run id, codes ``{"city", "a", "b"}``, units ``{"a", "b"}`` -> the district's id and its
    stations' ids). Computes a coverage run when the store has none."""
    with engine.connect() as conn:
        run_id = coverage.latest_run(conn)
        rows = conn.execute(text("SELECT id, code, level, parent_id FROM jurisdictions")).all()
    if run_id is None:
        run_id = run_coverage(engine, workers=2).run_id
    assert run_id is not None
    districts = sorted((r for r in rows if r.level == "district"), key=lambda r: r.code)
    codes = {"city": next(r.code for r in rows if r.level == "city"),
             "a": districts[0].code, "b": districts[1].code}  # fmt: skip
    units = {k: frozenset({d.id} | {r.id for r in rows if r.parent_id == d.id})
             for k, d in (("a", districts[0]), ("b", districts[1]))}  # fmt: skip
    return run_id, codes, units
