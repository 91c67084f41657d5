"""Import event history from a JSON Lines file (format in DESIGN.md)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from shopguide.services.importing import import_events

MAX_ERRORS_SHOWN = 50


class Command(BaseCommand):
    help = (
        "Import events (view, cart, purchase, search, click) from a JSON Lines file. "
        "Idempotent: re-running adds nothing twice. Bad lines are reported with their numbers "
        "and the good lines are imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON Lines file, or - for standard input")
        parser.add_argument(
            "--create-users", action="store_true", help="create users named in the file that do not exist"
        )

    def handle(self, *args, file: str, create_users: bool, verbosity: int, **options):
        try:
            # Not a with statement: stdin or a file, either closed by the with below.
            handle = sys.stdin if file == "-" else open(file, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        with handle:
            total = _count_lines(file) if file != "-" else None
            with tqdm(total=total, unit="line", disable=verbosity == 0, file=self.stderr._out) as bar:
                report = import_events(handle, create_users=create_users, progress=bar.update)

        self.stdout.write(
            f"{report.imported} events imported, {report.duplicates} already present"
            + (f", {report.users_created} users created" if report.users_created else "")
            + f" ({report.lines} lines read)."
        )
        if report.errors:
            for line_no, message in report.errors[:MAX_ERRORS_SHOWN]:
                self.stderr.write(f"{file}:{line_no}: {message}")
            if len(report.errors) > MAX_ERRORS_SHOWN:
                self.stderr.write(f"... and {len(report.errors) - MAX_ERRORS_SHOWN} more bad lines")
            raise CommandError(
                f"{len(report.errors)} bad line(s) skipped (first: line {report.errors[0][0]}); "
                "the good lines were imported."
            )


def _count_lines(path: str) -> int | None:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return None
