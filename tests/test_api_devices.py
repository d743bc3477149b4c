"""Device writes over the Features API: create, read, update, delete round trips; invalid
payloads answered with problem+json naming the field and nothing written; district tokens
cannot write another district; each write one audit entry. Real PostGIS, real HTTP."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from api.features import CGCS2000, GCJ02
from gis.crs import transform_xy
from tests.test_api_features import Town, call, make_town

_rng = random.Random(11)


@pytest.fixture(scope="module")
def town(city_url: str) -> Iterator[Town]:
    yield from make_town(city_url)


def _site(town: Town, unit: str) -> tuple[str, tuple[float, float]]:
    """A new camera device id of district ``unit`` and a point inside one of its stations."""
    prefix = town.sql("SELECT device_id FROM cameras WHERE jurisdiction_id = ANY(:u) "
                      "ORDER BY id LIMIT 1", u=town.units[unit])[0][0][:10]  # fmt: skip
    x, y = town.sql("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM "
                    "jurisdictions WHERE id = ANY(:u) AND level = 'station' ORDER BY id "
                    "LIMIT 1) s", u=town.units[unit])[0]  # fmt: skip
    return f"{prefix}1320{_rng.randrange(10**6):06d}", (float(x), float(y))


def _camera(device_id: str, xy: tuple[float, float], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(xy)},
            "properties": {"device_id": device_id, "name": f"api camera {device_id[-6:]}",
                           "azimuth_deg": 90.0, "tilt_deg": 15.0, "mount_height_m": 6.0,
                           "focal_length_mm": 4.0, "sensor_width_mm": 5.6,
                           "sensor_height_mm": 3.2, "resolution_w_px": 2560,
                           "resolution_h_px": 1440, "camera_type": "fixed", "kind": "road",
                           "owner": "api test", "ptz_presets": [],
                           "attributes": {"工单": "A-1"}, **props}}  # fmt: skip


def _count(town: Town, table: str = "cameras") -> int:
    return int(town.sql(f"SELECT count(*) FROM {table}")[0][0])


def _audit(town: Town, action: str, since: int) -> list[Any]:
    return town.sql("SELECT action, target, outcome, actor, details FROM audit_log "
                    "WHERE seq > :s AND action = :a ORDER BY seq", s=since, a=action)  # fmt: skip


def _seq(town: Town) -> int:
    return int(town.sql("SELECT coalesce(max(seq), 0) FROM audit_log")[0][0])


def test_camera_round_trip_create_read_update_delete(town: Town) -> None:
    tok = town.tokens["planner:a"]
    device, xy = _site(town, "a")
    items = town.url("/collections/cameras/items")
    seq = _seq(town)
    r = call("POST", items, tok, _camera(device, xy))
    assert r.status == 201, r.body
    assert r.headers["Location"] == f"/collections/cameras/items/{device}"
    got = call("GET", town.api.base + r.headers["Location"], tok)
    assert got.status == 200 and got.body["id"] == device
    p = got.body["properties"]
    assert (p["name"], p["azimuth_deg"], p["resolution_w_px"], p["owner"], p["kind"]) == (
        f"api camera {device[-6:]}", 90.0, 2560, "api test", "road")
    assert p["attributes"] == {"工单": "A-1"} and p["source"] == "survey"
    assert abs(p["hfov_deg"] - 70.0) < 0.1  # derived by the importer: 2·atan(5.6 / 8)
    assert np.allclose(got.body["geometry"]["coordinates"], xy, atol=1e-9)
    # in the database, independently
    row = town.sql("SELECT ST_X(geom), ST_Y(geom), jurisdiction_id FROM cameras "
                   "WHERE device_id = :d", d=device)[0]  # fmt: skip
    assert np.allclose(row[:2], xy) and row[2] in town.units["a"]
    # update: the GET body sent back with a new azimuth (read-only members ignored)
    back = dict(got.body)
    back.pop("links")
    back["properties"] = {**p, "azimuth_deg": 180.0, "name": "renamed"}
    r = call("PUT", town.url(f"/collections/cameras/items/{device}"), tok, back)
    assert r.status == 200, r.body
    assert r.body["properties"]["azimuth_deg"] == 180.0 and r.body["properties"]["name"] == \
        "renamed"  # fmt: skip
    assert call("GET", town.url(f"/collections/cameras/items/{device}"), tok).body[
        "properties"]["azimuth_deg"] == 180.0  # fmt: skip
    # a PUT in CGCS2000 (latitude first) moves it
    moved = (xy[0] + 1e-4, xy[1] + 1e-4)
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [moved[1],
            moved[0]]}, "properties": {}}  # fmt: skip
    r = call("PUT", town.url(f"/collections/cameras/items/{device}"), tok, body,
             {"Content-Crs": f"<{CGCS2000}>"})  # fmt: skip
    assert r.status == 200 and np.allclose(r.body["geometry"]["coordinates"], moved)
    assert r.body["properties"]["name"] == "renamed"  # left out: kept
    # geometry null: only properties change (with a GCJ-02 Content-Crs that then has no use)
    r = call("PUT", town.url(f"/collections/cameras/items/{device}"), tok,
             {"type": "Feature", "geometry": None, "properties": {"tilt_deg": 20}},
             {"Content-Crs": GCJ02})  # fmt: skip
    assert r.status == 200 and np.allclose(r.body["geometry"]["coordinates"], moved)
    assert r.body["properties"]["tilt_deg"] == 20
    r = call("DELETE", town.url(f"/collections/cameras/items/{device}"), tok)
    assert r.status == 204
    assert call("GET", town.url(f"/collections/cameras/items/{device}"), tok).status == 404
    assert call("DELETE", town.url(f"/collections/cameras/items/{device}"), tok).status == 404
    # one audit entry per write: create and the updates as imports, the delete as such
    imports = _audit(town, "import", seq)
    assert [(i.target, i.outcome) for i in imports] == [
        (f"cameras-create-{device}.csv", "ok"), (f"cameras-update-{device}.csv", "ok"),
        (f"cameras-update-{device}.csv", "ok"), (f"cameras-update-{device}.csv", "ok")]
    assert [json.loads(i.details)["mode"] for i in imports] == ["insert"] + ["upsert"] * 3
    deletes = _audit(town, "device.delete", seq)
    assert [(d.target, d.outcome) for d in deletes] == [(device, "ok")]
    assert {i.actor for i in [*imports, *deletes]} == {deletes[0].actor}


def test_checkpoint_round_trip_in_gcj02(town: Town) -> None:
    tok = town.tokens["planner:city"]
    device, xy = _site(town, "b")
    gx, gy = transform_xy(*xy, "wgs84", "gcj02")
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(gx),
            float(gy)]}, "properties": {"device_id": device, "name": "entry west",
            "lanes": 4, "directions": ["in", "out"], "is_entry": True}}  # fmt: skip
    r = call("POST", town.url("/collections/checkpoints/items"), tok, body,
             {"Content-Crs": GCJ02})  # fmt: skip
    assert r.status == 201, r.body
    assert np.allclose(r.body["geometry"]["coordinates"], xy, atol=1e-7)  # to < 1 cm
    p = r.body["properties"]
    assert (p["lanes"], p["directions"], p["is_entry"]) == (4, ["in", "out"], True)
    r = call("DELETE", town.url(f"/collections/checkpoints/items/{device}"), tok)
    assert r.status == 204 and _count_device(town, device, "checkpoints") == 0


def _count_device(town: Town, device: str, table: str = "cameras") -> int:
    return int(town.sql(f"SELECT count(*) FROM {table} WHERE device_id = :d", d=device)[0][0])


def test_invalid_payloads_name_the_field_and_write_nothing(town: Town) -> None:
    tok = town.tokens["planner:city"]
    device, xy = _site(town, "a")
    items = town.url("/collections/cameras/items")
    before = _count(town)
    cases: list[tuple[Any, int, list[str]]] = [
        (_camera(device, xy, azimuth_deg=400), 422, ["azimuth_deg"]),
        (_camera(device, xy, tilt_deg="steep"), 422, ["tilt_deg"]),
        (_camera(device[:-1], xy), 422, ["device_id"]),
        (_camera(device[:10] + "1110" + device[14:], xy), 422, ["device_id"]),  # a DVR
        (_camera(device, xy, name=None), 422, ["name"]),
        (_camera(device, (xy[0] + 5, xy[1])), 422, ["geometry"]),  # far outside the city
        (_camera(device, xy, colour="red"), 422, ["colour"]),
        (_camera(device, xy, resolution_w_px=1920, resolution_h_px=None), 422,
         ["resolution_h_px"]),
        (_camera(device, xy, attributes={"azimuth": 5}), 422, ["attributes.azimuth"]),
        ({**_camera(device, xy), "geometry": {"type": "LineString",
                                              "coordinates": [xy, xy]}}, 422, ["geometry"]),
        ({**_camera(device, xy), "properties": [1]}, 422, ["properties"]),
        ({**_camera(device, xy), "geometry": None}, 422, ["geometry"]),
        ({"type": "FeatureCollection", "features": []}, 400, ["type"]),
        (b"{not json", 400, ["body"]),
    ]  # fmt: skip
    for body, status, fields in cases:
        r = call("POST", items, tok, body)
        assert (r.status, r.body.get("invalid_params")) == (status, fields), (fields, r.body)
        assert r.problem and r.body["detail"]
        assert _count(town) == before and _count_device(town, device) == 0
    r = call("POST", items, tok, _camera(device, xy), {"Content-Crs": "<EPSG:3857>"})
    assert r.status == 400 and r.body["invalid_params"] == ["Content-Crs"]
    # an existing id cannot be created again; an update cannot change the id
    existing = town.sql("SELECT device_id FROM cameras WHERE jurisdiction_id = ANY(:u) "
                        "ORDER BY id LIMIT 1", u=town.units["a"])[0][0]  # fmt: skip
    r = call("POST", items, tok, _camera(existing, xy))
    assert r.status == 422 and r.body["invalid_params"] == ["device_id"]
    assert [e["reason"] for e in r.body["errors"]] == [
        f"already in the store (PUT /collections/cameras/items/{existing} updates it)"]
    r = call("PUT", town.url(f"/collections/cameras/items/{existing}"), tok,
             _camera(device, xy))  # fmt: skip
    assert r.status == 422 and r.body["invalid_params"] == ["device_id"]
    assert _count(town) == before
    # read-only collections
    r = call("POST", town.url("/collections/key-areas/items"), tok, _camera(device, xy))
    assert r.status == 405 and r.problem
    r = call("POST", town.url("/collections/coverage/items"), tok, _camera(device, xy))
    assert r.status == 405


def test_a_district_cannot_write_another_district(town: Town) -> None:
    tok_a = town.tokens["planner:a"]
    device_b, xy_b = _site(town, "b")
    before = _count(town)
    seq = _seq(town)
    r = call("POST", town.url("/collections/cameras/items"), tok_a, _camera(device_b, xy_b))
    assert r.status == 403 and r.problem and "jurisdiction" in r.body["invalid_params"], r.body
    assert _count(town) == before and _count_device(town, device_b) == 0
    assert [a.outcome for a in _audit(town, "import", seq)] == ["refused"]
    theirs = town.sql("SELECT device_id, name, ST_AsText(geom) FROM cameras "
                      "WHERE jurisdiction_id = ANY(:u) ORDER BY id LIMIT 1",
                      u=town.units["b"])[0]  # fmt: skip
    r = call("PUT", town.url(f"/collections/cameras/items/{theirs.device_id}"), tok_a,
             {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(xy_b)},
              "properties": {"name": "hijacked"}})  # fmt: skip
    assert r.status == 404 and r.problem
    r = call("DELETE", town.url(f"/collections/cameras/items/{theirs.device_id}"), tok_a)
    assert r.status == 404
    assert town.sql("SELECT device_id, name, ST_AsText(geom) FROM cameras WHERE device_id = :d",
                    d=theirs.device_id)[0] == theirs  # fmt: skip
    # moving one's own camera into another district is refused too
    device_a, xy_a = _site(town, "a")
    assert call("POST", town.url("/collections/cameras/items"), tok_a,
                _camera(device_a, xy_a)).status == 201  # fmt: skip
    r = call("PUT", town.url(f"/collections/cameras/items/{device_a}"), tok_a,
             {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(xy_b)},
              "properties": {}})  # fmt: skip
    assert r.status in (403, 422) and r.problem, r.body
    row = town.sql("SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE device_id = :d",
                   d=device_a)[0]  # fmt: skip
    assert np.allclose(row, xy_a)
    assert call("DELETE", town.url(f"/collections/cameras/items/{device_a}"),
                tok_a).status == 204  # fmt: skip


def test_roles_without_import_cannot_write(town: Town) -> None:
    device, xy = _site(town, "a")
    for role in ("viewer", "commander", "investigator"):
        tok = town.tokens[f"{role}:city"]
        r = call("POST", town.url("/collections/cameras/items"), tok, _camera(device, xy))
        assert r.status == 403 and "may not import" in r.body["detail"], role
        existing = town.sql("SELECT device_id FROM cameras ORDER BY id LIMIT 1")[0][0]
        assert call("DELETE", town.url(f"/collections/cameras/items/{existing}"),
                    tok).status == 403  # fmt: skip
    assert call("POST", town.url("/collections/cameras/items"), None,
                _camera(device, xy)).status == 401  # fmt: skip
    assert _count_device(town, device) == 0


def test_a_camera_with_sightings_is_not_deleted(town: Town) -> None:
    tok = town.tokens["planner:city"]
    device, xy = _site(town, "a")
    assert call("POST", town.url("/collections/cameras/items"), tok,
                _camera(device, xy)).status == 201  # fmt: skip
    with town.engine.begin() as conn:
        conn.execute(text("INSERT INTO sightings (camera_id, seen_at, object_ref) SELECT id, "
                          "now(), 'ref-1' FROM cameras WHERE device_id = :d"), {"d": device})
    seq = _seq(town)
    r = call("DELETE", town.url(f"/collections/cameras/items/{device}"), tok)
    assert r.status == 409 and "sightings" in r.body["detail"]
    assert _count_device(town, device) == 1
    assert [a.outcome for a in _audit(town, "device.delete", seq)] == ["refused"]
    with town.engine.begin() as conn:
        conn.execute(text("DELETE FROM sightings WHERE object_ref = 'ref-1'"))
    assert call("DELETE", town.url(f"/collections/cameras/items/{device}"), tok).status == 204
