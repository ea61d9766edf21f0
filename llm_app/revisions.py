"""The providers' revision: changed with every change that can alter which provider answers.

Model saves and deletes change it through signals (``LlmAppConfig.ready``); the
services that change rows in bulk (``make_default``, experiment switches) call
:func:`bump` themselves, in the same transaction, so a process that reads the
new token also reads the new rows.
"""

from __future__ import annotations

import uuid

from llm_app.models import ProviderRevision

# The one row of ``ProviderRevision``.
REVISION_ROW = 1


def bump(**_signal_arguments) -> None:
    """Give the revision a new token (also a ``post_save``/``post_delete`` receiver)."""
    ProviderRevision.objects.update_or_create(pk=REVISION_ROW, defaults={"token": uuid.uuid4().hex})


def current() -> str | None:
    """The revision's token, or ``None`` if there is none yet (nothing may be cached then)."""
    return ProviderRevision.objects.filter(pk=REVISION_ROW).values_list("token", flat=True).first()
