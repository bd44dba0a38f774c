"""Refuse request bodies over a size limit with 413, before the app reads or parses them.

A pure ASGI middleware: a declared ``Content-Length`` over the limit is answered at once; a body
without one (chunked) is read up to the limit and refused as soon as it passes it. A body within
the limit is handed to the app unchanged, so at most ``max_bytes`` are ever held in memory.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit"]


class BodySizeLimit:
    """ASGI middleware: 413 (JSON, naming the limit) for bodies larger than ``max_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 413/400 for a body over the limit or a bad length; else run the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared == "invalid":
            await _reply(send, 400, {"error": "invalid Content-Length header"})
            return
        if isinstance(declared, int) and declared > self.max_bytes:
            await _reply(send, 413, self._detail(declared))
            return
        buffered: list[Message] = []
        size = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break  # the client went away: let the app see it
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await _reply(send, 413, self._detail(None))
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    def _detail(self, declared: int | None) -> dict[str, Any]:
        detail: dict[str, Any] = {"error": "request body too large", "limit_bytes": self.max_bytes}
        if declared is not None:
            detail["content_length"] = declared
        return detail


def _content_length(scope: Scope) -> int | str | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else "invalid"
    return None


async def _reply(send: Send, status: int, detail: dict[str, Any]) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    # the unread body is left on the connection: ask the client to close it
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
