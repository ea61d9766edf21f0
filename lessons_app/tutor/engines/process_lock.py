"""One serving process per database, for the engine that keeps turns in memory.

Two processes on the in-memory engine would each see only their own turns: a
reload that lands on the other process shows a reply stuck "streaming", and
stop, busy and every-tab-live all break. So the process takes a lock tied to the
database it serves (a file lock beside a SQLite file, an advisory lock on
PostgreSQL) and keeps it until it exits; a second process on the same database
is refused at start-up with a message saying what to do instead.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# Held for the life of the process: the OS or the database drops them when it exits.
_held: dict[str, Any] = {}

REFUSAL = (
    "Another Tutor process is already serving {database} with the in-memory turn engine, "
    "which keeps turns inside one process. Run a single process (`make run`, or one "
    "daphne), or set REDIS_URL so that several processes share turns through Redis "
    "(README: Running several processes)."
)


def hold_database_lock(database: Mapping[str, Any]) -> None:
    """Lock ``database`` (a ``settings.DATABASES`` entry) for this process, or refuse."""
    engine = database.get("ENGINE", "")
    if engine.endswith("sqlite3"):
        _lock_sqlite(str(database.get("NAME") or ""))
    elif engine.endswith("postgresql"):
        _lock_postgresql(database)
    # Other backends have no lock here; the README says to run one process on them.


def _is_in_memory(name: str) -> bool:
    return not name or name == ":memory:" or "mode=memory" in name


def _lock_sqlite(name: str) -> None:
    if _is_in_memory(name) or name in _held:
        return  # an in-memory database cannot be shared between processes anyway
    handle = Path(f"{name}.turns.lock").open("a")  # noqa: SIM115 - held until exit
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ImproperlyConfigured(REFUSAL.format(database=name)) from None
    _held[name] = handle


def _lock_postgresql(database: Mapping[str, Any]) -> None:
    import psycopg

    name = str(database.get("NAME") or "")
    if name in _held:
        return
    # On the maintenance database, so that the lock's connection never keeps the served
    # database busy (test runs drop theirs); the key says which database it guards.
    params = {
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
    }
    try:
        connection = psycopg.connect(dbname="postgres", autocommit=True, **params)
    except psycopg.Error:
        connection = psycopg.connect(dbname=name, autocommit=True, **params)
    key = zlib.crc32(f"tutor-memory-turn-engine:{name}".encode())
    (locked,) = connection.execute("SELECT pg_try_advisory_lock(%s)", [key]).fetchone()
    if not locked:
        connection.close()
        raise ImproperlyConfigured(REFUSAL.format(database=f"PostgreSQL database {name!r}"))
    _held[name] = connection
