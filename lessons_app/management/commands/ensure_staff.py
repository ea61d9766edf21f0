"""Make sure a fresh install has one account that can log in to the admin."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

DEFAULT_USERNAME = "admin"


class Command(BaseCommand):
    help = (
        "Create a superuser if no staff account exists, with the password from "
        "DJANGO_SUPERUSER_PASSWORD or a generated one printed once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default=DEFAULT_USERNAME)

    def handle(self, *args, username: str, **options) -> None:
        users = get_user_model()
        staff = users.objects.filter(is_staff=True, is_active=True)
        if staff.exists():
            names = ", ".join(staff.order_by("pk").values_list("username", flat=True)[:3])
            self.stdout.write(f"A staff account already exists ({names}); nothing to do.")
            return
        if users.objects.filter(username=username).exists():
            # Never promote an existing account: anyone may have signed up with this name.
            raise CommandError(
                f"A non-staff user named {username!r} exists. Choose another name with "
                "--username, or run `manage.py createsuperuser`."
            )
        password = settings.DJANGO_SUPERUSER_PASSWORD
        generated = not password
        if generated:
            password = secrets.token_urlsafe(16)
        users.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Staff account created: {username} / {password} — shown only once; "
                    "change it in the admin."
                )
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Staff account created: {username} (password from DJANGO_SUPERUSER_PASSWORD)."
                )
            )
