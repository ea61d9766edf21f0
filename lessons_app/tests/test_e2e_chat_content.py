"""A tutor reply with math, code and a table, in Chromium, under the Content-Security-Policy.

A served app of its own (DEBUG off, the policy enforced) answers with a fake OpenAI
provider in this process whose every reply is :data:`RICH_REPLY`: markdown with inline
and display math in all four notations, a Python code block and a table. The tests read
what the learner sees: KaTeX's typeset math (while streaming and after a reload), the
highlighted and copyable code block, the table's own scroll container, and no policy
violation. Screenshots at desktop and phone width go to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lessons_app.tests.served_app import app_env, set_up_app
from lessons_app.tests.test_e2e_chat import wait_for_connection, wait_for_reply
from lessons_app.tests.test_e2e_lesson import DEMO_SLUG, EMBED_HOST
from llm_app.testing import FakeOpenAIServer, Reply
from tutor_project.testing.browser import log_in
from tutor_project.testing.daphne import daphne_server

# The first test sets up two served apps (the shared one and this module's) and the last
# stops this one: more than the default 120 s on a busy machine.
pytestmark = pytest.mark.timeout(300)

LEARNER, PASSWORD = "rich-learner", "rich-learner-password-5521"
LESSON = f"/lessons/{DEMO_SLUG}/"
TIMEOUT_MS = 20_000
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
INTEGRAL = r"\int_0^1 x^2\,dx = \frac{1}{3}"
CODE = "def retention(t, s):\n    return math.exp(-t / s)"
RICH_REPLY = (
    r"Forgetting follows $R = e^{-t/S}$, and \(a\,b\) stays inline. Costs $5 and $10 are money."
    "\n\n"
    f"$${INTEGRAL}$$"
    "\n\n"
    r"\[ \sum_{n=1}^{\infty} \frac{1}{n^2} \]"
    "\n\n"
    f"```python\n{CODE}\n```"
    "\n\n"
    "| method | retention after a week |\n"
    "|---|---|\n"
    "| rereading | noticeably lower than the alternative |\n"
    "| retrieval practice | considerably higher, measured repeatedly |\n"
)
# An article with math, as authors write it: rendered by the server, typeset by the page.
ARTICLE_MATH = r"The curve is $R = e^{-t/S}$." "\n\n" r"$$\int_0^1 x^2\,dx$$" "\n\n"
SET_UP = f"""
from django.contrib.auth import get_user_model
from lessons_app.models import Stage
from llm_app.models import ProviderConfig
from llm_app.services import make_default
get_user_model().objects.create_user(username={LEARNER!r}, password={PASSWORD!r})
stage = Stage.objects.filter(lesson__slug={DEMO_SLUG!r}).order_by("position").first()
stage.body = {ARTICLE_MATH!r} + stage.body
stage.from_text = stage.to_text = ""
stage.save()
make_default(ProviderConfig.objects.create(
    name="Fake OpenAI", model="openai/gpt-4o-mini", api_base=API_BASE,
    api_key="rich-test-key", max_retries=0,
))
"""
# Every policy violation the page reports (an inline style KaTeX set would be one).
WATCH_VIOLATIONS_JS = """() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
        window.__violations.push(event.violatedDirective + ' ' + event.disposition);
    });
}"""
REPLY = "[data-chat-messages] > li[data-role='assistant']"


def rich_reply(**options) -> Reply:
    return Reply.text(RICH_REPLY, chunks=12, **options)


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(default_reply=rich_reply()) as server:
        yield server


@pytest.fixture(scope="module")
def rich_app(tmp_path_factory, fake_openai) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("rich_app")
    env = app_env(f"sqlite:///{workdir / 'db.sqlite3'}", redis_url=None)
    set_up_app(env, f"API_BASE = {fake_openai.url!r}\n" + SET_UP)
    with daphne_server(env, workdir / "daphne.log") as server:
        yield server.url


@pytest.fixture
def open_chat(local_page, rich_app):
    """A logged-in learner's lesson page on the rich app, its chat connected."""

    def open_it(viewport=DESKTOP):
        opened = local_page(
            viewport=viewport, timeout_ms=TIMEOUT_MS, ignored_hosts=(EMBED_HOST,), base_url=rich_app
        )
        opened.context.grant_permissions(["clipboard-read", "clipboard-write"])
        opened.page.add_init_script(f"({WATCH_VIOLATIONS_JS})()")
        log_in(opened.page, "/accounts/login/", LEARNER, PASSWORD)
        opened.page.goto(LESSON)
        wait_for_connection(opened.page)
        return opened

    return open_it


def ask(page, text: str = "How fast do we forget?") -> None:
    replies = page.locator(REPLY).count()
    box = page.get_by_label("Message the tutor")
    box.fill(text)
    box.press("Enter")
    wait_for_reply(page, "complete", count=replies + 1)


def tex_sources(reply) -> list[str]:
    """The TeX KaTeX typeset in ``reply``, read back from its MathML annotations."""
    return reply.locator("annotation[encoding='application/x-tex']").all_text_contents()


def assert_math_typeset(reply) -> None:
    assert reply.locator(".math-inline .katex").count() == 2
    assert reply.locator(".math-display .katex-display").count() == 2
    assert tex_sources(reply) == [
        "R = e^{-t/S}",
        r"a\,b",
        INTEGRAL,
        r"\sum_{n=1}^{\infty} \frac{1}{n^2}",
    ]
    assert "Costs $5 and $10 are money." in reply.locator(".chat-body").inner_text()
    assert reply.locator(".katex-error").count() == 0


@pytest.mark.browser
def test_math_is_typeset_while_streaming_after_reload_and_in_the_article(
    open_chat, fake_openai, artifacts_dir
):
    opened = open_chat()
    page = opened.page
    # The article's math, from the server's renderer.
    article = page.locator(".lesson-main .prose").first
    assert article.locator(".math-inline .katex").count() == 1
    assert article.locator(".math-display .katex-display").count() == 1
    assert tex_sources(article) == ["R = e^{-t/S}", r"\int_0^1 x^2\,dx"]

    # Held after 4 of 12 chunks: the math that has arrived is typeset mid-stream.
    fake_openai.enqueue(rich_reply(pause_at=4))
    page.get_by_label("Message the tutor").fill("How fast do we forget?")
    page.get_by_label("Message the tutor").press("Enter")
    fake_openai.wait_until_paused()
    page.wait_for_function(
        f"""() => {{
            const li = [...document.querySelectorAll("{REPLY}")].pop();
            return li && li.dataset.status === 'streaming'
                && li.querySelector('.math-inline .katex');
        }}"""
    )
    fake_openai.resume()
    wait_for_reply(page, "complete", count=1)
    reply = page.locator(REPLY).last
    assert_math_typeset(reply)
    page.screenshot(path=artifacts_dir / "chat-rich-reply-desktop.png", full_page=True)

    page.reload()
    wait_for_connection(page)
    assert_math_typeset(page.locator(REPLY).last)  # from the history frame
    assert page.evaluate("window.__violations") == []  # KaTeX's styles pass the policy
    opened.close_and_assert_local_and_error_free()


# The lowest contrast ratio (WCAG) of any text in the code block against its background.
LOWEST_CODE_CONTRAST_JS = """(pre) => {
    const rgb = (value) => value.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const luminance = ([r, g, b]) => {
        const [R, G, B] = [r, g, b].map((c) => {
            c /= 255;
            return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * R + 0.7152 * G + 0.0722 * B;
    };
    const ratio = (a, b) => {
        const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
        return (hi + 0.05) / (lo + 0.05);
    };
    const background = rgb(getComputedStyle(pre).backgroundColor);
    const nodes = [pre.querySelector('code'), ...pre.querySelectorAll('code span')];
    return Math.min(...nodes.map((node) => ratio(rgb(getComputedStyle(node).color), background)));
}"""


@pytest.mark.browser
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_code_block_is_highlighted_readable_focusable_and_copyable(
    open_chat, artifacts_dir, scheme
):
    opened = open_chat()
    page = opened.page
    page.emulate_media(color_scheme=scheme)
    ask(page)
    reply = page.locator(REPLY).last
    code = reply.locator(".code-block pre code.language-python.hljs")
    assert code.locator(".hljs-keyword").first.text_content() == "def"
    pre = reply.locator(".code-block pre")
    assert pre.get_attribute("tabindex") == "0"
    assert pre.get_attribute("role") == "region"
    assert pre.get_attribute("aria-label") == "Code (python)"
    assert pre.evaluate(LOWEST_CODE_CONTRAST_JS) >= 4.5
    pre.focus()
    assert page.evaluate("document.activeElement.tagName") == "PRE"

    copy = reply.get_by_role("button", name="Copy code (python)")
    copy.click()
    # It says so once the clipboard has taken the text, which the page awaits.
    copy.and_(page.locator("[data-copied]")).wait_for()
    assert copy.text_content() == "Copied"
    assert page.evaluate("navigator.clipboard.readText()") == CODE + "\n"
    page.screenshot(path=artifacts_dir / f"chat-code-{scheme}-desktop.png")
    opened.close_and_assert_local_and_error_free()


TOP_ITEMS_JS = """() => [...document.querySelectorAll('[data-chat-messages] > li')].map(
    (li) => li.dataset.role || li.className)"""


@pytest.mark.browser
def test_copy_regenerate_and_edit_in_two_tabs(open_chat, fake_openai, artifacts_dir):
    opened = open_chat()
    page = opened.page
    ask(page, "Which curve is it?")
    user = page.locator("[data-chat-messages] > li[data-role='user']").last
    reply = page.locator(REPLY).last

    # Copy gives the message's source: the markdown, math delimiters and all.
    reply.get_by_role("button", name="Copy this message").click()
    assert page.evaluate("navigator.clipboard.readText()") == RICH_REPLY
    user.get_by_role("button", name="Copy this message").click()
    assert page.evaluate("navigator.clipboard.readText()") == "Which curve is it?"

    other = open_chat()  # a second tab of the same learner
    fake_openai.enqueue(Reply.text("A **fresh** answer.", chunks=3))
    reply.get_by_role("button", name="Regenerate: write this reply again").click()
    for tab in (page, other.page):
        tab.wait_for_function(
            "() => document.querySelector(\"[data-chat-messages] > li[data-role='assistant']"
            "[data-status='complete']:last-of-type .chat-body\")?.textContent.trim()"
            " === 'A fresh answer.'"
        )
        assert tab.evaluate(TOP_ITEMS_JS)[-3:] == ["user", "chat-superseded", "assistant"]
    earlier = page.locator(".chat-superseded details")
    assert not earlier.evaluate("(details) => details.open")  # collapsed
    earlier.locator("summary").click()
    assert_math_typeset(earlier.locator("li[data-role='assistant']"))
    page.screenshot(path=artifacts_dir / "chat-regenerated-desktop.png")

    fake_openai.enqueue(Reply.text("About spacing.", chunks=2))
    user = page.locator("[data-chat-messages] > li[data-role='user']").last
    user.get_by_role("button", name="Edit your last message and send it again").click()
    box = page.get_by_label("Message the tutor")
    assert box.input_value() == "Which curve is it?"
    assert page.locator(".chat-editing").is_visible()
    box.fill("What does spacing do?")
    box.press("Enter")
    for tab in (page, other.page):
        tab.wait_for_function(
            "() => [...document.querySelectorAll(\"[data-chat-messages] > li[data-role='user']\")]"
            ".pop()?.textContent.includes('What does spacing do?')"
        )
        wait_for_reply(tab, "complete")
        assert (
            tab.locator(REPLY).last.locator(".chat-body").text_content().strip() == "About spacing."
        )
        assert tab.evaluate(TOP_ITEMS_JS)[-3:] == ["chat-superseded", "user", "assistant"]
    assert fake_openai.last_request.messages[-1]["content"] == "What does spacing do?"
    sent = str(fake_openai.last_request.messages)
    assert "Which curve" not in sent and "fresh" not in sent  # superseded: never sent again
    page.screenshot(path=artifacts_dir / "chat-edited-desktop.png")
    other.close_and_assert_local_and_error_free()
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_messages_carry_times_tables_scroll_and_the_reply_is_announced_once(
    open_chat, artifacts_dir
):
    opened = open_chat(PHONE)
    page = opened.page
    page.evaluate(
        """() => {
            window.__announced = [];
            const region = document.querySelector('[data-chat-announce]');
            new MutationObserver(() => {
                if (region.textContent) window.__announced.push(region.textContent);
            }).observe(region, {childList: true, characterData: true, subtree: true});
        }"""
    )
    ask(page)
    reply = page.locator(REPLY).last
    # Streamed text is in no live region; the end of the reply was announced once.
    assert page.locator("[data-chat-messages]").get_attribute("aria-live") is None
    assert reply.evaluate("(li) => li.closest('[aria-live]')") is None
    assert page.evaluate("window.__announced") == ["The tutor has replied."]

    for item in (reply, page.locator("[data-chat-messages] > li[data-role='user']").last):
        stamp = item.locator("time.chat-time")
        assert stamp.get_attribute("datetime").startswith("20")
        assert len(stamp.text_content()) >= 4  # "14:05"

    # The table scrolls in its own focusable container; no cell breaks a word.
    scroller = reply.locator(".table-scroll")
    assert scroller.get_attribute("tabindex") == "0"
    assert scroller.get_attribute("role") == "region"
    words_fit = reply.locator("td, th").evaluate_all(
        """(cells) => cells.every((cell) => {
            const range = document.createRange();
            return [...cell.childNodes].every((node) => {
                const words = node.textContent.split(/\\s+/).filter(Boolean);
                return words.every((word) => {
                    const probe = document.createElement('span');
                    probe.textContent = word;
                    probe.style.whiteSpace = 'nowrap';
                    cell.appendChild(probe);
                    const fits = probe.getBoundingClientRect().width <= cell.clientWidth;
                    probe.remove();
                    return fits;
                });
            });
        })"""
    )
    assert words_fit
    scroller.scroll_into_view_if_needed()
    page.screenshot(path=artifacts_dir / "chat-rich-reply-phone.png", full_page=True)
    opened.close_and_assert_local_and_error_free()
