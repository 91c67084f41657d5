import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from shopguide.adapter import CatalogAdapter, get_adapter
from tests.factories import make_articles
from tests.testapp.adapter import ArticleAdapter
from tests.testapp.models import Article


@pytest.fixture
def articles(db):
    return make_articles(6, available=lambda i: i != 4)


def test_configured_adapter_reads_images_and_categories_from_other_tables(articles, django_assert_max_num_queries):
    adapter = get_adapter()
    assert isinstance(adapter, ArticleAdapter)
    with django_assert_max_num_queries(3):  # products + images + shelves, whatever the count
        products = list(adapter.get_queryset().order_by("pk"))
        categories = [adapter.category(p) for p in products]
        images = [adapter.read_image(p) for p in products]
    assert categories == ["Stripes", "Columns", "Rings"] * 2
    assert all(data and data.startswith(b"\x89PNG") for data in images)
    assert adapter.sku(products[0]) == "A-0000"
    assert adapter.price(products[0]) == 10.0
    assert adapter.url(products[0]) == "/articles/A-0000/"


def test_same_category_and_availability(articles):
    adapter = get_adapter()
    first = adapter.get_by_pk("A-0001")
    same = adapter.same_category(adapter.get_queryset(), first)
    assert sorted(same.values_list("pk", flat=True)) == ["A-0001", "A-0004"]
    available = adapter.available(adapter.get_queryset())
    assert "A-0004" not in set(available.values_list("pk", flat=True))


def test_lookups_by_sku_and_pk_tolerate_unknown_keys(articles):
    adapter = get_adapter()
    assert adapter.products_by_sku(["A-0002", "ZZZ"]) == {"A-0002": "A-0002"}
    assert adapter.get_by_pk("nope") is None
    assert adapter.get_by_sku("A-0003").name == "Stripes article 3"


def test_default_adapter_is_driven_by_the_field_mapping(articles):
    with override_settings(
        SHOPGUIDE={
            "PRODUCT_FIELDS": {
                "title": "name",
                "text": "summary",
                "category": None,
                "image": None,
                "price": "cost",
                "in_stock": "available",
                "sku": "code",
            }
        }
    ):
        adapter = get_adapter()
        assert type(adapter) is CatalogAdapter
        product = adapter.get_by_pk("A-0000")
        assert adapter.text(product) == "Stripes article 0\nA stripes pattern."
        assert adapter.category(product) is None
        assert adapter.read_image(product) is None  # no image field mapped
        assert adapter.check_fields() == []


def test_the_suite_runs_against_a_custom_user_model():
    assert get_user_model()._meta.label == "testapp.Customer"
    assert Article._meta.pk.get_internal_type() == "CharField"


def test_default_adapter_filters_by_a_category_relation(articles):
    from tests.testapp.models import Shelf

    with override_settings(
        SHOPGUIDE={
            "PRODUCT_FIELDS": {
                "title": "name",
                "text": "summary",
                "category": "shelves",
                "image": None,
                "price": "cost",
                "in_stock": "available",
                "sku": "code",
            }
        }
    ):
        adapter = get_adapter()
        rings = Shelf.objects.get(label="Rings")
        on_shelf = adapter.in_category(Article.objects.all(), str(rings.pk))
        assert set(on_shelf.values_list("code", flat=True)) == set(rings.articles.values_list("code", flat=True))
        assert not adapter.in_category(Article.objects.all(), "no such shelf").exists()


def test_default_adapter_category_keys_select_what_its_category_filter_selects(articles):
    # A plain category field (here the summary, one per shelf), matched case-insensitively: the
    # key beside the vectors is the value upper-cased, and a filter in any case names that key.
    fields = {
        "title": "name",
        "text": [],
        "category": "summary",
        "image": None,
        "price": "cost",
        "in_stock": "available",
        "sku": "code",
    }
    with override_settings(SHOPGUIDE={"PRODUCT_FIELDS": fields}):
        adapter = get_adapter()
        keys = dict(adapter.vector_categories(Article.objects.all()))
        assert keys["A-0000"] == ["A STRIPES PATTERN."]
        key = adapter.category_key("a Stripes pattern.")
        assert key == "A STRIPES PATTERN."
        filtered = adapter.category_filter(Article.objects.all(), "a Stripes pattern.")
        selected = set(filtered.values_list("pk", flat=True))
        assert selected and {pk for pk, held in keys.items() if key in held} == selected

        class OwnFilter(CatalogAdapter):  # its own category semantics, keys not declared
            def category_filter(self, queryset, value):
                return queryset.filter(summary__icontains=value)

        assert OwnFilter().category_key("a stripes pattern.") is None  # no category index for it
