"""Database connections the served app opens, counted from outside its processes.

In-process counting (bench/load/queries.py) sees Django's ``connection_created``; the
served app's own count is read where the connections arrive instead: PostgreSQL's
``pg_stat_database.sessions`` for this run's database, and for SQLite every ``open()``
of the database file (inotify ``IN_OPEN``: each connection opens the file once; two
opened at once, with no close between, count as one).
"""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

import psycopg

from bench.load.config import POSTGRES

IN_OPEN = 0x20
# Watched too, only so that opens one after another are not merged: inotify folds an event
# into an identical one still unread, and a close comes between two opens on one thread.
IN_CLOSE = 0x08 | 0x10
EVENT_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)
READ_BYTES = 64 * 1024


class FileOpens:
    """How many times the file at ``path`` has been opened since this was created."""

    def __init__(self, path: Path) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if (
            self._fd < 0
            or self._libc.inotify_add_watch(self._fd, bytes(path), IN_OPEN | IN_CLOSE) < 0
        ):
            raise OSError(ctypes.get_errno(), f"inotify on {path}")
        self._seen = 0

    def count(self) -> int:
        while True:
            try:
                events = os.read(self._fd, READ_BYTES)
            except BlockingIOError:
                return self._seen
            offset = 0
            while offset < len(events):
                _, mask, _, length = EVENT_HEADER.unpack_from(events, offset)
                self._seen += bool(mask & IN_OPEN)
                offset += EVENT_HEADER.size + length

    def close(self) -> None:
        os.close(self._fd)


class Sessions:
    """Sessions PostgreSQL has established to ``database`` (its statistics, ~1 s behind)."""

    def __init__(self, database: str) -> None:
        self.database = database

    def count(self) -> int:
        with psycopg.connect(dbname="postgres", autocommit=True, **POSTGRES) as admin:
            (sessions,) = admin.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", [self.database]
            ).fetchone()
        return sessions

    def close(self) -> None:
        pass
