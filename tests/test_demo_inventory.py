import dataclasses
import datetime as dt
import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pyproj import Geod, Transformer

from gis.gb28181 import parse_device_id
from importers.demo import (
    CAMERA_COLUMNS,
    CHECKPOINT_COLUMNS,
    REFERENCE_TIME,
    DemoError,
    DemoInventory,
    build_demo,
    hfov_deg,
)
from importers.osm import OsmExtract, read_osm

MONACO = Path(__file__).resolve().parents[1] / "data" / "monaco.osm.pbf"
UTM32 = 32632  # Monaco's metric CRS, fixed here so the checks do not rely on gis.crs
ENTRY_CLASSES = {"motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
                 "residential", "motorway_link", "trunk_link", "primary_link", "secondary_link",
                 "tertiary_link"}
FRAMES = ("jurisdictions", "cameras", "checkpoints", "missing_entry_checkpoints", "key_areas",
          "alarm_points", "alarms")


@pytest.fixture(scope="module")
def extract() -> OsmExtract:
    return read_osm(MONACO)


@pytest.fixture(scope="module")
def demo(extract: OsmExtract) -> DemoInventory:
    return build_demo(extract)


@pytest.fixture(scope="module")
def city(demo: DemoInventory) -> shapely.Geometry:
    j = demo.jurisdictions
    geom = j.loc[j["level"] == "city", "geometry"].iloc[0]
    shapely.prepare(geom)
    return geom


def test_same_seed_same_frames_other_seed_differs(extract: OsmExtract,
                                                  demo: DemoInventory) -> None:
    again = build_demo(extract, seed=28181)
    for name in FRAMES:
        assert_geodataframe_equal(getattr(demo, name), getattr(again, name))
    other = build_demo(extract, seed=7)
    for name in ("cameras", "alarms", "alarm_points"):
        mine = set(getattr(demo, name).geometry.to_wkt())
        theirs = set(getattr(other, name).geometry.to_wkt())
        assert len(mine ^ theirs) > len(mine) / 2, name
    # Only the real OSM cameras and the district geometry stay put.
    osm = demo.cameras[demo.cameras["source"] == "osm"].geometry.to_wkt()
    assert set(osm) <= set(other.cameras.geometry.to_wkt())
    assert_geodataframe_equal(demo.jurisdictions, other.jurisdictions)


def test_frames_are_wgs84_with_valid_geometry(demo: DemoInventory) -> None:
    for name in FRAMES:
        frame = getattr(demo, name)
        assert frame.crs.to_epsg() == 4326, name
        assert frame.is_valid.all() and not frame.is_empty.any(), name
    assert tuple(demo.cameras.columns) == CAMERA_COLUMNS
    assert tuple(demo.checkpoints.columns) == CHECKPOINT_COLUMNS
    assert tuple(demo.missing_entry_checkpoints.columns) == CHECKPOINT_COLUMNS
    assert set(demo.jurisdictions.geom_type) == {"MultiPolygon"}
    assert set(demo.key_areas.geom_type) == {"MultiPolygon"}


# --------------------------------------------------------------------------- jurisdictions


def test_jurisdiction_tree(demo: DemoInventory, extract: OsmExtract) -> None:
    j = demo.jurisdictions
    assert j["code"].is_unique
    assert (j["code"] == j["admin_code"]).all()
    assert j["level"].value_counts().to_dict() == {"city": 1, "district": 6, "station": 12}
    cityrow = j[j["level"] == "city"].iloc[0]
    assert cityrow["name"] == "Monaco" and cityrow["code"] == "990100"
    assert cityrow["parent_code"] is None
    districts = j[j["level"] == "district"]
    assert set(districts["name"]) == set(
        extract.boundaries.loc[extract.boundaries["admin_level"] == 10, "name"])
    assert districts["code"].str.fullmatch(r"9901\d\d").all()
    assert (districts["parent_code"] == "990100").all()
    stations = j[j["level"] == "station"]
    assert stations["code"].str.fullmatch(r"9901\d{4}").all()
    assert (stations["code"].str[:6] == stations["parent_code"]).all()
    assert stations["name"].str.contains(" Station ").all()


def test_stations_partition_districts(demo: DemoInventory, extract: OsmExtract) -> None:
    j = demo.jurisdictions.to_crs(UTM32)
    osm = extract.boundaries[extract.boundaries["admin_level"] == 10].to_crs(UTM32)
    for d in j[j["level"] == "district"].itertuples():
        halves = j[j["parent_code"] == d.code]
        assert len(halves) == 2 and (halves.area > 1000).all()
        union = shapely.union_all(halves.geometry.values)
        assert union.symmetric_difference(d.geometry).area < 1.0
        source = osm.loc[osm["name"] == d.name, "geometry"].iloc[0]
        assert source.symmetric_difference(d.geometry).area < 1.0
        assert shapely.intersection(*halves.geometry.values).area < 1.0
    city = j.loc[j["level"] == "city", "geometry"].iloc[0]
    assert city.symmetric_difference(shapely.union_all(osm.geometry.values)).area < 1.0


# --------------------------------------------------------------------------- devices


def _station_of(points: gpd.GeoDataFrame, demo: DemoInventory) -> list[str]:
    stations = demo.jurisdictions[demo.jurisdictions["level"] == "station"]
    joined = gpd.sjoin(points[["geometry"]], stations[["code", "geometry"]],
                       predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    return joined["code"].tolist()


def test_everything_inside_city(demo: DemoInventory, city: shapely.Geometry) -> None:
    for name in ("cameras", "checkpoints", "missing_entry_checkpoints", "alarm_points",
                 "alarms"):
        pts = getattr(demo, name).geometry.values
        assert shapely.contains(city, pts).all(), name
    tolerant = city.buffer(1e-7)
    assert shapely.covered_by(demo.key_areas.geometry.values, tolerant).all()


def test_device_ids_valid_unique_and_local(demo: DemoInventory) -> None:
    devices = gpd.GeoDataFrame(
        gpd.pd.concat([demo.cameras[["device_id", "is_social_resource", "geometry"]],
                       demo.checkpoints[["device_id", "geometry"]],
                       demo.missing_entry_checkpoints[["device_id", "geometry"]]],
                      ignore_index=True), crs=4326)
    assert devices["device_id"].is_unique
    parsed = [parse_device_id(d) for d in devices["device_id"]]
    assert {(p.industry, p.type_code) for p in parsed} == {("00", "132")}
    assert [p.centre_code for p in parsed] == _station_of(devices, demo)
    social = devices["is_social_resource"].fillna(False).astype(bool).to_numpy()
    assert [p.network for p in parsed] == [8 if s else 0 for s in social]


def test_camera_counts_and_kinds(demo: DemoInventory, extract: OsmExtract,
                                 city: shapely.Geometry) -> None:
    c = demo.cameras
    osm_inside = int(shapely.contains(city, extract.cameras.geometry.values).sum())
    assert (c["source"] == "osm").sum() == osm_inside
    synthetic_road = c[(c["source"] == "demo") & (c["kind"] == "road")]
    assert 250 <= len(synthetic_road) <= 380
    assert 80 <= c["kind"].isin(["community", "social"]).sum() <= 120
    assert 3 <= (c["kind"] == "high_point").sum() <= 8
    assert set(c["camera_type"]) <= {"fixed", "dome", "ptz", "panoramic"}
    assert (c["camera_type"] == "fixed").mean() > 0.7
    status = c["status"].value_counts(normalize=True)
    assert status["online"] > 0.8 and 0.02 < status["offline"] < 0.09
    assert set(c["status"]) <= {"online", "offline", "fault", "unknown"}
    assert c["stream_ref"].str.fullmatch(r"demo://\d{20}").all()


def test_camera_attribute_rules(demo: DemoInventory) -> None:
    c = demo.cameras
    az = c["azimuth_deg"]
    assert ((az >= 0) & (az < 360) | az.isna()).all()
    assert c["mount_height_m"].gt(0).all() and c["tilt_deg"].between(-90, 90).all()
    road = c[(c["source"] == "demo") & (c["kind"] == "road") & (c["camera_type"] == "fixed")]
    assert road["mount_height_m"].between(4, 8).all() and road["tilt_deg"].between(8, 20).all()
    hp = c[c["kind"] == "high_point"]
    assert hp["mount_height_m"].between(30, 60).all() and hp["any_direction"].all()
    assert set(hp["camera_type"]) <= {"panoramic", "ptz"}
    social = c[c["is_social_resource"]]
    assert (social["kind"] == "social").all() and social["access_level"].between(1, 3).all()
    assert (c.loc[~c["is_social_resource"], "access_level"] == 0).all()
    osm = c[c["source"] == "osm"]
    for cam in osm.itertuples():
        if math.isnan(cam.azimuth_deg):
            assert cam.any_direction == (cam.camera_type != "fixed")
        else:
            assert not cam.any_direction
    # Monaco's three OSM cameras with a direction stand in France, outside the city.
    assert osm["any_direction"].all() and osm["azimuth_deg"].isna().all()
    assert set(osm["camera_type"]) == {"dome", "ptz"}
    junction = c[c["ptz_presets"].map(len) > 0]
    assert len(junction) > 5
    for presets in junction["ptz_presets"]:
        for p in presets:
            assert set(p) == {"name", "azimuth_deg", "tilt_deg"}
            assert 0 <= p["azimuth_deg"] < 360


def test_hfov_formula() -> None:
    assert hfov_deg(5.6, 4.0) == pytest.approx(70.0, abs=0.05)  # DOMAIN §2 worked case
    assert hfov_deg(5.6, 2.8) == pytest.approx(90.0)  # w = 2f -> 2·atan(1) = 90°


def test_camera_hfov_matches_lens(demo: DemoInventory) -> None:
    c = demo.cameras
    expected = 2 * np.degrees(np.arctan(c["sensor_width_mm"] / (2 * c["focal_length_mm"])))
    pano = c["camera_type"] == "panoramic"
    assert np.allclose(c.loc[~pano, "hfov_deg"], expected[~pano], atol=1e-3)
    assert (c.loc[pano, "hfov_deg"] == 360.0).all()
    assert set(c["sensor_width_mm"]) <= {5.6, 7.2}


def test_facade_cameras_outside_and_facing_away(demo: DemoInventory,
                                                extract: OsmExtract) -> None:
    c = demo.cameras[demo.cameras["kind"].isin(["community", "social"])
                     & (demo.cameras["source"] == "demo")]
    buildings = extract.buildings.set_index("osm_id").to_crs(UTM32)
    hosts = buildings.loc[c["attributes"].map(lambda a: a["host_building_osm_id"])].geometry
    to_utm = Transformer.from_crs(4326, UTM32, always_xy=True)
    lon, lat = c.geometry.x.to_numpy(), c.geometry.y.to_numpy()
    x, y = to_utm.transform(lon, lat)
    pts = shapely.points(x, y)
    dist = shapely.distance(hosts.values, pts)
    assert (dist > 0).all() and (dist <= 1.0).all()
    assert not shapely.intersects(buildings.geometry.to_numpy()[:, None], pts[None, :]).any()
    # 5 m along the (true-north) azimuth, by the geodesic, must not be inside the host.
    lon5, lat5, _ = Geod(ellps="WGS84").fwd(lon, lat, c["azimuth_deg"].to_numpy(),
                                            np.full(len(c), 5.0))
    ahead = shapely.points(*to_utm.transform(lon5, lat5))
    assert not shapely.within(ahead, hosts.values).any()
    assert (shapely.distance(hosts.values, ahead) > 0.0).all()


# --------------------------------------------------------------------------- checkpoints


def _crossings(extract: OsmExtract, city_m: shapely.Geometry) -> list[tuple[str, shapely.Point]]:
    """Every place a drivable road passes between inside and outside the city (own loop)."""
    roads = extract.roads[extract.roads["road_class"].isin(ENTRY_CLASSES)].to_crs(UTM32)
    out = []
    for road in roads.itertuples():
        line = road.geometry
        for p in shapely.get_parts(line.intersection(city_m.boundary)):
            if p.is_empty:
                continue
            ends = [p] if p.geom_type == "Point" else [shapely.Point(p.coords[0]),
                                                       shapely.Point(p.coords[-1])]
            for q in ends:
                d = line.project(q)
                a = line.interpolate(max(d - 1.0, 0.0))
                b = line.interpolate(min(d + 1.0, line.length))
                if city_m.contains(a) != city_m.contains(b):
                    out.append((road.osm_id, q))
    return out


def test_every_entry_road_has_a_checkpoint_except_the_missing(
        demo: DemoInventory, extract: OsmExtract, city: shapely.Geometry) -> None:
    city_m = gpd.GeoSeries([city], crs=4326).to_crs(UTM32).iloc[0]
    crossings = _crossings(extract, city_m)
    assert len(crossings) > 20
    entries = demo.checkpoints[demo.checkpoints["is_entry"]].to_crs(UTM32)
    missing = demo.missing_entry_checkpoints.to_crs(UTM32)
    assert len(missing) == 2 and missing["is_entry"].all()

    def near(frame: gpd.GeoDataFrame, road: str, q: shapely.Point) -> bool:
        same = frame[frame["road_osm_id"] == road]
        return bool((same.distance(q) <= 50.0).any())

    uncovered = [(road, q) for road, q in crossings if not near(entries, road, q)]
    assert uncovered, "the two left-out crossings must show up as gaps"
    assert all(near(missing, road, q) for road, q in uncovered)
    assert {r for r, _ in uncovered} == set(missing["road_osm_id"])
    # No invented entries: every entry checkpoint is within 50 m of a crossing of its road.
    for cp in entries.itertuples():
        assert any(r == cp.road_osm_id and cp.geometry.distance(q) <= 50.0
                   for r, q in crossings), cp.name


def test_checkpoint_attributes(demo: DemoInventory, extract: OsmExtract) -> None:
    cp = demo.checkpoints
    roads = extract.roads.set_index("osm_id")
    for row in cp[cp["is_entry"]].itertuples():
        assert row.name.startswith("Entry ")
        oneway = bool(roads.loc[row.road_osm_id, "oneway"])
        assert row.directions in ([["in"], ["out"]] if oneway else [["in", "out"]])
        assert 1 <= row.lanes <= 32
    internal = cp[~cp["is_entry"]]
    assert 1 <= len(internal) <= 6
    assert all(len(d) >= 3 for d in internal["directions"])
    assert (cp["source"] == "demo").all()


# --------------------------------------------------------------------------- areas and alarms


def test_key_areas(demo: DemoInventory) -> None:
    k = demo.key_areas
    assert len(k) >= 8
    assert set(k["required_dori"]) <= {"detect", "observe", "recognise", "identify"}
    assert (k.loc[k["area_class"] == "transport_hub", "required_dori"] == "recognise").all()
    assert (k.loc[k["area_class"] == "school", "required_dori"] == "observe").all()
    areas = k.to_crs(UTM32).area
    assert (areas > 0).all() and (areas < math.pi * 60**2 * 20).all()


def test_alarm_points_and_alarms(demo: DemoInventory) -> None:
    ap, al = demo.alarm_points, demo.alarms
    assert 30 <= len(ap) <= 50 and ap["code"].is_unique
    assert ap["code"].str.fullmatch(r"AP-\d{4}").all()
    assert set(ap["kind"]) <= {"sos_column", "intrusion", "fire"}
    assert 500 <= len(al) <= 700
    assert set(al["alarm_point_code"].dropna()) <= set(ap["code"])
    assert al["alarm_point_code"].isna().sum() > len(al) / 2
    assert set(al["kind"]) <= {"theft", "traffic", "dispute", "fire", "medical", "other"}
    assert al["priority"].between(1, 5).all()
    assert (al["status"] == "closed").mean() > 0.9
    assert set(al["status"]) <= {"open", "handling", "closed"}
    times = al["occurred_at"]
    assert times.dt.tz is not None
    ref = gpd.pd.Timestamp(REFERENCE_TIME)
    assert (times < ref).all() and (times >= ref - dt.timedelta(days=90)).all()
    # Alarms from an alarm point are at that point.
    located = al.dropna(subset=["alarm_point_code"])
    where = ap.set_index("code").geometry.loc[located["alarm_point_code"]].values
    assert shapely.equals(located.geometry.values, where).all()


def test_demo_needs_boundaries(extract: OsmExtract) -> None:
    empty = dataclasses.replace(extract, boundaries=extract.boundaries.iloc[:0])
    with pytest.raises(DemoError, match="no boundary=administrative"):
        build_demo(empty)
    one = dataclasses.replace(extract, boundaries=extract.boundaries.iloc[:1])
    with pytest.raises(DemoError, match="at least two"):
        build_demo(one)
