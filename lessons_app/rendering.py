"""Turning lesson text into HTML that is safe to put in a page.

Article bodies come from staff but are often pasted from elsewhere, and tutor
replies come from a model that a learner (or an article) can talk into writing
anything, so every piece of markdown goes through one renderer and one
allowlist sanitiser before it reaches a template.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

EMPTY_HTML = SafeString("")

# CommonMark keeps raw HTML in the output; the sanitiser below decides what of
# it survives, so markdown-it only has to be a faithful renderer.
_markdown = MarkdownIt("commonmark").enable("table")

_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "details",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "ol": {"start"},
    # markdown-it writes column alignment as an inline style.
    "td": {"style"},
    "th": {"style"},
}
_IMAGE_ATTRIBUTES = {"src", "alt", "title", "width", "height"}
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_STYLE_PROPERTIES = frozenset({"text-align"})
# Links open beside the lesson, so a learner never loses their place in it.
_LINK_ATTRIBUTES = {"a": {"target": "_blank"}}


# Markdown on the learner pages sits under an <h2> (the stage title or the
# chat panel's), so its "# Heading" becomes an <h3> and the outline stays sound.
PAGE_HEADING_OFFSET = 2


def render_markdown(
    text: str | None, *, allow_images: bool = False, heading_offset: int = 0
) -> SafeString:
    """Render markdown to HTML that can be marked safe.

    Images are off by default: in a tutor reply a model could be talked into
    writing an image whose URL carries the conversation to a third party.
    Staff-written articles turn them on. ``heading_offset`` demotes headings so
    they nest under the page's own.
    """
    if not text:
        return EMPTY_HTML
    tokens = _markdown.parse(text)
    if heading_offset:
        for token in tokens:
            if token.type in ("heading_open", "heading_close"):
                token.tag = f"h{min(6, int(token.tag[1:]) + heading_offset)}"
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    tags = set(_TAGS)
    attributes = {tag: set(names) for tag, names in _ATTRIBUTES.items()}
    if allow_images:
        tags.add("img")
        attributes["img"] = set(_IMAGE_ATTRIBUTES)
    cleaned = nh3.clean(
        html,
        tags=tags,
        clean_content_tags={"script", "style"},
        attributes=attributes,
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer",
        set_tag_attribute_values=_LINK_ATTRIBUTES,
        filter_style_properties=set(_STYLE_PROPERTIES),
    )
    return mark_safe(cleaned)  # noqa: S308 - sanitised by nh3 just above


YOUTUBE_EMBED_BASE = "https://www.youtube-nocookie.com/embed/"


def youtube_embed_url(video_id: str, start: int = 0, end: int | None = None) -> str:
    """The privacy-enhanced embed URL that plays only the stage's span of the video."""
    params: dict[str, int] = {"start": start}
    if end is not None:
        params["end"] = end
    return f"{YOUTUBE_EMBED_BASE}{quote(video_id.strip(), safe='')}?{urlencode(params)}"


@dataclass(frozen=True)
class StageBody:
    """What the page shows for one stage's own content.

    ``unavailable`` is set when the content can't be cut (a broken excerpt
    anchor or transcript): learners get a friendly note, and ``problem`` says
    what is wrong so staff can fix it.
    """

    title: str
    kind: str
    # Shows the kind's content (lessons_app.stage_kinds).
    template: str = ""
    html: SafeString = EMPTY_HTML
    transcript: str = ""
    embed_url: str = ""
    unavailable: bool = False
    problem: str = ""
