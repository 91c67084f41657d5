"""Progress of a training run, written to its TrainingRun row (stage, percent, ETA, heartbeat).

Writes are throttled so a fast inner loop does not hammer the database; a cancelled run is noticed
at the next report and stops the pipeline with RunCancelled. A heartbeat thread keeps
``heartbeat_at`` fresh during long steps, so a run whose worker died can be told from a slow one.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from shopguide.models import TrainingRun

logger = logging.getLogger(__name__)

MIN_SECONDS_BETWEEN_WRITES = 1.0
HEARTBEAT_SECONDS = 15.0

# Share of the whole run each stage takes (for percent and ETA).
STAGES = {"snapshot": 10.0, "train": 60.0, "embed": 20.0, "finish": 10.0}


class RunCancelled(Exception):
    """Raised inside the pipeline when staff cancelled the run."""


def overall_fraction(stage: str, fraction: float) -> float:
    total = sum(STAGES.values())
    done = 0.0
    for name, weight in STAGES.items():
        if name == stage:
            return min(1.0, (done + weight * max(0.0, min(1.0, fraction))) / total)
        done += weight
    return done / total


class RunProgress:
    """Reports (stage, fraction) of a run; raises RunCancelled when the run was cancelled."""

    def __init__(self, run: TrainingRun) -> None:
        self.run = run
        self.started = time.monotonic() - _elapsed(run)
        self._last_write = 0.0
        self._stage_started: dict[str, float] = {}

    def stage(self, name: str, fraction: float = 0.0, message: str = "") -> None:
        now = time.monotonic()
        self._stage_started.setdefault(name, now)
        if now - self._last_write < MIN_SECONDS_BETWEEN_WRITES and fraction not in (0.0, 1.0):
            return
        self._last_write = now
        overall = overall_fraction(name, fraction)
        elapsed = now - self.started
        eta = elapsed * (1 - overall) / overall if overall > 0.02 else None
        status = TrainingRun.objects.filter(pk=self.run.pk).values_list("status", flat=True).first()
        if status == TrainingRun.Status.CANCELLED:
            raise RunCancelled()
        TrainingRun.objects.filter(pk=self.run.pk).update(
            stage=name,
            percent=round(overall * 100, 1),
            eta_seconds=eta,
            message=message[:255],
            heartbeat_at=timezone.now(),
        )

    def callback(self, name: str):
        """A ``progress(fraction, message)`` callable for shopguide.ml code."""
        return lambda fraction, message="": self.stage(name, fraction, message)

    def finish_stage(self, name: str) -> float:
        """Mark a stage done and return its duration in seconds."""
        self.stage(name, 1.0)
        return round(time.monotonic() - self._stage_started.get(name, time.monotonic()), 2)


def _elapsed(run: TrainingRun) -> float:
    return (timezone.now() - run.started_at).total_seconds() if run.started_at else 0.0


class Heartbeat:
    """Context manager: touches the run's heartbeat every few seconds from a background thread."""

    def __init__(self, run_id: int, interval: float = HEARTBEAT_SECONDS) -> None:
        self.run_id = run_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"shopguide-heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    with transaction.atomic():
                        # Never wait on the run's row lock: a missed beat is harmless, a deadlock is not.
                        with connection.cursor() as cursor:
                            cursor.execute("SET LOCAL lock_timeout = '1s'")
                        TrainingRun.objects.filter(pk=self.run_id, status=TrainingRun.Status.RUNNING).update(
                            heartbeat_at=timezone.now()
                        )
                except DatabaseError as exc:
                    logger.debug("heartbeat of run %s skipped: %s", self.run_id, exc)
        finally:
            connection.close()
