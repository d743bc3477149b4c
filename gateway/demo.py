"""The demo city's fake cameras: which demo cameras get a live (fake) stream, and the command.

Every demo camera's stream ref is ``demo://<device id>``; the gateway maps it to
``demo_stream_url``/<device id>. The fake-camera process serves all of them except one in ten
(serial ending in 7), which stay dark so that the health prober has faults to report.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from settings import Settings
from store.health import CameraStream

FAKECAM = Path(__file__).resolve().parent / "fakecam.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def dark(device_id: str) -> bool:
    """Whether a demo camera is deliberately left without a stream (one in ten)."""
    return device_id.endswith("7")


def fake_camera_command(
    settings: Settings, cameras: list[CameraStream], *, control: bool = False
) -> list[str] | None:
    """The command that serves the demo cameras' streams; None when none has a demo ref."""
    url = urlsplit(settings.demo_stream_url)
    prefix = url.path.strip("/")
    ids = [
        c.device_id
        for c in cameras
        if (c.stream_ref or "").startswith("demo://") and not dark(c.device_id)
    ]
    if not ids:
        return None
    cmd = [SYSTEM_PYTHON, str(FAKECAM), "--port", str(url.port or 554), "--size", "640x360"]
    if control:
        cmd.append("--control")
    for device_id in ids:
        cmd += ["--mount", f"{prefix}/{device_id}" if prefix else device_id]
    return cmd
