"""gis.lookup.cameras_at_points against a brute-force point-in-polygon loop."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely

from gis.lookup import cameras_at_points

CRS = "EPSG:32632"


def _scene(seed: int = 3) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    cams, vis = [], []
    for i in range(40):
        x, y = rng.uniform(0, 500, 2)
        cams.append({"camera_id": f"c{i}", "geometry": shapely.Point(x, y)})
        for level, r in (("detect", 60.0), ("observe", 30.0), ("identify", 8.0)):
            vis.append({"camera_id": f"c{i}", "level": level,
                        "geometry": shapely.Point(x, y).buffer(r)})  # fmt: skip
    return (gpd.GeoDataFrame(vis, crs=CRS), gpd.GeoDataFrame(cams, crs=CRS))


def test_matches_brute_force() -> None:
    vis, cams = _scene()
    rng = np.random.default_rng(9)
    pts = shapely.points(rng.uniform(0, 500, 400), rng.uniform(0, 500, 400))
    got = cameras_at_points(vis, cams, pts)
    rank = {"detect": 1, "observe": 2, "recognise": 3, "identify": 4}
    for k, p in enumerate(pts):
        expected = {}
        for row in vis.itertuples():
            if row.geometry.covers(p):
                if rank[row.level] > rank.get(expected.get(row.camera_id, ""), 0):
                    expected[row.camera_id] = row.level
        sub = got[got["point_index"] == k]
        assert dict(zip(sub["camera_id"], sub["dori_level"], strict=True)) == expected
        ranks = [rank[v] for v in sub["dori_level"]]
        assert ranks == sorted(ranks, reverse=True)
        for c, d in zip(sub["camera_id"], sub["distance_m"], strict=True):
            cp = cams.set_index("camera_id").geometry[c]
            assert math.isclose(d, math.hypot(cp.x - p.x, cp.y - p.y), abs_tol=1e-9)


def test_no_hits_is_an_empty_table() -> None:
    vis, cams = _scene()
    out = cameras_at_points(vis, cams, shapely.points([-1000.0], [-1000.0]))
    assert out.empty and list(out.columns) == ["point_index", "camera_id", "dori_level",
                                               "distance_m"]  # fmt: skip
