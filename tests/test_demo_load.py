"""`sightline demo load`: the real Monaco extract and the synthetic inventory land in PostGIS."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, create_engine, text

from importers import city
from importers.osm import read_osm
from settings import Settings
from store import migrate
from store.queries import row_counts


def test_demo_city_is_in_the_store(demo_engine: Engine) -> None:
    counts = row_counts(demo_engine)
    assert counts["buildings"] == 1283  # every building of the extract
    assert counts["jurisdictions"] == 1 + 6 + 12  # city, its 6 districts, 2 stations each
    assert 300 <= counts["cameras"] <= 700
    assert counts["checkpoints"] >= 3
    assert counts["key_areas"] >= 8
    assert counts["alarms"] > 100
    with demo_engine.connect() as conn:
        osm_cams = conn.execute(text("SELECT count(*) FROM cameras WHERE source='osm'")).scalar()
        # every mapped camera inside the city (the extract also reaches into France)
        extract = read_osm(Settings().demo_osm_file)
        districts = extract.boundaries[extract.boundaries["admin_level"] == 10].union_all()
        assert len(extract.cameras) == 14
        assert osm_cams == int(extract.cameras.within(districts).sum()) > 0
        # every device lies in, and is assigned to, a police-station jurisdiction that covers it
        wrong = conn.execute(
            text(
                "SELECT count(*) FROM cameras c LEFT JOIN jurisdictions j "
                "ON j.id = c.jurisdiction_id "
                "WHERE j.level IS DISTINCT FROM 'station' OR NOT ST_Covers(j.geom, c.geom)"
            )
        ).scalar()
        assert wrong == 0
        # the hierarchy: stations -> districts -> city
        levels = dict(
            conn.execute(
                text(
                    "SELECT j.level, count(*) FROM jurisdictions j "
                    "LEFT JOIN jurisdictions p ON p.id = j.parent_id "
                    "WHERE (j.level='city' AND p.id IS NULL) "
                    "OR (j.level='district' AND p.level='city') "
                    "OR (j.level='station' AND p.level='district') GROUP BY j.level"
                )
            ).all()
        )
        assert levels == {"city": 1, "district": 6, "station": 12}


def test_second_load_is_skipped_and_force_reloads_the_same(demo_engine: Engine) -> None:
    s = Settings()
    before = row_counts(demo_engine)
    again = city.load_demo(demo_engine, s.demo_osm_file, s.demo_seed)
    assert again.skipped
    forced = city.load_demo(demo_engine, s.demo_osm_file, s.demo_seed, force=True)
    assert not forced.skipped
    after = row_counts(demo_engine)
    assert {k: v for k, v in after.items() if k != "dataset_loads"} == {
        k: v for k, v in before.items() if k != "dataset_loads"
    }


def test_a_failing_load_writes_nothing(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(fresh_db)
    try:
        migrate.upgrade(engine)
        real_insert = city.store_load.insert_frame

        def failing(conn, model, gdf, extra=None):  # type: ignore[no-untyped-def]
            if model.__tablename__ == "alarms":
                raise ValueError("alarms: simulated failure half-way")
            return real_insert(conn, model, gdf, extra)

        monkeypatch.setattr(city.store_load, "insert_frame", failing)
        s = Settings()
        with pytest.raises(ValueError, match="simulated failure"):
            city.load_demo(engine, s.demo_osm_file, s.demo_seed)
        assert set(row_counts(engine).values()) == {0}
    finally:
        engine.dispose()
