"""`make run` leaves development settings behind for the manage.py commands the README shows."""

import subprocess
from pathlib import Path

from django.conf import settings

MAKEFILE = Path(settings.BASE_DIR) / "Makefile"


def make(workdir: Path, *args: str) -> str:
    """Run the project's Makefile in ``workdir``; return what it printed."""
    done = subprocess.run(  # noqa: S603 - fixed arguments
        ["make", "--no-print-directory", "-C", str(workdir), "-f", str(MAKEFILE), *args],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_run_writes_a_development_env_before_the_first_manage_command(tmp_path):
    (tmp_path / "requirements.txt").touch()  # what the install step depends on
    planned = make(tmp_path, "--dry-run", "run").splitlines()
    writes_env = next(i for i, line in enumerate(planned) if "DEBUG=1" in line and "> .env" in line)
    migrates = next(i for i, line in enumerate(planned) if "manage.py migrate" in line)
    assert writes_env < migrates

    make(tmp_path, ".env")
    lines = (tmp_path / ".env").read_text().splitlines()
    assert "DEBUG=1" in lines
    assert [line for line in lines if not line.startswith("#")] == ["DEBUG=1"]


def test_an_existing_env_is_left_alone(tmp_path):
    own = "DEBUG=0\nSECRET_KEY=mine\n"
    (tmp_path / ".env").write_text(own)
    make(tmp_path, ".env")
    assert (tmp_path / ".env").read_text() == own


def test_serve_runs_the_supervisor_with_the_workers_host_and_port_asked_for(tmp_path):
    (tmp_path / "requirements.txt").touch()
    planned = make(tmp_path, "--dry-run", "serve", "WORKERS=3", "HOST=0.0.0.0", "PORT=9001")
    assert (
        planned.splitlines()[-1]
        .rstrip()
        .endswith("-m tutor_project.serve --workers 3 --host 0.0.0.0 --port 9001")
    )
    by_default = make(tmp_path, "--dry-run", "serve").splitlines()[-1].rstrip()
    assert "--workers" not in by_default  # one per core, as the supervisor decides
    with_options = make(tmp_path, "--dry-run", "serve", "DAPHNE_OPTIONS=--proxy-headers")
    assert with_options.splitlines()[-1].rstrip().endswith("--port 8000 -- --proxy-headers")
