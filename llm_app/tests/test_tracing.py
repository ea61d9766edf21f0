"""Langfuse tracing through LiteLLM's callback: one trace per turn when on, nothing when off."""

import asyncio
import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import litellm
import pytest
from django.conf import settings as django_settings
from litellm.integrations.custom_logger import CustomLogger
from litellm.integrations.langfuse.langfuse_sdk import flush_langfuse_tracing

from llm_app import tracing
from llm_app.llm import stream_chat
from llm_app.providers import DEMO_MODEL, ResolvedProvider
from llm_app.testing import Reply

PUBLIC_KEY = "pk-lf-test-public"
SECRET_KEY = "sk-lf-test-secret"
LEARNER_WORDS = "Why is my ficus called Bartholomew"
OTEL_TRACES_PATH = "/api/public/otel/v1/traces"
DEMO = ResolvedProvider(model=DEMO_MODEL, extra_params={"word_delay": 0})
# Limits for what must happen, never waits that prove something did not.
LOGGING_TIMEOUT_SECONDS = 15.0
FLUSH_TIMEOUT_SECONDS = 5.0


class StandInLangfuse:
    """A Langfuse server on 127.0.0.1 that records what it is sent and accepts it."""

    def __init__(self):
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer._lock:
                    outer.requests.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def trace_exports(self) -> list[tuple[dict[str, str], bytes]]:
        with self._lock:
            return [(h, body) for path, h, body in self.requests if path == OTEL_TRACES_PATH]

    def spans(self) -> list:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        found = []
        for _, body in self.trace_exports():
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    found.extend(scope_spans.spans)
        return found


class CallsLogged(CustomLogger):
    """A LiteLLM callback that counts the calls LiteLLM has finished logging, as success or failure.

    ``stream_chat`` goes through ``acompletion``, so LiteLLM logs each call on its async
    path, awaiting the callbacks one after another in the order they were registered.
    Registered after the Langfuse callback, this one has seen a call only once the
    Langfuse callback has handed that call's span to its exporter.
    """

    def __init__(self):
        super().__init__()
        self._calls = 0
        self._changed = threading.Condition()

    def _note(self) -> None:
        with self._changed:
            self._calls += 1
            self._changed.notify_all()

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        self._note()

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        self._note()

    def wait_for(self, calls: int, timeout: float = LOGGING_TIMEOUT_SECONDS) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._calls >= calls, timeout)


@contextlib.contextmanager
def calls_logged() -> Iterator[CallsLogged]:
    """A :class:`CallsLogged` registered for the block; register it after tracing is on."""
    witness = CallsLogged()
    litellm.logging_callback_manager.add_litellm_callback(witness)
    try:
        yield witness
    finally:
        litellm.logging_callback_manager.remove_callback_from_all_lists(witness, require_self=False)


def attribute(span, key: str) -> str:
    for item in span.attributes:
        if item.key == key:
            return item.value.string_value
    raise KeyError(key)


@pytest.fixture
def langfuse(settings):
    """Tracing switched on against a stand-in, and switched off again afterwards."""
    with StandInLangfuse() as server:
        settings.LANGFUSE_PUBLIC_KEY = PUBLIC_KEY
        settings.LANGFUSE_SECRET_KEY = SECRET_KEY
        settings.LANGFUSE_HOST = server.url
        yield server
        tracing.disable_tracing()


async def one_turn() -> str:
    parts = []
    async for event in stream_chat(
        [{"role": "user", "content": LEARNER_WORDS}], "You are a tutor.", provider=DEMO
    ):
        assert event["type"] != "error", event
        if event["type"] == "text":
            parts.append(event["content"])
    return "".join(parts)


async def spans_of_turn(server: StandInLangfuse, witness: CallsLogged, *, calls: int = 1) -> list:
    """Every span of a turn that has ended, once LiteLLM has logged all ``calls`` of it.

    LiteLLM logs a call after its stream has ended, so the turn being over is not enough;
    once the witness has seen every call, each span is with the exporter and one flush
    sends them all. Nothing still to come can then be missed by asserting at once.
    """
    logged = await asyncio.to_thread(witness.wait_for, calls)
    assert logged, f"LiteLLM did not log {calls} call(s) within {LOGGING_TIMEOUT_SECONDS}s"
    # Off the event loop: flushing blocks until the exporter's HTTP call returns.
    assert await asyncio.to_thread(tracing.flush_tracing, FLUSH_TIMEOUT_SECONDS)
    return server.spans()


async def test_one_turn_sends_exactly_one_trace(langfuse, settings):
    settings.TUTOR_LOG_MESSAGE_TEXT = False
    assert tracing.configure_tracing() is True
    assert tracing.configure_tracing() is True  # a second call registers nothing more

    with calls_logged() as witness:
        reply = await one_turn()
        spans = await spans_of_turn(langfuse, witness)

    assert len({span.trace_id for span in spans}) == 1
    [generation] = [s for s in spans if attribute(s, "langfuse.observation.type") == "generation"]
    assert attribute(generation, "langfuse.observation.model.name") == "offline-tutor"
    assert json.loads(attribute(generation, "langfuse.observation.usage_details"))["output"] > 0
    headers, body = langfuse.trace_exports()[0]
    expected = base64.b64encode(f"{PUBLIC_KEY}:{SECRET_KEY}".encode()).decode()
    assert headers["Authorization"] == f"Basic {expected}"
    # Without TUTOR_LOG_MESSAGE_TEXT the learner's words stay here; the reply itself is intact.
    assert LEARNER_WORDS.encode() not in body
    assert "ficus" in reply and "redacted" not in reply


async def test_a_turn_that_falls_back_is_still_one_trace(langfuse, settings, anthropic_server):
    """Every call of a turn shares LiteLLM's trace id: a failed attempt and the fallback's
    answer are two generations of one trace, not two traces."""
    settings.TUTOR_LOG_MESSAGE_TEXT = False
    assert tracing.configure_tracing() is True
    anthropic_server.enqueue(Reply.error(529))
    primary = ResolvedProvider(
        model="anthropic/claude-sonnet-4-20250514",
        name="overloaded",
        api_base=anthropic_server.url,
        api_key="key-overloaded",
        fallbacks=(DEMO,),
    )

    with calls_logged() as witness:
        events = [
            event
            async for event in stream_chat(
                [{"role": "user", "content": LEARNER_WORDS}], "You are a tutor.", provider=primary
            )
        ]
        # The failed attempt and the fallback's answer: two calls, each logged.
        spans = await spans_of_turn(langfuse, witness, calls=2)

    assert [e["type"] for e in events][-2:] == ["usage", "done"]
    assert events[-2]["attempts"] == 2
    assert len(anthropic_server.requests) == 1
    assert len({span.trace_id for span in spans}) == 1
    assert len(generations(spans)) == 2


def generations(spans: list) -> list:
    return [s for s in spans if attribute(s, "langfuse.observation.type") == "generation"]


async def test_message_text_is_traced_only_when_allowed(langfuse, settings):
    settings.TUTOR_LOG_MESSAGE_TEXT = True
    assert tracing.configure_tracing() is True

    with calls_logged() as witness:
        await one_turn()
        await spans_of_turn(langfuse, witness)

    assert any(LEARNER_WORDS.encode() in body for _, body in langfuse.trace_exports())


async def test_switching_off_restores_litellm(langfuse, settings):
    settings.TUTOR_LOG_MESSAGE_TEXT = False
    before = (list(litellm.callbacks), list(litellm._async_success_callback))
    redaction_before = litellm.turn_off_message_logging
    tracing.configure_tracing()
    assert len(litellm.callbacks) == len(before[0]) + 1

    tracing.disable_tracing()

    assert (list(litellm.callbacks), list(litellm._async_success_callback)) == before
    assert litellm.turn_off_message_logging == redaction_before
    # Wait for LiteLLM to have logged the turn (no fixed sleep): a Langfuse callback left
    # registered would have run by then, and the flush below would send what it queued.
    with calls_logged() as witness:
        await one_turn()
        assert await asyncio.to_thread(witness.wait_for, 1), "LiteLLM never logged the turn"
    await asyncio.to_thread(flush_langfuse_tracing, 2_000)
    assert langfuse.requests == []


def test_without_keys_nothing_is_registered(settings):
    settings.LANGFUSE_PUBLIC_KEY = ""
    settings.LANGFUSE_SECRET_KEY = "sk-only-half-configured"
    lists = ("callbacks", "success_callback", "failure_callback", "_async_success_callback")
    before = {name: list(getattr(litellm, name)) for name in lists}

    assert tracing.configure_tracing() is False

    assert {name: list(getattr(litellm, name)) for name in lists} == before


_OFF_SCRIPT = """
import asyncio, json, socket, sys
import django
django.setup()

attempts = []
real_connect = socket.socket.connect
def recording_connect(self, address):
    attempts.append(repr(address))
    return real_connect(self, address)
socket.socket.connect = recording_connect

from llm_app import tracing
from llm_app.llm import stream_chat
from llm_app.providers import DEMO_MODEL, ResolvedProvider
from llm_app.testing import Reply
import litellm

async def turn():
    provider = ResolvedProvider(model=DEMO_MODEL, extra_params={"word_delay": 0})
    return [e["type"] async for e in stream_chat([{"role": "user", "content": "hi"}], "s",
                                                 provider=provider)]

enabled = tracing.configure_tracing()
events = asyncio.run(turn())
print(json.dumps({
    "enabled": enabled,
    "events": events[-2:],
    "loaded": sorted(m for m in sys.modules if m.split(".")[0] in ("langfuse", "opentelemetry")),
    "callbacks": [len(litellm.callbacks), len(litellm.success_callback),
                  len(litellm.failure_callback), len(litellm._async_success_callback)],
    "connections": attempts,
}))
"""


def test_with_tracing_off_langfuse_is_never_imported_and_nothing_is_sent():
    # A fresh interpreter: in this one another test may already have imported langfuse.
    # Empty, not unset: a developer's .env must not switch tracing on here.
    env = {**os.environ, "LANGFUSE_PUBLIC_KEY": "", "LANGFUSE_SECRET_KEY": ""}
    env["DJANGO_SETTINGS_MODULE"] = "tutor_project.settings"
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _OFF_SCRIPT],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["enabled"] is False
    assert report["events"] == ["usage", "done"]
    assert report["loaded"] == []
    assert report["callbacks"] == [0, 0, 0, 0]
    assert report["connections"] == []
