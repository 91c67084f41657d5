import pytest

from shopguide.incremental import embed_product
from shopguide.models import SearchDocument
from shopguide.search_documents import fulltext_matches, refresh_search_documents, trigram_matches
from shopguide.training import request_training, run_training
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
