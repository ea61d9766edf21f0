"""A learner chats with the offline demo tutor in a real browser against a real server.

Daphne serves the project with DEBUG off (the ``running_app`` fixture) and the
demo tutor as the default provider. Headless Chromium drives the chat panel
(lessons/chat.js): streaming, Stop, a dropped socket, reload, Retry, model output
that tries to inject HTML, ratings and the "Ready to move on?" transition.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from lessons_app.tests.test_e2e_lesson import DEMO_SLUG, EMBED_HOST, demo_lesson, fits_the_screen
from tutor_project.testing.browser import log_in

LEARNER = "e2e-chat-learner"
PASSWORD = "e2e-chat-learner-password-4417"
# Slower than the demo's default 0.03 s a word, so there is time to see a reply
# grow and to stop it halfway; a full reply still takes only about two seconds.
WORD_DELAY_SECONDS = 0.06
# For the steps that interrupt a reply: slow enough that even a busy machine cannot let the
# reply finish before the test presses Stop or drops the socket.
SLOW_WORD_DELAY_SECONDS = 0.5
TIMEOUT_MS = 15_000
# Page time to move on after the chat gives up reconnecting: well past chat.js's longest
# backoff (RECONNECT_MAX_MS), so any reconnect still scheduled would have been attempted.
RECONNECT_QUIET_MS = 60_000

SET_WORD_DELAY = """
from llm_app.models import ProviderConfig
from llm_app.services import DEMO_PROVIDER_NAME
updated = ProviderConfig.objects.filter(name=DEMO_PROVIDER_NAME, is_default=True).update(
    extra_params={{"word_delay": {delay}}}
)
assert updated == 1, "the running app's default tutor should be the offline demo tutor"
"""
CREATE_LEARNER = f"""
from django.contrib.auth import get_user_model
get_user_model().objects.create_user(username={LEARNER!r}, password={PASSWORD!r})
"""

REFUSAL = {
    "type": "error",
    "code": "busy",
    "message": "The tutor is still answering. Wait for the reply or press Stop.",
    "retryable": False,
    "rejected": "message",
}
XSS = '<script>window.__xss=1</script> <img src=x onerror="window.__xss=2">'

# What the list shows, item by item: kind, status and visible text.
LIST_ITEMS_JS = """() => [...document.querySelectorAll('[data-chat-messages] > li')].map(li => [
    li.dataset.role || li.className,
    li.dataset.status || '',
    (li.querySelector('.chat-bubble') || li).textContent.trim(),
])"""
REPLIES = "[data-chat-messages] > li[data-role='assistant']"
# True once there are at least `count` tutor replies and the newest has `status` and
# more than `longerThan` characters of text.
NEWEST_REPLY_IS_JS = f"""({{count, status, longerThan}}) => {{
    const replies = document.querySelectorAll("{REPLIES}");
    const li = replies[replies.length - 1];
    return Boolean(li) && replies.length >= count && li.dataset.status === status
        && li.querySelector('.chat-body').textContent.length > longerThan;
}}"""
# Records every DOM update of the streaming bubble, and whether the typing dots showed.
WATCH_STREAMING_JS = f"""() => {{
    window.__chatUpdates = [];
    window.__sawTyping = false;
    const list = document.querySelector('[data-chat-messages]');
    new MutationObserver(() => {{
        if (list.querySelector('.chat-typing')) window.__sawTyping = true;
        const li = [...document.querySelectorAll("{REPLIES}")].pop();
        if (li && li.dataset.status === 'streaming') {{
            window.__chatUpdates.push(li.querySelector('.chat-body').textContent.length);
        }}
    }}).observe(list, {{childList: true, subtree: true, characterData: true}});
}}"""


def send(page, text: str) -> None:
    box = page.get_by_label("Message the tutor")
    box.fill(text)
    box.press("Enter")


def wait_for_connection(page) -> None:
    """The history frame has arrived: the status line is cleared and Send is enabled."""
    page.locator("[data-chat-status]").wait_for(state="hidden")
    page.get_by_role("button", name="Send", exact=True).wait_for(state="visible")
    page.wait_for_function("() => !document.querySelector('[data-chat-send]').disabled")


def last_reply(page):
    return page.locator(REPLIES).last


def reply_count(page) -> int:
    return page.locator(REPLIES).count()


def wait_for_reply(page, status: str, *, count: int = 0, longer_than: int = -1) -> int:
    """Wait for the newest tutor reply to reach ``status``; return its text length."""
    page.wait_for_function(
        NEWEST_REPLY_IS_JS, arg={"count": count, "status": status, "longerThan": longer_than}
    )
    return len(last_reply(page).locator(".chat-body").text_content())


def send_and_wait(page, text: str) -> None:
    """Send ``text`` and wait for the tutor's whole reply to it."""
    replies = reply_count(page)
    send(page, text)
    wait_for_reply(page, "complete", count=replies + 1)


@pytest.fixture(scope="module")
def chat_learner(running_app_shell) -> str:
    """The learner these tests log in as, with the demo tutor slowed to WORD_DELAY_SECONDS."""
    running_app_shell(CREATE_LEARNER)
    running_app_shell(SET_WORD_DELAY.format(delay=WORD_DELAY_SECONDS))
    return LEARNER


def proxy_chat_sockets(page) -> list:
    """Pass the page's chat sockets through Playwright, so a test can drop one like a bad network.

    Returns the socket routes, one a connection, newest last.
    """
    sockets = []

    def proxy_socket(socket_route) -> None:
        socket_route.connect_to_server()
        sockets.append(socket_route)

    page.route_web_socket("**/ws/lessons/**", proxy_socket)
    return sockets


@pytest.mark.browser
def test_learner_chats_with_the_demo_tutor(
    local_page, running_app_shell, chat_learner, artifacts_dir
):
    titles = [stage["title"] for stage in demo_lesson()["stages"]]
    opened = local_page(timeout_ms=TIMEOUT_MS, ignored_hosts=(EMBED_HOST,))
    page = opened.page
    sockets = proxy_chat_sockets(page)
    log_in(page, "/accounts/login/", chat_learner, PASSWORD)
    page.goto(f"/lessons/{DEMO_SLUG}/")
    wait_for_connection(page)
    markers = page.locator(".chat-marker").all_inner_texts()
    assert markers == [f"Started reading: {titles[0]}"]
    # Before any reply, the panel already says the demo tutor will answer.
    assert page.locator("[data-chat-demo-note]").is_visible()

    # --- Streaming: Shift+Enter is a new line, Enter sends; the reply grows as it arrives.
    page.evaluate(WATCH_STREAMING_JS)
    box = page.get_by_label("Message the tutor")
    box.fill("Rereading feels productive")
    box.press("Shift+Enter")
    box.press_sequentially("because the words become familiar")
    assert box.input_value() == "Rereading feels productive\nbecause the words become familiar"
    assert page.locator("li[data-role='user']").count() == 0
    box.press("Enter")
    first = wait_for_reply(page, "streaming", longer_than=0)
    assert page.get_by_role("button", name="Send", exact=True).is_disabled()
    assert page.get_by_role("button", name="Stop").is_visible()
    second = wait_for_reply(page, "streaming", longer_than=first)
    assert second > first > 0
    page.screenshot(path=str(artifacts_dir / "chat-streaming.png"))
    # A refused frame (as the server sends for a second message mid-reply) shows a
    # notice but leaves the reply in flight streaming.
    sockets[-1].send(json.dumps(REFUSAL))
    page.get_by_text(REFUSAL["message"]).wait_for()
    wait_for_reply(page, "streaming", longer_than=second)
    wait_for_reply(page, "complete")
    reply = last_reply(page)
    assert page.locator("li[data-role='user'] .chat-bubble").last.inner_text() == (
        "Rereading feels productive\nbecause the words become familiar"
    )
    assert "You said:" in reply.locator(".chat-body").inner_text()
    assert reply.locator(".chat-body strong").inner_text() == titles[0]  # markdown rendered
    updates = [length for length in page.evaluate("window.__chatUpdates") if length]
    assert len(set(updates)) >= 2, updates
    assert updates == sorted(updates), "the streamed text only ever grows"
    assert page.evaluate("window.__sawTyping"), "no typing indicator before the first token"
    # The offline demo tutor is marked, on the reply and in the panel header.
    assert reply.get_by_text("Demo tutor", exact=True).is_visible()
    assert page.locator("[data-chat-demo-note]").is_visible()
    assert reply.locator(".chat-provider").is_hidden()  # provider names are for staff
    assert not page.get_by_role("button", name="Stop").is_visible()

    # --- Rating the reply: thumbs up, then a comment.
    reply.get_by_role("button", name="Helpful", exact=True).click()
    reply.get_by_text("Thanks!").wait_for()
    assert (
        reply.get_by_role("button", name="Helpful", exact=True).get_attribute("aria-pressed")
        == "true"
    )
    reply.get_by_label("Comment on this reply (optional)").fill("Clear and short.")
    reply.get_by_role("button", name="Save").click()
    reply.get_by_text("Thanks for the feedback.").wait_for()

    # --- Model output that tries to inject HTML and script is inert text.
    send_and_wait(page, XSS)
    reply = last_reply(page)
    assert XSS in reply.locator(".chat-body").inner_text()
    assert reply.locator("script, img").count() == 0
    assert page.locator("#chat-panel script, #chat-panel img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"
    page.screenshot(path=str(artifacts_dir / "chat-xss-inert.png"))

    # --- Stop mid-reply: the partial stays, marked stopped, with Retry.
    # (Providers are read afresh for every turn, so the slower tutor applies at once.)
    running_app_shell(SET_WORD_DELAY.format(delay=SLOW_WORD_DELAY_SECONDS))
    send(page, "Explaining an idea in your own words shows the gaps")
    wait_for_reply(page, "streaming", longer_than=len("You said: Explaining"))
    page.get_by_role("button", name="Stop").click()
    wait_for_reply(page, "stopped")
    stopped = last_reply(page)
    partial = stopped.locator(".chat-body").inner_text()
    assert partial.startswith("You said:")
    assert not partial.endswith("own words.")  # cut short, not the whole reply
    assert stopped.get_by_text("You stopped this reply.").is_visible()
    assert stopped.get_by_role("button", name="Retry this reply").is_visible()
    assert page.get_by_role("button", name="Send", exact=True).is_enabled()
    page.screenshot(path=str(artifacts_dir / "chat-stopped.png"))
    running_app_shell(SET_WORD_DELAY.format(delay=WORD_DELAY_SECONDS))

    # --- Retry regenerates the stopped reply (which stays in the history).
    replies = reply_count(page)
    last_reply(page).get_by_role("button", name="Retry this reply").click()
    wait_for_reply(page, "complete", count=replies + 1)
    assert page.get_by_role("button", name="Retry this reply").count() == 0

    replies_before_drop = reply_count(page)

    # --- A dropped connection mid-reply: "Reconnecting…", then the same reply goes on
    # streaming (the turn belongs to the conversation, not to the socket) and completes once.
    send(page, "Familiar words are not the same as understanding")
    wait_for_reply(page, "streaming", longer_than=0)
    connections = len(sockets)
    sockets[-1].close()
    page.get_by_text("Reconnecting…").wait_for()
    wait_for_connection(page)
    assert len(sockets) == connections + 1
    wait_for_reply(page, "complete", count=replies_before_drop + 1)
    finished = last_reply(page).locator(".chat-body").inner_text()
    assert finished.startswith("You said:")
    assert finished.count("You said:") == 1, "no part of the reply is shown twice"
    users = page.locator("li[data-role='user'] .chat-bubble").all_inner_texts()
    assert users[-1] == "Familiar words are not the same as understanding"
    assert len(users) == 4, users  # replaced, not appended to
    before = page.evaluate(LIST_ITEMS_JS)

    # --- Reload: exactly the same conversation, the stopped partial included.
    page.reload()
    wait_for_connection(page)
    after = page.evaluate(LIST_ITEMS_JS)
    assert after == before
    assert [item[1] for item in after if item[1]] == [
        "complete",
        "complete",
        "stopped",
        "complete",
        "complete",
    ]
    assert partial in [item[2] for item in after]
    rated = page.locator(REPLIES).first
    assert (
        rated.get_by_role("button", name="Helpful", exact=True).get_attribute("aria-pressed")
        == "true"
    )
    assert rated.get_by_label("Comment on this reply (optional)").input_value() == (
        "Clear and short."
    )
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("#chat-panel script, #chat-panel img").count() == 0
    page.screenshot(path=str(artifacts_dir / "chat-after-reload.png"))

    # --- On a chat stage the tutor can suggest moving on.
    for _ in range(2):
        with page.expect_navigation():
            page.get_by_role("button", name="Next", exact=True).click()
    assert page.locator("#stage-title").inner_text() == titles[2]
    wait_for_connection(page)
    opening = last_reply(page)
    opening.get_by_text("in your own words").wait_for()  # the stage's opening message
    prompt = page.get_by_text("Ready to move on?")
    send(page, "I'm ready to move on")
    prompt.wait_for()
    page.get_by_role("button", name="Continue chatting").click()
    assert prompt.is_hidden()
    send(page, "I think I got it, let's go")
    prompt.wait_for()
    page.screenshot(path=str(artifacts_dir / "chat-transition-prompt.png"))
    with page.expect_navigation():
        page.get_by_role("button", name="Next stage").click()
    assert page.locator("#stage-title").inner_text() == titles[3]
    wait_for_connection(page)
    assert page.locator(".chat-marker").last.inner_text() == f"Started reading: {titles[3]}"

    # --- Phone width: the panel fits and its controls are usable.
    page.set_viewport_size({"width": 375, "height": 812})
    panel = page.locator("#chat-panel")
    panel.scroll_into_view_if_needed()
    assert fits_the_screen(page)
    for control in (
        panel,
        page.get_by_label("Message the tutor"),
        page.get_by_role("button", name="Send", exact=True),
        page.get_by_role("button", name="Helpful", exact=True).last,
    ):
        box = control.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 375
    panel.screenshot(path=str(artifacts_dir / "chat-phone.png"))

    opened.close_and_assert_local_and_error_free()


# --- The panel against a scripted socket ---------------------------------------
# Frames a real provider could produce but the demo tutor never does: markdown with
# links and images, a provider failure, staff details. The page and its assets come
# from the running app; only the socket is played by the test, per docs/protocol.md.

MARKDOWN_REPLY = (
    "## A heading\n\n"
    "See [the guide](https://example.org/guide) and ![tracker](https://pixel.example/t.png).\n\n"
    '<a href="javascript:alert(1)">raw link</a> [bad link](javascript:alert(2))\n\n'
    "- **one**\n- `two`"
)
STAFF_DETAILS = {"provider": "Claude", "model": "anthropic/claude-test"}


def scripted_message(message_id: int, role: str, content: str = "", **fields) -> dict:
    message = {
        "id": message_id,
        "role": role,
        "content": content,
        "status": "complete",
        "error_code": "",
        "stage_id": 1,
        "created_at": "2025-01-01T00:00:00+00:00",
    }
    if role == "assistant":
        message.update(is_demo=False, rating=None)
    message.update(fields)
    return message


def chunks(text: str, size: int = 7) -> list[dict]:
    return [{"type": "text", "content": text[i : i + size]} for i in range(0, len(text), size)]


def failed_turn(frame: dict, user_id: int, text: str) -> list[dict]:
    """A scripted turn whose provider fails after ``text`` (the reply is ``user_id + 1``)."""
    return [
        {"type": "message", "message": scripted_message(user_id, "user", frame["content"])},
        {
            "type": "reply",
            "message": scripted_message(user_id + 1, "assistant", status="streaming"),
        },
        *chunks(text),
        {
            "type": "error",
            "code": "unavailable",
            "message": "The tutor's AI provider is unavailable at the moment.",
            "retryable": True,
        },
    ]


@pytest.mark.browser
def test_panel_renders_provider_output_safely_and_recovers_from_errors(
    local_page, chat_learner, artifacts_dir
):
    history = {
        "type": "history",
        "lesson": {"slug": DEMO_SLUG, "title": "Demo"},
        "stage": {"id": 1, "title": "Intro", "kind": "chat", "number": 1, "count": 1},
        "messages": [
            scripted_message(1, "system", "Started chatting: Intro"),
            scripted_message(2, "assistant", "Welcome back.", **STAFF_DETAILS),
        ],
        "max_message_chars": 40,
    }
    turns = [
        # A staff user's turn: the prompt first, then markdown from the model.
        lambda frame: [
            {"type": "message", "message": scripted_message(3, "user", frame["content"])},
            {
                "type": "reply",
                "message": scripted_message(4, "assistant", status="streaming", **STAFF_DETAILS),
            },
            {
                "type": "debug",
                "system": "You are <b>the tutor</b>.",
                "messages": [{"role": "user", "content": frame["content"]}],
            },
            *chunks(MARKDOWN_REPLY),
            {"type": "usage", "provider": "Gemini (fallback)", "model": "gemini/gemini-test"},
            {"type": "done"},
        ],
        # The provider fails halfway.
        lambda frame: failed_turn(frame, 5, "Half an ans"),
        # Retry.
        lambda frame: [
            {"type": "reply", "message": scripted_message(7, "assistant", status="streaming")},
            *chunks("A whole answer this time."),
            {"type": "done"},
        ],
        # The provider fails before its first word.
        lambda frame: failed_turn(frame, 8, ""),
    ]
    received: list[dict] = []

    def play_server(socket_route) -> None:
        def on_message(text: str) -> None:
            frame = json.loads(text)
            received.append(frame)
            for reply in turns.pop(0)(frame):
                socket_route.send(json.dumps(reply))

        socket_route.on_message(on_message)
        socket_route.send(json.dumps(history))

    opened = local_page(timeout_ms=TIMEOUT_MS)
    page = opened.page
    page.route_web_socket("**/ws/lessons/**", play_server)
    log_in(page, "/accounts/login/", chat_learner, PASSWORD)
    page.goto(f"/lessons/{DEMO_SLUG}/")
    wait_for_connection(page)
    assert page.locator("[data-chat-messages] > li").all_inner_texts()[0] == (
        "Started chatting: Intro"
    )
    welcome = last_reply(page)
    assert welcome.locator(".chat-provider").inner_text() == "Claude · anthropic/claude-test"
    assert page.locator("[data-chat-demo-note]").is_hidden()  # a real model answered

    # The counter appears near the limit; over it, Send is disabled.
    box = page.get_by_label("Message the tutor")
    box.fill("x" * 33)
    assert page.locator("[data-chat-counter]").inner_text() == "33 / 40"
    box.fill("x" * 45)
    assert "5 too many" in page.locator("[data-chat-counter]").inner_text()
    assert page.get_by_role("button", name="Send", exact=True).is_disabled()
    box.fill("Explain it with links")
    assert page.locator("[data-chat-counter]").is_hidden()

    box.press("Enter")
    wait_for_reply(page, "complete", count=2)
    reply = last_reply(page)
    body = reply.locator(".chat-body")
    assert body.locator("h4").inner_text() == "A heading"  # nested under the panel's h2
    link = body.get_by_role("link", name="the guide")
    assert link.get_attribute("href") == "https://example.org/guide"
    assert link.get_attribute("target") == "_blank"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert body.locator("img").count() == 0
    assert "tracker" in body.inner_text()  # the image's alt text stays
    assert '<a href="javascript:alert(1)">raw link</a>' in body.inner_text()
    assert body.locator("a[href^='javascript']").count() == 0
    assert body.locator("li strong").inner_text() == "one"
    assert body.locator("li code").inner_text() == "two"
    # Staff see the provider that answered (here a fallback) and the prompt, collapsed.
    assert reply.locator(".chat-provider").inner_text() == (
        "Gemini (fallback) · gemini/gemini-test"
    )
    prompt = reply.locator("details.chat-debug")
    assert prompt.locator("summary").inner_text() == "Prompt sent to the model"
    assert prompt.get_attribute("open") is None
    prompt.locator("summary").click()
    assert "You are <b>the tutor</b>." in prompt.locator("pre").inner_text()
    assert prompt.locator("b").count() == 0
    page.screenshot(path=str(artifacts_dir / "chat-markdown-staff.png"))

    # A provider failure ends the turn: its message, the partial text and Retry.
    send(page, "And now?")
    wait_for_reply(page, "error", count=3)
    failed = last_reply(page)
    assert failed.locator(".chat-body").inner_text() == "Half an ans"
    assert failed.get_by_text("The tutor's AI provider is unavailable").is_visible()
    assert page.get_by_role("button", name="Send", exact=True).is_enabled()
    page.screenshot(path=str(artifacts_dir / "chat-provider-error.png"))
    failed.get_by_role("button", name="Retry this reply").click()
    wait_for_reply(page, "complete", count=4)
    assert last_reply(page).locator(".chat-body").inner_text() == "A whole answer this time."
    assert page.get_by_role("button", name="Retry this reply").count() == 0
    assert last_reply(page).get_by_role("button", name="Copy this message").is_visible()

    # A reply that failed before its first word offers Retry, and nothing to copy.
    send(page, "Once more")
    wait_for_reply(page, "error", count=5)
    empty = last_reply(page)
    assert empty.get_by_role("button", name="Retry this reply").is_visible()
    assert empty.get_by_role("button", name="Copy this message").count() == 0
    assert received == [
        {"type": "message", "content": "Explain it with links"},
        {"type": "message", "content": "And now?"},
        {"type": "retry"},
        {"type": "message", "content": "Once more"},
    ]

    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_a_learner_logged_out_elsewhere_is_told_so_instead_of_reconnecting_for_ever(
    local_page, chat_learner, artifacts_dir
):
    # The server answers the reconnect's handshake and closes it with 4401, which the
    # page reads as final. Chromium may log dropped sockets as console errors: here that
    # is the point, so only uncaught page errors count.
    opened = local_page(timeout_ms=TIMEOUT_MS, console_errors=False)
    page = opened.page
    sockets = proxy_chat_sockets(page)
    log_in(page, "/accounts/login/", chat_learner, PASSWORD)
    page.clock.install()  # the lesson page's timers run on a clock the test can move on
    page.goto(f"/lessons/{DEMO_SLUG}/")
    wait_for_connection(page)

    # Logged out in another tab, then the connection drops: every reconnect is refused.
    page_checks = []
    page.on("request", lambda r: r.resource_type == "fetch" and page_checks.append(r.url))
    opened.context.clear_cookies()
    sockets[-1].close()
    page.get_by_text("Reconnecting…").wait_for()
    status = page.locator("[data-chat-status]")
    status.get_by_text("You've been logged out.").wait_for()
    link = status.get_by_role("link", name="Log in again")
    href = urlsplit(link.get_attribute("href"))
    assert href.path == "/accounts/login/"
    # Back to the stage the page shows, by its own address (the lesson page's URL says it).
    [next_path] = parse_qs(href.query)["next"]
    assert re.fullmatch(rf"/lessons/{DEMO_SLUG}/stages/\d+/", next_path), next_path
    assert page.get_by_label("Message the tutor").is_disabled()
    page.screenshot(path=str(artifacts_dir / "chat-logged-out.png"))
    # One refused reconnect told it (its close code, no need to ask the page), and it has
    # stopped trying: no new connection attempts after the verdict, however long.
    attempts = len(sockets)
    assert (attempts, page_checks) == (2, [])
    page.clock.run_for(RECONNECT_QUIET_MS)
    assert page.get_by_label("Message the tutor").is_disabled()  # a round trip to the page
    assert len(sockets) == attempts

    with page.expect_navigation():
        link.click()
    assert page.get_by_role("button", name="Log in").is_visible()
    assert parse_qs(urlsplit(page.url).query) == {"next": [next_path]}

    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_a_socket_closed_for_a_deploy_comes_back_at_once_a_dropped_one_after_its_backoff(
    local_page, chat_learner
):
    # A worker replaced by a deploy closes its sockets with 1012 (service restart) while
    # the new workers serve (tutor_project/serve/drain.py): the page reconnects within
    # 0.1 s. A socket dropped by the network waits chat.js's backoff, 0.25 s at least.
    opened = local_page(timeout_ms=TIMEOUT_MS, console_errors=False)
    page = opened.page
    sockets = proxy_chat_sockets(page)
    log_in(page, "/accounts/login/", chat_learner, PASSWORD)
    page.clock.install()
    page.goto(f"/lessons/{DEMO_SLUG}/")
    wait_for_connection(page)
    # From here the page's timers fire only when the test moves its clock on.
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)

    sockets[-1].close(code=1012, reason="Service restart")
    page.get_by_text("Reconnecting…").wait_for()
    page.clock.run_for(100)
    wait_for_connection(page)
    assert len(sockets) == 2

    sockets[-1].close()
    page.get_by_text("Reconnecting…").wait_for()
    page.clock.run_for(240)
    assert len(sockets) == 2  # still waiting out its backoff
    page.clock.run_for(300)
    wait_for_connection(page)
    assert len(sockets) == 3
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_a_page_whose_handshakes_fail_asks_the_page_after_two_and_never_before_one(
    local_page, chat_learner
):
    # A proxy on the way refuses the handshakes (the server never sees them) of a learner
    # logged out meanwhile: only the page itself can say so. The page is asked after a
    # failed handshake, never before an attempt: after a restart every page reconnects at
    # once, and a page load before each would bury the server.
    opened = local_page(timeout_ms=TIMEOUT_MS, console_errors=False)
    page = opened.page
    events: list[str] = []
    routes = []
    refusing = []

    def route_socket(socket_route) -> None:
        if refusing:
            events.append("handshake refused")
            socket_route.close()  # never connected: the page sees no open, only a close
            return
        events.append("socket")
        socket_route.connect_to_server()
        routes.append(socket_route)

    page.route_web_socket("**/ws/lessons/**", route_socket)
    page.on("request", lambda r: r.resource_type == "fetch" and events.append("page asked"))
    log_in(page, "/accounts/login/", chat_learner, PASSWORD)
    page.clock.install()
    page.goto(f"/lessons/{DEMO_SLUG}/")
    wait_for_connection(page)

    refusing.append(True)
    opened.context.clear_cookies()
    routes[-1].close()
    page.locator("[data-chat-status]").get_by_text("You've been logged out.").wait_for()

    assert events == ["socket", "handshake refused", "handshake refused", "page asked"]
    page.clock.run_for(RECONNECT_QUIET_MS)
    assert events[-1] == "page asked"  # the verdict is final: no further attempts
    opened.close_and_assert_local_and_error_free()
