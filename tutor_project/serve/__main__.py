"""``python -m tutor_project.serve``: see ``tutor_project.serve``."""

from tutor_project.serve.cli import main

raise SystemExit(main())
