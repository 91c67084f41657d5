"""Celery tasks: thin wrappers over the pipeline. Tasks take ids and re-fetch rows.

Training goes to the GPU queue (one worker process per GPU); acks are late, so a task whose
worker dies is not lost, and the pipeline itself is idempotent for such re-deliveries.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import transaction

from shopguide.conf import shopguide_settings
from shopguide.models import TrainingRun

logger = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """The task could not be queued; the message says what to check."""


@shared_task(name="shopguide.training.run", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def train(run_id: int) -> str:
    from shopguide.training import run_training

    run = run_training(run_id)
    return run.status


def enqueue_training(*, requested_by=None, options: dict | None = None) -> TrainingRun:
    """Create a training run and queue it on the GPU queue once the transaction commits.

    Raises BrokerUnavailable (and marks the run failed) when the broker cannot be reached;
    nothing that serves is touched.
    """
    from shopguide.training import request_training

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
