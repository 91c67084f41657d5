"""Load on the events endpoint: a sustained burst of shoppers' events through gunicorn, and proof
that every acknowledged event was stored (and nothing else).

    .venv/bin/python -m bench.events_load [--seconds 20] [--clients 8] [--workers 2] [--fresh]

A bench database ``shopguide_bench_events`` (2,000 products) on the embedded PostgreSQL serves
the demo shop under gunicorn (DEBUG=0; throttles raised by ``bench/serving_settings.py``, since
every client here shares one address). ``--clients`` threads act as guest shoppers, each with its
own session cookie, and POST view/click/cart events back to back for ``--seconds`` seconds:
a closed-loop load generator, bounded in time. The table gives events sent, acknowledged (201),
refused or failed, accepted events per second, client-side latency, and the stored count: rows
added to the events table, which must equal the acknowledged count.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.django_setup import ROOT, setup_django
from bench.serving import free_port

DB_NAME = "shopguide_bench_events"
N_PRODUCTS = 2000
EVENT_TYPES = ("view", "view", "view", "click", "cart")


def create_products() -> list[int]:
    from storefront.catalog.models import Category, Product

    if not Product.objects.exists():
        category, _ = Category.objects.get_or_create(name="Load", slug="load")
        Product.objects.bulk_create(
            [
                Product(
                    sku=f"L-{i}",
                    title=f"Load test product {i}",
                    description="",
                    category=category,
                    price=1,
                    in_stock=True,
                )
                for i in range(N_PRODUCTS)
            ],
            batch_size=1000,
        )
    return list(Product.objects.values_list("pk", flat=True))


def start_gunicorn(port: int, workers: int, log_path: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.serving_settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_HTTPS": "0",  # loopback: no TLS to redirect to
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
    }  # DATABASE_URL and SHOPGUIDE_VAR_DIR were set by setup_django
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "storefront.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_until_answering(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/api/shopguide/schema/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer; see its log")


@dataclass
class Shopper:
    """One guest: its session cookie, and what happened to each event it sent."""

    port: int
    product_ids: list[int]
    seed: int
    cookie: str = ""
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)

    def run(self, deadline: float) -> None:
        rng = random.Random(self.seed)
        while time.monotonic() < deadline:
            body = json.dumps(
                {"type": rng.choice(EVENT_TYPES), "product": str(rng.choice(self.product_ids)), "widget": "load-test"}
            )
            headers = {"Content-Type": "application/json", **({"Cookie": self.cookie} if self.cookie else {})}
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                conn.request("POST", "/api/shopguide/events/", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status: int | str = response.status
                cookie = response.getheader("Set-Cookie")
                if cookie and not self.cookie:
                    self.cookie = cookie.split(";", 1)[0]
                conn.close()
            except OSError as error:
                status = type(error).__name__
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
            self.statuses[status] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database")
    args = parser.parse_args()
    setup_django(DB_NAME, fresh=args.fresh)
    from shopguide.models import Interaction

    product_ids = create_products()
    port = free_port()
    server = start_gunicorn(port, args.workers, ROOT / "var" / "bench" / DB_NAME / "gunicorn.log")
    try:
        wait_until_answering(port)
        before = Interaction.objects.count()
        shoppers = [Shopper(port, product_ids, seed=i) for i in range(args.clients)]
        deadline = time.monotonic() + args.seconds
        started = time.monotonic()
        threads = [threading.Thread(target=s.run, args=(deadline,)) for s in shoppers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        stored = Interaction.objects.count() - before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    statuses = sum((s.statuses for s in shoppers), Counter())
    latencies = np.array([x for s in shoppers for x in s.latencies_ms])
    acknowledged = statuses.get(201, 0)
    others = {k: v for k, v in statuses.items() if k != 201}
    print(
        f"\nEvents endpoint under load: gunicorn, {args.workers} sync workers, {args.clients} guest clients, "
        f"{elapsed:.1f} s, {len(product_ids):,} products"
    )
    header = (
        f"{'sent':>8} {'acknowledged':>13} {'other answers':>22} {'accepted/s':>11} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'stored':>8} {'lost':>5} {'extra':>6}"
    )
    print(header)
    print("-" * len(header))
    lost, extra = max(acknowledged - stored, 0), max(stored - acknowledged, 0)
    print(
        f"{sum(statuses.values()):>8} {acknowledged:>13} {others or '-'!s:>22} {acknowledged / elapsed:>11.1f} "
        f"{np.percentile(latencies, 50):>7.1f} {np.percentile(latencies, 99):>7.1f} {stored:>8} {lost:>5} {extra:>6}"
    )
    verdict = "every acknowledged event stored, nothing else" if stored == acknowledged else "MISMATCH"
    print(f"\nstored == acknowledged: {stored == acknowledged} ({verdict})")
    if stored != acknowledged:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
