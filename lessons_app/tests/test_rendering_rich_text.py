"""Math and code in server-rendered markdown, kept for the page's KaTeX and highlight.js;
and authored opening messages without the YAML source's hard line breaks.

The page (lessons/rich_text.js) typesets ``span.math-inline`` / ``span.math-display``
and highlights ``code.language-…``; these tests pin what the server hands it, and that
the sanitiser still refuses everything else.
"""

from __future__ import annotations

import pytest

from lessons_app import services
from lessons_app.management.commands.load_demo import DEMO_FIXTURE
from lessons_app.models import Stage
from lessons_app.rendering import join_wrapped_lines, render_markdown
from lessons_app.tests.factories import LearnerFactory
from lessons_app.tutor.conversation import Opening, open_stage
from lessons_app.yaml_io import import_lessons_file


def test_inline_and_display_math_keep_their_backslashes():
    html = render_markdown(r"Decay $R = e^{-t/S}$ and \(a\,b\)." "\n\n" r"$$\int_0^1 x^2\,dx$$")
    assert '<span class="math-inline">R = e^{-t/S}</span>' in html
    assert r'<span class="math-inline">a\,b</span>' in html
    assert r'<span class="math-display">\int_0^1 x^2\,dx</span>' in html


def test_bracket_display_math():
    html = render_markdown(r"\[ \frac{a}{b} \]")
    assert r'<span class="math-display">\frac{a}{b}</span>' in html


@pytest.mark.parametrize(
    "text",
    [
        "It costs $5 and $10.",  # a digit after the closing dollar: money, not math
        "A lone $ sign",
        r"Escaped \$x\$ dollars",
        "`$in code$`",
    ],
)
def test_text_that_is_not_math_stays_text(text):
    assert "math-" not in render_markdown(text)


def test_math_source_is_escaped_not_parsed_as_html():
    html = render_markdown(r"$<script>alert(1)</script>$")
    assert "<script>" not in html
    assert '<span class="math-inline">&lt;script&gt;alert(1)&lt;/script&gt;</span>' in html


def test_a_code_block_keeps_its_language_class():
    html = render_markdown("```python\nprint(1)\n```")
    assert '<code class="language-python">print(1)' in html


def test_other_classes_are_dropped():
    html = render_markdown(
        '<code class="evil">c</code> <span class="other" onclick="x()">o</span>'
        ' <span class="math-inline" onclick="x()">m</span>'
    )
    assert "evil" not in html
    assert "other" not in html
    assert "onclick" not in html
    assert '<span class="math-inline">m</span>' in html


def test_hand_wrapped_paragraphs_are_joined_and_markdown_blocks_kept():
    text = (
        "Hi! Before we go on: in your own words, why might trying to remember\n"
        "something help you more than reading it again?\n"
        "\n"
        "- one item\n"
        "  that continues\n"
        "- two\n"
        "# A heading\n"
        "Line with a hard break  \n"
        "after it\n"
        "```\n"
        "code stays\n"
        "as written\n"
        "```\n"
        "| a | b |\n"
        "| - | - |"
    )
    assert join_wrapped_lines(text) == (
        "Hi! Before we go on: in your own words, why might trying to remember "
        "something help you more than reading it again?\n"
        "\n"
        "- one item that continues\n"
        "- two\n"
        "# A heading\n"
        "Line with a hard break  \n"
        "after it\n"
        "```\n"
        "code stays\n"
        "as written\n"
        "```\n"
        "| a | b |\n"
        "| - | - |"
    )


@pytest.mark.django_db
def test_the_demo_chat_stage_opens_with_its_message_unwrapped():
    import_lessons_file(DEMO_FIXTURE)
    stage = Stage.objects.get(title="Check your understanding")
    assert "remember\nsomething" in stage.opening_message  # as the YAML source wraps it
    user = LearnerFactory()
    conversation = services.get_conversation(user, stage.lesson)
    opening, message = open_stage(conversation, stage)
    assert opening == Opening.AUTHORED
    assert message.content == (
        "Hi! Before we go on: in your own words, why might trying to remember "
        "something help you more than reading it again?"
    )
