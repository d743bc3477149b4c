/*
 * Trajectory drawing and playback (pages/trajectory.py, layers/trajectory.py): hop style
 * (flagged red, the current hop highlighted), numbered sighting markers, and the cursor's
 * position at a time, interpolated along the routed path of the hop under way.
 */
(function () {
    "use strict";

    function trajHopStyle(feature, context) {
        var h = (context && context.hideout) || {};
        var p = feature.properties || {};
        var color = p.flagged ? (h.flagColor || "#d7301f") : (h.color || "#2166ac");
        if (p.hop === h.current) {
            return {color: h.currentColor || "#ffb000", weight: 8, opacity: 0.95,
                    className: "sl-traj-hop sl-traj-current"};
        }
        return {color: color, weight: p.flagged ? 6 : 4, opacity: 0.9,
                dashArray: p.flagged ? "8 4" : null,
                className: "sl-traj-hop" + (p.flagged ? " sl-traj-flagged" : "")};
    }

    function trajSighting(feature, latlng, context) {
        var p = feature.properties || {};
        var icon = window.L.divIcon({
            className: "sl-traj-num sl-traj-" + (p.device_kind || "device"),
            html: String(p.n), iconSize: [20, 20], iconAnchor: [10, 10],
        });
        return window.L.marker(latlng, {icon: icon, riseOnHover: true,
                                        pane: (context && context.pane) || "markerPane"});
    }

    /* Each hop and sighting: its tooltip, and a click that stays the trajectory's (the map
       under it must not also take it as a click on the map: the first-response point). */
    function trajFeature(feature, layer) {
        var p = feature.properties || {};
        if (p.tooltip) { layer.bindTooltip(p.tooltip, {sticky: p.kind === "hop"}); }
        layer.on("click", function (e) { window.L.DomEvent.stopPropagation(e); });
    }

    /* Where the object is at time t (seconds since the epoch): [lat, lon], and the hop. */
    function at(data, t) {
        var hops = (data && data.hops) || [];
        if (!hops.length) { return null; }
        var k = 0;
        while (k < hops.length - 1 && t > hops[k].t1) { k += 1; }
        var h = hops[k];
        var span = h.t1 - h.t0;
        var frac = span > 0 ? Math.min(1, Math.max(0, (t - h.t0) / span)) : 1;
        if (t < h.t0) { frac = 0; }
        var i = 0;
        while (i < h.f.length - 2 && h.f[i + 1] < frac) { i += 1; }
        var f0 = h.f[i], f1 = h.f[i + 1];
        var u = f1 > f0 ? (frac - f0) / (f1 - f0) : 0;
        u = Math.min(1, Math.max(0, u));
        var a = h.path[i], b = h.path[i + 1];
        return {latlng: [a[1] + (b[1] - a[1]) * u, a[0] + (b[0] - a[0]) * u], hop: k};
    }

    /* A click on a row of the hops table moves the slider into that hop. */
    document.addEventListener("click", function (e) {
        var row = e.target && e.target.closest && e.target.closest("#traj-table tr.sl-traj-row");
        var dc = window.dash_clientside;
        if (!row || !dc || !dc.set_props) { return; }
        dc.set_props("traj-slider", {value: Number(row.getAttribute("data-t"))});
    });

    window.sightline = Object.assign({}, window.sightline, {
        trajHopStyle: trajHopStyle, trajSighting: trajSighting, trajFeature: trajFeature,
        trajAt: at,
    });
}());
