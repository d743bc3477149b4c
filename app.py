"""Dash app factory of the Sightline map console: wires the pages, holds no logic."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dash
from geopandas import GeoDataFrame
from sqlalchemy import Engine

from pages import map as map_page
from settings import Settings

ASSETS_DIR = Path(__file__).resolve().parent / "assets"


def create_app(
    settings: Settings, frames: Mapping[str, GeoDataFrame], engine: Engine | None = None
) -> dash.Dash:
    """Build the console app. Everything (JS, CSS, data) is served by the app itself.

    Parameters
    ----------
    settings
        Sightline settings (basemap; host and port are for the caller's ``app.run``).
    frames
        Map frames keyed by ``pages.map.FRAME_KEYS`` (EPSG:4326), e.g.
        ``store.queries.map_frames(engine)``.
    engine
        The store, for live camera health (colours, legend, fault list refresh while the page
        is open), the planner layers of the newest coverage run and the cameras that see a
        clicked point. None: a static page.

    Returns
    -------
    dash.Dash
        The app; ``app.server`` is its Flask server.
    """
    app = dash.Dash(
        __name__,
        title="Sightline 视界",
        update_title="",  # keep the tab title while callbacks run
        serve_locally=True,
        assets_folder=str(ASSETS_DIR),
        # Offline: never fall back to a CDN for anything.
        external_scripts=[],
        external_stylesheets=[],
    )
    cursor = map_page.health_cursor(engine) if engine is not None else None
    run = map_page.coverage_run(engine) if engine is not None else None
    app.layout = map_page.layout(settings, frames, health_cursor=cursor, planner_run=run)
    map_page.register(app, settings, engine)
    return app
