"""Jurisdictions (city -> district -> police station) from OSM administrative boundaries."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import shapely

from gis import polygons as gpoly


class JurisdictionError(ValueError):
    """The boundaries cannot make a city with districts."""


def jurisdictions_from_boundaries(
    boundaries: gpd.GeoDataFrame,
    *,
    city_code: str,
    city_name: str,
    stations: bool,
) -> tuple[gpd.GeoDataFrame, shapely.Geometry]:
    """City, districts and (optionally) two police-station areas per district.

    The districts are the boundary areas of the highest ``admin_level`` that has at least two
    areas; the city is their union. With ``stations``, each district is cut in two by the
    line through its centroid perpendicular to its long axis (synthetic station areas).

    Parameters
    ----------
    boundaries
        osm_id, name, admin_level, geometry; any CRS (a metric one for the station split).
    city_code
        6-digit code of the city; districts get its first 4 digits + 2, stations + 2 more.
    city_name
        Name of the city row.
    stations
        Whether to add the synthetic station level.

    Returns
    -------
    (GeoDataFrame, shapely geometry)
        Rows code, name, level, parent_code, admin_code, geometry (MultiPolygon, the input
        CRS), city first, then each district followed by its stations; and the city polygon.

    Raises
    ------
    JurisdictionError
        When no admin_level has two or more areas, or there are more than 99 districts.
    """
    if len(city_code) != 6 or not city_code.isdigit():
        raise JurisdictionError(f"city code must be 6 digits, got {city_code!r}")
    counts = boundaries["admin_level"].value_counts()
    levels = sorted(int(lv) for lv, n in counts.items() if n >= 2)
    if not levels:
        raise JurisdictionError(
            "the OSM extract has no admin_level with at least two boundary=administrative "
            "areas; use an extract that contains the city's districts"
        )
    level = levels[-1]
    districts = boundaries[boundaries["admin_level"] == level].copy()
    districts["name"] = districts["name"].fillna(districts["osm_id"]).astype(str)
    districts = districts.sort_values(["name", "osm_id"]).reset_index(drop=True)
    if len(districts) > 99:
        raise JurisdictionError(
            f"{len(districts)} districts at admin_level {level}; at most 99 fit the two-digit "
            "district code"
        )
    prefix = city_code[:4]
    city = gpoly.as_multipolygons([shapely.union_all(districts.geometry.values)])[0]
    rows: list[dict[str, Any]] = [
        {"code": city_code, "name": city_name, "level": "city", "parent_code": None,
         "admin_code": city_code, "geometry": city}
    ]  # fmt: skip
    for i, d in enumerate(districts.itertuples(index=False), start=1):
        dcode = f"{prefix}{i:02d}"
        geom = gpoly.as_multipolygons([d.geometry])[0]
        rows.append(
            {"code": dcode, "name": d.name, "level": "district", "parent_code": city_code,
             "admin_code": dcode, "geometry": geom}
        )  # fmt: skip
        if not stations:
            continue
        c = geom.centroid
        for j, half in enumerate(gpoly.split_across_long_axis(geom), start=1):
            hc = half.centroid
            side = gpoly.compass_side(hc.x - c.x, hc.y - c.y)
            scode = f"{dcode}{j:02d}"
            rows.append(
                {"code": scode, "name": f"{d.name} Station {side}", "level": "station",
                 "parent_code": dcode, "admin_code": scode, "geometry": half}
            )  # fmt: skip
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=boundaries.crs), city
