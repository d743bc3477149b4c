"""Dash app factory of the Sightline map console: wires the pages, holds no logic."""

from __future__ import annotations

from pathlib import Path

import dash
from sqlalchemy import Engine

from pages import audit as audit_page
from pages import auth
from pages import map as map_page
from pages.trajectory import TrajectoryService
from pages.what_if import WhatIfRunner
from settings import Settings

ASSETS_DIR = Path(__file__).resolve().parent / "assets"


def create_app(
    settings: Settings, engine: Engine, *, what_if_runner: WhatIfRunner | None = None,
    trajectory_service: TrajectoryService | None = None,
) -> dash.Dash:
    """Build the console app. Everything (JS, CSS, data) is served by the app itself, and
    nothing but the login form and static files without a logged-in session.

    Parameters
    ----------
    settings
        Sightline settings (basemap, sessions, cookies, stream signing; host and port are for
        the caller's ``app.run``).
    engine
        The store: users and sessions, the map frames of each user's scope, live camera health,
        the planner layers of the newest coverage run and the cameras that see a clicked point.
    what_if_runner
        Computes what-if coverage runs started from the map
        (``analysis.coverage_run.run_coverage``, which pages may not import; None: the console
        offers none).
    trajectory_service
        Answers trajectory queries from the map (``analysis.trajectory``, likewise injected;
        None: no trajectory tool).

    Returns
    -------
    dash.Dash
        The app; ``app.server`` is its Flask server, with ``/login``, ``/logout`` and
        ``/audit`` (admins) besides the console.
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
        # The page differs per user (panels by role): callbacks name components some pages lack.
        suppress_callback_exceptions=True,
    )
    app.layout = map_page.page_for_user(settings, engine,
                                        trajectory_tool=trajectory_service is not None)
    map_page.register(app, settings, engine, what_if_runner=what_if_runner,
                      trajectory_service=trajectory_service)
    auth.install(app, settings, engine)
    audit_page.install(app.server, engine)
    return app
