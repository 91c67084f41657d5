"""The evaluation gate: may a newly trained version replace the active one?

While the new version trains, each space scores the new model AND the active version's model on
the same held-out data of the new snapshot (TEST images, held-out search queries, held-out last
events), query by query. The gate holds the new version back only when a space is worse beyond the
bootstrap interval of the paired difference (and by more than GATE_TOLERANCE). A space with fewer
than GATE_MIN_SAMPLES held-out queries says "not enough data to judge"; when no space can judge,
GATE_SMALL_SAMPLE_POLICY decides. Every decision is put in words for the run and the admin.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from shopguide.conf import shopguide_settings
from shopguide.models import ModelVersion
from shopguide.selectors.versions import active_version

logger = logging.getLogger(__name__)

NOT_ENOUGH = "not enough data"


def compare_with_active(
    *, spaces: Mapping[str, Any], catalog, events, candidate_scores: Mapping[str, np.ndarray | None]
) -> dict[str, Any] | None:
    """Score the active version on the candidate's held-out data and judge each space.

    Args:
        spaces: name -> space (shopguide.spaces.Space: ``version_scores(version, catalog, events)``
            and ``held_out_figure``).
        candidate_scores: name -> the new model's per-query held-out scores.

    Returns:
        None when no version is active, else ``{"against": pk, "spaces": {name: judgement}}``.
        A space the active version cannot be scored in is reported, not raised.
    """
    active = active_version()
    if active is None:
        return None
    judged: dict[str, Any] = {}
    for name, candidate in candidate_scores.items():
        if candidate is None or name not in active.dimensions or name not in spaces:
            continue
        try:
            reference = spaces[name].version_scores(active, catalog, events)
        except Exception as exc:  # an old artifact that no longer loads must not fail the run
            logger.warning("Could not score %s's %s model on the new held-out data", active, name, exc_info=True)
            judged[name] = {
                "verdict": "not compared",
                "why": f"{name}: {active} could not be scored ({type(exc).__name__}: {exc})",
            }
            continue
        if reference is None or len(reference) != len(candidate):
            judged[name] = {
                "verdict": "not compared",
                "why": f"{name}: {active} cannot be scored on these held-out data",
            }
            continue
        judged[name] = judge(name, np.asarray(candidate), np.asarray(reference), figure=spaces[name].held_out_figure)
    return {"against": active.pk, "spaces": judged}


def judge(
    name: str, candidate: np.ndarray, reference: np.ndarray, *, figure: tuple[str, str] | None = None
) -> dict[str, Any]:
    """One space's verdict: "better", "worse", "no clear difference" or "not enough data".
    ``figure``: (what the held-out score is, what it counts), the space's ``held_out_figure``."""
    from shopguide.ml.metrics import estimate, format_estimate, paired_difference

    label, unit = figure or (name, "queries")
    difference = paired_difference(candidate, reference)
    new, old = estimate(candidate), estimate(reference)
    n = difference["n"]
    figures = (
        (
            f"{label} {new['value']:.3f} (new) vs {old['value']:.3f} (active) on the same {n} held-out {unit}, "
            f"difference {format_estimate(difference)}"
        )
        if n
        else f"no held-out {unit}"
    )
    minimum = shopguide_settings.GATE_MIN_SAMPLES
    if n < minimum:
        verdict = NOT_ENOUGH
        why = (
            f"{name}: not enough data to judge ({n} held-out {unit}, fewer than GATE_MIN_SAMPLES={minimum}); {figures}"
        )
    elif difference["high"] < 0 and difference["value"] < -shopguide_settings.GATE_TOLERANCE:
        verdict, why = "worse", f"{name}: worse beyond the interval: {figures}"
    elif difference["low"] > 0:
        verdict, why = "better", f"{name}: better beyond the interval: {figures}"
    else:
        verdict, why = "no clear difference", f"{name}: no difference beyond the interval: {figures}"
    return {"verdict": verdict, "why": why, "new": new, "active": old, "difference": difference}


def decide(version: ModelVersion, *, force: bool) -> tuple[bool, str]:
    """(activate?, why in words) for a version that finished training."""
    gate = (version.metrics or {}).get("gate")
    current = active_version()
    if force:
        return True, "forced by staff (the gate was not applied)"
    if current is None or current.pk == version.pk:
        return True, "no version was serving"
    if not gate or not gate.get("spaces"):
        return True, f"nothing to compare with {current} on held-out data"
    spaces = gate["spaces"]
    prefix = "" if gate.get("against") == current.pk else f"compared with v{gate.get('against')}, then active; "
    worse = [s["why"] for s in spaces.values() if s["verdict"] == "worse"]
    if worse:
        return False, prefix + "; ".join(worse)
    reasons = "; ".join(s["why"] for s in spaces.values())
    if all(s["verdict"] in (NOT_ENOUGH, "not compared") for s in spaces.values()):
        policy = shopguide_settings.GATE_SMALL_SAMPLE_POLICY
        if policy == "keep":
            return (
                False,
                prefix
                + f"not enough data to judge; GATE_SMALL_SAMPLE_POLICY='keep' keeps {current} serving ({reasons})",
            )
        return True, prefix + f"not enough data to judge; activated by GATE_SMALL_SAMPLE_POLICY='activate' ({reasons})"
    return True, prefix + reasons
