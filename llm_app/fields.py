"""A text field stored encrypted at rest, for provider API keys."""

from __future__ import annotations

import base64
import logging

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

logger = logging.getLogger(__name__)

_PREFIX = "fernet:"
_HKDF_INFO = b"tutor.llm_app.encrypted-field"


def _fernet() -> Fernet:
    """A Fernet keyed from ``FIELD_ENCRYPTION_KEY``, or from ``SECRET_KEY`` when that is empty.

    Derived through HKDF so that any string works as the secret and so the
    encryption key is never the secret itself.
    """
    secret = settings.FIELD_ENCRYPTION_KEY or settings.SECRET_KEY
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(plaintext: str) -> str:
    return _PREFIX + _fernet().encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    """Decrypt a stored value; a value that cannot be decrypted reads as empty.

    That happens when ``SECRET_KEY`` or ``FIELD_ENCRYPTION_KEY`` changed since
    the value was saved: the key must then be entered again in the admin.
    """
    if not stored.startswith(_PREFIX):
        return stored
    try:
        return _fernet().decrypt(stored[len(_PREFIX) :].encode()).decode()
    except InvalidToken:
        logger.warning(
            "An encrypted API key could not be decrypted; was SECRET_KEY or "
            "FIELD_ENCRYPTION_KEY changed? Enter the key again in the admin."
        )
        return ""


class EncryptedTextField(models.TextField):
    """Holds plaintext in Python and Fernet ciphertext in the database and in dumps.

    Serialisation (``dumpdata``, fixtures) writes the ciphertext, and deserialisation
    (``loaddata``) reads it back, so a dump is as safe as the database: it can be loaded
    by a server with the same ``FIELD_ENCRYPTION_KEY`` (or ``SECRET_KEY``), and by any
    other it loads as no key (enter it again) rather than as garbage.
    """

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def to_python(self, value):
        value = super().to_python(value)
        if value and value.startswith(_PREFIX):
            return decrypt(value)
        return value

    def value_to_string(self, obj) -> str:
        value = self.value_from_object(obj)
        return encrypt(value) if value else ""

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
