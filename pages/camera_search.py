"""Camera search box (device id, name) and filters (type, status, jurisdiction) on the map page.

All in the browser: a clientside callback writes the query into the camera layer's
``hideout.filter`` and ``assets/sightline.js`` (``cameraFilter``) hides the cameras that do not
match — no server round-trip per keystroke, no GeoJSON resent. Clustering is switched off while
a filter is active (a cluster bubble's count cannot be filtered), back on when it is cleared.
"""

from __future__ import annotations

from dash import Dash, Input, Output, State, dcc, html
from dash.development.base_component import Component
from geopandas import GeoDataFrame

from layers import cameras
from pages import auth

SEARCH_ID = "camera-search"
KINDS_ID = "camera-kinds"
STATUSES_ID = "camera-statuses"
JURISDICTIONS_ID = "camera-jurisdictions"
TREE_ID = "jurisdiction-tree"
SHOWN_ID = "camera-shown"

KIND_LABELS = {"road": "road", "community": "community", "social": "social resource",
               "high_point": "high point"}  # fmt: skip


def jurisdiction_tree(jur: GeoDataFrame) -> dict[str, list[int]]:
    """Each jurisdiction id (as a string) → itself and every jurisdiction below it."""
    if not len(jur):
        return {}
    parent = {int(i): (None if p is None or p != p else int(p))
              for i, p in zip(jur["id"], jur["parent_id"], strict=True)}  # fmt: skip
    out: dict[str, list[int]] = {str(i): [i] for i in parent}
    for i in parent:
        seen, p = {i}, parent[i]
        # A cycle in bad data must not hang the page; a parent outside the frame (a district
        # user's page has no city row) ends the walk.
        while p is not None and p not in seen and p in parent:
            out[str(p)].append(i)
            seen.add(p)
            p = parent.get(p)
    return out


def controls(cams: GeoDataFrame, jur: GeoDataFrame) -> list[Component]:
    """The search box and filters (for the header), and the jurisdiction tree they use."""
    options = [{"label": f"{r.name} ({r.level})", "value": int(r.id)}
               for r in jur.sort_values(["level", "name"]).itertuples()
               if r.level != "city"] if len(jur) else []  # fmt: skip
    return [
        html.Div(
            [
                dcc.Input(id=SEARCH_ID, type="search", debounce=False, className="sl-search",
                          placeholder="Search camera id or name"),
                dcc.Dropdown(id=KINDS_ID, multi=True, placeholder="type",
                             options=[{"label": v, "value": k} for k, v in KIND_LABELS.items()],
                             className="sl-filter"),
                dcc.Dropdown(id=STATUSES_ID, multi=True, placeholder="status",
                             options=[{"label": v, "value": k}
                                      for k, v in cameras.STATUS_LABELS.items()],
                             className="sl-filter"),
                dcc.Dropdown(id=JURISDICTIONS_ID, multi=True, placeholder="jurisdiction",
                             options=options, className="sl-filter sl-filter-wide"),
                html.Span(f"{len(cams)} shown", id=SHOWN_ID, className="sl-count"),
            ],
            className="sl-search-bar",
        ),
        dcc.Store(id=TREE_ID, data=jurisdiction_tree(jur)),
    ]  # fmt: skip


def register(app: Dash) -> None:
    """Attach the clientside filter callback (any user who sees the map)."""
    auth.clientside_callback(
        app, "view",
        """function (q, kinds, statuses, jurs, hideout, data, tree) {
            var ids = [];
            (jurs || []).forEach(function (j) { ids = ids.concat(tree[String(j)] || [j]); });
            var filter = {q: q || "", kinds: kinds || [], statuses: statuses || [],
                          jurisdictions: ids};
            var h = Object.assign({}, hideout, {filter: filter});
            var active = window.sightline.filterActive(filter);
            var feats = (data && data.features) || [];
            var n = 0;
            feats.forEach(function (f) {
                var p = f.properties || {};
                var live = h.live && h.live[p[h.liveKey]];
                if (live !== undefined) { p = Object.assign({}, p); p[h.colorBy] = live; }
                if (window.sightline.cameraMatches(p, filter)) { n += 1; }
            });
            var shown = active ? (n + " of " + feats.length + " shown") : (feats.length + " shown");
            return [h, !active, shown];
        }""",
        Output(cameras.LAYER_ID, "hideout", allow_duplicate=True),
        Output(cameras.LAYER_ID, "cluster"),
        Output(SHOWN_ID, "children"),
        Input(SEARCH_ID, "value"),
        Input(KINDS_ID, "value"),
        Input(STATUSES_ID, "value"),
        Input(JURISDICTIONS_ID, "value"),
        State(cameras.LAYER_ID, "hideout"),
        State(cameras.LAYER_ID, "data"),
        State(TREE_ID, "data"),
        prevent_initial_call=True,
    )
