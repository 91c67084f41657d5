"""Celery tasks: thin wrappers over the pipeline. Tasks take ids and re-fetch rows.

Heavy work goes to the GPU queue (run one worker process per GPU there). Acks are late and a task
whose worker dies is re-delivered; every pipeline step is idempotent for that.
"""

from __future__ import annotations

import logging

from celery import group, shared_task
from django.db import transaction

from shopguide.conf import shopguide_settings
from shopguide.models import TrainingRun

logger = logging.getLogger(__name__)

TASK_OPTIONS = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


class BrokerUnavailable(Exception):
    """The task could not be queued; the message says what to check."""


@shared_task(name="shopguide.training.run", **TASK_OPTIONS)
def train(run_id: int) -> str:
    """Snapshot and train, then fan the catalogue's embedding out over the workers."""
    from shopguide.services import training

    run = training.start_run(run_id)
    if run is None or training.train_models(run) is None:
        return TrainingRun.objects.get(pk=run_id).status
    chunks = TrainingRun.objects.get(pk=run_id).chunks_total
    group(embed_chunk.si(run_id, index) for index in range(chunks)).apply_async(queue=shopguide_settings.GPU_QUEUE)
    return f"dispatched {chunks} chunks"


@shared_task(name="shopguide.embeddings.embed_chunk", **TASK_OPTIONS)
def embed_chunk(run_id: int, index: int) -> bool:
    from shopguide.services import training

    return training.embed_chunk(run_id, index)


@shared_task(name="shopguide.embeddings.embed_product", **TASK_OPTIONS)
def embed_product_task(product_pk) -> list[str]:
    from shopguide.services.incremental import embed_product

    return embed_product(product_pk)


@shared_task(name="shopguide.profiles.refresh_user", **TASK_OPTIONS)
def refresh_user_task(user_id) -> bool:
    from shopguide.services.incremental import refresh_user_vector

    return refresh_user_vector(user_id)


@shared_task(name="shopguide.profiles.refresh_visitor", **TASK_OPTIONS)
def refresh_visitor_task(visitor: str) -> bool:
    from shopguide.services.incremental import refresh_visitor_list

    return refresh_visitor_list(visitor)


@shared_task(name="shopguide.training.scheduled", ignore_result=True)
def scheduled_training() -> str:
    """For Celery beat (e.g. nightly): queue a retrain unless one is already queued or running."""
    if TrainingRun.objects.filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]).exists():
        return "skipped: a run is already in progress"
    run = enqueue_training()
    return f"queued run {run.pk}"


def enqueue_training(*, requested_by=None, options: dict | None = None) -> TrainingRun:
    """Create a training run and queue it on the GPU queue once the transaction commits.

    Raises BrokerUnavailable (and marks the run failed) when the broker cannot be reached;
    nothing that serves is touched.
    """
    from shopguide.services.training import request_training

    run = request_training(requested_by=requested_by, options=options)

    def send() -> None:
        try:
            result = train.apply_async((run.pk,), queue=shopguide_settings.GPU_QUEUE, retry=False)
        except Exception as exc:  # kombu raises several types for an unreachable broker
            TrainingRun.objects.filter(pk=run.pk).update(
                status=TrainingRun.Status.FAILED, error=f"Could not queue the training task: {exc}"
            )
            raise BrokerUnavailable(
                f"The task broker is unreachable ({exc}); check CELERY_BROKER_URL and that it runs."
            ) from exc
        TrainingRun.objects.filter(pk=run.pk).update(task_id=result.id or "")

    transaction.on_commit(send, robust=False)
    return run
