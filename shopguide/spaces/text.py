"""The text space: a typo-tolerant BiLSTM over hashed character n-grams and words, trained
contrastively on query-like texts made from the catalogue and on real search → click pairs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from shopguide.conf import shopguide_settings
from shopguide.models import Interaction, InteractionType, ModelVersion
from shopguide.products import product_document
from shopguide.snapshot import CatalogSnapshot
from shopguide.spaces import Space, TrainedSpace
from shopguide.spaces.artifacts import load_artifact, save_artifact, use_query_threads

NAME = "text"
METRIC = "cosine"
EVAL_QUERIES = 300  # generated held-out queries (one per product, for up to this many products)
EVAL_K = 10
MAX_LOGGED_PAIRS = 200_000
# Logged search -> product pairs held out from training (by a stable hash of query and product),
# to score the model on real searches it never saw.
LOGGED_TEST_FRACTION = 0.2


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


def split_logged_pairs(pairs: list[tuple[str, int]], snapshot: CatalogSnapshot) -> tuple[list, list]:
    """(pairs to train on, held-out pairs): a pair's side is fixed by its query and product."""
    from shopguide.ml.holdout import TEST, split_by_key

    keys = [f"{query}\x00{snapshot.product_ids[position]}" for query, position in pairs]
    side = split_by_key(keys, valid=0.0, test=LOGGED_TEST_FRACTION, salt="text-logged")
    return [p for p, s in zip(pairs, side) if s != TEST], [p for p, s in zip(pairs, side) if s == TEST]


def held_out_queries(snapshot: CatalogSnapshot, pairs: list[tuple[str, int]] | None = None) -> dict[str, list]:
    """The queries no text model trains on: held-out logged searches and generated probes."""
    from shopguide.ml.text_probes import probe_queries

    _, logged = split_logged_pairs(logged_pairs(snapshot) if pairs is None else pairs, snapshot)
    return {"logged": logged, "generated": probe_queries(snapshot.documents, limit=EVAL_QUERIES)}


def held_out_scores(
    encoder, snapshot: CatalogSnapshot, queries: dict[str, list], vectors: np.ndarray | None = None
) -> np.ndarray:
    """Reciprocal rank (0 beyond EVAL_K) of the intended product for each held-out query."""
    pairs = queries["logged"] + queries["generated"]
    if not pairs:
        return np.empty(0)
    from shopguide.ml.metrics import reciprocal_rank_at_k, target_ranks

    vectors = encoder.embed(snapshot.documents) if vectors is None else vectors
    scores = encoder.embed([q for q, _ in pairs]) @ vectors.T  # (Q, N)
    return reciprocal_rank_at_k(target_ranks(scores, np.array([t for _, t in pairs])), EVAL_K)


def fulltext_scores(snapshot: CatalogSnapshot, queries: dict[str, list]) -> np.ndarray:
    """The full-text baseline on the same held-out queries as :func:`held_out_scores`: reciprocal
    rank (0 beyond EVAL_K) of the intended product when PostgreSQL full-text search (the search
    documents' weighting: title A, the rest B; web-search query syntax) ranks the snapshot's
    documents. One statement over the snapshot, so documents not yet written are ranked too."""
    from django.db import connection

    pairs = queries["logged"] + queries["generated"]
    if not pairs:
        return np.empty(0)
    config = shopguide_settings.SEARCH_CONFIG
    sql = (
        "WITH d AS MATERIALIZED (SELECT i, setweight(to_tsvector(%s::regconfig, split_part(doc, E'\\n', 1)), 'A') || "
        "  setweight(to_tsvector(%s::regconfig, doc), 'B') AS v FROM unnest(%s::text[]) WITH ORDINALITY AS t(doc, i)), "
        "q AS MATERIALIZED (SELECT j, websearch_to_tsquery(%s::regconfig, query) AS q FROM "
        "unnest(%s::text[]) WITH ORDINALITY AS u(query, j)), "
        "r AS (SELECT q.j, d.i, row_number() OVER (PARTITION BY q.j ORDER BY ts_rank_cd(d.v, q.q, "
        "32) DESC, d.i) AS rank "
        "  FROM q JOIN d ON d.v @@ q.q) "
        "SELECT j, i, rank FROM r WHERE rank <= %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [config, config, list(snapshot.documents), config, [q for q, _ in pairs], EVAL_K])
        found = cursor.fetchall()
    from shopguide.ml.metrics import reciprocal_rank_at_k

    ranks = np.zeros(len(pairs), dtype=np.int64)  # 0: not in the top EVAL_K
    for j, i, rank in found:  # ordinality counts from 1
        if pairs[j - 1][1] == i - 1:
            ranks[j - 1] = rank
    return reciprocal_rank_at_k(ranks, EVAL_K)


def train(snapshot: CatalogSnapshot, *, version: ModelVersion, overrides: dict, progress) -> TrainedSpace:
    """Train the text encoder, save it with ``version``; returns metrics (on held-out queries,
    with intervals) and the product vectors (stored as they are: the snapshot's documents are
    what the embedding chunks would embed, and the encoder's results do not depend on batching)."""
    from shopguide.ml.baselines import baseline_verdict
    from shopguide.ml.metrics import estimate
    from shopguide.ml.text_encoder import TextEncoder

    cfg = config(overrides)
    encoder = TextEncoder(cfg, device=shopguide_settings.DEVICE)
    all_pairs = logged_pairs(snapshot)
    pairs, _ = split_logged_pairs(all_pairs, snapshot)
    fit = encoder.fit(snapshot.documents, pairs=pairs or None, progress=progress)
    save_artifact(version, NAME, encoder)
    vectors = encoder.embed(snapshot.documents)
    queries = held_out_queries(snapshot, all_pairs)
    scores = held_out_scores(encoder, snapshot, queries, vectors)
    n_logged = len(queries["logged"])
    fulltext = fulltext_scores(snapshot, queries)
    check = baseline_verdict(
        scores,
        fulltext,
        model_name="the text model",
        baseline_name="full-text search",
        figure="MRR@10",
        min_n=shopguide_settings.GATE_MIN_SAMPLES,
    )
    metrics = {
        "held_out": {
            "mrr@10": estimate(scores),
            "mrr@10 logged searches": estimate(scores[:n_logged]),
            "mrr@10 generated queries": estimate(scores[n_logged:]),
            "mrr@10 full-text search (baseline)": estimate(fulltext),
        },
        "baseline_check": check,
        "training": {
            "losses": [round(x, 4) for x in fit.losses],
            "seconds": round(fit.seconds, 2),
            "texts_per_second": round(fit.texts_per_second, 1),
            "logged_pairs": len(pairs),
            "logged_pairs_held_out": n_logged,
            "device": str(encoder.device),
            "config": asdict(cfg),
        },
    }
    return TrainedSpace(
        name=NAME,
        metrics=metrics,
        dimensions=cfg.embedding_dim,
        vectors=vectors,
        held_out_scores=scores,
        fusion_check=check,
        stored=np.arange(snapshot.n_products),
    )


def version_scores(version: ModelVersion, snapshot: CatalogSnapshot, events=None) -> np.ndarray:
    """Held-out scores of ``version``'s text model on this snapshot's held-out queries."""
    return held_out_scores(load(version), snapshot, held_out_queries(snapshot))


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


def held_out_report(metrics: dict[str, Any]) -> tuple[list, list]:
    """The admin's rows of this space's held-out figures."""
    return [("text", figure, est) for figure, est in (metrics.get("held_out") or {}).items()], []


SPACE = Space(
    name=NAME,
    metric=METRIC,
    index_metrics=(METRIC,),
    reason="similar to {title}",
    list_label="",
    held_out_figure=("text MRR@10", "search queries"),
    training_share=0.25,
    train=lambda catalog, events, *, version, trained, overrides, progress: train(
        catalog, version=version, overrides=overrides, progress=progress
    ),
    embed_products=embed_products,
    version_scores=version_scores,
    held_out_report=held_out_report,
)
