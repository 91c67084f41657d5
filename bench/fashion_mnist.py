"""Loader for the real Fashion-MNIST files (idx format, gzip) as uint8 numpy arrays."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

DEFAULT_ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def load_fashion_mnist(split: str, *, root: str | Path = DEFAULT_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of Fashion-MNIST.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        root: folder holding the four ``*-ubyte.gz`` files.

    Returns:
        ``(images, labels)``: uint8 (N, 28, 28) greyscale with white garments on black, and
        uint8 (N,) class ids 0..9 (names in ``CLASS_NAMES``).

    Raises:
        FileNotFoundError: the files are missing (install them with ``apt-get install dataset-fashion-mnist``).
        ValueError: unknown split or a file that is not in idx format.
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    image_file, label_file = (Path(root) / name for name in _FILES[split])
    for path in (image_file, label_file):
        if not path.exists():
            raise FileNotFoundError(
                f"Fashion-MNIST file {path} not found; install it with `apt-get install dataset-fashion-mnist`"
            )
    images = _read_idx(image_file, ndim=3)
    labels = _read_idx(label_file, ndim=1)
    if len(images) != len(labels):
        raise ValueError(f"{image_file} and {label_file} disagree on the number of items")
    return images, labels


def _read_idx(path: Path, *, ndim: int) -> np.ndarray:
    """Read an idx file: magic (0, 0, dtype=0x08 for uint8, ndim), big-endian int32 dims, data."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 + 4 * ndim or raw[:3] != b"\x00\x00\x08" or raw[3] != ndim:
        raise ValueError(f"{path} is not a uint8 idx file with {ndim} dimensions")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: expected {shape}, got {data.size} bytes")
    return data.reshape(shape)
