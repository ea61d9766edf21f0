"""The tutor's teaching tools: their definitions, the check of a call, and what it records.

The model calls ``record_objective_met``, ``record_answer`` or ``reveal_hint`` with
arguments (OpenAI function format, which LiteLLM passes to every provider). A call is
acted on only if its arguments match the tool's JSON schema and name an objective or
question of the stage being taught (:func:`check_call`); anything else is logged and
ignored, and the learner never sees it. :func:`record_call` saves a checked call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jsonschema
from django.db import transaction
from django.utils import timezone

from lessons_app.models import (
    AnswerRecord,
    HintRecord,
    LessonProgress,
    ObjectiveRecord,
    TutoringMode,
)
from lessons_app.teaching import LearnerTeaching, StageTeaching

logger = logging.getLogger(__name__)

EVIDENCE_MAX_LENGTH = 2000
FEEDBACK_MAX_LENGTH = 2000


class TeachingTool(StrEnum):
    RECORD_OBJECTIVE_MET = "record_objective_met"
    RECORD_ANSWER = "record_answer"
    REVEAL_HINT = "reveal_hint"


def _function(name: TeachingTool, description: str, properties: dict[str, Any]) -> dict:
    return {
        "type": "function",
        "function": {
            "name": name.value,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
                "additionalProperties": False,
            },
        },
    }


_ID = {"type": "integer", "description": "The id shown in square brackets in your instructions."}

TOOLS: dict[TeachingTool, dict[str, Any]] = {
    TeachingTool.RECORD_OBJECTIVE_MET: _function(
        TeachingTool.RECORD_OBJECTIVE_MET,
        "Record that the learner has shown one of the stage's learning objectives. Call it "
        "once per objective, only when the learner has earned it in their own words.",
        {
            "objective_id": _ID,
            "evidence": {
                "type": "string",
                "minLength": 1,
                "maxLength": EVIDENCE_MAX_LENGTH,
                "description": "What the learner said or did that shows it, briefly.",
            },
        },
    ),
    TeachingTool.RECORD_ANSWER: _function(
        TeachingTool.RECORD_ANSWER,
        "Record your judgement of the learner's answer to one of the stage's questions.",
        {
            "question_id": _ID,
            "correct": {"type": "boolean", "description": "Whether the answer is right."},
            "feedback": {
                "type": "string",
                "maxLength": FEEDBACK_MAX_LENGTH,
                "description": "One or two sentences of feedback on the answer.",
            },
        },
    ),
    TeachingTool.REVEAL_HINT: _function(
        TeachingTool.REVEAL_HINT,
        "Show the learner the next hint of one of the stage's questions. Hints are shown "
        "in order, one per call.",
        {"question_id": _ID},
    ),
}


def tools_for(teaching: StageTeaching) -> list[dict[str, Any]]:
    """The teaching tools a stage's tutor is given: only those it has something to record with."""
    offered: list[TeachingTool] = []
    if teaching.objectives:
        offered.append(TeachingTool.RECORD_OBJECTIVE_MET)
    if teaching.questions and teaching.mode == TutoringMode.QUIZ:
        offered.append(TeachingTool.RECORD_ANSWER)
    has_hints = any(question.hints for question in teaching.questions)
    if has_hints and teaching.mode in (TutoringMode.SOCRATIC, TutoringMode.HINT_LADDER):
        offered.append(TeachingTool.REVEAL_HINT)
    return [TOOLS[tool] for tool in offered]


@dataclass(frozen=True)
class CheckedCall:
    """A teaching tool call fit to record: its tool and its (schema-valid) arguments."""

    tool: TeachingTool
    arguments: Mapping[str, Any]


def is_teaching_tool(name: str) -> bool:
    return name in TeachingTool._value2member_map_


def _refuse(name: str, reply_id: int, why: str) -> None:
    logger.warning("Ignored the tutor's %s call in reply %s: %s", name, reply_id, why)


def check_call(
    name: str,
    arguments: Mapping[str, Any],
    teaching: StageTeaching,
    offered: list[dict[str, Any]],
    *,
    reply_id: int,
) -> CheckedCall | None:
    """The call, if it may be recorded; ``None`` (logged) for a tool not offered, arguments
    that break its schema, or an id that is not one of this stage's."""
    if not is_teaching_tool(name) or all(t["function"]["name"] != name for t in offered):
        _refuse(name, reply_id, "the tool was not offered on this stage")
        return None
    tool = TeachingTool(name)
    try:
        jsonschema.validate(dict(arguments), TOOLS[tool]["function"]["parameters"])
    except jsonschema.ValidationError as exc:
        _refuse(name, reply_id, f"arguments do not match its schema ({exc.message})")
        return None
    if tool == TeachingTool.RECORD_OBJECTIVE_MET:
        known = teaching.objective(arguments["objective_id"]) is not None
    else:
        known = teaching.question(arguments["question_id"]) is not None
    if not known:
        _refuse(name, reply_id, "the id is not one of this stage's")
        return None
    return CheckedCall(tool, arguments)


def record_call(
    call: CheckedCall,
    *,
    user: Any,
    lesson_id: int,
    reply_id: int,
    teaching: StageTeaching,
    state: LearnerTeaching,
) -> bool:
    """Save a checked call for ``user`` and update ``state``; false if it changed nothing
    (an objective met already, a question with no hint left to reveal)."""
    args = call.arguments
    with transaction.atomic():
        if call.tool == TeachingTool.RECORD_OBJECTIVE_MET:
            objective_id = args["objective_id"]
            _, created = ObjectiveRecord.objects.get_or_create(
                user=user,
                objective_id=objective_id,
                defaults={"evidence": args["evidence"], "message_id": reply_id},
            )
            state.met.add(objective_id)
            changed = created
        elif call.tool == TeachingTool.RECORD_ANSWER:
            AnswerRecord.objects.create(
                user=user,
                question_id=args["question_id"],
                correct=args["correct"],
                feedback=args["feedback"],
                message_id=reply_id,
            )
            state.answers[args["question_id"]] = args["correct"]
            changed = True
        else:
            changed = _reveal_next_hint(user, reply_id, teaching, state, args["question_id"])
        if changed:
            # The learner's progress on the lesson shows this as their last activity.
            LessonProgress.objects.filter(user=user, lesson_id=lesson_id).update(
                updated_at=timezone.now()
            )
    return changed


def _reveal_next_hint(
    user: Any, reply_id: int, teaching: StageTeaching, state: LearnerTeaching, question_id: int
) -> bool:
    question = teaching.question(question_id)
    hint = state.next_hint(question) if question is not None else None
    if hint is None:
        _refuse(TeachingTool.REVEAL_HINT, reply_id, f"question {question_id} has no hint left")
        return False
    HintRecord.objects.get_or_create(user=user, hint_id=hint.id, defaults={"message_id": reply_id})
    state.hints_shown[question_id] = state.hints_shown.get(question_id, 0) + 1
    return True
