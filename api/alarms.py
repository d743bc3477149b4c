"""Alarm intake (先期视频处警): store an alarm at a place and answer with the cameras that see
it, each with stream URLs signed for the caller — the first call a 110 system makes.

One thread hop and one transaction: token check, the alarm's jurisdiction, the insert, the
cameras of the latest coverage run inside the token's scope (``store.coverage.cameras_seeing``),
and one ``alarm.intake`` audit entry. A place outside the token's jurisdiction is refused
(403, audited, nothing stored).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import Connection

from api.app import SETTINGS, problem
from api.auth import authorized, require
from api.devices import Invalid
from api.features import engine_of
from gis.crs import CrsError, parse_crs_name, transform_xy
from settings import Settings
from store import access, audit
from store import features as store_features
from store.coverage import cameras_seeing, latest_run
from store.scope import Principal

ACTION = "alarms"


class KeyCache:
    """The stream signing key, read on first use (``store.access.signing_key`` may create
    the key file: not at app construction)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._key: bytes | None = None

    def get(self) -> bytes:
        if self._key is None:
            self._key = access.signing_key(self.settings)
        return self._key


STREAM_KEY = web.AppKey("stream_key", KeyCache)
_FIELDS = ("lon", "lat", "crs", "kind", "priority", "occurred_at", "external_id", "description")


def gateway_base(settings: Settings, request: web.Request) -> str:
    """The gateway as the caller reaches it: ``gateway_url``, else the host the caller used
    for the API on ``gateway_port``."""
    if settings.gateway_url:
        return settings.gateway_url.rstrip("/")
    host = request.url.host or settings.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.gateway_port}"


def stream_urls(base: str, key: bytes, device_id: str, subject: str, ttl_s: float,
                now: float) -> dict[str, str]:  # fmt: skip
    """WebSocket, HLS and snapshot URLs of ``device_id`` signed for ``subject``."""
    q = "?" + urlencode(access.sign(key, device_id, subject, ttl_s, now=now))
    stream = f"{base}/streams/{device_id}"
    return {"ws": stream.replace("http", "ws", 1) + "/ws" + q,
            "hls": f"{stream}/hls/index.m3u8{q}", "snapshot": f"{stream}/snapshot.jpg{q}"}


def parse_alarm(data: Any) -> dict[str, Any]:
    """The alarm body, checked: lon/lat in WGS-84 (converted from ``crs``), kind, priority,
    occurred_at, external_id, description. Raises :class:`Invalid` naming the field."""
    if not isinstance(data, dict):
        raise Invalid(400, 'send a JSON object {"lon": .., "lat": ..}', ["body"])
    unknown = [k for k in data if k not in _FIELDS]
    if unknown:
        raise Invalid(422, f"unknown field {unknown[0]!r}; known: {', '.join(_FIELDS)}",
                      unknown)  # fmt: skip
    for name in ("lon", "lat"):
        v = data.get(name)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise Invalid(422, f"{name} must be a number (degrees)", [name])
    try:
        crs = parse_crs_name(str(data.get("crs") or "wgs84"))
    except CrsError as exc:
        raise Invalid(422, str(exc).splitlines()[0], ["crs"]) from exc
    if not crs.is_geographic:
        raise Invalid(422, "crs must be a longitude/latitude system (wgs84, cgcs2000, gcj02, "
                      "bd09)", ["crs"])  # fmt: skip
    lon, lat = transform_xy(float(data["lon"]), float(data["lat"]), crs, "wgs84")
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180
            and -90 <= lat <= 90):  # fmt: skip
        raise Invalid(422, "lon must be in [-180, 180] and lat in [-90, 90]", ["lon", "lat"])
    kind = data.get("kind", "110")
    if not isinstance(kind, str) or not 0 < len(kind) <= 32:
        raise Invalid(422, "kind must be a text of 1 to 32 characters", ["kind"])
    priority = data.get("priority", 3)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 5:
        raise Invalid(422, "priority must be an integer 1..5", ["priority"])
    occurred_at = None
    if data.get("occurred_at") is not None:
        try:
            occurred_at = dt.datetime.fromisoformat(str(data["occurred_at"]))
        except ValueError as exc:
            raise Invalid(422, "occurred_at must be RFC 3339", ["occurred_at"]) from exc
        if occurred_at.tzinfo is None:
            raise Invalid(422, "occurred_at needs a time zone (Z or +08:00)", ["occurred_at"])
    external = data.get("external_id")
    if external is not None and (not isinstance(external, str) or len(external) > 64):
        raise Invalid(422, "external_id must be a text of at most 64 characters",
                      ["external_id"])  # fmt: skip
    description = data.get("description")
    if description is not None and (not isinstance(description, str)
                                    or len(description) > 2000):  # fmt: skip
        raise Invalid(422, "description must be a text of at most 2000 characters",
                      ["description"])  # fmt: skip
    return {"lon": float(lon), "lat": float(lat), "kind": kind, "priority": priority,
            "occurred_at": occurred_at, "external_id": external, "description": description,
            "crs": crs.name}  # fmt: skip


def intake(conn: Connection, principal: Principal, alarm: dict[str, Any], key: bytes,
           base: str, ttl_s: float) -> dict[str, Any] | None:  # fmt: skip
    """Store the alarm and find its cameras (None: outside the principal's jurisdiction,
    refused and audited)."""
    lon, lat = alarm["lon"], alarm["lat"]
    unit = store_features.alarm_jurisdiction(conn, lon, lat)
    jid, code = unit if unit is not None else (None, None)
    details = {"lon": round(lon, 7), "lat": round(lat, 7), "kind": alarm["kind"],
               "external_id": alarm["external_id"], "jurisdiction": code}  # fmt: skip
    if not principal.scope.sees_jurisdiction(jid):
        audit.record(conn, principal, "alarm.intake", "", outcome="refused", details=details)
        return None
    alarm_id = store_features.insert_alarm(
        conn, lon, lat, kind=alarm["kind"], priority=alarm["priority"],
        occurred_at=alarm["occurred_at"], description=alarm["description"], jurisdiction_id=jid,
    )  # fmt: skip
    run_id = latest_run(conn)
    found = [] if run_id is None else cameras_seeing(conn, run_id, lon, lat, principal.scope)
    # stream URLs only for stored cameras (what-if cameras have none) and a role with video
    video = access.allowed(principal, "video")
    now = time.time()
    cameras = []
    for cam in found:
        if cam["camera_id"] is None:
            continue
        entry = {k: cam[k] for k in ("device_id", "name", "dori_level", "distance_m")}
        if video:
            entry["streams"] = stream_urls(base, key, cam["device_id"], principal.subject,
                                           ttl_s, now)  # fmt: skip
        cameras.append(entry)
    details.update(alarm_id=alarm_id, run_id=run_id, cameras=len(cameras))
    audit.record(conn, principal, "alarm.intake", str(alarm_id), details=details)
    out: dict[str, Any] = {
        "alarm_id": alarm_id, "jurisdiction": code, "lon": lon, "lat": lat, "run_id": run_id,
        "external_id": alarm["external_id"], "cameras": cameras,
        "streams_expire_at": dt.datetime.fromtimestamp(int(now + ttl_s), dt.UTC).isoformat(),
    }  # fmt: skip
    if run_id is None:
        out["warning"] = "no coverage run yet: run `sightline coverage run`"
    return out


async def post_alarm(request: web.Request) -> web.Response:
    """POST /alarms {lon, lat, crs?, kind?, priority?, occurred_at?, external_id?,
    description?}: 201 with the stored alarm's id and the cameras that see the place."""
    engine, settings = engine_of(request), request.app[SETTINGS]
    try:
        data = await request.json()
    except ValueError:
        await require(request, engine, ACTION)
        return problem(400, "Bad body", "the body is not JSON", invalid_params=["body"])
    try:
        alarm = parse_alarm(data)
    except Invalid as exc:
        await require(request, engine, ACTION)
        return exc.response()
    key, base = request.app[STREAM_KEY].get(), gateway_base(settings, request)
    body = await authorized(
        request, engine, ACTION,
        lambda conn, principal: intake(conn, principal, alarm, key, base,
                                       settings.stream_url_ttl_s),
    )  # fmt: skip
    if body is None:
        return problem(403, "Forbidden", "the place is outside your jurisdiction",
                       invalid_params=["lon", "lat"])  # fmt: skip
    return web.json_response(body, status=201)
