"""Survey files (cameras, checkpoints, alarm points, key areas): read, validate, import.

Reading: :func:`open_survey` streams CSV, XLSX, GeoJSON, Shapefile, GeoPackage and KML/KMZ
(also in zip archives and folders) as batches of text cells with user-visible row numbers.
"""

from importers.survey.readers import open_survey
from importers.survey.source import (
    FORMATS,
    GEOMETRY_COLUMN,
    ReadIssue,
    RowBatch,
    SourceInfo,
    SurveyBatches,
    SurveyReadError,
)
from importers.survey.text import normalise_number_text

__all__ = [
    "FORMATS",
    "GEOMETRY_COLUMN",
    "ReadIssue",
    "RowBatch",
    "SourceInfo",
    "SurveyBatches",
    "SurveyReadError",
    "normalise_number_text",
    "open_survey",
]
