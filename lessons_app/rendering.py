"""Turning lesson text into HTML that is safe to put in a page.

Article bodies come from staff but are often pasted from elsewhere, and tutor
replies come from a model that a learner (or an article) can talk into writing
anything, so every piece of markdown goes through one renderer and one
allowlist sanitiser before it reaches a template.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from urllib.parse import quote, urlencode, urlsplit

import nh3
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token

EMPTY_HTML = SafeString("")

# Math, as lessons/rich_text.js finds it in the chat: ``$$…$$`` and ``\[…\]`` displayed,
# ``\(…\)`` and ``$…$`` inline ("$…$" with no space just inside and no digit after, so
# "$5 and $10" stays text). Cut out before markdown's escapes can eat its backslashes,
# it becomes ``<span class="math-inline">TeX</span>`` (or ``math-display``), which the
# page typesets with KaTeX.
_MATH = re.compile(
    r"\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]|\\\((?P<i1>.+?)\\\)"
    r"|\$(?![\s$])(?P<i2>(?:\\.|[^\\$\n])+?)(?<![\s\\])\$(?!\d)",
    re.DOTALL,
)
MATH_INLINE_CLASS = "math-inline"
MATH_DISPLAY_CLASS = "math-display"
_MATH_RULE = "math"


def _math_rule(state: StateInline, silent: bool) -> bool:
    if state.src[state.pos] not in "$\\":
        return False
    match = _MATH.match(state.src, state.pos, state.posMax)
    if match is None or not (tex := next(g for g in match.groups() if g is not None).strip()):
        return False
    if not silent:
        token = state.push(_MATH_RULE, "span", 0)
        token.content = tex
        token.meta = {"display": match["d1"] is not None or match["d2"] is not None}
    state.pos = match.end()
    return True


def _render_math(self, tokens: list[Token], idx: int, options, env) -> str:
    token = tokens[idx]
    kind = MATH_DISPLAY_CLASS if token.meta["display"] else MATH_INLINE_CLASS
    return f'<span class="{kind}">{escape(token.content, quote=False)}</span>'


# CommonMark keeps raw HTML in the output; the sanitiser below decides what of
# it survives, so markdown-it only has to be a faithful renderer.
_markdown = MarkdownIt("commonmark").enable("table")
_markdown.inline.ruler.before("escape", _MATH_RULE, _math_rule)
_markdown.add_render_rule(_MATH_RULE, _render_math)

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
        "span",
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
    # Only a ``language-…`` class (``_keep_code_language``): highlighting needs it.
    "code": {"class"},
}
_CODE_LANGUAGE = re.compile(r"language-[A-Za-z0-9_+#-]{1,40}")
# markdown-it writes a table column's alignment as an inline style, which the
# Content-Security-Policy would refuse; it becomes one of these classes (site.css).
_ALIGNMENT_CLASSES = {"left": "align-left", "center": "align-center", "right": "align-right"}
_CLASSES = {
    **{tag: set(_ALIGNMENT_CLASSES.values()) for tag in ("td", "th")},
    "span": {MATH_INLINE_CLASS, MATH_DISPLAY_CLASS},
}
_IMAGE_ATTRIBUTES = {"src", "alt", "title", "width", "height"}
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Links open beside the lesson, so a learner never loses their place in it.
_LINK_ATTRIBUTES = {"a": {"target": "_blank"}}


# A line that starts a markdown block of its own: never joined to the line before.
_BLOCK_START = re.compile(r"\s*(?:[-*+>#|]|\d+[.)](?:\s|$)|```|~~~)")
_FENCE = re.compile(r"\s*(?:```|~~~)")


def join_wrapped_lines(text: str) -> str:
    """Each paragraph on one line, where the author wrapped it by hand.

    An authored opening message written as a YAML block scalar (``|-``) keeps the
    source's line breaks, and the chat (which shows a single line break as a break)
    would break its sentences there. Blank lines, list items, headings, quotes, table
    rows, code blocks and markdown's own hard breaks (two spaces or a backslash at the
    end of a line) stay as written.
    """
    lines: list[str] = []
    joinable = False  # the line before is paragraph text a next line may continue
    in_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
            lines.append(line)
            joinable = False
        elif in_code or not line.strip():
            lines.append(line)
            joinable = False
        elif joinable and not _BLOCK_START.match(line):
            lines[-1] = f"{lines[-1].rstrip()} {line.strip()}"
        else:
            lines.append(line)
        if not in_code and line.strip() and not _FENCE.match(line):
            last = lines[-1]
            joinable = not (last.endswith(("  ", "\\")) or last.lstrip().startswith(("#", "|")))
    return "\n".join(lines)


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
    for token in tokens:
        if token.type in ("th_open", "td_open"):
            _align_with_a_class(token)
    html = _markdown.renderer.render(tokens, _markdown.options, {})
    return mark_safe(_sanitise(html, allow_images=allow_images, refused_images=[]))  # noqa: S308 - sanitised by nh3


def _sanitise(html: str, *, allow_images: bool, refused_images: list[RefusedImage]) -> str:
    tags = set(_TAGS)
    attributes = {tag: set(names) for tag, names in _ATTRIBUTES.items()}
    if allow_images:
        tags.add("img")
        attributes["img"] = set(_IMAGE_ATTRIBUTES)

    def refuse_outside_images(tag: str, attribute: str, value: str) -> str | None:
        if tag == "code" and attribute == "class":
            return value if _CODE_LANGUAGE.fullmatch(value) else None
        if tag == "img" and attribute == "src":
            reason = image_refusal(value)
            if reason:
                refused_images.append(RefusedImage(value, reason))
                return None  # the image stays as its alt text, and loads nothing
        return value

    return nh3.clean(
        html,
        tags=tags,
        clean_content_tags={"script", "style"},
        attributes=attributes,
        attribute_filter=refuse_outside_images,
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer",
        set_tag_attribute_values=_LINK_ATTRIBUTES,
        allowed_classes=_CLASSES,
    )


@dataclass(frozen=True)
class RefusedImage:
    src: str
    reason: str


def image_refusal(src: str) -> str:
    """Why an authored image at ``src`` is not loaded ("" if it is).

    An image on another host tells that host who reads the lesson, and when. Only this
    site's own images (a path such as ``/static/...``) load, and those of the hosts staff
    list in ``TUTOR_IMAGE_HOSTS``, over HTTPS; the Content-Security-Policy's ``img-src``
    says the same to the browser.
    """
    parts = urlsplit(src.strip())
    if not parts.scheme and not parts.netloc:
        return ""
    host = parts.hostname or ""
    if host not in settings.TUTOR_IMAGE_HOSTS:
        return (
            f"{host or 'its host'} is not one of this site's image hosts "
            "(staff list them in TUTOR_IMAGE_HOSTS)"
        )
    if parts.scheme != "https":
        return f"it is not fetched over HTTPS (use https://{host}/...)"
    return ""


def refused_images(text: str | None) -> list[RefusedImage]:
    """The images of staff markdown ``text`` that learners' pages will not load, and why."""
    if not text:
        return []
    refused: list[RefusedImage] = []
    _sanitise(_markdown.render(text), allow_images=True, refused_images=refused)
    return refused


def _align_with_a_class(token: Token) -> None:
    style = token.attrs.pop("style", None)
    if isinstance(style, str) and style.startswith("text-align:"):
        alignment = _ALIGNMENT_CLASSES.get(style.removeprefix("text-align:"))
        if alignment:
            token.attrSet("class", alignment)


YOUTUBE_EMBED_BASE = "https://www.youtube-nocookie.com/embed/"


def youtube_embed_url(video_id: str, start: int = 0, end: int | None = None) -> str:
    """The privacy-enhanced embed URL that plays only the stage's span of the video."""
    params: dict[str, int] = {"start": start}
    if end is not None:
        params["end"] = end
    return f"{YOUTUBE_EMBED_BASE}{quote(video_id.strip(), safe='')}?{urlencode(params)}"


def video_file_url(url: str, start: int = 0, end: int | None = None) -> str:
    """A self-hosted video's address playing only the stage's span (a media fragment)."""
    url = url.strip()
    if not start and end is None:
        return url
    return f"{url}#t={start}" + (f",{end}" if end is not None else "")


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
    # A self-hosted video file (Stage.video_url), played instead of the embed.
    video_file_url: str = ""
    unavailable: bool = False
    problem: str = ""
