"""Untrusted JSON: bounded before parsing, cleaned after, refused with a reason."""

import json

import pytest

from lessons_app.untrusted_json import MAX_JSON_DEPTH, UntrustedJSONError, loads, nesting_depth


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[[[[[ not brackets ]]"}', 1),
        ('["a \\" [[[ still a string", []]', 2),
        ('["\\\\", [[]]]', 3),
    ],
)
def test_depth_counts_brackets_outside_strings(text, depth):
    assert nesting_depth(text) == depth


def test_as_deep_as_allowed_parses_and_one_more_is_refused():
    allowed = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert loads(allowed, max_bytes=1000) == json.loads(allowed)
    with pytest.raises(UntrustedJSONError, match="nests deeper"):
        loads("[" + allowed + "]", max_bytes=1000)


def test_a_document_deeper_than_the_parser_can_go_is_refused_not_raised():
    with pytest.raises(UntrustedJSONError):
        loads('{"a":' * 100_000 + "1" + "}" * 100_000, max_bytes=10**7)


def test_size_is_counted_in_utf8_bytes():
    text = json.dumps("é" * 10, ensure_ascii=False)  # 12 characters, 22 bytes
    assert loads(text, max_bytes=22) == "é" * 10
    with pytest.raises(UntrustedJSONError) as refused:
        loads(text, max_bytes=21)
    assert refused.value.too_large


def test_nul_is_dropped_everywhere():
    assert loads('{"a\\u0000": ["x\\u0000y"]}', max_bytes=100) == {"a": ["xy"]}


@pytest.mark.parametrize("text", ['"\\ud800"', '["ok", "\\udfff!"]', '{"\\ud83d": 1}'])
def test_unpaired_surrogates_are_refused(text):
    with pytest.raises(UntrustedJSONError, match="unpaired surrogate"):
        loads(text, max_bytes=100)


def test_paired_surrogates_are_a_character():
    assert loads('"\\ud83c\\udf31"', max_bytes=100) == "\N{SEEDLING}"
