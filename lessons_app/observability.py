"""What every tutor turn leaves behind for operators: a log line and metrics."""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger("tutor.turns")


@dataclass(frozen=True)
class TurnRecord:
    conversation_id: int
    message_id: int
    user_id: int
    lesson_slug: str
    provider: str
    model: str
    status: str
    error_code: str
    attempts: int | None
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float | None
    time_to_first_token_ms: int | None
    total_time_ms: int
    text: str


def record_turn(record: TurnRecord) -> None:
    """Log and count one finished turn."""
    logger.info("turn %s finished: %s", record.message_id, record.status)


def socket_opened() -> None:
    """Count an open chat socket."""


def socket_closed() -> None:
    """Count a closed chat socket."""
