"""Fixtures for the LLM layer's tests: fake providers on 127.0.0.1, one fresh server per test."""

from collections.abc import Iterator

import pytest

from llm_app.testing import FakeAnthropicServer, FakeGeminiServer, FakeOpenAIServer


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
