"""docs/protocol.md names every frame and code the code defines (and the code names none extra)."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from lessons_app.reply_errors import ReplyErrorCode
from lessons_app.tutor.protocol import ClientFrame, FrameErrorCode, ServerFrame
from llm_app.events import ErrorCode, EventType

DOC = (Path(settings.BASE_DIR) / "docs" / "protocol.md").read_text()
DOCUMENTED_CODES = set(re.findall(r"^\| `([a-z_]+)` \|", DOC, re.MULTILINE))


@pytest.mark.parametrize(
    "name",
    [
        *[f.value for f in ClientFrame],
        *[f.value for f in ServerFrame],
        *[e.value for e in EventType],
        *[c.value for c in FrameErrorCode],
        *[c.value for c in ErrorCode],
        *[c.value for c in ReplyErrorCode],
    ],
)
def test_every_name_is_documented_in_a_table(name):
    assert name in DOCUMENTED_CODES


def test_the_doc_documents_nothing_that_does_not_exist():
    defined = {
        *[f.value for f in ClientFrame],
        *[f.value for f in ServerFrame],
        *[c.value for c in FrameErrorCode],
        *[c.value for c in ErrorCode],
        *[c.value for c in ReplyErrorCode],
    }
    assert defined >= DOCUMENTED_CODES, DOCUMENTED_CODES - defined


def test_the_documented_message_limit_matches_the_setting():
    assert f"{settings.TUTOR_MAX_MESSAGE_CHARS:,} characters" in DOC
