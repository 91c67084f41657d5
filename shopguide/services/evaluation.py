"""Evaluating a version's behaviour model on the shop's current events, by the DESIGN.md protocol
(leave-last-out, full ranking, seen items excluded), beside popularity, item-kNN and Markov
baselines computed in the same run."""

from __future__ import annotations

from typing import Any

from shopguide.models import ModelVersion
from shopguide.selectors.versions import active_version
from shopguide.snapshot import CatalogSnapshot, take_event_snapshot
from shopguide.spaces import behaviour as behaviour_space


class NothingToEvaluate(Exception):
    """No version with a behaviour model, or no shopper with enough events."""


def evaluate_version(version: ModelVersion | None = None) -> dict[str, Any]:
    """``{"version", "users", "n_items", "results": {model: {"hr@10", "ndcg@10", "mrr@10", "coverage@10"}}}``.

    Raises NothingToEvaluate with the reason.
    """
    from shopguide.ml.evaluation import leave_last_out

    version = version or active_version()
    if version is None:
        raise NothingToEvaluate("No model version is active; train one first (shopguide_train).")
    if behaviour_space.NAME not in version.dimensions:
        raise NothingToEvaluate(f"{version} has no behaviour model (it was trained without events).")
    item_ids = behaviour_space.item_ids(version)
    events = take_event_snapshot(CatalogSnapshot(product_ids=item_ids))
    split = leave_last_out(events.sequences)
    users = int((split.test_targets >= 0).sum())
    if users == 0:
        raise NothingToEvaluate("No shopper has 3 or more distinct products in their history yet.")
    results = behaviour_space.evaluation_report(behaviour_space.load(version), split, n_items=len(item_ids))
    return {"version": version.pk, "users": users, "n_items": len(item_ids), "results": results}


def held_out_rows(metrics: dict[str, Any]) -> list[tuple[str, str, Any, str, Any]]:
    """(space · model, figure, value, "[low, high]", n) for every held-out figure of a version,
    then a line per sentence that explains a choice (backbone, baseline, gate)."""

    def row(label: str, figure: str, est: dict | None):
        if not est:
            return None
        return (label, figure, est.get("value"), f"[{est.get('low')}, {est.get('high')}]", est.get("n"))

    rows = []
    image = metrics.get("image") or {}
    for name, est in (image.get("held_out") or {}).items():
        label = f"image · {image.get('backbone', 'model')}" if name == "model" else f"image · {name.replace('_', ' ')}"
        rows.append(row(label, image.get("metric", ""), est))
    text = metrics.get("text") or {}
    for figure, est in (text.get("held_out") or {}).items():
        rows.append(row("text", figure, est))
    behaviour = metrics.get("behaviour") or {}
    for model, values in (behaviour.get("evaluation") or {}).items():
        rows.append(row(f"behaviour · {model}", "NDCG@10", values.get("ndcg@10_ci")))
        rows.append(row(f"behaviour · {model}", "HR@10", values.get("hr@10_ci")))
    for name, judged in ((metrics.get("gate") or {}).get("spaces") or {}).items():
        rows.append(row(f"gate · {name}", "new - active (paired)", judged.get("difference")))
    notes = [("image backbone", image.get("choice", {}).get("why"))]
    if behaviour.get("serving"):  # which recommender serves, and why (never worse than a baseline)
        notes.append(("personal recommendations", behaviour["serving"].get("why")))
    else:  # versions trained before baselines could serve
        notes.append(("LSTM vs baselines (the LSTM serves)", (behaviour.get("baseline_check") or {}).get("why")))
    for name, why in ((metrics.get("related") or {}).get("baselines") or {}).items():
        notes.append((f"related products · {name}", why))
    rows += [(label, why, "", "", "") for label, why in notes if why]
    return [r for r in rows if r]
