"""The behaviour space: an LSTM over each shopper's interaction sequence, trained for next-item
prediction (GRU4Rec family). Item inputs combine a learned id embedding with the product's image
and text vectors, so products nobody has met yet still get a vector. A user vector is the model's
output in item space; recommendations are the items with the largest inner product."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import numpy as np

from shopguide.conf import shopguide_settings
from shopguide.exceptions import TrainingRefused
from shopguide.models import ModelVersion
from shopguide.snapshot import CatalogSnapshot, EventSnapshot
from shopguide.spaces import Space, TrainedSpace, UserVectors
from shopguide.spaces.artifacts import load_artifact, load_json_artifact, save_artifact, save_json_artifact

NAME = "behaviour"
METRIC = "ip"  # recommendations rank by inner product; related products also use cosine
INDEX_METRICS = ("ip", "cosine")
CONTENT_SPACES = ("image", "text")  # the item content the model reads, when trained before it
MIN_SHOPPERS = 2
ITEMS_ARTIFACT = "behaviour_items"
# The baseline that serves personal recommendations when it beat the LSTM on held-out last events.
BASELINE_ARTIFACT = "behaviour_baseline"


def config(overrides: dict[str, Any] | None = None):
    from shopguide.ml.sequence_model import SequenceModelConfig

    return SequenceModelConfig(**{**shopguide_settings.BEHAVIOUR_MODEL, **(overrides or {})})


BASELINES = ("popularity", "item_knn", "markov")


def evaluation_report(model, split, *, n_items: int, per_user: dict | None = None) -> dict[str, dict[str, Any]]:
    """The DESIGN.md protocol for the LSTM and the baselines, on the same held-out last events.

    Each model's entry has HR/NDCG/MRR/coverage@10 and ``"ndcg@10_ci"`` / ``"hr@10_ci"``: the
    mean with its bootstrap interval over users and the number of users. ``per_user``, when
    given, receives each model's per-user NDCG@10 array (for paired comparisons).
    """
    from shopguide.ml.evaluation import ItemKNNRecommender, MarkovRecommender, PopularityRecommender, evaluate
    from shopguide.ml.metrics import estimate

    report = {}
    histories, targets = split.train_plus_valid, split.test_targets
    for name, recommender in (
        ("lstm", model),
        ("popularity", PopularityRecommender().fit(split.train, n_items)),
        ("item_knn", ItemKNNRecommender().fit(split.train, n_items)),
        ("markov", MarkovRecommender().fit(split.train, n_items)),
    ):
        started = time.monotonic()
        metrics = evaluate(recommender, histories, targets, n_items=n_items, k=10, per_user=True)
        each = metrics.pop("per_user")
        metrics["seconds"] = round(time.monotonic() - started, 2)
        entry: dict[str, Any] = {
            key: round(value, 4) if isinstance(value, float) else value for key, value in metrics.items()
        }
        entry["ndcg@10_ci"], entry["hr@10_ci"] = estimate(each["ndcg"]), estimate(each["hr"])
        report[name] = entry
        if per_user is not None:
            per_user[name] = each["ndcg"]
    return report


def baseline_check(per_user: dict[str, np.ndarray], *, min_users: int) -> dict[str, Any]:
    """Does the best baseline beat the LSTM on held-out last events beyond the interval?"""
    from shopguide.ml.evaluation import compare_with_baselines

    return compare_with_baselines(per_user, baselines=BASELINES, min_users=min_users)


def served_by(version: ModelVersion) -> str:
    """What serves ``version``'s personal recommendations: "lstm", or the baseline ("item_knn",
    "popularity", "markov") that beat the LSTM on held-out data (metrics["behaviour"]["serving"])."""
    serving = ((version.metrics or {}).get(NAME) or {}).get("serving") or {}
    source = serving.get("personal", "lstm")
    return source if source != "lstm" and BASELINE_ARTIFACT in (version.artifacts or {}) else "lstm"


def load_baseline(version: ModelVersion):
    """The version's served baseline (shopguide.ml.baselines.ServedBaseline), rows as the LSTM's."""
    return load_artifact(
        version.artifacts[BASELINE_ARTIFACT], "shopguide.ml.baselines.ServedBaseline", shopguide_settings.DEVICE
    )


def serving_decision(
    version: ModelVersion, events: EventSnapshot, check: dict | None, *, n_items: int
) -> dict[str, str]:
    """Never serve worse than the simple baseline: when ``check`` (the held-out comparison) prefers
    a baseline, fit it on every shopper's whole sequence and save it with ``version``; personal
    recommendations of this version then come from it. Returns ``{"personal", "why"}``."""
    from shopguide.ml.baselines import ServedBaseline

    if not check:
        return {
            "personal": "lstm",
            "why": "the LSTM serves personal recommendations "
            "(no held-out last events to compare it with the baselines)",
        }
    if check["prefer"] == "lstm":
        return {"personal": "lstm", "why": f"the LSTM serves personal recommendations: {check['why']}"}
    save_artifact(version, BASELINE_ARTIFACT, ServedBaseline.fit(check["prefer"], events.sequences, n_items))
    return {
        "personal": check["prefer"],
        "why": f"{check['prefer']} serves personal recommendations for this version, not the LSTM: {check['why']}",
    }


def train(
    catalog: CatalogSnapshot,
    events: EventSnapshot,
    *,
    version: ModelVersion,
    content: np.ndarray | None,
    overrides: dict,
    progress,
) -> TrainedSpace:
    """Train on the shoppers' sequences, evaluate with baselines. Every product's item vector
    comes out of training (stored as it is: the embedding chunks need not embed them), and every
    shopper's vector."""
    from shopguide.ml.evaluation import leave_last_out
    from shopguide.ml.sequence_model import SequenceRecommender

    if len(events.sequences) < MIN_SHOPPERS:
        raise TrainingRefused(
            f"Only {len(events.sequences)} shoppers have events on catalogue products; the behaviour "
            f"model needs at least {MIN_SHOPPERS}. Import history with shopguide_import_events."
        )
    cfg = config(overrides)
    split = leave_last_out(events.sequences)
    train_types = [types[: len(seq)] for types, seq in zip(events.event_types, split.train)]
    model = SequenceRecommender(
        cfg, n_items=catalog.n_products, item_features=content, device=shopguide_settings.DEVICE
    )
    has_valid = (split.valid_targets >= 0).any()
    fit = model.fit(
        split.train,
        train_types,
        progress=progress,
        valid=(split.train, split.valid_targets) if has_valid else None,
    )
    save_artifact(version, NAME, model)
    # Row i of the model is product_ids[i]: evaluation of this version on later data needs it.
    save_json_artifact(version, ITEMS_ARTIFACT, list(catalog.product_ids))
    per_user: dict[str, np.ndarray] = {}
    report = {}
    check = None
    if (split.test_targets >= 0).any():
        report = evaluation_report(model, split, n_items=catalog.n_products, per_user=per_user)
        check = baseline_check(per_user, min_users=shopguide_settings.GATE_MIN_SAMPLES)
    serving = serving_decision(version, events, check, n_items=catalog.n_products)

    item_vectors = model.item_vectors()
    user_rows = events.user_rows()
    users = model.user_vectors([events.sequences[i] for i in user_rows], [events.event_types[i] for i in user_rows])
    metrics = {
        "evaluation": report,
        "baseline_check": check,
        "serving": serving,
        "training": {
            "losses": [round(x, 4) for x in fit.losses],
            "seconds": round(fit.seconds, 2),
            "sequences_per_second": round(fit.sequences_per_second, 1),
            "best_epoch": fit.best_epoch,
            "shoppers": len(events.sequences),
            "events": events.n_events,
            "device": str(model.device),
            "config": asdict(cfg),
        },
    }
    return TrainedSpace(
        name=NAME,
        metrics=metrics,
        dimensions=cfg.embedding_dim,
        vectors=item_vectors,
        # The gate compares what serves: the LSTM, or the baseline serving in its place.
        held_out_scores=per_user.get(serving["personal"]),
        # Its baseline check is about personal recommendations: related products always fuse it.
        fusion_check=None,
        stored=np.arange(catalog.n_products),
        users=UserVectors(user_ids=[events.actors[i][1] for i in user_rows], vectors=users),
    )


def train_space(catalog, events, *, version, trained, overrides, progress) -> TrainedSpace:
    """``train`` with the vectors of the spaces trained before it as item content."""
    parts = [trained[name].vectors for name in CONTENT_SPACES if name in trained]
    content = np.concatenate(parts, axis=1) if parts else None
    return train(catalog, events, version=version, content=content, overrides=overrides, progress=progress)


def version_scores(version: ModelVersion, catalog: CatalogSnapshot, events: EventSnapshot) -> np.ndarray | None:
    """Per-user NDCG@10 of ``version``'s LSTM on this snapshot's held-out last events, users in
    the order of the new model's evaluation. Products the older model never met are left out of
    histories; a target it never met is a miss (it could not have recommended it)."""
    from shopguide.ml.evaluation import evaluate, leave_last_out

    if not events.sequences:
        return None
    if (served := served_by(version)) != "lstm":
        return _baseline_scores(served, events, n_items=catalog.n_products)
    model, rows = load(version), item_ids(version)
    row_of = {str(pk): i for i, pk in enumerate(rows)}
    mapped = np.array([row_of.get(str(pk), -1) for pk in catalog.product_ids], dtype=np.int64)
    split = leave_last_out(events.sequences)
    users = np.flatnonzero(split.test_targets >= 0)
    histories = [mapped[h][mapped[h] >= 0] for h in split.train_plus_valid]
    targets = np.where(split.test_targets >= 0, mapped[np.maximum(split.test_targets, 0)], -1)
    out = np.zeros(len(users))
    known = targets[users] >= 0
    if known.any():
        out[known] = evaluate(model, histories, targets, n_items=len(rows), k=10, per_user=True)["per_user"]["ndcg"]
    return out


def _baseline_scores(kind: str, events: EventSnapshot, *, n_items: int) -> np.ndarray:
    """Per-user NDCG@10 of a version that serves baseline ``kind``: a baseline has no weights to
    carry over, so it is the same kind fitted on this snapshot's training part."""
    from shopguide.ml.baselines import ServedBaseline
    from shopguide.ml.evaluation import evaluate, leave_last_out

    split = leave_last_out(events.sequences)
    baseline = ServedBaseline.fit(kind, split.train, n_items)
    return evaluate(baseline, split.train_plus_valid, split.test_targets, n_items=n_items, k=10, per_user=True)[
        "per_user"
    ]["ndcg"]


def item_ids(version: ModelVersion) -> list[Any]:
    """The product id of each row of the version's behaviour model."""
    return load_json_artifact(version.artifacts[ITEMS_ARTIFACT])


def load(version: ModelVersion):
    return load_artifact(
        version.artifacts[NAME], "shopguide.ml.sequence_model.SequenceRecommender", shopguide_settings.DEVICE
    )


def embed_products(version: ModelVersion, products: list) -> tuple[list[Any], np.ndarray, dict[Any, str]]:
    """Vectors for products the model was not trained on, from their image and text vectors."""
    from shopguide.spaces import image as image_space
    from shopguide.spaces import text as text_space

    model = load(version)
    if not products or model.n_features == 0:
        return [], np.zeros((0, version.dimensions[NAME]), np.float32), {}
    content = content_features(
        version,
        products,
        image=image_space.embed_products(version, products),
        text=text_space.embed_products(version, products),
    )
    return [p.pk for p in products], model.item_vectors_for(content), {}


def content_features(version: ModelVersion, products: list, *, image, text) -> np.ndarray:
    """[image vector | text vector] per product, zeros where a product has no image."""
    dims_image = version.dimensions.get("image", 0)
    dims_text = version.dimensions.get("text", 0)
    out = np.zeros((len(products), dims_image + dims_text), np.float32)
    row = {p.pk: i for i, p in enumerate(products)}
    for pks, vectors, offset in ((image[0], image[1], 0), (text[0], text[1], dims_image)):
        for pk, vector in zip(pks, vectors):
            out[row[pk], offset : offset + len(vector)] = vector
    return out


def held_out_report(metrics: dict[str, Any]) -> tuple[list, list]:
    """The admin's rows of the LSTM's and the baselines' held-out figures, and which serves."""
    rows = []
    for model, values in (metrics.get("evaluation") or {}).items():
        rows.append((f"behaviour · {model}", "NDCG@10", values.get("ndcg@10_ci")))
        rows.append((f"behaviour · {model}", "HR@10", values.get("hr@10_ci")))
    if metrics.get("serving"):  # which recommender serves, and why (never worse than a baseline)
        notes = [("personal recommendations", metrics["serving"].get("why"))]
    else:  # versions trained before baselines could serve
        notes = [("LSTM vs baselines (the LSTM serves)", (metrics.get("baseline_check") or {}).get("why"))]
    return rows, notes


SPACE = Space(
    name=NAME,
    metric=METRIC,
    index_metrics=INDEX_METRICS,
    reason="bought together with {title}",
    list_label="customers also bought",
    held_out_figure=("behaviour NDCG@10", "last events"),
    training_share=0.35,
    train=train_space,
    embed_products=embed_products,
    version_scores=version_scores,
    held_out_report=held_out_report,
)
