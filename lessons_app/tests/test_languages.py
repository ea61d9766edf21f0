"""The learner's language: pages from Accept-Language or the chooser, the chat socket's
from its ``lang`` parameter, cookie or header, and the tutor told to reply in it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from lessons_app import prompts
from lessons_app.languages import language_of_scope
from lessons_app.models import Message
from lessons_app.reply_errors import ReplyErrorCode, learner_error_message
from lessons_app.tests.chat_helpers import connect, make_learner, receive, receive_turn, send
from lessons_app.tests.factories import ArticleStageFactory, LearnerFactory, LessonFactory


def scope(query: bytes = b"", **headers: str) -> dict:
    return {
        "query_string": query,
        "headers": [
            (name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()
        ],
    }


@pytest.mark.parametrize(
    ("given", "language"),
    [
        (scope(), "en"),
        (scope(accept_language="de-DE,de;q=0.9,en;q=0.5"), "de"),
        (scope(accept_language="fr-FR,fr;q=0.9"), "en"),
        (scope(cookie="django_language=de", accept_language="en"), "de"),
        (scope(b"lang=de", cookie="django_language=en"), "de"),
        (scope(b"lang=xx", accept_language="de"), "de"),
        (scope(cookie="bad cookie;;==", accept_language="de"), "de"),
    ],
)
def test_a_sockets_language_is_its_parameter_cookie_or_header(given, language):
    assert language_of_scope(given) == language


@pytest.mark.django_db
def test_pages_follow_the_browser_language_and_the_chooser(client):
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<html lang="de">' in html
    assert '<h1 id="login-title">Anmelden</h1>' in html
    assert 'action="/i18n/setlang/"' in html
    # The chooser wins over the browser, for the pages after it.
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert '<h1 id="login-title">Log in</h1>' in html


@pytest.mark.django_db
def test_stage_markers_are_written_in_the_learners_language(client):
    lesson = LessonFactory(slug="zellen")
    ArticleStageFactory(lesson=lesson, title="Zellen")
    client.force_login(LearnerFactory(username="lena"))
    html = client.get(lesson.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Abschnitt 1 von 1 · Artikel" in html
    assert Message.objects.get().content == "Lesen begonnen: Zellen"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("turn_runtime")
async def test_the_socket_speaks_the_learners_language_and_tells_the_tutor(monkeypatch):
    told: list[str] = []
    build = prompts.build_system_prompt_parts

    def spy(*args, **kwargs):
        told.append(kwargs.get("language", ""))
        return build(*args, **kwargs)

    monkeypatch.setattr(prompts, "build_system_prompt_parts", spy)
    user = await make_learner()
    communicator, connected, _ = await connect(user, "plants", query="lang=de")
    assert connected
    history = await receive(communicator)
    assert history["messages"][0]["content"] == "Lesen begonnen: Photosynthesis"
    await send(communicator, {"type": "message", "content": "   "})
    refused = await receive(communicator)
    assert refused["message"] == "Schreibe eine Nachricht, bevor du sendest."
    await send(communicator, {"type": "message", "content": "Was ist Chlorophyll?"})
    await receive(communicator)
    await receive_turn(communicator)
    await communicator.disconnect()
    assert told == ["de"]


@pytest.mark.parametrize("code", list(ReplyErrorCode))
def test_every_reply_error_code_reads_in_german_from_the_compiled_catalogue(code):
    """A new code (the seam's or the chat's) without a German text fails here."""
    with translation.override("en"):
        english = learner_error_message(code)
    with translation.override("de"):
        german = learner_error_message(code)
    assert english and german
    assert german != english
