"""What a re-embedded product's list update costs, with and without fixing the lists that held it
(issue 13: stale entries), and what the index on list membership costs the bulk build.

    .venv/bin/python -m bench.reembed [--products 3000] [--repeats 25] [--fresh] [--before-ref main] [--copy]

Builds (once, then reuses) a bench database ``shopguide_bench_reembed_<products>`` on the
embedded PostgreSQL of the checkout (var/pgdata): products in 10 categories, synthetic clustered
64-d vectors for the image, text and behaviour spaces (``bench.serving.clustered_vectors``), their
HNSW indexes, and every product's related lists at the default depth (30), stored exactly as the
training's finish step stores them.

Then it re-embeds products one at a time the way the light queue does (new vectors written and
the product's lists stored in one transaction), each moved into another category's cluster: the
new vector of each space is another category's product's vector plus a little noise. It times
``store_product_lists`` alone (the vectors' write is the same on both sides), alternating:

* before: ``shopguide/services/stored_lists.py`` as it is at git ref ``--before-ref`` (read with
  ``git show`` into a module of its own; nothing is checked out): the product's own lists and its
  new neighbours' lists, nothing else;
* after: this checkout's, which also moves or drops the product's entry in every list that held it.

and prints the median, p90 and mean of each over ``--repeats`` re-embeds, and how many lists each
re-embed changed. Both run on the same database (the index on list membership exists for both:
the "before" code just does not use it). Alternating on different products keeps the machine's
drift out of the comparison.

``--copy`` also times the bulk build's COPY of every list of the version (delete + COPY in one
transaction, rolled back), with the index on list membership kept during the COPY (with GIN's
default pending list of 4 MB, and with 256 MB: fewer, larger merges), and with it dropped and
created again after, and prints the index's and the table's size. ``--repeats 0 --copy`` times
only that.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.django_setup import ROOT, setup_django

CATEGORY_NAMES = ("Shoes", "Bags", "Shirts", "Lamps", "Chairs", "Mugs", "Books", "Toys", "Hats", "Rugs")


def build_shop(n_products: int) -> None:
    """Products, vectors, HNSW indexes and related lists of one active version."""
    from django.db import connection

    from bench.serving import DIMS, SPACES, Timer, clustered_vectors
    from shopguide.models import ModelVersion
    from shopguide.services.stored_lists import build_related_lists
    from shopguide.services.versions import activate_version
    from shopguide.spaces import get_space
    from shopguide.vectors import ensure_hnsw_index, write_product_vectors
    from storefront.catalog.models import Category, Product

    rng = np.random.default_rng(0)
    step = Timer()
    categories = Category.objects.bulk_create([Category(name=n, slug=n.lower()) for n in CATEGORY_NAMES])
    category_of = rng.integers(0, len(categories), n_products)
    products = Product.objects.bulk_create(
        [
            Product(
                sku=f"RE-{i:06d}",
                title=f"{CATEGORY_NAMES[c]} {i}",
                description=f"A {CATEGORY_NAMES[c].lower()[:-1]}.",
                category=categories[c],
                price=10,
                in_stock=True,
            )
            for i, c in enumerate(category_of)
        ],
        batch_size=5000,
    )
    product_ids = [p.pk for p in products]
    version = ModelVersion.objects.create(
        status=ModelVersion.Status.BUILDING,
        dimensions=dict.fromkeys(SPACES, DIMS),
        config={"related_weights": {"image": 1.0, "text": 0.8, "behaviour": 0.6}, "bench": "reembed"},
        n_products=n_products,
    )
    for space in SPACES:
        vectors = clustered_vectors(rng, category_of, n_categories=len(categories), unit=space != "behaviour")
        for start in range(0, n_products, 20_000):
            write_product_vectors(
                version=version,
                space=space,
                product_ids=product_ids[start : start + 20_000],
                vectors=vectors[start : start + 20_000],
            )
    step.done(f"{n_products:,} products, {len(SPACES)} spaces of vectors")
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
    for space in SPACES:
        for metric in get_space(space).index_metrics:
            ensure_hnsw_index(version=version, space=space, dimensions=DIMS, metric=metric)
    step.done("HNSW indexes")
    written = build_related_lists(version)
    step.done(f"{written:,} related lists (exact)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.READY)
    activate_version(version=version)


def module_at(ref: str):
    """``shopguide.services.stored_lists`` as it is at git ref ``ref``, as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{ref}:shopguide/services/stored_lists.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "stored_lists_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("bench_stored_lists_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reembed_timings(version, modules: dict, *, repeats: int, seed: int) -> dict[str, list[tuple[float, int, int, int]]]:
    """Per module: (seconds of its store_product_lists, lists it changed, lists then wrong about
    the product: missing it, stale) for ``repeats`` products each, moved into another category's
    cluster, alternating between the modules."""
    from django.db import transaction

    from shopguide.vectors import read_product_vectors, write_product_vectors
    from storefront.catalog.models import Product

    if not modules:
        return {}
    rng = np.random.default_rng(seed)
    rows = list(Product.objects.order_by("pk").values_list("pk", "category_id"))
    spaces = {name: dict(zip(*read_product_vectors(version_id=version.pk, space=name))) for name in version.dimensions}
    out: dict[str, list[tuple[float, int, int, int]]] = {name: [] for name in modules}
    picks = rng.choice(len(rows), repeats * len(modules) + 1, replace=False)
    for i, pick in enumerate(picks[1:]):
        name = list(modules)[i % len(modules)]
        pk, category = rows[pick]
        while True:
            other, other_category = rows[rng.integers(len(rows))]
            if other_category != category:
                break
        with transaction.atomic():
            for space, vectors in spaces.items():
                moved = vectors[other] + 0.02 * rng.standard_normal(len(vectors[other])).astype(np.float32)
                write_product_vectors(version=version, space=space, product_ids=[pk], vectors=moved[None, :])
                vectors[pk] = moved
            started = time.perf_counter()
            changed = modules[name].store_product_lists(version, pk)
            seconds = time.perf_counter() - started
        out[name].append((seconds, changed, *wrong_lists(version, pk)))
    return out


def wrong_lists(version, pk) -> tuple[int, int]:
    """After ``pk`` was re-embedded, the lists that are now wrong about it, checked against its
    exact fused score with every product (all pairs, in SQL): (lists it should be in where it is
    missing or cut, lists that hold it with a score 1e-3 or more off its score now)."""
    from django.db import connection

    from shopguide.models import ProductVector, RelatedList
    from shopguide.services.stored_lists import list_depth, related_list_kinds

    weights = [(kind, space, w) for kind, spaces in related_list_kinds(version).items() for space, w in spaces.items()]
    values = ", ".join(["(%s, %s, %s::float8)"] * len(weights))
    vectors, lists = ProductVector._meta.db_table, RelatedList._meta.db_table
    bound = (
        "CASE WHEN cardinality(r.scores) > cardinality(r.product_ids) THEN r.scores[cardinality(r.scores)] "
        "WHEN cardinality(r.product_ids) >= %s THEN r.scores[cardinality(r.product_ids)] ELSE -1e9 END"
    )
    sql = f"""
        WITH w(kind, space, weight) AS (VALUES {values}),
        fused AS (
            SELECT b.product_id, w.kind, sum(w.weight * (1 - (a.embedding <=> b.embedding))) AS score
            FROM {vectors} a JOIN {vectors} b ON b.version_id = a.version_id AND b.space = a.space
                AND b.product_id <> a.product_id
            JOIN w ON w.space = a.space
            WHERE a.version_id = %s AND a.product_id = %s GROUP BY 1, 2
        )
        SELECT
            count(*) FILTER (WHERE NOT r.product_ids @> ARRAY[%s]::text[] AND f.score > {bound} + 1e-4),
            count(*) FILTER (WHERE r.product_ids @> ARRAY[%s]::text[]
                AND abs(r.scores[array_position(r.product_ids, %s)] - f.score) > 1e-3)
        FROM fused f JOIN {lists} r ON r.version_id = %s AND r.product_id = f.product_id AND r.space = f.kind
    """
    me = str(pk)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [x for row in weights for x in row] + [version.pk, pk, me, list_depth(version), me, me, version.pk],
        )
        return cursor.fetchone()


def copy_timings(version) -> dict[str, float]:
    """Seconds of the bulk build's COPY of every list of ``version``, with the membership index
    kept, and with it dropped before and created after; and the index's size in MB. Each in a
    transaction rolled back, so the stored lists stay as they are."""
    from django.db import connection, transaction

    from shopguide.models import RelatedList
    from shopguide.services.stored_lists import _copy_related

    columns = ("space", "product_id", "product_ids", "scores", "reasons")
    lists = list(RelatedList.objects.filter(version=version).values_list(*columns))
    by_kind: dict[str, list] = {}
    for kind, *row in lists:
        by_kind.setdefault(kind, []).append(row)
    table = RelatedList._meta.db_table
    index = "shopguide_related_members"  # migration 0009_related_list_membership
    out = {}
    print(f"COPY of {len(lists):,} lists (delete + COPY, rolled back):", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s) / 1e6", [index])
        out["index MB"] = cursor.fetchone()[0]
        cursor.execute("SELECT pg_relation_size(%s) / 1e6", [table])
        out["table MB"] = cursor.fetchone()[0]
    for variant in ("index kept", "index kept, pending list 256MB", "index dropped + created"):

        class Rollback(Exception):
            pass

        try:
            with transaction.atomic():
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    cursor.execute(f"DELETE FROM {table} WHERE version_id = %s", [version.pk])
                    if variant == "index kept, pending list 256MB":  # GIN's fast-update list, merged less often
                        cursor.execute("SET LOCAL gin_pending_list_limit = '256MB'")
                    if variant == "index dropped + created":
                        cursor.execute(f"DROP INDEX {index}")
                for kind, rows in by_kind.items():
                    _copy_related(version, kind, iter(rows))
                copied = time.perf_counter()
                if variant == "index dropped + created":
                    with connection.cursor() as cursor:
                        # The DELETE's deferred foreign-key checks must fire before an index is built.
                        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                        cursor.execute(f"CREATE INDEX {index} ON {table} USING gin (product_ids array_ops)")
                total = time.perf_counter() - started
                out[f"{variant}: COPY s"], out[f"{variant}: total s"] = copied - started, total
                print(f"  {variant}: COPY {copied - started:.1f} s, total {total:.1f} s", flush=True)
                raise Rollback
        except Rollback:
            pass
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the bench database")
    parser.add_argument("--before-ref", default="main", help="git ref of the 'before' stored_lists.py")
    parser.add_argument("--copy", action="store_true", help="also time the bulk COPY with and without the index")
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    setup_django(f"shopguide_bench_reembed_{args.products}", fresh=args.fresh)

    from shopguide.selectors.versions import active_version
    from shopguide.services import stored_lists
    from shopguide.services.stored_lists import list_depth

    version = active_version()
    if version is None:
        print(f"Building the bench shop ({args.products:,} products) ...", flush=True)
        build_shop(args.products)
        version = active_version()
    if args.build_only:
        return
    modules = {f"before ({args.before_ref})": module_at(args.before_ref), "after (this checkout)": stored_lists}
    if not args.repeats:  # --copy alone
        modules = {}
    print(f"{args.products:,} products, depth {list_depth(version)}, {args.repeats} re-embeds each, alternating")
    timings = reembed_timings(version, modules, repeats=args.repeats, seed=args.seed)
    print(
        f"{'store_product_lists':<26} {'median ms':>10} {'p90 ms':>8} {'mean ms':>8} {'lists changed':>14} "
        f"{'wrong after: missing':>21} {'stale':>6}"
    )
    print(f"{'':<56} {'(median)':>14} {'(mean over re-embeds)':>21} {'(mean)':>6}")
    for name, runs in timings.items() if args.repeats else ():
        ms = sorted(run[0] * 1e3 for run in runs)
        print(
            f"{name:<26} {statistics.median(ms):>10.1f} {ms[int(0.9 * (len(ms) - 1))]:>8.1f} "
            f"{statistics.mean(ms):>8.1f} {statistics.median(run[1] for run in runs):>14} "
            f"{statistics.mean(run[2] for run in runs):>21.1f} {statistics.mean(run[3] for run in runs):>6.1f}"
        )
    from shopguide.services.stored_lists import lists_holding, related_list_kinds

    holding = lists_holding(
        version, str(version.related_lists.first().product_id), kinds=list(related_list_kinds(version))
    )
    print("plan of 'the lists that hold a product':\n  " + holding.explain(analyze=True).replace("\n", "\n  "))
    if args.copy:
        sizes = copy_timings(version)
        print(f"  membership index {sizes['index MB']:.0f} MB, lists table {sizes['table MB']:.0f} MB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
