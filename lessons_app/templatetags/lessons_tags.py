"""Template filters for the learner pages."""

from datetime import timedelta

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import ngettext

from lessons_app.rendering import PAGE_HEADING_OFFSET, render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str | None, images: str = "") -> SafeString:
    """Render markdown safely under a page's <h2>.

    ``|markdown:"images"`` also keeps images: for staff content only, never tutor replies.
    """
    return render_markdown(
        text, allow_images=images == "images", heading_offset=PAGE_HEADING_OFFSET
    )


@register.filter(name="minutes")
def minutes_filter(duration: timedelta) -> str:
    """A lock-out's length as people say it: "15 minutes", "1 minute"."""
    count = max(1, round(duration.total_seconds() / 60))
    return ngettext("%(count)d minute", "%(count)d minutes", count) % {"count": count}
