"""The public hooks host integrations (shopguide.contrib.*) build on: integration settings,
the version_activated signal, and idempotent recording of a shop's own history."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured

from shopguide import conf
from shopguide.conf import register_integration, shopguide_settings
from shopguide.models import Interaction, ModelVersion
from shopguide.services.events import PastEvent, record_event, store_past_events
from shopguide.services.versions import activate_version
from shopguide.signals import version_activated
from tests.factories import make_articles


@pytest.fixture
def clean_integrations(monkeypatch):
    monkeypatch.setattr(conf, "INTEGRATION_DEFAULTS", {})
    monkeypatch.setattr(conf, "INTEGRATION_KEYS", {})
    yield
    shopguide_settings.reload()


def test_an_integration_sets_defaults_and_keys_and_the_shop_still_wins(clean_integrations, settings):
    register_integration(
        defaults={"DEFAULT_LIMIT": 5, "PRODUCT_FIELDS": {"sku": "code", "title": "name"}}, keys={"HOST_THING": 3}
    )
    assert shopguide_settings.DEFAULT_LIMIT == 5 and shopguide_settings.HOST_THING == 3
    assert shopguide_settings.PRODUCT_FIELDS["title"] == "name"  # merged, not replaced
    settings.SHOPGUIDE = {
        **settings.SHOPGUIDE,
        "DEFAULT_LIMIT": 7,
        "HOST_THING": 1,
        "PRODUCT_FIELDS": {"title": "label"},
    }
    assert shopguide_settings.DEFAULT_LIMIT == 7 and shopguide_settings.HOST_THING == 1
    assert shopguide_settings.PRODUCT_FIELDS["title"] == "label" and shopguide_settings.PRODUCT_FIELDS["sku"] == "code"


def test_an_integration_cannot_default_an_unknown_key_or_take_an_existing_one(clean_integrations, settings):
    with pytest.raises(ImproperlyConfigured, match="NOPE"):
        register_integration(defaults={"NOPE": 1})
    with pytest.raises(ImproperlyConfigured, match="MAX_LIMIT"):
        register_integration(keys={"MAX_LIMIT": 1})
    settings.SHOPGUIDE = {"HOST_THING": 1}  # not registered: still an unknown key
    with pytest.raises(ImproperlyConfigured, match="HOST_THING"):
        shopguide_settings.DEFAULT_LIMIT  # noqa: B018 - reading the setting is what raises


def test_version_activated_is_sent_after_commit_and_a_failing_receiver_undoes_nothing(
    db, django_capture_on_commit_callbacks
):
    seen = []

    def broken(sender, version, **kwargs):
        raise RuntimeError("receiver bug")

    def listening(sender, version, **kwargs):
        seen.append(version.pk)

    version_activated.connect(broken, dispatch_uid="test-broken")
    version_activated.connect(listening, dispatch_uid="test-listening")
    try:
        version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            activate_version(version=version)
        assert seen == []  # nothing before the commit
        for callback in callbacks:
            callback()
        assert seen == [version.pk]
        assert ModelVersion.objects.get(pk=version.pk).is_active
    finally:
        version_activated.disconnect(dispatch_uid="test-broken")
        version_activated.disconnect(dispatch_uid="test-listening")


def test_a_dedupe_key_records_an_event_once_live_or_imported(db, django_user_model):
    article = make_articles(1, with_images=False)[0]
    user = django_user_model.objects.create_user("kim@example.com")
    first = record_event(type="purchase", product=article, user=user, dedupe_key="order-line:1")
    assert record_event(type="purchase", product=article, user=user, dedupe_key="order-line:1").pk == first.pk
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    history = [
        PastEvent(type="purchase", ts=now, dedupe_key="order-line:1", product_id=article.pk, user_id=user.pk),
        PastEvent(type="view", ts=now, dedupe_key="view:1", product_id=article.pk, visitor="guest-1"),
        PastEvent(type="view", ts=now, dedupe_key="view:1", product_id=article.pk, visitor="guest-1"),
    ]
    assert store_past_events(history) == (1, 2)
    assert store_past_events(history) == (0, 3)
    assert Interaction.objects.count() == 2
    with pytest.raises(ValueError, match="user or a visitor"):
        store_past_events([PastEvent(type="view", ts=now, dedupe_key="x", product_id=article.pk)])
