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


# -- bounded candidate generation (issue 13): cost follows k, not the number of matches --------


def _rows_computing(function: str, call, *, settings=("enable_seqscan",)) -> list[int]:
    """Run ``call``; EXPLAIN ANALYZE the statement it ran and return the row counts of every plan
    node that computes ``function`` (in its output): how many rows the function was evaluated on.
    ``settings``: plan types turned off, as a large catalogue's costs would (on a few rows the
    planner rightly prefers to read them all)."""
    from django.db import connection

    statements = []

    def capture(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(f"SET LOCAL {setting} = off")
    with connection.execute_wrapper(capture):
        call()
    sql, params = statements[-1]
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else __import__("json").loads(plan)
    counts, nodes = [], [plan[0]["Plan"]]
    while nodes:
        node = nodes.pop()
        if any(function in item for item in node.get("Output", [])):
            counts.append(node["Actual Rows"] * node.get("Actual Loops", 1))
        nodes += node.get("Plans", [])
    return counts


@pytest.fixture
def many_wool(db):
    """40 articles whose text says "wool" (body only), one whose title does, created last (last
    in the table's order) and, by price, in the middle; a few out of stock."""
    make_articles(40, with_images=False, available=lambda i: i % 10 != 3)
    Article.objects.update(summary="Warm wool blend, wool lining.")
    Article.objects.filter(pk__in=["A-0005", "A-0006"]).update(summary="Cotton.")
    wanted = Article.objects.create(code="Z-WANT", name="Merino wool scarf", summary="Soft.", cost=30)
    refresh_search_documents(Article.objects.all())
    return wanted


def test_fulltext_ranks_a_bounded_set_and_keeps_the_title_match(many_wool, monkeypatch):
    from shopguide import search_documents

    monkeypatch.setattr(search_documents, "FULLTEXT_CANDIDATES", 5)
    ranked = _rows_computing("ts_rank_cd", lambda: fulltext_matches("wool", limit=3))
    assert ranked and max(ranked) <= 2 * 5  # before issue 13: every one of the 39 matches
    # The only title match is ranked although it is the last of 39 matches in the table's order.
    assert fulltext_matches("wool", limit=3)[0][0] == "Z-WANT"
    # Fewer matches than the bound: every match, ranked exactly.
    assert [pid for pid, _ in fulltext_matches("merino", limit=3)] == ["Z-WANT"]
    # A negated word is honoured even for title matches.
    assert "Z-WANT" not in [pid for pid, _ in fulltext_matches("wool -soft", limit=50)]


def test_fulltext_bound_counts_only_products_that_pass_the_filters(many_wool, monkeypatch):
    from shopguide import search_documents
    from shopguide.filters import ProductFilters
    from shopguide.vectors import pk_subquery_sql

    monkeypatch.setattr(search_documents, "FULLTEXT_CANDIDATES", 5)
    filters = pk_subquery_sql(ProductFilters(min_price=40, max_price=45).candidates())
    found = [pid for pid, _ in fulltext_matches("wool", limit=10, candidates_sql=filters)]
    # cost 10 + i: articles 30-35 are in the range, 33 is out of stock; all six in range say wool.
    assert sorted(found) == ["A-0030", "A-0031", "A-0032", "A-0034", "A-0035"]


def test_trigram_takes_a_bounded_set_for_one_word_and_finds_the_typo(many_wool, monkeypatch):
    from shopguide import search_documents

    monkeypatch.setattr(search_documents, "TRIGRAM_CANDIDATES", 3)
    Article.objects.update(name="Wool article")
    Article.objects.filter(pk="Z-WANT").update(name="Wool merino scarf")
    refresh_search_documents(Article.objects.all())
    ranked = _rows_computing(
        "word_similarity", lambda: trigram_matches("wool", limit=2), settings=("enable_seqscan", "enable_bitmapscan")
    )
    assert ranked and max(ranked) <= 3  # before issue 13: all 41 titles that hold "wool"
    assert len(trigram_matches("Wool", limit=2)) == 2  # case folded, as pg_trgm does
    # Every title holds "wool", the one wanted last in the table: a query of several words is
    # matched as a whole.
    assert trigram_matches("wool merrino scraf", limit=3)[0][0] == "Z-WANT"


def test_trigram_returns_full_k_under_filters(many_wool):
    from shopguide.filters import ProductFilters
    from shopguide.vectors import pk_subquery_sql

    Article.objects.update(name="Wool article")
    refresh_search_documents(Article.objects.all())
    assert len(trigram_matches("wool", limit=20)) == 20
    filters = pk_subquery_sql(ProductFilters(min_price=40, max_price=45).candidates())
    found = [pid for pid, _ in trigram_matches("wool", limit=20, candidates_sql=filters)]
    assert sorted(found) == ["A-0030", "A-0031", "A-0032", "A-0034", "A-0035"]


def test_search_products_keeps_filters_and_full_k_with_bounded_retrievers(many_wool, monkeypatch):
    from shopguide import search_documents
    from shopguide.filters import ProductFilters
    from shopguide.selectors import search_products

    # Bounds below what search asks each retriever for (SEARCH_CANDIDATES) never cut it short.
    monkeypatch.setattr(search_documents, "FULLTEXT_CANDIDATES", 5)
    monkeypatch.setattr(search_documents, "TRIGRAM_CANDIDATES", 5)
    result = search_products(query="wool", k=8)
    assert len(result.items) == 8 and result.items[0].product.pk == "Z-WANT"
    result = search_products(query="wool", k=8, filters=ProductFilters(min_price=40, max_price=45))
    assert sorted(item.product.pk for item in result.items) == ["A-0030", "A-0031", "A-0032", "A-0034", "A-0035"]
    result = search_products(query="wool", k=8, filters=ProductFilters(min_price=20, max_price=32))
    passing = {f"A-{i:04d}" for i in range(10, 23) if i != 13} | {"Z-WANT"}
    assert len(result.items) == 8 and {item.product.pk for item in result.items} <= passing
    assert result.items[0].product.pk == "Z-WANT"
