"""Evaluate the active (or a given) version by the fixed protocol, beside the baselines."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from shopguide.models import ModelVersion
from shopguide.services.evaluation import NothingToEvaluate, evaluate_version

COLUMNS = ("hr@10", "ndcg@10", "mrr@10", "coverage@10")


class Command(BaseCommand):
    help = (
        "Leave-last-out evaluation (full ranking, seen items excluded) of the behaviour model, "
        "with popularity, item-kNN and Markov baselines computed in the same run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--model-version", type=int, dest="model_version", help="model version id (default: the active one)"
        )
        parser.add_argument("--json", action="store_true", dest="as_json", help="print JSON instead of a table")

    def handle(self, *args, model_version: int | None, as_json: bool, **options):
        chosen = None
        if model_version is not None:
            chosen = ModelVersion.objects.filter(pk=model_version).first()
            if chosen is None:
                raise CommandError(f"There is no model version {model_version}.")
        try:
            report = evaluate_version(chosen)
        except NothingToEvaluate as exc:
            raise CommandError(str(exc)) from exc
        if as_json:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write(
            f"v{report['version']}: {report['users']} shoppers, full ranking over {report['n_items']} products, "
            "seen items excluded\n"
        )
        self.stdout.write(f"{'model':<12}" + "".join(f"{c:>13}" for c in COLUMNS))
        for name, metrics in report["results"].items():
            self.stdout.write(f"{name:<12}" + "".join(f"{metrics[c]:>13.4f}" for c in COLUMNS))
