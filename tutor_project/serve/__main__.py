"""``python -m tutor_project.serve``: see ``tutor_project.serve``."""

import os

# Before the imports below: the project's modules read their settings as they load.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutor_project.settings")

from tutor_project.serve.cli import main

raise SystemExit(main())
