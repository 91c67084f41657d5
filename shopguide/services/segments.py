"""Customer segments: labelling members (staff, import, rule over order history) and predicting
every customer's membership probability with a logistic regression on user vectors plus
recency / frequency / monetary features."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from shopguide.adapter import get_adapter
from shopguide.models import Interaction, InteractionType, ModelVersion, Segment, SegmentMember, SegmentScore

logger = logging.getLogger(__name__)

RULE_KEYS = {"min_purchases", "category", "within_days"}


def validate_rule(rule: dict[str, Any]) -> None:
    """Raise ValueError naming the problem in a segment rule."""
    unknown = set(rule) - RULE_KEYS
    if unknown:
        raise ValueError(f"Unknown rule key(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(RULE_KEYS))}.")
    for key in ("min_purchases", "within_days"):
        if key in rule and (not isinstance(rule[key], int) or rule[key] < 1):
            raise ValueError(f"Rule '{key}' must be a positive integer.")


def apply_rule(segment: Segment) -> int:
    """Label customers by the segment's rule (members: at least ``min_purchases`` purchases,
    optionally in ``category`` and within ``within_days``; everyone else who bought: not members).
    Labels given by staff or an import are kept. Returns the number of members."""
    if not segment.rule:
        return 0
    validate_rule(segment.rule)
    purchases = Interaction.objects.filter(type=InteractionType.PURCHASE, user__isnull=False)
    buyers = set(purchases.values_list("user_id", flat=True).distinct())
    matching = purchases
    if "within_days" in segment.rule:
        matching = matching.filter(ts__gte=timezone.now() - timedelta(days=segment.rule["within_days"]))
    if "category" in segment.rule:
        adapter = get_adapter()
        ids = [p.pk for p in adapter.get_queryset() if adapter.category(p) == segment.rule["category"]]
        matching = matching.filter(product_id__in=ids)
    counts = matching.values("user_id").annotate(n=Count("id"))
    members = {row["user_id"] for row in counts if row["n"] >= segment.rule.get("min_purchases", 1)}
    with transaction.atomic():
        segment.members.filter(source=SegmentMember.Source.RULE).delete()
        kept = set(segment.members.values_list("user_id", flat=True))
        SegmentMember.objects.bulk_create(
            [
                SegmentMember(
                    segment=segment, user_id=user_id, is_member=user_id in members, source=SegmentMember.Source.RULE
                )
                for user_id in buyers - kept
            ]
        )
    return len(members)


def rfm(user_ids: list[Any]) -> np.ndarray:
    """Recency / frequency / monetary features of these users' purchases (ml.segments.rfm_features)."""
    from shopguide.ml.segments import rfm_features

    adapter = get_adapter()
    rows = Interaction.objects.filter(type=InteractionType.PURCHASE, user_id__in=user_ids).values_list(
        "user_id", "ts", "product_id"
    )
    times, products = defaultdict(list), defaultdict(list)
    for user_id, ts, product_id in rows:
        times[user_id].append(ts.timestamp())
        products[user_id].append(product_id)
    prices = {
        p.pk: adapter.price(p) or 0.0
        for p in adapter.get_queryset().filter(pk__in={pk for v in products.values() for pk in v})
    }
    return rfm_features(
        [np.array(times[u]) for u in user_ids],
        [np.array([prices.get(pk, 0.0) for pk in products[u]]) for u in user_ids],
        now=timezone.now().timestamp(),
    )


def train_segments(version: ModelVersion, *, user_ids: list[Any], user_vectors: np.ndarray) -> dict[str, Any]:
    """Fit one model per segment with labelled members and store everyone's probability.

    Segments with only positive labels treat the other customers as negatives. Returns a report
    per segment (labels used, training accuracy) or the reason it was skipped.
    """
    from shopguide.ml.segments import fit_segment_model

    report: dict[str, Any] = {}
    if not user_ids:
        return report
    features = np.concatenate([user_vectors, rfm(user_ids)], axis=1)
    row = {user_id: i for i, user_id in enumerate(user_ids)}
    for segment in Segment.objects.all():
        apply_rule(segment)
        labels = dict(segment.members.values_list("user_id", "is_member"))
        positives = [row[u] for u, member in labels.items() if member and u in row]
        negatives = [row[u] for u, member in labels.items() if not member and u in row]
        if positives and not negatives:
            negatives = [i for u, i in row.items() if u not in labels]
        if not positives or not negatives:
            report[segment.slug] = {"skipped": "needs labelled members and non-members with a user vector"}
            continue
        rows = np.array(positives + negatives)
        target = np.array([1] * len(positives) + [0] * len(negatives))
        model = fit_segment_model(features[rows], target)
        probabilities = model.predict_proba(features)
        accuracy = float(((probabilities[rows] >= 0.5) == target).mean())
        SegmentScore.objects.filter(segment=segment, version=version).delete()
        SegmentScore.objects.bulk_create(
            [
                SegmentScore(segment=segment, user_id=user_id, version=version, probability=float(probabilities[i]))
                for user_id, i in row.items()
            ],
            batch_size=5000,
        )
        report[segment.slug] = {
            "positives": len(positives),
            "negatives": len(negatives),
            "train_accuracy": round(accuracy, 4),
            "model": model.to_dict(),
        }
    return report


def label_members(segment: Segment, usernames: list[str], *, is_member: bool = True) -> tuple[int, list[str]]:
    """Label customers by username (import). Returns (labelled, unknown usernames)."""
    User = get_user_model()
    field = User.USERNAME_FIELD
    found = dict(User._default_manager.filter(**{f"{field}__in": usernames}).values_list(field, "pk"))
    for name in usernames:
        if name in found:
            SegmentMember.objects.update_or_create(
                segment=segment,
                user_id=found[name],
                defaults={"is_member": is_member, "source": SegmentMember.Source.IMPORT},
            )
    return len(found), [name for name in usernames if name not in found]
