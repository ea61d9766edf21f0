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
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.utils.crypto import constant_time_compare

from lessons_app.ai_notice import notice_required
from lessons_app.models import Conversation, Lesson
from lessons_app.services import MODEL_BACKEND
from lessons_app.tutor.conversation import find_chat
from lessons_app.tutor.socket_reads import user_row


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


def session_user(scope: dict[str, Any]) -> AbstractBaseUser | AnonymousUser:
    """Channels' ``get_user``: the user the session names, checked against their session
    hash; the user's row read by a prepared query (lessons_app.tutor.socket_reads) when
    Django's ``ModelBackend`` logged them in, as it logs in everyone here.

    After a restart every socket reconnects at once, and the ORM building the user's
    query anew was the largest part of letting one in. Any other backend's users are
    looked up by Channels itself.
    """
    session = scope["session"]
    try:
        # Kept as a string in the session: the id as its field reads it (as Channels does).
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except KeyError:
        return AnonymousUser()
    if (
        backend_path != MODEL_BACKEND
        or backend_path not in settings.AUTHENTICATION_BACKENDS
        or type(user_id) is not int
    ):
        return get_user.func(scope)  # Channels' lookup, undecorated
    # ModelBackend.get_user: the row, and only if that user may log in (is active).
    user = user_row(user_id)
    if user is None or not ModelBackend().user_can_authenticate(user):
        return AnonymousUser()
    # As Channels verifies it: a password changed since logging in ends the session.
    session_hash = session.get(HASH_SESSION_KEY)
    if not (session_hash and constant_time_compare(session_hash, user.get_session_auth_hash())):
        session.flush()
        return AnonymousUser()
    return user


def admit(scope: dict[str, Any], slug: str) -> Admission:
    """The learner of ``scope`` (from its session) and their chat on lesson ``slug``.

    ``scope["user"]`` is set as Channels' ``AuthMiddleware`` would have set it: the
    stack defers that lookup to here (``lessons_app.tutor.database``).
    """
    user = session_user(scope)
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
