"""Survey column mapping: Chinese and English headers -> Sightline fields, per inventory kind.

A header matches a field when, after normalisation (case, full-width forms, spaces, `_`, `-`,
and a trailing unit in brackets such as ``方位角(度)`` or ``height (m)``), it equals one of the
field's aliases. A mapping file (JSON or TOML: ``{"header in file": "field"}``) adds or overrides
matches; a mapping to ``""`` ignores a column on purpose. Every other column is kept in
``attributes`` under its original header.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class MappingError(ValueError):
    """Headers that cannot be mapped as given (ambiguous, unknown field, missing required)."""


@dataclass(frozen=True)
class Field:
    """One Sightline field of an inventory kind and the headers that mean it."""

    name: str
    aliases: tuple[str, ...]
    required: bool = False


def _f(name: str, *aliases: str, required: bool = False) -> Field:
    return Field(name, (name, *aliases), required)


_X = _f("x", "经度", "lon", "lng", "long", "longitude", "横坐标", "东坐标", "easting", "x坐标")
_Y = _f("y", "纬度", "lat", "latitude", "纵坐标", "北坐标", "northing", "y坐标")
_WKT = _f("wkt", "geometry", "geom", "几何", "范围", "边界", "shape")
_JURISDICTION = _f(
    "jurisdiction", "所属辖区", "辖区", "派出所", "所属派出所", "管辖单位", "所属分局", "责任单位"
)
_STATUS = _f("status", "状态", "在线状态", "设备状态", "运行状态")
_OWNER = _f("owner", "建设单位", "权属单位", "所属单位", "业主单位", "产权单位", "管理单位")
_NAME = _f("name", "设备名称", "名称", "点位名称", "摄像机名称", "监控点名称", required=True)

FIELDS: dict[str, tuple[Field, ...]] = {
    "cameras": (
        _f("device_id", "设备编码", "国标编码", "设备国标编码", "国标id", "国标编号", "设备编号",
           "编码", "deviceid", "gbid", "gb28181", "gb28181id", required=True),
        _NAME, _X, _Y, _JURISDICTION, _OWNER, _STATUS,
        _f("azimuth_deg", "方位角", "朝向", "方向角", "水平角", "azimuth", "bearing", "direction"),
        _f("tilt_deg", "俯仰角", "俯角", "倾角", "tilt", "pitch"),
        _f("mount_height_m", "安装高度", "高度", "杆高", "height", "mountheight"),
        _f("focal_length_mm", "焦距", "focal", "focallength"),
        _f("resolution", "分辨率", "像素", "resolution"),
        _f("hfov_deg", "水平视场角", "视场角", "hfov", "fov"),
        _f("sensor", "靶面", "靶面尺寸", "传感器尺寸", "传感器", "sensorsize"),
        _f("sensor_width_mm", "靶面宽度", "sensorwidth"),
        _f("sensor_height_mm", "靶面高度", "sensorheight"),
        _f("lens_model", "镜头型号", "设备型号", "型号", "model", "lens"),
        _f("is_social_resource", "是否社会资源", "社会资源", "social", "socialresource"),
        _f("access_level", "接入级别", "访问级别", "共享级别", "accesslevel"),
        _f("kind", "点位类型", "点位类别", "监控类别", "category"),
        _f("camera_type", "摄像机类型", "设备类型", "类型", "type", "cameratype"),
        _f("mount", "安装方式", "mount"),
        _f("any_direction", "全向", "任意方向", "anydirection"),
        _f("ptz_presets", "预置位", "presets", "ptzpresets"),
        _f("address", "地址", "安装地址", "安装位置", "位置"),
        _f("stream_ref", "取流地址", "视频流地址", "流地址", "stream", "streamurl", "rtsp"),
    ),
    "checkpoints": (
        _f("device_id", "卡口编码", "设备编码", "国标编码", "卡口编号", "编码", "deviceid",
           "gbid", required=True),
        _f("name", "卡口名称", "名称", "设备名称", required=True),
        _X, _Y, _JURISDICTION, _STATUS,
        _f("road_name", "道路名称", "所在道路", "路段", "路名", "road", "roadname"),
        _f("directions", "方向", "卡口方向", "行驶方向", "监控方向", "direction", "directions"),
        _f("lanes", "车道数", "车道", "lanes", "lanecount"),
        _f("is_entry", "是否入城卡口", "入城卡口", "是否进城", "边界卡口", "entry", "isentry"),
    ),
    "alarm_points": (
        _f("code", "报警点编码", "报警点编号", "编码", "编号", "code", required=True),
        _f("name", "报警点名称", "名称", required=True),
        _X, _Y, _JURISDICTION, _STATUS,
        _f("kind", "报警类型", "类型", "类别", "type", "kind"),
    ),
    "key_areas": (
        _f("name", "区域名称", "重点区域名称", "名称", required=True),
        _f("area_class", "区域类别", "区域类型", "类别", "类型", "class", "type", "areaclass",
           required=True),
        _f("required_dori", "要求等级", "dori等级", "要求dori", "监控等级", "dori",
           "requireddori", required=True),
        _WKT,
    ),
    "jurisdictions": (
        _f("code", "辖区编码", "单位编码", "编码", "code", required=True),
        _f("name", "辖区名称", "单位名称", "名称", required=True),
        _f("level", "级别", "层级", "辖区级别", "level", required=True),
        _f("parent_code", "上级编码", "上级辖区编码", "上级单位编码", "parent", "parentcode"),
        _f("admin_code", "行政区划代码", "区划代码", "行政区划", "admincode"),
        _WKT,
    ),
}  # fmt: skip

KINDS = tuple(FIELDS)
POINT_KINDS = ("cameras", "checkpoints", "alarm_points")

_UNIT = re.compile(r"[\(\[（【][^)\]）】]*[\)\]）】]$")
_SEP = re.compile(r"[\s_\-./:：]+")


def normalise_header(header: str) -> str:
    """Header text reduced for matching: NFKC, lower case, no unit suffix, no separators."""
    h = unicodedata.normalize("NFKC", str(header)).strip().lower()
    h = _UNIT.sub("", h).strip()
    return _SEP.sub("", h)


@dataclass(frozen=True)
class ColumnMap:
    """How a file's headers map onto a kind's fields."""

    kind: str
    fields: dict[str, str]  # field name -> header in the file
    attributes: list[str] = field(default_factory=list)  # headers kept as attributes
    ignored: list[str] = field(default_factory=list)  # headers mapped to "" on purpose

    def header(self, name: str) -> str:
        """The file's header for a field (for messages)."""
        return self.fields.get(name, name)


def load_mapping_file(path: Path) -> dict[str, str]:
    """Read a mapping file (``.json`` or ``.toml``) of ``{"header": "field"}``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise MappingError(f"{path}: cannot read the mapping file: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise MappingError(f'{path}: a mapping file is an object of "header": "field" strings')
    return data


def map_columns(
    kind: str,
    headers: Sequence[str],
    *,
    mapping: Mapping[str, str] | None = None,
    geometry_column: bool = False,
    source: str = "",
) -> ColumnMap:
    """Match ``headers`` to the fields of ``kind``.

    Parameters
    ----------
    kind
        One of :data:`KINDS`.
    headers
        Column headers exactly as in the file.
    mapping
        Extra header -> field matches (they win over the built-in aliases); ``""`` ignores.
    geometry_column
        True when the rows carry a geometry (GeoJSON, Shapefile ...): coordinates are then
        not required as columns.
    source
        File name for messages.

    Raises
    ------
    MappingError
        Unknown kind or field, two headers for one field, or a required field missing.
    """
    if kind not in FIELDS:
        raise MappingError(f"unknown inventory kind {kind!r}; one of {', '.join(KINDS)}")
    specs = {f.name: f for f in FIELDS[kind]}
    alias_to_field: dict[str, str] = {}
    for f in FIELDS[kind]:
        for a in f.aliases:
            alias_to_field.setdefault(normalise_header(a), f.name)
    # One mapping file may serve several kinds of file: only entries for headers present here
    # count (and must name fields of this kind).
    explicit = {h: f for h, f in (mapping or {}).items() if h in set(headers)}
    bad = sorted({v for v in explicit.values() if v and v not in specs})
    if bad:
        raise MappingError(
            f"{source}: mapping names unknown field(s) {', '.join(bad)} for {kind}; "
            f"fields are {', '.join(specs)}"
        )
    fields: dict[str, str] = {}
    attributes: list[str] = []
    ignored: list[str] = []
    for h in headers:
        if h in explicit:
            target = explicit[h]
            if not target:
                ignored.append(h)
                continue
        else:
            target = alias_to_field.get(normalise_header(h), "")
            if not target:
                attributes.append(h)
                continue
        if target in fields:
            raise MappingError(
                f"{source}: columns {fields[target]!r} and {h!r} both mean {target}; "
                'map one of them to another field or to "" in a mapping file'
            )
        fields[target] = h
    missing = [n for n, f in specs.items() if f.required and n not in fields]
    if kind in POINT_KINDS and not geometry_column:
        missing += [n for n in ("x", "y") if n not in fields]
    if missing:
        wanted = "; ".join(
            f"{n} (e.g. {', '.join(repr(a) for a in specs[n].aliases[1:4])})" for n in missing
        )
        raise MappingError(
            f"{source}: no column for {wanted}; headers are {', '.join(map(repr, headers))}. "
            "Rename the column or map it in a mapping file (--mapping)"
        )
    return ColumnMap(kind=kind, fields=fields, attributes=attributes, ignored=ignored)
