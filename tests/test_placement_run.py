"""Placement on the demo city end to end: propose 10 cameras, store, show, accept, and check
with a coverage rerun that the blind area shrinks by about what the proposal claimed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from analysis import placement_run as pr
from analysis.coverage_run import run_coverage
from gis.gb28181 import parse_device_id
from gis.placement_sites import DEFAULT_LENSES
from importers.city import load_demo
from layers import placement as placement_layer
from settings import Settings
from store import migrate
from store import placement as store_pl
from store.cluster import LocalCluster
from store.scope import Principal, scope_of

# Coarser than the CLI defaults (one lens, 90-degree steps, sparser sites and demand) so the
# module stays well under a minute; the geometry and the solver are the same.
FAST = dict(lenses=[ln for ln in DEFAULT_LENSES if ln.key == "12mm"], azimuth_step_deg=90.0,
            pole_spacing_m=60.0, facade_spacing_m=60.0, spacing_m=8.0, reach_m=80.0)


@pytest.fixture(scope="module")
def city_engine(pg_cluster: LocalCluster) -> Iterator[Engine]:
    """A database of this module's own with the demo city and one coverage run."""
    name = f"placement_{os.getpid()}"
    admin = create_engine(pg_cluster.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(pg_cluster.url(name))
    migrate.upgrade(engine)
    s = Settings()
    load_demo(engine, s.demo_osm_file, s.demo_seed)
    run_coverage(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def proposal(city_engine: Engine) -> pr.ProposalReport:
    return pr.propose(city_engine, cameras=10, workers=2, **FAST)  # type: ignore[arg-type]


def test_ten_cameras_are_proposed_stored_and_honest_about_the_gap(
    city_engine: Engine, proposal: pr.ProposalReport
) -> None:
    f = proposal.figures
    assert f["cameras"] == 10 and proposal.proposal_id is not None
    assert f["gained_m2"] > 0 and 0 < f["gained_pct_of_blind"] < 100
    assert proposal.solver["status"] == "heuristic"  # greedy is never called optimal
    assert f["upper_bound_weight"] >= f["covered_weight"]
    assert f["gap_pct"] == pytest.approx(
        100 * (f["upper_bound_weight"] - f["covered_weight"]) / f["covered_weight"], abs=0.01)
    gains = [s["gain_weight"] for s in proposal.as_dict()["sites"]]
    assert sum(gains) == pytest.approx(f["covered_weight"], rel=1e-6)
    c = proposal.curve
    assert c["chosen_pct"][-1] <= c["bound_pct"][10] + 1e-6
    assert all(b >= g - 1e-6 for g, b in zip(c["greedy_pct"], c["bound_pct"], strict=True))
    with city_engine.connect() as conn:
        stored = store_pl.read_sites(conn, proposal.proposal_id)
        listed = store_pl.list_proposals(conn)
        bld = conn.execute(text(
            "SELECT count(*) FROM placement_sites s JOIN buildings b ON ST_Intersects(b.geom, "
            "s.geom) WHERE s.proposal_id = :p"), {"p": proposal.proposal_id}).scalar_one()
    assert len(stored) == 10 and bld == 0
    assert listed[0]["id"] == proposal.proposal_id and listed[0]["sites"] == 10
    overlay = placement_layer.build(stored)
    views, points = overlay.children.children
    assert len(points.data["features"]) == 10 and len(views.data["features"]) == 10
    json.dumps(points.data, allow_nan=False)
    svg = pr.curve_svg(proposal.curve, title="t", budget=10)
    assert svg.startswith("<svg") and svg.count("<polyline") == 3
    assert "<svg" in pr.curve_html(proposal)


def test_cover_all_in_a_station_covers_everything_coverable_and_reports_the_rest(
    city_engine: Engine,
) -> None:
    rep = pr.propose(city_engine, cover_all=True, jurisdiction="99010101", save=False,
                     workers=2, **FAST)  # type: ignore[arg-type]
    f, s = rep.figures, rep.solver
    assert s["objective"] == "set_cover" and s["status"] == "heuristic"
    assert rep.sites is not None and f["cameras"] == len(rep.sites) > 0
    assert 1 <= f["lower_bound_cameras"] <= f["cameras"]
    # nothing a candidate can see is left out; what none can see is reported, with its area
    assert f["uncovered_after"] == f["uncoverable_points"]
    assert len(f["uncoverable_ids"]) == min(f["uncoverable_points"], 200)
    assert f["gained_m2"] + f["uncoverable_m2"] == pytest.approx(f["blind_m2"], rel=0.01)
    assert rep.as_dict()["sites"][0]["jurisdiction_code"] == "99010101"


def test_the_newest_proposal_shows_on_the_console(
    city_engine: Engine, proposal: pr.ProposalReport
) -> None:
    from layers import placement as placement_layer
    from pages.map import layout
    from store.queries import map_frames
    from store.scope import EVERYTHING, Principal

    frames = map_frames(city_engine, EVERYTHING)
    assert len(frames["placement"]) == 10
    planner = Principal("user:planner", "planner", "planner", EVERYTHING)
    page = layout(Settings(basemap_url=None), frames, principal=planner)
    found = []

    def walk(node: object) -> None:
        if getattr(node, "id", None) == placement_layer.LAYER_ID:
            found.append(node)
        children = getattr(node, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if child is not None and not isinstance(child, str):
                walk(child)

    walk(page)
    assert len(found) == 1 and len(found[0].data["features"]) == 10


def test_accept_inserts_valid_cameras_and_the_rerun_confirms_the_gain(
    city_engine: Engine, proposal: pr.ProposalReport
) -> None:
    pid = proposal.proposal_id
    assert pid is not None
    before = run_coverage(city_engine, save=False).totals["blind_spot_m2"]
    with city_engine.connect() as conn:
        audited = conn.execute(text("SELECT count(*) FROM audit_log "
                                    "WHERE action = 'placement.accept'")).scalar_one()  # fmt: skip
        # a station of a district with no site of this proposal: the acceptance is refused
        station = conn.execute(text(
            "SELECT j.id FROM jurisdictions j WHERE j.level = 'station' AND NOT EXISTS ("
            "SELECT 1 FROM placement_sites s WHERE s.proposal_id = :p "
            "AND ST_Covers(j.geom, s.geom)) ORDER BY j.id LIMIT 1"), {"p": pid}
        ).scalar_one()  # fmt: skip
        outsider = Principal("user:p-x", "p-x", "planner", scope_of(conn, station, 0))
    with pytest.raises(store_pl.ProposalError, match="outside your jurisdiction"):
        pr.accept(city_engine, pid, [1], principal=outsider)
    with pytest.raises(store_pl.ProposalError, match="no site of rank"):
        pr.accept(city_engine, pid, [11])
    added = pr.accept(city_engine, pid, [1, 2])
    added += pr.accept(city_engine, pid)  # the rest
    with city_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log WHERE action = "
                                 "'placement.accept'")).scalar_one() == audited + 2  # fmt: skip
    assert len(added) == 10 and added[-1]["proposal_status"] == "accepted"
    for a in added:
        parsed = parse_device_id(a["device_id"])
        assert parsed.type_code == "132" and parsed.centre_code.startswith("9901")
    assert len({a["device_id"] for a in added}) == 10
    with pytest.raises(store_pl.ProposalError, match="already accepted"):
        pr.accept(city_engine, pid, [3])
    with city_engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM cameras WHERE source = 'placement'")
                         ).scalar_one()  # fmt: skip
    assert n == 10
    after = run_coverage(city_engine, save=False).totals["blind_spot_m2"]
    claimed = proposal.figures["gained_m2"]
    assert before - after == pytest.approx(claimed, rel=0.1)
