"""One learner's tutor chat in one lesson: turns, persistence and stage moves.

The consumer hands every validated frame to a :class:`ChatSession`, which
saves the learner's message before the model is called, streams the tutor's
reply through :func:`lessons_app.prompts.send_message`, and saves what the
learner saw however the turn ends: done, failed, stopped or disconnected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import Http404

from lessons_app import guard, observability, prompts, services
from lessons_app.content import AnchorNotFound, TranscriptError, previous_stage, stage_content
from lessons_app.frames import (
    STOPPED,
    STOPPED_MESSAGE,
    ClientFrame,
    Command,
    FrameError,
    FrameErrorCode,
    ServerFrame,
)
from lessons_app.models import Conversation, Lesson, LessonProgress, Message, Stage
from lessons_app.observability import TurnRecord
from lessons_app.ratings import ratings_for
from llm_app.demo_provider import is_demo_model
from llm_app.events import ErrorCode, EventType, error_event
from llm_app.providers import ResolvedProvider, aresolve_provider

logger = logging.getLogger(__name__)

SendFrame = Callable[[dict[str, Any]], Awaitable[None]]

# Replies whose text the model sees again in later turns; failed ones are left out.
_REPLAYED_STATUSES = (Message.Status.COMPLETE, Message.Status.STOPPED)


def serialize_message(
    message: Message, *, for_staff: bool, rating: tuple[int, str] | None = None
) -> dict[str, Any]:
    """A stored message as the browser sees it; provider details only for staff."""
    data: dict[str, Any] = {
        "id": message.pk,
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "error_code": message.error_code,
        "stage_id": message.stage_id,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }
    if message.role == Message.Role.ASSISTANT:
        data["is_demo"] = is_demo_model(message.model)
        data["rating"] = {"value": rating[0], "comment": rating[1]} if rating else None
        if for_staff:
            data.update(
                provider=message.provider_name,
                model=message.model,
                input_tokens=message.input_tokens,
                output_tokens=message.output_tokens,
                cost_usd=float(message.cost_usd) if message.cost_usd is not None else None,
                time_to_first_token_ms=message.time_to_first_token_ms,
            )
    return data


def serialize_stage(progress: LessonProgress, stages: list[Stage]) -> dict[str, Any]:
    index = services.current_stage_index(progress, stages) if stages else 0
    stage = stages[index] if stages else None
    return {
        "id": stage.pk if stage else None,
        "title": stage.title if stage else "",
        "kind": stage.kind if stage else "",
        "number": index + 1,
        "count": len(stages),
        "is_last": index == len(stages) - 1,
        "completed": progress.completed,
    }


@dataclass
class TurnContext:
    stage: Stage
    history: list[dict[str, str]]
    current_content: str
    previous_content: str


# --- Database work, run in a thread by the session ---------------------------


def _safe_content(stage: Stage | None) -> str:
    """Stage content for the prompt; broken authoring leaves the tutor without it, not broken."""
    try:
        return stage_content(stage)
    except (AnchorNotFound, TranscriptError) as exc:
        logger.warning("Stage %s content unavailable for the tutor: %s", stage.pk, exc)
        return ""


def find_visible_lesson(user, slug: str) -> Lesson | None:
    """The lesson a socket may chat about, or ``None`` (drafts only for staff)."""
    try:
        return services.get_visible_lesson_or_404(user, slug)
    except Http404:
        return None


def current_stage(user, lesson: Lesson) -> tuple[LessonProgress, list[Stage], Stage | None]:
    progress = services.get_or_start_progress(user, lesson)
    stages = services.ordered_stages(lesson)
    stage = stages[services.current_stage_index(progress, stages)] if stages else None
    return progress, stages, stage


def load_history(conversation: Conversation, *, for_staff: bool) -> list[dict[str, Any]]:
    rated = ratings_for(conversation)
    return [
        serialize_message(message, for_staff=for_staff, rating=rated.get(message.pk))
        for message in conversation.messages.order_by("created_at", "id")
    ]


def build_turn_context(conversation: Conversation, stage: Stage, exclude: set[int]) -> TurnContext:
    rows = conversation.messages.exclude(pk__in=exclude).order_by("created_at", "id")
    history = [
        {"role": row.role, "content": row.content}
        for row in rows
        if row.role != Message.Role.ASSISTANT or row.status in _REPLAYED_STATUSES
    ]
    previous = previous_stage(stage) if stage.kind == Stage.Kind.CHAT else None
    return TurnContext(
        stage=stage,
        history=history,
        current_content=_safe_content(stage),
        previous_content=_safe_content(previous),
    )


def save_reply_row(conversation: Conversation, stage: Stage, provider: ResolvedProvider) -> Message:
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        stage=stage,
        status=Message.Status.STREAMING,
        provider_name=provider.label[:100],
        model=provider.model[:200],
        experiment_arm_id=provider.experiment_arm_id,
    )


def finish_reply_row(
    message: Message,
    *,
    content: str,
    status: str,
    error_code: str = "",
    usage: dict[str, Any] | None = None,
    first_token_ms: int | None,
    total_ms: int,
) -> None:
    message.content = content
    message.status = status
    message.error_code = error_code
    message.time_to_first_token_ms = first_token_ms
    message.total_time_ms = total_ms
    if usage:
        message.input_tokens = usage.get("input_tokens")
        message.output_tokens = usage.get("output_tokens")
        message.cache_read_tokens = usage.get("cache_read_tokens")
        message.cache_write_tokens = usage.get("cache_write_tokens")
        message.attempts = usage.get("attempts")
        # The provider that finally answered, which a fallback may have changed.
        message.provider_name = (usage.get("provider") or message.provider_name)[:100]
        message.model = (usage.get("model") or message.model)[:200]
        cost = usage.get("cost_usd")
        message.cost_usd = Decimal(str(cost)) if cost is not None else None
    message.save()


def last_reply(conversation: Conversation) -> Message | None:
    return (
        conversation.messages.filter(role=Message.Role.ASSISTANT)
        .order_by("created_at", "id")
        .last()
    )


def needs_opening(conversation: Conversation, stage: Stage | None) -> bool:
    """A chat stage the tutor has not yet spoken on opens with a tutor message."""
    return (
        stage is not None
        and stage.kind == Stage.Kind.CHAT
        and not conversation.messages.filter(role=Message.Role.ASSISTANT, stage=stage).exists()
    )


def save_opening_message(conversation: Conversation, stage: Stage) -> Message:
    return Message.objects.create(
        conversation=conversation,
        role=Message.Role.ASSISTANT,
        stage=stage,
        content=stage.opening_message.strip(),
        status=Message.Status.COMPLETE,
        provider_name="Lesson author",
    )


def save_user_message(conversation: Conversation, stage: Stage | None, content: str) -> Message:
    return Message.objects.create(
        conversation=conversation, role=Message.Role.USER, stage=stage, content=content
    )


# --- The session --------------------------------------------------------------


class ChatSession:
    """The server side of one open chat socket."""

    def __init__(self, user, lesson: Lesson, send: SendFrame):
        self.user = user
        self.lesson = lesson
        self.send = send
        self.for_staff = bool(user.is_staff)
        self.show_debug = self.for_staff and settings.TUTOR_DEBUG_PROMPTS
        self.conversation: Conversation | None = None
        self.stage: Stage | None = None
        self._turn: asyncio.Task | None = None

    @property
    def busy(self) -> bool:
        return self._turn is not None and not self._turn.done()

    async def open(self) -> None:
        """Send the saved history, then let the tutor open a chat stage it hasn't spoken on."""
        self.conversation = await database_sync_to_async(services.get_conversation)(
            self.user, self.lesson
        )
        progress, stages, self.stage = await database_sync_to_async(current_stage)(
            self.user, self.lesson
        )
        history = await database_sync_to_async(load_history)(
            self.conversation, for_staff=self.for_staff
        )
        await self.send(
            {
                "type": ServerFrame.HISTORY.value,
                "lesson": {"slug": self.lesson.slug, "title": self.lesson.title},
                "stage": serialize_stage(progress, stages),
                "messages": history,
                "max_message_chars": settings.TUTOR_MAX_MESSAGE_CHARS,
            }
        )
        await self._open_stage()

    async def handle(self, command: Command) -> None:
        handlers = {
            ClientFrame.MESSAGE: self._on_message,
            ClientFrame.STOP: self._on_stop,
            ClientFrame.RETRY: self._on_retry,
            ClientFrame.ADVANCE: self._on_advance,
        }
        try:
            await handlers[command.type](command)
        except FrameError as exc:
            await self.send(exc.as_frame())

    async def close(self) -> None:
        """Stop any reply in flight and wait until its partial text is saved."""
        if self.busy:
            self._turn.cancel()
            await asyncio.gather(self._turn, return_exceptions=True)

    # --- frame handlers ---

    def _refuse_if_busy(self, command: Command) -> None:
        if self.busy:
            raise FrameError(
                FrameErrorCode.BUSY,
                "The tutor is still answering. Wait for the reply or press Stop.",
                rejected=command.type,
            )

    async def _on_message(self, command: Command) -> None:
        self._refuse_if_busy(command)
        message = await database_sync_to_async(save_user_message)(
            self.conversation, self.stage, command.content
        )
        await self.send(
            {
                "type": ServerFrame.MESSAGE.value,
                "message": serialize_message(message, for_staff=self.for_staff),
            }
        )
        self._start_turn()

    async def _on_stop(self, command: Command) -> None:
        if not self.busy:
            raise FrameError(
                FrameErrorCode.NOTHING_TO_STOP, "No reply is in progress.", rejected=command.type
            )
        await self.close()

    async def _on_retry(self, command: Command) -> None:
        self._refuse_if_busy(command)
        reply = await database_sync_to_async(last_reply)(self.conversation)
        if reply is None or reply.status not in (Message.Status.ERROR, Message.Status.STOPPED):
            raise FrameError(
                FrameErrorCode.NOTHING_TO_RETRY,
                "Only a failed or stopped reply can be retried.",
                rejected=command.type,
            )
        self._start_turn(exclude={reply.pk})

    async def _on_advance(self, command: Command) -> None:
        self._refuse_if_busy(command)
        progress = await database_sync_to_async(services.advance)(self.user, self.lesson)
        progress, stages, self.stage = await database_sync_to_async(current_stage)(
            self.user, self.lesson
        )
        markers = await database_sync_to_async(load_history)(
            self.conversation, for_staff=self.for_staff
        )
        await self.send(
            {
                "type": ServerFrame.STAGE.value,
                "stage": serialize_stage(progress, stages),
                "messages": markers,
            }
        )
        await self._open_stage()

    # --- turns ---

    async def _open_stage(self) -> None:
        if not await database_sync_to_async(needs_opening)(self.conversation, self.stage):
            return
        if self.stage.opening_message.strip():
            message = await database_sync_to_async(save_opening_message)(
                self.conversation, self.stage
            )
            await self.send(
                {
                    "type": ServerFrame.MESSAGE.value,
                    "message": serialize_message(message, for_staff=self.for_staff),
                }
            )
        else:
            self._start_turn()

    def _start_turn(self, exclude: set[int] | None = None) -> None:
        self._turn = asyncio.create_task(self._run_turn(exclude or set()))

    async def _run_turn(self, exclude: set[int]) -> None:
        stage = self.stage
        provider = await aresolve_provider(user=self.user)
        reply = await database_sync_to_async(save_reply_row)(self.conversation, stage, provider)
        await self.send(
            {
                "type": ServerFrame.REPLY.value,
                "message": serialize_message(reply, for_staff=self.for_staff),
            }
        )
        refusal = await database_sync_to_async(guard.check_turn_allowed)(self.user, provider)
        if refusal is not None:
            await database_sync_to_async(finish_reply_row)(
                reply,
                content="",
                status=Message.Status.ERROR,
                error_code=refusal.code,
                first_token_ms=None,
                total_ms=0,
            )
            await self.send(
                {
                    "type": ServerFrame.ERROR.value,
                    "code": refusal.code,
                    "message": refusal.message,
                    "retryable": False,
                }
            )
            self._record_turn(reply)
            return
        started = time.monotonic()
        first_token_at: float | None = None
        parts: list[str] = []
        outcome = {"status": Message.Status.ERROR, "error_code": ErrorCode.INTERNAL, "usage": None}
        try:
            context = await database_sync_to_async(build_turn_context)(
                self.conversation, stage, exclude | {reply.pk}
            )
            debug_frames: list[dict] = []

            def on_prompt(system: str, messages: list[dict]) -> None:
                if self.show_debug:
                    debug_frames.append(prompts.debug_payload(system, messages))

            async for event in prompts.send_message(
                context.history,
                stage,
                current_content=context.current_content,
                previous_content=context.previous_content,
                provider=provider,
                on_prompt=on_prompt,
            ):
                while debug_frames:
                    await self.send(debug_frames.pop(0))
                kind = event["type"]
                if kind == EventType.TEXT:
                    if first_token_at is None:
                        first_token_at = time.monotonic()
                    parts.append(event["content"])
                elif kind == EventType.USAGE:
                    outcome["usage"] = event
                elif kind == EventType.DONE:
                    outcome.update(status=Message.Status.COMPLETE, error_code="")
                elif kind == EventType.ERROR:
                    outcome.update(status=Message.Status.ERROR, error_code=event["code"])
                await self.send(event)
        except asyncio.CancelledError:
            outcome.update(status=Message.Status.STOPPED, error_code=STOPPED)
            await self._send_quietly(
                {
                    "type": ServerFrame.ERROR.value,
                    "code": STOPPED,
                    "message": STOPPED_MESSAGE,
                    "retryable": True,
                }
            )
            raise
        except Exception:
            logger.exception(
                "Tutor turn failed unexpectedly (conversation %s)", reply.conversation_id
            )
            await self._send_quietly(error_event(ErrorCode.INTERNAL))
        finally:
            first_token_ms = round((first_token_at - started) * 1000) if first_token_at else None
            await database_sync_to_async(finish_reply_row)(
                reply,
                content="".join(parts),
                status=outcome["status"],
                error_code=outcome["error_code"],
                usage=outcome["usage"],
                first_token_ms=first_token_ms,
                total_ms=round((time.monotonic() - started) * 1000),
            )
            self._record_turn(reply)

    def _record_turn(self, reply: Message) -> None:
        """One structured log line and the metrics for a finished (or refused) turn."""
        observability.record_turn(
            TurnRecord(
                conversation_id=reply.conversation_id,
                message_id=reply.pk,
                user_id=self.user.pk,
                lesson_slug=self.lesson.slug,
                provider=reply.provider_name,
                model=reply.model,
                status=reply.status,
                error_code=reply.error_code,
                attempts=reply.attempts,
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                cost_usd=float(reply.cost_usd) if reply.cost_usd is not None else None,
                time_to_first_token_ms=reply.time_to_first_token_ms,
                total_time_ms=reply.total_time_ms,
                text=reply.content,
            )
        )

    async def _send_quietly(self, frame: dict[str, Any]) -> None:
        """Send if the socket is still open; a closed one has nobody to tell."""
        try:
            await self.send(frame)
        except Exception:  # noqa: BLE001 - the browser may already be gone
            logger.debug("Could not send %s frame; socket closed", frame.get("type"))
