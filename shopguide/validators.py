"""Checks on what shops and customers send in.

A validator for product image fields, the checks image search applies to uploads::

    image = models.ImageField(upload_to="products/", validators=[validate_product_image])

Oversized files, non-images, truncated files and decompression bombs are refused with a message
(a form error in the admin, a 400 from a DRF serializer), before they reach storage or training.

And the line parser every JSON Lines import shares (events here, a host's catalogue loader).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError

from shopguide.conf import shopguide_settings

CHECK_SIZE = 64  # decode to a small square: enough to prove the file is a whole image


def validate_product_image(file) -> None:
    from shopguide.uploads import InvalidImage, check_upload_size, read_query_image

    try:
        check_upload_size(getattr(file, "size", None))  # before reading a file that is too big
    except InvalidImage as exc:
        raise ValidationError(str(exc), code="image_too_large") from exc
    limit = shopguide_settings.MAX_UPLOAD_BYTES
    position = file.tell() if hasattr(file, "tell") else None
    file.seek(0)
    data = file.read(limit + 1)
    if position is not None:
        file.seek(position)
    try:
        read_query_image(data, size=CHECK_SIZE, channels=3)
    except InvalidImage as exc:
        raise ValidationError(str(exc), code="invalid_image") from exc


class LineError(ValueError):
    """A JSON Lines line that cannot be imported; the message names the problem."""


def json_line_object(text: str) -> dict[str, Any] | None:
    """The JSON object on one line of a JSON Lines file; None for a blank line.

    Raises:
        LineError: not valid JSON, not an object, or a NUL character (PostgreSQL cannot store one).
    """
    if not text.strip():
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"not valid JSON ({exc.msg})") from exc
    if "\x00" in text or "\\u0000" in text:
        raise LineError("contains a NUL character, which PostgreSQL cannot store")
    if not isinstance(data, dict):
        raise LineError("expected a JSON object")
    return data
