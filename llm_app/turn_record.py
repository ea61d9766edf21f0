"""A turn's numbers, defined once: what one model reply cost and how long it took.

The seam measures them and sends them as the ``usage`` event (docs/protocol.md);
the lessons side saves them on the reply row and reads them back for the chat,
the turn log, the usage page and experiment results. Each of those takes its
fields from :class:`TurnRecord` (all of them, or a named choice of them) rather
than spelling the list out again. Nothing here may hold a key or a message's words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class TurnRecord:
    # The provider that answered (its admin name, or the model string of an unnamed one).
    provider: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    # None when the model has no known price, never 0: "unpriced" is not "free".
    cost_usd: float | None = None
    finish_reason: str | None = None
    time_to_first_token_ms: int | None = None
    total_time_ms: int | None = None
    # Provider calls the turn took, retries and fallbacks included.
    attempts: int | None = None
    # The admin provider that answered (its ProviderConfig pk; None for a bare model
    # string), which the lessons side keeps budgets and usage by. A database key means
    # nothing outside the server, so no frame carries it (PUBLIC_FIELD_NAMES).
    provider_id: int | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> TurnRecord:
        """The record of a mapping with its fields as keys (a ``usage`` event, say)."""
        return cls(**{name: values.get(name) for name in FIELD_NAMES if name in values})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def pick(self, names: Iterable[str]) -> dict[str, Any]:
        """Some of the fields by name, in the order given (a typo raises AttributeError)."""
        return {name: getattr(self, name) for name in names}


FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in fields(TurnRecord))
# The fields a browser is shown (the ``usage`` frame): all but the provider's id.
PUBLIC_FIELD_NAMES: tuple[str, ...] = tuple(name for name in FIELD_NAMES if name != "provider_id")
