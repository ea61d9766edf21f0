"""Pytest fixtures for the fake providers: one fresh server on 127.0.0.1 per test.

A plugin (listed in the root conftest.py): ``anthropic_server``, ``gemini_server`` and
``openai_server``. Each server listens on a port the OS picks, so xdist workers never
share one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llm_app.testing.fake_providers import FakeAnthropicServer, FakeGeminiServer, FakeOpenAIServer


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def gemini_server() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as server:
        yield server


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server
