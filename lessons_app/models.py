"""Lessons, their stages, learners' progress and the tutor conversation history."""

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from lessons_app.reply_errors import ReplyErrorCode
from llm_app.turn_record import FIELD_NAMES as TURN_RECORD_FIELDS
from llm_app.turn_record import TurnRecord


class Lesson(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    summary = models.TextField(blank=True)
    is_published = models.BooleanField("published", default=False)
    position = models.PositiveIntegerField(
        default=0, help_text="Lessons are listed in ascending order of this number."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("lessons:detail", kwargs={"slug": self.slug})


class TutoringMode(models.TextChoices):
    """How the tutor teaches on a chat stage (lessons_app.prompts has each mode's prompt)."""

    OPEN = "open", "Open conversation"
    SOCRATIC = "socratic", "Socratic"
    HINT_LADDER = "hint_ladder", "Hint ladder"
    QUIZ = "quiz", "Quiz"


class Stage(models.Model):
    TutoringMode = TutoringMode

    class Kind(models.TextChoices):
        ARTICLE = "article", "Article"
        VIDEO = "video", "Video"
        CHAT = "chat", "Chat"

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveIntegerField(default=0, db_index=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    title = models.CharField(max_length=200)

    # Article
    body = models.TextField("markdown body", blank=True)
    from_text = models.TextField(
        blank=True, help_text="Excerpt starts at this text (inclusive). Empty: from the start."
    )
    to_text = models.TextField(
        blank=True, help_text="Excerpt ends after this text (inclusive). Empty: to the end."
    )

    # Video
    video_id = models.CharField("YouTube video id", max_length=32, blank=True)
    # A self-hosted file plays without YouTube (offline too); it wins over video_id.
    video_url = models.CharField(
        "video file URL",
        max_length=500,
        blank=True,
        help_text=(
            "A WebM or MP4 file, played instead of YouTube: a path on this site "
            "(/static/...) or an https:// address on a host in TUTOR_VIDEO_HOSTS."
        ),
    )
    start_seconds = models.PositiveIntegerField(default=0)
    end_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: play to the end of the video."
    )
    transcript = models.TextField(blank=True, help_text="WebVTT or SRT text.")

    # Chat
    instructions = models.TextField("tutor instructions", blank=True)
    show_user_previous_content = models.BooleanField(
        default=True, help_text="Show the previous stage's content beside the chat."
    )
    show_tutor_previous_content = models.BooleanField(
        default=True, help_text="Give the previous stage's content to the tutor."
    )
    opening_message = models.TextField(
        blank=True, help_text="If set, the tutor opens the chat with this message."
    )
    tutoring_mode = models.CharField(
        max_length=12,
        choices=TutoringMode.choices,
        default=TutoringMode.OPEN,
        help_text="How the tutor teaches on this chat stage.",
    )

    class Meta:
        ordering = ["lesson", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_seconds__isnull=True)
                | Q(end_seconds__gt=models.F("start_seconds")),
                name="stage_video_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class LearningObjective(models.Model):
    """A short statement of what a learner should show they understand.

    It belongs to its lesson, and to one chat stage of it if ``stage`` is set: the tutor
    of that stage (or of every chat stage, for a lesson-wide one) records it as met.
    """

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="objectives")
    stage = models.ForeignKey(
        Stage,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="objectives",
        help_text="Empty: an objective of the whole lesson.",
    )
    position = models.PositiveIntegerField(default=0)
    text = models.CharField(max_length=300)

    class Meta:
        ordering = ["lesson", "position", "id"]

    def __str__(self) -> str:
        return self.text

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Added on its stage's admin page, an objective belongs to that stage's lesson.
        if self.lesson_id is None and self.stage_id is not None:
            self.lesson_id = self.stage.lesson_id
        super().save(*args, **kwargs)

    def clean(self) -> None:
        other_lesson = self.stage_id is not None and self.lesson_id is not None
        if other_lesson and self.stage.lesson_id != self.lesson_id:
            raise ValidationError({"stage": "The stage must be one of this lesson's."})


QUESTION_NEEDS_ANSWER_OR_RUBRIC = (
    "A question needs an expected answer or a rubric to judge answers by."
)


class Question(models.Model):
    """A question a chat stage's tutor asks (quiz) or guides the learner to (other modes)."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="questions")
    position = models.PositiveIntegerField(default=0)
    prompt = models.TextField()
    expected_answer = models.TextField(blank=True)
    rubric = models.TextField(
        blank=True, help_text="How to judge an answer, where no single answer is right."
    )

    class Meta:
        ordering = ["stage", "position", "id"]

    def __str__(self) -> str:
        return self.prompt[:80]

    def clean(self) -> None:
        if not (self.expected_answer.strip() or self.rubric.strip()):
            raise ValidationError(QUESTION_NEEDS_ANSWER_OR_RUBRIC)


class Hint(models.Model):
    """One rung of a question's hint ladder, revealed in order."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="hints")
    position = models.PositiveIntegerField(default=0)
    text = models.TextField()

    class Meta:
        ordering = ["question", "position", "id"]

    def __str__(self) -> str:
        return self.text[:80]


class LearnerRecord(models.Model):
    """What the tutor recorded about a learner, and in which reply it did so."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class ObjectiveRecord(LearnerRecord):
    """A learning objective the tutor judged met by a learner, with its evidence."""

    objective = models.ForeignKey(
        LearningObjective, on_delete=models.CASCADE, related_name="records"
    )
    evidence = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "objective"], name="one_record_per_learner_objective"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} met {self.objective}"


class AnswerRecord(LearnerRecord):
    """A learner's answer to a question as the tutor judged it; one per attempt."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    correct = models.BooleanField()
    feedback = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.user} {'right' if self.correct else 'wrong'} on {self.question}"


class HintRecord(LearnerRecord):
    """A hint the tutor revealed to a learner."""

    hint = models.ForeignKey(Hint, on_delete=models.CASCADE, related_name="records")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "hint"], name="one_record_per_learner_hint")
        ]

    def __str__(self) -> str:
        return f"{self.user} saw {self.hint}"


class LessonProgress(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="progress")
    current_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL)
    completed = models.BooleanField(default=False)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "lesson progress"
        constraints = [
            models.UniqueConstraint(
                fields=["user", "lesson"], name="unique_progress_per_user_lesson"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.lesson}"


class Conversation(models.Model):
    """The tutor chat history of one learner in one lesson, across all its stages."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="conversations")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "lesson"], name="unique_conversation_per_user_lesson"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.lesson}"


class MessageStatus(models.TextChoices):
    COMPLETE = "complete", "Complete"
    STREAMING = "streaming", "Streaming"
    STOPPED = "stopped", "Stopped"
    ERROR = "error", "Error"
    # The process running the turn died; the checkpointed text is kept and can be retried.
    INTERRUPTED = "interrupted", "Interrupted"


# Replies that did not get to their end for a reason other than the learner's Stop:
# reports count them as errors.
FAILED_STATUSES = (MessageStatus.ERROR, MessageStatus.INTERRUPTED)


# Where a turn's record (llm_app.turn_record.TurnRecord) is kept on its reply row: in
# the column of the same name (``provider_id`` is the provider foreign key's), but for
# the provider's name, kept as the ``provider_name`` snapshot beside the provider itself,
# and finish_reason, which only the ``usage`` frame carries.
RECORD_COLUMNS: dict[str, str] = {
    name: "provider_name" if name == "provider" else name
    for name in TURN_RECORD_FIELDS
    if name != "finish_reason"
}
PROVIDER_NAME_LENGTH = 100
MODEL_LENGTH = 200


def turn_record_from(columns: Mapping[str, Any]) -> TurnRecord:
    """The record kept in a reply row's columns (some or all of ``RECORD_COLUMNS``)."""
    values: dict[str, Any] = {"provider": "", "model": ""}
    values.update(
        (name, columns[column]) for name, column in RECORD_COLUMNS.items() if column in columns
    )
    if values.get("cost_usd") is not None:
        values["cost_usd"] = float(values["cost_usd"])
    return TurnRecord.from_values(values)


def attribution_columns(provider_name: str, model: str) -> dict[str, str]:
    """A :class:`ProviderAttribution`'s name and model, cut to their columns' lengths.

    Both come from the admin or the environment, which allow longer text than the
    columns hold; the rest of a long name is not worth failing a turn over.
    """
    return {"provider_name": provider_name[:PROVIDER_NAME_LENGTH], "model": model[:MODEL_LENGTH]}


def record_columns(record: TurnRecord) -> dict[str, Any]:
    """The reply row's column values that keep ``record``, cut to the columns' lengths."""
    values = {column: getattr(record, name) for name, column in RECORD_COLUMNS.items()}
    values.update(attribution_columns(record.provider, record.model))
    if record.cost_usd is not None:
        values["cost_usd"] = Decimal(str(record.cost_usd))
    return values


class ProviderAttribution(models.Model):
    """Whose turn a row is: the admin provider, which budgets and usage are kept by,
    and its name and model at the time, kept beside it so that a renamed or deleted
    provider's rows keep their history. A bare model string has no admin provider.
    """

    provider = models.ForeignKey(
        "llm_app.ProviderConfig", null=True, blank=True, on_delete=models.SET_NULL
    )
    provider_name = models.CharField(max_length=PROVIDER_NAME_LENGTH, blank=True)
    model = models.CharField(max_length=MODEL_LENGTH, blank=True)

    class Meta:
        abstract = True


class Message(ProviderAttribution):
    class Role(models.TextChoices):
        USER = "user", "Learner"
        ASSISTANT = "assistant", "Tutor"
        SYSTEM = "system", "Stage marker"

    Status = MessageStatus
    ErrorCode = ReplyErrorCode

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETE)
    error_code = models.CharField(max_length=40, choices=ErrorCode.choices, blank=True)
    # Its attribution (ProviderAttribution) is the provider that answered; none, for a
    # turn the spending guard refused (see ``refusal``).
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    cache_read_tokens = models.PositiveIntegerField(null=True, blank=True)
    cache_write_tokens = models.PositiveIntegerField(null=True, blank=True)
    time_to_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    total_time_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Provider calls it took, fallbacks and retries included."
    )
    experiment_arm = models.ForeignKey(
        "llm_app.ExperimentArm",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    # Set on the reply of a turn the spending guard refused (it has no provider or model).
    refusal = models.OneToOneField(
        "TurnRefusal", null=True, blank=True, on_delete=models.SET_NULL, related_name="reply"
    )
    # A streaming reply is a turn in flight: which process runs it, and when that process
    # last said it was alive. Stale ones are finished as interrupted (lessons_app.tutor.sweep).
    runner_id = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Set when the learner edited their last message or regenerated the reply: the
    # message stays in the record (and in history frames, marked), but the model is not
    # sent it again and the chat shows it collapsed (docs/protocol.md, "Edit and regenerate").
    superseded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"])]
        constraints = [
            # At most one turn in flight per conversation, whichever socket or process
            # starts it: the database decides, so no race between workers can run two.
            models.UniqueConstraint(
                fields=["conversation"],
                condition=Q(status=MessageStatus.STREAMING),
                name="one_turn_in_flight_per_conversation",
            ),
            models.CheckConstraint(
                condition=Q(error_code="") | Q(error_code__in=ReplyErrorCode.values),
                name="message_error_code_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.content[:40]}"

    def turn_record(self) -> TurnRecord:
        """The reply's numbers as saved; a refused reply names the provider that refused it.

        Read ``refusal`` with the row (``select_related``) where it may be set: this is
        called from async code, which must not query.
        """
        record = turn_record_from(
            {column: getattr(self, column) for column in RECORD_COLUMNS.values()}
        )
        if self.refusal_id is not None:
            refusal = self.refusal
            record = replace(
                record,
                provider=refusal.provider_name,
                model=refusal.model,
                provider_id=refusal.provider_id,
            )
        return record


class TurnRefusal(ProviderAttribution):
    """A turn the spending guard refused: no provider was called, so it is nobody's turn.

    The learner sees it as a tutor reply that ended with the refusal's error (its
    ``reply``, which names no provider or model, so reports never count it as a turn);
    the usage page counts refusals from here, by the provider that would have answered.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="refusals"
    )
    code = models.CharField(
        max_length=40,
        choices=[
            (code.value, code.label)
            for code in (ReplyErrorCode.BUDGET_EXCEEDED, ReplyErrorCode.DAILY_LIMIT)
        ],
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_code_display()} ({self.provider_name or self.model})"


class MessageRating(models.Model):
    """A learner's thumbs up or down on one tutor reply."""

    class Value(models.IntegerChoices):
        UP = 1, "Thumbs up"
        DOWN = -1, "Thumbs down"

    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="rating")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    value = models.SmallIntegerField(choices=Value.choices)
    comment = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(value__in=[1, -1]), name="rating_is_up_or_down")
        ]

    def __str__(self) -> str:
        return f"{self.get_value_display()} on message {self.message_id}"


class AiNoticeAcceptance(models.Model):
    """A learner's acknowledgement of the AI-use notice (``TUTOR_AI_NOTICE``), once.

    Kept with the notice as it read then, so that what they agreed to can be shown later
    even if the notice is reworded.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ai_notice_acceptance"
    )
    notice = models.TextField()
    accepted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user} accepted the AI-use notice on {self.accepted_at:%Y-%m-%d}"


class UploadedImage(models.Model):
    """An image staff uploaded for articles, served by the app from the database.

    In the database, not on disk, so that every server process (and host) serves it
    with no shared file system; articles show it with a path on this site
    (``![alt](/images/3/leaf.png)``), which the image rules always allow.
    """

    name = models.CharField(
        max_length=100, help_text="The file's name, as it appears in its address."
    )
    content_type = models.CharField(max_length=40, editable=False)
    data = models.BinaryField(editable=False)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("lessons:uploaded_image", kwargs={"pk": self.pk, "name": self.name})


class EvalRun(ProviderAttribution):
    """One ``manage.py tutor_eval`` run: the tutor evaluated, its scores and full report.

    Its attribution is the tutor's provider, so experiments compare their arms' providers
    on evaluation scores. Personas are not learners: a run keeps its conversations here,
    in ``report`` (the JSON file's content), never as conversations or messages.
    """

    lesson = models.ForeignKey(Lesson, on_delete=models.CASCADE, related_name="eval_runs")
    judge_name = models.CharField(max_length=PROVIDER_NAME_LENGTH, blank=True)
    started_at = models.DateTimeField(db_index=True)
    conversations = models.PositiveIntegerField(default=0)
    # The share of applicable verdicts that passed, 0-1; None when none applied.
    score = models.FloatField(null=True, blank=True)
    report = models.JSONField(default=dict)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.lesson} with {self.provider_name} at {self.started_at:%Y-%m-%d %H:%M}"


class ModerationFlag(models.Model):
    """A learner message the provider's moderation endpoint marked harmful (TUTOR_MODERATION).

    Staff see it on the lesson's Learners page; the learner never does, and nothing is
    blocked: the check runs beside the reply, after the message is saved.
    """

    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="moderation_flag"
    )
    # The endpoint's flagged categories, e.g. ["harassment"].
    categories = models.JSONField(default=list)
    provider_name = models.CharField(max_length=PROVIDER_NAME_LENGTH, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Flagged ({', '.join(self.categories)}): message {self.message_id}"
