"""Next-item recommendation on MovieLens: the LSTM behaviour model against honest baselines.

DESIGN.md protocol: per user the last rating is the test target, the one before it validation,
the rest training; every model ranks all 9,066 movies with the user's history excluded. The
baselines and the LSTM are fitted on the same training items in the same run. Validation targets
choose the item-kNN settings (a small grid) and the LSTM's epoch; test targets are only scored.

    .venv/bin/python -m bench.sequence_models [--no-features] [--epochs 10] [--seed 0] [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time

import torch
from tqdm import tqdm

from bench.movielens import load_movielens
from shopguide.ml.evaluation import (
    ItemKNNRecommender,
    MarkovRecommender,
    PopularityRecommender,
    evaluate,
    leave_last_out,
)
from shopguide.ml.sequence_model import SequenceModelConfig, SequenceRecommender

METRICS = ("hr@10", "ndcg@10", "mrr@10")
# Item-kNN grid, chosen on validation NDCG@10: neighbourhood size, shrinkage, recency half-life.
KNN_NEIGHBOURS = (50, 200, None)
KNN_SHRINK = (0.0, 10.0, 50.0)
KNN_HALF_LIFE = (None, 0.5, 1.0, 2.0, 4.0, 10.0)


def tune_item_knn(split, n_items: int) -> tuple[ItemKNNRecommender, float, float, str]:
    """Best item-kNN on validation; returns (model, fit seconds of it, total tuning seconds, label)."""
    started, best = time.perf_counter(), None
    for neighbours, shrink in itertools.product(KNN_NEIGHBOURS, KNN_SHRINK):
        fit_started = time.perf_counter()
        model = ItemKNNRecommender(neighbours=neighbours, shrink=shrink).fit(split.train, n_items)
        fit_seconds = time.perf_counter() - fit_started
        for half_life in KNN_HALF_LIFE:
            model.half_life = half_life  # only used when scoring: no refit needed
            score = evaluate(model, split.train, split.valid_targets, n_items=n_items)["ndcg@10"]
            if best is None or score > best[0]:
                best = (score, neighbours, shrink, half_life, fit_seconds)
    _, neighbours, shrink, half_life, fit_seconds = best
    model = ItemKNNRecommender(neighbours=neighbours, shrink=shrink, half_life=half_life).fit(split.train, n_items)
    label = f"item-kNN (k={neighbours or 'all'}, shrink={shrink:g}, half-life={half_life})"
    return model, fit_seconds, time.perf_counter() - started, label


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-features", action="store_true", help="train the LSTM on item ids only, without genres")
    parser.add_argument("--epochs", type=int, default=SequenceModelConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads; one is fastest for these small LSTM steps"
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    data = load_movielens()
    split = leave_last_out(data.sequences)
    n = data.n_items
    print(
        f"MovieLens: {data.n_users} users, {n} movies, {sum(map(len, data.sequences))} ratings; "
        f"{int((split.test_targets >= 0).sum())} test users, full ranking over all movies"
    )

    rows = []

    def record(label: str, model, fit_seconds: float) -> None:
        valid = evaluate(model, split.train, split.valid_targets, n_items=n)
        test = evaluate(model, split.train_plus_valid, split.test_targets, n_items=n)
        rows.append((label, test, valid["ndcg@10"], fit_seconds))

    for label, baseline in (("popularity", PopularityRecommender()), ("Markov (first order)", MarkovRecommender())):
        started = time.perf_counter()
        baseline.fit(split.train, n)
        record(label, baseline, time.perf_counter() - started)

    knn, knn_seconds, tuning_seconds, knn_label = tune_item_knn(split, n)
    print(
        f"item-kNN grid ({len(KNN_NEIGHBOURS) * len(KNN_SHRINK) * len(KNN_HALF_LIFE)} settings) "
        f"tuned on validation in {tuning_seconds:.0f}s"
    )
    record(knn_label, knn, knn_seconds)

    config = dataclasses.replace(SequenceModelConfig(), epochs=args.epochs, seed=args.seed)
    features = None if args.no_features else data.genre_features()
    lstm = SequenceRecommender(config, n_items=n, item_features=features, device=args.device)
    with tqdm(total=config.epochs, desc=f"LSTM on {lstm.device}", unit="epoch") as bar:

        def progress(fraction: float, message: str) -> None:
            bar.set_postfix_str(message.split(" ", 2)[-1], refresh=False)
            bar.update(round(fraction * config.epochs) - bar.n)

        result = lstm.fit(split.train, valid=(split.train, split.valid_targets), progress=progress)
    inputs = "ids + genres" if features is not None else "ids"
    label = f"LSTM ({inputs}, epoch {result.best_epoch}/{len(result.losses)})"
    record(label, lstm, result.seconds)

    width = max(len(r[0]) for r in rows)
    header = f"{'HR@10':>7}  {'NDCG@10':>7}  {'MRR@10':>7}  {'cov@10':>7}  {'valid NDCG':>10}  {'train s':>7}"
    print(f"\n{'model':<{width}}  {header}")
    for label, test, valid_ndcg, seconds in rows:
        print(
            f"{label:<{width}}  {test['hr@10']:7.4f}  {test['ndcg@10']:7.4f}  {test['mrr@10']:7.4f}  "
            f"{test['coverage@10']:7.4f}  {valid_ndcg:10.4f}  {seconds:7.1f}"
        )
    lstm_test = rows[-1][1]
    beaten = all(lstm_test[m] > row[1][m] for row in rows[:-1] for m in METRICS)
    print(f"\nLSTM beats every baseline on HR@10, NDCG@10 and MRR@10 (test targets): {'yes' if beaten else 'NO'}")


if __name__ == "__main__":
    main()
