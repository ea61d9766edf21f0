"""Lessons, their stages, learners' progress and the tutor conversation history."""

from django.conf import settings
from django.db import models
from django.db.models import Q


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


class Stage(models.Model):
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


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "Learner"
        ASSISTANT = "assistant", "Tutor"
        SYSTEM = "system", "Stage marker"

    Status = MessageStatus

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETE)
    error_code = models.CharField(max_length=40, blank=True)
    provider_name = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=200, blank=True)
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
    # A streaming reply is a turn in flight: which process runs it, and when that process
    # last said it was alive. Stale ones are finished as interrupted (lessons_app.tutor.sweep).
    runner_id = models.CharField(max_length=64, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
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
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.content[:40]}"


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
