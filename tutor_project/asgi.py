"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os
import sys

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tutor_project.settings")

from lessons_app.tutor.engines import check_configuration
from tutor_project.websocket_server import (
    close_instead_of_dropping,
    format_debug_lines_only_when_logged,
)

# Before Daphne (which imported this module) builds its server: see the module.
close_instead_of_dropping()
format_debug_lines_only_when_logged()

# A server that would serve turns wrongly (two processes on the in-memory engine) stops
# here, before the seconds it takes to load the apps. It needs only the settings.
check_configuration()

# Populate the app registry before importing consumers that use models.
django_asgi_app = get_asgi_application()

sys.setswitchinterval(settings.PYTHON_SWITCH_INTERVAL_SECONDS)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from lessons_app.tutor.database import auth_middleware_stack  # noqa: E402
from lessons_app.tutor.runtime import TurnRuntimeMiddleware  # noqa: E402
from tutor_project.routing import websocket_urlpatterns  # noqa: E402
from tutor_project.startup_objects import freeze_when_serving  # noqa: E402

application = TurnRuntimeMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": AllowedHostsOriginValidator(
                auth_middleware_stack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)

# Once Daphne serves, everything it loaded is left out of garbage collections (see the module).
freeze_when_serving()
