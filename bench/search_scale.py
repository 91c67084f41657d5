"""Search latency as the catalogue grows: each lexical retriever's SQL and ``search_products`` end
to end, today's bounded SQL beside the old SQL that ranked every match, in the same run.

    .venv/bin/python -m bench.search_scale [--products 100000 1000000] [--queries 40] [--fresh]

Each size gets its own database (``shopguide_bench_search_<N>``) on the serving bench's embedded
PostgreSQL (var/bench/serving-pgdata, shared_buffers 1 GB; or DATABASE_URL's server), built once
and reused (``--fresh`` rebuilds). Building is COPY and SQL only, no model saves: products and
their search documents, the documents' vectors computed in PostgreSQL as
``refresh_search_documents`` computes them, then every index of the search-document table built
afresh (build time of each printed).

The catalogue: 40 categories of very different sizes (Zipf, exponent 1.3: the largest holds about
a third of the products, the smallest 0.3 %); titles are a category noun plus 2-4 words and
descriptions 12-30 words, drawn from a 30,000-word pseudo-word vocabulary with Zipf-Mandelbrot
frequencies (the commonest word is in about a fifth of the titles and most descriptions, as
"black" or "cotton" are in a clothes shop); 5 % out of stock; prices 5-500.

Query kinds (``--queries`` each, seeded): one common word (the 1st-5th commonest), one mid-frequency
word (rank 50-200), a 2-word fragment of a title, a whole title (known item), a title with 1-2
typos (known item), and a common word under filters (a 1 % category, a 30 % category, a price
range). Each query runs old and new back to back, warm (every query once before timing). No text
model: ``search_products`` runs its lexical fallback (the model's HNSW search is bounded by k
already and unchanged). Columns: median full-text and trigram matches of the kind's queries
(counted, not timed), p50/p99 ms old and new, and how far new agrees with old: the overlap of the
top 8 and, for known-item kinds, MRR@8 of the wanted product old/new.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.django_setup import ROOT, setup_django

K = 8
N_CATEGORIES = 40
VOCABULARY = 30_000
SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in ("a", "e", "i", "o", "u", "ai", "ou")]
TYPO_LETTERS = "abcdefghiklmnoprstuvz"


def db_name(n: int) -> str:
    return f"shopguide_bench_search_{n}"


# --------------------------------------------------------------------------- the catalogue


def vocabulary(rng: random.Random) -> list[str]:
    """Distinct pronounceable pseudo-words of 2-4 syllables (no English stop word or stem clash
    matters: they are all distinct after stemming often enough for a bench)."""
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        words["".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3, 4))))] = None
    return list(words)


def zipf_probabilities(n: int, exponent: float, offset: float) -> np.ndarray:
    weights = 1.0 / (np.arange(1, n + 1) + offset) ** exponent
    return weights / weights.sum()


def generate(n: int, seed: int = 0) -> tuple[list[str], list[list[str]], dict]:
    """Category names, and per product [title, description, category index, price, in stock]."""
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    words = vocabulary(rng)
    nouns = [[w + "en" for w in rng.sample(words[2000:], 3)] for _ in range(N_CATEGORIES)]
    categories = [f"Category {i:02d} {nouns[i][0]}" for i in range(N_CATEGORIES)]
    category_of = nprng.choice(N_CATEGORIES, n, p=zipf_probabilities(N_CATEGORIES, 1.3, 0.0))
    word_p = zipf_probabilities(VOCABULARY, 1.05, 5.0)
    title_lengths = nprng.integers(2, 5, n)
    text_lengths = nprng.integers(12, 31, n)
    title_words = nprng.choice(VOCABULARY, int(title_lengths.sum()), p=word_p)
    text_words = nprng.choice(VOCABULARY, int(text_lengths.sum()), p=word_p)
    noun_of = nprng.integers(0, 3, n)
    prices = np.round(nprng.uniform(5, 500, n), 2)
    in_stock = nprng.random(n) > 0.05
    rows = []
    t = d = 0
    for i in range(n):
        c = int(category_of[i])
        title = " ".join([*(words[j] for j in title_words[t : t + title_lengths[i]]), nouns[c][noun_of[i]]])
        t += title_lengths[i]
        description = " ".join(words[j] for j in text_words[d : d + text_lengths[i]]) + "."
        d += text_lengths[i]
        rows.append([title.capitalize(), description.capitalize(), c, float(prices[i]), bool(in_stock[i])])
    sizes = np.bincount(category_of, minlength=N_CATEGORIES)
    return categories, rows, {"words": words, "category_sizes": sizes.tolist()}


def build(n: int) -> None:
    """Products and search documents by COPY and SQL, then the search indexes built afresh."""
    from django.db import connection

    from shopguide.conf import shopguide_settings
    from shopguide.search_documents import TABLE

    started = time.monotonic()
    categories, rows, _ = generate(n)
    print(f"  generated {n:,} products in {time.monotonic() - started:.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for i, name in enumerate(categories):
            cursor.execute(
                "INSERT INTO catalog_category (id, name, slug) VALUES (%s, %s, %s)", [i + 1, name, f"c{i:02d}"]
            )
        step = time.monotonic()
        with cursor.cursor.copy(
            "COPY catalog_product (id, sku, title, description, category_id, price, image, in_stock, created_at) "
            "FROM STDIN"
        ) as copy:
            for i, (title, description, c, price, stock) in enumerate(rows):
                copy.write_row((i + 1, f"SS-{i:07d}", title, description, c + 1, price, "", stock, "2026-01-01"))
        print(f"  products COPY: {time.monotonic() - step:.0f} s", flush=True)
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname <> %s",
            [TABLE, f"{TABLE}_pkey"],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        step = time.monotonic()
        # What refresh_search_documents writes: title, the adapter's text (title, description,
        # category), the weighted vector.
        config = shopguide_settings.SEARCH_CONFIG
        cursor.execute(
            f"INSERT INTO {TABLE} (product_id, title, text, updated_at, document) "
            "SELECT p.id, left(p.title, 500), d.text, now(), "
            "setweight(to_tsvector(%s::regconfig, left(p.title, 500)), 'A') "
            "|| setweight(to_tsvector(%s::regconfig, d.text), 'B') "
            "FROM catalog_product p JOIN catalog_category c ON c.id = p.category_id, "
            "LATERAL (SELECT p.title || E'\\n' || p.description || E'\\n' || c.name AS text) d",
            [config, config],
        )
        print(f"  search documents (to_tsvector in SQL): {time.monotonic() - step:.0f} s", flush=True)
        for name, definition in indexes:
            step = time.monotonic()
            cursor.execute(definition)
            print(f"  index {name}: built in {time.monotonic() - step:.1f} s", flush=True)
        cursor.execute("SELECT setval(pg_get_serial_sequence('catalog_product', 'id'), %s)", [n])
        cursor.execute("VACUUM ANALYZE") if connection.get_autocommit() else cursor.execute("ANALYZE")
        print(f"  built in {time.monotonic() - started:.0f} s", flush=True)


def index_sizes() -> list[tuple[str, str]]:
    from django.db import connection

    from shopguide.search_documents import TABLE

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelname, pg_size_pretty(pg_relation_size(indexrelid)) FROM pg_stat_user_indexes "
            "WHERE relname = %s ORDER BY indexrelname",
            [TABLE],
        )
        return cursor.fetchall()


# --------------------------------------------------------------------------- the old SQL


def old_fulltext_matches(
    query: str, *, limit: int, candidates_sql: tuple[str, Sequence[Any]] | None = None
) -> list[tuple[Any, float]]:
    """The full-text retriever before issue 13: ts_rank_cd of every match, sorted."""
    from django.db import connection

    from shopguide.conf import shopguide_settings
    from shopguide.search_documents import TABLE

    where, params = _old_restriction(candidates_sql)
    sql = (
        f"SELECT product_id, ts_rank_cd(document, q, 32) AS rank "
        f"FROM {TABLE}, websearch_to_tsquery(%s::regconfig, %s) q WHERE document @@ q{where} "
        f"ORDER BY rank DESC, product_id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [shopguide_settings.SEARCH_CONFIG, query, *params, limit])
        return [(pid, float(rank)) for pid, rank in cursor.fetchall()]


def old_trigram_matches(
    query: str, *, limit: int, candidates_sql: tuple[str, Sequence[Any]] | None = None
) -> list[tuple[Any, float]]:
    """The trigram retriever before issue 13: word_similarity of every ``<%`` match, sorted."""
    from django.db import connection

    from shopguide.search_documents import TABLE

    where, params = _old_restriction(candidates_sql)
    sql = (
        f"SELECT product_id, word_similarity(%s, title) AS sim FROM {TABLE} "
        f"WHERE %s <%% title{where} ORDER BY sim DESC, product_id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [query, query, *params, limit])
        return [(pid, float(sim)) for pid, sim in cursor.fetchall()]


def _old_restriction(candidates_sql):
    if not candidates_sql:
        return "", []
    return f" AND product_id IN ({candidates_sql[0]})", list(candidates_sql[1])


def old_search(**kwargs):
    """``search_products`` with the old retrievers (it imports them from the module at each call)."""
    import shopguide.search_documents as documents
    from shopguide.selectors import search_products

    saved = documents.fulltext_matches, documents.trigram_matches
    documents.fulltext_matches, documents.trigram_matches = old_fulltext_matches, old_trigram_matches
    try:
        return search_products(**kwargs)
    finally:
        documents.fulltext_matches, documents.trigram_matches = saved


# --------------------------------------------------------------------------- the queries


def typo(title: str, rng: random.Random) -> str:
    letters = list(title.lower())
    for _ in range(rng.choice((1, 2))):
        i = rng.randrange(len(letters))
        while letters[i] == " ":
            i = rng.randrange(len(letters))
        op = rng.choice(("swap", "drop", "replace"))
        if op == "swap" and i + 1 < len(letters) and letters[i + 1] != " ":
            letters[i], letters[i + 1] = letters[i + 1], letters[i]
        elif op == "drop":
            del letters[i]
        else:
            letters[i] = rng.choice(TYPO_LETTERS)
    return "".join(letters)


def make_queries(n: int, count: int, seed: int) -> dict[str, list[tuple[str, dict, int | None]]]:
    """kind -> [(query, filters, wanted product id or None)]."""
    from django.db.models import Count

    from storefront.catalog.models import Product

    rng = random.Random(seed)
    _, _, info = generate(0)  # the vocabulary only (same seed as the build)
    words = info["words"]
    counted = Product.objects.values("category__slug").order_by().annotate(size=Count("pk"))
    sizes = dict(counted.values_list("category__slug", "size"))
    small = min(sizes, key=lambda s: abs(sizes[s] / n - 0.01))
    large = min(sizes, key=lambda s: abs(sizes[s] / n - 0.30))
    sample = list(Product.objects.filter(pk__in=rng.sample(range(1, n + 1), 3 * count)).values_list("pk", "title"))
    rng.shuffle(sample)
    kinds: dict[str, list[tuple[str, dict, int | None]]] = {
        "one common word": [(words[rng.randrange(5)], {}, None) for _ in range(count)],
        "one mid word (rank 50-200)": [(words[rng.randrange(50, 200)], {}, None) for _ in range(count)],
        "2-word fragment": [],
        "whole title (known item)": [],
        "title, 1-2 typos (known item)": [],
        f"common word, category {100 * sizes[small] / n:.1f} %": [
            (words[rng.randrange(5)], {"category": small}, None) for _ in range(count)
        ],
        f"common word, category {100 * sizes[large] / n:.0f} %": [
            (words[rng.randrange(5)], {"category": large}, None) for _ in range(count)
        ],
        "common word, price 100-120": [
            (words[rng.randrange(5)], {"min_price": 100, "max_price": 120}, None) for _ in range(count)
        ],
    }
    for _, title in sample[:count]:
        parts = title.lower().split()
        start = rng.randrange(len(parts) - 1)
        kinds["2-word fragment"].append((" ".join(parts[start : start + 2]), {}, None))
    for pk, title in sample[count : 2 * count]:
        kinds["whole title (known item)"].append((title.lower(), {}, pk))
    for pk, title in sample[2 * count :]:
        kinds["title, 1-2 typos (known item)"].append((typo(title, rng), {}, pk))
    return kinds


def count_matches(query: str) -> tuple[int, int]:
    from django.db import connection

    from shopguide.conf import shopguide_settings
    from shopguide.search_documents import TABLE

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM {TABLE} WHERE document @@ websearch_to_tsquery(%s::regconfig, %s)",
            [shopguide_settings.SEARCH_CONFIG, query],
        )
        fulltext = cursor.fetchone()[0]
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE %s <%% title", [query])
        trigram = cursor.fetchone()[0]
    return fulltext, trigram


# --------------------------------------------------------------------------- measuring


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return 1000 * (time.perf_counter() - started), result


def measure(n: int, count: int, seed: int) -> list[dict]:
    from shopguide import search_documents
    from shopguide.filters import ProductFilters
    from shopguide.selectors import search_products
    from shopguide.selectors.search import SEARCH_CANDIDATES
    from shopguide.vectors import pk_subquery_sql

    rows = []
    for kind, queries in make_queries(n, count, seed).items():
        row: dict[str, Any] = {"kind": kind, "n": n, "queries": len(queries)}
        matches = [count_matches(q) for q, _, _ in queries]
        row["fulltext matches"] = statistics.median(m[0] for m in matches)
        row["trigram matches"] = statistics.median(m[1] for m in matches)
        steps = {
            "fulltext": (old_fulltext_matches, search_documents.fulltext_matches),
            "trigram": (old_trigram_matches, search_documents.trigram_matches),
        }
        ms: dict[str, list[float]] = {}
        overlaps, ranks_old, ranks_new, short = [], [], [], 0
        for warm in (True, False):
            for query, filter_args, wanted in queries:
                filters = ProductFilters(**filter_args)
                candidates = pk_subquery_sql(filters.candidates())
                for name, (old, new) in steps.items():
                    for label, retriever in (("old", old), ("new", new)):
                        took, _ = timed(
                            functools.partial(retriever, query, limit=SEARCH_CANDIDATES, candidates_sql=candidates)
                        )
                        ms.setdefault(f"{name} {label}", []).append(took)
                took_old, result_old = timed(functools.partial(old_search, query=query, k=K, filters=filters))
                took_new, result_new = timed(functools.partial(search_products, query=query, k=K, filters=filters))
                if warm:
                    continue
                ms.setdefault("search old", []).append(took_old)
                ms.setdefault("search new", []).append(took_new)
                ids_old = [item.product.pk for item in result_old.items]
                ids_new = [item.product.pk for item in result_new.items]
                short += len(ids_new) < min(K, len(ids_old))
                overlaps.append(len(set(ids_old) & set(ids_new)) / max(1, len(ids_old)))
                if wanted is not None:
                    ranks_old.append(1 / (ids_old.index(wanted) + 1) if wanted in ids_old else 0.0)
                    ranks_new.append(1 / (ids_new.index(wanted) + 1) if wanted in ids_new else 0.0)
            if warm:
                ms.clear()
        for name, values in ms.items():
            row[f"{name} p50"] = float(np.percentile(values, 50))
            row[f"{name} p99"] = float(np.percentile(values, 99))
        row["overlap@8"] = statistics.mean(overlaps)
        row["short"] = short
        if ranks_old:
            row["mrr old"], row["mrr new"] = statistics.mean(ranks_old), statistics.mean(ranks_new)
        rows.append(row)
        print(f"  measured: {kind}", file=sys.stderr, flush=True)
    return rows


def _cell(row: dict, name: str) -> str:
    return f"{row[f'{name} p50']:6.1f}/{row[f'{name} p99']:6.1f}"


def print_table(rows: list[dict], builds: dict[int, dict]) -> None:
    for n, info in builds.items():
        print(f"\nN = {n:,}: search-document indexes: {', '.join(f'{a} {b}' for a, b in info['index_sizes'])}")
    header = (
        f"{'query kind':34} {'N':>9} {'FTS m.':>7} {'trgm m.':>7} | "
        f"{'FTS old':>13} {'FTS new':>13} | {'trgm old':>13} {'trgm new':>13} | "
        f"{'search old':>13} {'search new':>13} | {'top-8 ov.':>9} {'MRR old/new':>11}"
    )
    print("\nms: p50/p99 per call, warm; old = every match ranked (before issue 13), new = bounded")
    print(header)
    print("-" * len(header))
    for row in rows:
        cell = functools.partial(_cell, row)

        mrr = f"{row['mrr old']:.3f}/{row['mrr new']:.3f}" if "mrr old" in row else ""
        print(
            f"{row['kind'][:34]:34} {row['n']:>9,} {row['fulltext matches']:>7.0f} {row['trigram matches']:>7.0f} | "
            f"{cell('fulltext old')} {cell('fulltext new')} | {cell('trigram old')} {cell('trigram new')} | "
            f"{cell('search old')} {cell('search new')} | {row['overlap@8']:>9.2f} {mrr:>11}"
            + (f"  SHORT x{row['short']}" if row["short"] else "")
        )


def run_one(n: int, args: argparse.Namespace) -> dict:
    """Build (once) and measure the database of size ``n``; in this process."""
    from bench.serving import bench_database

    bench_database(args.fresh, db_name(n))
    setup_django(db_name(n))
    from storefront.catalog.models import Product

    existing = Product.objects.count()
    if existing not in (0, n):
        raise SystemExit(f"{db_name(n)} holds {existing:,} products, not {n:,}: rerun with --fresh.")
    if existing == 0:
        print(f"Building {db_name(n)} ({n:,} products) ...", flush=True)
        build(n)
    return {"rows": measure(n, args.queries, args.seed), "index_sizes": index_sizes()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, nargs="+", default=[100_000])
    parser.add_argument("--queries", type=int, default=40, help="queries per kind")
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the databases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help=argparse.SUPPRESS)  # one size, in a child process
    args = parser.parse_args()
    if args.json:
        with open(args.json, "w") as out:
            json.dump(run_one(args.products[0], args), out)
        return
    rows, builds = [], {}
    for n in args.products:  # one process per size: Django holds one database
        path = ROOT / "var" / "bench" / f"search-scale-{n}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "bench.search_scale", "--products", str(n), "--json", str(path)]
        command += ["--queries", str(args.queries), "--seed", str(args.seed)] + (["--fresh"] if args.fresh else [])
        subprocess.run(command, check=True, cwd=ROOT, env={**os.environ})
        result = json.loads(path.read_text())
        rows += result["rows"]
        builds[n] = result
    print_table(rows, builds)


if __name__ == "__main__":
    main()
