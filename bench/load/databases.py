"""The two deployments measured: SQLite with the in-memory turn engine, and PostgreSQL
with the Redis turn engine. Each gets a database of its own, dropped at the end; the
PostgreSQL one is left out (with a note) when PostgreSQL or Redis does not answer.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from bench.load.config import POSTGRES, REDIS_URL, SECRET_KEY
from bench.load.connections import FileOpens, Sessions
from tutor_project.testing.served_env import served_env

SQLITE = "sqlite"
POSTGRESQL = "postgres"
CONNECT_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Deployment:
    """How one deployment's processes are configured, and what to clean up after it."""

    name: str
    label: str
    env: dict[str, str]
    redis_prefix: str | None = None
    postgres_database: str | None = None

    def with_env(self, **changes: str) -> dict[str, str]:
        return {**self.env, **changes}


def _base_env(database: Path, prefix: str) -> dict[str, str]:
    env = served_env(database, secret_key=SECRET_KEY, redis_prefix=prefix)
    env.update(LOG_LEVEL="WARNING", LITELLM_LOCAL_MODEL_COST_MAP="True")
    return env


def sqlite_deployment(workdir: Path) -> Deployment:
    env = _base_env(workdir / "bench.sqlite3", f"tutor-loadbench-{os.getpid()}")
    env["TUTOR_TURN_ENGINE"] = "memory"
    env.pop("REDIS_URL", None)
    return Deployment(SQLITE, "SQLite, memory engine", env)


def copy_sqlite(deployment: Deployment, workdir: Path) -> dict[str, str]:
    """The environment of a copy of the SQLite database (the in-memory engine locks its
    file for one process: the query counter gets a file of its own)."""
    source = Path(deployment.env["DATABASE_URL"].removeprefix("sqlite:///"))
    copy = workdir / "queries.sqlite3"
    shutil.copyfile(source, copy)
    return deployment.with_env(DATABASE_URL=f"sqlite:///{copy}")


def unavailable_services() -> str | None:
    """Why the PostgreSQL + Redis deployment cannot run here, or None if it can."""
    try:
        psycopg.connect(
            dbname="postgres", connect_timeout=CONNECT_TIMEOUT_SECONDS, **POSTGRES
        ).close()
    except psycopg.Error as error:
        return f"PostgreSQL at {POSTGRES['host']}:{POSTGRES['port']} did not answer ({error})"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS).ping()
    except redis.RedisError as error:
        return f"Redis at {REDIS_URL} did not answer ({error})"
    return None


def _admin(statement: str) -> None:
    with psycopg.connect(dbname="postgres", autocommit=True, **POSTGRES) as admin:
        admin.execute(statement)


def postgres_deployment(workdir: Path) -> Deployment:
    """A fresh PostgreSQL database of this run's own, and a Redis prefix of its own."""
    name = f"tutor_loadbench_{os.getpid()}"
    _admin(f'DROP DATABASE IF EXISTS "{name}"')
    _admin(f'CREATE DATABASE "{name}"')
    prefix = f"tutor-loadbench-{os.getpid()}-pg"
    env = _base_env(workdir / "unused.sqlite3", prefix)
    user, host, port = POSTGRES["user"], POSTGRES["host"], POSTGRES["port"]
    env.update(
        DATABASE_URL=f"postgres://{user}@{host}:{port}/{name}",
        REDIS_URL=REDIS_URL,
        TUTOR_TURN_ENGINE="redis",
    )
    return Deployment(POSTGRESQL, "PostgreSQL + Redis", env, prefix, name)


def connection_counter(deployment: Deployment) -> FileOpens | Sessions:
    """What counts the database connections the deployment's servers open."""
    if deployment.postgres_database:
        return Sessions(deployment.postgres_database)
    return FileOpens(Path(deployment.env["DATABASE_URL"].removeprefix("sqlite:///")))


def clean_up(deployment: Deployment) -> None:
    """Drop the deployment's PostgreSQL database and delete its Redis keys."""
    if deployment.redis_prefix and deployment.env.get("REDIS_URL"):
        client = redis.Redis.from_url(deployment.env["REDIS_URL"])
        # The query counter's prefix starts with the deployment's, so this finds its keys too.
        for key in client.scan_iter(match=f"{deployment.redis_prefix}*", count=1000):
            client.delete(key)
    if deployment.postgres_database:
        _admin(f'DROP DATABASE IF EXISTS "{deployment.postgres_database}" WITH (FORCE)')
