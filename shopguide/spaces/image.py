"""The image space: a CNN trained on the shop's product images (supervised by category)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from shopguide.conf import shopguide_settings
from shopguide.models import ModelVersion
from shopguide.snapshot import CatalogSnapshot, TrainingRefused, read_product_images
from shopguide.spaces.artifacts import load_artifact, save_artifact

NAME = "image"
METRIC = "cosine"
HOLDOUT_FRACTION = 0.1
EVAL_K = 10


def config(overrides: dict[str, Any] | None = None):
    from shopguide.ml.image_encoder import ImageEncoderConfig

    return ImageEncoderConfig(**{**shopguide_settings.IMAGE_MODEL, **(overrides or {})})


def training_mask(labels: np.ndarray, *, seed: int) -> np.ndarray:
    """True for images trained on; a held-out tenth of the labelled ones is kept for evaluation."""
    rng = np.random.default_rng(seed)
    mask = np.ones(len(labels), dtype=bool)
    labelled = np.flatnonzero(labels >= 0)
    n_holdout = int(len(labelled) * HOLDOUT_FRACTION)
    if n_holdout >= 1 and len(labelled) - n_holdout >= 2:
        mask[rng.choice(labelled, size=n_holdout, replace=False)] = False
    return mask


def train(snapshot: CatalogSnapshot, *, version: ModelVersion, overrides: dict, progress) -> dict[str, Any]:
    """Train the CNN, save it with ``version`` and evaluate it. Returns the space's metrics."""
    from shopguide.ml.image_encoder import ImageEncoder

    if len(snapshot.image_rows) < 2:
        raise TrainingRefused(
            f"Only {len(snapshot.image_rows)} of {snapshot.n_products} products have a readable image; "
            "the image model needs at least 2."
        )
    cfg = config(overrides)
    encoder = ImageEncoder(cfg, device=shopguide_settings.DEVICE)
    labels = snapshot.category_labels()[snapshot.image_rows]
    mask = training_mask(labels, seed=cfg.seed)
    fit = encoder.fit(snapshot.images[mask], labels[mask], progress=progress)
    save_artifact(version, NAME, encoder)
    vectors = encoder.embed(snapshot.images, batch_size=shopguide_settings.EMBED_BATCH_SIZE)
    # Vectors of every product (zeros where a product has no image) for the later stages.
    all_vectors = np.zeros((snapshot.n_products, cfg.embedding_dim), np.float32)
    all_vectors[snapshot.image_rows] = vectors
    return {
        **evaluate(snapshot.images, vectors, labels, held_out=np.flatnonzero(~mask & (labels >= 0))),
        "training": {
            "mode": fit.mode,
            "losses": [round(x, 4) for x in fit.losses],
            "seconds": round(fit.seconds, 2),
            "images_per_second": round(fit.samples_per_second, 1),
            "device": str(encoder.device),
            "config": asdict(cfg),
        },
        "dimensions": cfg.embedding_dim,
        "_vectors": all_vectors,
    }


def evaluate(images: np.ndarray, vectors: np.ndarray, labels: np.ndarray, *, held_out: np.ndarray) -> dict[str, Any]:
    """Precision@10 of same-category neighbours for held-out images, beside raw pixels."""
    k = min(EVAL_K, len(labels) - 1)
    if len(held_out) == 0 or k < 1:
        return {"note": "no held-out labelled images to evaluate"}
    pixels = images.reshape(len(images), -1).astype(np.float32)
    pixels -= pixels.mean(axis=1, keepdims=True)
    precision = {
        name: round(held_out_precision(space, labels, held_out, k), 4)
        for name, space in (("cnn", vectors), ("raw_pixels", pixels))
    }
    return {f"precision_at_{k}": precision, "held_out": int(len(held_out))}


def held_out_precision(space: np.ndarray, labels: np.ndarray, held_out: np.ndarray, k: int) -> float:
    """Share of same-label items among each held-out item's k nearest others (cosine)."""
    norms = np.linalg.norm(space, axis=1, keepdims=True)
    normed = space / np.maximum(norms, 1e-12)
    sims = normed[held_out] @ normed.T  # (h, n)
    sims[np.arange(len(held_out)), held_out] = -np.inf  # never your own neighbour
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return float((labels[top] == labels[held_out][:, None]).mean())


def load(version: ModelVersion):
    return load_artifact(version.artifacts[NAME], "shopguide.ml.image_encoder.ImageEncoder", shopguide_settings.DEVICE)


def embed_products(version: ModelVersion, products: list) -> tuple[list[Any], np.ndarray, dict[Any, str]]:
    """Vectors for ``products`` with this version's CNN: (product ids, (M, D) vectors, errors by pk)."""
    encoder = load(version)
    cfg = encoder.config
    ok, pixels, errors = read_product_images(products, size=cfg.image_size, channels=cfg.channels)
    vectors = encoder.embed(pixels) if len(pixels) else np.zeros((0, cfg.embedding_dim), np.float32)
    return [products[i].pk for i in ok], vectors, {products[i].pk: m for i, m in errors.items()}
