"""Trajectory layers: one object's routed hops (flagged ones red), its sightings as numbered
markers and the unseen corridors, from a trajectory query's result (EPSG:4326).

The result is ``analysis.trajectory.query``'s answer (a plain dict: this module does not import
``analysis``). The playback data (:func:`playback`) lets ``assets/sightline-trajectory.js``
move a cursor along the routed path by time.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Mapping
from typing import Any

import dash_leaflet as dl
from dash.development.base_component import Component

from layers._geojson import js

HOPS_ID = "traj-hops"
SIGHTINGS_ID = "traj-sightings"
CORRIDORS_ID = "traj-corridors-layer"
SIGHTINGS_PANE = "sl-trajectory"
HOP_COLOR = "#2166ac"
FLAG_COLOR = "#d7301f"
CURRENT_COLOR = "#ffb000"
CORRIDOR_STYLE = {"color": "#7b3294", "weight": 6, "opacity": 0.35, "dashArray": "6 6"}
FLAG_LABELS = {
    "impossible_speed": "不可能的速度 impossible speed",
    "long_gap": "长时间间隔 long gap",
    "direction_conflict": "方向冲突 direction conflict",
    "no_route": "无路径 no route",
}


def _epoch_s(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


def _num(x: Any, fmt: str) -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else fmt.format(x)


def drawn_path(hop: Mapping[str, Any], a: Mapping[str, Any], b: Mapping[str, Any]
               ) -> list[list[float]]:  # fmt: skip
    """A hop's routed path as a line: a one-node route (both sightings on one graph node) is
    that node twice; no route at all (``no_route``) is the straight line between devices."""
    path = [list(p) for p in hop["path"]]
    if len(path) == 1:
        return path * 2
    return path or [[a["lon"], a["lat"]], [b["lon"], b["lat"]]]


def hop_tooltip(hop: Mapping[str, Any], a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """HTML tooltip of a hop: from → to devices, length (m), time (s), speed (km/h), flags."""
    lines = [f"<b>{html.escape(str(a['device_id']))} → {html.escape(str(b['device_id']))}</b>",
             f"{_num(hop.get('length_m'), '{:.0f}')} m · {_num(hop.get('dt_s'), '{:.0f}')} s · "
             f"{_num(hop.get('speed_kmh'), '{:.1f}')} km/h"]  # fmt: skip
    lines += [f'<span class="sl-traj-flag">⚠ {html.escape(FLAG_LABELS.get(f, f))}</span>'
              for f in hop.get("flags", [])]  # fmt: skip
    return "<br>".join(lines)


def hop_features(result: Mapping[str, Any]) -> dict[str, Any]:
    """The routed hops as LineStrings with their speed, flags and end sightings' devices."""
    s = result["sightings"]
    feats = []
    for k, h in enumerate(result["hops"]):
        a, b = s[h["from_sighting"]], s[h["to_sighting"]]
        path = drawn_path(h, a, b)
        feats.append({"type": "Feature", "geometry": {"type": "LineString", "coordinates": path},
                      "properties": {
                          "kind": "hop", "hop": k, "flags": list(h["flags"]),
                          "flagged": bool(h["flags"]), "road_ids": list(h["road_ids"]),
                          "length_m": h.get("length_m"),
                          "dt_s": h.get("dt_s"), "speed_kmh": h.get("speed_kmh"),
                          "from_device_id": a["device_id"], "device_id": b["device_id"],
                          "device_kind": b["device_kind"], "name": b.get("device_name"),
                          "seen_at": b["seen_at"], "from_seen_at": a["seen_at"],
                          "tooltip": hop_tooltip(h, a, b)}})  # fmt: skip
    return {"type": "FeatureCollection", "features": feats}


def sighting_features(result: Mapping[str, Any]) -> dict[str, Any]:
    """The sightings as points numbered from 1 in time order (the device's position)."""
    feats = []
    for i, s in enumerate(result["sightings"]):
        tip = (f"<b>{i + 1}. {html.escape(str(s['device_id']))}</b><br>"
               f"{html.escape(str(s.get('device_name') or ''))} ({s['device_kind']})<br>"
               f"{html.escape(s['seen_at'])}")  # fmt: skip
        feats.append({"type": "Feature",
                      "geometry": {"type": "Point", "coordinates": [s["lon"], s["lat"]]},
                      "properties": {"kind": "sighting", "n": i + 1, "device_id": s["device_id"],
                                     "device_kind": s["device_kind"],
                                     "name": s.get("device_name"), "seen_at": s["seen_at"],
                                     "direction": s.get("direction"), "tooltip": tip}})  # fmt: skip
    return {"type": "FeatureCollection", "features": feats}


def corridor_features(result: Mapping[str, Any], roads_geojson: Mapping[int, Any]
                      ) -> dict[str, Any]:  # fmt: skip
    """The unseen corridor roads (road id -> GeoJSON geometry given) as features."""
    feats = [{"type": "Feature", "geometry": roads_geojson[r["road_id"]],
              "properties": {"road_id": r["road_id"], "name": r.get("name"),
                             "tooltip": html.escape(f"未覆盖通道 unseen corridor: "
                                                    f"{r.get('name') or r['road_id']}")}}
             for r in result["corridor_roads"] if roads_geojson.get(r["road_id"])]  # fmt: skip
    return {"type": "FeatureCollection", "features": feats}


def build(result: Mapping[str, Any]) -> list[Component]:
    """The trajectory's map layers: hops (current one highlighted through the ``hideout``'s
    ``current``) under the numbered sightings."""
    return [
        dl.GeoJSON(data=hop_features(result), id=HOPS_ID, style=js("trajHopStyle"),
                   onEachFeature=js("trajFeature"),
                   hideout={"current": -1, "color": HOP_COLOR, "flagColor": FLAG_COLOR,
                            "currentColor": CURRENT_COLOR}),
        # above the camera and checkpoint markers (panes 620/630) they sit on
        dl.Pane(dl.GeoJSON(data=sighting_features(result), id=SIGHTINGS_ID,
                           pointToLayer=js("trajSighting"),
                           onEachFeature=js("trajFeature")),
                name=SIGHTINGS_PANE, style={"zIndex": 640}),
    ]  # fmt: skip


def corridors(result: Mapping[str, Any], roads_geojson: Mapping[int, Any]) -> list[Component]:
    """The unseen corridors layer (semi-transparent, dashed)."""
    return [dl.GeoJSON(data=corridor_features(result, roads_geojson), id=CORRIDORS_ID,
                       style=CORRIDOR_STYLE)]  # fmt: skip


def playback(result: Mapping[str, Any]) -> dict[str, Any]:
    """What the browser needs to move a cursor by time: per hop its start and end (seconds
    since the epoch), its path (lon, lat) and the cumulative fraction of its length at each
    vertex (flat local metres: enough to place a cursor); ``bounds`` ``[[south, west],
    [north, east]]`` of the whole trajectory, to fit the map to."""
    s = result["sightings"]
    hops = []
    for h in result["hops"]:
        a, b = s[h["from_sighting"]], s[h["to_sighting"]]
        path = drawn_path(h, a, b)
        cum = [0.0]
        for (x0, y0), (x1, y1) in zip(path[:-1], path[1:], strict=True):
            kx = math.cos(math.radians((y0 + y1) / 2))
            cum.append(cum[-1] + math.hypot((x1 - x0) * kx, y1 - y0))
        total = cum[-1] or 1.0
        hops.append({"t0": _epoch_s(a["seen_at"]), "t1": _epoch_s(b["seen_at"]), "path": path,
                     "f": [c / total for c in cum]})  # fmt: skip
    times = [_epoch_s(x["seen_at"]) for x in s]
    lons = [p[0] for h in hops for p in h["path"]] + [x["lon"] for x in s]
    lats = [p[1] for h in hops for p in h["path"]] + [x["lat"] for x in s]
    bounds = [[min(lats), min(lons)], [max(lats), max(lons)]] if lons else None
    return {"hops": hops, "start": min(times) if times else 0.0,
            "end": max(times) if times else 0.0, "bounds": bounds}  # fmt: skip
