"""What the served app changes in Daphne's WebSocket server (tutor_project.websocket_server)."""

import pprint
import sys

import pytest
import txaio

from tutor_project.websocket_server import format_debug_lines_only_when_logged

# Thirty-odd of these are pretty-printed for every new socket: longer than a line.
OPTIONS = [(f"option{n}", n * 1000, "WebSocketServerFactory") for n in range(30)]


@pytest.fixture
def autobahn_protocol(monkeypatch):
    """Autobahn's protocol module, its formatting functions put back after the test."""
    import autobahn.websocket.protocol as protocol

    for name in ("pformat", "hltype", "hlval"):
        monkeypatch.setattr(protocol, name, getattr(protocol, name))
    return protocol


def test_autobahn_pretty_prints_only_for_the_debug_lines_it_writes(autobahn_protocol, monkeypatch):
    format_debug_lines_only_when_logged()

    monkeypatch.setattr(txaio, "get_global_log_level", lambda: "info")
    assert autobahn_protocol.pformat(OPTIONS) == repr(OPTIONS)
    monkeypatch.setattr(txaio, "get_global_log_level", lambda: "debug")
    assert autobahn_protocol.pformat(OPTIONS) == pprint.pformat(OPTIONS) != repr(OPTIONS)


def test_autobahn_highlights_a_frames_debug_line_only_when_it_writes_it(
    autobahn_protocol, monkeypatch
):
    from autobahn import util

    format_debug_lines_only_when_logged()
    format_debug_lines_only_when_logged()  # idempotent: wrapped once

    send = autobahn_protocol.WebSocketProtocol.sendData
    monkeypatch.setattr(txaio, "get_global_log_level", lambda: "info")
    assert autobahn_protocol.hltype(send) == "WebSocketProtocol.sendData"
    assert autobahn_protocol.hlval(1234) == "1234"
    monkeypatch.setattr(txaio, "get_global_log_level", lambda: "debug")
    assert autobahn_protocol.hltype(send) == util.hltype(send)
    assert autobahn_protocol.hlval(1234) == util.hlval(1234)


def test_nothing_is_changed_in_a_process_without_autobahn(monkeypatch):
    monkeypatch.delitem(sys.modules, "autobahn.websocket.protocol", raising=False)

    format_debug_lines_only_when_logged()

    assert "autobahn.websocket.protocol" not in sys.modules
