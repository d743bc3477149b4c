"""The OpenAPI 3.0 document of the HTTP API (served at ``GET /api``), built from the same
tables the handlers use (collections, queryables, CRSs, route guards)."""

from __future__ import annotations

from typing import Any

from api.features import CRS84, CRSS, DEFAULT_LIMIT, GCJ02, GEOJSON
from store.features import COLLECTIONS, MAX_LIMIT

PROBLEM = "application/problem+json"


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _param(name: str, where: str, description: str, schema: dict[str, Any],
           required: bool = False) -> dict[str, Any]:  # fmt: skip
    return {"name": name, "in": where, "description": description, "required": required,
            "schema": schema, "style": "form" if where == "query" else "simple",
            "explode": False}  # fmt: skip


def _responses(ok: dict[str, Any], action: str | None) -> dict[str, Any]:
    out = dict(ok)
    out["400"] = _problem("a bad parameter or body; invalid_params names it")
    if action is not None:
        out["401"] = _problem("no valid bearer token")
        out["403"] = _problem(f"the token's role may not {action}")
        out["429"] = _problem("the token sent more than api_rate_per_s requests per second "
                              "(bursts of api_burst); header Retry-After says when to retry")
    return out


def _crs_param(name: str, what: str) -> dict[str, Any]:
    return _param(name, "query", f"{what}: one of the URIs listed (default CRS84, lon/lat). "
                  f"EPSG:4326/4490 are latitude first. {GCJ02} is a vendor extension: GCJ-02 "
                  "(AMap/Tencent maps), lon/lat.", {"type": "string", "enum": list(CRSS),
                                                    "default": CRS84})  # fmt: skip


def _collection_paths(cid: str) -> dict[str, Any]:
    coll = COLLECTIONS[cid]
    item_id = {"type": coll.feature_id_type}
    geo = {GEOJSON: {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}
    one = {GEOJSON: {"schema": {"$ref": "#/components/schemas/Feature"}}}
    filters = [_param(n, "query", q.description, {"type": q.type})
               for n, q in coll.queryables.items()]  # fmt: skip
    base = f"/collections/{cid}"
    paths: dict[str, Any] = {
        f"{base}/items": {"get": {
            "summary": f"{coll.title}: one page of features", "operationId": f"items-{cid}",
            "tags": [cid], "security": [{"bearer": []}],
            "description": f"Needs a token whose role may '{coll.action}'; only the token's "
                           "jurisdiction. Paging: follow the 'next' link (keyset 'after').",
            "parameters": [
                _param("limit", "query", f"features per page (at most {MAX_LIMIT}; more is "
                       "served as the maximum)", {"type": "integer", "minimum": 1,
                                                  "default": DEFAULT_LIMIT}),
                _param("bbox", "query", "minx,miny,maxx,maxy in bbox-crs (its axis order)",
                       {"type": "array", "minItems": 4, "maxItems": 4,
                        "items": {"type": "number"}}),
                _crs_param("bbox-crs", "CRS of bbox"),
                _param("datetime", "query", "RFC 3339 instant or interval (a/b, ../b, a/..) on "
                       f"{coll.time_name or '(no time property: 400)'}", {"type": "string"}),
                _crs_param("crs", "CRS of the response geometry"),
                _param("after", "query", "keyset of the next page (from the next link)",
                       {"type": "integer"}),
                *filters,
            ],
            "responses": _responses({"200": {
                "description": "a page; header Content-Crs names the CRS", "content": geo,
            }}, coll.action),
        }},
        f"{base}/items/{{featureId}}": {"get": {
            "summary": f"{coll.title}: one feature", "operationId": f"item-{cid}",
            "tags": [cid], "security": [{"bearer": []}],
            "parameters": [_param("featureId", "path", "the feature id", item_id, True),
                           _crs_param("crs", "CRS of the response geometry")],
            "responses": _responses({"200": {"description": "the feature", "content": one},
                                     "404": _problem("no such feature in the token's scope")},
                                    coll.action),
        }},
    }  # fmt: skip
    if coll.writable:
        body = {"required": True, "content": {GEOJSON: {"schema": {
            "$ref": "#/components/schemas/Feature"}}}}
        crs_header = _param("Content-Crs", "header", f"CRS of the body's point (default <{CRS84}>)",
                            {"type": "string"})  # fmt: skip
        write = ("Needs a token whose role may 'import'. Validated exactly as a survey import "
                 "(same fields, units and checks); a district token writes only inside its "
                 "jurisdiction. One audit entry per request.")
        paths[f"{base}/items"]["post"] = {
            "summary": f"create a {cid[:-1]}", "operationId": f"create-{cid}", "tags": [cid],
            "security": [{"bearer": []}], "description": write, "requestBody": body,
            "parameters": [crs_header],
            "responses": _responses({
                "201": {"description": "created; Location names it", "content": one},
                "403": _problem("outside the token's jurisdiction or clearance"),
                "422": _problem("invalid properties; invalid_params names each field"),
            }, "import"),
        }  # fmt: skip
        paths[f"{base}/items/{{featureId}}"]["put"] = {
            "summary": f"update a {cid[:-1]} (properties left out keep their stored values; "
                       "geometry null keeps the position)",
            "operationId": f"update-{cid}", "tags": [cid], "security": [{"bearer": []}],
            "description": write, "requestBody": body,
            "parameters": [_param("featureId", "path", "device id", item_id, True), crs_header],
            "responses": _responses({
                "200": {"description": "the stored feature", "content": one},
                "404": _problem("no such device in the token's scope"),
                "422": _problem("invalid properties; invalid_params names each field"),
            }, "import"),
        }  # fmt: skip
        paths[f"{base}/items/{{featureId}}"]["delete"] = {
            "summary": f"delete a {cid[:-1]}", "operationId": f"delete-{cid}", "tags": [cid],
            "security": [{"bearer": []}], "description": write,
            "parameters": [_param("featureId", "path", "device id", item_id, True)],
            "responses": _responses({
                "204": {"description": "deleted"},
                "404": _problem("no such device in the token's scope"),
                "409": _problem("the device has sightings (evidence): not deleted"),
            }, "import"),
        }  # fmt: skip
    return paths


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _paged(key: str, what: str) -> dict[str, Any]:
    return _param(key, "query", f"keyset of the next page ({what}; from the next link)",
                  {"type": "integer"})  # fmt: skip


def _limit(default: int, maximum: int) -> dict[str, Any]:
    return _param("limit", "query", f"rows per page (at most {maximum}; more is served as the "
                  "maximum)", {"type": "integer", "minimum": 1, "default": default})  # fmt: skip


_ID = {"type": "integer"}
_JOB_202 = {"202": {"description": "accepted: the job; header Location names it (/jobs/{id})",
                    "content": _json("Job")}}  # fmt: skip


def _analysis_paths() -> dict[str, Any]:
    """Jobs, coverage runs and placement proposals (api.jobs, api.analysis), which-cameras
    and survey uploads (api.app)."""
    sec: list[dict[str, list[str]]] = [{"bearer": []}]
    which_out = {"application/json": {"schema": {"type": "object", "properties": {
        "run_id": {"type": "integer"}, "cameras": {"type": "array", "items": {
            "type": "object"}}}}}}
    return {
        "/coverage/which-cameras": {
            "get": {
                "summary": "cameras of the token's scope that see a point, best DORI level "
                           "then nearest", "operationId": "which-cameras",
                "tags": ["analysis"], "security": sec,
                "parameters": [
                    _param("lon", "query", "longitude, WGS-84 degrees", {"type": "number"},
                           True),
                    _param("lat", "query", "latitude, WGS-84 degrees", {"type": "number"},
                           True),
                    _param("run", "query", "coverage run id (default: the latest)", _ID)],
                "responses": _responses({"200": {"description": "the cameras",
                                                 "content": which_out},
                                         "409": _problem("no coverage run yet")}, "coverage")},
            "post": {
                "summary": "which cameras see each of many points (a batch)",
                "operationId": "which-cameras-batch", "tags": ["analysis"], "security": sec,
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["points"], "properties": {
                        "points": {"type": "array", "items": {
                            "type": "array", "minItems": 2, "maxItems": 2,
                            "items": {"type": "number"}}},
                        "run": {"type": "integer"}}}}}},
                "responses": _responses({"200": {"description": "matches: point index, "
                                                 "camera, level, distance"},
                                         "409": _problem("no coverage run yet")}, "coverage")}},
        "/imports/{kind}": {"post": {
            "summary": "import a survey file (CSV/Excel/GeoJSON/Shapefile/KML ...)",
            "operationId": "import", "tags": ["imports"], "security": sec,
            "description": "Needs 'import'. The same importer as the CLI; rows outside the "
                           "token's jurisdiction are refused; one import audit entry.",
            "parameters": [
                _param("kind", "path", "what the file holds", {"type": "string", "enum": [
                    "cameras", "checkpoints", "alarm-points", "key-areas", "jurisdictions"]},
                    True),
                _param("crs", "query", "wgs84, cgcs2000, gcj02, bd09 or EPSG:n",
                       {"type": "string"}),
                _param("mode", "query", "upsert (default) or replace", {"type": "string"}),
                _param("dry_run", "query", "check only, write nothing", {"type": "boolean"})],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "mapping": {"type": "string", "description": "JSON column mapping"}}}}}},
            "responses": _responses({"200": {"description": "the import report"},
                                     "413": _problem("larger than upload_max_mb"),
                                     "422": _problem("invalid rows, each with row and field")},
                                    "import")}},
        "/jobs": {"get": {
            "summary": "the token's jobs (an admin: everyone's), newest first",
            "operationId": "jobs", "tags": ["jobs"], "security": sec,
            "parameters": [_limit(20, 100), _paged("before", "job id")],
            "responses": _responses({"200": {"description": "jobs and a next link"}}, "view")}},
        "/jobs/{id}": {"get": {
            "summary": "a job: status (queued, running, done, failed), progress, result link "
                       "or error (problem details)",
            "operationId": "job", "tags": ["jobs"], "security": sec,
            "description": "Poll it after a 202. A job a restarted API was running is failed "
                           "(interrupted). Only the token that started it (or an admin) sees it.",
            "parameters": [_param("id", "path", "job id", _ID, True)],
            "responses": _responses({"200": {"description": "the job", "content": _json("Job")},
                                     "404": _problem("no such job of this token")}, "view")}},
        "/coverage/runs": {
            "post": {
                "summary": "start a coverage run, or a what-if run (cameras added, moved or "
                           "removed in memory only)",
                "operationId": "start-coverage-run", "tags": ["analysis"], "security": sec,
                "description": "Needs a token whose role may 'analyse'. A district token's "
                               "what-if may change only its district's cameras and place "
                               "cameras inside it. Runs queue behind the running one. The run "
                               "is one coverage.run audit entry under the token.",
                "requestBody": {"required": False, "content": _json("CoverageRunIn")},
                "responses": _responses({
                    **_JOB_202,
                    "403": _problem("a what-if place outside the token's jurisdiction"),
                    "422": _problem("invalid body; invalid_params names the field "
                                    "(e.g. what_if.add[0].lon)")}, "analyse")},
            "get": {
                "summary": "coverage runs, newest first", "operationId": "coverage-runs",
                "tags": ["analysis"], "security": sec,
                "description": "Needs 'coverage'. Totals only for whole-city tokens.",
                "parameters": [_limit(20, 100), _paged("before", "run id")],
                "responses": _responses({"200": {"description": "runs and a next link"}},
                                        "coverage")}},
        "/coverage/runs/{id}": {"get": {
            "summary": "one coverage run: parameters, totals (whole city) and a page of its "
                       "assessment rows inside the token's jurisdiction",
            "operationId": "coverage-run", "tags": ["analysis"], "security": sec,
            "parameters": [
                _param("id", "path", "run id", _ID, True), _limit(1000, 1000),
                _paged("after", "assessment row id"),
                _param("kind", "query", "only rows of this kind", {
                    "type": "string", "enum": ["key_area", "key_area_class", "jurisdiction"]})],
            "responses": _responses({"200": {"description": "the run"},
                                     "404": _problem("no such run")}, "coverage")}},
        "/placement/proposals": {"post": {
            "summary": "propose new camera sites for the blind spots of the latest run",
            "operationId": "start-proposal", "tags": ["placement"], "security": sec,
            "description": "Needs 'placement'. A district token plans for its own units "
                           "(default: its unit). One placement.propose audit entry.",
            "requestBody": {"required": False, "content": _json("ProposalIn")},
            "responses": _responses({
                **_JOB_202, "403": _problem("jurisdiction outside the token's"),
                "422": _problem("invalid body; invalid_params names the field")},
                "placement")}},
        "/placement/proposals/{id}": {"get": {
            "summary": "a proposal: figures, solver, and its sites inside the token's "
                       "jurisdiction", "operationId": "proposal", "tags": ["placement"],
            "security": sec, "parameters": [_param("id", "path", "proposal id", _ID, True)],
            "responses": _responses({"200": {"description": "the proposal"},
                                     "404": _problem("no such proposal in the token's "
                                                     "jurisdiction")}, "placement")}},
        "/placement/proposals/{id}/accept": {"post": {
            "summary": "accept sites: they become cameras (GB/T 28181 ids)",
            "operationId": "accept-proposal", "tags": ["placement"], "security": sec,
            "description": "Needs 'placement'; only sites inside the token's jurisdiction. "
                           "One placement.accept audit entry.",
            "parameters": [_param("id", "path", "proposal id", _ID, True)],
            "requestBody": {"required": False, "content": _json("AcceptIn")},
            "responses": _responses({
                "200": {"description": "the cameras added"},
                "403": _problem("a site outside the token's jurisdiction"),
                "404": _problem("no such proposal in the token's jurisdiction"),
                "409": _problem("a site is already accepted"),
                "422": _problem("no site of that rank")}, "placement")}},
    }  # fmt: skip


_CAMERA_CHANGE = {"type": "object", "properties": {
    k: {"type": "number"} for k in ("lon", "lat", "azimuth_deg", "tilt_deg", "mount_height_m",
                                    "focal_length_mm", "hfov_deg", "sensor_width_mm",
                                    "sensor_height_mm", "resolution_w_px", "resolution_h_px")}}
_ANALYSIS_SCHEMAS: dict[str, Any] = {
    "WhatIf": {"type": "object", "description": "cameras changed in memory for one run "
               "(lon/lat WGS-84, azimuth from true north)", "properties": {
        "add": {"type": "array", "items": {"allOf": [_CAMERA_CHANGE, {
            "type": "object", "required": ["device_id", "lon", "lat"],
            "properties": {"device_id": {"type": "string"}, "name": {"type": "string"},
                           "camera_type": {"type": "string"}}}]}},
        "move": {"type": "object", "additionalProperties": _CAMERA_CHANGE},
        "remove": {"type": "array", "items": {"type": "string"}}}},
    "CoverageRunIn": {"type": "object", "additionalProperties": False, "properties": {
        "what_if": {"$ref": "#/components/schemas/WhatIf"},
        "target_height_m": {"type": "number", "minimum": 0, "maximum": 10, "default": 0},
        "unknown_azimuth": {"type": "string", "enum": ["skip", "ring"], "default": "skip"}}},
    "ProposalIn": {"type": "object", "additionalProperties": False, "properties": {
        "cameras": {"type": "integer", "minimum": 1, "maximum": 500, "default": 10},
        "cover_all": {"type": "boolean", "default": False},
        "jurisdiction": {"type": "string", "description": "jurisdiction code"},
        "method": {"type": "string", "enum": ["greedy", "ilp"], "default": "greedy"},
        "seed": {"type": "integer"}, "lenses": {"type": "array", "items": {"type": "string"}},
        "road_level": {"type": "string",
                       "enum": ["detect", "observe", "recognise", "identify"]},
        **{k: {"type": "number"} for k in (
            "time_limit_s", "spacing_m", "road_weight_per_m", "entry_weight", "alarm_factor",
            "azimuth_step_deg", "pole_spacing_m", "facade_spacing_m", "reach_m")}}},
    "AcceptIn": {"type": "object", "properties": {
        "ranks": {"type": "array", "items": {"type": "integer"},
                  "description": "ranks to accept; left out: every site not yet accepted"}}},
    "Job": {"type": "object", "properties": {
        "id": {"type": "integer"}, "kind": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
        "owner": {"type": "string"},
        "progress": {"type": "object", "properties": {
            "phase": {"type": "string", "nullable": True},
            "fraction": {"type": "number", "minimum": 0, "maximum": 1}}},
        "parameters": {"type": "object"}, "result": {"type": "object", "nullable": True},
        "error": {"allOf": [{"$ref": "#/components/schemas/Problem"}], "nullable": True},
        "created_at": {"type": "string", "format": "date-time"},
        "started_at": {"type": "string", "format": "date-time", "nullable": True},
        "finished_at": {"type": "string", "format": "date-time", "nullable": True},
        "links": {"type": "array", "items": {"type": "object"}}}},
}  # fmt: skip


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document with ``base_url`` as its server."""
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "landing page", "operationId": "landing", "tags": ["ogc"],
                      "responses": {"200": {"description": "links to the API definition, "
                                            "conformance and data"}}}},
        "/api": {"get": {"summary": "this document", "operationId": "api", "tags": ["ogc"],
                         "responses": {"200": {"description": "OpenAPI 3.0"}}}},
        "/conformance": {"get": {"summary": "conformance classes", "operationId": "conformance",
                                 "tags": ["ogc"],
                                 "responses": {"200": {"description": "conformsTo"}}}},
        "/collections": {"get": {"summary": "the collections", "operationId": "collections",
                                 "tags": ["ogc"], "security": [{"bearer": []}],
                                 "responses": _responses({"200": {"description": "list"}},
                                                         "view")}},
        "/collections/{collectionId}": {"get": {
            "summary": "one collection", "operationId": "collection", "tags": ["ogc"],
            "security": [{"bearer": []}],
            "parameters": [_param("collectionId", "path", "collection id",
                                  {"type": "string", "enum": list(COLLECTIONS)}, True)],
            "responses": _responses({"200": {"description": "the collection"},
                                     "404": _problem("no such collection")}, "view")}},
        "/collections/{collectionId}/queryables": {"get": {
            "summary": "properties one may filter on (JSON Schema)", "operationId": "queryables",
            "tags": ["ogc"], "security": [{"bearer": []}],
            "parameters": [_param("collectionId", "path", "collection id",
                                  {"type": "string", "enum": list(COLLECTIONS)}, True)],
            "responses": _responses({"200": {"description": "JSON Schema"}}, "view")}},
        "/alarms": {"post": {
            "summary": "alarm intake: store an alarm, get the cameras that see its place",
            "operationId": "alarm-intake", "tags": ["alarms"], "security": [{"bearer": []}],
            "description": "Needs a token whose role may 'alarms'. The cameras come from the "
                           "latest coverage run, inside the token's jurisdiction, best DORI "
                           "level first then nearest, each with stream URLs (WebSocket, HLS, "
                           "snapshot) signed for the token (valid stream_url_ttl_s). One audit "
                           "entry per request.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/AlarmIn"}}}},
            "responses": _responses({
                "201": {"description": "stored; the cameras", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AlarmOut"}}}},
                "403": _problem("the place is outside the token's jurisdiction"),
                "422": _problem("invalid body; invalid_params names each field")}, "alarms")}},
        "/trajectories/{object_ref}": {"get": {
            "summary": "one object's sightings in a window, routed, for a case (audited)",
            "operationId": "trajectory", "tags": ["trajectories"], "security": [{"bearer": []}],
            "description": "Needs a token whose role may 'trajectory'. Sightings of the token's "
                           "jurisdiction only, oldest first; hops routed on the road graph "
                           "with implied speed, flags (impossible_speed, long_gap, "
                           "direction_conflict, no_route) and unseen corridor roads. Every "
                           "request, refused or answered, is one trajectory.query audit entry.",
            "parameters": [
                _param("object_ref", "path", "the object reference (opaque)",
                       {"type": "string"}, True),
                _param("from", "query", "window start, ISO 8601 with zone",
                       {"type": "string", "format": "date-time"}, True),
                _param("to", "query", "window end (exclusive), ISO 8601 with zone",
                       {"type": "string", "format": "date-time"}, True),
                _param("case_ref", "query", "case reference (required)", {"type": "string"},
                       True),
                _param("purpose", "query", "purpose of the query (required)",
                       {"type": "string"}, True),
                _param("route", "query", "route the hops (default true)", {"type": "boolean"}),
                _param("limit", "query", "page size (1-5000, default 1000)",
                       {"type": "integer", "minimum": 1, "maximum": 5000}),
                _param("after", "query", "the previous page's next_after",
                       {"type": "string", "format": "date-time"}),
                _param("format", "query", "json (default) or geojson",
                       {"type": "string", "enum": ["json", "geojson"]}),
            ],
            "responses": _responses({"200": {"description": "the trajectory (JSON or GeoJSON)"}},
                                    "trajectory")}},
        "/health": {"get": {"summary": "liveness (public, no data)", "operationId": "health",
                            "responses": {"200": {"description": "ok"}}}},
    }  # fmt: skip
    for cid in COLLECTIONS:
        paths.update(_collection_paths(cid))
    paths.update(_analysis_paths())
    return {
        "openapi": "3.0.3",
        "info": {"title": "Sightline API", "version": "1.0",
                 "description": "OGC API – Features over the city's camera network, device "
                                "writes, alarm intake, survey imports and which-cameras."},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "sightline token create"}},
            "schemas": {
                "Problem": {"type": "object", "description": "RFC 9457", "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"},
                    "status": {"type": "integer"}, "detail": {"type": "string"},
                    "invalid_params": {"type": "array", "items": {"type": "string"}}}},
                "Feature": {"type": "object", "required": ["type", "geometry", "properties"],
                            "properties": {"type": {"type": "string", "enum": ["Feature"]},
                                           "id": {}, "geometry": {"type": "object"},
                                           "properties": {"type": "object"}}},
                "FeatureCollection": {"type": "object", "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array",
                                 "items": {"$ref": "#/components/schemas/Feature"}},
                    "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"},
                    "timeStamp": {"type": "string", "format": "date-time"},
                    "links": {"type": "array", "items": {"type": "object"}}}},
                "AlarmIn": {"type": "object", "required": ["lon", "lat"], "properties": {
                    "lon": {"type": "number"}, "lat": {"type": "number"},
                    "crs": {"type": "string", "description": "wgs84 (default), cgcs2000, "
                            "gcj02 or bd09: the system of lon/lat"},
                    "kind": {"type": "string", "default": "110"},
                    "priority": {"type": "integer", "minimum": 1, "maximum": 5, "default": 3},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "external_id": {"type": "string", "maxLength": 64},
                    "description": {"type": "string"}}},
                **_ANALYSIS_SCHEMAS,
                "AlarmOut": {"type": "object", "properties": {
                    "alarm_id": {"type": "integer"}, "jurisdiction": {"type": "string"},
                    "run_id": {"type": "integer"},
                    "cameras": {"type": "array", "items": {"type": "object"}}}},
            },
        },
    }  # fmt: skip
