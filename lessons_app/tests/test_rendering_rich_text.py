"""Math and code in server-rendered markdown: kept for the page's KaTeX and highlight.js.

The page (lessons/rich_text.js) typesets ``span.math-inline`` / ``span.math-display``
and highlights ``code.language-…``; these tests pin what the server hands it, and that
the sanitiser still refuses everything else.
"""

from __future__ import annotations

import pytest

from lessons_app.rendering import render_markdown


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
