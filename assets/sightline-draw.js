/* While a shape is being drawn with the toolbar (pages/selection.py), a click on the map adds a
   vertex and nothing else: it must not also ask which cameras see that point (the map's
   clickData, pages/first_response.py). Leaflet.draw adds polygon, line and rectangle vertices
   on mouseup (on the invisible marker that follows the mouse), so the click that follows is
   dropped before Leaflet sees it; a click on a vertex handle (.leaflet-editing-icon), which
   closes or finishes the shape, goes through: markers do not bubble to the map.
   The marker tool places its marker on a click and is left alone. */
(function () {
    "use strict";
    var drawing = false;
    var until = 0;  // the click after the closing mouseup arrives just after draw:drawstop

    function hook(map) {
        map.on("draw:drawstart", function (e) { drawing = e.layerType !== "marker"; });
        map.on("draw:drawstop", function () {
            if (drawing) { until = Date.now() + 400; }
            drawing = false;
        });
    }

    if (window.L && window.L.Map) {
        window.L.Map.addInitHook(function () { hook(this); });
    }
    window.addEventListener("click", function (e) {
        if (!drawing && Date.now() > until) { return; }
        var t = e.target;
        // Vertex handles are markers whose click closes or finishes the shape: keep those.
        if (t && t.closest && t.closest(".leaflet-container") &&
                !t.closest(".leaflet-control, .leaflet-editing-icon")) {
            e.stopPropagation();
        }
    }, true);
}());
