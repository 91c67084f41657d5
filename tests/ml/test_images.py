"""Image decoding limits (pure Pillow/numpy): a pixel limit checked from the header, before decoding."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from shopguide.ml.images import prepare_images


def png(width: int, height: int, mode: str = "RGBA") -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), (10, 200, 30, 255) if mode == "RGBA" else (10, 200, 30)).save(buffer, "PNG")
    buffer.seek(0)
    return buffer


def test_an_image_over_the_pixel_limit_is_refused_and_the_rest_of_the_batch_decodes():
    prepared = prepare_images([png(300, 200), png(40, 30)], size=16, channels=3, max_pixels=50_000)
    assert prepared.ok_indices == [1] and "300 x 200 pixels" in prepared.errors[0] and "50,000" in prepared.errors[0]


def test_a_jpeg_is_limited_by_the_size_it_is_decoded_at():
    buffer = io.BytesIO()
    Image.new("RGB", (800, 800), (250, 20, 20)).save(buffer, "JPEG")
    # 640,000 pixels at full size; decoded at 1/8 per side (100 x 100) for a 16 px square.
    prepared = prepare_images([io.BytesIO(buffer.getvalue())], size=16, channels=3, max_pixels=20_000)
    assert prepared.ok_indices == [0] and not prepared.errors


def test_large_images_are_reduced_before_conversion_with_the_same_result():
    big = prepare_images([png(480, 480)], size=16, channels=3, max_pixels=None).array[0]
    small = prepare_images([png(16, 16)], size=16, channels=3).array[0]
    assert np.abs(big.astype(int) - small.astype(int)).max() <= 1  # a flat colour stays that colour
