"""Local fake LLM provider servers speaking the real streaming wire formats.

Tests point LiteLLM at one of these (api_base=server.url) so that LiteLLM's own request building,
SSE parsing and error mapping run for real while no real provider is ever called:

    with FakeAnthropicServer() as server:
        server.enqueue(Reply.text("Hello there", chunks=3))
        await litellm.acompletion(model="anthropic/claude-...", api_base=server.url, ...)
        assert server.last_request.system == "..."

Run one by hand (for browser tests against a running app):

    python -m llm_app.testing.fake_providers --kind anthropic --port 8765
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from llm_app.testing.fake_anthropic import FakeAnthropicServer
from llm_app.testing.fake_gemini import FakeGeminiServer
from llm_app.testing.fake_openai import FakeOpenAIServer
from llm_app.testing.script import Reply
from llm_app.testing.server import CONTROL_PREFIX, FakeProviderServer, RecordedRequest

SERVERS: dict[str, type[FakeProviderServer]] = {
    FakeAnthropicServer.kind: FakeAnthropicServer,
    FakeGeminiServer.kind: FakeGeminiServer,
    FakeOpenAIServer.kind: FakeOpenAIServer,
}
# The LiteLLM model prefix that routes to each kind.
LITELLM_PREFIXES = {"anthropic": "anthropic/", "gemini": "gemini/", "openai": "openai/"}

__all__ = [
    "LITELLM_PREFIXES",
    "SERVERS",
    "FakeAnthropicServer",
    "FakeGeminiServer",
    "FakeOpenAIServer",
    "FakeProviderServer",
    "RecordedRequest",
    "Reply",
    "fake_server",
    "main",
]


def fake_server(kind: str, **options: object) -> FakeProviderServer:
    """A (not yet started) fake server of the given kind: anthropic, gemini or openai."""
    try:
        server_class = SERVERS[kind]
    except KeyError:
        raise ValueError(f"unknown provider kind {kind!r}; choose from {sorted(SERVERS)}") from None
    return server_class(**options)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llm_app.testing.fake_providers",
        description="Run a fake LLM provider on 127.0.0.1 until interrupted.",
    )
    parser.add_argument("--kind", choices=sorted(SERVERS), default="anthropic")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--required-key", default=None, help="reject any other API key")
    parser.add_argument("--text", default=None, help="the default reply's text")
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--chunk-delay", type=float, default=0.15)
    args = parser.parse_args(argv)

    default = Reply.text(
        args.text or "This is a fake tutor reply, streamed slowly so you can watch it arrive.",
        chunks=args.chunks,
        first_token_delay=args.first_token_delay,
        chunk_delay=args.chunk_delay,
    )
    server = fake_server(
        args.kind,
        host=args.host,
        port=args.port,
        required_key=args.required_key,
        default_reply=default,
    )
    server.start()
    print(f"fake {args.kind} provider: api_base={server.url}", flush=True)
    print(
        f"script it: POST {server.root_url}{CONTROL_PREFIX}/enqueue "
        f'{{"kind": "text", "reply_text": "...", "chunks": 3}}; '
        f"inspect: GET {server.root_url}{CONTROL_PREFIX}/requests",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
