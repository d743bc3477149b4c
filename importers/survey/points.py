"""Read a plain list of points (x/y or lon/lat columns) from any survey file, for `crs convert`."""

from __future__ import annotations

from pathlib import Path

from importers.survey.columns import FIELDS, normalise_header
from importers.survey.readers import open_survey
from importers.survey.text import normalise_number_text


def read_points(path: Path, *, encoding: str | None = None) -> tuple[list[float], list[float]]:
    """x and y of every row of a CSV/XLSX with coordinate columns, in file order.

    Raises
    ------
    ValueError
        No coordinate columns, or a cell that is not a number (naming its row).
    """
    info, batches = open_survey(path, encoding=encoding)
    aliases = {
        axis: {
            normalise_header(a)
            for a in next(f for f in FIELDS["cameras"] if f.name == axis).aliases
        }
        for axis in ("x", "y")
    }
    cols = {
        axis: next((h for h in info.columns if normalise_header(h) in names), None)
        for axis, names in aliases.items()
    }
    if cols["x"] is None or cols["y"] is None:
        raise ValueError(f"{path.name}: needs coordinate columns (lon/lat, 经度/纬度 or x/y); "
                         f"has {', '.join(info.columns)}")  # fmt: skip
    xs: list[float] = []
    ys: list[float] = []
    for batch in batches:
        for row, x, y in zip(batch.row_numbers, batch.rows[cols["x"]], batch.rows[cols["y"]],
                             strict=True):  # fmt: skip
            try:
                xs.append(float(normalise_number_text(str(x))))
                ys.append(float(normalise_number_text(str(y))))
            except ValueError as exc:
                raise ValueError(f"{path.name}: row {row}: {x!r}, {y!r} is not a coordinate "
                                 "pair") from exc  # fmt: skip
    return xs, ys
