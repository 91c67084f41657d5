"""Forgetting a customer: everything shopguide stored about them, on request or with the account.

Deleting a user row deletes their events, vectors, stored recommendations, segment labels and
predictions by cascade;
``forget_user`` does the same while keeping the account (a "delete my data" request), and also
forgets the anonymous history merged into it or still kept under their last visitor id.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Model

from shopguide.models import Interaction, SegmentMember, SegmentScore, ShopperList, UserVector


@transaction.atomic
def forget_user(user: Model, *, visitor_ids: tuple[str, ...] = ()) -> dict[str, int]:
    """Delete the customer's events, vectors, stored recommendations, segment labels and scores;
    returns counts by kind."""
    events = Interaction.objects.filter(user=user)
    if visitor_ids:
        events = events | Interaction.objects.filter(visitor__in=visitor_ids)
    counts = {
        "events": events.delete()[0],
        "vectors": UserVector.objects.filter(user=user).delete()[0],
        "recommendation lists": (
            ShopperList.objects.filter(user=user)
            | ShopperList.objects.filter(visitor__in=visitor_ids, user__isnull=True)
        ).delete()[0],
        "segment labels": SegmentMember.objects.filter(user=user).delete()[0],
        "segment scores": SegmentScore.objects.filter(user=user).delete()[0],
    }
    return counts
