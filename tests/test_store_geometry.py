"""Geometry written to the store: repaired part-wise into valid MultiPolygons, EWKB encoded."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Polygon, box
from sqlalchemy import Engine, text

from store.coverage import as_multi
from store.load import LoadError, copy_columns, ewkb_hex

BOWTIE = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])


def test_as_multi_keeps_valid_polygons_unchanged() -> None:
    a, b = box(0, 0, 1, 1), box(3, 0, 4, 1)
    out = as_multi([a, MultiPolygon([a, b])])
    assert [g.geom_type for g in out] == ["MultiPolygon", "MultiPolygon"]
    assert out[0].equals(MultiPolygon([a]))
    assert out[1].equals(MultiPolygon([a, b]))
    assert shapely.is_valid(out).all()


def test_as_multi_repairs_only_what_is_broken() -> None:
    out = as_multi([MultiPolygon([box(5, 5, 6, 6), BOWTIE])])
    assert out[0].is_valid
    # the bow-tie becomes its two triangles (area 2) beside the untouched square (area 1)
    assert abs(out[0].area - 3.0) < 1e-12
    assert len(out[0].geoms) == 3


def test_as_multi_repairs_parts_that_overlap_each_other() -> None:
    overlapping = MultiPolygon([box(0, 0, 2, 2), box(1, 1, 3, 3)])  # invalid as a whole
    assert not overlapping.is_valid
    out = as_multi([overlapping])
    assert out[0].is_valid
    assert abs(out[0].area - 7.0) < 1e-12  # their union: 4 + 4 - the shared unit square


def test_as_multi_empties_and_non_polygons() -> None:
    mixed = GeometryCollection([LineString([(0, 0), (1, 1)]), box(0, 0, 1, 1)])
    out = as_multi([None, Polygon(), LineString([(0, 0), (1, 0)]), mixed])
    assert [g.geom_type for g in out] == ["MultiPolygon"] * 4
    assert [g.is_empty for g in out] == [True, True, True, False]
    assert out[3].equals(MultiPolygon([box(0, 0, 1, 1)]))


def test_ewkb_hex_carries_srid_4326() -> None:
    hexes = ewkb_hex([box(0, 0, 1, 1), None])
    back = shapely.from_wkb(hexes[0])
    assert shapely.get_srid(back) == 4326
    assert back.equals(box(0, 0, 1, 1))
    assert hexes[1] is None


def test_copy_columns_writes_binary_rows_with_nulls_json_and_geometry(engine: Engine) -> None:
    nan, inf = float("nan"), float("inf")
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TEMP TABLE t_copy (i integer, b bigint, f double precision, s varchar(8), "
            "j jsonb, g geometry(MultiPolygon, 4326)) ON COMMIT DROP"))  # fmt: skip
        n = copy_columns(conn, "t_copy", {
            "i": [1, None, 3],
            "b": np.array([2**40, 5, 6], dtype=np.int64),
            "f": np.array([1.5, nan, inf]),
            "s": np.array(["a\tb", "c\\d", "€"], dtype=object),
            "j": [[[0.0, 1.5]], [], None],
            "g": [MultiPolygon([box(0, 0, 1, 1)]), MultiPolygon([box(2, 2, 3, 4)]), None],
        })  # fmt: skip
        rows = conn.execute(text(
            "SELECT i, b, f, s, j, ST_SRID(g), ST_Area(g) FROM t_copy ORDER BY b DESC"
        )).all()  # fmt: skip
    assert n == 3
    assert rows[0] == (1, 2**40, 1.5, "a\tb", [[0.0, 1.5]], 4326, 1.0)
    assert rows[1] == (3, 6, None, "€", None, None, None)
    assert rows[2] == (None, 5, None, "c\\d", [], 4326, 2.0)


def test_copy_columns_refuses_unknown_columns_and_ragged_input(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE t_bad (i integer, p point) ON COMMIT DROP"))
        with pytest.raises(LoadError, match="no column.*nope"):
            copy_columns(conn, "t_bad", {"nope": [1]})
        with pytest.raises(LoadError, match="different lengths"):
            copy_columns(conn, "t_bad", {"i": [1, 2], "p": [None]})
        with pytest.raises(LoadError, match=r"p \(point\)"):
            copy_columns(conn, "t_bad", {"p": [None]})
