"""Where the workers listen: one address, and a socket of its own for each worker.

Every worker's socket is bound to the same address with ``SO_REUSEPORT``; Linux then
hashes each new connection to one of the sockets that listen, so the workers share the
load without a balancer in front and without racing for one accept queue. A socket is
bound here but listened on by its worker, once the application is loaded: until then
the kernel sends its connections to the workers that are ready. While none is (at
start), the supervisor listens on the new sockets at once, so that connections wait
for the workers rather than being refused (tutor_project/serve/supervisor.py).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from tutor_project.serve.errors import Misconfigured

# Connections the kernel queues per worker while it is busy or still loading (capped by
# net.core.somaxconn, 4096 by default since Linux 5.4): a restart's reconnecting pages fit.
LISTEN_BACKLOG = 4096


@dataclass(frozen=True)
class ListenAddress:
    """A resolved address to bind: its family and the ``bind()`` argument."""

    family: socket.AddressFamily
    sockaddr: tuple

    @property
    def host(self) -> str:
        return self.sockaddr[0]

    @property
    def port(self) -> int:
        return self.sockaddr[1]

    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def resolve(host: str, port: int) -> ListenAddress:
    """The address ``host:port`` names (the first one, for a name with several)."""
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise Misconfigured(f"Cannot listen on {host!r}: {exc}.") from None
    if family != socket.AF_INET:
        raise Misconfigured(
            f"{host} is not an IPv4 address: Daphne adopts IPv4 sockets only (--fd). "
            "Serve on 127.0.0.1 behind a proxy that listens on IPv6."
        )
    return ListenAddress(family, sockaddr)


def reserve(host: str, port: int) -> ListenAddress:
    """The address to serve on, once it is known that nothing else listens there.

    Binding with ``SO_REUSEPORT`` would quietly share the port with another server
    started the same way (a second supervisor, say), halving each one's traffic, so a
    probe without it binds first; port 0 becomes the port the probe was given.
    """
    address = resolve(host, port)
    with socket.socket(address.family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address.sockaddr)
        except OSError as exc:
            raise Misconfigured(
                f"Cannot listen on {address.url()}: {exc.strerror}. Is another server "
                "running there?"
            ) from None
        return ListenAddress(address.family, (address.host, probe.getsockname()[1]))


def worker_socket(address: ListenAddress) -> socket.socket:
    """A socket bound to ``address`` beside the other workers', for one worker to listen on.

    Non-blocking, as Twisted requires of a socket it adopts; inheritable through
    ``subprocess``'s ``pass_fds``.
    """
    if not hasattr(socket, "SO_REUSEPORT"):
        raise Misconfigured("This system has no SO_REUSEPORT; run one daphne process instead.")
    sock = socket.socket(address.family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address.sockaddr)
    except OSError as exc:
        sock.close()
        raise Misconfigured(f"Cannot bind {address.url()}: {exc.strerror}.") from None
    sock.setblocking(False)
    return sock
