"""Survey import: read -> map columns -> validate -> stage -> check -> merge, in one transaction.

Any invalid value means nothing is written, unless ``skip_invalid``: then the valid rows are
written and the rejected ones reported. ``dry_run`` validates and reports, writing nothing but
the import record. Every import (and dry run, and failure) is recorded in ``survey_imports``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS
from pyproj.exceptions import CRSError
from sqlalchemy import Connection, Engine

from gis.crs import CrsError, CrsSpec, detect_lonlat_crs, parse_crs_name, transform_xy
from importers.survey.columns import POINT_KINDS, map_columns
from importers.survey.readers import open_survey
from importers.survey.text import normalise_number_text
from importers.survey.validate import (
    MAX_ERRORS_KEPT,
    ROW,
    Context,
    ImportRowError,
    RowError,
    validate_batch,
)
from store import audit
from store import survey as store_survey
from store.load import assign_jurisdictions
from store.scope import Principal, cli_principal

MODES = ("insert", "upsert", "replace")


class CrsRequiredError(ValueError):
    """The file states no CRS and none was given: we refuse to guess."""


@dataclass
class ImportReport:
    """What an import did (or would do, for a dry run)."""

    file: str
    kind: str
    format: str
    mode: str
    dry_run: bool
    source_crs: str
    counts: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    repaired: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    attributes_kept: list[str] = field(default_factory=list)
    import_id: int | None = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["errors"] = [e.as_dict() for e in self.errors]
        return data


class ImportFailed(ImportRowError):
    """Rows were invalid and nothing was written; ``report`` says which."""

    def __init__(self, report: ImportReport):
        self.report = report
        super().__init__(report.errors, report.errors_total)


Progress = Callable[[dict[str, Any]], None]


def file_digest(path: Path) -> tuple[str, int]:
    """SHA-256 and size in bytes of a file or of every file in a folder (streamed)."""
    h = hashlib.sha256()
    size = 0
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    return h.hexdigest(), size


def _crs_of_file(stated: str | None, source: str) -> CrsSpec | None:
    if not stated:
        return None
    try:
        return parse_crs_name(stated)
    except CrsError:
        pass
    try:
        epsg = CRS.from_user_input(stated).to_epsg()
    except CRSError as exc:
        raise CrsRequiredError(f"{source}: cannot read its CRS ({exc}); pass --crs") from exc
    if epsg is None:
        raise CrsRequiredError(
            f"{source}: its CRS has no EPSG code, so it cannot be trusted; pass --crs "
            "(wgs84, cgcs2000, gcj02, bd09 or EPSG:nnnn)"
        )
    return parse_crs_name(f"EPSG:{epsg}")


def _sample_xy(cells: Any, x_header: str, y_header: str) -> tuple[np.ndarray, np.ndarray]:
    def num(v: Any) -> float:
        try:
            return float(normalise_number_text(str(v)))
        except (TypeError, ValueError):
            return float("nan")

    x = np.array([num(v) for v in cells[x_header].head(1000)], dtype=float)
    y = np.array([num(v) for v in cells[y_header].head(1000)], dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def _refuse_without_crs(
    source: str, sample: tuple[np.ndarray, np.ndarray], extent: tuple[float, ...] | None
) -> CrsRequiredError:
    x, y = sample
    hint = ""
    if len(x):
        detection = detect_lonlat_crs(x, y, extent=extent)  # type: ignore[arg-type]
        hint = f" {detection.message.rstrip('. ')}."
    return CrsRequiredError(
        f"{source} does not say which coordinate system it uses and none was given.{hint} "
        "Pass --crs: wgs84 (GPS), cgcs2000, gcj02 (AMap/Tencent maps), bd09 (Baidu maps) or "
        "EPSG:nnnn — a WGS-84 point read as GCJ-02 lands hundreds of metres off"
    )


def import_survey(
    engine: Engine,
    path: Path,
    kind: str,
    *,
    crs: str | None = None,
    encoding: str | None = None,
    mapping: Mapping[str, str] | None = None,
    mode: str = "upsert",
    skip_invalid: bool = False,
    dry_run: bool = False,
    fix_geometry: bool = False,
    layer: str | None = None,
    sheet: str | None = None,
    user: str | None = None,
    principal: Principal | None = None,
    extent_margin_m: float = 1000.0,
    batch_rows: int = 50_000,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a survey file of ``kind`` (cameras, checkpoints, alarm_points, key_areas,
    jurisdictions) into the store.

    Parameters
    ----------
    crs
        The file's coordinate system (wgs84, cgcs2000, gcj02, bd09, EPSG:nnnn); needed when
        the file states none (CSV, XLSX, a shapefile without .prj).
    mode
        ``insert`` (existing keys are errors), ``upsert`` (update what changed) or
        ``replace`` (also delete stored rows of this kind that the file does not list).
    skip_invalid
        Write the valid rows and report the rejected ones instead of refusing the import.
    dry_run
        Validate and report; write nothing (but the import record).
    fix_geometry
        Repair invalid polygons (reported) instead of rejecting them.
    principal
        Who imports (None: the operator at the shell, ``cli:<os user>``). A principal limited
        to a jurisdiction may write only rows inside it (others are row errors, and
        ``replace`` deletes only inside it), camera access levels up to its clearance, and no
        jurisdictions. Every import (done, dry run or failed) is one ``import`` audit entry.

    Raises
    ------
    ImportFailed
        Invalid rows and not ``skip_invalid``; nothing was written. ``.report`` has details.
    CrsRequiredError, MappingError, SurveyReadError, CrsError
        The file cannot be read as given.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    principal = principal if principal is not None else cli_principal()
    try:
        return _import(engine, Path(path), kind, crs=crs, encoding=encoding, mapping=mapping,
                       mode=mode, skip_invalid=skip_invalid, dry_run=dry_run,
                       fix_geometry=fix_geometry, layer=layer, sheet=sheet, user=user,
                       principal=principal, extent_margin_m=extent_margin_m,
                       batch_rows=batch_rows, progress=progress)  # fmt: skip
    except (ImportFailed, KeyboardInterrupt):
        raise  # audited where the import record is written
    except Exception as exc:
        if not getattr(exc, "audited", False):
            # Refused before anything was read into the store (unreadable file, no CRS ...).
            audit.record_now(engine, principal, "import", Path(path).name, outcome="refused",
                             details={"kind": kind, "status": "refused", "mode": mode,
                                      "error": str(exc).splitlines()[0][:300]})  # fmt: skip
        raise


def _import(
    engine: Engine, path: Path, kind: str, *, crs: str | None, encoding: str | None,
    mapping: Mapping[str, str] | None, mode: str, skip_invalid: bool, dry_run: bool,
    fix_geometry: bool, layer: str | None, sheet: str | None, user: str | None,
    principal: Principal, extent_margin_m: float, batch_rows: int, progress: Progress | None,
) -> ImportReport:  # fmt: skip
    if kind == "jurisdictions" and not principal.scope.whole_city:
        raise ValueError(f"only a city-level user may import jurisdictions ({principal.subject} "
                         f"works for {principal.scope.root_code})")  # fmt: skip
    if mode == "replace" and kind == "jurisdictions":
        raise ValueError("--mode replace is not available for jurisdictions (devices refer to "
                         "them); use upsert")  # fmt: skip
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    digest, size = file_digest(path)
    given = parse_crs_name(crs) if crs else None
    info, batches = open_survey(path, encoding=encoding, layer=layer, sheet=sheet,
                                batch_rows=batch_rows)  # fmt: skip
    source = path.name if info.member is None else f"{path.name}:{info.member}"
    columns = map_columns(kind, info.columns, mapping=mapping, geometry_column=info.geometry,
                          source=source)  # fmt: skip
    report = ImportReport(
        file=source, kind=kind, format=info.format, mode=mode, dry_run=dry_run, source_crs="",
        warnings=list(info.warnings), attributes_kept=list(columns.attributes),
    )  # fmt: skip
    try:
        first = next(batches, None)
        stated = _crs_of_file(info.crs, source)
        if given is not None and stated is not None and given.name != stated.name:
            report.warnings.append(
                f"the file states {stated.title} but --crs {given.name} was given: using "
                f"{given.name}"
            )
        if stated is None and info.format in ("geojson", "kml"):
            # RFC 7946 and OGC KML define their coordinates as WGS-84.
            stated = parse_crs_name("wgs84")
            report.warnings.append(
                f"{info.format.upper()} coordinates are WGS-84 by definition; if this file "
                "came from a Chinese web map (GCJ-02/BD-09), import it with --crs gcj02/bd09"
            )
        spec = given or stated
        if spec is None and kind in POINT_KINDS and "x" in columns.fields and first is not None:
            with engine.connect() as conn:
                extent_geom = store_survey.city_extent(conn, 0)
            bounds = None if extent_geom is None else tuple(extent_geom.bounds)
            raise _refuse_without_crs(
                source, _sample_xy(first.rows, columns.fields["x"], columns.fields["y"]), bounds
            )
        if spec is None:
            raise _refuse_without_crs(source, (np.empty(0), np.empty(0)), None)
        report.source_crs = spec.name
        return _run(engine, report, columns, spec, first, batches, fix_geometry=fix_geometry,
                    skip_invalid=skip_invalid, margin_m=extent_margin_m,
                    progress=progress, record=dict(
                        file_name=str(path), file_sha256=digest, file_bytes=size,
                        format=info.format, source_crs=spec.name,
                        user_name=user or principal.user_name, mode=mode,
                        started_at=started,
                    ), principal=principal, t0=t0)  # fmt: skip
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()


def _run(
    engine: Engine,
    report: ImportReport,
    columns: Any,
    spec: CrsSpec,
    first: Any,
    batches: Iterator[Any],
    *,
    fix_geometry: bool,
    skip_invalid: bool,
    margin_m: float,
    progress: Progress | None,
    record: dict[str, Any],
    principal: Principal,
    t0: float,
) -> ImportReport:
    kind = report.kind

    def to_wgs84(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = transform_xy(x, y, spec, "wgs84")
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)

    read = 0
    rejected: set[int] = set()
    errors: list[RowError] = []
    errors_total = 0
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            ctx = Context(
                file=report.file, kind=kind, columns=columns, to_wgs84=to_wgs84,
                jurisdictions=store_survey.jurisdictions_frame(conn),
                city_extent=store_survey.city_extent(conn, margin_m),
                fix_geometry=fix_geometry,
            )  # fmt: skip
            if ctx.city_extent is None and kind != "jurisdictions":
                report.warnings.append("no city boundary in the store: extent not checked")
            staged: list[str] | None = None
            chain = itertools.chain([first] if first is not None else [], batches)
            for batch in chain:
                read += len(batch.rows)
                for issue in batch.errors:
                    errors_total += 1
                    rejected.add(int(issue.row))
                    if len(errors) < MAX_ERRORS_KEPT:
                        errors.append(RowError(report.file, int(issue.row), "row", None,
                                               issue.message))  # fmt: skip
                good, bad = validate_batch(ctx, batch.rows, np.asarray(batch.row_numbers))
                for e in bad:
                    rejected.add(e.row)
                    errors_total += 1
                    if len(errors) < MAX_ERRORS_KEPT:
                        errors.append(e)
                if staged is None:
                    fields = [c for c in good.columns if c not in (ROW, good.geometry.name)]
                    staged = store_survey.create_stage(conn, kind, fields)
                store_survey.copy_stage(conn, kind, good, staged)
                if progress is not None:
                    progress({"rows": read, "rejected": len(rejected),
                              "seconds": time.perf_counter() - t0})  # fmt: skip
            if staged is None:
                raise ValueError(f"{report.file}: no rows to import")
            cross: list[RowError] = []
            for row, key, first_row in store_survey.duplicate_rows(conn, kind):
                cross.append(
                    RowError(
                        report.file,
                        row,
                        store_survey.KIND_TABLES[kind].key,
                        key,
                        f"duplicate of row {first_row} in the same file",
                    )
                )
            if report.mode == "insert":
                for row, key in store_survey.existing_rows(conn, kind):
                    cross.append(
                        RowError(
                            report.file,
                            row,
                            store_survey.KIND_TABLES[kind].key,
                            key,
                            "already in the store (use --mode upsert to update it)",
                        )
                    )
            for row, field, value, reason in store_survey.out_of_scope_rows(
                conn, kind, principal.scope
            ):
                cross.append(RowError(report.file, row, field, value, reason))
            for e in cross:
                rejected.add(e.row)
                errors_total += 1
                if len(errors) < MAX_ERRORS_KEPT:
                    errors.append(e)
            errors.sort(key=lambda e: (e.row, e.field))
            report.errors, report.errors_total = errors, errors_total
            report.repaired = list(ctx.repaired)
            report.counts = {"read": read, "rejected": len(rejected)}
            if rejected and not skip_invalid:
                raise ImportFailed(report)
            store_survey.drop_stage_rows(conn, (e.row for e in cross))
            counts = store_survey.merge(conn, kind, staged, report.mode, principal.scope)
            if kind == "jurisdictions":
                assign_jurisdictions(conn)
            report.counts.update(inserted=counts.inserted, updated=counts.updated,
                                 unchanged=counts.unchanged, deleted=counts.deleted)  # fmt: skip
            report.seconds = round(time.perf_counter() - t0, 3)
            if report.dry_run:
                trans.rollback()
                trans = conn.begin()
            status = "dry_run" if report.dry_run else "done"
            report.import_id = store_survey.record_import(
                conn, kind=kind, status=status, counts=report.counts, report=_summary(report),
                **record,
            )  # fmt: skip
            _audit(conn, principal, report, status)
            trans.commit()
        except BaseException:
            trans.rollback()
            report.seconds = round(time.perf_counter() - t0, 3)
            with engine.begin() as log_conn:
                report.import_id = store_survey.record_import(
                    log_conn, kind=kind, status="failed",
                    counts={"read": read, "rejected": len(rejected)},
                    report=_summary(report), **record,
                )  # fmt: skip
                _audit(log_conn, principal, report, "failed")
            exc_now = sys.exc_info()[1]
            if exc_now is not None and not isinstance(exc_now, KeyboardInterrupt):
                exc_now.audited = True  # type: ignore[attr-defined]
            raise
    return report


def _audit(conn: Connection, principal: Principal, report: ImportReport, status: str) -> None:
    audit.record(conn, principal, "import", report.file,
                 outcome="ok" if status != "failed" else "refused",
                 details={"kind": report.kind, "status": status, "mode": report.mode,
                          "import_id": report.import_id, "counts": report.counts,
                          "errors": report.errors_total})  # fmt: skip


def _summary(report: ImportReport) -> dict[str, Any]:
    return {
        "errors_total": report.errors_total,
        "errors": [e.as_dict() for e in report.errors[:100]],
        "repaired": report.repaired[:100],
        "warnings": report.warnings,
        "attributes_kept": report.attributes_kept,
        "seconds": report.seconds,
    }


def write_report(report: ImportReport, path: Path) -> None:
    """Write the rejected rows (and the summary) as JSON, or the rejected rows as CSV."""
    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.DictWriter(fh, fieldnames=["file", "row", "field", "header", "value",
                                                    "reason"])  # fmt: skip
            writer.writeheader()
            for e in report.errors:
                writer.writerow(e.as_dict())
    else:
        path.write_text(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str),
                        encoding="utf-8")  # fmt: skip
