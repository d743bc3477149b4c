"""An aiohttp access log that never writes a credential: signed-URL query values are masked."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

SECRET_PARAMS = frozenset({"sig", "token", "access_token", "csrf", "password"})
"""Query parameters whose values are masked in the log."""


def redact_query(query_string: str) -> str:
    """The query string with the values of :data:`SECRET_PARAMS` replaced by ``***``."""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return urlencode([(k, "***" if k.lower() in SECRET_PARAMS else v) for k, v in pairs],
                     safe=":*")  # fmt: skip


class RedactingAccessLogger(AbstractAccessLogger):
    """``<remote> "<method> <path>?<query, secrets masked>" <status> <bytes> <ms>``."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        query = redact_query(request.query_string)
        target = request.path + (f"?{query}" if query else "")
        self.logger.info(
            '%s "%s %s" %s %s %.1fms', request.remote, request.method, target,
            response.status, response.body_length, time * 1000,
        )  # fmt: skip


def access_logger() -> logging.Logger:
    """The logger the access lines go to (``aiohttp.access``)."""
    return logging.getLogger("aiohttp.access")
