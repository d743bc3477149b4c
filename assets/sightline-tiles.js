/*
 * Tiled camera layer for large cities (pages/device_tiles.py). A Leaflet GridLayer of 256 px
 * canvases: each tile is fetched as JSON from the console (the logged-in user's scope) and is
 * either the cameras one by one (circle: fill by status, outline by kind, as layers/cameras.py)
 * or counts per cell (navy bubble, a fault-red ring for the share not online; a click zooms in).
 * Live status arrives as deltas {device_id: status} (applyChanges): only the loaded tiles that
 * hold a changed camera are redrawn. A click on a camera writes {properties: {device_id, name}}
 * to the Dash store cfg.clickId (the server opens its video) and does not reach the map's own
 * click (which asks which cameras see a point). No library beyond Leaflet.
 */
(function () {
    "use strict";
    if (!window.L) { return; }

    var TILE = 256;
    var HIT_SLACK_PX = 3;

    function abbreviate(n) {
        if (n >= 1000000) { return (n / 1000000).toFixed(n >= 10000000 ? 0 : 1) + "M"; }
        if (n >= 1000) { return (n / 1000).toFixed(n >= 10000 ? 0 : 1) + "k"; }
        return String(n);
    }

    function escapeHtml(text) {
        return String(text).replace(/[&<>"']/g, function (c) {
            return {"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c];
        });
    }

    function bubbleRadius(n) {
        return Math.min(22, 11 + 2.2 * Math.log10(Math.max(n, 1)) * 1.6);
    }

    var CameraTiles = L.GridLayer.extend({
        initialize: function (cfg) {
            L.GridLayer.prototype.initialize.call(this, {
                pane: cfg.pane, tileSize: TILE, maxZoom: 24, keepBuffer: 1,
                updateWhenZooming: false
            });
            this.cfg = cfg;
            this.live = {};
            this.loaded = {};  // tile key -> {data, canvas}
            this.on("tileunload", function (e) {
                delete this.loaded[this._tileCoordsToKey(e.coords)];
            }, this);
        },

        createTile: function (coords, done) {
            var canvas = L.DomUtil.create("canvas", "sl-camera-tile");
            var dpr = window.devicePixelRatio || 1;
            canvas.width = TILE * dpr;
            canvas.height = TILE * dpr;
            canvas.style.width = TILE + "px";
            canvas.style.height = TILE + "px";
            var key = this._tileCoordsToKey(coords);
            var url = L.Util.template(this.cfg.url, {z: coords.z, x: coords.x, y: coords.y});
            var self = this;
            fetch(url, {credentials: "same-origin"}).then(function (r) {
                if (!r.ok) { throw new Error("tile " + key + ": HTTP " + r.status); }
                return r.json();
            }).then(function (data) {
                self.loaded[key] = {data: data, canvas: canvas, coords: coords};
                self.draw(self.loaded[key]);
                done(null, canvas);
            }).catch(function (err) { done(err, canvas); });
            return canvas;
        },

        draw: function (tile) {
            var canvas = tile.canvas, data = tile.data;
            var ctx = canvas.getContext("2d");
            var dpr = canvas.width / TILE;
            ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
            ctx.clearRect(0, 0, TILE, TILE);
            if (data.type === "counts") { this.drawCounts(ctx, data); } else { this.drawPoints(ctx, data); }
        },

        drawPoints: function (ctx, d) {
            var cfg = this.cfg, live = this.live;
            for (var i = 0; i < d.x.length; i++) {
                var style = cfg.styles[d.k[i]] || cfg.base;
                var status = live[d.d[i]] || d.s[i];
                ctx.beginPath();
                ctx.arc(d.x[i], d.y[i], style.radius || cfg.base.radius, 0, 2 * Math.PI);
                ctx.fillStyle = cfg.colors[status] || cfg.defaultColor;
                ctx.globalAlpha = 0.95;
                ctx.fill();
                ctx.globalAlpha = 1;
                ctx.setLineDash(style.dashArray ? style.dashArray.split(" ").map(Number) : []);
                ctx.lineWidth = style.weight || cfg.base.weight;
                ctx.strokeStyle = style.color || cfg.base.color;
                ctx.stroke();
            }
            ctx.setLineDash([]);
        },

        drawCounts: function (ctx, d) {
            var b = this.cfg.bubble;
            ctx.textAlign = "center";
            ctx.textBaseline = "middle";
            ctx.font = "bold 11px system-ui, sans-serif";
            for (var i = 0; i < d.n.length; i++) {
                var r = bubbleRadius(d.n[i]);
                // Inside the tile: a bubble cut by the tile edge would be drawn in half.
                var x = Math.min(Math.max(d.x[i], r + 2), TILE - r - 2);
                var y = Math.min(Math.max(d.y[i], r + 2), TILE - r - 2);
                ctx.beginPath();
                ctx.arc(x, y, r, 0, 2 * Math.PI);
                ctx.fillStyle = b.halo;
                ctx.fill();
                ctx.beginPath();
                ctx.arc(x, y, r - 4, 0, 2 * Math.PI);
                ctx.fillStyle = b.fill;
                ctx.fill();
                if (d.bad[i] > 0) {
                    var share = d.bad[i] / d.n[i];
                    ctx.beginPath();
                    ctx.arc(x, y, r - 2, -Math.PI / 2, -Math.PI / 2 + 2 * Math.PI * Math.max(share, 0.03));
                    ctx.lineWidth = 3;
                    ctx.strokeStyle = b.ring;
                    ctx.stroke();
                }
                ctx.fillStyle = b.text;
                ctx.fillText(abbreviate(d.n[i]), x, y);
                d.x[i] = x;  // hits use the drawn centre
                d.y[i] = y;
            }
        },

        /* The camera or bubble under a container point, or null. */
        hit: function (containerPoint) {
            var map = this._map;
            var z = this._tileZoom;
            if (z === undefined) { return null; }
            var latlng = map.containerPointToLatLng(containerPoint);
            var p = map.project(latlng, z);
            var tx = Math.floor(p.x / TILE), ty = Math.floor(p.y / TILE);
            var tile = this.loaded[tx + ":" + ty + ":" + z];
            if (!tile) { return null; }
            var px = p.x - tx * TILE, py = p.y - ty * TILE;
            var d = tile.data, best = null, bestD = Infinity;
            for (var i = 0; i < d.x.length; i++) {
                var dx = d.x[i] - px, dy = d.y[i] - py, dist = dx * dx + dy * dy;
                var reach = d.type === "counts" ? bubbleRadius(d.n[i]) :
                    ((this.cfg.styles[d.k[i]] || this.cfg.base).radius || 6) + HIT_SLACK_PX;
                if (dist <= reach * reach && dist < bestD) { best = i; bestD = dist; }
            }
            if (best === null) { return null; }
            var at = map.unproject(L.point(tx * TILE + d.x[best], ty * TILE + d.y[best]), z);
            if (d.type === "counts") { return {type: "counts", n: d.n[best], latlng: at}; }
            return {type: "camera", latlng: at, device_id: d.d[best], name: d.n[best],
                    kind: d.k[best], status: this.live[d.d[best]] || d.s[best]};
        },

        applyChanges: function (changes) {
            var self = this;
            Object.assign(this.live, changes);
            Object.keys(this.loaded).forEach(function (key) {
                var tile = self.loaded[key];
                if (tile.data.type !== "points") { return; }
                for (var i = 0; i < tile.data.d.length; i++) {
                    if (changes[tile.data.d[i]] !== undefined) { self.draw(tile); return; }
                }
            });
        }
    });

    var state = {layer: null, live: {}, tries: 0};

    /* Whether the layer switcher's box named `name` is ticked; null without such a box. */
    function overlayChecked(map, name) {
        var labels = map.getContainer().querySelectorAll(".leaflet-control-layers-overlays label");
        for (var i = 0; i < labels.length; i++) {
            if (labels[i].textContent.trim() === name) {
                var box = labels[i].querySelector("input");
                return box ? box.checked : null;
            }
        }
        return null;
    }

    function wire(map, layer, cfg) {
        var container = map.getContainer();
        var tooltip = L.tooltip({direction: "top", offset: [0, -8]});
        function target(e) {
            if (!map.hasLayer(layer)) { return null; }
            var t = e.target;
            // Controls and popups answer their own clicks; the camera pane is the top data pane,
            // so a camera wins over the polygons and markers drawn below it.
            if (t && t.closest && (t.closest(".leaflet-control") || t.closest(".leaflet-popup"))) {
                return null;
            }
            return layer.hit(map.mouseEventToContainerPoint(e));
        }
        container.addEventListener("click", function (e) {
            if (map.dragging && map.dragging.moved && map.dragging.moved()) { return; }
            var h = target(e);
            if (!h) { return; }
            e.stopPropagation();  // capture phase: the map never sees this click
            if (h.type === "counts") {
                map.setView(h.latlng, Math.min(map.getZoom() + 2, map.getMaxZoom()));
            } else if (cfg.clickId && window.dash_clientside && window.dash_clientside.set_props) {
                window.dash_clientside.set_props(cfg.clickId, {data: {
                    properties: {device_id: h.device_id, name: h.name}, at: Date.now()}});
            }
        }, true);
        var pending = null;
        container.addEventListener("mousemove", function (e) {
            if (pending) { return; }
            pending = window.requestAnimationFrame(function () {
                pending = null;
                var h = target(e);
                container.classList.toggle("sl-tiles-hover", Boolean(h));
                if (h && h.type === "camera") {
                    tooltip.setLatLng(h.latlng).setContent("<b>" + escapeHtml(h.name || h.device_id) +
                        "</b><br>device_id: " + escapeHtml(h.device_id) + "<br>status: " +
                        escapeHtml(h.status) + "<br>kind: " + escapeHtml(h.kind));
                    if (!map.hasLayer(tooltip)) { tooltip.addTo(map); }
                } else if (map.hasLayer(tooltip)) {
                    map.removeLayer(tooltip);
                }
            });
        });
        // Follow the layer switcher's "Cameras" box (react-leaflet's overlays do not fire
        // overlayadd/overlayremove, but their layer group comes and goes).
        map.on("layeradd layerremove", function () {
            var on = overlayChecked(map, cfg.overlayName);
            if (on === false && map.hasLayer(layer)) {
                map.removeLayer(layer);
                if (map.hasLayer(tooltip)) { map.removeLayer(tooltip); }
            } else if (on === true && !map.hasLayer(layer)) {
                map.addLayer(layer);
            }
        });
    }

    function attach(cfg) {
        var el = document.getElementById(cfg.mapId);
        var map = el && el.sightlineMap;
        if (!map) {
            // dash-leaflet makes the map after the stores exist: try again shortly.
            if (state.tries++ < 400) { window.setTimeout(function () { attach(cfg); }, 25); }
            return;
        }
        if (state.layer && state.layer._map === map) { return; }
        if (!map.getPane(cfg.pane)) {
            map.createPane(cfg.pane).style.zIndex = String(cfg.paneZ);
        }
        var layer = new CameraTiles(cfg);
        layer.live = state.live;
        layer.on("load", function () {
            if (!window.sightline.deviceTiles.firstLoad) {
                window.sightline.deviceTiles.firstLoad = performance.now();
            }
            window.sightline.deviceTiles.loads += 1;
        });
        state.layer = layer;
        window.sightline.deviceTiles.layer = layer;
        layer.addTo(map);
        wire(map, layer, cfg);
    }

    window.sightline = Object.assign({}, window.sightline, {
        deviceTiles: {
            attach: attach,
            layer: null,
            firstLoad: null,
            loads: 0,
            applyChanges: function (changes) {
                Object.assign(state.live, changes);
                if (state.layer) { state.layer.applyChanges(changes); }
            }
        }
    });
}());
