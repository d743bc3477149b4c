"""Alarm intake over HTTP: the alarm is stored with its jurisdiction, the cameras are the ones
the coverage engine says see the point (in the token's scope), each with stream URLs signed for
the token; one audit entry; another district's place is refused. Real PostGIS, real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from gis.crs import transform_xy
from store import access, coverage
from store.scope import EVERYTHING, Scope
from tests.test_api_features import Town, call, make_town

KEY = b"features-test-key"  # the signing key make_town's settings carry


@pytest.fixture(scope="module")
def town(city_url: str) -> Iterator[Town]:
    yield from make_town(city_url)


def _point_seen_only_by(town: Town, unit: str) -> tuple[float, float]:
    """A point that cameras of district ``unit`` see and no camera outside it does."""
    pts = town.sql("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(v.geom) p "
                   "FROM coverage_visible v JOIN cameras c ON c.id = v.camera_id "
                   "WHERE v.run_id = :r AND v.level = 'detect' AND v.area_m2 > 20 "
                   "AND c.jurisdiction_id = ANY(:u) ORDER BY v.id LIMIT 300) s",
                   r=town.run_id, u=town.units[unit])  # fmt: skip
    mine = {r[0] for r in town.sql("SELECT device_id FROM cameras WHERE jurisdiction_id = "
                                   "ANY(:u)", u=town.units[unit])}  # fmt: skip
    with town.engine.connect() as conn:
        for x, y in pts:
            seen = {c["device_id"] for c in coverage.cameras_seeing(conn, town.run_id, x, y,
                                                                    EVERYTHING)}  # fmt: skip
            if len(seen) >= 2 and seen <= mine:
                return float(x), float(y)
    raise AssertionError(f"no point seen by two cameras of district {unit} only")


def _seen(town: Town, x: float, y: float, scope: Scope = EVERYTHING) -> list[dict[str, object]]:
    with town.engine.connect() as conn:
        run = coverage.latest_run(conn)
        assert run is not None
        return coverage.cameras_seeing(conn, run, x, y, scope)


def test_alarm_returns_the_cameras_the_coverage_engine_says_with_signed_urls(town: Town) -> None:
    x, y = _point_seen_only_by(town, "a")
    tok = town.tokens["commander:city"]
    seq = int(town.sql("SELECT coalesce(max(seq), 0) FROM audit_log")[0][0])
    t0 = time.time()
    r = call("POST", town.url("/alarms"), tok, {"lon": x, "lat": y, "kind": "110",
                                                "external_id": "JJ-2026-0001"})  # fmt: skip
    assert r.status == 201, r.body
    expected = [c for c in _seen(town, x, y) if c["camera_id"] is not None]
    assert len(expected) >= 2
    assert [(c["device_id"], c["dori_level"], c["distance_m"]) for c in r.body["cameras"]] == [
        (c["device_id"], c["dori_level"], c["distance_m"]) for c in expected]
    with town.engine.connect() as conn:
        assert r.body["run_id"] == coverage.latest_run(conn)
    # the stream URLs: for this camera, this token's subject, the gateway's routes
    subject = json.loads(town.sql("SELECT details FROM audit_log WHERE seq > :s AND action = "
                                  "'alarm.intake'", s=seq)[0][0])  # fmt: skip
    actor = town.sql("SELECT actor FROM audit_log WHERE seq > :s AND action = 'alarm.intake'",
                     s=seq)[0][0]  # fmt: skip
    assert actor.startswith("token:") and subject["cameras"] == len(expected)
    for cam in r.body["cameras"]:
        routes = {"ws": "/ws", "hls": "/hls/index.m3u8", "snapshot": "/snapshot.jpg"}
        assert set(cam["streams"]) == set(routes)
        for kind, url in cam["streams"].items():
            parts = urlsplit(url)
            assert parts.scheme == ("ws" if kind == "ws" else "http")
            assert parts.path == f"/streams/{cam['device_id']}{routes[kind]}"
            params = dict(parse_qsl(parts.query))
            assert access.verify(KEY, cam["device_id"], params) == actor
            assert t0 + 250 < int(params["exp"]) < time.time() + 310  # stream_url_ttl_s 300
            with pytest.raises(access.StreamAccessError):
                access.verify(KEY, "99999999999999999999", params)
    # stored with the most local unit covering the point (computed here independently)
    alarm = town.sql("SELECT kind, status, source, jurisdiction_id, ST_X(geom), ST_Y(geom) "
                     "FROM alarms WHERE id = :i", i=r.body["alarm_id"])[0]  # fmt: skip
    unit = town.sql("SELECT id, code FROM jurisdictions WHERE ST_Covers(geom, "
                    "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY CASE level WHEN 'station' "
                    "THEN 0 WHEN 'district' THEN 1 ELSE 2 END LIMIT 1", x=x, y=y)[0]  # fmt: skip
    assert (alarm.kind, alarm.status, alarm.source, alarm.jurisdiction_id) == (
        "110", "open", "api", unit.id)
    assert np.allclose((alarm[4], alarm[5]), (x, y)) and r.body["jurisdiction"] == unit.code
    entries = town.sql("SELECT target, outcome, details FROM audit_log WHERE seq > :s",
                       s=seq)  # fmt: skip
    assert [(e.target, e.outcome) for e in entries] == [(str(r.body["alarm_id"]), "ok")]
    assert json.loads(entries[0].details)["external_id"] == "JJ-2026-0001"


def test_a_district_gets_its_own_cameras_and_cannot_raise_alarms_elsewhere(town: Town) -> None:
    a_pt, b_pt = _point_seen_only_by(town, "a"), _point_seen_only_by(town, "b")
    tok_a = town.tokens["commander:a"]
    before = int(town.sql("SELECT count(*) FROM alarms")[0][0])
    seq = int(town.sql("SELECT coalesce(max(seq), 0) FROM audit_log")[0][0])
    r = call("POST", town.url("/alarms"), tok_a, {"lon": b_pt[0], "lat": b_pt[1]})
    assert r.status == 403 and r.problem and r.body["invalid_params"] == ["lon", "lat"]
    assert int(town.sql("SELECT count(*) FROM alarms")[0][0]) == before
    assert [e.outcome for e in town.sql("SELECT outcome FROM audit_log WHERE seq > :s "
                                        "AND action = 'alarm.intake'", s=seq)] == ["refused"]
    r = call("POST", town.url("/alarms"), tok_a, {"lon": a_pt[0], "lat": a_pt[1]})
    assert r.status == 201
    a_units = frozenset(town.units["a"])
    expected = _seen(town, *a_pt, Scope(a_units, clearance=10, root_id=min(a_units)))
    assert [c["device_id"] for c in r.body["cameras"]] == [c["device_id"] for c in expected]
    assert expected


def test_alarm_in_gcj02_is_stored_in_wgs84(town: Town) -> None:
    x, y = _point_seen_only_by(town, "b")
    gx, gy = transform_xy(x, y, "wgs84", "gcj02")
    r = call("POST", town.url("/alarms"), town.tokens["commander:b"],
             {"lon": float(gx), "lat": float(gy), "crs": "gcj02", "priority": 1,
              "occurred_at": "2026-11-25T08:00:00+08:00"})  # fmt: skip
    assert r.status == 201, r.body
    assert abs(r.body["lon"] - x) < 1e-7 and abs(r.body["lat"] - y) < 1e-7  # < 1 cm
    row = town.sql("SELECT priority, occurred_at FROM alarms WHERE id = :i",
                   i=r.body["alarm_id"])[0]  # fmt: skip
    assert row.priority == 1 and row.occurred_at == dt.datetime(2026, 11, 25, 0, 0, tzinfo=dt.UTC)
    assert r.body["cameras"]


def test_invalid_alarms_name_the_field(town: Town) -> None:
    tok = town.tokens["commander:city"]
    before = int(town.sql("SELECT count(*) FROM alarms")[0][0])
    for body, fields in (({"lat": 43.7}, ["lon"]), ({"lon": 7.4, "lat": "north"}, ["lat"]),
                         ({"lon": 7.4, "lat": 95}, ["lon", "lat"]),
                         ({"lon": 7.4, "lat": 43.7, "crs": "mars"}, ["crs"]),
                         ({"lon": 7.4, "lat": 43.7, "priority": 9}, ["priority"]),
                         ({"lon": 7.4, "lat": 43.7, "occurred_at": "noon"}, ["occurred_at"]),
                         ({"lon": 7.4, "lat": 43.7, "colour": "red"}, ["colour"]),
                         ([7.4, 43.7], ["body"])):  # fmt: skip
        r = call("POST", town.url("/alarms"), tok, body)
        assert r.status in (400, 422) and r.problem and r.body["invalid_params"] == fields, body
    assert call("POST", town.url("/alarms"), tok, b"nope").status == 400
    assert int(town.sql("SELECT count(*) FROM alarms")[0][0]) == before
    # a stranger and a role without the action learn nothing, not even about the body
    assert call("POST", town.url("/alarms"), None, {"lat": 1}).status == 401
    for role in ("viewer", "planner", "investigator"):
        r = call("POST", town.url("/alarms"), town.tokens[f"{role}:city"], {"lon": 7.4,
                                                                            "lat": 43.7})
        assert r.status == 403 and "may not alarms" in r.body["detail"], role
    assert int(town.sql("SELECT count(*) FROM alarms")[0][0]) == before
