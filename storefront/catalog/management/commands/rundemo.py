"""Set up the demo shop on first run (catalogue, shoppers, trained model) and serve it.

A second run reuses the database, media and model, so it is up in seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from tqdm import tqdm

from shopguide.models import Segment
from shopguide.selectors.versions import active_version
from storefront.catalog.models import Product

DEMO_USERNAME = "admin"
DEMO_PASSWORD = "shopguide-demo"
# Segments labelled by a rule over order history; each training predicts every customer's
# probability of belonging (shown on the account page and under Admin › Segment scores).
DEMO_SEGMENTS = [
    ("Sneaker fans", "sneaker-fans", {"min_purchases": 1, "category": "Sneakers"}),
    ("Bag buyers", "bag-buyers", {"min_purchases": 1, "category": "Bags"}),
]


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Load the demo catalogue and shoppers if the shop is empty, train once, then serve it with a worker."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--products", type=int, default=3000)
        parser.add_argument("--shoppers", type=int, default=400)
        parser.add_argument("--epochs", type=int, default=None, help="image model epochs (default: the model's)")
        parser.add_argument("--setup-only", action="store_true", help="prepare everything, do not serve")

    def handle(self, *args, addr, products, shoppers, epochs, setup_only, verbosity, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not Product.objects.exists():
            self._load_demo_data(n_products=products, n_shoppers=shoppers, verbosity=verbosity)
        self._ensure_demo_staff()
        if active_version() is None:
            self.stdout.write("Training the first models (image CNN, text BiLSTM, behaviour LSTM, segments) ...")
            call_command("shopguide_train", sync=True, epochs=epochs, verbosity=verbosity)
        if setup_only:
            return
        self._serve(addr)

    def _load_demo_data(self, *, n_products: int, n_shoppers: int, verbosity: int) -> None:
        from storefront.demo_data import build_demo_dataset

        out_dir = Path(settings.VAR_DIR) / "demo-data"
        self.stdout.write(f"Building the demo catalogue ({n_products} products, {n_shoppers} shoppers) ...")
        with tqdm(total=n_products, unit="image", disable=verbosity == 0, file=self.stderr._out) as bar:

            def progress(done: int, total: int, stage: str) -> None:
                bar.total = total
                bar.n = done
                bar.set_description(stage)
                bar.refresh()

            dataset = build_demo_dataset(out_dir, n_products=n_products, n_shoppers=n_shoppers, progress=progress)
        self.stdout.write(f"Images: {dataset.image_source}. Loading the catalogue ...")
        call_command("load_catalog", str(dataset.catalog_path), images_root=dataset.images_root, verbosity=verbosity)
        self.stdout.write("Importing the shoppers' history ...")
        call_command("shopguide_import_events", str(dataset.events_path), create_users=True, verbosity=verbosity)
        for name, slug, rule in DEMO_SEGMENTS:
            Segment.objects.get_or_create(slug=slug, defaults={"name": name, "rule": rule})

    def _ensure_demo_staff(self) -> None:
        User = get_user_model()
        user = User.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            User.objects.create_superuser(DEMO_USERNAME, "admin@example.com", DEMO_PASSWORD)

    def _serve(self, addr: str) -> None:
        log_dir = Path(settings.VAR_DIR) / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        worker_log = (log_dir / "worker.log").open("ab")
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "storefront",
                "worker",
                "-Q",
                "shopguide,shopguide.gpu",
                "--concurrency",
                "1",
                "--prefetch-multiplier",
                "1",
                "--loglevel",
                "info",
            ],
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        host = addr if "://" in addr else f"http://{addr}"
        self.stdout.write(self.style.SUCCESS(f"\nThe demo shop runs at {host}/"))
        self.stdout.write(f"Admin: {host}/admin/  login {DEMO_USERNAME} / {DEMO_PASSWORD}")
        self.stdout.write(f"API: {host}/api/shopguide/products/1/related/   Worker log: {log_dir / 'worker.log'}")
        self.stdout.write("Press Ctrl-C to stop.\n")
        # `kill` (SIGTERM) stops the demo as cleanly as Ctrl-C: the worker goes down with it.
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            call_command("runserver", addr, use_reloader=False, use_threading=True)
        except KeyboardInterrupt:
            pass
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
