"""Fitting a long conversation into the model's context: the oldest turns are left out.

The system prompt (instructions and the lesson content) is always sent whole, and so
are the latest turns; when the whole history does not fit the provider's prompt budget
(``llm_app.context_window``), the oldest learner/tutor exchanges are dropped, whole, until
it does. Nothing is summarised, so nothing costs an extra model call or needs caching;
the first turn kept starts with :data:`OMITTED_NOTE`, so the tutor knows it is mid-way
through a conversation rather than at its start. docs/prompts.md says the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

OMITTED_NOTE = "[Earlier turns of this conversation were left out to fit the model's context.]"


@dataclass(frozen=True)
class FittedHistory:
    messages: list[dict[str, str]]
    # How many of the given messages were left out (0: all of them fit).
    dropped: int = 0


def fit_history(
    messages: Sequence[dict[str, str]],
    budget: int | None,
    *,
    fixed_tokens: int,
    count: Callable[[Sequence[dict[str, str]]], list[int]],
) -> FittedHistory:
    """The latest messages that fit ``budget`` beside ``fixed_tokens`` (system prompt, tools).

    ``messages`` alternate and start and end with a learner turn
    (``prompts.build_model_messages``); dropping them in pairs from the front keeps
    that. The last learner turn is always kept, even if it alone is too long: the
    provider then says so, and the learner sees ``context_too_long``. ``count``
    gives each message's tokens; ``budget`` ``None`` means the size is unknown, and
    everything is sent.
    """
    if budget is None:
        return FittedHistory(list(messages))
    sizes = count(messages)
    total = fixed_tokens + sum(sizes)
    start = 0
    while total > budget and len(messages) - start > 1:
        step = 2 if len(messages) - start > 2 else 1
        total -= sum(sizes[start : start + step])
        start += step
    kept = [dict(message) for message in messages[start:]]
    if start:
        kept[0]["content"] = f"{OMITTED_NOTE}\n\n{kept[0]['content']}"
    return FittedHistory(kept, dropped=start)
