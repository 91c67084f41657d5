"""Import django-oscar's history (views, orders, basket lines, searches) into shopguide."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from tqdm import tqdm

from shopguide.contrib.oscar.history import backfill_oscar_history, source_sizes

SOURCES = ("views", "orders", "baskets", "searches")


class Command(BaseCommand):
    help = (
        "Import Oscar's history (analytics.UserProductView, order lines including guest orders, "
        "basket lines, analytics.UserSearch) as shopguide events. Idempotent: re-running adds "
        "nothing twice, and events the receivers recorded live are not imported again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--only", choices=SOURCES, action="append", help="import only this source (repeatable)")

    def handle(self, *args, only: list[str] | None, verbosity: int, **options):
        sources = tuple(only or SOURCES)
        sizes = source_sizes()
        total = sum(sizes[s] for s in sources)
        # tqdm draws a bar on a terminal; elsewhere (logs, CI) a line every ~10 % is enough.
        interactive = self.stderr.isatty()
        with tqdm(
            total=total,
            unit="row",
            disable=verbosity == 0,
            file=self.stderr._out,
            mininterval=0.5 if interactive else 30,
            ncols=None if interactive else 80,
        ) as bar:
            report = backfill_oscar_history(sources=sources, progress=bar.update)
        for source in sources:
            self.stdout.write(
                f"{source}: {report.imported[source]} events imported, {report.present[source]} already present "
                f"({sizes[source]} Oscar rows)"
            )
        self.stdout.write(f"{report.total} events imported in all. Retrain to learn from them (shopguide_train).")
