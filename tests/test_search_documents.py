import pytest

from shopguide.models import SearchDocument
from shopguide.search_documents import fulltext_matches, refresh_search_documents, trigram_matches
from shopguide.services.incremental import embed_product
from shopguide.services.training import request_training, run_training
from tests.factories import make_articles
from tests.testapp.models import Article


@pytest.fixture
def articles(db):
    items = make_articles(6, with_images=False)
    Article.objects.filter(pk="A-0001").update(name="Waterproof hiking boots", summary="Leather, warm lining.")
    Article.objects.filter(pk="A-0002").update(name="Summer linen shirt", summary="Breathable, for hot days.")
    refresh_search_documents(Article.objects.all())
    return items


def test_fulltext_ranks_title_words_and_stems(articles):
    assert [pid for pid, _ in fulltext_matches("boot", limit=5)] == ["A-0001"]  # stemmed: boots -> boot
    assert [pid for pid, _ in fulltext_matches("breathable shirt", limit=5)] == ["A-0002"]
    assert fulltext_matches("nothing like this", limit=5) == []


def test_trigram_survives_typos(articles):
    assert trigram_matches("hikking bots", limit=3)[0][0] == "A-0001"


def test_hostile_queries_are_just_text(articles):
    for query in ["' OR 1=1 --", "a & | ! ( ) :*", "%%%", "<%"]:
        fulltext_matches(query, limit=5)
        trigram_matches(query, limit=5)


def test_documents_refresh_on_training_and_on_save(db):
    make_articles(6)
    assert run_training(request_training().pk).status == "succeeded"
    assert SearchDocument.objects.count() == 6
    Article.objects.filter(pk="A-0003").update(name="Velvet evening gown")
    embed_product("A-0003")
    assert SearchDocument.objects.get(product_id="A-0003").title == "Velvet evening gown"
    assert [pid for pid, _ in fulltext_matches("gown", limit=5)] == ["A-0003"]


def test_hybrid_search_finds_typos_fragments_and_attributes(db):
    from shopguide.selectors import search_products

    make_articles(30, with_images=False)
    names = {"A-0001": "Waterproof hiking boots", "A-0002": "Summer linen shirt", "A-0005": "Velvet evening gown"}
    for pk, name in names.items():  # saved: search documents follow at once
        article = Article.objects.get(pk=pk)
        article.name = name
        article.save()
    without_model = search_products(query="hiking boots", k=3)
    assert without_model.fallback is True and without_model.items[0].product.pk == "A-0001"
    assert run_training(request_training(options={"text_model": {"epochs": 8}}).pk).status == "succeeded"
    for query, expected in [("hikking boots", "A-0001"), ("linen", "A-0002"), ("evening gwon", "A-0005")]:
        result = search_products(query=query, k=5)
        assert result.source == "hybrid" and not result.fallback
        assert result.items[0].product.pk == expected, (query, [i.product.pk for i in result.items])
    assert len(search_products(query="pattern", k=8).items) == 8  # every summary says "pattern"
