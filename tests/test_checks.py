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


def test_hostile_client_settings_pass_on_the_test_host_and_each_mistake_is_named():
    assert checks.check_hostile_client_settings() == []
    bad = {"TRUSTED_PROXIES": -1, "FAILED_LOGIN_RATES": {"address": "ten/hour"}, "MAX_IMAGE_PIXELS": 0}
    with override_settings(SHOPGUIDE=bad):
        messages = checks.check_hostile_client_settings()
    assert ids(messages) == ["shopguide.E015", "shopguide.E016", "shopguide.E017"] and all(m.hint for m in messages)


def test_basic_authentication_and_an_unthrottled_login_backend_are_warned_about(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.BasicAuthentication"]}
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert ids(checks.check_hostile_client_settings()) == ["shopguide.W015", "shopguide.W016"]
