"""Stream gateway: RTSP cameras to the browser (fMP4 over WebSocket, HLS, JPEG) + health."""
