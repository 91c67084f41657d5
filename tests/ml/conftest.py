"""Synthetic image data for the pure-torch tests: no files, no Django, fully seeded."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from shopguide.ml.image_encoder import ImageEncoderConfig

SIZE = 16


def make_shapes(n_per_class: int, *, seed: int, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Three classes drawn on white with random colour, position and noise.

    0: horizontal bars, 1: vertical bars, 2: a filled disc. Returns uint8 (3n, size, size, 3)
    images and int64 (3n,) labels.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    images, labels = [], []
    for label in range(3):
        for _ in range(n_per_class):
            period, phase = rng.integers(3, 6), rng.integers(0, 6)
            if label == 0:
                mask = (yy + phase) % period < period // 2 + 1
            elif label == 1:
                mask = (xx + phase) % period < period // 2 + 1
            else:
                cy, cx = rng.uniform(size * 0.3, size * 0.7, 2)
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 < rng.uniform(0.2, 0.35) ** 2 * size**2
            colour = rng.integers(0, 160, 3)
            image = np.full((size, size, 3), 255.0)
            image[mask] = colour
            image += rng.normal(0, 12, image.shape)
            images.append(np.clip(image, 0, 255).astype(np.uint8))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Run tiny test networks on one thread (opt in with ``pytest.mark.usefixtures``).

    Their ops are too small to gain from a second thread, and on a busy machine OpenMP's
    barrier waits make two threads many times slower than one.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def shapes_train() -> tuple[np.ndarray, np.ndarray]:
    return make_shapes(30, seed=0)


@pytest.fixture(scope="session")
def shapes_test() -> tuple[np.ndarray, np.ndarray]:
    return make_shapes(20, seed=1)


@pytest.fixture
def small_config() -> ImageEncoderConfig:
    """A network small enough that a few epochs on 90 images take well under a second."""
    return ImageEncoderConfig(
        image_size=SIZE, channels=3, embedding_dim=16, width=8, stages=3, epochs=6, batch_size=32, lr=5e-3, seed=0
    )
