"""Whether a socket may chat, decided in one trip to the database after its handshake.

The handshake is answered before this trip, not after it: Daphne drops a handshake its
application has not answered within ``--websocket_connect_timeout`` (its default 5 s;
``serve`` gives 30), and after a restart every learner's page reconnects at once, so
handshakes waiting for the database would time out, reconnect and queue again, and the
backlog would never clear. A refused socket is closed straight after the handshake, with
a code the page can read (a refused handshake shows a browser nothing but a network
failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from channels.auth import get_user

from lessons_app.ai_notice import notice_required
from lessons_app.models import Conversation, Lesson
from lessons_app.tutor.conversation import find_chat


class Refusal(IntEnum):
    """Close codes of a socket that may not chat (docs/protocol.md)."""

    UNAUTHENTICATED = 4401
    # The AI-use notice is on and the learner has not accepted it (lessons_app.ai_notice).
    NOTICE_NOT_ACCEPTED = 4403
    NOT_FOUND = 4404


@dataclass(frozen=True)
class Admission:
    """A socket's learner and chat, or why it may not have one."""

    user: Any
    lesson: Lesson | None = None
    conversation: Conversation | None = None
    refusal: Refusal | None = None


def admit(scope: dict[str, Any], slug: str) -> Admission:
    """The learner of ``scope`` (from its session) and their chat on lesson ``slug``.

    ``scope["user"]`` is set as Channels' ``AuthMiddleware`` would have set it: the
    stack defers that lookup to here (``lessons_app.tutor.database``).
    """
    user = get_user.func(scope)  # Channels' lookup (session, user, session hash), undecorated
    scope["user"]._wrapped = user
    if not user.is_authenticated:
        return Admission(user, refusal=Refusal.UNAUTHENTICATED)
    found = find_chat(user, slug)
    if found is None:
        return Admission(user, refusal=Refusal.NOT_FOUND)
    if notice_required(user):
        return Admission(user, refusal=Refusal.NOTICE_NOT_ACCEPTED)
    lesson, conversation = found
    return Admission(user, lesson, conversation)
