"""Privacy: a customer's data goes with their account, or on request, and nobody else's does."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from shopguide.models import Interaction, Segment, SegmentMember, SegmentScore, UserVector
from shopguide.services.training import request_training, run_training
from tests.factories import make_articles, make_history
from tests.testapp.models import Customer


@pytest.fixture
def customers(db):
    articles = make_articles(24, with_images=False)
    customers = make_history(articles, n_users=12)
    segment = Segment.objects.create(name="Early", slug="early")
    for i, customer in enumerate(customers):
        SegmentMember.objects.create(segment=segment, user=customer, is_member=i % 2 == 0)
    assert run_training(request_training().pk).status == "succeeded"
    return customers


def stored_about(user) -> dict[str, int]:
    return {
        "events": Interaction.objects.filter(user=user).count(),
        "vectors": UserVector.objects.filter(user=user).count(),
        "labels": SegmentMember.objects.filter(user=user).count(),
        "scores": SegmentScore.objects.filter(user=user).count(),
    }


def test_deleting_a_customer_deletes_their_events_vectors_and_segments(customers):
    gone, kept = customers[0], customers[1]
    assert all(stored_about(gone).values()) and all(stored_about(kept).values())
    before = stored_about(kept)
    user_id = gone.pk
    gone.delete()
    assert not Interaction.objects.filter(user_id=user_id).exists()
    assert not UserVector.objects.filter(user_id=user_id).exists()
    assert not SegmentMember.objects.filter(user_id=user_id).exists()
    assert not SegmentScore.objects.filter(user_id=user_id).exists()
    assert stored_about(kept) == before


def test_forget_user_command_deletes_the_data_and_keeps_the_account(customers, capsys):
    target, other = customers[2], customers[3]
    before = stored_about(other)
    call_command("shopguide_forget_user", target.email)
    assert "the account stays" in capsys.readouterr().out
    assert stored_about(target) == {"events": 0, "vectors": 0, "labels": 0, "scores": 0}
    assert Customer.objects.filter(pk=target.pk).exists() and stored_about(other) == before


def test_forget_user_can_delete_the_account_and_names_an_unknown_user(customers):
    call_command("shopguide_forget_user", customers[4].email, "--delete-account")
    assert not Customer.objects.filter(pk=customers[4].pk).exists()
    with pytest.raises(CommandError, match=r"no customer 'nobody@example\.com'"):
        call_command("shopguide_forget_user", "nobody@example.com")


def test_a_forgotten_customer_has_an_empty_profile(customers, api_client):
    call_command("shopguide_forget_user", customers[5].email)
    api_client.force_authenticate(customers[5])
    body = api_client.get("/api/shopguide/profiles/me/").json()
    assert body["event_counts"] == {} and body["recent"] == [] and body["segments"] == [] and not body["has_vector"]
    recommendations = api_client.get("/api/shopguide/recommendations/").json()
    assert recommendations["fallback"] and recommendations["source"] == "trending"
