import numpy as np
import pytest
import shapely
from shapely.geometry import GeometryCollection, LineString, MultiPolygon, Point, Polygon, box

from gis.polygons import (
    as_multipolygons,
    compass_side,
    exterior_edges,
    random_points_in,
    split_across_long_axis,
)

# A concave "U" (opening to the north) and a rotated rectangle.
U_SHAPE = Polygon([(0, 0), (30, 0), (30, 20), (20, 20), (20, 8), (10, 8), (10, 20), (0, 20)])
ROTATED = shapely.affinity.rotate(box(0, 0, 40, 6), 30, origin=(0, 0))


def test_as_multipolygons_repairs_and_filters() -> None:
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    out = as_multipolygons([box(0, 0, 1, 1), None, LineString([(0, 0), (1, 1)]), bowtie,
                            GeometryCollection([box(0, 0, 1, 1), LineString([(0, 0), (5, 5)])])])
    assert out[1] is None and out[2] is None
    assert all(isinstance(out[i], MultiPolygon) and out[i].is_valid for i in (0, 3, 4))
    assert out[3].area == pytest.approx(2.0)  # two triangles of area 1
    assert len(out[3].geoms) == 2
    assert out[4].area == pytest.approx(1.0)


def test_split_rectangle_in_halves() -> None:
    a, b = split_across_long_axis(box(0, 0, 10, 2))
    assert a.area == pytest.approx(10.0) and b.area == pytest.approx(10.0)
    assert a.centroid.x == pytest.approx(7.5)  # long axis east-west: first half is the east one
    assert b.centroid.x == pytest.approx(2.5)


@pytest.mark.parametrize("poly", [U_SHAPE, ROTATED, MultiPolygon([box(0, 0, 5, 5),
                                                                   box(20, 0, 25, 5)])])
def test_split_halves_partition_the_polygon(poly: Polygon) -> None:
    a, b = split_across_long_axis(poly)
    assert a.area > 0 and b.area > 0
    assert shapely.union(a, b).symmetric_difference(poly).area < 1e-6
    assert shapely.intersection(a, b).area < 1e-6


def test_split_cut_is_perpendicular_to_long_axis() -> None:
    a, b = split_across_long_axis(ROTATED)
    # Long axis at 30° from east; both halves have equal area (cut through the centroid of a
    # rectangle) and their centroids differ along that axis.
    assert a.area == pytest.approx(120.0) and b.area == pytest.approx(120.0)
    d = np.subtract(a.centroid.coords[0], b.centroid.coords[0])
    assert np.degrees(np.arctan2(d[1], d[0])) == pytest.approx(30.0)


def test_compass_side() -> None:
    assert [compass_side(0, 1), compass_side(0, -1), compass_side(2, 1),
            compass_side(-2, 1)] == ["North", "South", "East", "West"]


@pytest.mark.parametrize("orient_cw", [False, True])
def test_exterior_edge_normals_point_outwards(orient_cw: bool) -> None:
    poly = shapely.orient_polygons(U_SHAPE, exterior_cw=orient_cw)
    edges = exterior_edges([poly, box(100, 0, 104, 2)])
    assert len(edges.x0) == 8 + 4
    mx, my = (edges.x0 + edges.x1) / 2, (edges.y0 + edges.y1) / 2
    host = np.array([poly, box(100, 0, 104, 2)], dtype=object)[edges.geom_index]
    out = shapely.points(mx + 0.1 * edges.normal_x, my + 0.1 * edges.normal_y)
    inn = shapely.points(mx - 0.1 * edges.normal_x, my - 0.1 * edges.normal_y)
    assert not shapely.contains(host, out).any()
    assert shapely.contains(host, inn).all()
    assert np.hypot(edges.normal_x, edges.normal_y) == pytest.approx(np.ones(12))


def test_exterior_edges_bearings_and_points() -> None:
    edges = exterior_edges([box(0, 0, 4, 2)], min_length_m=3.0)  # only the two 4 m edges
    assert sorted(edges.outward_bearing_deg.tolist()) == pytest.approx([0.0, 180.0])
    x, y = edges.points_outside(0.5, 0.4)
    order = np.argsort(y)
    assert x[order] == pytest.approx([2.0, 2.0])
    assert y[order] == pytest.approx([-0.4, 2.4])


def test_random_points_in() -> None:
    rng = np.random.default_rng(7)
    xy = random_points_in(U_SHAPE, 500, rng)
    assert xy.shape == (500, 2)
    assert shapely.contains_xy(U_SHAPE, xy[:, 0], xy[:, 1]).all()
    # Uniform: the share in the left arm (10 x 12 m of 30x8 + 2x10x12 = 480 m²) is ~1/4.
    left_arm = box(0, 8, 10, 20)
    share = shapely.contains_xy(left_arm, xy[:, 0], xy[:, 1]).mean()
    assert abs(share - 120 / 480) < 0.06
    again = random_points_in(U_SHAPE, 500, np.random.default_rng(7))
    assert np.array_equal(xy, again)
    with pytest.raises(ValueError, match="without area"):
        random_points_in(Point(0, 0).buffer(0), 1, rng)
