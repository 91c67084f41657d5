"""Train shopguide's models, through a Celery worker (default) or in this process (--sync)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from shopguide.models import TrainingRun

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Train on the catalogue and events, embed every product, and activate the new version."

    def add_arguments(self, parser):
        parser.add_argument("--sync", action="store_true", help="train in this process, without a worker")
        parser.add_argument("--no-wait", action="store_true", help="queue the run and return at once")
        parser.add_argument("--epochs", type=int, help="override the image models' epochs (both backbones)")
        parser.add_argument("--timeout", type=float, default=None, help="give up waiting after N seconds")
        parser.add_argument(
            "--force", action="store_true", help="activate even if it evaluates worse than the active version"
        )

    def handle(
        self,
        *args,
        sync: bool,
        no_wait: bool,
        epochs: int | None,
        timeout: float | None,
        force: bool,
        verbosity: int,
        **opts,
    ):
        options: dict[str, Any] = (
            {"image_model": {"epochs": epochs, "pretrained": {"epochs": epochs}}} if epochs else {}
        )
        if force:
            options["force"] = True
        if sync:
            import threading

            from shopguide.services.training import request_training, run_training

            run = request_training(options=options)
            worker = threading.Thread(target=self._run_closing_connection, args=(run_training, run.pk))
            worker.start()
            run = self._follow(run, verbosity=verbosity, timeout=None, alive=worker.is_alive)
            worker.join()
        else:
            from shopguide.tasks import BrokerUnavailable, enqueue_training

            try:
                run = enqueue_training(options=options)
            except BrokerUnavailable as exc:
                raise CommandError(str(exc)) from exc
            if no_wait:
                self.stdout.write(f"Queued training run {run.pk}.")
                return
            self.stdout.write(
                f"Queued training run {run.pk}; waiting for a worker (Ctrl-C stops waiting, not the run)."
            )
            run = self._follow(run, verbosity=verbosity, timeout=timeout, alive=lambda: True)

        run.refresh_from_db()
        if run.status == TrainingRun.Status.SUCCEEDED:
            metrics = run.version.metrics if run.version else {}
            self.stdout.write(self.style.SUCCESS(f"Run {run.pk} succeeded: {run.message}."))
            image = metrics.get("image", {})
            for name, figure in image.get("held_out", {}).items():
                self.stdout.write(
                    f"  image {image['metric']} on held-out images, {name}: {figure['value']} "
                    f"[{figure['low']}, {figure['high']}] n={figure['n']}"
                )
            if image.get("choice"):
                self.stdout.write(f"  image backbone: {image['choice']['why']}")
            for warning in run.warnings[:10]:
                self.stdout.write(f"  skipped {warning}")
            if len(run.warnings) > 10:
                self.stdout.write(f"  ... and {len(run.warnings) - 10} more skipped")
        elif run.status in TrainingRun.FINISHED:
            raise CommandError(f"Run {run.pk} {run.status}: {run.error or run.message}")
        else:
            raise CommandError(f"Run {run.pk} is still {run.status}; stopped waiting. Follow it in the admin.")

    @staticmethod
    def _run_closing_connection(function, run_id):
        from django.db import connection

        try:
            function(run_id)
        finally:
            connection.close()

    def _follow(self, run: TrainingRun, *, verbosity: int, timeout: float | None, alive) -> TrainingRun:
        started = time.monotonic()
        with tqdm(
            total=100,
            unit="%",
            disable=verbosity == 0,
            file=self.stderr._out,
            bar_format="{l_bar}{bar}| {n:.0f}% [{elapsed}<{remaining}]",
        ) as bar:
            while True:
                run.refresh_from_db()
                bar.n = run.percent
                bar.set_description(run.stage or run.status)
                bar.refresh()
                if run.is_finished or not alive():
                    return run
                if timeout is not None and time.monotonic() - started > timeout:
                    return run
                time.sleep(POLL_SECONDS)
