"""Long conversations fit the model's context: the oldest exchanges go, the lesson stays."""

from __future__ import annotations

from lessons_app.history_fit import OMITTED_NOTE, fit_history
from lessons_app.prompts import (
    TRANSITION_TOOL,
    build_model_messages,
    build_system_prompt_parts,
    send_message,
)
from lessons_app.tests.test_prompts import chat_stage, lesson  # noqa: F401 (a fixture)
from llm_app import context_window
from llm_app.providers import ResolvedProvider
from llm_app.testing import Reply


def turns(count: int, words: int = 50) -> list[dict[str, str]]:
    """``count`` alternating turns, learner first, the last one the learner's."""
    return [
        {
            "role": "user" if number % 2 == 0 else "assistant",
            "content": f"turn {number} " + " ".join(["word"] * words),
        }
        for number in range(count)
    ]


def one_token_per_word(messages) -> list[int]:
    return [len(message["content"].split()) for message in messages]


def test_everything_is_sent_when_the_size_is_unknown() -> None:
    history = turns(9)
    fitted = fit_history(history, None, fixed_tokens=10**9, count=one_token_per_word)
    assert fitted.messages == history and fitted.dropped == 0


def test_the_oldest_exchanges_go_whole_until_the_rest_fits() -> None:
    history = turns(9, words=98)  # 100 "tokens" each
    fitted = fit_history(history, 450, fixed_tokens=100, count=one_token_per_word)

    # 100 fixed + 3 turns = 400 fits; 5 turns would be 600.
    assert fitted.dropped == 6
    assert fitted.messages[0] == {
        "role": "user",
        "content": f"{OMITTED_NOTE}\n\n{history[6]['content']}",
    }
    assert fitted.messages[1:] == history[7:]
    assert not history[6]["content"].startswith(OMITTED_NOTE), "the history is not changed"


def test_the_last_learner_turn_is_kept_even_alone_too_long() -> None:
    history = turns(3, words=1000)
    fitted = fit_history(history, 50, fixed_tokens=10, count=one_token_per_word)
    assert fitted.dropped == 2
    assert fitted.messages[0]["content"].endswith(history[2]["content"])


def test_a_fitting_history_is_sent_as_it_is() -> None:
    history = turns(5, words=5)
    fitted = fit_history(history, 10_000, fixed_tokens=100, count=one_token_per_word)
    assert fitted.messages == history and fitted.dropped == 0


def test_the_admins_context_size_is_shared_with_the_reply() -> None:
    provider = ResolvedProvider(
        model="hosted_vllm/local", context_window_tokens=2048, max_tokens=256
    )
    assert context_window.prompt_budget(provider, 1024) == int((2048 - 256) * 0.9)
    # A self-hosted model LiteLLM does not know, without the admin's number: unknown.
    assert context_window.prompt_budget(ResolvedProvider(model="hosted_vllm/local"), 1024) is None


def test_litellms_model_information_gives_a_known_models_size() -> None:
    provider = ResolvedProvider(model="openai/gpt-4o-mini")
    assert context_window.prompt_budget(provider, 1024) == int(128_000 * 0.9)


async def test_a_long_chat_reaches_the_provider_fitted(openai_server, lesson) -> None:  # noqa: F811
    """Real counts (LiteLLM's token_counter) for a 2,048-token model: what reaches the wire."""
    stage = chat_stage(lesson, show_tutor_previous_content=True)
    provider = ResolvedProvider(
        model="hosted_vllm/local",
        api_base=openai_server.url,
        api_key="test-key-fit",
        context_window_tokens=2048,
        max_tokens=256,
    )
    history = turns(41, words=120)  # far more than 2,048 tokens
    openai_server.enqueue(Reply.text("Carry on."))

    events = [event async for event in send_message(history, stage, None, "Earlier.", provider)]

    assert events[-1] == {"type": "done"}
    sent = openai_server.last_request.json
    system = build_system_prompt_parts(stage, None, "Earlier.")
    assert sent["messages"][0] == {"role": "system", "content": str(system)}
    kept = sent["messages"][1:]
    assert kept[-1]["content"] == history[-1]["content"], "the latest turn is always sent"
    assert kept[0]["content"].startswith(OMITTED_NOTE)
    assert kept[1:] == history[len(history) - len(kept) + 1 :]
    assert 3 <= len(kept) < len(history)
    counted = context_window.count_tokens(provider.model, sent["messages"])
    tools = context_window.count_tokens(
        provider.model, [{"role": "user", "content": str([TRANSITION_TOOL])}]
    )
    assert counted + tools <= context_window.prompt_budget(provider, 1024)


def test_build_model_messages_output_is_what_fitting_expects() -> None:
    built = build_model_messages(turns(6))
    assert built[0]["role"] == built[-1]["role"] == "user"
    assert len(built) % 2 == 1
