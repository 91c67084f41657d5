"""Customer profiles: what shopguide knows about one customer, for them and for staff."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Model

from shopguide.adapter import get_adapter
from shopguide.models import Interaction, ModelVersion, SegmentMember, SegmentScore, UserVector
from shopguide.selectors.versions import active_version

# Reading another customer's profile or recommendations takes this permission (superusers have
# every permission); being staff is not enough (staff may be anyone who runs part of the admin).
VIEW_CUSTOMER_PERMISSION = "shopguide.view_customer"
AFFINITY_EVENTS = 500  # most recent events read for category affinities
RECENT_EVENTS = 10


def may_view_customer(*, viewer: Model, username: str) -> bool:
    """True when ``viewer`` (a user, possibly anonymous) may read the data of the customer called
    ``username``: it is themselves, or they have the ``shopguide.view_customer`` permission."""
    if not viewer.is_authenticated:
        return False
    return viewer.get_username() == username or viewer.has_perm(VIEW_CUSTOMER_PERMISSION)


@dataclass
class RecentEvent:
    type: str
    ts: datetime
    product: Model | None
    query: str = ""


@dataclass
class SegmentEstimate:
    slug: str
    name: str
    probability: float | None  # the active version's prediction; None when not predicted
    labelled: bool | None  # True/False when staff, an import or a rule labelled the customer


@dataclass
class CustomerProfile:
    user: Model
    version: int | None
    has_vector: bool  # the active behaviour model has a vector for this customer
    event_counts: dict[str, int] = field(default_factory=dict)
    category_affinities: list[tuple[str, float]] = field(default_factory=list)  # (category, share), best first
    segments: list[SegmentEstimate] = field(default_factory=list)
    recent: list[RecentEvent] = field(default_factory=list)


def customer_profile(user: Model, *, version: ModelVersion | None = None) -> CustomerProfile:
    """The customer's event counts, category affinities (share of their weighted recent events per
    category), predicted segment probabilities and most recent events."""
    version = version or active_version()
    adapter = get_adapter()
    events = Interaction.objects.filter(user=user)
    profile = CustomerProfile(
        user=user,
        version=version.pk if version else None,
        has_vector=bool(version) and UserVector.objects.filter(version=version, user=user).exists(),
        event_counts=dict(Counter(events.values_list("type", flat=True))),
    )
    recent = list(
        events.order_by("-ts", "-pk").values_list("product_id", "type", "weight", "ts", "query")[:AFFINITY_EVENTS]
    )
    products = adapter.get_queryset().in_bulk({pk for pk, *_ in recent if pk is not None})
    weights: dict[str, float] = defaultdict(float)
    for pk, _, weight, _, _ in recent:
        category = adapter.category(products[pk]) if pk in products else None
        if category:
            weights[category] += weight
    total = sum(weights.values()) or 1.0
    profile.category_affinities = sorted(
        ((c, round(w / total, 4)) for c, w in weights.items()), key=lambda cw: (-cw[1], cw[0])
    )
    profile.recent = [
        RecentEvent(kind, ts, products.get(pk), query) for pk, kind, _, ts, query in recent[:RECENT_EVENTS]
    ]
    profile.segments = _segments(user, version)
    return profile


def _segments(user: Model, version: ModelVersion | None) -> list[SegmentEstimate]:
    estimates: dict[Any, SegmentEstimate] = {}
    if version is not None:
        for score in SegmentScore.objects.filter(user=user, version=version).select_related("segment"):
            estimates[score.segment_id] = SegmentEstimate(
                score.segment.slug, score.segment.name, round(score.probability, 4), None
            )
    for member in SegmentMember.objects.filter(user=user).select_related("segment"):
        estimate = estimates.setdefault(
            member.segment_id, SegmentEstimate(member.segment.slug, member.segment.name, None, None)
        )
        estimate.labelled = member.is_member
    return sorted(estimates.values(), key=lambda s: (-(s.probability or 0.0), s.name))
