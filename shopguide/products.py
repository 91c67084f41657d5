"""A product as the models see it, read through the adapter: its text document and its decoded
image. Training snapshots, embedding chunks, incremental embedding and the search documents all
read products this way."""

from __future__ import annotations

import io

import numpy as np

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings


def product_document(product) -> str:
    """The text models' view of a product: title first, then its text fields, category last."""
    adapter = get_adapter()
    category = adapter.category(product)
    return adapter.text(product) + (f"\n{category}" if category else "")


def read_product_images(products: list, *, size: int, channels: int) -> tuple[list[int], np.ndarray, dict[int, str]]:
    """Decode the images of ``products`` (through the adapter).

    Returns (positions in ``products`` that decoded, uint8 (M, size, size, channels), errors by
    position). A missing or broken image never raises.
    """
    from shopguide.ml.images import prepare_images

    adapter = get_adapter()
    positions, blobs, errors = [], [], {}
    for position, product in enumerate(products):
        data = adapter.read_image(product)
        if data is None:
            errors[position] = "no image"
        else:
            positions.append(position)
            blobs.append(io.BytesIO(data))
    prepared = prepare_images(blobs, size=size, channels=channels, max_pixels=shopguide_settings.MAX_IMAGE_PIXELS)
    for index, message in prepared.errors.items():
        errors[positions[index]] = message
    ok = [positions[i] for i in prepared.ok_indices]
    return ok, prepared.array, errors
