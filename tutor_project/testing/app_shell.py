"""The project run in another process, as an admin or a management command would run it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest
from django.conf import settings

MANAGE_PY_TIMEOUT_SECONDS = 180
CLOSE_TIMEOUT_SECONDS = 10
OUTPUT_SHOWN_CHARS = 3000


def manage_py(env: dict[str, str], *args: str) -> None:
    """Run ``manage.py ARGS`` in ``env`` (another process, another database); fail loudly."""
    result = subprocess.run(  # noqa: S603 - fixed arguments, our own manage.py
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=MANAGE_PY_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`manage.py {' '.join(args)}` failed ({result.returncode}):\n"
            f"{result.stdout[-OUTPUT_SHOWN_CHARS:]}\n{result.stderr[-OUTPUT_SHOWN_CHARS:]}"
        )


# Runs in a long-lived `manage.py shell`: each block of code the test sends, up to the
# marker line, is executed with a fresh namespace, and the outcome is printed after the mark.
_SHELL_MARK = "\x00tutor-shell"
_SHELL_LOOP = f"""
import json, sys, traceback
from django.db import connections
while True:
    lines = []
    for line in sys.stdin:
        if line.rstrip("\\n") == {_SHELL_MARK!r} + " run":
            break
        lines.append(line)
    else:
        break
    try:
        exec(compile("".join(lines), "<test code>", "exec"), {{}})
        outcome = "ok"
    except BaseException:
        outcome = json.dumps(traceback.format_exc())
    finally:
        connections.close_all()
    print({_SHELL_MARK!r}, outcome, flush=True)
"""


class AppShell:
    """One ``manage.py shell`` process in a served app's environment, running code on request.

    It stands in for another process of the deployment (an admin, a management
    command), with its own database connections, and pays Django's and LiteLLM's
    start-up once instead of for every call.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self._lock = threading.Lock()
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments, our own manage.py
            [sys.executable, "manage.py", "shell", "-c", _SHELL_LOOP],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )

    def run(self, code: str) -> None:
        """Run ``code`` there; fail the test with its traceback if it raises."""
        with self._lock:
            self.process.stdin.write(f"{code}\n{_SHELL_MARK} run\n")
            self.process.stdin.flush()
            output = []
            for line in self.process.stdout:
                if line.startswith(_SHELL_MARK):
                    outcome = line[len(_SHELL_MARK) :].strip()
                    break
                output.append(line)
            else:
                pytest.fail(f"the app's shell exited:\n{''.join(output[-40:])}")
        if outcome != "ok":
            pytest.fail(f"code in the app's shell failed:\n{json.loads(outcome)}")

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=CLOSE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=CLOSE_TIMEOUT_SECONDS)
