"""Map layers: store frames -> dash-leaflet components, one module per layer."""
