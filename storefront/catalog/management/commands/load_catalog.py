"""Load products from a JSON Lines catalogue (format in DESIGN.md)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from shopguide.services.incremental import suspend_incremental_updates
from storefront.catalog.loading import load_catalog

MAX_ERRORS_SHOWN = 50


class Command(BaseCommand):
    help = "Create or update products from a JSON Lines file; bad lines are reported by number."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--images-root", type=Path, help="folder that 'image' paths are relative to")

    def handle(self, *args, file: str, images_root: Path | None, verbosity: int, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        if images_root is not None and not images_root.is_dir():
            raise CommandError(f"--images-root {images_root} is not a folder")
        total = sum(1 for _ in path.open("rb"))
        with (
            path.open(encoding="utf-8", errors="replace") as handle,
            tqdm(total=total, unit="line", disable=verbosity == 0, file=self.stderr._out) as bar,
        ):
            # A bulk load is followed by a retrain: no embedding task per product.
            with suspend_incremental_updates():
                report = load_catalog(handle, images_root=images_root, progress=bar.update)
        self.stdout.write(f"{report.created} products created, {report.updated} updated ({report.lines} lines read).")
        if report.errors:
            for line_no, message in report.errors[:MAX_ERRORS_SHOWN]:
                self.stderr.write(f"{file}:{line_no}: {message}")
            raise CommandError(
                f"{len(report.errors)} bad line(s) skipped (first: line {report.errors[0][0]}); the good "
                "lines were loaded."
            )
