"""Live video elements of the console: signed gateway URLs for this viewer (assets/player.js
plays any ``<video data-stream>``), shared by the camera panel and the video grid.

A URL is only ever made for a camera the viewer may watch (:func:`viewable`: role, jurisdiction,
clearance, asked of the store), and it is bound to the viewer (``user:<name>``), so the gateway
re-checks the same person and a URL passed on is useless to anyone else.
"""

from __future__ import annotations

from collections.abc import Iterable

import flask
from dash import html
from sqlalchemy import Connection

from settings import Settings
from store import access
from store.scope import Principal


def gateway_base(settings: Settings) -> str:
    """The gateway's base URL as this browser reaches it.

    ``gateway_url`` when set; else the host the browser used for the console (so a console
    opened from another machine is not sent to 127.0.0.1) on ``gateway_port``.
    """
    if settings.gateway_url:
        return settings.gateway_url.rstrip("/")
    host = settings.host
    if flask.has_request_context():
        host = flask.request.host  # "name:port" or "[v6]:port"
        host = host[: host.index("]") + 1] if host.startswith("[") else host.split(":")[0]
    return f"http://{host}:{settings.gateway_port}"


def viewable(conn: Connection, who: Principal, device_ids: Iterable[str]) -> list[str]:
    """The ids among ``device_ids`` (in their order) that ``who`` may watch."""
    return [d for d in device_ids if access.may_view(conn, who, d)]


def stream_attrs(settings: Settings, device_id: str, subject: str) -> dict[str, str]:
    """``data-*`` attributes of a ``<video>`` playing ``device_id``: WebSocket and HLS URLs
    signed for ``subject`` (valid ``stream_url_ttl_s``), and the device id. Call only for a
    camera :func:`viewable` returned."""
    key = access.signing_key(settings)
    q = access.sign(key, device_id, subject, settings.stream_url_ttl_s)
    query = "?" + "&".join(f"{k}={v}" for k, v in q.items())
    stream = f"{gateway_base(settings)}/streams/{device_id}"
    return {
        "data-stream": stream.replace("http", "ws", 1) + "/ws" + query,
        "data-hls": f"{stream}/hls/index.m3u8{query}",
        "data-camera": device_id,
    }


def video(settings: Settings, device_id: str, subject: str, **props: object) -> html.Video:
    """A muted, autoplaying live video of ``device_id`` for ``subject`` (extra ``props`` go to
    html.Video)."""
    return html.Video(
        muted=True, autoPlay=True, **props, **stream_attrs(settings, device_id, subject)  # type: ignore[arg-type]
    )
