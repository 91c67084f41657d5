"""The whole shopguide pipeline on the real MovieLens ratings, through Django and PostgreSQL.

    .venv/bin/python -m bench.movielens_pipeline [--fresh]

Loads 9,066 movies as products (title; genres as description and category) and 100,004 ratings
as purchases into a bench database on the embedded PostgreSQL (or DATABASE_URL's server), runs
the training pipeline in-process (text model, behaviour LSTM, segments, vectors into pgvector),
and prints HR@10, NDCG@10 and MRR@10 under the DESIGN.md protocol (leave-last-out, full ranking,
seen items excluded) for the LSTM beside popularity, item-kNN and Markov, computed in the same run.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from bench.django_setup import setup_django

DB_NAME = "shopguide_bench_movielens"


def create_movie_products(data) -> list:
    """One product per movie, in movieId order: title, genres as description, first genre as category."""
    from storefront.catalog.models import Category, Product

    categories = {
        name: Category.objects.create(name=name, slug=name.lower().replace(" ", "-").replace("(", "").replace(")", ""))
        for name in data.genre_names + ["Other"]
    }
    return Product.objects.bulk_create(
        [
            Product(
                sku=f"ML-{movie_id}",
                title=title[:200],
                description=" ".join(genres),
                category=categories[genres[0] if genres else "Other"],
                price=0,
                in_stock=True,
            )
            for movie_id, title, genres in zip(data.movie_ids, data.titles, data.genres)
        ],
        batch_size=2000,
    )


def load_data() -> tuple[int, int]:
    from django.contrib.auth import get_user_model

    from bench.movielens import load_movielens
    from shopguide.models import Interaction
    from storefront.catalog.models import Product

    if Product.objects.exists():
        return Product.objects.count(), Interaction.objects.count()
    data = load_movielens()
    products = create_movie_products(data)
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"ml{u}") for u in data.user_ids], batch_size=2000)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    events = [
        Interaction(
            user=user, product=products[item], type="purchase", ts=start + timedelta(seconds=position), weight=5.0
        )
        for user, sequence in zip(users, data.sequences)
        for position, item in enumerate(sequence)
    ]
    Interaction.objects.bulk_create(events, batch_size=5000)
    return len(products), len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fresh", action="store_true", help="drop and reload the bench database")
    args = parser.parse_args()
    setup_django(DB_NAME, fresh=args.fresh)

    from django.conf import settings
    from django.test import override_settings

    started = time.monotonic()
    n_products, n_events = load_data()
    load_seconds = time.monotonic() - started
    with override_settings(SHOPGUIDE={**settings.SHOPGUIDE, "MODELS": ["text", "behaviour"]}):
        from shopguide.services.training import request_training, run_training

        started = time.monotonic()
        run = run_training(request_training().pk)
        seconds = time.monotonic() - started
    if run.status != "succeeded":
        raise SystemExit(f"training {run.status}: {run.error}")
    metrics = run.version.metrics
    behaviour = metrics["behaviour"]
    print(
        f"\nMovieLens through the shopguide pipeline: {n_products} products, {n_events} purchases "
        f"(loaded in {load_seconds:.0f} s), {behaviour['evaluation']['lstm']['users']} users evaluated"
    )
    print("Protocol: leave-last-out, full ranking over all products, items already seen excluded\n")
    print(f"{'model':<12}{'HR@10':>9}{'NDCG@10':>9}  {'NDCG@10 95% interval':<22}{'MRR@10':>9}{'cov@10':>9}")
    for name, values in behaviour["evaluation"].items():
        ci = values["ndcg@10_ci"]
        print(
            f"{name:<12}{values['hr@10']:>9.4f}{values['ndcg@10']:>9.4f}  [{ci['low']:.4f}, "
            f"{ci['high']:.4f}] n={ci['n']:<6}"
            f"{values['mrr@10']:>9.4f}{values['coverage@10']:>9.4f}"
        )
    if behaviour.get("baseline_check"):
        print(f"held-out verdict: {behaviour['baseline_check']['why']}")
    training = behaviour["training"]
    print(
        f"\nwhole run {seconds:.0f} s (timings {run.timings}); LSTM training {training['seconds']:.0f} s, "
        f"{training['sequences_per_second']:.0f} sequences/s on {training['device']}, best epoch "
        f"{training['best_epoch']}"
    )
    from shopguide.ml.metrics import format_estimate

    print(
        f"text model: MRR@10 on held-out queries {format_estimate(metrics['text']['held_out']['mrr@10'], digits=4)}, "
        f"trained in {metrics['text']['training']['seconds']:.0f} s; related fusion {metrics['related']}"
    )


if __name__ == "__main__":
    main()
