"""What stops ``python -m tutor_project.serve`` before it starts anything."""


class Misconfigured(Exception):
    """Serving cannot start as asked; the message says what to change."""
