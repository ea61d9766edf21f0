"""The test suite's plugins, one per concern; tests import helpers from them, never from here.

Whole-project support lives in ``tutor_project/testing/`` (see its ``__init__``), the fake
providers' fixtures in ``llm_app/testing/``, and the turn runtime's and the chat socket's
with the lessons tests.
"""

pytest_plugins = [
    "tutor_project.testing.network_guard",
    "tutor_project.testing.required_services",
    "tutor_project.testing.workers",
    "tutor_project.testing.language",
    "tutor_project.testing.passwords",
    "tutor_project.testing.database",
    "tutor_project.testing.admin_actions",
    "tutor_project.testing.running_app",
    "tutor_project.testing.browser",
    "llm_app.testing.fixtures",
    "lessons_app.tests.turn_engines",
    "lessons_app.tests.chat_fixtures",
]
