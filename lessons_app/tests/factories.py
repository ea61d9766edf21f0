"""factory_boy factories for lessons, their stages, and the learners and staff using them.

Defaults are a published lesson, a complete stage of each kind and a user with
``PASSWORD``, so that a test spells out only the fields it is about. ``create()`` (the
default) saves; ``build()`` makes unsaved objects, for pure functions such as prompts.
``TurnLogFactory()`` is a finished turn as the log and the metrics see it.
Providers and turn records have theirs in ``llm_app.testing.factories``.
"""

from __future__ import annotations

import factory
from django.conf import settings
from django.utils.text import slugify
from factory.django import DjangoModelFactory

from lessons_app.models import Lesson, Stage
from lessons_app.observability import TurnLog
from llm_app.testing.factories import TurnRecordFactory

PASSWORD = "correct-horse-battery-staple"


class LessonFactory(DjangoModelFactory):
    class Meta:
        model = Lesson

    class Params:
        # An unpublished lesson: only staff may open it.
        draft = factory.Trait(is_published=False)

    title = factory.Sequence(lambda n: f"Lesson {n}")
    slug = factory.LazyAttribute(lambda lesson: slugify(lesson.title))
    is_published = True


class StageFactory(DjangoModelFactory):
    """A stage of the kind its subclass sets, after the stages made before it."""

    class Meta:
        model = Stage

    lesson = factory.SubFactory(LessonFactory)
    position = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Stage {n}")


class ArticleStageFactory(StageFactory):
    kind = Stage.Kind.ARTICLE
    body = "# Photosynthesis\n\nLeaves capture sunlight energy to make sugar from air."


class VideoStageFactory(StageFactory):
    kind = Stage.Kind.VIDEO
    video_id = "aB3_x9-KqL0"


class ChatStageFactory(StageFactory):
    kind = Stage.Kind.CHAT
    instructions = "Check the learner understood where a tree's mass comes from."


class LearnerFactory(DjangoModelFactory):
    """A user made as sign-up makes one (``create_user``); ``password=None``: none usable."""

    class Meta:
        model = settings.AUTH_USER_MODEL

    username = factory.Sequence(lambda n: f"learner{n}")
    password = PASSWORD

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class._default_manager.create_user(*args, **kwargs)


class StaffFactory(LearnerFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True


class TurnLogFactory(TurnRecordFactory):
    """A complete turn of learner ``user_id`` in lesson ``plants``, with no text kept."""

    class Meta:
        model = TurnLog

    conversation_id = factory.Sequence(lambda n: n + 1)
    message_id = factory.Sequence(lambda n: n + 1)
    user_id = factory.Sequence(lambda n: n + 1)
    lesson_slug = "plants"
    status = "complete"
    error_code = ""
    text = ""
