"""Test support for the whole project: pytest plugins by concern (listed in conftest.py),
and the helpers they and the tests share (``ports``, ``app_shell``, ``daphne``,
``served_env``, which ``bench/`` uses too).

- ``network_guard``: no test reaches a host beyond loopback.
- ``required_services``: ``require`` (skip locally, fail in CI) and ``postgres_db``.
- ``workers``: what keeps pytest-xdist workers apart (the development database, Redis).
- ``language``: every test starts in the default language (Django leaves the last one active).
- ``passwords``: a fast password hasher in the test process.
- ``database``: ``run_together`` (threads racing, each on its own connection), and no
  connection left open when the test database is dropped.
- ``admin_actions``: ``run_admin_action``.
- ``ports``: ``free_port``.
- ``app_shell``: ``manage_py`` and ``AppShell``, the project run in another process.
- ``daphne``: ``daphne_server`` and ``serve_with_daphne``.
- ``running_app``: ``running_app`` and ``running_app_shell``, one served app per worker, and
  ``seed_running_app`` (a script run there that answers in JSON).
- ``browser``: ``browser``, ``local_page``, ``log_in`` and ``artifacts_dir``.

Tests import helpers from these modules, never from conftest.py. ``lessons_app`` tests may
import them (the one import that points up the layers); ``llm_app`` tests use only their
fixtures.
"""
