/*
 * Sightline map functions. dash-leaflet resolves a prop {"variable": "sightline.<name>"} to
 * window.sightline.<name> and calls it with Leaflet's arguments plus a last `context` argument
 * (the GeoJSON component's props, incl. `hideout` and `pane`, and `map`). Styling tables come
 * from Python through `hideout`, so this file holds no colours of its own.
 * No images anywhere: markers are SVG circles or CSS div icons.
 */
(function () {
    "use strict";

    function hideoutOf(context) {
        return (context && context.hideout) || {};
    }

    function paneOf(context, fallback) {
        return (context && context.pane) || fallback;
    }

    function classes(hideout, props) {
        var out = [hideout.className || ""];
        if (props.status) { out.push("sl-status-" + props.status); }
        if (props.kind) { out.push("sl-kind-" + props.kind); }
        var flags = hideout.flagClasses || {};
        Object.keys(flags).forEach(function (key) {
            if (props[key]) { out.push(flags[key]); }
        });
        return out.join(" ").trim();
    }

    function colorOf(hideout, props) {
        var colors = hideout.colors || {};
        return colors[props[hideout.colorBy]] || hideout.defaultColor || "#888888";
    }

    /* Live values (e.g. camera status from the health poll, pages/map.py) override the
       feature's own: hideout.live maps props[hideout.liveKey] -> value of hideout.colorBy. */
    function liveProps(hideout, props) {
        var live = hideout.live && hideout.live[props[hideout.liveKey]];
        if (live === undefined) { return props; }
        var out = Object.assign({}, props);
        out[hideout.colorBy] = live;
        return out;
    }

    function escapeHtml(text) {
        return String(text).replace(/[&<>"']/g, function (c) {
            return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
        });
    }

    /* Camera search and filters (pages/map.py puts them in hideout.filter):
       {q: text, kinds: [...], statuses: [...], jurisdictions: [ids]} where jurisdictions holds
       the chosen areas and all areas below them. Empty / missing parts match everything. */
    function cameraMatches(props, filter) {
        if (!filter) { return true; }
        var q = (filter.q || "").trim().toLowerCase();
        if (q) {
            var hay = [props.device_id, props.name, props.id].map(function (v) {
                return v === null || v === undefined ? "" : String(v).toLowerCase();
            });
            if (!hay.some(function (v) { return v.indexOf(q) !== -1; })) { return false; }
        }
        if (filter.kinds && filter.kinds.length && filter.kinds.indexOf(props.kind) === -1) {
            return false;
        }
        if (filter.statuses && filter.statuses.length &&
                filter.statuses.indexOf(props.status) === -1) {
            return false;
        }
        if (filter.jurisdictions && filter.jurisdictions.length &&
                filter.jurisdictions.indexOf(props.jurisdiction_id) === -1) {
            return false;
        }
        return true;
    }

    function filterActive(filter) {
        return Boolean(filter && ((filter.q || "").trim() || (filter.kinds || []).length ||
            (filter.statuses || []).length || (filter.jurisdictions || []).length));
    }

    /* The Leaflet map of a container, for the browser console and the browser tests:
       document.getElementById("map").sightlineMap (e.g. latLngToContainerPoint). */
    if (window.L && window.L.Map) {
        window.L.Map.addInitHook(function () { this.getContainer().sightlineMap = this; });
    }

    window.sightline = Object.assign({}, window.sightline, {
        cameraMatches: cameraMatches,
        filterActive: filterActive,

        /* filter(feature, context): camera search and filters on hideout.filter, with live
           statuses applied. Cluster bubbles pass (the page switches clustering off while a
           filter is active, since a bubble's count cannot be filtered). */
        cameraFilter: function (feature, context) {
            var h = hideoutOf(context);
            var props = feature.properties || {};
            if (props.cluster) { return true; }
            return cameraMatches(liveProps(h, props), h.filter);
        },

        /* style(feature, context): hideout.base with the colour of the highest of
           hideout.steps ([[lower bound, colour], ...], ascending) that props[property] reaches. */
        styleByStep: function (feature, context) {
            var h = hideoutOf(context);
            var value = Number((feature.properties || {})[h.property]);
            var colour = null;
            (h.steps || []).forEach(function (step) {
                if (colour === null || value >= step[0]) { colour = step[1]; }
            });
            return Object.assign({}, h.base || {}, {color: colour || "#888888"});
        },

        /* style(feature, context): hideout.base overlaid with hideout.styles[props[property]]. */
        styleByProperty: function (feature, context) {
            var h = hideoutOf(context);
            var props = feature.properties || {};
            var specific = (h.styles || {})[props[h.property]] || {};
            return Object.assign({}, h.base || {}, specific);
        },

        /* pointToLayer: SVG circle, fill by hideout.colorBy, outline by hideout.styleBy. */
        circleMarker: function (feature, latlng, context) {
            var h = hideoutOf(context);
            var props = liveProps(h, feature.properties || {});
            var options = Object.assign({}, h.base || {}, (h.styles || {})[props[h.styleBy]] || {});
            options.fillColor = colorOf(h, props);
            options.className = classes(h, props);
            options.pane = paneOf(context, "overlayPane");
            // A click on a camera opens its video; it must not also ask the map which cameras
            // see the camera's own position (pages/first_response.py listens to map clicks).
            options.bubblingMouseEvents = false;
            return L.circleMarker(latlng, options);
        },

        /* pointToLayer: CSS div icon (square/diamond by className), fill by hideout.colorBy. */
        divMarker: function (feature, latlng, context) {
            var h = hideoutOf(context);
            var props = liveProps(h, feature.properties || {});
            var size = h.size || 12;
            var icon = L.divIcon({
                className: classes(h, props),
                html: "<span style=\"background:" + colorOf(h, props) + "\"></span>",
                iconSize: [size, size],
                iconAnchor: [size / 2, size / 2]
            });
            return L.marker(latlng, {icon: icon, pane: paneOf(context, "markerPane"), keyboard: false});
        },

        /* clusterToLayer(feature, latlng, index, context): Leaflet.markercluster-like bubble.
           The exact count is in data-count (the visible label is abbreviated, e.g. "1.2k"). */
        clusterMarker: function (feature, latlng, index, context) {
            var h = hideoutOf(context);
            var props = feature.properties;
            var count = props.point_count;
            var size = count < 10 ? "small" : (count < 100 ? "medium" : "large");
            var icon = L.divIcon({
                html: "<div><span data-count=\"" + count + "\">" +
                    escapeHtml(props.point_count_abbreviated) + "</span></div>",
                className: "marker-cluster marker-cluster-" + size + " " + (h.clusterClassName || ""),
                iconSize: L.point(40, 40)
            });
            return L.marker(latlng, {icon: icon, pane: paneOf(context, "markerPane")});
        }
    });
}());
