import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, box

from gis.sampling import (
    bearing_at_deg,
    boundary_crossings,
    junctions,
    offset_xy,
    positions_along,
    step_inside,
)


def test_positions_along_hand_cases() -> None:
    idx, dist = positions_along([100.0, 30.0, 10.0], 40.0, [5.0, 20.0, 15.0])
    assert idx.tolist() == [0, 0, 0, 1]
    assert dist.tolist() == [5.0, 45.0, 85.0, 20.0]


def test_positions_along_expected_count_matches_length() -> None:
    # With a uniform random phase, a line of length L gets L / spacing points on average.
    rng = np.random.default_rng(1)
    lengths = np.full(20_000, 25.0)
    spacing = 60.0
    idx, _ = positions_along(lengths, spacing, rng.uniform(0, spacing, len(lengths)))
    assert abs(len(idx) / len(lengths) - 25.0 / 60.0) < 0.02


def test_positions_along_rejects_bad_spacing() -> None:
    with pytest.raises(ValueError, match="spacing"):
        positions_along([10.0], 0.0, 0.0)


def test_bearing_at_on_l_shaped_line() -> None:
    line = LineString([(0, 0), (0, 10), (10, 10)])  # north, then east
    b = bearing_at_deg(np.array([line] * 3, dtype=object), [2.0, 15.0, 0.0])
    assert b.tolist() == pytest.approx([0.0, 90.0, 0.0])
    back = bearing_at_deg(np.array([shapely.reverse(line)], dtype=object), [2.0])
    assert back[0] == pytest.approx(270.0)


def test_offset_xy_right_and_ahead() -> None:
    x, y = offset_xy([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 90.0, 45.0], [2.0, 2.0, 0.0],
                     [0.0, 0.0, np.sqrt(2)])
    assert x == pytest.approx([2.0, 0.0, 1.0])
    assert y == pytest.approx([0.0, -2.0, 1.0])


def test_boundary_crossings_in_out_touch_along() -> None:
    square = box(0, 0, 10, 10)
    lines = np.array([
        LineString([(-5, 1), (15, 1)]),  # enters at 5, leaves at 15
        LineString([(-5, -1), (0, 0), (-5, 1)]),  # touches a corner only
        LineString([(0, -5), (0, 5)]),  # runs along the edge: never inside
        LineString([(12, 3), (5, 3)]),  # enters at 2
        LineString([(0, 4), (3, 4)]),  # starts on the boundary, goes in
    ], dtype=object)
    cr = boundary_crossings(lines, square)
    assert cr.line_index.tolist() == [0, 0, 3, 4]
    assert cr.distance_m.tolist() == pytest.approx([5.0, 15.0, 2.0, 0.0])
    assert cr.enters.tolist() == [True, False, True, True]


def test_step_inside() -> None:
    square = box(0, 0, 10, 10)
    lines = np.array([LineString([(-20, 1), (20, 1)]), LineString([(-20, 1), (20, 1)])],
                     dtype=object)
    pts, d = step_inside(lines, [20.0, 30.0], square, (15.0, 5.0))
    # Line 0 from the entry (x=0): +15 m -> x=15 and -15 m -> x=-15 are outside, +5 m -> x=5.
    # Line 1 from the exit (x=10): x=25, x=-5, x=15 are outside, -5 m -> x=5.
    assert d.tolist() == [25.0, 25.0]
    assert shapely.get_x(pts).tolist() == pytest.approx([5.0, 5.0])
    none, nan = step_inside(lines[:1], [0.0], box(100, 100, 101, 101), (15.0,))
    assert none[0] is None and np.isnan(nan[0])


def test_junctions_counts_arms() -> None:
    lines = np.array([
        LineString([(0, 0), (10, 0), (20, 0)]),  # through the plus node at (10, 0)
        LineString([(10, 0), (10, 10)]),
        LineString([(10, 0), (10, -10)]),
        LineString([(20, 0), (30, 0)]),  # continues the first line: 2 arms at (20, 0)
        LineString([(30, 0), (30, 5)]),
        LineString([(30, 0), (35, -5)]),  # T at (30, 0): 3 arms
    ], dtype=object)
    j = junctions(lines, min_arms=3)
    assert list(zip(j.x_m.tolist(), j.y_m.tolist(), j.arms.tolist(), strict=True)) == [
        (10.0, 0.0, 4), (30.0, 0.0, 3)]
