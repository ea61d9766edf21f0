"""The JSON line log format ``settings.LOGGING`` names for log shippers.

``logging.config`` imports this module while settings are applied, before any
app is loaded, so it imports nothing from the project's apps (nor Django).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# A record carrying a dict in this attribute (``extra={FIELDS_ATTRIBUTE: {...}}``) is
# written as those fields; lessons_app.observability logs every turn that way.
FIELDS_ATTRIBUTE = "json_fields"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line.

    A structured record's fields (see :data:`FIELDS_ATTRIBUTE`) go at the top
    level beside ``ts``, ``level`` and ``logger``; any other record becomes
    ``{"ts", "level", "logger", "message"}`` (with ``exc_info`` when it has a
    traceback), so the formatter can serve every logger if the operator wants
    JSON everywhere.
    """

    def format(self, record: logging.LogRecord) -> str:
        head = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, FIELDS_ATTRIBUTE, None)
        if isinstance(fields, dict):
            document = {**head, **fields}
        else:
            document = {**head, "message": record.getMessage()}
            if record.exc_info:
                document["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)
