"""Progress of a training run, written to its TrainingRun row (stage, percent, ETA).

Writes are throttled so a fast inner loop does not hammer the database; a cancelled run is noticed
at the next report and stops the pipeline with RunCancelled.
"""

from __future__ import annotations

import time

from shopguide.models import TrainingRun

MIN_SECONDS_BETWEEN_WRITES = 1.0


class RunCancelled(Exception):
    """Raised inside the pipeline when staff cancelled the run."""


class RunProgress:
    """Reports (stage, fraction) of a run. Stages have weights that add up to the whole run."""

    def __init__(self, run: TrainingRun, stages: dict[str, float]) -> None:
        self.run = run
        total = sum(stages.values())
        self.stages = {name: weight / total for name, weight in stages.items()}
        self.started = time.monotonic()
        self._last_write = 0.0
        self._stage_started: dict[str, float] = {}

    def stage(self, name: str, fraction: float = 0.0, message: str = "") -> None:
        """Report that ``name`` is ``fraction`` (0..1) done."""
        now = time.monotonic()
        self._stage_started.setdefault(name, now)
        done_before = 0.0
        for stage, weight in self.stages.items():
            if stage == name:
                break
            done_before += weight
        overall = min(1.0, done_before + self.stages.get(name, 0.0) * max(0.0, min(1.0, fraction)))
        if now - self._last_write < MIN_SECONDS_BETWEEN_WRITES and fraction not in (0.0, 1.0):
            return
        self._last_write = now
        elapsed = now - self.started
        eta = elapsed * (1 - overall) / overall if overall > 0.02 else None
        self.run.refresh_from_db(fields=["status"])
        if self.run.status == TrainingRun.Status.CANCELLED:
            raise RunCancelled()
        TrainingRun.objects.filter(pk=self.run.pk).update(
            stage=name, percent=round(overall * 100, 1), eta_seconds=eta, message=message[:255]
        )

    def callback(self, name: str):
        """A ``progress(fraction, message)`` callable for shopguide.ml code."""
        return lambda fraction, message="": self.stage(name, fraction, message)

    def finish_stage(self, name: str) -> float:
        """Mark a stage done and return its duration in seconds."""
        self.stage(name, 1.0)
        return round(time.monotonic() - self._stage_started.get(name, time.monotonic()), 2)
