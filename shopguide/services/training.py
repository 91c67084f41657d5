"""The training pipeline: snapshot → train → embed (fanned out in chunks) → finish.

``finish`` builds the version's vector indexes, applies the evaluation gate and activates. The new
version only serves after that, so a run that fails, is cancelled or is killed leaves the active
version serving untouched. Every step is idempotent, so a re-delivered Celery task is harmless.

In-process: ``run_training(run_id)``. Through Celery: ``shopguide.tasks`` calls ``start_run`` and
``train_models`` in one task, then one ``embed_chunk`` task per chunk; the task that finishes the
last chunk finishes the run.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from datetime import timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.exceptions import TrainingRefused
from shopguide.models import EmbeddingChunk, ModelVersion, ProductVector, TrainingRun
from shopguide.search_documents import refresh_search_documents
from shopguide.selectors.versions import active_version
from shopguide.services.gate import compare_with_active, decide
from shopguide.services.progress import Heartbeat, RunCancelled, RunProgress
from shopguide.services.segments import train_segments
from shopguide.services.stored_lists import build_related_lists, build_shopper_lists
from shopguide.services.versions import activate_version, prune_versions
from shopguide.snapshot import take_catalog_snapshot, take_event_snapshot
from shopguide.spaces import TrainedSpace, get_space, spaces
from shopguide.spaces import image as image_space
from shopguide.vector_categories import CONFIG_KEY as CATEGORY_INDEXES
from shopguide.vectors import (
    drop_hnsw_indexes,
    ensure_category_indexes,
    ensure_hnsw_index,
    write_product_vectors,
    write_user_vectors,
)

logger = logging.getLogger(__name__)

__all__ = ["TrainingRefused", "embed_chunk", "request_training", "run_training", "start_run", "train_models"]


# -- requests ----------------------------------------------------------------------------------------


def request_training(*, requested_by=None, options: dict[str, Any] | None = None) -> TrainingRun:
    """Create a queued run. ``options``: {"image_model": {...config overrides}, "force": bool}."""
    fail_stale_runs()
    return TrainingRun.objects.create(requested_by=requested_by, options=options or {})


def cancel_run(run: TrainingRun) -> bool:
    """Ask a queued or running run to stop; it stops at its next progress report."""
    updated = TrainingRun.objects.filter(
        pk=run.pk, status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]
    ).update(status=TrainingRun.Status.CANCELLED, finished_at=timezone.now(), message="cancelled by staff")
    if updated:
        _discard(ModelVersion.objects.filter(runs=run).first())
    return bool(updated)


def fail_stale_runs() -> int:
    """Mark failed the running runs whose worker stopped sending heartbeats."""
    cutoff = timezone.now() - timedelta(seconds=shopguide_settings.RUN_STALE_AFTER)
    stale = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, heartbeat_at__lt=cutoff)
    count = 0
    for run in stale:
        _fail(
            run,
            "The worker running this training stopped responding (no heartbeat since "
            f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC).",
        )
        count += 1
    return count


# -- the whole pipeline in this process --------------------------------------------------------------


def run_training(run_id: int) -> TrainingRun:
    """Run every step for a queued run here and return the finished run."""
    run = start_run(run_id)
    if run is None:
        return TrainingRun.objects.get(pk=run_id)
    if train_models(run) is not None:
        for index in range(TrainingRun.objects.get(pk=run_id).chunks_total):
            embed_chunk(run_id, index)
    return TrainingRun.objects.get(pk=run_id)


# -- steps ---------------------------------------------------------------------------------------------


def start_run(run_id: int) -> TrainingRun | None:
    """queued → running. None when there is nothing to do: the run is finished, or it was already
    started by a worker that died (then it is marked failed rather than half-repeated)."""
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.is_finished:
            return None
        if run.status == TrainingRun.Status.RUNNING:
            _fail(run, "The worker running this training was lost (killed or crashed).")
            return None
        run.status = TrainingRun.Status.RUNNING
        run.started_at = run.heartbeat_at = timezone.now()
        run.worker = socket.gethostname()
        run.save(update_fields=["status", "started_at", "heartbeat_at", "worker"])
    return run


def train_models(run: TrainingRun) -> ModelVersion | None:
    """Snapshot the data, train every enabled space's model, tune the related-products fusion,
    plan the embedding chunks. Returns the new (building) version, or None when the run failed
    or was cancelled."""
    progress = RunProgress(run)
    version = None
    with _failing(run, lambda: version), Heartbeat(run.pk):
        image_size, channels = image_space.snapshot_format(
            run.options.get("image_model"), n_products=get_adapter().get_queryset().count()
        )
        catalog = take_catalog_snapshot(
            image_size=image_size, channels=channels, progress=progress.callback("snapshot")
        )
        events = take_event_snapshot(catalog)
        timings = {"snapshot": progress.finish_stage("snapshot")}
        version = ModelVersion.objects.create(n_products=catalog.n_products, n_interactions=events.n_events)
        warnings = [f"product {pk}: {why}" for pk, why in catalog.skipped.items()]
        TrainingRun.objects.filter(pk=run.pk).update(version=version, warnings=warnings)

        trained, skipped = train_spaces(run, version, catalog, events, progress)
        metrics: dict[str, Any] = {name: space.metrics for name, space in trained.items()}
        users = next((space.users for space in trained.values() if space.users is not None), None)
        if users is not None:
            metrics["segments"] = train_segments(version, user_ids=users.user_ids, user_vectors=users.vectors)
        timings["train"] = progress.finish_stage("train")
        # A space its own baseline (raw pixels, full-text) beats on held-out data leaves fusion.
        from shopguide.ml.baselines import fused_spaces

        kept, baselines = fused_spaces({name: space.fusion_check for name, space in trained.items()})
        fused = {name: trained[name].vectors for name in kept}
        weights, fusion_report = tune_related_weights(catalog, events, fused)
        metrics["related"] = {"weights": weights, "hit_rate_at_10": fusion_report, "baselines": baselines}
        # The active version scored on this snapshot's held-out data, beside the new models.
        scores = {name: space.held_out_scores for name, space in trained.items()}
        metrics["gate"] = compare_with_active(spaces=spaces(), catalog=catalog, events=events, candidate_scores=scores)
        if skipped:
            metrics["skipped"] = skipped
            warnings += [f"{name} model skipped: {why}" for name, why in skipped.items()]
        dimensions = {name: space.dimensions for name, space in trained.items()}
        ModelVersion.objects.filter(pk=version.pk).update(
            metrics=metrics, dimensions=dimensions, config={"related_weights": weights}
        )
        chunk_size = shopguide_settings.EMBED_CHUNK_SIZE
        ids = catalog.product_ids
        chunks = [
            EmbeddingChunk(run=run, index=i, product_ids=ids[start : start + chunk_size])
            for i, start in enumerate(range(0, len(ids), chunk_size))
        ]
        EmbeddingChunk.objects.bulk_create(chunks, ignore_conflicts=True)
        TrainingRun.objects.filter(pk=run.pk).update(chunks_total=len(chunks), timings=timings, warnings=warnings)
        return version
    return None


def train_spaces(run, version, catalog, events, progress) -> tuple[dict[str, TrainedSpace], dict[str, str]]:
    """Train every enabled space in registry order (the behaviour model reads the image and text
    vectors as item content) and store the vectors training already computed exactly as the
    embedding chunks would (see ``embed_chunk``), and the shoppers' vectors.

    Returns (each trained space, the skipped spaces with the reason). Raises TrainingRefused when
    no model could be trained at all.
    """
    enabled = [space for name, space in spaces().items() if name in shopguide_settings.MODELS]
    total = sum(space.training_share for space in enabled) or 1.0
    done = 0.0
    trained: dict[str, TrainedSpace] = {}
    skipped: dict[str, str] = {}
    for space in enabled:
        name = space.name
        lo, width = done / total, space.training_share / total
        callback = progress.callback("train")

        def sub_progress(f, m="", lo=lo, width=width, name=name, callback=callback):
            return callback(lo + width * f, f"{name}: {m}")

        overrides = run.options.get(f"{name}_model") or {}
        try:
            result = space.train(
                catalog, events, version=version, trained=dict(trained), overrides=overrides, progress=sub_progress
            )
        except TrainingRefused as exc:
            skipped[name] = str(exc)
            continue
        finally:
            done += space.training_share
        if result.stored is not None and len(result.stored):
            rows = np.asarray(result.stored)
            write_product_vectors(
                version=version,
                space=name,
                product_ids=[catalog.product_ids[i] for i in rows],
                vectors=result.vectors[rows],
            )
        if result.users is not None:
            write_user_vectors(version=version, user_ids=result.users.user_ids, vectors=result.users.vectors)
        trained[name] = result
    if not trained:
        raise TrainingRefused("No model could be trained: " + " ".join(f"{k}: {v}" for k, v in skipped.items()))
    return trained, skipped


def tune_related_weights(catalog, events, vectors) -> tuple[dict[str, float], dict[str, float]]:
    """Weights of the spaces in "related products", tuned on each shopper's last two products
    (a pair none of the models trained on as a target)."""
    from shopguide.ml.fusion import tune_weights

    pairs = np.array([seq[-2:] for seq in events.sequences if len(seq) >= 2], dtype=np.int64).reshape(-1, 2)
    return tune_weights(vectors, pairs)


def embed_chunk(run_id: int, index: int) -> bool:
    """Embed one chunk of products in every space and bulk-write the vectors. The call that
    completes the last chunk finishes the run; returns True when this call finished it.

    The one path from a trained model to stored vectors: what training already computed for its
    evaluation exactly as this step would (text and behaviour vectors, image vectors when the
    snapshot's images have the encoder's format) it wrote itself, so each chunk embeds only the
    products a space has no vector of yet in this version. Evaluation needs every product's
    vectors in memory anyway (the fusion weights, the behaviour model's item content, held-out
    ranks among all products), so embedding them a second time here would only repeat that work;
    whatever training did not write is embedded here, fanned out across workers."""
    run = TrainingRun.objects.select_related("version").get(pk=run_id)
    if run.status != TrainingRun.Status.RUNNING or run.version is None:
        return False
    chunk = EmbeddingChunk.objects.get(run=run, index=index)
    if chunk.done_at is None:
        with _failing(run, lambda: run.version):
            adapter = get_adapter()
            by_pk = adapter.get_queryset().in_bulk(chunk.product_ids)
            products = [by_pk[pk] for pk in chunk.product_ids if pk in by_pk]  # deleted meanwhile: skip
            for name in run.version.dimensions:
                written = set(
                    ProductVector.objects.filter(
                        version=run.version, space=name, product_id__in=chunk.product_ids
                    ).values_list("product_id", flat=True)
                )
                missing = [product for product in products if product.pk not in written]
                if not missing:
                    continue  # written by train_models already
                ids, vectors, _errors = get_space(name).embed_products(run.version, missing)
                write_product_vectors(version=run.version, space=name, product_ids=ids, vectors=vectors)
            refresh_search_documents(products)
            EmbeddingChunk.objects.filter(pk=chunk.pk, done_at__isnull=True).update(done_at=timezone.now())
            done = EmbeddingChunk.objects.filter(run=run, done_at__isnull=False).count()
            RunProgress(run).stage(
                "embed", done / max(1, run.chunks_total), f"embedded chunk {done}/{run.chunks_total}"
            )
        if run.status == TrainingRun.Status.FAILED:
            return False
    return _finish_if_complete(run_id)


def _finish_if_complete(run_id: int) -> bool:
    # Chunk tasks finish concurrently: the row lock lets exactly one of them claim the finish.
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update(of=("self",)).select_related("version").get(pk=run_id)
        if (
            run.status != TrainingRun.Status.RUNNING
            or run.stage in ("finish", "done")
            or run.chunks.filter(done_at__isnull=True).exists()
        ):
            return False
        TrainingRun.objects.filter(pk=run_id).update(stage="finish")
    finish_run(run)
    return True


def build_vector_indexes(version: ModelVersion) -> None:
    """Each space's HNSW indexes, then one per large category and space (a category-filtered list
    walks only its category's graph), listed in the version's config for the plan choice."""
    min_products = shopguide_settings.CATEGORY_INDEX_MIN_PRODUCTS
    by_category: dict[str, list[str]] = {}
    for name, dims in version.dimensions.items():
        metrics = get_space(name).index_metrics
        for metric in metrics:
            ensure_hnsw_index(version=version, space=name, dimensions=dims, metric=metric)
        if min_products:
            by_category[name] = ensure_category_indexes(
                version=version, space=name, dimensions=dims, metrics=metrics, min_products=min_products
            )
    version.config = {**(version.config or {}), CATEGORY_INDEXES: by_category}
    ModelVersion.objects.filter(pk=version.pk).update(config=version.config)


def finish_run(run: TrainingRun) -> None:
    """Build the version's indexes and stored lists, apply the gate, activate, prune old versions."""
    progress = RunProgress(run)
    version = run.version
    with _failing(run, lambda: version):
        progress.stage("finish", 0.0, "building vector indexes")
        build_vector_indexes(version)
        # Every product's related lists and every shopper's recommendations, exactly, before the
        # version can serve: serving reads one stored row per request.
        lists = progress.callback("finish")
        with Heartbeat(run.pk):
            build_related_lists(version, progress=lambda f, m: lists(0.1 + 0.7 * f, m))
            lists(0.8, "personal recommendations")
            build_shopper_lists(version)
        ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.READY)
        version.refresh_from_db()
        activate, why = decide(version, force=bool(run.options.get("force")))
        if activate:
            message = f"activated {version}: {why}"
        else:
            message = f"trained {version} but kept {active_version()} serving: {why}"
        gate = {**(version.metrics.get("gate") or {}), "decision": "activated" if activate else "held back", "why": why}
        ModelVersion.objects.filter(pk=version.pk).update(metrics={**version.metrics, "gate": gate})
        if activate:
            activate_version(version=version)
        prune_versions()
        timings = {**run.timings, "total": round((timezone.now() - run.started_at).total_seconds(), 2)}
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
            percent=100.0,
            eta_seconds=0,
            stage="done",
            message=message[:255],
            timings=timings,
        )


# -- failure handling --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _failing(run: TrainingRun, current_version):
    """Turn any error in a step into a failed (or cancelled) run; the active version is untouched."""
    try:
        yield
    except RunCancelled:
        _discard(current_version())
    except TrainingRefused as exc:
        _discard(current_version())
        _fail(run, str(exc))
    except Exception as exc:
        logger.exception("Training run %s failed", run.pk)
        _discard(current_version())
        _fail(run, f"{type(exc).__name__}: {exc}")


def _fail(run: TrainingRun, error: str) -> None:
    TrainingRun.objects.filter(pk=run.pk).exclude(status=TrainingRun.Status.CANCELLED).update(
        status=TrainingRun.Status.FAILED, error=error, finished_at=timezone.now(), eta_seconds=None
    )
    run.refresh_from_db()
    _discard(ModelVersion.objects.filter(runs=run).first())


def _discard(version: ModelVersion | None) -> None:
    """Mark an unfinished version failed and drop its vectors and indexes."""
    if version is None:
        return
    version.refresh_from_db()
    if version.is_active or version.status == ModelVersion.Status.READY:
        return
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.FAILED)
    version.product_vectors.all().delete()
    drop_hnsw_indexes(version.pk)
