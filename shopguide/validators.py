"""A validator for product image fields: the checks image search applies to uploads.

    image = models.ImageField(upload_to="products/", validators=[validate_product_image])

Oversized files, non-images, truncated files and decompression bombs are refused with a message
(a form error in the admin, a 400 from a DRF serializer), before they reach storage or training.
"""

from __future__ import annotations

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
