"""Live video elements of the console: signed gateway URLs for this viewer (assets/player.js
plays any ``<video data-stream>``), shared by the camera panel and the video grid."""

from __future__ import annotations

import flask
from dash import html

from settings import Settings
from store import access


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


def stream_attrs(settings: Settings, device_id: str) -> dict[str, str]:
    """``data-*`` attributes of a ``<video>`` playing ``device_id``: WebSocket and HLS URLs
    signed for the console (valid ``stream_url_ttl_s``), and the device id."""
    key = access.signing_key(settings)
    q = access.sign(key, device_id, "console", settings.stream_url_ttl_s)
    query = "?" + "&".join(f"{k}={v}" for k, v in q.items())
    stream = f"{gateway_base(settings)}/streams/{device_id}"
    return {
        "data-stream": stream.replace("http", "ws", 1) + "/ws" + query,
        "data-hls": f"{stream}/hls/index.m3u8{query}",
        "data-camera": device_id,
    }


def video(settings: Settings, device_id: str, **props: object) -> html.Video:
    """A muted, autoplaying live video of ``device_id`` (extra ``props`` go to html.Video)."""
    return html.Video(
        muted=True, autoPlay=True, **props, **stream_attrs(settings, device_id)  # type: ignore[arg-type]
    )
