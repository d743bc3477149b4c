"""The `sightline` command: database, demo city, imports and the map console.

Thin: every subcommand parses its arguments and calls store/, importers/ or app. Errors exit with
status 1 and one line saying what went wrong.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from settings import Settings, SettingsError, load_settings

log = logging.getLogger("sightline")

Handler = Callable[[argparse.Namespace, Settings], int]


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, default=str, ensure_ascii=False, indent=2))
    else:
        print(text)


# -- db -------------------------------------------------------------------------------
def _db_start(args: argparse.Namespace, settings: Settings) -> int:
    from store.engine import ensure_database, local_cluster

    if settings.database_url:
        _emit(args, {"managed": False}, "DATABASE_URL is set: the managed cluster is not used")
        return 0
    cluster = local_cluster(settings)
    t0 = time.perf_counter()
    started = cluster.start()
    created = ensure_database(cluster)
    st = cluster.status()
    data = {**dataclasses.asdict(st), "started": started, "database_created": created}
    _emit(
        args,
        data,
        f"PostgreSQL {'started' if started else 'already running'} (pid {st.pid}, port "
        f"{st.port}, data {st.data_dir}) in {time.perf_counter() - t0:.1f}s\nURL: {st.url}",
    )
    return 0


def _db_stop(args: argparse.Namespace, settings: Settings) -> int:
    from store.engine import local_cluster

    stopped = local_cluster(settings).stop()
    _emit(args, {"stopped": stopped}, "stopped" if stopped else "not running")
    return 0


def _db_status(args: argparse.Namespace, settings: Settings) -> int:
    from store.engine import local_cluster, redact

    if settings.database_url:
        _emit(
            args,
            {"managed": False, "url": redact(settings.database_url)},
            f"external database {redact(settings.database_url)}",
        )
        return 0
    st = local_cluster(settings).status()
    state = "running" if st.running else ("stopped" if st.initialised else "not initialised")
    _emit(
        args,
        {**dataclasses.asdict(st), "state": state},
        f"{state}: data {st.data_dir}, port {st.port}, pid {st.pid}",
    )
    return 0 if st.running else 3


def _db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from store import migrate
    from store.engine import make_engine

    engine = make_engine(settings)
    before = migrate.current(engine)
    if args.revision.startswith("-") or args.down:
        migrate.downgrade(engine, args.revision)
    else:
        migrate.upgrade(engine, args.revision)
    after = migrate.current(engine)
    _emit(args, {"from": before, "to": after}, f"schema at {after} (was {before})")
    return 0


# -- demo / import ----------------------------------------------------------------------
def _progress(msg: str) -> None:
    print(f"... {msg}", file=sys.stderr, flush=True)


def _report(args: argparse.Namespace, report: Any) -> int:
    data = dataclasses.asdict(report)
    if report.skipped:
        text = f"{report.name}: already loaded from {report.source} (use --force to reload)"
    else:
        rows = ", ".join(f"{k} {v}" for k, v in report.rows.items())
        text = f"{report.name}: loaded {rows} in {sum(report.timings_s.values()):.1f}s"
    for note in report.notes:
        text += f"\nnote: {note}"
    _emit(args, data, text)
    return 0


def _demo_load(args: argparse.Namespace, settings: Settings) -> int:
    from importers.city import load_demo
    from store import migrate
    from store.engine import make_engine

    engine = make_engine(settings)
    migrate.upgrade(engine)
    seed = args.seed if args.seed is not None else settings.demo_seed
    report = load_demo(
        engine, args.file or settings.demo_osm_file, seed, force=args.force, progress=_progress
    )
    return _report(args, report)


def _demo_samples(args: argparse.Namespace, settings: Settings) -> int:
    from importers import demo, osm
    from importers.survey.samples import write_samples

    inv = demo.build_demo(osm.read_osm(settings.demo_osm_file), seed=settings.demo_seed)
    paths = write_samples(inv, args.directory)
    _emit(args, {"files": [str(p) for p in paths]}, "\n".join(str(p) for p in paths))
    return 0


def _import_osm(args: argparse.Namespace, settings: Settings) -> int:
    from importers.city import load_osm
    from store import migrate
    from store.engine import make_engine

    engine = make_engine(settings)
    migrate.upgrade(engine)
    report = load_osm(
        engine,
        args.file,
        centre_code=args.centre_code,
        jurisdictions=not args.no_jurisdictions,
        progress=_progress,
    )
    return _report(args, report)


def _import_survey(args: argparse.Namespace, settings: Settings) -> int:
    from importers.survey.columns import load_mapping_file
    from importers.survey.importer import ImportFailed, import_survey, write_report
    from store import migrate
    from store.engine import make_engine

    engine = make_engine(settings)
    migrate.upgrade(engine)
    mapping = load_mapping_file(args.mapping) if args.mapping else None
    kind = args.kind.replace("-", "_")
    show = _progress_printer() if not args.json else None
    try:
        report = import_survey(
            engine, args.file, kind, crs=args.crs, encoding=args.encoding, mapping=mapping,
            mode=args.mode, skip_invalid=args.skip_invalid, dry_run=args.dry_run,
            fix_geometry=args.fix_geometry, layer=args.layer, sheet=args.sheet,
            progress=show,
        )  # fmt: skip
    except ImportFailed as exc:
        if args.report:
            write_report(exc.report, args.report)
        if args.json:
            print(json.dumps(exc.report.as_dict(), ensure_ascii=False, indent=2, default=str))
        raise
    if args.report:
        write_report(report, args.report)
    c = report.counts
    verb = "would write" if report.dry_run else "wrote"
    text = (
        f"{report.file} ({report.format}, {report.source_crs}) -> {kind}: read {c['read']}, "
        f"{verb}: inserted {c['inserted']}, updated {c['updated']}, unchanged "
        f"{c['unchanged']}, deleted {c['deleted']}; rejected {c['rejected']} "
        f"in {report.seconds:.1f}s (import #{report.import_id})"
    )
    for w in report.warnings:
        text += f"\nwarning: {w}"
    for r in report.repaired[:20]:
        text += f"\nrepaired: {r}"
    for e in report.errors[:20]:
        text += f"\nrejected: {e}"
    if report.attributes_kept:
        text += "\nkept as attributes: " + ", ".join(report.attributes_kept)
    _emit(args, report.as_dict(), text)
    return 0


def _progress_printer() -> Callable[[dict[str, Any]], None]:
    last = [0.0]

    def show(p: dict[str, Any]) -> None:
        if p["seconds"] - last[0] < 1.0 and p["rows"] > 0:
            return
        last[0] = p["seconds"]
        rate = p["rows"] / p["seconds"] if p["seconds"] > 0 else 0.0
        end = "\r" if sys.stderr.isatty() else "\n"
        print(f"... {p['rows']:,} rows read, {p['rejected']:,} rejected, {rate:,.0f} rows/s",
              end=end, file=sys.stderr, flush=True)  # fmt: skip

    return show


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from importers.survey.export import export_frame
    from store.engine import make_engine
    from store.survey import export_rows

    engine = make_engine(settings)
    kind = args.kind.replace("-", "_")
    with engine.connect() as conn:
        frame = export_rows(conn, kind)
    n = export_frame(frame, args.output, crs=args.crs, fmt=args.format, layer=kind)
    _audit_export(engine, kind, args.output, n)
    _emit(args, {"kind": kind, "rows": n, "file": str(args.output), "crs": args.crs},
          f"exported {n} {kind} to {args.output} ({args.crs})")  # fmt: skip
    return 0


def _audit_export(engine: Any, what: str, path: Path, rows: int) -> None:
    """One ``export`` audit entry for a file the operator wrote."""
    from store import audit
    from store.scope import cli_principal

    audit.record_now(engine, cli_principal(), "export", str(path),
                     details={"what": what, "rows": int(rows)})  # fmt: skip


def _crs_convert(args: argparse.Namespace, settings: Settings) -> int:
    from gis.crs import transform_xy
    from importers.survey.points import read_points

    values = [float(v) for v in args.coords]
    if len(values) % 2:
        raise ValueError("coordinates come in pairs: LON LAT [LON LAT ...]")
    xs, ys = values[0::2], values[1::2]
    if args.file:
        fx, fy = read_points(args.file)
        xs, ys = [*xs, *fx], [*ys, *fy]
    if not xs:
        raise ValueError("no coordinates: give LON LAT pairs or --file points.csv")
    x, y = transform_xy(xs, ys, args.source, args.target)
    pairs = [[float(a), float(b)] for a, b in zip(x, y, strict=True)]
    if args.json:
        print(json.dumps(pairs))
    else:
        for a, b in pairs:
            print(f"{a:.9f} {b:.9f}")
    return 0


def _token_create(args: argparse.Namespace, settings: Settings) -> int:
    import getpass

    from store import audit, migrate
    from store.engine import make_engine
    from store.scope import cli_principal
    from store.tokens import create_token

    engine = make_engine(settings)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        token = create_token(conn, args.name, user_name=args.user or getpass.getuser(),
                             role=args.role, jurisdiction_code=args.jurisdiction,
                             clearance=args.clearance)  # fmt: skip
        audit.record(conn, cli_principal(), "token.create", args.name,
                     details={"role": args.role, "jurisdiction": args.jurisdiction,
                              "clearance": args.clearance, "user": args.user})  # fmt: skip
    note = "(shown once: store it now; send it as 'Authorization: Bearer <token>')"
    _emit(args, {"name": args.name, "role": args.role, "token": token}, f"{token}\n{note}")
    return 0


def _token_list(args: argparse.Namespace, settings: Settings) -> int:
    from store.engine import make_engine
    from store.tokens import list_tokens

    with make_engine(settings).connect() as conn:
        tokens = list_tokens(conn)
    lines = [
        f"{t['name']}\t{t['user_name']}\t{t['role']}\t"
        f"{'revoked' if t['revoked_at'] else 'active'}\tlast used {t['last_used_at'] or 'never'}"
        for t in tokens
    ]
    _emit(args, {"tokens": tokens}, "\n".join(lines) or "no tokens")
    return 0


def _token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from store import audit
    from store.engine import make_engine
    from store.scope import cli_principal
    from store.tokens import revoke_token

    with make_engine(settings).begin() as conn:
        done = revoke_token(conn, args.name)
        if done:
            audit.record(conn, cli_principal(), "token.revoke", args.name)
    if not done:
        raise ValueError(f"no active token named {args.name!r}")
    _emit(args, {"revoked": args.name}, f"revoked {args.name}")
    return 0


def _api(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from api.app import create_app as create_api
    from gateway.access_log import RedactingAccessLogger
    from store import migrate
    from store.engine import make_engine

    host = args.host or settings.host
    port = args.port or settings.api_port
    _check_listen(host, port)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    print(f"Sightline API: http://{host}:{port}/", flush=True)
    web.run_app(create_api(settings, engine), host=host, port=port, print=None,
                access_log_class=RedactingAccessLogger)
    return 0


# -- gateway and cameras -------------------------------------------------------------------
def _gateway(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from gateway.access_log import RedactingAccessLogger
    from gateway.app import create_app as create_gateway
    from gateway.app import limit_malloc_arenas
    from store import migrate
    from store.engine import make_engine

    limit_malloc_arenas()
    host = args.host or settings.host
    port = args.port or settings.gateway_port
    _check_listen(host, port)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    print(f"Sightline stream gateway: http://{host}:{port}/", flush=True)
    app = create_gateway(settings, engine, prober=not args.no_prober)
    web.run_app(app, host=host, port=port, print=None, access_log_class=RedactingAccessLogger)
    return 0


def _die_with_parent() -> None:
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start_gateway(settings: Settings, host: str, engine: Any) -> None:
    """Start the stream gateway (its own process) and the demo's fake cameras beside `serve`.

    Both end with `serve` (SIGTERM when it exits). A taken gateway port is reported, not fatal.
    """
    import subprocess

    from gateway.demo import fake_camera_command
    from store.health import cameras_to_probe

    try:
        _check_listen(host, settings.gateway_port)
    except OSError as exc:
        print(f"sightline: warning: no stream gateway: {exc}", file=sys.stderr, flush=True)
        return
    gw = [sys.executable, "-m", "scripts.cli", "gateway", "--host", host]
    subprocess.Popen(gw, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    print(f"Sightline stream gateway: http://{host}:{settings.gateway_port}/", flush=True)
    if settings.demo_fake_cameras:
        with engine.connect() as conn:
            cmd = fake_camera_command(settings, cameras_to_probe(conn))
        if cmd is not None and Path(cmd[0]).exists():
            subprocess.Popen(cmd, stdout=subprocess.DEVNULL, preexec_fn=_die_with_parent)
            n = cmd.count("--mount")
            print(f"Sightline fake cameras: {n} at {settings.demo_stream_url}/", flush=True)


def _camera_find(engine: Any, device_id: str) -> Any:
    from store.health import camera_stream

    with engine.connect() as conn:
        cam = camera_stream(conn, device_id)
    if cam is None:
        raise ValueError(f"no camera with device id {device_id}")
    return cam


def _camera_probe(args: argparse.Namespace, settings: Settings) -> int:
    import datetime as dt

    from gateway import credentials, media
    from store.engine import make_engine
    from store.health import ProbeResult, record_probes

    engine = make_engine(settings)
    cam = _camera_find(engine, args.device_id)
    url = credentials.stream_url(settings, credentials.load(settings), cam)
    if url is None:
        p = media.Probe("fault", "no RTSP stream reference")
    else:
        p = media.probe(url, args.timeout or settings.health_timeout_s)
    if not args.no_save:
        with engine.begin() as conn:
            now = dt.datetime.now(dt.UTC)
            result = ProbeResult(
                cam.id, p.status, now, p.reason, p.codec, p.width_px, p.height_px, p.probe_ms
            )
            record_probes(conn, [result])
    data = {"device_id": cam.device_id, "name": cam.name, **dataclasses.asdict(p)}
    size = f" {p.width_px}x{p.height_px}" if p.width_px else ""
    detail = p.reason
    if p.status == "online":
        detail = f"{p.codec}{size}, first frame in {p.probe_ms:.0f} ms"
    _emit(args, data, f"{cam.device_id} {cam.name}: {p.status} ({detail})")
    return 0 if p.status == "online" else 3


def _camera_faults(args: argparse.Namespace, settings: Settings) -> int:
    from store.engine import make_engine
    from store.health import faults
    from store.scope import EVERYTHING, cli_principal

    if args.url:
        from store import access

        q = access.sign(access.signing_key(settings), access.FAULTS_RESOURCE,
                        cli_principal().subject, settings.stream_url_ttl_s)  # fmt: skip
        base = settings.gateway_url or f"http://{settings.host}:{settings.gateway_port}"
        url = f"{base.rstrip('/')}/health/faults?" + "&".join(f"{k}={v}" for k, v in q.items())
        _emit(args, {"url": url}, url)
        return 0
    with make_engine(settings).connect() as conn:
        rows = faults(conn, EVERYTHING)
    lines = [f"{len(rows)} camera(s) not online"] + [
        f"{r['device_id']}  {r['status']:<7}  since {r['since']:%Y-%m-%d %H:%M:%S}  "
        f"{r['name']}: {r['reason'] or ''}"
        for r in rows
    ]
    _emit(args, {"faults": rows}, "\n".join(lines))
    return 0


def _camera_url(args: argparse.Namespace, settings: Settings) -> int:
    from urllib.parse import quote

    from store import access
    from store.scope import cli_principal

    subject = args.subject or cli_principal().subject
    if subject.partition(":")[0] not in ("user", "token", "cli") or not subject.partition(":")[2]:
        raise ValueError("--subject is user:<name> or token:<name> (the gateway checks that "
                         "this user or token may view the camera)")  # fmt: skip
    q = access.sign(access.signing_key(settings), args.device_id, subject,
                    args.ttl or settings.stream_url_ttl_s)  # fmt: skip
    q = {k: quote(v, safe=":") for k, v in q.items()}
    query = "?" + "&".join(f"{k}={v}" for k, v in q.items())
    base = (settings.gateway_url or f"http://{settings.host}:{settings.gateway_port}").rstrip("/")
    urls = {
        "ws": base.replace("http", "ws", 1) + f"/streams/{args.device_id}/ws{query}",
        "hls": f"{base}/streams/{args.device_id}/hls/index.m3u8{query}",
        "snapshot": f"{base}/streams/{args.device_id}/snapshot.jpg{query}",
    }
    _emit(args, urls, "\n".join(f"{k}: {v}" for k, v in urls.items()))
    return 0


def _demo_cameras(args: argparse.Namespace, settings: Settings) -> int:
    import os
    import subprocess

    from gateway.demo import fake_camera_command
    from store.engine import make_engine
    from store.health import cameras_to_probe

    with make_engine(settings).connect() as conn:
        cmd = fake_camera_command(settings, cameras_to_probe(conn))
    if cmd is None:
        raise ValueError("no demo cameras in the store: run `sightline demo load` first")
    n = cmd.count("--mount")
    print(f"fake cameras: {n} streams at {settings.demo_stream_url}/<device id>", flush=True)
    if args.exec:
        os.execv(cmd[0], cmd)
    return subprocess.run(cmd, check=False).returncode


def _coverage_optics(args: argparse.Namespace, settings: Settings) -> int:
    from gis.fov import lens_report

    rep = lens_report(
        args.sensor_width_mm, args.focal_mm, args.pixels, sensor_height_mm=args.sensor_height_mm,
        mount_height_m=args.mount_height_m, tilt_deg=args.tilt_deg,
        target_height_m=args.target_height_m,
    )  # fmt: skip
    lines = [
        f"HFOV {rep['hfov_deg']:.1f}°"
        + (f", VFOV {rep['vfov_deg']:.1f}°" if rep.get("vfov_deg") is not None else "")
    ]
    for level, v in rep["levels"].items():
        band = ""
        if v.get("ground_near_m") is not None:
            band = f", ground {v['ground_near_m']:.1f}–{v['ground_far_m']:.1f} m"
        elif v.get("possible") is False:
            band = ", impossible at this mount/tilt"
        lines.append(f"{level:<10} {v['ppm']:>6g} px/m  max slant {v['max_slant_m']:.1f} m{band}")
    _emit(args, rep, "\n".join(lines))
    return 0


def _phase_bar(width: int = 30) -> Callable[[str], None]:
    """A progress bar on stderr for a coverage run's phases (weighted by their usual cost);
    redrawn in place on a terminal, one line per phase otherwise."""
    from analysis.coverage_run import PHASES

    weights = dict(PHASES)
    total = sum(weights.values())
    start = time.perf_counter()
    done = [0.0]
    tty = sys.stderr.isatty()

    def show(phase: str) -> None:
        share = done[0] / total
        filled = round(width * share)
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {100 * share:3.0f}%  {phase:<13}"
                f" {time.perf_counter() - start:6.1f} s")  # fmt: skip
        print(line, end="\r" if tty else "\n", file=sys.stderr, flush=True)
        done[0] += weights.get(phase, 0.0)

    return show


def _coverage_run(args: argparse.Namespace, settings: Settings) -> int:
    from analysis.coverage_run import load_what_if, run_coverage
    from store import migrate
    from store.engine import make_engine

    engine = make_engine(settings)
    migrate.upgrade(engine)
    if args.if_missing:
        from store.coverage import latest_run

        with engine.connect() as conn:
            existing = latest_run(conn)
        if existing is not None:
            _emit(args, {"run_id": existing, "skipped": True},
                  f"coverage run {existing} exists; nothing done (drop --if-missing for a "
                  "new run)")  # fmt: skip
            return 0
    what_if = load_what_if(args.what_if) if args.what_if else None
    report = run_coverage(
        engine, what_if=what_if, target_height_m=args.target_height_m,
        unknown_azimuth=args.unknown_azimuth, workers=args.workers, save=not args.no_save,
        progress=None if args.json else _phase_bar(),
    )  # fmt: skip
    if not args.json:
        print(f"[{'#' * 30}] 100%  done {report.timings_s['total']:10.1f} s", file=sys.stderr)
    data = report.as_dict()
    text = [f"coverage run {report.run_id or '(not saved)'} in {report.timings_s['total']:.1f}s "
            f"({report.crs})"]  # fmt: skip
    for lv, m2 in report.totals["covered_m2"].items():
        text.append(f"  {lv:<10} covered {m2 / 1e4:,.2f} ha")
    text.append(f"  blind spots in key areas: {report.totals['blind_spot_m2'] / 1e4:,.2f} ha")
    if "entry_roads_by_status" in report.totals:
        text.append(f"  entry roads: {report.totals['entry_roads_by_status']}")
    text += [f"  assumption: {a}" for a in report.assumptions]
    _emit(args, data, "\n".join(text))
    return 0


def _coverage_report(args: argparse.Namespace, settings: Settings) -> int:
    from store.coverage import assessment, latest_run, road_report
    from store.engine import make_engine

    engine = make_engine(settings)
    with engine.connect() as conn:
        run_id = args.run or latest_run(conn)
        if run_id is None:
            raise ValueError("no coverage run yet: run `sightline coverage run` first")
        table = assessment(conn, run_id, args.scope)
        roads = road_report(conn, run_id, args.roads) if args.roads else None
    if roads is not None:
        if args.json:
            print(json.dumps({"run_id": run_id, "level": args.roads, **roads},
                             ensure_ascii=False, default=str))  # fmt: skip
            return 0
        print(f"run {run_id}: road coverage at {args.roads}")
        for r in roads["by_class"]:
            print(f"  {r['road_class']:<16} {r['covered_km']:8.2f} of {r['length_km']:8.2f} km "
                  f"({r['covered_pct']:5.1f} %)")  # fmt: skip
        print("longest unseen stretches:")
        for g in roads["longest_unseen"]:
            print(f"  {g['length_m']:7.1f} m  {g['name'] or '(unnamed)'} (road {g['road_id']}, "
                  f"{g['start_m']:.0f}–{g['end_m']:.0f} m)")  # fmt: skip
        return 0
    if args.csv:
        table.to_csv(args.csv, index=False, encoding="utf-8-sig")
        _audit_export(engine, f"assessment run {run_id}", args.csv, len(table))
    if args.xlsx:
        table.to_excel(args.xlsx, index=False, sheet_name=f"run {run_id}")
        _audit_export(engine, f"assessment run {run_id}", args.xlsx, len(table))
    if args.json:
        rows = table.to_dict(orient="records")
        print(json.dumps({"run_id": run_id, "scope": args.scope, "rows": rows}, ensure_ascii=False))
        return 0
    pivot = table.pivot_table(index=["area_key", "area_name"], columns="level",
                              values="open_covered_pct")  # fmt: skip
    pivot = pivot.reindex(columns=[c for c in ("detect", "observe", "recognise", "identify")
                                   if c in pivot.columns])  # fmt: skip
    print(f"run {run_id}: % of open ground covered per {args.scope} and DORI level")
    print(pivot.round(1).to_string())
    return 0


def _coverage_which(args: argparse.Namespace, settings: Settings) -> int:
    from store.coverage import cameras_seeing, latest_run
    from store.engine import make_engine
    from store.scope import EVERYTHING

    if (args.file is None) == (args.lon is None or args.lat is None):
        raise ValueError("give either LON LAT or --file POINTS.csv")
    engine = make_engine(settings)
    if args.file is not None:
        return _coverage_which_file(args, engine)
    with engine.connect() as conn:
        run_id = args.run or latest_run(conn)
        if run_id is None:
            raise ValueError("no coverage run yet: run `sightline coverage run` first")
        found = cameras_seeing(conn, run_id, args.lon, args.lat, EVERYTHING)
    text = (
        "\n".join(
            f"{c['device_id']}  {c['dori_level']:<10} {c['distance_m']:>7.1f} m  {c['name'] or ''}"
            for c in found
        )
        or "no camera sees this point"
    )
    _emit(args, {"run_id": run_id, "cameras": found}, text)
    return 0


def _coverage_which_file(args: argparse.Namespace, engine: Any) -> int:
    import numpy as np

    from analysis.which_cameras import VisibleIndex
    from importers.survey.points import read_points

    lon, lat = read_points(args.file)
    index = VisibleIndex.load(engine, args.run)
    t = time.perf_counter()
    found = index.lookup(np.asarray(lon), np.asarray(lat))
    lookup_s = time.perf_counter() - t
    if args.out:
        found.to_csv(args.out, index=False, encoding="utf-8")
        _audit_export(engine, f"which-cameras run {index.run_id}", args.out, len(found))
    seen = int(found["point"].nunique())
    summary = {"run_id": index.run_id, "points": len(lon), "points_seen": seen,
               "load_s": round(index.load_s, 3), "lookup_s": round(lookup_s, 3)}  # fmt: skip
    data = {**summary, "matches": found.to_dict(orient="records")}
    text = (f"run {index.run_id}: {seen:,} of {len(lon):,} point(s) seen by a camera, "
            f"{len(found):,} match(es); index loaded in {index.load_s:.2f} s, looked up in "
            f"{lookup_s:.3f} s" + (f"; written to {args.out}" if args.out else ""))  # fmt: skip
    _emit(args, summary if args.out and args.json else data, text)
    return 0


# -- placement --------------------------------------------------------------------------
def _placement_solve(args: argparse.Namespace, settings: Settings) -> int:
    from gis.placement_solver import solve
    from importers.placement_instance import read_instance, rules_summary

    f = read_instance(args.instance, args.weights)
    rules = dict(rules_summary(f))
    rules["fixed"] = [*rules["fixed"], *(args.fixed or [])]
    rules["forbidden"] = [*rules["forbidden"], *(args.forbid or [])]
    result = solve(f.instance, p=args.p, cover_all=args.cover_all, method=args.method,
                   time_limit_s=args.time_limit, **rules)  # fmt: skip
    data = {"instance": str(args.instance), **result.to_dict()}
    bound_word = "at least" if result.objective == "set_cover" else "at most"
    text = (
        f"{result.objective} by {result.method}: {result.status}, {len(result.selected)} new "
        f"candidate(s) in {result.runtime_s:.2f} s\n"
        f"covered weight {result.covered_weight:g} of {result.total_weight:g} "
        f"(coverable {result.coverable_weight:g}); optimum {bound_word} {result.lp_bound:g} "
        f"({result.bound_source} bound), gap {100 * result.gap:.2f} %\n"
        f"selected: {' '.join(result.selected) or '(none)'}"
    )
    if result.uncoverable:
        text += (
            f"\nuncoverable demand ({len(result.uncoverable)}): "
            + " ".join(result.uncoverable[:20])
            + (" ..." if len(result.uncoverable) > 20 else "")
        )
    _emit(args, data, text)
    return 0


def _placement_propose(args: argparse.Namespace, settings: Settings) -> int:
    from analysis.placement_run import curve_html, curve_svg, propose
    from store import migrate
    from store.engine import make_engine

    engine = make_engine(settings)
    migrate.upgrade(engine)
    budgets = {}
    for item in args.budget or []:
        code, _, n = item.partition("=")
        if not n.isdigit():
            raise ValueError(f"--budget {item!r}: expected CODE=N, e.g. 990101=4")
        budgets[code] = int(n)
    report = propose(
        engine, cameras=args.cameras, cover_all=args.cover_all,
        jurisdiction=args.jurisdiction, budgets=budgets,
        method=args.method, time_limit_s=args.time_limit, road_level=args.road_level,
        road_weight_per_m=args.road_weight, entry_weight=args.entry_weight, seed=args.seed,
        rerun_coverage=args.rerun_coverage, workers=args.workers, save=not args.no_save,
        progress=None if args.json else _progress,
    )  # fmt: skip
    if args.plot:
        title = f"Proposal {report.proposal_id or '(not saved)'}: coverage vs new cameras"
        body = (curve_html(report) if args.plot.suffix.lower() in (".html", ".htm")
                else curve_svg(report.curve, title=title, budget=args.cameras))  # fmt: skip
        args.plot.write_text(body, encoding="utf-8")
    f, s = report.figures, report.solver
    text = [
        f"proposal {report.proposal_id or '(not saved)'} from coverage run "
        f"{report.coverage_run_id}: {f['cameras']} new camera(s) in "
        f"{report.timings_s['total']:.1f}s ({report.sizes['configs']:,} configurations at "
        f"{report.sizes['sites']:,} sites x {report.sizes['demand_points']:,} demand points)",
        f"  blind area gained: {f['gained_m2']:,.0f} of {f['blind_m2']:,.0f} m2 "
        f"({f['gained_pct_of_blind']} %)"
        + "".join(f"; {lv} {v['gained_m2']:,.0f}/{v['blind_m2']:,.0f}"
                  for lv, v in f["by_level"].items()),
        f"  roads ({f['road_level']}): {f['gained_road_km']} of {f['unseen_road_km']} unseen km; "
        f"entry roads without checkpoint seen: {f['entry_roads_closed']} of "
        f"{f['entry_roads_open']}",
        f"  {s['method']}: {s['status']}, weight {s['covered_weight']:,.0f}, proven bound "
        f"{s['lp_bound']:,.0f} ({s['bound_source']}), gap {100 * s['gap']:.2f} %",
    ]  # fmt: skip
    if args.cover_all:
        text.append(f"  cover all: {f['cameras']} camera(s), at least {f['lower_bound_cameras']}"
                    f" needed; no candidate sees {f['uncoverable_points']:,} demand point(s) "
                    f"({f['uncoverable_m2']:,.0f} m2, {f['uncoverable_road_km']} road km, "
                    f"{f['uncoverable_entries']} entry road(s))")  # fmt: skip
    for r in report.as_dict()["sites"]:
        text.append(f"  #{r['rank']:<2} {r['site_kind']:<8} {r['lat']:.6f},{r['lon']:.6f} "
                    f"az {r['azimuth_deg']:5.1f} tilt {r['tilt_deg']:4.1f} "
                    f"h {r['mount_height_m']:4.1f} m "
                    f"{r['focal_length_mm']:g} mm (HFOV {r['hfov_deg']:.0f}) "
                    f"+{r['gain_m2']:,.0f} m2")  # fmt: skip
    text += [f"  assumption: {a}" for a in report.assumptions]
    _emit(args, report.as_dict(), "\n".join(text))
    return 0


def _placement_list(args: argparse.Namespace, settings: Settings) -> int:
    from store.engine import make_engine
    from store.placement import list_proposals

    with make_engine(settings).connect() as conn:
        rows = list_proposals(conn)
    text = "\n".join(
        f"{r['id']:>4} {r['created_at']:%Y-%m-%d %H:%M} run {r['coverage_run_id']} "
        f"{r['jurisdiction_code'] or 'city'} p={r['budget']} {r['method']} {r['solver_status']} "
        f"gap {100 * r['gap']:.1f} % +{(r['figures'] or {}).get('gained_m2', 0):,.0f} m2 "
        f"{r['status']} ({r['accepted']}/{r['sites']} accepted)"
        for r in rows
    ) or "no placement proposals yet: `sightline placement propose --cameras N`"
    _emit(args, {"proposals": rows}, text)
    return 0


def _placement_accept(args: argparse.Namespace, settings: Settings) -> int:
    from analysis.placement_run import accept
    from store.engine import make_engine

    added = accept(make_engine(settings), args.proposal_id, args.sites)
    text = "\n".join(f"rank {a['rank']}: camera {a['camera_id']} {a['device_id']}" for a in added)
    if added:
        text += f"\nproposal {args.proposal_id}: {added[0]['proposal_status']}"
    _emit(args, {"proposal_id": args.proposal_id, "cameras": added}, text)
    return 0


# -- serve ------------------------------------------------------------------------------
def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import threading

    from aiohttp import web
    from waitress import serve

    from api.app import create_app as create_api
    from app import create_app
    from gateway.access_log import RedactingAccessLogger
    from store import migrate
    from store.engine import make_engine

    host = args.host or settings.host
    port = args.port or settings.port
    _check_listen(host, port)
    if not args.no_api:
        _check_listen(host, settings.api_port)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    from analysis import trajectory as traj_service
    from analysis.coverage_run import run_coverage

    app = create_app(settings, engine, what_if_runner=run_coverage,
                     trajectory_service=traj_service)
    print(f"Sightline console: http://{host}:{port}/", flush=True)
    if args.no_api:
        if not args.no_gateway:
            _start_gateway(settings, host, engine)
        serve(app.server, host=host, port=port, threads=8, ident="sightline")
        return 0
    console = threading.Thread(
        target=serve, args=(app.server,), daemon=True, name="console",
        kwargs={"host": host, "port": port, "threads": 8, "ident": "sightline"},
    )  # fmt: skip
    console.start()
    print(f"Sightline API: http://{host}:{settings.api_port}/", flush=True)
    if not args.no_gateway:
        _start_gateway(settings, host, engine)
    web.run_app(create_api(settings, engine), host=host, port=settings.api_port, print=None,
                access_log_class=RedactingAccessLogger)
    return 0


def _check_listen(host: str, port: int) -> None:
    """Fail early, and clearly, when the console cannot listen on host:port."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise OSError(
                f"the console cannot listen on {host}:{port} ({exc.strerror}): the port is in use "
                "or the address is not local; stop the other program or use --port / "
                "SIGHTLINE_PORT"
            ) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sightline",
        description="Sightline (视界): GIS situational awareness for a city's video network.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def cmd(
        parent: Any, name: str, handler: Handler, help_text: str, json_flag: bool = True
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_text, description=help_text)
        if json_flag:
            p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(handler=handler)
        return p

    db = sub.add_parser("db", help="the PostGIS store", description="Manage the PostGIS store.")
    dbs = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    cmd(dbs, "start", _db_start, "init (if needed) and start the managed PostgreSQL cluster")
    cmd(dbs, "stop", _db_stop, "stop the managed cluster")
    cmd(dbs, "status", _db_status, "show the managed cluster's state (exit 3 when not running)")
    m = cmd(dbs, "migrate", _db_migrate, "apply the schema migrations (default: to the newest)")
    m.add_argument("revision", nargs="?", default="head", help="target revision (default head)")
    m.add_argument("--down", action="store_true", help="downgrade to the revision ('base': empty)")

    demo = sub.add_parser("demo", help="the demo city", description="The Monaco demo city.")
    ds = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    dl = cmd(
        ds, "load", _demo_load, "load the real Monaco OSM extract + seeded synthetic inventory"
    )
    dl.add_argument("--seed", type=int, help="inventory seed (default: setting demo_seed)")
    dl.add_argument("--file", type=Path, help="OSM extract (default: setting demo_osm_file)")
    dl.add_argument("--force", action="store_true", help="reload even if already loaded")
    dsm = cmd(ds, "samples", _demo_samples, "write messy sample survey files for the demo city")
    dsm.add_argument("directory", type=Path, nargs="?", default=Path("data/samples"))

    imp = sub.add_parser("import", help="import data", description="Import data into the store.")
    ims = imp.add_subparsers(dest="import_command", required=True, metavar="KIND")
    io = cmd(ims, "osm", _import_osm, "import an .osm.pbf: buildings, roads, cameras, boundaries")
    io.add_argument("file", type=Path, help="path of the .osm.pbf (or .osm) file")
    io.add_argument(
        "--centre-code",
        default="99010000",
        help="8-digit GB/T 28181 centre code for ids of OSM cameras (default 99010000)",
    )
    io.add_argument(
        "--no-jurisdictions",
        action="store_true",
        help="keep the stored jurisdictions instead of building them from the boundaries",
    )

    for kind in ("cameras", "checkpoints", "alarm-points", "key-areas", "jurisdictions"):
        ik = cmd(ims, kind, _import_survey, f"import a survey file of {kind}")
        ik.set_defaults(kind=kind)
        ik.add_argument("file", type=Path, help="CSV, XLSX, GeoJSON, Shapefile (.shp/.zip/folder), "
                        "GeoPackage, KML or KMZ")  # fmt: skip
        ik.add_argument("--crs", help="coordinate system of the file: wgs84, cgcs2000, gcj02, "
                        "bd09 or EPSG:nnnn (required when the file does not say)")  # fmt: skip
        ik.add_argument("--encoding", help="text encoding (default: detect UTF-8/BOM/GB18030)")
        ik.add_argument("--mapping", type=Path, help="JSON/TOML file of header -> field")
        ik.add_argument("--mode", choices=("insert", "upsert", "replace"), default="upsert",
                        help="insert: new only; upsert (default): update changed; replace: "
                        "also delete stored rows missing from the file")  # fmt: skip
        ik.add_argument("--skip-invalid", action="store_true",
                        help="write the valid rows, report the rejected ones")  # fmt: skip
        ik.add_argument("--dry-run", action="store_true", help="validate and report only")
        ik.add_argument("--fix-geometry", action="store_true", help="repair invalid polygons")
        ik.add_argument("--report", type=Path, help="write rejected rows to FILE (.csv/.json)")
        ik.add_argument("--layer", help="layer of a GeoPackage/multi-layer file")
        ik.add_argument("--sheet", help="sheet of an XLSX workbook")

    ex = cmd(sub, "export", _export, "export a layer to GeoJSON, GeoPackage, CSV or XLSX")
    ex.add_argument("kind", choices=("cameras", "checkpoints", "alarm-points", "key-areas",
                                     "jurisdictions", "blind-spots"))  # fmt: skip
    ex.add_argument("-o", "--output", type=Path, required=True, help="output file")
    ex.add_argument("--format", choices=("geojson", "gpkg", "csv", "xlsx"),
                    help="default: from the output extension")  # fmt: skip
    ex.add_argument("--crs", default="wgs84", help="wgs84 (default), cgcs2000, gcj02, bd09, "
                    "EPSG:nnnn")  # fmt: skip

    crs = sub.add_parser("crs", help="coordinate systems", description="Coordinate systems.")
    crss = crs.add_subparsers(dest="crs_command", required=True, metavar="ACTION")
    cc = cmd(crss, "convert", _crs_convert, "convert coordinates between systems")
    cc.add_argument("--from", dest="source", required=True, help="wgs84, cgcs2000, gcj02, bd09, "
                    "EPSG:nnnn")  # fmt: skip
    cc.add_argument("--to", dest="target", required=True, help="same choices as --from")
    cc.add_argument("coords", nargs="*", metavar="LON LAT", help="coordinate pairs (x y)")
    cc.add_argument("--file", type=Path, help="CSV of points (lon/lat or x/y columns)")

    sv = cmd(sub, "serve", _serve, "serve the map console", json_flag=False)
    sv.add_argument("--host", help="listen address (default: setting host)")
    sv.add_argument("--port", type=int, help="listen port (default: setting port)")
    sv.add_argument("--no-api", action="store_true", help="serve the console only")
    sv.add_argument("--no-gateway", action="store_true", help="do not start the stream gateway")

    cov = sub.add_parser("coverage", help="coverage analysis", description="Coverage analysis.")
    covs = cov.add_subparsers(dest="coverage_command", required=True, metavar="ACTION")
    co = cmd(covs, "optics", _coverage_optics, "lens calculator: HFOV, DORI distances, bands")
    co.add_argument("--sensor-width-mm", type=float, required=True)
    co.add_argument("--focal-mm", type=float, required=True)
    co.add_argument("--pixels", type=int, required=True, help="horizontal resolution in px")
    co.add_argument("--sensor-height-mm", type=float)
    co.add_argument("--mount-height-m", type=float)
    co.add_argument("--tilt-deg", type=float, help="downward tilt from horizontal")
    co.add_argument("--target-height-m", type=float, default=1.6)
    cr = cmd(covs, "run", _coverage_run, "compute coverage for the stored city and save it")
    cr.add_argument(
        "--what-if", type=Path, help='JSON {"add": [...], "move": {...}, "remove": [...]}'
    )
    cr.add_argument(
        "--target-height-m", type=float, default=0.0, help="0 ground (default), 1.6 faces"
    )
    cr.add_argument("--unknown-azimuth", choices=("skip", "ring"), default="skip")
    cr.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    cr.add_argument("--no-save", action="store_true", help="compute and report, store nothing")
    cr.add_argument("--if-missing", action="store_true",
                    help="do nothing when a finished run exists (the demo start uses it)")
    crp = cmd(covs, "report", _coverage_report, "the assessment table of a run")
    crp.add_argument("--run", type=int, help="run id (default: the latest)")
    crp.add_argument("--scope", choices=("jurisdiction", "key_area_class", "key_area"),
                     default="jurisdiction")  # fmt: skip
    crp.add_argument("--roads", choices=("detect", "observe", "recognise", "identify"),
                     help="report road coverage at this level instead")  # fmt: skip
    crp.add_argument("--csv", type=Path)
    crp.add_argument("--xlsx", type=Path)
    cw = cmd(covs, "which-cameras", _coverage_which,
             "the cameras that see a point (LON LAT) or each point of --file")  # fmt: skip
    cw.add_argument("lon", type=float, nargs="?")
    cw.add_argument("lat", type=float, nargs="?")
    cw.add_argument("--file", type=Path,
                    help="CSV/XLSX of points (lon/lat, 经度/纬度 or x/y columns, WGS-84)")
    cw.add_argument("--out", type=Path, help="with --file: write the matches to this CSV")
    cw.add_argument("--run", type=int, help="run id (default: the latest)")

    tok = sub.add_parser("token", help="API tokens", description="API tokens for scripts.")
    toks = tok.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    tc = cmd(toks, "create", _token_create, "create a token (printed once)")
    tc.add_argument("name", help="a unique name, e.g. survey-team-2026")
    tc.add_argument("--role", required=True, help="admin, planner, commander, investigator, viewer")
    tc.add_argument("--user", help="the person or system it speaks for (default: you)")
    tc.add_argument("--jurisdiction", help="jurisdiction code it is limited to")
    tc.add_argument("--clearance", type=int, default=0,
                    help="highest camera access level it may see (default 0)")  # fmt: skip
    cmd(toks, "list", _token_list, "list tokens (never their secret)")
    tr = cmd(toks, "revoke", _token_revoke, "revoke a token")
    tr.add_argument("name")

    gw = cmd(sub, "gateway", _gateway, "serve the stream gateway only", json_flag=False)
    gw.add_argument("--host", help="listen address (default: setting host)")
    gw.add_argument("--port", type=int, help="listen port (default: setting gateway_port)")
    gw.add_argument("--no-prober", action="store_true", help="do not probe camera health")

    cam = sub.add_parser("camera", help="camera streams and health", description="Cameras.")
    cams = cam.add_subparsers(dest="camera_command", required=True, metavar="ACTION")
    cp = cmd(cams, "probe", _camera_probe, "probe one camera now (exit 3 when not online)")
    cp.add_argument("device_id", help="GB/T 28181 device id")
    cp.add_argument("--timeout", type=float, help="seconds (default: setting health_timeout_s)")
    cp.add_argument("--no-save", action="store_true", help="print only, do not record")
    cf = cmd(cams, "faults", _camera_faults, "cameras not online, longest-standing first")
    cf.add_argument("--url", action="store_true",
                    help="print a signed URL of the gateway's /health/faults instead")  # fmt: skip
    cu = cmd(cams, "url", _camera_url, "signed stream URLs of one camera (ws, hls, snapshot)")
    cu.add_argument("device_id", help="GB/T 28181 device id")
    cu.add_argument("--subject", help="who the URL is for: user:<name> or token:<name> "
                    "(default: you, the operator, cli:<os user>)")
    cu.add_argument("--ttl", type=int, help="seconds (default: setting stream_url_ttl_s)")
    dc = cmd(ds, "cameras", _demo_cameras, "run fake RTSP cameras for the demo cameras",
             json_flag=False)  # fmt: skip
    dc.add_argument("--exec", action="store_true", help=argparse.SUPPRESS)

    from scripts import cli_users

    cli_users.register(sub, cmd, ds)

    from scripts import cli_trajectory

    cli_trajectory.register(sub, cmd)

    pl = sub.add_parser("placement", help="camera placement", description="Camera placement.")
    pls = pl.add_subparsers(dest="placement_command", required=True, metavar="ACTION")
    ps = cmd(pls, "solve", _placement_solve, "best p candidates or fewest covering all, on an "
             "abstract instance file")  # fmt: skip
    ps.add_argument("--instance", type=Path, required=True, metavar="FILE",
                    help="JSON {demand: {id: weight}, candidates: {id: [demand ids]}} or CSV "
                    "candidate_id,demand_id")  # fmt: skip
    goal = ps.add_mutually_exclusive_group(required=True)
    goal.add_argument("--p", type=int, metavar="N", help="choose at most N new candidates")
    goal.add_argument("--cover-all", action="store_true", help="fewest covering all coverable")
    ps.add_argument("--method", choices=("greedy", "ilp"), default="greedy",
                    help="greedy + improvement (default) or exact ILP with HiGHS")  # fmt: skip
    ps.add_argument("--time-limit", type=float, default=10.0, metavar="S",
                    help="ILP time limit in seconds (default 10)")  # fmt: skip
    ps.add_argument("--weights", type=Path, metavar="FILE",
                    help="CSV demand_id,weight for a CSV instance (default weight 1)")  # fmt: skip
    ps.add_argument("--fixed", nargs="+", metavar="ID", help="candidates kept (use no budget)")
    ps.add_argument("--forbid", nargs="+", metavar="ID", help="candidates never chosen")
    pp = cmd(pls, "propose", _placement_propose, "best new camera sites for the blind spots of "
             "the latest coverage run, stored as a proposal")  # fmt: skip
    pp.add_argument("--cameras", type=int, default=10, metavar="N", help="budget (default 10)")
    pp.add_argument("--cover-all", action="store_true",
                    help="fewest cameras covering every coverable demand point (no budget); "
                    "what no candidate can cover is reported")  # fmt: skip
    pp.add_argument("--jurisdiction", metavar="CODE", help="plan inside this jurisdiction only")
    pp.add_argument("--budget", action="append", metavar="CODE=N",
                    help="most new cameras in a jurisdiction (repeatable)")  # fmt: skip
    pp.add_argument("--method", choices=("greedy", "ilp"), default="greedy")
    pp.add_argument("--time-limit", type=float, default=10.0, metavar="S",
                    help="ILP time limit in seconds (default 10)")  # fmt: skip
    pp.add_argument("--road-level", choices=("detect", "observe", "recognise", "identify"),
                    default="detect", help="DORI level roads need (default detect)")  # fmt: skip
    pp.add_argument("--road-weight", type=float, default=0.0, metavar="W",
                    help="weight of a metre of unseen road (default 0: reported only)")
    pp.add_argument("--entry-weight", type=float, default=0.0, metavar="W",
                    help="weight of an entry road without checkpoint (default 0: reported)")
    pp.add_argument("--seed", type=int, default=0, help="demand sampling seed (default 0)")
    pp.add_argument("--rerun-coverage", action="store_true",
                    help="compute a fresh coverage run first")  # fmt: skip
    pp.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    pp.add_argument("--plot", type=Path, metavar="FILE.svg|.html",
                    help="write the coverage-vs-cameras curve")  # fmt: skip
    pp.add_argument("--no-save", action="store_true", help="compute and report, store nothing")
    cmd(pls, "list", _placement_list, "stored placement proposals, newest first")
    pa = cmd(pls, "accept", _placement_accept, "insert a proposal's cameras into the inventory")
    pa.add_argument("proposal_id", type=int)
    pa.add_argument("--sites", type=int, nargs="+", metavar="RANK",
                    help="only these ranks (default: all)")  # fmt: skip

    ap = cmd(sub, "api", _api, "serve the HTTP API only", json_flag=False)
    ap.add_argument("--host", help="listen address (default: setting host)")
    ap.add_argument("--port", type=int, help="listen port (default: setting api_port)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `sightline` command."""
    from store.cluster import ClusterError
    from store.engine import StoreError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings()
        logging.getLogger().setLevel(logging.DEBUG if args.verbose else settings.log_level)
        if not args.verbose:
            # Alembic logs every plugin and revision at INFO; the CLI prints its own summary.
            logging.getLogger("alembic").setLevel(logging.WARNING)
            logging.getLogger("pyogrio").setLevel(logging.WARNING)
        handler: Handler = args.handler
        return handler(args, settings)
    except (SettingsError, ClusterError, StoreError, ValueError, OSError) as exc:
        print(f"sightline: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
