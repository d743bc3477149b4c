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


# -- serve ------------------------------------------------------------------------------
def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from app import create_app
    from store import migrate
    from store.engine import make_engine
    from store.queries import map_frames

    host = args.host or settings.host
    port = args.port or settings.port
    _check_listen(host, port)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    from waitress import serve

    app = create_app(settings, map_frames(engine))
    print(f"Sightline console: http://{host}:{port}/", flush=True)
    serve(app.server, host=host, port=port, threads=8, ident="sightline")
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

    sv = cmd(sub, "serve", _serve, "serve the map console", json_flag=False)
    sv.add_argument("--host", help="listen address (default: setting host)")
    sv.add_argument("--port", type=int, help="listen port (default: setting port)")
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
        handler: Handler = args.handler
        return handler(args, settings)
    except (SettingsError, ClusterError, StoreError, ValueError, OSError) as exc:
        print(f"sightline: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
