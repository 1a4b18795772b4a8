"""Two guards MLflow's scoring server lacks, as ASGI middleware around its app.

* **Body size.** MLflow reads and parses a whole request body before the model can count its
  rows, so a body of a gigabyte costs gigabytes. A body over ``max_body_bytes`` is refused with
  413; no more than that is ever held. The rest of a body up to :data:`DRAINED` times the cap is
  read and dropped first, so the client, still sending, reads the 413 instead of a broken pipe;
  a larger one is refused at once.
* **Error excerpts.** MLflow's 400 for a malformed body quotes the whole body. An error's message
  is cut to ``max_error_characters``, so an error never echoes a large request back.

Everything else (the JSON protocol, params, the per-request timeout) is MLflow's own.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

DRAINED = 8  # read and dropped past the cap, in multiples of it, before the 413
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Message, Receive, Send], Awaitable[None]]


class BoundedRequests:
    def __init__(self, app: App, max_body_bytes: int, max_error_characters: int):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_error_characters = max_error_characters

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await self.body_within_limit(scope, receive)
        if body is None:
            await self.refuse_too_large(scope, send)
            return
        delivered = False

        async def replay() -> Message:  # the app reads the body already read, then waits
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, self.errors_cut(send))

    async def body_within_limit(self, scope: Message, receive: Receive) -> bytes | None:
        """The request's body, or None when it exceeds the limit."""
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > DRAINED * self.max_body_bytes:
            return None
        chunks, size, more = [], 0, True
        while more and size <= DRAINED * self.max_body_bytes:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            part = message.get("body", b"")
            size += len(part)
            if size <= self.max_body_bytes:
                chunks.append(part)
            more = message.get("more_body", False)
        return b"".join(chunks) if size <= self.max_body_bytes else None

    async def refuse_too_large(self, scope: Message, send: Send) -> None:
        answer = {
            "error_code": "REQUEST_LIMIT_EXCEEDED",
            "message": f"request: expected a body of at most {self.max_body_bytes} bytes "
            "(max_body_bytes of rnnpipe-serve), got more",
        }
        await self.send_json(send, 413, answer)

    def errors_cut(self, send: Send) -> Send:
        """``send`` for an error response whose message is cut to ``max_error_characters``."""
        start: Message | None = None
        parts: list[bytes] = []

        async def cut(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] >= 400:
                start = message
                return
            if start is None:
                await send(message)
                return
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self.send_json(send, start["status"], self.shortened(b"".join(parts)))

        return cut

    def shortened(self, body: bytes) -> dict[str, Any]:
        """An error body as JSON, each of its texts (the message, MLflow's stack trace, which
        repeats the message) at most ``max_error_characters`` long."""
        try:
            answer = json.loads(body)
        except ValueError:
            answer = {"message": body.decode("utf-8", "replace")}
        if not isinstance(answer, dict):
            answer = {"message": str(answer)}
        for key, text in answer.items():
            if isinstance(text, str) and len(text) > self.max_error_characters:
                kept = text[: self.max_error_characters]
                answer[key] = f"{kept}... ({len(text) - len(kept)} characters cut)"
        return answer

    @staticmethod
    async def send_json(send: Send, status: int, answer: dict[str, Any]) -> None:
        content = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(content)).encode())]  # fmt: skip
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
