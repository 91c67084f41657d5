"""The registry of spaces: everything that goes over "the spaces" reads it, so a space registered
in one place (here: a tiny "colour" space declared in this test only) is trained, stored, indexed,
listed, served, worded and offered by the API and the admin without any other edit."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from django.urls import reverse

from shopguide.models import ProductVector, RelatedList
from shopguide.selectors.versions import active_version
from shopguide.services.training import request_training, run_training
from shopguide.spaces import SPACE_MODULES, Space, TrainedSpace, get_space, register, space_names, spaces, unregister
from tests.factories import make_articles
from tests.testapp.models import Customer

API = "/api/shopguide/"


def colour_vectors(pks) -> np.ndarray:
    """A fixed 4-dimensional unit vector per product id."""
    rows = [
        np.frombuffer(hashlib.sha256(str(pk).encode()).digest()[:16], dtype=np.uint32).astype(np.float32) for pk in pks
    ]
    matrix = np.array(rows, np.float32).reshape(len(rows), 4) - 2**31
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def train_colour(catalog, events, *, version, trained, overrides, progress) -> TrainedSpace:
    progress(1.0, "done")
    return TrainedSpace(
        name="colour",
        metrics={"note": "a test space"},
        dimensions=4,
        vectors=colour_vectors(catalog.product_ids),
        stored=np.arange(catalog.n_products),
    )


def embed_colour(version, products):
    return [p.pk for p in products], colour_vectors([p.pk for p in products]), {}


COLOUR = Space(
    name="colour",
    metric="cosine",
    index_metrics=("cosine",),
    reason="same colour as {title}",
    list_label="same colour",
    held_out_figure=("colour hits", "products"),
    training_share=0.1,
    train=train_colour,
    embed_products=embed_colour,
    version_scores=lambda version, catalog, events: None,
)


@pytest.fixture
def colour_space(settings):
    register(COLOUR)
    settings.SHOPGUIDE = {
        **settings.SHOPGUIDE,
        "MODELS": [*settings.SHOPGUIDE.get("MODELS", ["image", "text", "behaviour"]), "colour"],
    }
    try:
        yield COLOUR
    finally:
        unregister(COLOUR.name)


def test_the_registry_lists_each_space_module_in_order():
    assert space_names() == ("image", "text", "behaviour")
    assert len(SPACE_MODULES) == len(spaces())
    assert get_space("image").list_label == "looks similar" and get_space("behaviour").index_metrics == ("ip", "cosine")
    assert get_space("image").label == "image (looks similar)" and get_space("text").label == "text"


def test_a_registered_space_is_offered_by_the_api_serializer(colour_space):
    from shopguide.api.serializers import RelatedQuerySerializer

    serializer = RelatedQuerySerializer(data={"space": "colour"})
    assert serializer.is_valid(), serializer.errors
    field = serializer.fields["space"]
    assert list(field.choices) == ["image", "text", "behaviour", "colour"]
    assert field.help_text == (
        "Only one space: image (looks similar), text, behaviour (customers also bought), colour (same colour). "
        "Default: all, fused."
    )
    unregister("colour")
    assert not RelatedQuerySerializer(data={"space": "colour"}).is_valid()


def test_a_registered_space_is_trained_stored_indexed_listed_and_served(colour_space, db, api_client, client):
    make_articles(12)
    run = run_training(request_training().pk)
    assert run.status == "succeeded", run.error
    version = active_version()
    assert version.dimensions["colour"] == 4 and version.metrics["colour"] == {"note": "a test space"}
    assert "colour" in version.config["related_weights"]
    assert ProductVector.objects.filter(version=version, space="colour").count() == 12
    # Its own stored list, with its reason position after the three built-in spaces.
    stored = RelatedList.objects.get(version=version, product_id="A-0000", space="colour")
    assert set(stored.reasons) == {space_names().index("colour")} == {3}
    body = api_client.get(f"{API}products/A-0000/related/", {"k": 4, "space": "colour"}).json()
    assert body["source"] == "colour" and len(body["results"]) == 4
    assert all(item["reason"].startswith("same colour as ") for item in body["results"])
    # Live (no stored list): the same wording from the index the version built for it.
    from shopguide.filters import ProductFilters
    from shopguide.ranking import fused_neighbour_ids

    live = fused_neighbour_ids(version, "A-0000", k=4, filters=ProductFilters(in_stock=False), space="colour")
    assert [pk for pk, _, _ in live] == stored.product_ids[:4]
    # The admin opens the version with the space in it.
    admin = Customer.objects.create_superuser("admin@example.com", "pw")
    client.force_login(admin)
    assert client.get(reverse("admin:shopguide_modelversion_change", args=[version.pk])).status_code == 200


def test_no_module_outside_the_spaces_lists_the_spaces_by_hand():
    from pathlib import Path

    import shopguide

    root = Path(shopguide.__file__).parent
    by_hand = (
        '("image", "text", "behaviour")',
        "looks like {title}",
        "bought together with {title}",
        "EMBEDDED_IN_TRAINING",
    )
    for path in root.rglob("*.py"):
        if path.parent.name == "spaces" or "migrations" in path.parts:
            continue
        text = path.read_text()
        assert not [marker for marker in by_hand if marker in text], path.relative_to(root)
