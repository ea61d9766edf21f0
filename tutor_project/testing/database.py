"""Database work as concurrent requests do it: threads racing, each on its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

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
