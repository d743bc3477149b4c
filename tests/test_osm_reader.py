import math
from pathlib import Path

import pytest
import shapely

from importers.osm import (
    DRIVABLE_CLASSES,
    OsmExtract,
    OsmImportError,
    parse_direction_deg,
    parse_height_m,
    parse_lanes,
    parse_maxspeed_kmh,
    parse_oneway,
    read_osm,
)

MONACO = Path(__file__).resolve().parents[1] / "data" / "monaco.osm.pbf"


@pytest.fixture(scope="module")
def monaco() -> OsmExtract:
    return read_osm(MONACO)


# --------------------------------------------------------------------------- tag parsing


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12.0), ("12 m", 12.0), ("12.5m", 12.5), ("12,5", 12.5), (" 7 metres", 7.0),
     ("40 ft", 12.192), ("40'", 12.192), (None, None), ("", None), ("tall", None),
     ("12 storeys", None), ("0", None), ("-3", None), ("1200", None), ("12;15", None)],
)
def test_parse_height(value: str | None, expected: float | None) -> None:
    result = parse_height_m(value)
    assert result == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("50", 50.0), ("50 km/h", 50.0), ("30 mph", 48.28032), ("30mph", 48.28032),
     ("50;30", 50.0), ("none", None), ("walk", None), ("FR:urban", None), (None, None),
     ("0", None)],
)
def test_parse_maxspeed(value: str | None, expected: float | None) -> None:
    result = parse_maxspeed_kmh(value)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_parse_lanes() -> None:
    assert [parse_lanes(v) for v in ("2", " 3 ", "2;3", "x", "0", None)] == [
        2, 3, None, None, None, None]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [({"oneway": "yes"}, (True, False)), ({"oneway": "1"}, (True, False)),
     ({"oneway": "true"}, (True, False)), ({"oneway": "-1"}, (True, True)),
     ({"oneway": "no"}, (False, False)), ({}, (False, False)),
     ({"highway": "motorway"}, (True, False)), ({"highway": "motorway", "oneway": "no"},
                                                (False, False)),
     ({"highway": "primary", "junction": "roundabout"}, (True, False))],
)
def test_parse_oneway(tags: dict[str, str], expected: tuple[bool, bool]) -> None:
    assert parse_oneway(tags) == expected


def test_parse_direction() -> None:
    assert parse_direction_deg("240") == 240.0
    assert parse_direction_deg("NE") == 45.0
    assert parse_direction_deg("wsw") == 247.5
    assert parse_direction_deg("370") == 10.0
    assert parse_direction_deg("-90") == 270.0
    assert math.isnan(parse_direction_deg(None))
    assert math.isnan(parse_direction_deg("0-90"))
    assert math.isnan(parse_direction_deg("nan"))


# --------------------------------------------------------------------------- Monaco


def test_monaco_counts(monaco: OsmExtract) -> None:
    assert len(monaco.buildings) == 1283
    assert len(monaco.cameras) == 14
    assert monaco.cameras["azimuth_deg"].notna().sum() == 3
    assert (monaco.boundaries["admin_level"] == 10).sum() == 6
    assert set(monaco.boundaries.loc[monaco.boundaries["admin_level"] == 10, "name"]) == {
        "Fontvieille", "La Condamine", "La Rousse", "Larvotto", "Monaco-Ville", "Monte-Carlo"}
    assert 300 <= len(monaco.roads) <= 1200
    assert set(monaco.roads["road_class"]) <= DRIVABLE_CLASSES
    assert len(monaco.landmarks) > 10


def test_monaco_known_cameras(monaco: OsmExtract) -> None:
    cams = monaco.cameras.set_index("osm_id")
    assert cams.loc["n6459866647", "azimuth_deg"] == 240.0
    assert cams.loc["n6459866647", "camera_type"] == "fixed"
    assert cams.loc["n6459866647", "mount"] == "pole"
    assert cams.loc["n6482706099", "azimuth_deg"] == 0.0
    assert cams.loc["n6471920429", "camera_type"] == "ptz"  # camera:type=panning
    assert cams.loc["n6471920429", "zone"] == "traffic"
    assert math.isnan(cams.loc["n6471920429", "azimuth_deg"])
    assert cams.loc["n6480060615", "camera_type"] == "dome"
    assert cams.loc["n6459866647", "tags"]["source"] == "survey 2019"


def test_monaco_frames_are_valid_wgs84(monaco: OsmExtract) -> None:
    for name, kinds in (("buildings", {"MultiPolygon"}), ("roads", {"LineString"}),
                        ("cameras", {"Point"}), ("boundaries", {"MultiPolygon"}),
                        ("landmarks", {"Point", "Polygon", "MultiPolygon"})):
        frame = getattr(monaco, name)
        assert frame.crs.to_epsg() == 4326, name
        assert set(frame.geom_type) <= kinds, name
        assert frame.is_valid.all() and not frame.is_empty.any(), name
    assert monaco.buildings["osm_id"].is_unique
    assert monaco.buildings["osm_id"].str.match(r"^[wr]\d+$").all()
    assert (monaco.buildings["height_m"] > 0).all()
    assert set(monaco.buildings["height_source"]) == {"height", "levels", "default"}
    minx, miny, maxx, maxy = monaco.buildings.total_bounds
    assert 7.3 < minx < maxx < 7.5 and 43.7 < miny < maxy < 43.8


# --------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.osm.pbf"
    with pytest.raises(OsmImportError, match="nowhere.osm.pbf.*does not exist"):
        read_osm(path)


def test_corrupt_pbf_names_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.osm.pbf"
    path.write_bytes(b"\x00\x00\x00\x0dthis is not a protobuf blob" * 20)
    with pytest.raises(OsmImportError, match="broken.osm.pbf"):
        read_osm(path)


def test_not_an_osm_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(OsmImportError, match="notes.txt"):
        read_osm(path)


def test_malformed_xml(tmp_path: Path) -> None:
    path = tmp_path / "bad.osm"
    path.write_text('<?xml version="1.0"?><osm version="0.6"><node id="1" lat="x" lon="2"/>'
                    "</osm>")
    with pytest.raises(OsmImportError, match="bad.osm"):
        read_osm(path)


def test_empty_osm_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.osm"
    path.write_text('<?xml version="1.0"?>\n<osm version="0.6" generator="test"></osm>\n')
    with pytest.raises(OsmImportError, match="empty.osm contains no OSM objects"):
        read_osm(path)


# --------------------------------------------------------------------------- hand-made file

TINY = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="hand">
  <node id="1" lat="0.0" lon="0.0"/>
  <node id="2" lat="0.0" lon="0.001"/>
  <node id="3" lat="0.001" lon="0.001"/>
  <node id="4" lat="0.001" lon="0.0"/>
  <node id="5" lat="0.002" lon="0.0"/>
  <node id="6" lat="0.002" lon="0.001"/>
  <node id="7" lat="0.003" lon="0.001"/>
  <node id="8" lat="0.003" lon="0.0"/>
  <node id="9" lat="0.01" lon="0.01"/>
  <node id="10" lat="0.01" lon="0.02"/>
  <node id="11" lat="0.02" lon="0.02"/>
  <node id="12" lat="0.02" lon="0.01"/>
  <node id="13" lat="0.005" lon="0.0"/>
  <node id="14" lat="0.005" lon="0.002"/>
  <node id="15" lat="0.006" lon="0.003"/>
  <node id="16" lat="0.0005" lon="0.0015">
    <tag k="man_made" v="surveillance"/><tag k="surveillance:type" v="camera"/>
    <tag k="camera:type" v="panning"/><tag k="camera:mount" v="pole"/>
    <tag k="camera:direction" v="NE"/><tag k="height" v="6 m"/>
    <tag k="surveillance:zone" v="traffic"/>
  </node>
  <node id="17" lat="0.0006" lon="0.0016">
    <tag k="man_made" v="surveillance"/><tag k="surveillance:type" v="ALPR"/>
  </node>
  <node id="18" lat="0.0007" lon="0.0017">
    <tag k="man_made" v="surveillance"/>
  </node>
  <node id="19" lat="0.004" lon="0.004">
    <tag k="amenity" v="school"/><tag k="name" v="École du Test"/>
  </node>
  <way id="100"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>
    <tag k="building" v="yes"/><tag k="height" v="12.5 m"/><tag k="name" v="Tower"/></way>
  <way id="101"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/><nd ref="5"/>
    <tag k="building" v="apartments"/><tag k="building:levels" v="4"/></way>
  <way id="102"><nd ref="9"/><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="9"/>
    <tag k="building" v="no"/></way>
  <way id="103"><nd ref="13"/><nd ref="14"/><nd ref="15"/>
    <tag k="highway" v="residential"/><tag k="oneway" v="-1"/><tag k="maxspeed" v="30 mph"/>
    <tag k="lanes" v="2"/><tag k="name" v="Rue Test"/></way>
  <way id="104"><nd ref="14"/><nd ref="11"/><tag k="highway" v="motorway"/></way>
  <way id="105"><nd ref="13"/><nd ref="8"/><tag k="highway" v="footway"/></way>
  <way id="106"><nd ref="9"/><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="9"/>
    <tag k="building" v="garage"/><tag k="height" v="junk"/></way>
  <way id="107"><nd ref="9"/><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="9"/></way>
  <relation id="200"><member type="way" ref="107" role="outer"/>
    <tag k="type" v="boundary"/><tag k="boundary" v="administrative"/>
    <tag k="admin_level" v="8"/><tag k="name" v="Testville"/></relation>
</osm>
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> OsmExtract:
    path = tmp_path_factory.mktemp("osm") / "tiny.osm"
    path.write_text(TINY, encoding="utf-8")
    return read_osm(path)


def test_tiny_buildings(tiny: OsmExtract) -> None:
    b = tiny.buildings.set_index("osm_id")
    assert sorted(b.index) == ["w100", "w101", "w106"]  # building=no left out
    assert b.loc["w100", "height_m"] == 12.5 and b.loc["w100", "height_source"] == "height"
    assert b.loc["w100", "name"] == "Tower"
    assert b.loc["w101", "height_m"] == 12.0 and b.loc["w101", "height_source"] == "levels"
    assert b.loc["w101", "name"] is None
    assert b.loc["w106", "height_m"] == 10.0 and b.loc["w106", "height_source"] == "default"
    assert b.loc["w100", "geometry"].equals(shapely.MultiPolygon([shapely.box(0, 0, .001, .001)]))


def test_tiny_roads(tiny: OsmExtract) -> None:
    r = tiny.roads.set_index("osm_id")
    assert sorted(r.index) == ["w103", "w104"]  # the footway is not drivable
    res = r.loc["w103"]
    assert res["road_class"] == "residential" and res["name"] == "Rue Test"
    assert bool(res["oneway"]) and res["lanes"] == 2
    assert res["maxspeed_kmh"] == pytest.approx(48.28032)
    # oneway=-1: geometry reversed so that it runs in the direction of travel (15 -> 13).
    assert list(res["geometry"].coords) == [(0.003, 0.006), (0.002, 0.005), (0.0, 0.005)]
    mw = r.loc["w104"]
    assert bool(mw["oneway"]) and mw["name"] is None
    assert math.isnan(mw["maxspeed_kmh"])


def test_tiny_cameras(tiny: OsmExtract) -> None:
    c = tiny.cameras.set_index("osm_id")
    assert sorted(c.index) == ["n16", "n18"]  # the ALPR node is not a camera
    cam = c.loc["n16"]
    assert cam["camera_type"] == "ptz" and cam["mount"] == "pole" and cam["zone"] == "traffic"
    assert cam["azimuth_deg"] == 45.0 and cam["mount_height_m"] == 6.0
    assert cam["geometry"].equals(shapely.Point(0.0015, 0.0005))
    bare = c.loc["n18"]
    assert bare["camera_type"] == "fixed" and bare["mount"] is None
    assert math.isnan(bare["azimuth_deg"]) and math.isnan(bare["mount_height_m"])


def test_tiny_boundaries_and_landmarks(tiny: OsmExtract) -> None:
    assert tiny.boundaries[["osm_id", "name", "admin_level"]].values.tolist() == [
        ["r200", "Testville", 8]]
    assert tiny.boundaries.geometry.iloc[0].area == pytest.approx(0.0001)
    assert tiny.landmarks[["osm_id", "name", "category"]].values.tolist() == [
        ["n19", "École du Test", "school"]]
    assert tiny.issues == []


def test_broken_building_ring_is_reported(tmp_path: Path) -> None:
    # A self-intersecting "bow-tie" footprint.
    path = tmp_path / "bowtie.osm"
    path.write_text(
        '<?xml version="1.0"?><osm version="0.6">'
        '<node id="1" lat="0" lon="0"/><node id="2" lat="0.001" lon="0.001"/>'
        '<node id="3" lat="0" lon="0.001"/><node id="4" lat="0.001" lon="0"/>'
        '<way id="5"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="1"/>'
        '<tag k="building" v="yes"/></way></osm>'
    )
    extract = read_osm(path)
    # libosmium does not assemble a self-intersecting ring; the skip must be reported, and
    # whatever is returned must be valid.
    assert extract.buildings.is_valid.all()
    assert extract.issues == [
        "1 feature(s) skipped: geometry could not be built (missing nodes at the extract's "
        "edge or broken rings)"]
