"""The learner's language, for a chat socket: pages get theirs from Django's LocaleMiddleware.

A socket has no request for the middleware to read, so the consumer asks here: the
``lang`` query parameter the chat script sends (the page's own language), else the
language cookie the page's chooser sets (set_language), else the browser's
Accept-Language header, else the site's default. Only languages in settings.LANGUAGES
are ever chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

LANGUAGE_QUERY_PARAMETER = "lang"


def _supported(code: str) -> str | None:
    try:
        return translation.get_supported_language_variant(code.strip())
    except LookupError:
        return None


def _header(scope: Mapping[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def language_of_scope(scope: Mapping[str, Any]) -> str:
    """The language code a chat socket's learner reads the site in."""
    query = scope.get("query_string", b"")
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    for code in parse_qs(query).get(LANGUAGE_QUERY_PARAMETER, []):
        if found := _supported(code):
            return found
    cookie = SimpleCookie()
    try:
        cookie.load(_header(scope, b"cookie"))
    except Exception:  # noqa: BLE001 - a malformed cookie header names no language
        cookie = SimpleCookie()
    chosen = cookie.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen is not None and (found := _supported(chosen.value)):
        return found
    for code, _quality in parse_accept_lang_header(_header(scope, b"accept-language")):
        if code != "*" and (found := _supported(code)):
            return found
    return settings.LANGUAGE_CODE


def english_name(code: str) -> str:
    """The language's English name ("German"), as the tutor is told it."""
    try:
        return translation.get_language_info(code)["name"]
    except KeyError:
        return code
