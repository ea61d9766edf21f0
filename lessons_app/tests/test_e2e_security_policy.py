"""The Content-Security-Policy in Chromium: pages and chat work under it, injected script doesn't.

The served app (DEBUG off) sends the policy on every page; a learner reads the demo lesson
and chats with the demo tutor, and staff open the admin, with every console error
recorded (a refused resource is one). Then script injected into the lesson page's HTML
on its way to the browser, as a hole in the sanitiser would let through, is refused and
reported, while the same page without the header runs it: the test can fail. With
``CSP_REPORT_ONLY=1`` another served app sends the policy as report-only: the browser
reports the script and runs it.
"""

from __future__ import annotations

import pytest

from lessons_app.tests.served_app import app_env, set_up_app
from lessons_app.tests.test_e2e_chat import wait_for_connection, wait_for_reply
from lessons_app.tests.test_e2e_lesson import DEMO_SLUG, EMBED_HOST
from tutor_project.testing.browser import log_in
from tutor_project.testing.daphne import daphne_server

TIMEOUT_MS = 15_000
INJECTED = "<script>window.__injected = true</script>"
# Every policy violation the page reports, as the browser describes it.
WATCH_VIOLATIONS_JS = """() => {
    window.__violations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
        window.__violations.push(event.violatedDirective + ' ' + event.disposition);
    });
}"""
LESSON = f"/lessons/{DEMO_SLUG}/"
STAFF, STAFF_PASSWORD = "csp-staff", "csp-staff-password-2291"
CREATE_STAFF = f"""
from django.contrib.auth import get_user_model
get_user_model().objects.create_superuser(username={STAFF!r}, password={STAFF_PASSWORD!r})
"""


def inject_into_lesson_page(page, *, keep_policy: bool) -> None:
    """Put an inline script into the lesson page's HTML, its headers kept (or the policy's not)."""

    def inject(route):
        response = route.fetch()
        # Its length changes; and the policy goes, unless kept.
        dropped = ("content-length",) if keep_policy else ("content-length", "policy")
        headers = {k: v for k, v in response.headers.items() if not k.endswith(dropped)}
        body = response.text().replace("</main>", f"{INJECTED}</main>", 1)
        route.fulfill(response=response, headers=headers, body=body)

    page.route(f"**{LESSON}", inject)


def open_injected_lesson(page, *, keep_policy: bool) -> None:
    inject_into_lesson_page(page, keep_policy=keep_policy)
    page.add_init_script(f"({WATCH_VIOLATIONS_JS})()")
    # Only the page: Chromium treats a page fulfilled by the test as from outside the
    # local network, so it won't open the chat socket to 127.0.0.1 from it.
    page.goto(LESSON, wait_until="load")


@pytest.mark.browser
def test_pages_and_chat_work_under_the_policy(local_page, running_app, running_app_learner):
    opened = local_page(timeout_ms=TIMEOUT_MS, ignored_hosts=(EMBED_HOST,))
    page = opened.page
    response = page.goto("/accounts/login/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    log_in(page, "/accounts/login/", *running_app_learner)
    assert "content-security-policy" in page.goto(LESSON).headers
    wait_for_connection(page)  # the WebSocket is allowed
    box = page.get_by_label("Message the tutor")
    box.fill("Does rereading help?")
    box.press("Enter")
    wait_for_reply(page, "complete")
    opened.close_and_assert_local_and_error_free()  # no refused resource, no error


@pytest.mark.browser
def test_the_admin_works_under_the_policy(local_page, running_app, running_app_shell):
    running_app_shell(CREATE_STAFF)
    opened = local_page(timeout_ms=TIMEOUT_MS)
    page = opened.page
    log_in(page, "/admin/login/", STAFF, STAFF_PASSWORD)
    for path in [
        "/admin/",
        "/admin/lessons_app/lesson/",
        "/admin/lessons_app/lesson/1/change/",
        "/admin/lessons_app/stage/1/change/",
        "/admin/llm_app/providerconfig/add/",
        "/admin/usage/",
    ]:
        response = page.goto(path)
        assert response.status == 200, path
        assert "content-security-policy" in response.headers
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_an_injected_inline_script_is_refused_and_reported(
    local_page, running_app, running_app_learner
):
    opened = local_page(timeout_ms=TIMEOUT_MS, ignored_hosts=(EMBED_HOST,), console_errors=False)
    page = opened.page
    log_in(page, "/accounts/login/", *running_app_learner)
    open_injected_lesson(page, keep_policy=True)
    assert page.evaluate("window.__injected") is None
    assert page.evaluate("window.__violations") == ["script-src-elem enforce"]
    # Without the header the very same page runs it: the policy is what stopped it.
    open_injected_lesson(page, keep_policy=False)
    assert page.evaluate("window.__injected") is True
    opened.close_and_assert_local_and_error_free()


@pytest.mark.browser
def test_report_only_mode_reports_without_blocking(local_page, tmp_path, running_app_learner):
    env = app_env(
        f"sqlite:///{tmp_path / 'db.sqlite3'}",
        redis_url=None,
        CSP_REPORT_ONLY="1",
    )
    username, password = running_app_learner
    set_up_app(
        env,
        "from django.contrib.auth import get_user_model\n"
        f"get_user_model().objects.create_user(username={username!r}, password={password!r})",
    )
    with daphne_server(env, tmp_path / "daphne.log") as server:
        opened = local_page(
            timeout_ms=TIMEOUT_MS,
            ignored_hosts=(EMBED_HOST,),
            console_errors=False,
            base_url=server.url,
        )
        page = opened.page
        response = page.goto("/accounts/login/")
        assert "content-security-policy" not in response.headers
        assert "script-src 'self'" in response.headers["content-security-policy-report-only"]
        log_in(page, "/accounts/login/", username, password)
        open_injected_lesson(page, keep_policy=True)
        assert page.evaluate("window.__injected") is True
        assert page.evaluate("window.__violations") == ["script-src-elem report"]
        opened.close_and_assert_local_and_error_free()
