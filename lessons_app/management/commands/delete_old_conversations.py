"""Delete conversations older than TUTOR_CONVERSATION_RETENTION_DAYS; run it daily (cron)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from lessons_app import privacy


class Command(BaseCommand):
    help = (
        "Delete the tutor conversations whose last message is older than "
        "TUTOR_CONVERSATION_RETENTION_DAYS days (or --days), with their messages and ratings."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days", type=int, help="Use this many days instead of the setting (at least 1)."
        )

    def handle(self, *args, days: int | None = None, **options) -> None:
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        days = days or privacy.retention_days()
        if not days:
            self.stdout.write(
                "TUTOR_CONVERSATION_RETENTION_DAYS is 0: conversations are kept; nothing deleted."
            )
            return
        deleted = privacy.delete_old_conversations(now=timezone.now(), days=days)
        self.stdout.write(
            f"Deleted {deleted} conversation{'s' if deleted != 1 else ''} "
            f"with no message in the last {days} days."
        )
