"""Device writes over the Features API: create, update and delete cameras and checkpoints.

A posted GeoJSON Feature is written as a one-row CSV into a private temporary directory and
imported with :func:`importers.survey.importer.import_survey` (``insert`` to create, ``upsert``
to update) under the token's principal, so the checks are exactly the survey importer's: field
names, units and ranges, GB/T 28181 ids, the city extent, the jurisdiction and clearance of a
district token. That import is the request's one audit entry (``import``, target
``<collection>-<create|update>-<device id>.csv``); a delete is one ``device.delete`` entry.
"""

from __future__ import annotations

import asyncio
import csv
import json
import math
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import Connection, Engine

from api.app import problem
from api.auth import authorized, require
from api.features import (
    CGCS2000,
    CRS84,
    EPSG4326,
    GCJ02,
    GEOJSON,
    BadQuery,
    collection_of,
    engine_of,
    feature_text,
    parse_crs,
    with_links,
)
from importers.survey.columns import FIELDS, normalise_header
from importers.survey.importer import CrsRequiredError, ImportFailed, import_survey
from store import audit
from store import features as store_features
from store.features import Collection
from store.scope import Principal

ACTION = "import"
IMPORTER_CRS = {CRS84: "wgs84", EPSG4326: "wgs84", CGCS2000: "cgcs2000", GCJ02: "gcj02"}
# properties the API writes itself: ignored when a client sends a feature back
READ_ONLY = frozenset({"updated_at", "source", "status_since"})
# fragments of store.survey.out_of_scope_rows' reasons: the token may not write there
_SCOPE_REASONS = ("outside your jurisdiction", "not yours to change", "above your clearance")
_DEVICE_ID = re.compile(r"[0-9]{20}")


@dataclass
class Invalid(Exception):
    """A body that cannot be written: HTTP ``status`` and the fields at fault."""

    status: int
    detail: str
    fields: list[str]
    errors: list[dict[str, Any]] = field(default_factory=list)

    def response(self) -> web.Response:
        title = {400: "Bad body", 403: "Forbidden", 422: "Invalid feature"}.get(
            self.status, "Error"
        )
        extra: dict[str, Any] = {"invalid_params": self.fields}
        if self.errors:
            extra["errors"] = self.errors
        return problem(self.status, title, self.detail, **extra)


def _cell(name: str, value: Any) -> str:
    """A property value as the survey importer reads a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(422, f"{name} must be a finite number", [name])
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list) and name == "directions":
        return ",".join(str(v) for v in value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    raise Invalid(422, f"{name}: unsupported value {value!r}", [name])


def feature_row(kind: str, feature: Any, crs_uri: str, device_id: str | None) -> dict[str, str]:
    """The CSV row (header -> cell) of a GeoJSON Feature for the importer's ``kind``.

    ``device_id`` is the id in the URL of an update (the feature may repeat it, not change
    it). Raises :class:`Invalid` naming the member at fault.
    """
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise Invalid(400, 'send one GeoJSON Feature ({"type": "Feature", ...})', ["type"])
    geom = feature.get("geometry")
    coords = geom.get("coordinates") if isinstance(geom, dict) else None
    keep_place = geom is None and device_id is not None  # an update that does not move it
    if not keep_place and (
            not isinstance(geom, dict) or geom.get("type") != "Point"
            or not isinstance(coords, list) or len(coords) not in (2, 3)
            or not all(isinstance(v, int | float) and not isinstance(v, bool)
                       and math.isfinite(v) for v in coords)):  # fmt: skip
        raise Invalid(422, "geometry must be a GeoJSON Point with finite coordinates (null "
                      "in an update keeps the stored position)", ["geometry"])  # fmt: skip
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise Invalid(422, "properties must be an object", ["properties"])
    known = {f.name for f in FIELDS[kind]} - {"x", "y", "wkt"}
    aliases = {normalise_header(a) for f in FIELDS[kind] for a in f.aliases}
    row: dict[str, str] = {}
    if coords is not None:
        lat_first = crs_uri in (EPSG4326, CGCS2000)
        row["x"], row["y"] = (repr(coords[1]), repr(coords[0])) if lat_first else (
            repr(coords[0]), repr(coords[1]))  # fmt: skip
    res: dict[str, Any] = {}
    for name, value in props.items():
        if name in READ_ONLY:
            continue
        if name in ("resolution_w_px", "resolution_h_px") and kind == "cameras":
            res[name] = value
        elif name == "attributes":
            if value is None:
                continue
            if not isinstance(value, dict):
                raise Invalid(422, "attributes must be an object", ["attributes"])
            for key, v in value.items():
                if normalise_header(key) in aliases or key in READ_ONLY:
                    raise Invalid(422, f"attribute {key!r} has the name of a {kind} field: "
                                  "give it as a property", [f"attributes.{key}"])  # fmt: skip
                row[str(key)] = _cell(f"attributes.{key}", v)
        elif name in known:
            row[name] = _cell(name, value)
        else:
            raise Invalid(422, f"unknown property {name!r} for {kind}; put free-form values in "
                          f"'attributes'. Known: {', '.join(sorted(known))}", [name])  # fmt: skip
    if res:
        missing = [n for n in ("resolution_w_px", "resolution_h_px") if res.get(n) is None]
        if missing and len(missing) < 2:
            raise Invalid(422, "give resolution_w_px and resolution_h_px together", missing)
        if not missing:
            row["resolution"] = f"{_cell('resolution_w_px', res['resolution_w_px'])}x" \
                                f"{_cell('resolution_h_px', res['resolution_h_px'])}"
    fid = feature.get("id")
    given = props.get("device_id")
    if device_id is not None:
        if given is not None and str(given) != device_id:
            raise Invalid(422, f"device_id {given!r} differs from the id in the URL "
                          f"{device_id!r}: a device id cannot change", ["device_id"])  # fmt: skip
        row["device_id"] = device_id
    elif given is None and fid is not None:
        row["device_id"] = str(fid)
    if fid is not None and str(fid) != row.get("device_id"):
        raise Invalid(422, "the feature's id and its device_id differ", ["id"])
    return row


def _errors(exc: ImportFailed, kind: str) -> Invalid:
    rename = {"x": "geometry", "y": "geometry", "row": "properties"}
    errors: list[dict[str, Any]] = [
        {"field": rename.get(e.field, e.field), "value": e.value,
         # the importer's advice is for the CLI; over the API an update is a PUT
         "reason": e.reason.replace("(use --mode upsert to update it)",
                                    f"(PUT /collections/{kind}/items/{e.value} updates it)")}
        for e in exc.report.errors
    ]  # fmt: skip
    names = list(dict.fromkeys(e["field"] for e in errors))
    scope = [e for e in errors if any(r in e["reason"] for r in _SCOPE_REASONS)]
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
    return Invalid(403 if scope else 422, detail, names, errors)


def _write(
    engine: Engine, coll: Collection, principal: Principal, row: dict[str, str], crs: str,
    update: bool,
) -> str | None:  # fmt: skip
    """Import the row (its x, y in ``crs``); the stored feature as GeoJSON (None: the device
    to update is not in the principal's scope). Raises :class:`Invalid`."""
    device_id = row.get("device_id", "")
    if update:
        with engine.connect() as conn:
            stored = store_features.device_row(conn, coll.id, device_id, principal.scope)
        if stored is None:
            return None
        name, lon, lat = stored
        row.setdefault("name", name)  # required by the importer; left out = kept
        if "x" not in row:  # geometry null: the stored position (WGS-84)
            row["x"], row["y"], crs = repr(lon), repr(lat), "wgs84"
    tmp = Path(tempfile.mkdtemp(prefix="sightline-feature-"))
    try:
        op = "update" if update else "create"
        tag = device_id if _DEVICE_ID.fullmatch(device_id) else "new"
        path = tmp / f"{coll.id}-{op}-{tag}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(row)
        try:
            import_survey(engine, path, coll.id, crs=crs, encoding="utf-8",
                          mode="upsert" if update else "insert", principal=principal,
                          user=principal.user_name)  # fmt: skip
        except ImportFailed as exc:
            raise _errors(exc, coll.id) from exc
        except (CrsRequiredError, ValueError) as exc:
            raise Invalid(400, str(exc).splitlines()[0], ["properties"]) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    with engine.connect() as conn:
        found = feature_text(conn, coll, principal, device_id, parse_crs(None, "crs"))
    if found is None:  # written, but the principal may not read it back (cannot happen)
        raise Invalid(422, "stored, but outside your scope", ["properties"])
    return found


async def _body(request: web.Request) -> tuple[Any, str]:
    try:
        crs = parse_crs(request.headers.get("Content-Crs"), "Content-Crs").uri
    except BadQuery as exc:
        raise Invalid(400, str(exc), ["Content-Crs"]) from exc
    try:
        return await request.json(), crs
    except ValueError as exc:
        raise Invalid(400, "the body is not JSON (send a GeoJSON Feature)", ["body"]) from exc


def _writable(request: web.Request) -> Collection:
    coll = collection_of(request)
    if not coll.writable:
        raise web.HTTPMethodNotAllowed(request.method, ["GET"],
                                       text=f"{coll.id} is read-only over the API "
                                       "(survey import: POST /imports/{kind})")  # fmt: skip
    return coll


async def create(request: web.Request) -> web.Response:
    """POST /collections/{collectionId}/items: create a camera or checkpoint (201 + Location)."""
    engine = engine_of(request)
    principal = await require(request, engine, ACTION)
    coll = _writable(request)
    try:
        feature, crs = await _body(request)
        row = feature_row(coll.id, feature, crs, None)
        stored = await asyncio.to_thread(_write, engine, coll, principal, row,
                                         IMPORTER_CRS[crs], False)  # fmt: skip
    except Invalid as exc:
        return exc.response()
    fid = row["device_id"]
    location = f"/collections/{coll.id}/items/{fid}"
    assert stored is not None
    return web.Response(status=201, text=with_links(request, coll, stored, fid),
                        content_type=GEOJSON, headers={"Location": location,
                                                       "Content-Crs": f"<{CRS84}>"})  # fmt: skip


async def update(request: web.Request) -> web.Response:
    """PUT /collections/{collectionId}/items/{featureId}: update a camera or checkpoint.

    Properties left out keep their stored values (the importer's upsert)."""
    engine = engine_of(request)
    principal = await require(request, engine, ACTION)
    coll = _writable(request)
    fid = request.match_info["featureId"]
    try:
        feature, crs = await _body(request)
        row = feature_row(coll.id, feature, crs, fid)
        stored = await asyncio.to_thread(_write, engine, coll, principal, row,
                                         IMPORTER_CRS[crs], True)  # fmt: skip
    except Invalid as exc:
        return exc.response()
    if stored is None:
        return problem(404, "Not Found", f"no {coll.id[:-1]} {fid!r} in your jurisdiction")
    return web.Response(text=with_links(request, coll, stored, fid), content_type=GEOJSON,
                        headers={"Content-Crs": f"<{CRS84}>"})  # fmt: skip


async def delete(request: web.Request) -> web.Response:
    """DELETE /collections/{collectionId}/items/{featureId}: 204; 404 when not in scope; 409
    when the device has sightings."""
    engine = engine_of(request)
    await require(request, engine, ACTION)
    coll = _writable(request)
    fid = request.match_info["featureId"]

    def work(conn: Connection, principal: Principal) -> store_features.Deleted:
        done = store_features.delete_device(conn, coll.id, fid, principal.scope)
        if done.found:
            audit.record(conn, principal, "device.delete", fid,
                         outcome="ok" if done.deleted else "refused",
                         details={"collection": coll.id,
                                  "has_sightings": done.has_sightings})  # fmt: skip
        return done

    done = await authorized(request, engine, ACTION, work)
    if not done.found:
        return problem(404, "Not Found", f"no {coll.id[:-1]} {fid!r} in your jurisdiction")
    if not done.deleted:
        return problem(409, "Conflict", f"{fid} has sightings; deleting it "
                       "would delete them (evidence): not deleted")  # fmt: skip
    return web.Response(status=204)

