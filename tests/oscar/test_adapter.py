"""The Oscar adapter on a real Oscar catalogue: visibility, parent/child, the category tree,
price, currency and availability from Oscar's strategy, text, images, and no query per product."""

from __future__ import annotations

from shopguide.adapter import get_adapter
from shopguide.conf import shopguide_settings
from shopguide.contrib.oscar.adapter import OscarAdapter


def pks(queryset) -> set:
    return set(queryset.values_list("pk", flat=True))


def test_the_app_sets_the_adapter_and_the_shop_sets_nothing_else(settings):
    assert isinstance(get_adapter(), OscarAdapter)
    assert shopguide_settings.PRODUCT_FIELDS["sku"] == "upc"
    assert shopguide_settings.OSCAR_RECOMMENDATIONS == 6  # the shop's own value wins over the default 0
    settings.SHOPGUIDE = {}
    assert shopguide_settings.OSCAR_RECOMMENDATIONS == 0
    assert isinstance(get_adapter(), OscarAdapter)


def test_lists_hold_browsable_public_products_only(catalogue):
    listed = pks(get_adapter().get_queryset())
    assert catalogue.parent.pk in listed
    assert {s.pk for s in catalogue.standalone} <= listed
    assert not {c.pk for c in catalogue.children} & listed  # children show as their parent
    assert catalogue.hidden.pk not in listed


def test_category_filter_includes_descendants_and_matches_children_through_their_parent(catalogue):
    adapter = get_adapter()
    Product = adapter.model
    everything = Product.objects.all()
    clothing = pks(adapter.category_filter(everything, "Clothing"))
    shirts = pks(adapter.category_filter(everything, "shirts"))  # case-insensitive name
    by_pk = pks(adapter.category_filter(everything, str(catalogue.categories["Books"].pk)))
    assert shirts < clothing and catalogue.standalone[1].pk in clothing  # product 1 is in Trousers
    assert catalogue.standalone[0].pk in shirts and catalogue.standalone[1].pk not in shirts
    assert {c.pk for c in catalogue.children} <= clothing  # the parent (100 % 4 == 0) is a shirt
    assert catalogue.standalone[2].pk in by_pk and catalogue.standalone[0].pk not in by_pk
    assert not pks(adapter.category_filter(everything, "No such category"))


def test_price_currency_and_stock_come_from_oscars_strategy(catalogue):
    adapter = get_adapter()
    products = adapter.get_queryset().in_bulk()
    first, parent, sold_out = (
        products[catalogue.standalone[0].pk],
        products[catalogue.parent.pk],
        products[catalogue.sold_out.pk],
    )
    assert adapter.price(first) == 10.0 and adapter.currency(first) == "EUR" and adapter.in_stock(first)
    from oscar.apps.partner.strategy import Selector

    oscar_says = Selector().strategy().fetch_for_parent(adapter.model.objects.get(pk=parent.pk)).price
    assert adapter.price(parent) == float(oscar_says.excl_tax) in (19.5, 20.5) and adapter.in_stock(parent)
    assert not adapter.in_stock(sold_out)
    available = pks(adapter.available(adapter.model.objects.all()))
    assert catalogue.parent.pk in available and catalogue.sold_out.pk not in available
    priced = pks(adapter.in_price_range(adapter.model.objects.all(), 19, 20))
    assert priced == {
        catalogue.standalone[9].pk,
        catalogue.standalone[10].pk,
        catalogue.parent.pk,
        catalogue.children[0].pk,
    }


def test_text_title_category_and_images(catalogue):
    adapter = get_adapter()
    product = adapter.get_queryset().get(pk=catalogue.standalone[0].pk)
    assert adapter.text(product) == "Shirts item 0\nA shirts pattern & more."  # HTML stripped
    assert adapter.category(product) == "Shirts"  # the most specific category
    assert adapter.read_image(product)[:8] == b"\x89PNG\r\n\x1a\n"
    child = adapter.model.objects.get(pk=catalogue.children[0].pk)
    assert adapter.title(child) == "Striped shirt"  # inherited from the parent
    assert adapter.category(child) == "Shirts" and adapter.images(child)  # and its image
    assert adapter.canonical(child).pk == catalogue.parent.pk
    assert adapter.sku(product) == "UPC-000"
    assert adapter.products_by_sku(["UPC-000", "nope"]) == {"UPC-000": catalogue.standalone[0].pk}


def test_reading_products_costs_no_query_per_product(catalogue, django_assert_max_num_queries):
    adapter = get_adapter()
    with django_assert_max_num_queries(12):
        for product in adapter.get_queryset():
            adapter.title(product), adapter.text(product), adapter.category(product), adapter.price(product)
            adapter.currency(product), adapter.in_stock(product), adapter.image_url(product)


def test_changes_to_oscars_tables_name_the_browsable_product(catalogue):
    adapter = get_adapter()
    record = catalogue.children[0].stockrecords.get()
    assert adapter.changed_product_ids(record) == [catalogue.parent.pk]
    assert adapter.changed_product_ids(catalogue.children[1]) == [catalogue.parent.pk]
    image = catalogue.standalone[3].images.get()
    assert adapter.changed_product_ids(image) == [catalogue.standalone[3].pk]
    assert {m._meta.model_name for m in adapter.watched_models()} >= {
        "product",
        "productimage",
        "stockrecord",
        "productcategory",
    }


def test_category_keys_beside_the_vectors_select_what_the_category_filter_selects(catalogue):
    # A category index holds the products whose keys include the filter's key: for every
    # category of the tree (roots include their leaves) that must be what the filter keeps,
    # a product in two categories included in both.
    from oscar.core.loading import get_model

    get_model("catalogue", "ProductCategory").objects.create(
        product=catalogue.standalone[2], category=catalogue.categories["Shirts"]
    )
    adapter = get_adapter()
    listed = adapter.get_queryset()
    keys = dict(adapter.vector_categories(listed))
    assert set(keys) == pks(listed)
    for name in ("Clothing", "Shirts", "Trousers", "Books", "Fiction", "Cookery"):
        key = adapter.category_key(name.lower())
        assert key == catalogue.categories[name].path
        assert {pk for pk, held in keys.items() if key in held} == pks(adapter.category_filter(listed, name)), name
    assert catalogue.standalone[2].pk in pks(adapter.category_filter(listed, "Shirts"))
    assert adapter.category_key("No such category") is None
