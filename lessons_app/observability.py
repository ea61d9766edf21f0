"""What every tutor turn leaves behind for operators: a JSON log line and Prometheus metrics.

The log line goes to the ``tutor.turns`` logger as one JSON document per turn,
so a log shipper can index it without parsing prose. It carries numbers and
ids only; the learner's and tutor's words are added only when
``TUTOR_LOG_MESSAGE_TEXT`` is on, and a :class:`TurnRecord` has no field that
could hold a key. The metrics live in their own registry (not prometheus_client's
global one, which would also export process and platform collectors) and are
served by ``tutor_project.metrics``. They are per process: run one metrics
scrape target per worker process.

``settings.LOGGING`` writes the line with ``tutor_project.log_format``'s
JSON line formatter, which reads the turn's fields from the record's
:data:`TURN_ATTRIBUTE`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

logger = logging.getLogger("tutor.turns")

# The record attribute the JSON line formatter reads a turn's fields from: its
# FIELDS_ATTRIBUTE (tutor_project/log_format.py, which this app may not import).
TURN_ATTRIBUTE = "json_fields"
ERROR_STATUS = "error"  # lessons_app.models.Message.Status.ERROR, without importing models

REGISTRY = CollectorRegistry(auto_describe=True)
TURNS = Counter(
    "tutor_turns",
    "Tutor turns finished, by the provider that answered and the reply's status.",
    ["provider", "status"],
    registry=REGISTRY,
)
TURN_ERRORS = Counter(
    "tutor_turn_errors",
    "Tutor turns that ended in an error, by error code.",
    ["code"],
    registry=REGISTRY,
)
TIME_TO_FIRST_TOKEN = Histogram(
    "tutor_time_to_first_token_seconds",
    "Time from the start of a turn to the first token streamed to the learner.",
    buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60),
    registry=REGISTRY,
)
ACTIVE_SOCKETS = Gauge(
    "tutor_active_sockets",
    "Chat WebSockets open in this process.",
    registry=REGISTRY,
)


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


def turn_fields(record: TurnRecord, *, include_text: bool) -> dict[str, Any]:
    """The log line's fields; ``text`` only when the operator allowed message text in logs."""
    fields = asdict(record)
    text = fields.pop("text")
    fields = {"event": "turn", **fields}
    if include_text:
        fields["text"] = text
    return fields


def record_turn(record: TurnRecord) -> None:
    """Log and count one finished turn.

    Never raises: a turn's bookkeeping must not turn a delivered reply into an error.
    """
    try:
        TURNS.labels(provider=record.provider, status=record.status).inc()
        if record.status == ERROR_STATUS:
            TURN_ERRORS.labels(code=record.error_code or "unknown").inc()
        if record.time_to_first_token_ms is not None:
            TIME_TO_FIRST_TOKEN.observe(record.time_to_first_token_ms / 1000)
        fields = turn_fields(record, include_text=settings.TUTOR_LOG_MESSAGE_TEXT)
        # The message is the JSON document itself, so any formatter that prints
        # ``%(message)s`` writes one JSON line; JsonLineFormatter adds time and level.
        logger.info(
            json.dumps(fields, ensure_ascii=False, default=str),
            extra={TURN_ATTRIBUTE: fields},
        )
    except Exception:
        logger.exception("Recording turn %s failed", getattr(record, "message_id", "?"))


def socket_opened() -> None:
    """Count an open chat socket."""
    ACTIVE_SOCKETS.inc()


def socket_closed() -> None:
    """Count a closed chat socket."""
    ACTIVE_SOCKETS.dec()
