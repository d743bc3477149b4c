"""The yearly assessment (考核) beside the map: coverage % per jurisdiction and DORI level of
the newest coverage run, for the viewer's jurisdictions only, and its CSV export.

The table is read when the page loads (action ``coverage``); the export is a route of its own
(``GET /export/assessment.csv``, action ``export``), one ``export`` audit entry per download.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import flask
from dash import Dash, Input, Output, html
from dash.development.base_component import Component
from sqlalchemy import Engine

from pages import auth
from store import audit, console_stats, coverage

TABLE_ID = "assessment-table"
EXPORT_ID = "assessment-export"
EXPORT_PATH = "/export/assessment.csv"
EXPORT_ENDPOINT = "export_assessment"
LEVELS = ("detect", "observe", "recognise", "identify")
LEVEL_LABELS = {"detect": "探测 D", "observe": "观察 O", "recognise": "识别 R",
                "identify": "辨认 I"}  # fmt: skip
CSV_COLUMNS = ("run_id", *console_stats.ASSESSMENT_COLUMNS)


def panel(*, may_export: bool) -> Component:
    """The assessment section of the tools dock (filled when the page loads)."""
    return html.Details(
        [
            html.Summary("年度考核 Yearly assessment"),
            html.Div(id=TABLE_ID, className="sl-assessment"),
            *([html.A("导出 CSV Export", id=EXPORT_ID, href=EXPORT_PATH, download="",
                      className="sl-export")] if may_export else []),
        ],
        id="assessment-section", className="sl-tool", open=False,
    )  # fmt: skip


def table(rows: list[dict[str, Any]], run_id: int | None) -> Component:
    """One row per jurisdiction: name, area, covered % (ground incl. building footprints)
    per DORI level; each cell carries the exact figure in ``data-pct``."""
    if run_id is None:
        return html.Div("尚无覆盖计算 No coverage run yet (sightline coverage run)")
    units: dict[str, dict[str, Any]] = {}
    for r in rows:
        u = units.setdefault(r["area_key"], {"name": r["area_name"], "area_m2": r["area_m2"],
                                             "pct": {}})  # fmt: skip
        u["pct"][r["level"]] = r["covered_pct"]
    head = html.Tr([html.Th("辖区 Jurisdiction"), html.Th("km²"),
                    *[html.Th(LEVEL_LABELS[lv] + " %") for lv in LEVELS]])  # fmt: skip
    body = [
        html.Tr([html.Td(u["name"] or code), html.Td(f"{u['area_m2'] / 1e6:.3f}"),
                 *[html.Td("" if u["pct"].get(lv) is None else f"{u['pct'][lv]:.1f}",
                           **{"data-level": lv, "data-pct": str(u["pct"].get(lv, ""))})
                   for lv in LEVELS]],
                **{"data-code": code})
        for code, u in units.items()
    ]  # fmt: skip
    return html.Div([html.Div(f"Run {run_id}", className="sl-hint"),
                     html.Table([html.Thead(head), html.Tbody(body)], className="sl-stats")])


def csv_text(rows: list[dict[str, Any]], run_id: int) -> str:
    """The assessment rows as CSV (UTF-8 with BOM is added by the route, for spreadsheets)."""
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({"run_id": run_id, **r})
    return out.getvalue()


def _export(engine: Engine) -> flask.Response:
    who = auth.principal()
    with engine.begin() as conn:
        run_id = coverage.latest_run(conn)
        if run_id is None:
            return flask.Response("no coverage run yet\n", status=404, mimetype="text/plain")
        rows = console_stats.assessment(conn, run_id, who.scope)
        audit.record(conn, who, "export", f"assessment:run:{run_id}",
                     details={"what": "assessment", "run_id": run_id, "rows": len(rows),
                              "scope": who.scope.describe()})  # fmt: skip
    body = "\ufeff" + csv_text(rows, run_id)
    resp = flask.Response(body.encode("utf-8"), mimetype="text/csv")
    resp.headers["Content-Disposition"] = (
        f'attachment; filename="sightline-assessment-run{run_id}.csv"')
    resp.headers["Cache-Control"] = "no-store"
    return resp


def install(app: Dash, engine: Engine) -> None:
    """Add the export route (classified ``export`` in ``pages.auth.ROUTES``)."""
    app.server.add_url_rule(EXPORT_PATH, EXPORT_ENDPOINT, lambda: _export(engine),
                            methods=["GET"])  # fmt: skip


def register(app: Dash, engine: Engine) -> None:
    """Fill the table when the page loads (action ``coverage``)."""

    @auth.callback(
        app, "coverage",
        Output(TABLE_ID, "children"),
        Input(TABLE_ID, "id"),
    )
    def _fill(_id: Any) -> Component:
        who = auth.principal()
        with engine.connect() as conn:
            run_id = coverage.latest_run(conn)
            rows = [] if run_id is None else console_stats.assessment(conn, run_id, who.scope)
        return table(rows, run_id)
