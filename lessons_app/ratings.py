"""Learners rating the tutor's replies (thumbs up or down, optional comment).

The ratings feed the A/B experiment results, so only a reply's own learner may
rate it: a message that is not theirs is reported as missing
(``Message.DoesNotExist``, a 404) so that ids of other learners' messages
can't be probed, and their own non-tutor messages are refused with
:class:`RatingNotAllowed` (a ``PermissionDenied``, so Django answers 403).
A reply may be rated whatever its status: the browser shows the buttons once
the stream ends, which can be a moment before the row's final status is saved.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext

from lessons_app.models import Conversation, Message, MessageRating

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

MAX_COMMENT_CHARS = 2000
ALLOWED_VALUES = (MessageRating.Value.UP, MessageRating.Value.DOWN)


class RatingNotAllowed(PermissionDenied):
    """The learner may see this message but not rate it (it is not a tutor reply)."""


def _own_message(user: AbstractBaseUser, message_id: int) -> Message:
    if user is None or not user.is_authenticated:
        raise Message.DoesNotExist("No such message.")
    try:
        message_id = int(message_id)
    except (TypeError, ValueError):
        raise Message.DoesNotExist("No such message.") from None
    message = Message.objects.filter(pk=message_id, conversation__user=user).first()
    if message is None:
        raise Message.DoesNotExist("No such message.")
    if message.role != Message.Role.ASSISTANT:
        raise RatingNotAllowed(gettext("Only the tutor's replies can be rated."))
    return message


def clean_value(value: object) -> int:
    """``1`` or ``-1``; bools and strings are refused so a sloppy client is caught early."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in ALLOWED_VALUES:
        raise ValidationError(
            "A rating must be 1 (thumbs up) or -1 (thumbs down).", code="invalid_rating"
        )
    return int(value)


def clean_comment(comment: str | None) -> str:
    """Trimmed comment; NUL characters are dropped because PostgreSQL text cannot hold them."""
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise ValidationError("A comment must be text.", code="invalid_comment")
    comment = comment.replace("\x00", "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError(
            gettext("Keep the comment to {limit} characters or fewer (it has {length}).").format(
                limit=MAX_COMMENT_CHARS, length=len(comment)
            ),
            code="comment_too_long",
        )
    return comment


def rate_message(
    user: AbstractBaseUser, message_id: int, value: int, comment: str | None = ""
) -> MessageRating:
    """Rate one of the learner's tutor replies; rating it again replaces the earlier rating.

    Raises ``Message.DoesNotExist`` (not theirs or no such message),
    :class:`RatingNotAllowed` (not a tutor reply) or ``ValidationError``
    (bad value or comment), checked in that order so a bad request about
    someone else's message still says only "not found".
    """
    message = _own_message(user, message_id)
    value = clean_value(value)
    comment = clean_comment(comment)
    with transaction.atomic():
        rating, _ = MessageRating.objects.update_or_create(
            message=message, defaults={"user": user, "value": value, "comment": comment}
        )
    return rating


def clear_rating(user: AbstractBaseUser, message_id: int) -> bool:
    """Remove the learner's rating of a reply; ``False`` if there was none to remove."""
    message = _own_message(user, message_id)
    deleted, _ = MessageRating.objects.filter(message=message).delete()
    return deleted > 0


def ratings_of(messages: Iterable[Message]) -> dict[int, tuple[int, str]]:
    """:func:`ratings_for` read off messages loaded with ``select_related("rating")``: no query."""
    ratings = {}
    for message in messages:
        try:
            rating = message.rating
        except MessageRating.DoesNotExist:
            continue
        ratings[message.pk] = (rating.value, rating.comment)
    return ratings


def ratings_for(conversation: Conversation) -> dict[int, tuple[int, str]]:
    """``{message_id: (value, comment)}`` for a conversation, to show existing ratings on load."""
    return {
        message_id: (value, comment)
        for message_id, value, comment in MessageRating.objects.filter(
            message__conversation=conversation
        ).values_list("message_id", "value", "comment")
    }
