"""A provider set to use no tools never gets them, and its prompt does not promise one."""

from __future__ import annotations

import pytest

from lessons_app.prompts import TRANSITION_TOOL, TRANSITION_TOOL_NAME, send_message
from lessons_app.tests.test_prompts import chat_stage, lesson  # noqa: F401 (a fixture)
from llm_app.models import ProviderConfig, ToolUse
from llm_app.providers import ResolvedProvider
from llm_app.testing import Reply


@pytest.mark.parametrize(("tool_use", "sent"), [(ToolUse.AUTO, True), (ToolUse.OFF, False)])
async def test_the_tool_setting_decides_what_reaches_the_wire(
    openai_server,
    lesson,  # noqa: F811
    tool_use: ToolUse,
    sent: bool,
) -> None:
    config = ProviderConfig(
        name="Local",
        model="hosted_vllm/local",
        api_base=openai_server.url,
        api_key="test-key-tools",
        tool_use=tool_use,
    )
    provider = ResolvedProvider.from_config(config, with_fallbacks=False)
    stage = chat_stage(lesson, show_tutor_previous_content=False)
    openai_server.enqueue(Reply.text("Shall we go on?"))

    events = [event async for event in send_message([], stage, None, None, provider)]

    assert events[-1] == {"type": "done"}
    request = openai_server.last_request.json
    assert ("tools" in request) is sent
    if sent:
        assert request["tools"] == [TRANSITION_TOOL]
    assert (TRANSITION_TOOL_NAME in request["messages"][0]["content"]) is sent
