"""HTTP API for scripts and other systems (aiohttp): survey uploads, later OGC API Features."""
