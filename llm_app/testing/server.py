"""The machinery shared by the fake provider servers: a threaded aiohttp app, request recording,
the reply queue and an SSE writer that can delay, cut and notice a client going away.

Each provider module subclasses `FakeProviderServer` and only says how its API authenticates,
what it rejects and how a `Reply` looks on its wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import web
from aiohttp.client_exceptions import ClientConnectionResetError
from multidict import CIMultiDict

from llm_app.testing.script import Reply

CONTROL_PREFIX = "/_fake"
LOCALHOST = "127.0.0.1"
# How long stop() lets an in-flight stream finish before aiohttp cancels it.
SHUTDOWN_GRACE_SECONDS = 0.25
START_TIMEOUT_SECONDS = 10.0
DISCONNECT_ERRORS = (ConnectionResetError, ClientConnectionResetError, BrokenPipeError)


class ProviderError(Exception):
    """An HTTP error answer in a provider's own body shape."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {json.dumps(body)[:200]}")
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass(frozen=True)
class Frame:
    """One write on the stream. `content` frames are the ones delays and cuts count."""

    data: bytes
    content: bool = False


class Dialect:
    """Reads a recorded request in one provider's vocabulary (overridden per provider)."""

    @staticmethod
    def model(call: RecordedRequest) -> str | None:
        return call.json.get("model")

    @staticmethod
    def system(call: RecordedRequest) -> str | None:
        return None

    @staticmethod
    def messages(call: RecordedRequest) -> list[dict[str, Any]]:
        return []

    @staticmethod
    def roles(call: RecordedRequest) -> list[str]:
        return []

    @staticmethod
    def tools(call: RecordedRequest) -> list[dict[str, Any]] | None:
        return None

    @staticmethod
    def tool_names(call: RecordedRequest) -> list[str]:
        return []

    @staticmethod
    def max_tokens(call: RecordedRequest) -> int | None:
        return None

    @staticmethod
    def stream(call: RecordedRequest) -> bool:
        return bool(call.json.get("stream"))


@dataclass
class RecordedRequest:
    """Everything a fake server saw of one request, plus what it did about it."""

    provider: str
    method: str
    path: str
    query: dict[str, str]
    headers: CIMultiDict[str]
    raw_body: bytes
    body: Any = None
    route: dict[str, str] = field(default_factory=dict)
    api_key: str | None = None
    key_source: str | None = None
    status: int | None = None
    error: dict[str, Any] | None = None
    reply: Reply | None = None
    chunks_sent: int = 0
    # time.monotonic() when each content chunk was written, for latency benchmarks.
    chunk_times: list[float] = field(default_factory=list)
    # Held at its reply's `pause_at` until the test calls `server.resume()`.
    paused: bool = False
    completed: bool = False
    cut: bool = False
    disconnected: bool = False
    received_at: float = field(default_factory=time.monotonic)
    dialect: type[Dialect] = field(default=Dialect, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def json(self) -> dict[str, Any]:
        """The parsed body when it is a JSON object, else an empty dict."""
        return self.body if isinstance(self.body, dict) else {}

    @property
    def model(self) -> str | None:
        return self.dialect.model(self)

    @property
    def system(self) -> str | None:
        """The system prompt as plain text, however the provider carries it."""
        return self.dialect.system(self)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation turns in the provider's own shape, without the system prompt."""
        return self.dialect.messages(self)

    @property
    def roles(self) -> list[str]:
        """Turn roles normalised to user / assistant / tool."""
        return self.dialect.roles(self)

    @property
    def tools(self) -> list[dict[str, Any]] | None:
        return self.dialect.tools(self)

    @property
    def tool_names(self) -> list[str]:
        return self.dialect.tool_names(self)

    @property
    def max_tokens(self) -> int | None:
        return self.dialect.max_tokens(self)

    @property
    def stream(self) -> bool:
        return self.dialect.stream(self)

    def summary(self) -> dict[str, Any]:
        """A JSON-safe view, served by the control endpoint to tests in another process."""
        return {
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body,
            "api_key": self.api_key,
            "key_source": self.key_source,
            "status": self.status,
            "error": self.error,
            "reply": self.reply.to_dict() if self.reply else None,
            "chunks_sent": self.chunks_sent,
            "paused": self.paused,
            "completed": self.completed,
            "cut": self.cut,
            "disconnected": self.disconnected,
        }


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; `data` is dumped as compact JSON unless it is already a string."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {payload}\n\n".encode()


class FakeProviderServer:
    """A local stand-in for one LLM provider's HTTP API, run in a background thread.

    Use as a context manager or call start()/stop(). Give `url` to LiteLLM as `api_base`.
    Anything not scripted with enqueue() gets `default_reply`.
    """

    kind: ClassVar[str] = ""
    # What the real provider's base URL path is, so `url` lines up with LiteLLM's joining.
    base_path: ClassVar[str] = ""
    dialect: ClassVar[type[Dialect]] = Dialect
    extra_stream_headers: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        *,
        host: str = LOCALHOST,
        port: int = 0,
        required_key: str | None = None,
        known_models: Iterable[str] | None = None,
        default_reply: Reply | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.required_key = required_key
        self.known_models = set(known_models) if known_models is not None else None
        self.default_reply = default_reply or Reply.text()
        self._replies: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._changed = threading.Condition()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._startup_error: BaseException | None = None
        self._stopping = False
        self._holds: list[asyncio.Event] = []

    # ------------------------------------------------------------------ lifecycle

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The api_base to give LiteLLM for this provider."""
        return self.root_url + self.base_path

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FakeProviderServer:
        if self.running:
            return self
        ready = threading.Event()
        self._stopping = False
        self._startup_error = None
        self._runner = None
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=f"fake-{self.kind}-server", daemon=True
        )
        self._thread.start()
        if not ready.wait(START_TIMEOUT_SECONDS):
            raise RuntimeError(f"fake {self.kind} server did not start")
        if self._runner is None:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"fake {self.kind} server failed to start") from (
                self._startup_error
            )
        return self

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._stopping = True
        loop, runner = self._loop, self._runner
        self._runner = None
        if runner is not None and loop.is_running():
            future = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
            with contextlib.suppress(Exception):
                future.result(timeout=SHUTDOWN_GRACE_SECONDS + 5)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout=5)
        self._thread = None

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve_forever_setup())
        except OSError as error:  # e.g. the port is taken; start() re-raises it
            self._startup_error = error
        finally:
            ready.set()
        if self._runner is None:
            loop.close()
            return
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve_forever_setup(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.add_routes(self._control_routes())
        app.add_routes(self.routes())
        app.router.add_route("*", "/{tail:.*}", self._unknown_path)
        # handler_cancellation: a client hanging up cancels the handler at once, which is how
        # disconnects are noticed even while a reply is sleeping between chunks.
        runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_GRACE_SECONDS,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]

    # ------------------------------------------------------------------ scripting and records

    def enqueue(self, *replies: Reply) -> FakeProviderServer:
        """Queue replies for the next requests, first in first out."""
        with self._changed:
            self._replies.extend(replies)
        return self

    @property
    def pending_replies(self) -> list[Reply]:
        with self._changed:
            return list(self._replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received, including rejected ones and unknown paths."""
        with self._changed:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        with self._changed:
            if not self._requests:
                raise LookupError(f"the fake {self.kind} server has received no request")
            return self._requests[-1]

    @property
    def disconnects(self) -> list[RecordedRequest]:
        """Requests whose client hung up before the reply had been fully sent."""
        with self._changed:
            return [call for call in self._requests if call.disconnected]

    def reset(self) -> None:
        with self._changed:
            self._replies.clear()
            self._requests.clear()
            self._changed.notify_all()

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until `count` requests have arrived (the server runs in another thread)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"{len(self._requests)} of {count} requests after {timeout}s")
            return list(self._requests)

    def wait_for_disconnect(self, timeout: float = 5.0) -> RecordedRequest:
        """Block until some request has seen its client hang up; returns that request."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: any(call.disconnected for call in self._requests), timeout
            )
            if not ok:
                raise TimeoutError(f"no client disconnect within {timeout}s")
            return next(call for call in self._requests if call.disconnected)

    def wait_until_finished(self, timeout: float = 5.0) -> RecordedRequest:
        """Block until the last request's handler is done (answered, cut or abandoned)."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: (
                    bool(self._requests)
                    and self._requests[-1].status is not None
                    and (
                        self._requests[-1].completed
                        or self._requests[-1].cut
                        or self._requests[-1].disconnected
                        or self._requests[-1].error is not None
                    )
                ),
                timeout,
            )
            if not ok:
                raise TimeoutError(f"the last request did not finish within {timeout}s")
            return self._requests[-1]

    def wait_for_chunks(self, count: int, timeout: float = 5.0) -> RecordedRequest:
        """Block until the last request has streamed `count` content chunks."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: bool(self._requests) and self._requests[-1].chunks_sent >= count, timeout
            )
            if not ok:
                raise TimeoutError(f"{count} chunks were not streamed within {timeout}s")
            return self._requests[-1]

    def wait_until_paused(self, timeout: float = 5.0) -> RecordedRequest:
        """Block until a request is held at its reply's `pause_at`; returns that request."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: any(call.paused for call in self._requests), timeout
            )
            if not ok:
                raise TimeoutError(f"no reply paused within {timeout}s")
            return next(call for call in self._requests if call.paused)

    def resume(self) -> None:
        """Let every reply held at its `pause_at` go on streaming."""
        with self._changed:
            holds, self._holds = self._holds, []
        if self._loop is not None:
            for hold in holds:
                self._loop.call_soon_threadsafe(hold.set)

    async def _hold(self, call: RecordedRequest) -> None:
        hold = asyncio.Event()
        with self._changed:
            self._holds.append(hold)
            call.paused = True
            self._changed.notify_all()
        try:
            await hold.wait()
        finally:
            call.paused = False
            self._notify()

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _next_reply(self) -> Reply:
        with self._changed:
            return self._replies.popleft() if self._replies else self.default_reply

    def next_id(self) -> int:
        return next(self._ids)

    # ------------------------------------------------------------------ provider hooks

    def routes(self) -> list[web.AbstractRouteDef]:
        raise NotImplementedError

    def authenticate(self, request: web.Request, call: RecordedRequest) -> None:
        """Set call.api_key and call.key_source, or raise the provider's auth error."""
        raise NotImplementedError

    def validate(self, call: RecordedRequest) -> None:
        """Raise ProviderError for anything the real API would reject."""
        raise NotImplementedError

    def error(self, status: int, message: str | None = None) -> ProviderError:
        """The provider's error answer for an HTTP status."""
        raise NotImplementedError

    def invalid_json(self, detail: str) -> ProviderError:
        return self.error(400, f"Invalid JSON body: {detail}")

    def not_found(self, path: str) -> ProviderError:
        return self.error(404, f"Not found: {path}")

    def stream_frames(self, call: RecordedRequest, reply: Reply) -> Iterator[Frame]:
        raise NotImplementedError

    def complete_body(self, call: RecordedRequest, reply: Reply) -> dict[str, Any] | list[Any]:
        raise NotImplementedError

    def stream_content_type(self, call: RecordedRequest) -> str:
        return "text/event-stream; charset=utf-8"

    # ------------------------------------------------------------------ request pipeline

    def _record(self, request: web.Request, raw: bytes) -> RecordedRequest:
        call = RecordedRequest(
            provider=self.kind,
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=CIMultiDict(request.headers),
            raw_body=raw,
            route=dict(request.match_info),
            dialect=self.dialect,
        )
        with self._changed:
            self._requests.append(call)
            self._changed.notify_all()
        return call

    async def _unknown_path(self, request: web.Request) -> web.StreamResponse:
        call = self._record(request, await request.read())
        return self._error_response(call, self.not_found(request.path))

    def _error_response(self, call: RecordedRequest, error: ProviderError) -> web.Response:
        call.status = error.status
        call.error = error.body
        self._notify()
        return web.json_response(error.body, status=error.status, headers=error.headers)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """Authenticate, validate, then answer with the next scripted reply."""
        call = self._record(request, await request.read())
        try:
            self.authenticate(request, call)
            self._notify()
            try:
                call.body = json.loads(call.raw_body) if call.raw_body else None
            except ValueError as parse_error:
                raise self.invalid_json(str(parse_error)) from parse_error
            if not isinstance(call.body, dict):
                raise self.invalid_json("the body must be a JSON object")
            self.validate(call)
            reply = self._next_reply()
            call.reply = reply
            if reply.response_delay:
                await asyncio.sleep(reply.response_delay)
            if reply.kind == "error":
                raise self.error(reply.status, reply.message)
        except ProviderError as error:
            return self._error_response(call, error)
        except asyncio.CancelledError:
            self._mark_disconnected(call)
            raise
        if self.dialect.stream(call) or self._route_streams(call):
            return await self._stream(request, call, reply)
        call.status = 200
        call.completed = True
        self._notify()
        return web.json_response(self.complete_body(call, reply))

    def _route_streams(self, call: RecordedRequest) -> bool:
        """Whether the URL itself asks for a stream (Gemini's streamGenerateContent)."""
        return False

    async def _stream(
        self, request: web.Request, call: RecordedRequest, reply: Reply
    ) -> web.StreamResponse:
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": self.stream_content_type(call),
                "Cache-Control": "no-cache",
                **self.extra_stream_headers,
            },
        )
        call.status = 200
        try:
            await response.prepare(request)
            sent = 0
            for frame in self.stream_frames(call, reply):
                if frame.content:
                    if reply.cut_at is not None and sent >= reply.cut_at:
                        self._cut(request, call)
                        return response
                    if reply.pause_at is not None and sent == reply.pause_at:
                        await self._hold(call)
                    delay = reply.first_token_delay if sent == 0 else reply.chunk_delay
                    if delay:
                        await asyncio.sleep(delay)
                await response.write(frame.data)
                if frame.content:
                    sent += 1
                    call.chunks_sent = sent
                    call.chunk_times.append(time.monotonic())
                    self._notify()
            if reply.cut_at is not None:
                self._cut(request, call)
                return response
            await response.write_eof()
            call.completed = True
            self._notify()
            return response
        except asyncio.CancelledError:
            self._mark_disconnected(call)
            raise
        except DISCONNECT_ERRORS:
            self._mark_disconnected(call)
            return response

    def _cut(self, request: web.Request, call: RecordedRequest) -> None:
        """Drop the connection without ending the chunked body: data sent so far is flushed."""
        call.cut = True
        self._notify()
        if request.transport is not None:
            request.transport.close()

    def _mark_disconnected(self, call: RecordedRequest) -> None:
        if call.cut or call.completed or self._stopping:
            return
        call.disconnected = True
        self._notify()

    # ------------------------------------------------------------------ control endpoints

    def _control_routes(self) -> list[web.AbstractRouteDef]:
        """Let a test in another process script and inspect a server it did not start."""

        async def enqueue(request: web.Request) -> web.Response:
            data = await request.json()
            items = data if isinstance(data, list) else [data]
            try:
                replies = [Reply.from_dict(item) for item in items]
            except (TypeError, ValueError) as error:
                return web.json_response({"error": str(error)}, status=400)
            self.enqueue(*replies)
            return web.json_response({"queued": len(self.pending_replies)})

        async def requests(request: web.Request) -> web.Response:
            return web.json_response([call.summary() for call in self.requests])

        async def reset(request: web.Request) -> web.Response:
            self.reset()
            return web.json_response({"reset": True})

        async def resume(request: web.Request) -> web.Response:
            self.resume()
            return web.json_response({"resumed": True})

        return [
            web.post(f"{CONTROL_PREFIX}/enqueue", enqueue),
            web.get(f"{CONTROL_PREFIX}/requests", requests),
            web.post(f"{CONTROL_PREFIX}/reset", reset),
            web.post(f"{CONTROL_PREFIX}/resume", resume),
        ]
