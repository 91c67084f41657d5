"""A small shop of its own, scored on held-out data only, through shopguide's ml layer.

    .venv/bin/python -m bench.small_shop [--products 300] [--shoppers 150] [--seed 0] [--threads 2]

Builds a catalogue of Pillow-rendered product photos whose background colour gives the top
category and whose shape and texture give the leaf (bench/shop_images.py), product texts, and
simulated shoppers who browse one or two favourite leaves. Then, with the same functions and the
same held-out rules the training pipeline uses (shopguide.ml: holdout split, image encoder choice,
text probes, leave-last-out, fusion), prints for every space its held-out figures with 95%
bootstrap intervals and sample sizes:

- image: leaf-category precision@8 of held-out (TEST) images for the pretrained backbone, the
  scratch CNN and raw pixels, and what IMAGE_MODEL["backbone"] = "auto" picks (on VALID images);
- text: MRR@10 of probe queries (a sampler and seed the training never uses);
- behaviour: NDCG@10 / HR@10 of the held-out last event, LSTM beside popularity, item-kNN, Markov,
  and whether the LSTM or a baseline would serve;
- related: hit rate@10 of held-out co-interaction pairs, per space and fused (out-of-fold: each
  pair scored with weights chosen by cross-validation on the other folds).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from bench.shop_images import make_catalogue
from shopguide.ml.baselines import baseline_verdict
from shopguide.ml.evaluation import (
    ItemKNNRecommender,
    MarkovRecommender,
    PopularityRecommender,
    compare_with_baselines,
    evaluate,
    leave_last_out,
)
from shopguide.ml.fusion import tune_weights
from shopguide.ml.holdout import TEST, VALID, split_by_key
from shopguide.ml.image_selection import candidate_configs, choose_image_encoder, held_out_scores, raw_pixel_vectors
from shopguide.ml.images import prepare_images
from shopguide.ml.metrics import estimate, format_estimate
from shopguide.ml.packages import missing_pretrained_packages
from shopguide.ml.sequence_model import SequenceModelConfig, SequenceRecommender
from shopguide.ml.text_encoder import TextEncoder, TextEncoderConfig
from shopguide.ml.text_probes import probe_queries

# The image space's held-out rule (shopguide/spaces/image.py): stable hash of the product id.
IMAGE_VALID, IMAGE_TEST, IMAGE_SALT, K = 0.15, 0.15, "image", 8
ADJECTIVES = ("classic", "compact", "deluxe", "everyday", "handy", "large", "mini", "premium", "smart", "sturdy")
NOUNS = {"Kitchen": "bowl", "Garden": "planter", "Bath": "towel", "Toys": "puzzle"}


def documents_for(leaves, product_leaf, rng: np.random.Generator) -> list[str]:
    """'title\\ndescription\\ncategory' per product, as the snapshot builds them."""
    docs = []
    for i, leaf_index in enumerate(product_leaf):
        leaf = leaves[leaf_index]
        title = f"{rng.choice(ADJECTIVES).title()} {leaf.texture} {leaf.shape} {NOUNS[leaf.top]} {i}"
        description = f"A {leaf.texture} {leaf.shape} {NOUNS[leaf.top]} for the {leaf.top.lower()}."
        docs.append(f"{title}\n{description}\n{leaf.top} > {leaf.name.split(' / ')[1]}")
    return docs


def simulate_shoppers(
    product_leaf: list[int], n_leaves: int, n_shoppers: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Each shopper browses 1-2 favourite leaves (85% of their views) in a leaf's own order."""
    by_leaf = [np.flatnonzero(np.array(product_leaf) == leaf) for leaf in range(n_leaves)]
    sequences = []
    for _ in range(n_shoppers):
        favourites = rng.choice(n_leaves, size=int(rng.integers(1, 3)), replace=False)
        length = int(rng.integers(5, 14))
        seen: list[int] = []
        cursor = {leaf: int(rng.integers(0, len(by_leaf[leaf]))) for leaf in favourites}
        while len(seen) < length:
            if rng.random() < 0.85:
                leaf = int(rng.choice(favourites))
                cursor[leaf] = (cursor[leaf] + int(rng.integers(1, 3))) % len(by_leaf[leaf])
                item = int(by_leaf[leaf][cursor[leaf]])  # neighbours in a leaf are met one after another
            else:
                item = int(rng.integers(0, len(product_leaf)))
            if item not in seen:
                seen.append(item)
        sequences.append(np.array(seen, dtype=np.int64))
    return sequences


def image_section(photos, labels, product_ids, device: str) -> tuple[dict, np.ndarray]:
    candidates, notes = candidate_configs(
        {"backbone": "auto"}, n_images=len(photos), pretrained_available=not missing_pretrained_packages()
    )
    size = max(c.image_size for c in candidates.values())
    images = prepare_images(photos, size=size, channels=3).array
    split = split_by_key(product_ids, valid=IMAGE_VALID, test=IMAGE_TEST, salt=IMAGE_SALT)
    cpu_before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    choice = choose_image_encoder(images, labels, split, candidates=candidates, k=K, device=device)
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    report = choice.report
    print(
        f"\nImage space: leaf-category precision@{K} of held-out TEST images "
        f"({int((split == TEST).sum())} of {len(images)}; VALID {int((split == VALID).sum())} chose the backbone)"
    )
    print(f"{'encoder':<22}{'P@8 on TEST [95% CI] n':<34}{'P@8 on VALID':>14}{'train s':>9}{'best epoch':>11}")
    for name, figures in report["candidates"].items():
        training = figures["training"]
        print(
            f"{name:<22}{format_estimate(figures['test']):<34}{figures['valid']['value']:>14.3f}"
            f"{training['seconds']:>9.1f}{training['best_epoch']:>6}/{training['epochs_run']}"
        )
    print(f"{'raw pixels':<22}{format_estimate(report['raw_pixels']['test']):<34}")
    print(f"auto picks: {choice.chosen} ({report['why']}){'; ' + '; '.join(notes) if notes else ''}")
    test = np.flatnonzero(split == TEST)
    verdict = baseline_verdict(
        held_out_scores(choice.vectors, labels, test, k=K, supervised=True),
        held_out_scores(raw_pixel_vectors(images), labels, test, k=K, supervised=True),
        model_name=choice.chosen,
        baseline_name="raw pixels",
        figure=f"leaf P@{K}",
        min_n=30,
    )
    print(
        "related products' image space: "
        f"{'raw pixels beat it: left out of fusion' if verdict['serve'] == 'baseline' else 'kept'} "
        f"({verdict['why']})"
    )
    print(
        f"image training, all candidates: {wall:.0f} s wall, {cpu:.0f} s CPU (torch threads {torch.get_num_threads()})"
    )
    return report, choice.vectors


def text_section(documents: list[str], device: str) -> np.ndarray:
    config = TextEncoderConfig(epochs=6)
    encoder = TextEncoder(config, device=device)
    fit = encoder.fit(documents)
    vectors = encoder.embed(documents)
    pairs = probe_queries(documents, limit=300)
    scores = encoder.embed([q for q, _ in pairs]) @ vectors.T
    targets = np.array([t for _, t in pairs])
    ranks = (scores > scores[np.arange(len(pairs)), targets][:, None]).sum(axis=1) + 1
    rr = np.where(ranks <= 10, 1.0 / ranks, 0.0)
    print(
        f"\nText space: MRR@10 of held-out probe queries (a sampler and seed training never uses), "
        f"{fit.seconds:.0f} s training"
    )
    print(f"{'BiLSTM text model':<22}{format_estimate(estimate(rr))}")
    return vectors


def behaviour_section(sequences, n_items: int, content: np.ndarray, device: str) -> None:
    split = leave_last_out(sequences)
    config = SequenceModelConfig(epochs=20, embedding_dim=32, hidden_dim=64, loss="full")
    model = SequenceRecommender(config, n_items=n_items, item_features=content, device=device)
    fit = model.fit(split.train, valid=(split.train, split.valid_targets))
    per_user = {}
    print(
        f"\nBehaviour space: held-out last event of {int((split.test_targets >= 0).sum())} shoppers, "
        f"full ranking of {n_items} products (LSTM trained {fit.seconds:.0f} s, best epoch {fit.best_epoch})"
    )
    print(f"{'model':<14}{'NDCG@10 [95% CI] n':<34}{'HR@10 [95% CI] n':<34}")
    for name, recommender in (
        ("lstm", model),
        ("popularity", PopularityRecommender().fit(split.train, n_items)),
        ("item_knn", ItemKNNRecommender().fit(split.train, n_items)),
        ("markov", MarkovRecommender().fit(split.train, n_items)),
    ):
        result = evaluate(recommender, split.train_plus_valid, split.test_targets, n_items=n_items, k=10, per_user=True)
        per_user[name] = result["per_user"]["ndcg"]
        print(
            f"{name:<14}{format_estimate(estimate(result['per_user']['ndcg'])):<34}"
            f"{format_estimate(estimate(result['per_user']['hr'])):<34}"
        )
    check = compare_with_baselines(per_user, baselines=("popularity", "item_knn", "markov"), min_users=30)
    print(f"serves personal recommendations: {check['prefer']} ({check['why']})")
    return model


def related_section(sequences, spaces: dict[str, np.ndarray]) -> None:
    # Each shopper's last two products: a pair the behaviour model never trained on as a target.
    pairs = np.array([seq[-2:] for seq in sequences if len(seq) >= 2], dtype=np.int64).reshape(-1, 2)
    weights, report = tune_weights(spaces, pairs)
    print(
        f"\nRelated products: hit rate@10 of held-out co-interaction pairs; fused figure out-of-fold "
        f"({report['folds']}-fold cross-validation over {report['pairs_reported_on']} pairs, each scored with weights "
        f"chosen on the other folds); served weights chosen on all {report['pairs_chosen_on']} "
        f"(shrinkage {report['shrinkage']})"
    )
    for name in sorted(spaces):
        print(f"{name + ' only':<22}{format_estimate(report[f'{name}_only'])}")
    print(f"{'fused':<22}{format_estimate(report['fused'])}  weights {weights}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--shoppers", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--only", choices=("image", "all"), default="all", help="only the image space (faster)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    leaves, product_leaf, photos = make_catalogue(args.products, seed=args.seed)
    labels = np.array(product_leaf, dtype=np.int64)
    print(
        f"Small shop: {args.products} products in {len(leaves)} leaf categories under "
        f"{len({leaf.top for leaf in leaves})} "
        f"top categories, {args.shoppers} simulated shoppers (seed {args.seed})"
    )
    _, image_vectors = image_section(photos, labels, [f"P{i}" for i in range(args.products)], args.device)
    if args.only == "image":
        return
    documents = documents_for(leaves, product_leaf, rng)
    text_vectors = text_section(documents, args.device)
    sequences = simulate_shoppers(product_leaf, len(leaves), args.shoppers, rng)
    content = np.concatenate([image_vectors, text_vectors], axis=1)
    model = behaviour_section(sequences, args.products, content, args.device)
    related_section(sequences, {"image": image_vectors, "text": text_vectors, "behaviour": model.item_vectors()})
    print(f"\nwhole bench {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
