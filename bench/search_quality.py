"""Search quality and speed through PostgreSQL: shopguide's one hybrid search against PostgreSQL
full-text search alone and pg_trgm similarity alone, in the same run.

    .venv/bin/python -m bench.search_quality [--catalogue demo|movielens|both] [--epochs N] [--fresh]

Each catalogue goes into its own bench database on the embedded PostgreSQL: the demo shop's
generated catalogue (3,000 products, with its simulated shoppers' search -> click events, as a
shop with search logs has them) and the 9,066 MovieLens movies (title; genres as text and
category). The text model is trained through the shop's own pipeline (``run_training`` with
MODELS = ["text"], the default text configuration), its vectors go into pgvector, and then every
query runs through the code a shop serves:

* shopguide: ``selectors.search_products`` -- the text model's HNSW neighbours fused with
  full-text rank and pg_trgm title similarity, weighted by SHOPGUIDE["SEARCH_WEIGHTS"], each
  trigram vote scaled by similarity**4; rows of plain reciprocal rank fusion with other weights
  show what the default was chosen against;
* PostgreSQL full-text alone: ``websearch_to_tsquery`` against the weighted document, ts_rank_cd;
* pg_trgm alone: ``word_similarity`` of the query against the title (the ``<%`` operator);
* the text model alone (HNSW neighbours), for reference.

The query sets are those of ``bench.text_search_pure`` (same seed): known-item queries (the
clean title, a 1-3 word fragment, the title with 1-2 typos) scored by MRR@10, and attribute
queries (demo: a category word with a material/colour/season; MovieLens: two or three genres)
scored by P@10. Latency is the wall time of one call as the API makes it, p50 and p99.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.django_setup import setup_django
from bench.text_search_pure import KNOWN_ITEM_KINDS, Catalogue, K, load_demo, load_movielens, mrr_at_k, precision_at_k

CATALOGUES = ("demo", "movielens")
# Other fusions, for comparison: (weights, power of the trigram similarity; 0 = plain rank fusion).
ALTERNATIVES = [
    ({"lstm": 1.0, "fulltext": 1.0, "trigram": 0.7}, 0),
    ({"lstm": 1.0, "fulltext": 0.5, "trigram": 0.5}, 0),
    ({"lstm": 1.0, "fulltext": 0.3, "trigram": 0.3}, 0),
]

Search = Callable[[str], list]  # query -> product ids, best first


def load_products(name: str, catalogue: Catalogue) -> list:
    """The catalogue's products in document order (created on the first run); returns their pks."""
    from django.core.management import call_command

    from storefront.catalog.models import Product

    if name == "demo":
        if not Product.objects.exists():
            from storefront.demo_data import build_demo_dataset

            out_dir = Path(__file__).resolve().parent.parent / "var" / "bench-search-demo"
            dataset = build_demo_dataset(out_dir, n_products=3000, n_shoppers=400)
            call_command("load_catalog", str(dataset.catalog_path), images_root=dataset.images_root, verbosity=0)
            call_command("shopguide_import_events", str(dataset.events_path), create_users=True, verbosity=0)
            # Search quality only: every product may be the answer (the serving path hides
            # out-of-stock products, the peers would not).
            Product.objects.update(in_stock=True)
        pk_by_sku = dict(Product.objects.values_list("sku", "pk"))
        return [pk_by_sku[sku] for sku in _demo_skus()]
    if not Product.objects.exists():
        from bench.movielens import load_movielens as load_ratings
        from bench.movielens_pipeline import create_movie_products

        create_movie_products(load_ratings())
    return list(Product.objects.order_by("pk").values_list("pk", flat=True))


def _demo_skus() -> list[str]:
    """The demo catalogue's skus in the generator's order (the order of the bench's documents)."""
    import json

    path = Path(__file__).resolve().parent.parent / "var" / "bench-search-demo" / "catalog.jsonl"
    return [json.loads(line)["sku"] for line in path.read_text(encoding="utf-8").splitlines()]


def train_text_model(epochs: int | None):
    """The active version, trained once per bench database with the shop's text configuration."""
    from django.conf import settings
    from django.test import override_settings

    from shopguide.selectors.versions import active_version
    from shopguide.services.training import request_training, run_training

    version = active_version()
    if version is not None:
        return version, None
    text_model = {"epochs": epochs} if epochs else {}
    with override_settings(SHOPGUIDE={**settings.SHOPGUIDE, "MODELS": ["text"], "TEXT_MODEL": text_model}):
        started = time.monotonic()
        run = run_training(request_training().pk)
        seconds = time.monotonic() - started
    if run.status != "succeeded":
        raise SystemExit(f"training {run.status}: {run.error}")
    return run.version, seconds


def methods(version) -> dict[str, Search]:
    from django.conf import settings
    from django.test import override_settings

    from shopguide.adapter import get_adapter
    from shopguide.conf import shopguide_settings
    from shopguide.search_documents import fulltext_matches, trigram_matches
    from shopguide.selectors import search as search_module
    from shopguide.selectors import search_products
    from shopguide.spaces import text as text_space
    from shopguide.vectors import nearest_products

    def shopguide_search(weights: dict | None = None, power: int | None = None) -> Search:
        def search(query: str) -> list:
            if weights is None:
                return [item.product.pk for item in search_products(query=query, k=K)]
            default_power = search_module.TRIGRAM_SIMILARITY_POWER
            search_module.TRIGRAM_SIMILARITY_POWER = power
            try:
                with override_settings(SHOPGUIDE={**settings.SHOPGUIDE, "SEARCH_WEIGHTS": weights}):
                    return [item.product.pk for item in search_products(query=query, k=K)]
            finally:
                search_module.TRIGRAM_SIMILARITY_POWER = default_power

        return search

    def lstm_alone(query: str) -> list:
        adapter = get_adapter()
        neighbours = nearest_products(
            version_id=version.pk,
            space=text_space.NAME,
            dimensions=version.dimensions[text_space.NAME],
            vector=text_space.embed_query(version, query),
            k=K,
            candidates=adapter.available(adapter.model._default_manager.all()),
        )
        return [n.product_id for n in neighbours]

    default = shopguide_settings.SEARCH_WEIGHTS
    power = search_module.TRIGRAM_SIMILARITY_POWER
    rows: dict[str, Search] = {f"shopguide {_weights_label(default)}, trgm sim^{power}": shopguide_search()}
    rows |= {f"  plain RRF {_weights_label(w)}": shopguide_search(w, p) for w, p in ALTERNATIVES}
    rows["PostgreSQL full-text alone"] = lambda q: [pk for pk, _ in fulltext_matches(q, limit=K)]
    rows["pg_trgm similarity alone"] = lambda q: [pk for pk, _ in trigram_matches(q, limit=K)]
    rows["text LSTM alone (HNSW)"] = lstm_alone
    return rows


def _weights_label(weights: dict) -> str:
    return "lstm {lstm:g} / fts {fulltext:g} / trgm {trigram:g}".format(**weights)


def evaluate(catalogue: Catalogue, pks: list, search: Search) -> dict[str, float]:
    index = {pk: i for i, pk in enumerate(pks)}
    row: dict[str, float] = {}
    times: list[float] = []
    for kind, (queries, relevant) in catalogue.queries.items():
        top = np.full((len(queries), K), -1, dtype=np.int64)
        for q, query in enumerate(queries):
            started = time.perf_counter()
            found = search(query)
            times.append((time.perf_counter() - started) * 1000)
            positions = [index[pk] for pk in found[:K] if pk in index]
            top[q, : len(positions)] = positions
        row[kind] = precision_at_k(top, relevant) if kind == "attribute" else mrr_at_k(top, relevant)
    row["known-item"] = float(np.mean([row[kind] for kind in KNOWN_ITEM_KINDS]))
    row["p50"], row["p99"] = float(np.percentile(times, 50)), float(np.percentile(times, 99))
    return row


def print_table(title: str, rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"\n{title}")
    header = (
        f"{'method':<56} {'title':>6} {'fragment':>9} {'typo':>6} {'known-item':>11} "
        f"{'attr P@10':>10} {'p50 ms':>7} {'p99 ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, r in rows:
        print(
            f"{name:<56} {r['title']:>6.3f} {r['fragment']:>9.3f} {r['typo']:>6.3f} {r['known-item']:>11.3f} "
            f"{r['attribute']:>10.3f} {r['p50']:>7.1f} {r['p99']:>7.1f}"
        )


def run_catalogue(name: str, *, epochs: int | None, fresh: bool, seed: int) -> None:
    setup_django(f"shopguide_bench_search_{name}", fresh=fresh)
    catalogue = (load_demo if name == "demo" else load_movielens)(seed)
    pks = load_products(name, catalogue)
    if len(pks) != len(catalogue.documents):
        raise SystemExit(f"{name}: {len(pks)} products in the database, {len(catalogue.documents)} in the catalogue")
    version, seconds = train_text_model(epochs)
    text = version.metrics["text"]["training"]
    trained = (
        f"trained now in {seconds:.0f} s" if seconds is not None else "trained on an earlier run (--fresh retrains)"
    )
    print(
        f"{catalogue.name}: text model v{version.pk}, {text['config']['epochs']} epochs, "
        f"{text['logged_pairs']} logged search->click pairs, {trained}"
    )
    search_methods = methods(version)
    for search in search_methods.values():  # load the model and warm PostgreSQL's caches once
        search(catalogue.titles[0])
    rows = [(label, evaluate(catalogue, pks, search)) for label, search in search_methods.items()]
    n = len(catalogue.queries["title"][0])
    print_table(
        f"{catalogue.name}: known-item MRR@{K} per kind, attribute P@{K}; {n} queries per kind, "
        f"latency per search call",
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--catalogue", choices=(*CATALOGUES, "both"), default="both")
    parser.add_argument("--epochs", type=int, default=None, help="text model epochs (default: the model's)")
    parser.add_argument("--fresh", action="store_true", help="drop the bench databases and retrain")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.catalogue == "both":  # one process per catalogue: Django binds to one database per process
        for name in CATALOGUES:
            command = [sys.executable, "-m", "bench.search_quality", "--catalogue", name, "--seed", str(args.seed)]
            command += ["--epochs", str(args.epochs)] if args.epochs else []
            command += ["--fresh"] if args.fresh else []
            subprocess.run(command, check=True)
        return
    run_catalogue(args.catalogue, epochs=args.epochs, fresh=args.fresh, seed=args.seed)


if __name__ == "__main__":
    main()
