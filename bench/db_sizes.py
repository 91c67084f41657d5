"""The size of each of shopguide's tables and indexes (and the product table's) in a bench
database: what a catalogue of this many products costs on disk and in shared buffers.

    .venv/bin/python -m bench.db_sizes [--db shopguide_bench_serving]

``bench.serving`` prints the same table at the end of its run.
"""

from __future__ import annotations

import argparse


def relation_sizes(prefixes: tuple[str, ...] = ("shopguide_", "catalog_")) -> list[tuple[str, str, str, int, int]]:
    """(table, relation, kind, rows (estimated; 0 for an index), bytes) of every table whose name
    starts with one of ``prefixes`` and of each of its indexes, biggest table first."""
    from django.db import connection

    like = " OR ".join(["c.relname LIKE %s"] * len(prefixes))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.oid, c.reltuples::bigint, pg_table_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema() AND ({like})",
            [f"{prefix.replace('_', chr(92) + '_')}%" for prefix in prefixes],
        )
        tables = cursor.fetchall()
        rows = []
        for name, oid, estimate, size in tables:
            cursor.execute(
                "SELECT i.relname, am.amname, pg_relation_size(i.oid) FROM pg_index x "
                "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam "
                "WHERE x.indrelid = %s ORDER BY pg_relation_size(i.oid) DESC",
                [oid],
            )
            indexes = cursor.fetchall()
            total = size + sum(index_size for *_, index_size in indexes)
            rows.append((total, name, max(0, estimate), size, indexes))
    out = []
    for _, name, estimate, size, indexes in sorted(rows, key=lambda row: -row[0]):
        out.append((name, name, "table (with TOAST)", estimate, size))
        out.extend((name, index, f"index ({method})", 0, index_size) for index, method, index_size in indexes)
    return out


def print_sizes(title: str = "Database size per table and index", *, min_bytes: int = 2**20) -> int:
    """Print ``relation_sizes()`` as a table, relations under ``min_bytes`` summed in one line;
    returns the total bytes."""
    from django.db import connection

    sizes = relation_sizes()
    total = sum(size for *_, size in sizes)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        database = cursor.fetchone()[0]
    print(f"\n{title} (total of these {total / 2**20:,.0f} MiB; whole database {database / 2**20:,.0f} MiB)")
    print(f"{'relation':<52} {'kind':<20} {'rows':>12} {'MiB':>10}")
    small = [size for *_, size in sizes if size < min_bytes]
    for table, relation, kind, estimate, size in sizes:
        if size >= min_bytes:
            name = relation if relation == table else f"  {relation}"
            print(f"{name[:52]:<52} {kind:<20} {estimate or '':>12} {size / 2**20:>10,.1f}")
    if small:
        print(f"{f'{len(small)} smaller relations':<52} {'':<20} {'':>12} {sum(small) / 2**20:>10,.1f}")
    return total


def main() -> None:
    from bench.django_setup import setup_django
    from bench.serving import DB_NAME, bench_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default=DB_NAME, help="the bench database (the serving bench's by default)")
    args = parser.parse_args()
    if args.db == DB_NAME:
        bench_database(fresh=False)
    setup_django(args.db)
    print_sizes()


if __name__ == "__main__":
    main()
