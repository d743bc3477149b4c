"""Alembic migrations: empty -> head -> base -> head, the schema matches the models, constraints."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from store import migrate
from store.models import Base

TABLES = {
    "jurisdictions", "key_areas", "cameras", "checkpoints", "blind_spots", "coverage_runs",
    "buildings", "roads", "alarm_points", "alarms", "sightings", "dataset_loads", "survey_imports",
}  # fmt: skip


def test_upgrade_from_empty_downgrade_and_upgrade_again(fresh_db: str) -> None:
    engine = create_engine(fresh_db)
    try:
        assert migrate.current(engine) is None
        migrate.upgrade(engine)
        assert migrate.current(engine) == migrate.head()
        names = set(inspect(engine).get_table_names())
        assert TABLES <= names

        migrate.downgrade(engine, "base")
        assert migrate.current(engine) is None
        left = set(inspect(engine).get_table_names()) - {"alembic_version", "spatial_ref_sys"}
        assert left == set()

        migrate.upgrade(engine)
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrated_schema_matches_models(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_object": migrate.include_object,
                "target_metadata": Base.metadata,
            },
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_every_geometry_is_4326_with_a_gist_index(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        cols = conn.execute(
            text("SELECT f_table_name, f_geometry_column, srid FROM geometry_columns")
        ).all()
        gist = {
            (r.tablename, r.indexdef.split("(")[-1].rstrip(")"))
            for r in conn.execute(
                text(
                    "SELECT tablename, indexdef FROM pg_indexes WHERE indexdef LIKE '%USING gist%'"
                )
            )
        }
    assert {c.f_table_name for c in cols} >= TABLES - {
        "coverage_runs", "sightings", "dataset_loads", "survey_imports"
    }  # fmt: skip
    for c in cols:
        assert c.srid == 4326, c
        assert (c.f_table_name, c.f_geometry_column) in gist, c


CAMERA = (
    "INSERT INTO cameras (device_id, name, azimuth_deg, tilt_deg, geom) "
    "VALUES (:d, 'c', :az, :tilt, ST_GeomFromText(:wkt, :srid))"
)


@pytest.mark.parametrize(
    ("device_id", "az", "tilt", "wkt", "srid", "constraint"),
    [
        ("12345", 10, 5, "POINT(7.42 43.73)", 4326, "device_id_gb28181"),
        ("99010100001320000001", 360, 5, "POINT(7.42 43.73)", 4326, "azimuth_range"),
        ("99010100001320000001", -1, 5, "POINT(7.42 43.73)", 4326, "azimuth_range"),
        ("99010100001320000001", 10, 91, "POINT(7.42 43.73)", 4326, "tilt_range"),
        ("99010100001320000001", 10, 5, "POINT(7.42 43.73)", 3857, "SRID"),
    ],
)
def test_camera_constraints_keep_bad_rows_out(
    engine, device_id: str, az: float, tilt: float, wkt: str, srid: int, constraint: str
) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match=constraint), engine.begin() as conn:
        conn.execute(
            text(CAMERA), {"d": device_id, "az": az, "tilt": tilt, "wkt": wkt, "srid": srid}
        )


def test_duplicate_device_ids_and_invalid_geometry_are_refused(engine) -> None:  # type: ignore[no-untyped-def]
    params = {
        "d": "99010100001320000077",
        "az": 10,
        "tilt": 5,
        "wkt": "POINT(7.4 43.7)",
        "srid": 4326,
    }
    with engine.connect() as conn:
        conn.execute(text(CAMERA), params)
        with pytest.raises(IntegrityError, match="uq_cameras_device_id"):
            conn.execute(text(CAMERA), params)
        conn.rollback()
    bowtie = "MULTIPOLYGON(((0 0, 1 1, 1 0, 0 1, 0 0)))"
    with pytest.raises(IntegrityError, match="geom_valid"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO buildings (height_m, height_source, geom) "
                "VALUES (10, 'default', ST_GeomFromText(:w, 4326))"
            ),
            {"w": bowtie},
        )


def test_results_move_into_one_partition_per_run_and_back(fresh_db: str) -> None:
    """0007 partitions coverage_visible and road_coverage by run, keeping existing rows."""
    engine = create_engine(fresh_db)
    poly = ("ST_GeomFromText('MULTIPOLYGON(((7.42 43.73, 7.43 43.73, 7.43 43.74, "
            "7.42 43.73)))', 4326)")
    try:
        migrate.upgrade(engine, "0006")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO coverage_runs (id, status, parameters) VALUES "
                              "(1, 'done', '{}'), (2, 'done', '{}')"))  # fmt: skip
            conn.execute(text("INSERT INTO roads (id, road_class, geom) VALUES (1, 'primary', "
                              "ST_GeomFromText('LINESTRING(7.42 43.73, 7.43 43.74)', 4326))"))
            for run in (1, 2, 2):
                conn.execute(text(
                    "INSERT INTO coverage_visible (run_id, camera_ref, level, area_m2, geom) "
                    f"VALUES ({run}, 'c{run}', 'detect', 1.0, {poly})"))  # fmt: skip
                conn.execute(text(
                    "INSERT INTO road_coverage (run_id, road_id, level, length_m, covered_m, "
                    f"covered_pct) VALUES ({run}, 1, 'detect', 10, 5, 50)"))  # fmt: skip
        migrate.upgrade(engine)
        with engine.connect() as conn:
            parts = dict(conn.execute(text(
                "SELECT c.relname, (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid) "
                "FROM pg_class c WHERE c.relname IN ('coverage_visible', 'road_coverage')"
            )).all())  # fmt: skip
            per_run = conn.execute(text(
                "SELECT run_id, count(*) FROM coverage_visible_run_2 GROUP BY 1")).all()
            assert conn.execute(text("SELECT count(*) FROM road_coverage")).scalar() == 3
        assert parts == {"coverage_visible": 2, "road_coverage": 2}
        assert per_run == [(2, 2)]
        with engine.begin() as conn:  # deleting a run still cascades to its rows
            conn.execute(text("DELETE FROM coverage_runs WHERE id = 1"))
            assert conn.execute(text("SELECT count(*) FROM coverage_visible")).scalar() == 2
        migrate.downgrade(engine, "0006")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM coverage_visible")).scalar() == 2
            assert conn.execute(text("SELECT count(*) FROM road_coverage")).scalar() == 2
            assert conn.execute(text(
                "SELECT count(*) FROM pg_class WHERE relname LIKE 'coverage_visible_run_%'"
            )).scalar() == 0  # fmt: skip
    finally:
        engine.dispose()
