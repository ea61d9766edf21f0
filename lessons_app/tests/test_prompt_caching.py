"""Prompt caching from the lessons side: ``send_message`` hands the seam the split prompt.

The seam's own caching rules are tested in llm_app/tests/test_prompt_caching.py.
"""

from __future__ import annotations

from lessons_app.models import Lesson, Stage
from lessons_app.prompts import SystemPrompt, build_system_prompt, send_message
from llm_app.providers import ResolvedProvider
from llm_app.seam.prompt_caching import join_system_prompt
from llm_app.seam.request import build_completion_kwargs
from llm_app.testing import FakeProviderServer

LEARNER = [{"role": "user", "content": "Why are leaves green?"}]


def provider_for(server: FakeProviderServer) -> ResolvedProvider:
    return ResolvedProvider(
        model="anthropic/claude-sonnet-4-5",
        name="fake anthropic",
        api_base=server.url,
        api_key="test-key",
    )


async def test_send_message_passes_the_split_prompt_through_to_anthropic(
    anthropic_server: FakeProviderServer,
) -> None:
    lesson = Lesson(title="How plants make food", slug="plants")
    stage = Stage(lesson=lesson, kind=Stage.Kind.ARTICLE, title="Leaves")
    excerpt = "Chlorophyll absorbs red and blue light and reflects green."
    seen: list[str] = []

    events = [
        event
        async for event in send_message(
            LEARNER,
            stage,
            current_content=excerpt,
            provider=provider_for(anthropic_server),
            on_prompt=lambda system, messages: seen.append(system),
        )
    ]

    assert events[-1]["type"] == "done"
    blocks = anthropic_server.last_request.json["system"]
    marked = [block for block in blocks if "cache_control" in block]
    assert len(marked) == 1
    assert excerpt in marked[0]["text"]
    assert excerpt not in blocks[0]["text"]
    # Staff's debug view still gets the whole prompt as one plain string.
    assert seen == [build_system_prompt(stage, excerpt)]
    assert type(seen[0]) is str


def test_the_seam_joins_a_split_prompt_exactly_as_system_prompt_does() -> None:
    prompt = SystemPrompt("Do this.", "Lesson.")
    openai = build_completion_kwargs(
        LEARNER, prompt, None, ResolvedProvider(model="openai/gpt-4o-mini"), 100
    )

    assert join_system_prompt(prompt) == str(prompt) == prompt.joined()
    assert openai["messages"][0]["content"] == str(prompt)
