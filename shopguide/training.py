"""The training pipeline: snapshot → train → embed → evaluate → activate.

Plain functions, callable in-process (``shopguide_train --sync``, tests) or from the Celery task.
The new version only becomes active at the very end, after its vectors and index exist, so a run
that fails, is cancelled or is killed leaves the active version serving untouched.
"""

from __future__ import annotations

import io
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.models import Interaction, ModelVersion, TrainingRun
from shopguide.progress import RunCancelled, RunProgress
from shopguide.vectors import ensure_hnsw_index, write_product_vectors
from shopguide.versions import activate_version, prune_versions

logger = logging.getLogger(__name__)

IMAGE_SPACE = "image"
IMAGE_LOAD_CHUNK = 512
HOLDOUT_FRACTION = 0.1
EVAL_K = 10
STAGES = {"snapshot": 15, "train_image": 60, "embed": 15, "evaluate": 5, "activate": 5}


class TrainingRefused(Exception):
    """The data cannot train a model (e.g. no product images); the message says why."""


@dataclass
class CatalogSnapshot:
    """The catalogue as the image model sees it."""

    product_ids: list[Any] = field(default_factory=list)  # products with a readable image
    categories: list[str | None] = field(default_factory=list)
    images: np.ndarray | None = None  # uint8 (N, S, S, C), aligned with product_ids
    n_products: int = 0  # all products, with or without images
    skipped: dict[str, str] = field(default_factory=dict)  # product pk -> why its image was skipped


# -- entry point ---------------------------------------------------------------------------------


def request_training(*, requested_by=None, options: dict[str, Any] | None = None) -> TrainingRun:
    """Create a queued run (the Celery task or ``run_training`` picks it up)."""
    return TrainingRun.objects.create(requested_by=requested_by, options=options or {})


def run_training(run_id: int) -> TrainingRun:
    """Run the whole pipeline for a queued run and return the finished run.

    Idempotent for a re-delivered task: a finished run is returned as it is; a run that was
    already started (its worker died mid-way) is marked failed rather than half-repeated.
    """
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.is_finished:
            return run
        if run.status == TrainingRun.Status.RUNNING:
            _fail(run, "The worker running this training was lost (killed or crashed).")
            return run
        run.status = TrainingRun.Status.RUNNING
        run.started_at = timezone.now()
        run.worker = socket.gethostname()
        run.save(update_fields=["status", "started_at", "worker"])

    progress = RunProgress(run, STAGES)
    timings: dict[str, float] = {}
    version: ModelVersion | None = None
    try:
        snapshot = take_snapshot(progress)
        timings["snapshot"] = progress.finish_stage("snapshot")
        version = ModelVersion.objects.create(
            n_products=snapshot.n_products,
            n_interactions=Interaction.objects.count(),
            config={"image": _image_config_dict(run)},
        )
        TrainingRun.objects.filter(pk=run.pk).update(
            version=version, warnings=[f"product {pk}: {why}" for pk, why in snapshot.skipped.items()]
        )
        encoder, fit = train_image_model(snapshot, run=run, progress=progress)
        timings["train_image"] = progress.finish_stage("train_image")
        save_artifact(version, IMAGE_SPACE, encoder)
        vectors = embed_catalog(version, encoder, snapshot, progress=progress)
        timings["embed"] = progress.finish_stage("embed")
        metrics = evaluate_image_space(snapshot, vectors, seed=encoder.config.seed)
        metrics["image_training"] = {
            "mode": fit.mode,
            "losses": [round(x, 4) for x in fit.losses],
            "seconds": round(fit.seconds, 2),
            "images_per_second": round(fit.samples_per_second, 1),
            "device": str(encoder.device),
        }
        timings["evaluate"] = progress.finish_stage("evaluate")
        progress.stage("activate", 0.0, "building the vector index")
        ensure_hnsw_index(version=version, space=IMAGE_SPACE, dimensions=encoder.config.embedding_dim)
        version.metrics = metrics
        version.dimensions = {IMAGE_SPACE: encoder.config.embedding_dim}
        version.status = ModelVersion.Status.READY
        version.save(update_fields=["metrics", "dimensions", "status"])
        progress.stage("activate", 0.5, "activating")
        activate_version(version=version)
        prune_versions()
        timings["activate"] = progress.finish_stage("activate")
    except RunCancelled:
        _discard(version)
        TrainingRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), timings=timings)
        run.refresh_from_db()
        return run
    except TrainingRefused as exc:
        _discard(version)
        _fail(run, str(exc), timings=timings)
        return run
    except Exception as exc:
        logger.exception("Training run %s failed", run.pk)
        _discard(version)
        _fail(run, f"{type(exc).__name__}: {exc}", timings=timings)
        return run

    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
        percent=100.0,
        eta_seconds=0,
        stage="done",
        message=f"activated {version}",
        timings=timings,
    )
    run.refresh_from_db()
    return run


# -- stages ----------------------------------------------------------------------------------------


def take_snapshot(progress: RunProgress) -> CatalogSnapshot:
    """Read every product's category and image through the adapter."""
    from shopguide.ml.images import prepare_images

    config = image_config({})
    adapter = get_adapter()
    queryset = adapter.get_queryset().order_by("pk")
    total = queryset.count()
    snapshot = CatalogSnapshot(n_products=total)
    if total == 0:
        raise TrainingRefused("The catalogue is empty: add products before training.")
    chunks: list[np.ndarray] = []
    pending: list[tuple[Any, str | None, bytes]] = []

    def flush() -> None:
        prepared = prepare_images(
            [io.BytesIO(data) for _, _, data in pending], size=config.image_size, channels=config.channels
        )
        for index, message in prepared.errors.items():
            snapshot.skipped[str(pending[index][0])] = message
        for index in prepared.ok_indices:
            snapshot.product_ids.append(pending[index][0])
            snapshot.categories.append(pending[index][1])
        if len(prepared.array):
            chunks.append(prepared.array)
        pending.clear()

    for done, product in enumerate(queryset.iterator(chunk_size=2000), start=1):
        data = adapter.read_image(product)
        if data is None:
            snapshot.skipped[str(product.pk)] = "no image"
        else:
            pending.append((product.pk, adapter.category(product), data))
        if len(pending) >= IMAGE_LOAD_CHUNK:
            flush()
        if done % 200 == 0:
            progress.stage("snapshot", done / total, f"read {done}/{total} products")
    if pending:
        flush()
    if len(snapshot.product_ids) < 2:
        raise TrainingRefused(
            f"Only {len(snapshot.product_ids)} of {total} products have a readable image; "
            "the image model needs at least 2."
        )
    snapshot.images = np.concatenate(chunks)
    return snapshot


def image_config(overrides: dict[str, Any]):
    from shopguide.ml.image_encoder import ImageEncoderConfig

    return ImageEncoderConfig(**{**shopguide_settings.IMAGE_MODEL, **overrides})


def _image_config_dict(run: TrainingRun) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(image_config(run.options.get("image_model", {})))


def train_image_model(snapshot: CatalogSnapshot, *, run: TrainingRun, progress: RunProgress):
    from shopguide.ml.image_encoder import ImageEncoder

    config = image_config(run.options.get("image_model", {}))
    encoder = ImageEncoder(config, device=shopguide_settings.DEVICE)
    labels = category_labels(snapshot.categories)
    train_mask = training_mask(labels, seed=config.seed)
    fit = encoder.fit(
        snapshot.images[train_mask],
        labels[train_mask],
        progress=progress.callback("train_image"),
    )
    return encoder, fit


def category_labels(categories: list[str | None]) -> np.ndarray:
    """Category names → int ids (-1 = no category)."""
    names = sorted({c for c in categories if c})
    ids = {name: i for i, name in enumerate(names)}
    return np.array([ids.get(c, -1) if c else -1 for c in categories], dtype=np.int64)


def training_mask(labels: np.ndarray, *, seed: int) -> np.ndarray:
    """True for images trained on; a held-out tenth of the labelled ones is kept for evaluation."""
    rng = np.random.default_rng(seed)
    mask = np.ones(len(labels), dtype=bool)
    labelled = np.flatnonzero(labels >= 0)
    n_holdout = int(len(labelled) * HOLDOUT_FRACTION)
    if n_holdout >= 1 and len(labelled) - n_holdout >= 2:
        mask[rng.choice(labelled, size=n_holdout, replace=False)] = False
    return mask


def save_artifact(version: ModelVersion, space: str, model) -> str:
    buffer = io.BytesIO()
    model.save(buffer)
    path = f"{shopguide_settings.STORAGE_PREFIX.rstrip('/')}/v{version.pk}/{space}.pt"
    if default_storage.exists(path):  # a re-run of the same version replaces its file
        default_storage.delete(path)
    stored = default_storage.save(path, ContentFile(buffer.getvalue()))
    version.artifacts = {**version.artifacts, space: stored}
    version.save(update_fields=["artifacts"])
    return stored


def embed_catalog(version: ModelVersion, encoder, snapshot: CatalogSnapshot, *, progress: RunProgress) -> np.ndarray:
    """Embed every product image in batches and bulk-write the vectors. Returns all vectors."""
    batch = shopguide_settings.EMBED_BATCH_SIZE
    total = len(snapshot.product_ids)
    out = []
    for start in range(0, total, batch):
        vectors = encoder.embed(snapshot.images[start : start + batch])
        write_product_vectors(
            version=version,
            space=IMAGE_SPACE,
            product_ids=snapshot.product_ids[start : start + batch],
            vectors=vectors,
        )
        out.append(vectors)
        progress.stage("embed", min(1.0, (start + batch) / total), f"embedded {min(total, start + batch)}/{total}")
    return np.concatenate(out)


def evaluate_image_space(snapshot: CatalogSnapshot, vectors: np.ndarray, *, seed: int) -> dict[str, Any]:
    """Precision@10 of same-category neighbours for held-out images, beside raw pixels."""
    labels = category_labels(snapshot.categories)
    held_out = np.flatnonzero(~training_mask(labels, seed=seed) & (labels >= 0))
    k = min(EVAL_K, len(labels) - 1)
    if len(held_out) == 0 or k < 1:
        return {"image": {"note": "no held-out labelled images to evaluate"}}
    pixels = snapshot.images.reshape(len(snapshot.images), -1).astype(np.float32)
    pixels -= pixels.mean(axis=1, keepdims=True)
    precision = {
        name: round(held_out_precision(space, labels, held_out, k), 4)
        for name, space in (("cnn", vectors), ("raw_pixels", pixels))
    }
    return {"image": {f"precision_at_{k}": precision, "held_out": int(len(held_out))}}


def held_out_precision(space: np.ndarray, labels: np.ndarray, held_out: np.ndarray, k: int) -> float:
    """Share of same-label items among each held-out item's k nearest others (cosine)."""
    norms = np.linalg.norm(space, axis=1, keepdims=True)
    normed = space / np.maximum(norms, 1e-12)
    sims = normed[held_out] @ normed.T  # (h, n)
    sims[np.arange(len(held_out)), held_out] = -np.inf  # never your own neighbour
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return float((labels[top] == labels[held_out][:, None]).mean())


# -- failure handling ------------------------------------------------------------------------------


def _fail(run: TrainingRun, error: str, *, timings: dict[str, float] | None = None) -> None:
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.FAILED,
        error=error,
        finished_at=timezone.now(),
        eta_seconds=None,
        **({"timings": timings} if timings is not None else {}),
    )
    ModelVersion.objects.filter(runs=run, status=ModelVersion.Status.BUILDING).update(
        status=ModelVersion.Status.FAILED
    )
    run.refresh_from_db()


def _discard(version: ModelVersion | None) -> None:
    """Mark an unfinished version failed and drop its vectors; the active version is untouched."""
    if version is None or version.is_active:
        return
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.FAILED)
    version.product_vectors.all().delete()
