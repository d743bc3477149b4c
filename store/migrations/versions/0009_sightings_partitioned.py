"""Sightings partitioned by UTC day of ``seen_at`` (RANGE), and hourly counts per device.

A day's sightings are COPYed into a bare table, indexed once and attached as the day's
partition (``store.sightings``); late rows of a day already stored are appended through a
staging table. One btree per partition serves both the object lookup and duplicate refusal:
UNIQUE (object_ref, seen_at, camera_id, checkpoint_id) NULLS NOT DISTINCT (one of the two
device columns is always NULL). BRIN on ``seen_at`` (autosummarised) for time windows, and
``sighting_counts`` (per device and UTC hour, maintained by the loader) for device counts:
derived data without foreign keys (a check per row made its COPY 20x slower); counts of a
deleted device drop out of every query, which joins the devices.
Rows outside every month partition land in ``sightings_default``. Existing rows move there.
``object_ref`` is opaque: byte order (COLLATE "C") sorts it 2-3x faster than a locale when
a month's index is built.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 18:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COLUMNS = ("object_ref, seen_at, camera_id, checkpoint_id, direction, lane, confidence")


def upgrade() -> None:
    op.execute("ALTER TABLE sightings RENAME TO sightings_flat")
    op.execute("ALTER TABLE sightings_flat RENAME CONSTRAINT pk_sightings TO pk_sightings_flat")
    op.execute("ALTER INDEX ix_sightings_object_ref_seen_at RENAME TO ix_sightings_flat_ors")
    for ck in ("one_device", "confidence_range"):
        op.execute(f"ALTER TABLE sightings_flat RENAME CONSTRAINT ck_sightings_{ck} "
                   f"TO ck_sightings_flat_{ck}")  # fmt: skip
    for fk in ("camera_id_cameras", "checkpoint_id_checkpoints"):
        op.execute(f"ALTER TABLE sightings_flat RENAME CONSTRAINT fk_sightings_{fk} "
                   f"TO fk_sightings_flat_{fk}")  # fmt: skip
    op.execute("""
        CREATE TABLE sightings (
            object_ref text COLLATE "C" NOT NULL,
            seen_at timestamptz NOT NULL,
            camera_id integer,
            checkpoint_id integer,
            direction varchar(16),
            lane integer,
            confidence double precision,
            CONSTRAINT ck_sightings_one_device
                CHECK ((checkpoint_id IS NULL) <> (camera_id IS NULL)),
            CONSTRAINT ck_sightings_confidence_range
                CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
            CONSTRAINT fk_sightings_camera_id_cameras FOREIGN KEY (camera_id)
                REFERENCES cameras (id) ON DELETE CASCADE,
            CONSTRAINT fk_sightings_checkpoint_id_checkpoints FOREIGN KEY (checkpoint_id)
                REFERENCES checkpoints (id) ON DELETE CASCADE
        ) PARTITION BY RANGE (seen_at)""")
    op.execute("CREATE UNIQUE INDEX ix_sightings_object_ref_seen_at ON sightings "
               "(object_ref, seen_at, camera_id, checkpoint_id) NULLS NOT DISTINCT")
    op.execute("CREATE INDEX ix_sightings_seen_at_brin ON sightings USING brin (seen_at) "
               "WITH (autosummarize = on)")
    op.execute("CREATE TABLE sightings_default PARTITION OF sightings DEFAULT")
    op.execute(f"INSERT INTO sightings ({_COLUMNS}) SELECT {_COLUMNS} FROM sightings_flat")
    op.execute("DROP TABLE sightings_flat")
    op.execute("""
        CREATE TABLE sighting_counts (
            hour timestamptz NOT NULL,
            camera_id integer,
            checkpoint_id integer,
            n bigint NOT NULL
        )""")
    op.execute("CREATE UNIQUE INDEX ix_sighting_counts_hour ON sighting_counts "
               "(hour, camera_id, checkpoint_id) NULLS NOT DISTINCT")
    op.execute("""
        INSERT INTO sighting_counts (hour, camera_id, checkpoint_id, n)
        SELECT date_trunc('hour', seen_at, 'UTC'), camera_id, checkpoint_id, count(*)
        FROM sightings GROUP BY 1, 2, 3""")


def downgrade() -> None:
    op.execute("DROP TABLE sighting_counts")
    op.execute("ALTER TABLE sightings RENAME TO sightings_parted")
    op.execute("ALTER INDEX ix_sightings_object_ref_seen_at RENAME TO ix_sightings_parted_ors")
    op.execute("ALTER INDEX ix_sightings_seen_at_brin RENAME TO ix_sightings_parted_brin")
    for c in ("ck_sightings_one_device", "ck_sightings_confidence_range",
              "fk_sightings_camera_id_cameras", "fk_sightings_checkpoint_id_checkpoints"):
        op.execute(f"ALTER TABLE sightings_parted RENAME CONSTRAINT {c} TO {c}_parted")
    op.execute("""
        CREATE TABLE sightings (
            id bigserial NOT NULL,
            checkpoint_id integer,
            camera_id integer,
            seen_at timestamptz NOT NULL,
            object_ref text NOT NULL,
            direction varchar(16),
            lane integer,
            confidence double precision,
            CONSTRAINT pk_sightings PRIMARY KEY (id),
            CONSTRAINT ck_sightings_one_device
                CHECK ((checkpoint_id IS NULL) <> (camera_id IS NULL)),
            CONSTRAINT ck_sightings_confidence_range
                CHECK (confidence IS NULL OR (confidence >= 0 AND confidence <= 1)),
            CONSTRAINT fk_sightings_camera_id_cameras FOREIGN KEY (camera_id)
                REFERENCES cameras (id) ON DELETE CASCADE,
            CONSTRAINT fk_sightings_checkpoint_id_checkpoints FOREIGN KEY (checkpoint_id)
                REFERENCES checkpoints (id) ON DELETE CASCADE
        )""")
    op.execute("CREATE INDEX ix_sightings_object_ref_seen_at ON sightings (object_ref, seen_at)")
    op.execute(f"INSERT INTO sightings ({_COLUMNS}) SELECT {_COLUMNS} FROM sightings_parted "
               "ORDER BY seen_at")  # fmt: skip
    op.execute("DROP TABLE sightings_parted")  # and its partitions
