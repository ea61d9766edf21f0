"""Opening a learner's chat socket the way a browser does: session cookie, same origin."""

from __future__ import annotations

import json

import aiohttp

from bench.load.config import DEMO_SLUG, RECEIVE_TIMEOUT_SECONDS

# Frames over aiohttp's default 4 MiB: a history of many turns is one frame.
MAX_FRAME_BYTES = 64 * 2**20


def new_browser() -> aiohttp.ClientSession:
    """A client for thousands of sockets: no connection cap, cookies given per socket."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=True),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def chat_url(base_url: str) -> str:
    return f"{base_url.replace('http', 'ws', 1)}/ws/lessons/{DEMO_SLUG}/chat/"


def lesson_url(base_url: str) -> str:
    return f"{base_url}/lessons/{DEMO_SLUG}/"


async def open_chat(
    browser: aiohttp.ClientSession, base_url: str, cookie: str
) -> tuple[aiohttp.ClientWebSocketResponse, dict]:
    """A learner's socket, once its ``history`` frame is in; that frame."""
    chat = await browser.ws_connect(
        chat_url(base_url),
        origin=base_url,
        headers={"Cookie": cookie},
        timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=10),
        max_msg_size=MAX_FRAME_BYTES,
    )
    try:
        message = await chat.receive(timeout=RECEIVE_TIMEOUT_SECONDS)
        if message.type != aiohttp.WSMsgType.TEXT:
            raise ValueError(f"closed before its history ({message.type.name}, {message.data})")
        frame = json.loads(message.data)
        if frame.get("type") != "history":
            raise ValueError(f"first frame was {frame.get('type')!r}, not history")
    except BaseException:
        await chat.close()
        raise
    return chat, frame
