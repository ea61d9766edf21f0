"""No test reaches a host beyond loopback: a real provider is unreachable by construction."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest

_real_getaddrinfo = socket.getaddrinfo
LOCAL_NAMES = (None, "", "localhost", "testserver")


def _is_local(host: str | bytes | None) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _local_only_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        raise OSError(f"Tests may only reach 127.0.0.1, not {host!r} (see {__name__}).")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _no_network_beyond_loopback() -> Iterator[None]:
    """Make a real provider (or any other outside host) unreachable from every test."""
    socket.getaddrinfo = _local_only_getaddrinfo
    yield
    socket.getaddrinfo = _real_getaddrinfo
