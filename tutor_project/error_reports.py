"""Error reports that hide secrets whether or not DEBUG is on.

Django's filter of sensitive POST parameters and variables (``sensitive_post_parameters``,
``sensitive_variables``) switches itself off with DEBUG, so the yellow debug page of a
500 on the provider form showed the typed API key and the stored one. Developers run
with DEBUG on, against real provider keys; the filter stays on for them too.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.views.debug import SafeExceptionReporterFilter


class AlwaysSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request: HttpRequest | None) -> bool:
        return True
