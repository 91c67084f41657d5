"""Evaluating a version's behaviour model on the shop's current events, by the DESIGN.md protocol
(leave-last-out, full ranking, seen items excluded), beside popularity, item-kNN and Markov
baselines computed in the same run."""

from __future__ import annotations

from typing import Any

from shopguide.models import ModelVersion
from shopguide.selectors.versions import active_version
from shopguide.snapshot import CatalogSnapshot, take_event_snapshot
from shopguide.spaces import behaviour as behaviour_space
from shopguide.spaces import spaces


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

    rows, notes = [], []
    for space in spaces().values():  # each space words its own figures
        space_rows, space_notes = space.held_out_report(metrics.get(space.name) or {})
        rows += [row(*each) for each in space_rows]
        notes += space_notes
    for name, judged in ((metrics.get("gate") or {}).get("spaces") or {}).items():
        rows.append(row(f"gate · {name}", "new - active (paired)", judged.get("difference")))
    for name, why in ((metrics.get("related") or {}).get("baselines") or {}).items():
        notes.append((f"related products · {name}", why))
    rows += [(label, why, "", "", "") for label, why in notes if why]
    return [r for r in rows if r]
