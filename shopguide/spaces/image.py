"""The image space: an image encoder trained on the shop's product images (supervised by category,
contrastive without categories). The backbone, scratch CNN or pretrained EfficientNet-Lite0, is
chosen per shop on held-out images (SHOPGUIDE["IMAGE_MODEL"]["backbone"] = "auto")."""

from __future__ import annotations

from typing import Any

import numpy as np

from shopguide.conf import shopguide_settings
from shopguide.exceptions import TrainingRefused
from shopguide.models import ModelVersion
from shopguide.products import read_product_images
from shopguide.snapshot import CatalogSnapshot
from shopguide.spaces import Space, TrainedSpace
from shopguide.spaces.artifacts import load_artifact, save_artifact

NAME = "image"
METRIC = "cosine"
# Held out by a stable hash of the product id, so the same products stay held out across
# versions: VALID stops training early and chooses the backbone, TEST only reports and gates.
VALID_FRACTION = 0.15
TEST_FRACTION = 0.15
SPLIT_SALT = "image"
EVAL_K = 8  # the widgets show 8 products


def candidates(overrides: dict[str, Any] | None = None, *, n_images: int = 0):
    """(name -> ImageEncoderConfig, notes) for SHOPGUIDE["IMAGE_MODEL"] with a run's overrides."""
    from shopguide.ml.image_selection import candidate_configs
    from shopguide.ml.packages import missing_pretrained_packages

    base, overrides = shopguide_settings.IMAGE_MODEL, overrides or {}
    settings = {**base, **overrides}
    if "pretrained" in overrides:  # a run's overrides refine the pretrained candidate's settings
        settings["pretrained"] = {**(base.get("pretrained") or {}), **(overrides["pretrained"] or {})}
    return candidate_configs(settings, n_images=n_images, pretrained_available=not missing_pretrained_packages())


def snapshot_format(overrides: dict[str, Any] | None = None, *, n_products: int) -> tuple[int, int]:
    """(image side, channels) the catalogue snapshot decodes images to: the largest candidate's."""
    configs, _ = candidates(overrides, n_images=n_products)
    return max(c.image_size for c in configs.values()), max(c.channels for c in configs.values())


def split(snapshot: CatalogSnapshot) -> np.ndarray:
    """TRAIN / VALID / TEST (shopguide.ml.holdout) of each product with an image."""
    from shopguide.ml.holdout import split_by_key

    assert snapshot.image_rows is not None  # read with the catalogue
    keys = [snapshot.product_ids[row] for row in snapshot.image_rows]
    return split_by_key(keys, valid=VALID_FRACTION, test=TEST_FRACTION, salt=SPLIT_SALT)


def resize_array(images: np.ndarray, *, size: int) -> np.ndarray:
    from shopguide.ml.images import resize_array as resize

    return resize(images, size=size)


def train(snapshot: CatalogSnapshot, *, version: ModelVersion, overrides: dict, progress) -> TrainedSpace:
    """Train the candidate encoders, keep the best on held-out images, save it with ``version``.
    Returns the space's metrics (every figure on held-out TEST images, with its interval) and
    every product's vector."""
    from shopguide.ml.image_selection import choose_image_encoder

    assert snapshot.images is not None and snapshot.image_rows is not None  # read with the catalogue

    if len(snapshot.image_rows) < 2:
        raise TrainingRefused(
            f"Only {len(snapshot.image_rows)} of {snapshot.n_products} products have a readable image; "
            "the image model needs at least 2."
        )
    configs, notes = candidates(overrides, n_images=len(snapshot.image_rows))
    labels = snapshot.category_labels()[snapshot.image_rows]
    choice = choose_image_encoder(
        snapshot.images,
        labels,
        split(snapshot),
        candidates=configs,
        k=EVAL_K,
        device=shopguide_settings.DEVICE,
        progress=progress,
    )
    save_artifact(version, NAME, choice.encoder)
    # Vectors of every product (zeros where a product has no image) for the later stages.
    cfg = choice.encoder.config
    all_vectors = np.zeros((snapshot.n_products, cfg.embedding_dim), np.float32)
    all_vectors[snapshot.image_rows] = choice.vectors
    report = choice.report
    chosen = report["candidates"][choice.chosen]
    sized = resize_array(snapshot.images, size=cfg.image_size)
    scores = _scores(choice.encoder, sized, choice.vectors, snapshot)
    held_out = {"model": chosen["test"]}
    if "raw_pixels" in report:
        held_out["raw_pixels"] = report["raw_pixels"]["test"]
    check = baseline_check(snapshot, scores, report)
    metrics = {
        "backbone": choice.chosen,
        "held_out": held_out,
        "metric": f"{report['metric']}@{report['k']}",
        "choice": {
            "why": report["why"],
            "notes": notes,
            "candidates": {name: {"valid": c["valid"], "test": c["test"]} for name, c in report["candidates"].items()},
        },
        "training": {
            **chosen["training"],
            "device": str(choice.encoder.device),
        },
        "baseline_check": check,
    }
    # The vectors were computed from images decoded as the embedding chunks decode them when the
    # snapshot's format is the chosen encoder's: then they are stored as they are (the chunks skip
    # those products); otherwise (a larger candidate's snapshot, resized) the chunks embed again.
    same_format = snapshot.images.shape[1:] == (cfg.image_size, cfg.image_size, cfg.channels)
    return TrainedSpace(
        name=NAME,
        metrics=metrics,
        dimensions=cfg.embedding_dim,
        vectors=all_vectors,
        held_out_scores=scores,
        fusion_check=check,
        stored=np.asarray(snapshot.image_rows) if same_format else None,
    )


def baseline_check(snapshot: CatalogSnapshot, scores: np.ndarray, report: dict) -> dict | None:
    """The image model against raw pixels on the same TEST images (shopguide.ml.baselines rule);
    None in a shop without categories (no precision to compare)."""
    from shopguide.ml.baselines import baseline_verdict
    from shopguide.ml.holdout import TEST
    from shopguide.ml.image_selection import clamp_k, held_out_scores, raw_pixel_vectors

    assert snapshot.images is not None and snapshot.image_rows is not None  # read with the catalogue

    if "raw_pixels" not in report:
        return None
    labels = snapshot.category_labels()[snapshot.image_rows]
    rows = np.flatnonzero(split(snapshot) == TEST)
    pixels = held_out_scores(
        raw_pixel_vectors(snapshot.images), labels, rows, k=clamp_k(EVAL_K, len(labels)), supervised=True
    )
    return baseline_verdict(
        scores,
        pixels,
        model_name="the image model",
        baseline_name="raw pixels",
        figure=f"same-category precision@{report['k']}",
        min_n=shopguide_settings.GATE_MIN_SAMPLES,
    )


def _scores(encoder, sized: np.ndarray, vectors: np.ndarray, snapshot: CatalogSnapshot) -> np.ndarray:
    from shopguide.ml.holdout import TEST
    from shopguide.ml.image_selection import clamp_k, held_out_scores

    labels = snapshot.category_labels()[snapshot.image_rows]
    supervised = len(np.unique(labels[labels >= 0])) >= 2
    rows = np.flatnonzero(split(snapshot) == TEST)
    k = clamp_k(EVAL_K, len(vectors))
    return held_out_scores(vectors, labels, rows, k=k, supervised=supervised, encoder=encoder, images=sized)


def version_scores(version: ModelVersion, snapshot: CatalogSnapshot, events=None) -> np.ndarray | None:
    """Held-out scores of ``version``'s image model on this snapshot's TEST images (the gate
    compares them with the new model's, query by query). None when it cannot read these images."""
    assert snapshot.images is not None and snapshot.image_rows is not None  # read with the catalogue
    encoder = load(version)
    if encoder.config.channels != snapshot.images.shape[3] or len(snapshot.image_rows) < 2:
        return None
    sized = resize_array(snapshot.images, size=encoder.config.image_size)
    return _scores(encoder, sized, encoder.embed(sized), snapshot)


def load(version: ModelVersion):
    return load_artifact(version.artifacts[NAME], "shopguide.ml.image_encoder.ImageEncoder", shopguide_settings.DEVICE)


def embed_products(version: ModelVersion, products: list) -> tuple[list[Any], np.ndarray, dict[Any, str]]:
    """Vectors for ``products`` with this version's encoder: (product ids, (M, D) vectors, errors by pk)."""
    encoder = load(version)
    cfg = encoder.config
    ok, pixels, errors = read_product_images(products, size=cfg.image_size, channels=cfg.channels)
    vectors = encoder.embed(pixels) if len(pixels) else np.zeros((0, cfg.embedding_dim), np.float32)
    return [products[i].pk for i in ok], vectors, {products[i].pk: m for i, m in errors.items()}


def held_out_report(metrics: dict[str, Any]) -> tuple[list, list]:
    """The admin's rows of this space's held-out figures, and why its backbone was chosen."""
    rows = []
    for name, est in (metrics.get("held_out") or {}).items():
        label = (
            f"image · {metrics.get('backbone', 'model')}" if name == "model" else f"image · {name.replace('_', ' ')}"
        )
        rows.append((label, metrics.get("metric", ""), est))
    return rows, [("image backbone", metrics.get("choice", {}).get("why"))]


SPACE = Space(
    name=NAME,
    metric=METRIC,
    index_metrics=(METRIC,),
    reason="looks like {title}",
    list_label="looks similar",
    held_out_figure=("image precision@8", "images"),
    training_share=0.4,
    train=lambda catalog, events, *, version, trained, overrides, progress: train(
        catalog, version=version, overrides=overrides, progress=progress
    ),
    embed_products=embed_products,
    version_scores=version_scores,
    held_out_report=held_out_report,
)
