"""The test database: threads racing on it, and nothing left connected when it is dropped."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections

BARRIER_SECONDS = 10
JOIN_SECONDS = 30


@pytest.fixture
def run_together() -> Callable[..., list[BaseException]]:
    """Run ``target(index)`` in ``threads`` threads released at the same instant.

    Returns the errors they raised. Each thread closes its own database connection, so
    on PostgreSQL the calls really race as two requests would.
    """

    def run(target: Callable[[int], object], threads: int = 2) -> list[BaseException]:
        barrier = threading.Barrier(threads)
        errors: list[BaseException] = []

        def worker(index: int) -> None:
            try:
                barrier.wait(timeout=BARRIER_SECONDS)
                target(index)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on by the test
                errors.append(exc)
            finally:
                connection.close()

        workers = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(timeout=JOIN_SECONDS)
        assert not any(thread.is_alive() for thread in workers), "a worker hung"
        return errors

    return run


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup) -> Iterator[None]:
    """pytest-django's, and then the connection Django's async ORM left open, closed.

    An async test's ``aget()`` runs in asgiref's one thread for sync code and leaves its
    connection there; the next ``database_sync_to_async`` call closes it. When the
    worker's last such test has none after it, PostgreSQL refuses to drop the test
    database ("being accessed by other users") and leaves it behind.
    """
    yield
    asyncio.run(sync_to_async(connections.close_all)())
