"""The fake OpenAI provider in a process of its own: `python -m bench.load.fake_provider PORT`.

Every request gets the benchmark's reply (config.REPLY_TEXT: 300 ms to the first word,
then 100 words 20 ms apart). Besides the fake's own control routes it answers
``GET /_bench/received``: when each request arrived (``time.monotonic()``, a clock every
process on this machine shares) and the last user message it carried, so the query
counter can tell which queries ran before the model was called.
"""

from __future__ import annotations

import signal
import sys
import threading

from aiohttp import web

from bench.load.config import (
    CHUNK_DELAY_SECONDS,
    CHUNKS,
    FIRST_TOKEN_DELAY_SECONDS,
    REPLY_TEXT,
    raise_file_limit,
)
from llm_app.testing import FakeOpenAIServer, Reply

RECEIVED_PATH = "/_bench/received"
READY_LINE = "ready"


class BenchProvider(FakeOpenAIServer):
    """The OpenAI fake plus one read-only route that says when requests arrived."""

    def routes(self) -> list[web.AbstractRouteDef]:
        return [*super().routes(), web.get(RECEIVED_PATH, self._received)]

    async def _received(self, request: web.Request) -> web.Response:
        return web.json_response(
            [
                {"received_at": call.received_at, "last_user": _last_user_text(call)}
                for call in self.requests
                if call.path.endswith("/chat/completions")
            ]
        )


def _last_user_text(call) -> str:
    users = [message for message in call.messages if message.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def main(port: int) -> None:
    raise_file_limit()
    server = BenchProvider(
        port=port,
        default_reply=Reply.text(
            REPLY_TEXT,
            chunks=CHUNKS,
            chunk_delay=CHUNK_DELAY_SECONDS,
            first_token_delay=FIRST_TOKEN_DELAY_SECONDS,
        ),
    )
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print(READY_LINE, server.url, flush=True)
    try:
        stopped.wait()
    finally:
        server.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]))
