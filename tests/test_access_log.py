"""Access logs of the API and the gateway never carry a signed URL's signature."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest
from aiohttp import web

from gateway.access_log import RedactingAccessLogger, redact_query


def test_redact_query_masks_only_secret_values() -> None:
    q = redact_query("exp=1764000000&sub=user:alice&sig=AbC-123_xyz&limit=5")
    assert q == "exp=1764000000&sub=user:alice&sig=***&limit=5"
    assert redact_query("") == ""


def test_the_access_line_has_the_path_and_status_but_no_signature(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    async def go() -> int:
        app = web.Application()
        app.router.add_get("/streams/{id}/snapshot.jpg", hello)
        # what `web.run_app(..., access_log_class=...)` in scripts/cli.py sets up
        runner = web.AppRunner(app, access_log_class=RedactingAccessLogger)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as client, client.get(
                f"http://127.0.0.1:{port}/streams/12/snapshot.jpg?exp=9&sub=user:a&sig=SECRETSIG"
            ) as resp:
                return resp.status
        finally:
            await runner.cleanup()

    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        assert asyncio.run(go()) == 200
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(lines) == 1
    assert "SECRETSIG" not in lines[0] and "sig=***" in lines[0]
    assert '"GET /streams/12/snapshot.jpg?exp=9&sub=user:a&sig=***" 200' in lines[0]
