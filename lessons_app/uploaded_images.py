"""Images staff upload for articles: checked on the way in, served from this site.

Only raster formats recognised by their first bytes are taken (PNG, JPEG, GIF, WebP),
never SVG, which can carry script; the stored type is the one those bytes say, not the
one the browser claimed. Served with that type, ``nosniff`` and a long cache.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile

MAX_IMAGE_BYTES = 5 * 1024 * 1024
# The first bytes of each format taken, and its type.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_WEBP = (b"RIFF", b"WEBP")
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


def image_type(data: bytes) -> str:
    """The image type ``data`` is, by its first bytes; ``ValidationError`` if none taken."""
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return content_type
    if data[:4] == _WEBP[0] and data[8:12] == _WEBP[1]:
        return "image/webp"
    raise ValidationError(
        "That file is not a PNG, JPEG, GIF or WebP image (SVG is not taken: it can hold script).",
        code="not_an_image",
    )


def read_upload(upload: UploadedFile) -> tuple[bytes, str]:
    """The upload's bytes and type, or ``ValidationError`` saying why it is refused."""
    if upload.size > MAX_IMAGE_BYTES:
        raise ValidationError(
            f"Images may be at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB; "
            f"this one is {upload.size / (1024 * 1024):.1f} MB.",
            code="too_large",
        )
    data = upload.read()
    return data, image_type(data)


def address_name(filename: str) -> str:
    """A file name safe in an address: ``My leaf (1).PNG`` -> ``My-leaf-1-.PNG``."""
    name = _UNSAFE_NAME_CHARACTERS.sub("-", filename.rsplit("/", 1)[-1]).strip("-.")
    return name[:100] or "image"
