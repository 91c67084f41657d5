"""The text space: a typo-tolerant BiLSTM over hashed character n-grams and words, trained
contrastively on query-like texts made from the catalogue and on real search → click pairs."""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import Any

import numpy as np

from shopguide.conf import shopguide_settings
from shopguide.models import Interaction, InteractionType, ModelVersion
from shopguide.snapshot import CatalogSnapshot, product_document
from shopguide.spaces.artifacts import load_artifact, save_artifact, use_query_threads

NAME = "text"
METRIC = "cosine"
EVAL_QUERIES = 300
EVAL_K = 10
MAX_LOGGED_PAIRS = 200_000


def config(overrides: dict[str, Any] | None = None):
    from shopguide.ml.text_encoder import TextEncoderConfig

    return TextEncoderConfig(**{**shopguide_settings.TEXT_MODEL, **(overrides or {})})


def logged_pairs(snapshot: CatalogSnapshot) -> list[tuple[str, int]]:
    """(query, product position) from search events that name the product the shopper chose."""
    position = {pk: i for i, pk in enumerate(snapshot.product_ids)}
    rows = (
        Interaction.objects.filter(type=InteractionType.SEARCH, product__isnull=False)
        .exclude(query="")
        .order_by("-ts")
        .values_list("query", "product_id")[:MAX_LOGGED_PAIRS]
    )
    return [(query, position[pk]) for query, pk in rows if pk in position]


def train(snapshot: CatalogSnapshot, *, version: ModelVersion, overrides: dict, progress) -> dict[str, Any]:
    """Train the text encoder, save it with ``version``; returns metrics and the product vectors."""
    from shopguide.ml.text_encoder import TextEncoder

    cfg = config(overrides)
    encoder = TextEncoder(cfg, device=shopguide_settings.DEVICE)
    pairs = logged_pairs(snapshot)
    fit = encoder.fit(snapshot.documents, pairs=pairs or None, progress=progress)
    save_artifact(version, NAME, encoder)
    vectors = encoder.embed(snapshot.documents)
    return {
        "known_item": evaluate(encoder, snapshot.documents, vectors, seed=cfg.seed),
        "training": {
            "losses": [round(x, 4) for x in fit.losses],
            "seconds": round(fit.seconds, 2),
            "texts_per_second": round(fit.texts_per_second, 1),
            "logged_pairs": len(pairs),
            "device": str(encoder.device),
            "config": asdict(cfg),
        },
        "dimensions": cfg.embedding_dim,
        "_vectors": vectors,
    }


def evaluate(encoder, documents: list[str], vectors: np.ndarray, *, seed: int) -> dict[str, float]:
    """MRR@10 of the intended product for query-like texts (fragments, typos) of random products."""
    from shopguide.ml.text_encoder import sample_query

    rng = random.Random(seed + 1)
    targets = rng.sample(range(len(documents)), min(EVAL_QUERIES, len(documents)))
    queries = [sample_query(documents[t], rng, encoder.config) or documents[t] for t in targets]
    scores = encoder.embed(queries) @ vectors.T  # (Q, N)
    target_scores = scores[np.arange(len(targets)), targets]
    ranks = (scores > target_scores[:, None]).sum(axis=1) + 1
    reciprocal = np.where(ranks <= EVAL_K, 1.0 / ranks, 0.0)
    return {"mrr_at_10": round(float(reciprocal.mean()), 4), "queries": len(targets)}


def load(version: ModelVersion):
    return load_artifact(version.artifacts[NAME], "shopguide.ml.text_encoder.TextEncoder", shopguide_settings.DEVICE)


def embed_query(version: ModelVersion, query: str) -> np.ndarray:
    """The text vector of one search query (web processes: on QUERY_THREADS torch threads)."""
    use_query_threads()
    return load(version).embed([query])[0]


def embed_products(version: ModelVersion, products: list) -> tuple[list[Any], np.ndarray, dict[Any, str]]:
    """Text vectors for ``products``: (product ids, (M, D) vectors, errors by pk — always empty)."""
    if not products:
        return [], np.zeros((0, version.dimensions[NAME]), np.float32), {}
    vectors = load(version).embed([product_document(p) for p in products])
    return [p.pk for p in products], vectors, {}
