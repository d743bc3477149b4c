"""`sightline sightings import|demo` and `sightline trajectory OBJECT`: the operator's side of
issue 9. The operator acts as ``cli:<os user>`` (whole city); imports and queries are audited."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from settings import PROJECT_ROOT, Settings

Handler = Callable[[argparse.Namespace, Settings], int]


def _engine(settings: Settings) -> Any:
    from store import migrate
    from store.engine import make_engine

    engine = make_engine(settings)
    migrate.upgrade(engine)
    return engine


def sightings_import(args: argparse.Namespace, settings: Settings) -> int:
    from importers.sightings import import_sightings
    from store.scope import cli_principal

    done = import_sightings(_engine(settings), args.file, cli_principal())
    if args.json:
        print(json.dumps(done.as_dict(), ensure_ascii=False, indent=2))
    else:
        parts = ", ".join(f"{k} ({v})" for k, v in done.partitions.items())
        print(f"{done.rows:,} sightings from {done.file} in {done.seconds:.2f} s -> {parts}")
    return 0


def sightings_compact(args: argparse.Namespace, settings: Settings) -> int:
    from store import sightings as ss

    try:
        year, month = (int(x) for x in args.month.split("-"))
    except ValueError as exc:
        raise ValueError(f"month must be YYYY-MM, got {args.month!r}") from exc
    with _engine(settings).begin() as conn:
        done = ss.compact_month(conn, year, month)
    if args.json:
        print(json.dumps(done, indent=2))
    elif done["partition"] is None:
        print(f"no day partitions in {args.month}")
    else:
        print(f"{len(done['days'])} day partitions ({done['rows']:,} sightings) -> "
              f"{done['partition']}")  # fmt: skip
    return 0


def sightings_demo(args: argparse.Namespace, settings: Settings) -> int:
    from importers import sighting_demo
    from importers.sightings import import_sightings
    from store import sightings as ss
    from store.scope import EVERYTHING, cli_principal

    engine = _engine(settings)
    with engine.connect() as conn:
        frames = ss.network_frames(conn, EVERYTHING)
    if frames.run_id is None:
        print("note: no coverage run yet: only checkpoints emit sightings "
              "(run `sightline coverage run` first for cameras)", file=sys.stderr)  # fmt: skip
    start = dt.datetime.fromisoformat(args.start) if args.start else None
    df, fleet = sighting_demo.generate(frames.roads, frames.devices, frames.visible,
                                       vehicles=args.vehicles, seed=args.seed, start=start,
                                       miss_rate=args.miss_rate)  # fmt: skip
    sighting_demo.write_csv(df, args.out)
    truth = args.truth or args.out.with_suffix(".truth.json")
    truth.write_text(json.dumps([v.as_dict() for v in fleet], ensure_ascii=False, indent=1),
                     encoding="utf-8")  # fmt: skip
    info: dict[str, Any] = {"sightings": len(df), "vehicles": len(fleet), "file": str(args.out),
                            "truth": str(truth), "run_id": frames.run_id}  # fmt: skip
    if not args.no_import:
        info["import"] = import_sightings(engine, args.out, cli_principal()).as_dict()
    if args.json:
        print(json.dumps(info, ensure_ascii=False, indent=2, default=str))
    else:
        busiest = df["object_ref"].value_counts()
        print(f"{len(df):,} sightings of {len(fleet)} vehicles -> {args.out} (truth: {truth})"
              + ("" if args.no_import else ", imported"))  # fmt: skip
        if len(busiest):
            print(f"e.g. sightline trajectory '{busiest.index[0]}' --from "
                  f"{df['seen_at'].min():%Y-%m-%d} --to "
                  f"{df['seen_at'].max() + dt.timedelta(days=1):%Y-%m-%d} "
                  "--case-ref CASE-DEMO-1 --purpose demo")  # fmt: skip
    return 0


def _when(value: str) -> str:
    """A date alone means midnight UTC of that day."""
    return f"{value}T00:00:00+00:00" if len(value) == 10 else value


def trajectory(args: argparse.Namespace, settings: Settings) -> int:
    from analysis import trajectory as atraj
    from store import sightings as ss
    from store.scope import cli_principal

    engine = _engine(settings)
    with engine.begin() as conn:
        result = atraj.query(conn, cli_principal(), args.object_ref, _when(args.start),
                             _when(args.end), args.case_ref, args.purpose,
                             route=not args.no_route, limit=args.limit)  # fmt: skip
        if isinstance(result, atraj.Refusal):
            refusal = result
        else:
            refusal = None
            roads = ss.road_geojson(conn, [r["road_id"] for r in result["corridor_roads"]])
    if refusal is not None:
        print(f"sightline: refused ({refusal.field}): {refusal.detail}", file=sys.stderr)
        return 2
    assert isinstance(result, dict)
    if args.geojson:
        args.geojson.write_text(json.dumps(atraj.to_geojson(result, roads), ensure_ascii=False),
                                encoding="utf-8")  # fmt: skip
    if args.gpx:
        args.gpx.write_text(atraj.to_gpx(result), encoding="utf-8")
    if args.csv:
        args.csv.write_text(atraj.to_csv(result), encoding="utf-8")
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1, default=str))
        return 0
    print(f"{result['object_ref']} ({result['from']} .. {result['to']}), case "
          f"{result['case_ref']}: {len(result['sightings'])} sightings")  # fmt: skip
    leaving = {h["from_sighting"]: h for h in result["hops"]}
    for i, s in enumerate(result["sightings"]):
        h = leaving.get(i)
        nxt = ""
        if h is not None:
            speed = "-" if h["speed_kmh"] is None else f"{h['speed_kmh']:.0f} km/h"
            length = "-" if h["length_m"] is None else f"{h['length_m']:.0f} m"
            nxt = f"  -> {length} {speed} {' '.join(h['flags'])}"
        print(f"  {s['seen_at']}  {s['device_kind']:<10} {s['device_id']}  "
              f"{s['device_name'] or ''}{nxt}")  # fmt: skip
    if result["flags"]:
        print("flags: " + ", ".join(f"{k} x{v}" for k, v in result["flags"].items()))
    if result["corridor_roads"]:
        names = sorted({r["name"] or f"road {r['road_id']}" for r in result["corridor_roads"]})
        print(f"unseen corridors: {len(result['corridor_roads'])} roads (" +
              ", ".join(names[:8]) + (" ..." if len(names) > 8 else "") + ")")  # fmt: skip
    if result["next_after"]:
        print(f"more: page with --limit (next after {result['next_after']})")
    return 0


def register(sub: Any, cmd: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the `sightings` and `trajectory` commands to the parser."""
    si = sub.add_parser("sightings", help="checkpoint and camera sightings",
                        description="Sightings of object references (no images).")  # fmt: skip
    sis = si.add_subparsers(dest="sightings_command", required=True, metavar="ACTION")
    imp = cmd(sis, "import", sightings_import,
              "import a sighting file (CSV/Parquet: device_id, seen_at with zone, object_ref, "
              "direction, lane, confidence); any bad row refuses the file")  # fmt: skip
    imp.add_argument("file", type=Path)
    cp = cmd(sis, "compact", sightings_compact,
             "merge a past month's day partitions into one (faster lookups over the month; "
             "readers wait only for the final swap)")  # fmt: skip
    cp.add_argument("month", help="YYYY-MM (UTC)")
    dm = cmd(sis, "demo", sightings_demo,
             "generate seeded demo sightings: vehicles driven along the demo roads, seen where "
             "checkpoints and cameras cover them; writes the file and the ground truth, imports")
    dm.add_argument("--vehicles", type=int, default=50)
    dm.add_argument("--seed", type=int, default=7)
    dm.add_argument("--start", help="ISO time with zone the day starts (default "
                    "2026-11-02T08:00Z)")  # fmt: skip
    dm.add_argument("--miss-rate", type=float, default=0.15,
                    help="probability a device misses a passing vehicle (default 0.15)")
    dm.add_argument("--out", type=Path, default=PROJECT_ROOT / "var" / "demo-sightings.csv")
    dm.add_argument("--truth", type=Path, help="ground truth JSON (default: next to --out)")
    dm.add_argument("--no-import", action="store_true", help="write the file only")

    tr = cmd(sub, "trajectory", trajectory,
             "one object's routed trajectory in a window, for a case (audited)")
    tr.add_argument("object_ref")
    tr.add_argument("--from", dest="start", required=True,
                    help="window start: ISO time with zone, or a date (UTC midnight)")
    tr.add_argument("--to", dest="end", required=True, help="window end (exclusive)")
    tr.add_argument("--case-ref", required=True, help="case reference (written to the audit log)")
    tr.add_argument("--purpose", required=True, help="why you query (written to the audit log)")
    tr.add_argument("--limit", type=int, default=5000, help="most sightings (default 5000)")
    tr.add_argument("--no-route", action="store_true", help="sightings only, no routing")
    tr.add_argument("--geojson", type=Path, metavar="F", help="also write GeoJSON")
    tr.add_argument("--gpx", type=Path, metavar="F", help="also write GPX")
    tr.add_argument("--csv", type=Path, metavar="F", help="also write CSV")
