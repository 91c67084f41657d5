"""Image decoding and preprocessing: files, file objects or PIL images in, uint8 arrays out."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

ImageSource = str | os.PathLike | BinaryIO | Image.Image

# Products are usually photographed on white, so padding with white keeps the background uniform.
_WHITE: dict[str, int | tuple[int, int, int]] = {"RGB": (255, 255, 255), "L": 255}


@dataclass
class PreparedImages:
    """The result of :func:`prepare_images`.

    Attributes:
        array: uint8, shape (n_ok, size, size, channels), the images that decoded, in source order.
        ok_indices: for each row of ``array``, its index in the original ``sources``.
        errors: index in ``sources`` -> short message, for every image that could not be used.
    """

    array: np.ndarray
    ok_indices: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)


class ImageTooLarge(ValueError):
    """An image with more pixels than allowed, found from its header before it is decoded."""


# Downscale by an integer factor right after decoding when the image is at least this many times
# the output size (the same gap Pillow's resize(reducing_gap=3.0) uses), so the conversions that
# follow (transparency onto white, RGB) work on a small image, not on the full decoded one.
REDUCING_GAP = 3.0


def prepare_images(
    sources: Sequence[ImageSource], *, size: int, channels: int, max_pixels: int | None = None
) -> PreparedImages:
    """Decode images and turn them into square, same-size uint8 arrays.

    Each image is EXIF-rotated, flattened onto white if it has transparency, converted to RGB
    (``channels=3``) or greyscale (``channels=1``), scaled so its longer side is ``size`` with
    a Lanczos filter and centred on a white ``size`` x ``size`` square, so aspect ratio is kept.

    Args:
        sources: file paths, binary file objects (read from their current position, not closed)
            or PIL images.
        size: side of the output square, in pixels.
        channels: 3 for RGB, 1 for greyscale.
        max_pixels: the most pixels (width x height) an image may decode to; a larger one is
            refused from its header, before decoding, so no upload can make this allocate more
            than about ``8 * max_pixels`` bytes (RGBA pixels and one working copy). A JPEG is decoded reduced (up to
            8x smaller per side, never below ``size``), and the limit applies to that reduced
            size. None: only Pillow's own decompression-bomb limit.

    Returns:
        A :class:`PreparedImages`. One unreadable image (corrupt, truncated, not an image, a
        decompression bomb, a missing file) never raises: it is reported in ``errors``.

    Raises:
        ValueError: ``size`` < 1 or ``channels`` not 1 or 3.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    mode = "RGB" if channels == 3 else "L"

    rows: list[np.ndarray] = []
    result = PreparedImages(array=np.empty((0, size, size, channels), dtype=np.uint8))
    for index, source in enumerate(sources):
        try:
            with warnings.catch_warnings():
                # A warning-sized bomb is still far too big to decode for a thumbnail.
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = _load(source, mode=mode, size=size, max_pixels=max_pixels)
        except (Image.DecompressionBombError, ImageTooLarge) as exc:
            result.errors[index] = f"image too large: {exc}"[:200]
            continue
        except Exception as exc:
            # PIL's decoders raise a zoo of types on malformed data (OSError, ValueError,
            # SyntaxError, struct.error, IndexError, ...); one bad upload must not stop a batch.
            result.errors[index] = _describe(exc)
            continue
        pixels = np.asarray(image, dtype=np.uint8)
        rows.append(pixels[:, :, None] if channels == 1 else pixels)
        result.ok_indices.append(index)
    if rows:
        result.array = np.stack(rows)
    return result


def _load(source: ImageSource, *, mode: str, size: int, max_pixels: int | None = None) -> Image.Image:
    """Open, fully decode and square one image; raises on any problem."""
    if isinstance(source, Image.Image):
        return _to_square(source, mode=mode, size=size)
    with Image.open(source) as image:  # reads the header only
        # For JPEGs, let the decoder downscale by up to 8x while decoding: much faster for big
        # photos, and image.size is then the reduced size that will be decoded.
        image.draft(mode, (size, size))
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageTooLarge(f"{width:,} x {height:,} pixels; the limit is {max_pixels:,} pixels")
        image.load()  # decode now, so truncated data fails inside the caller's try
        factor = int(max(width, height) / (size * REDUCING_GAP))
        if factor >= 2 and image.mode in _REDUCIBLE:
            return _to_square(
                image.reduce(factor), mode=mode, size=size
            )  # reduce() keeps image.info (EXIF orientation)
        return _to_square(image, mode=mode, size=size)


_REDUCIBLE = {"1", "L", "LA", "I", "F", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I;16"}


def _to_square(image: Image.Image, *, mode: str, size: int) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert(mode)

    width, height = image.size
    if width < 1 or height < 1:
        raise ValueError("image has no pixels")
    scale = size / max(width, height)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if new_size != image.size:
        image = image.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    if new_size == (size, size):
        return image
    canvas = Image.new(mode, (size, size), _WHITE[mode])
    canvas.paste(image, ((size - new_size[0]) // 2, (size - new_size[1]) // 2))
    return canvas


def _describe(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, Image.UnidentifiedImageError):
        return "not a recognised image"
    if isinstance(exc, Image.DecompressionBombWarning):
        return f"image too large: {exc}"[:200]
    return f"unreadable image ({type(exc).__name__}: {exc})"[:200]


def resize_array(images: np.ndarray, *, size: int) -> np.ndarray:
    """Resize prepared uint8 (N, S, S, C) squares to (N, size, size, C) with Lanczos, as
    :func:`prepare_images` would have made them (one snapshot then feeds encoders of two sizes)."""
    if images.shape[1] == size:
        return images
    mode = "RGB" if images.shape[3] == 3 else "L"
    out = np.empty((len(images), size, size, images.shape[3]), dtype=np.uint8)
    for i, image in enumerate(images):
        pil = Image.fromarray(image if mode == "RGB" else image[:, :, 0], mode)
        resized = np.asarray(pil.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0), dtype=np.uint8)
        out[i] = resized if mode == "RGB" else resized[:, :, None]
    return out
