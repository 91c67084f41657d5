"""Checks on an uploaded image, shared by image search and the product-image validator: its size in
bytes and in pixels, and whether it decodes."""

from __future__ import annotations

import io

from shopguide.conf import shopguide_settings


class InvalidImage(ValueError):
    """An uploaded image that cannot be searched with; the message says why (for a 400)."""


def check_upload_size(size: int | None) -> None:
    """Raise InvalidImage for an upload over SHOPGUIDE["MAX_UPLOAD_BYTES"] (None: size unknown)."""
    limit = shopguide_settings.MAX_UPLOAD_BYTES
    if size is not None and size > limit:
        raise InvalidImage(f"The image is {size:,} bytes; the limit is {limit:,} bytes.")


def read_query_image(data: bytes, *, size: int, channels: int):
    """Decode an uploaded image for the CNN; raises InvalidImage with a message a customer can read
    (too large in bytes or in pixels, not an image, truncated, a decompression bomb). Pixels are
    counted from the header, before decoding (SHOPGUIDE["MAX_IMAGE_PIXELS"])."""
    from shopguide.ml.images import prepare_images

    check_upload_size(len(data))
    if not data:
        raise InvalidImage("The uploaded file is empty.")
    prepared = prepare_images(
        [io.BytesIO(data)], size=size, channels=channels, max_pixels=shopguide_settings.MAX_IMAGE_PIXELS
    )
    if prepared.errors:
        raise InvalidImage(f"The upload cannot be used as an image: {prepared.errors[0]}.")
    return prepared.array
