"""django-oscar history into shopguide at a shop's scale: the backfill, its re-run, and Oscar's
ProductRecommendation rows written from stored related lists.

    .venv/bin/python -m bench.oscar_history [--views 200000] [--orders 20000] [--fresh]

A bench database ``shopguide_bench_oscar`` on the embedded PostgreSQL, with the Oscar test host's
settings (tests/oscar/settings.py): 5,000 products (a tenth of them parents with two children),
2,000 customers, ``--views`` UserProductView rows, ``--orders`` orders of one or two lines (a
quarter by guests), a basket line and a search per customer, all bulk-inserted as Oscar's tables
would hold them. Prints the rows read, events stored, wall time and rows per second of the first
backfill and of the re-run (which must store nothing), then the time to write ProductRecommendation
rows for every product from a version's stored lists (30 items each, 8 written per product).
Nothing is tuned on these figures; one run each (machine load varies: repeat to see the spread).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_NAME = "shopguide_bench_oscar"
N_PRODUCTS, N_USERS = 5000, 2000


def setup(fresh: bool) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["SHOPGUIDE_OSCAR_DB"] = DB_NAME
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.oscar.settings"
    if fresh:
        import psycopg

        from storefront import embedded_db

        server = embedded_db.start(ROOT / "var" / "test-pgdata")
        with psycopg.connect(server.database_url("postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def seed(n_views: int, n_orders: int) -> None:
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from oscar.core.loading import get_model

    Product, ProductClass = get_model("catalogue", "Product"), get_model("catalogue", "ProductClass")
    if Product.objects.exists():
        return
    rng = random.Random(0)
    kind = ProductClass.objects.create(name="Goods")
    products = Product.objects.bulk_create(
        [
            Product(
                product_class=kind,
                title=f"Product {i}",
                upc=f"B-{i}",
                slug=f"p-{i}",
                structure=Product.PARENT if i % 10 == 0 else Product.STANDALONE,
            )
            for i in range(N_PRODUCTS)
        ],
        batch_size=2000,
    )
    children = Product.objects.bulk_create(
        [
            Product(parent=p, structure=Product.CHILD, upc=f"{p.upc}-{s}", slug=f"{p.slug}-{s}")
            for p in products
            if p.structure == Product.PARENT
            for s in "SM"
        ],
        batch_size=2000,
    )
    buyable = [p for p in products if p.structure != Product.PARENT] + children
    Partner, StockRecord = get_model("partner", "Partner"), get_model("partner", "StockRecord")
    partner = Partner.objects.create(name="Warehouse")
    records = {
        r.product_id: r
        for r in StockRecord.objects.bulk_create(
            [
                StockRecord(product=p, partner=partner, partner_sku=p.upc, price=Decimal(10), num_in_stock=5)
                for p in buyable
            ],
            batch_size=2000,
        )
    }
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"u{i}", email=f"u{i}@example.com") for i in range(N_USERS)])
    start = timezone.now() - dt.timedelta(days=365)
    when = lambda: start + dt.timedelta(seconds=rng.randrange(365 * 86400))  # noqa: E731

    UserProductView = get_model("analytics", "UserProductView")
    views = UserProductView.objects.bulk_create(
        [UserProductView(user=rng.choice(users), product=rng.choice(products + children)) for _ in range(n_views)],
        batch_size=5000,
    )
    UserProductView.objects.filter(pk__in=[v.pk for v in views[: n_views // 2]]).update(date_created=start)
    get_model("analytics", "UserSearch").objects.bulk_create(
        [get_model("analytics", "UserSearch")(user=u, query=f"query {rng.randrange(500)}") for u in users]
    )
    Basket, BasketLine = get_model("basket", "Basket"), get_model("basket", "Line")
    baskets = Basket.objects.bulk_create([Basket(owner=u) for u in users])
    BasketLine.objects.bulk_create(
        [
            BasketLine(
                basket=b,
                product=p,
                stockrecord=records[p.pk],
                line_reference=f"r{b.pk}",
                quantity=1,
                price_currency="EUR",
            )
            for b, p in ((b, rng.choice(buyable)) for b in baskets)
        ]
    )
    Order, OrderLine = get_model("order", "Order"), get_model("order", "Line")
    orders = Order.objects.bulk_create(
        [
            Order(
                number=f"N{i}",
                user=None if i % 4 == 0 else rng.choice(users),
                guest_email=f"g{i % 500}@example.com" if i % 4 == 0 else "",
                currency="EUR",
                total_incl_tax=Decimal(10),
                total_excl_tax=Decimal(10),
                shipping_incl_tax=0,
                shipping_excl_tax=0,
                date_placed=when(),
            )
            for i in range(n_orders)
        ],
        batch_size=5000,
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=o,
                product=rng.choice(buyable),
                partner_name="W",
                partner_sku="S",
                title="t",
                quantity=1,
                num_allocated=0,
                line_price_incl_tax=Decimal(10),
                line_price_excl_tax=Decimal(10),
                line_price_before_discounts_incl_tax=Decimal(10),
                line_price_before_discounts_excl_tax=Decimal(10),
            )
            for o in orders
            for _ in range(1 + (o.pk % 2))
        ],
        batch_size=5000,
    )


def timed_backfill() -> tuple[float, object, int]:
    from shopguide.contrib.oscar.history import backfill_oscar_history

    read = 0

    def count(n: int) -> None:
        nonlocal read
        read += n

    started = time.perf_counter()
    report = backfill_oscar_history(progress=count)
    return time.perf_counter() - started, report, read


def timed_recommendations() -> tuple[float, int]:
    from shopguide.adapter import get_adapter
    from shopguide.contrib.oscar.recommendations import write_product_recommendations
    from shopguide.models import ModelVersion, RelatedList

    ids = list(get_adapter().get_queryset().values_list("pk", flat=True))
    version = ModelVersion.objects.create(status=ModelVersion.Status.READY)
    rng = random.Random(1)
    RelatedList.objects.bulk_create(
        [
            RelatedList(
                version=version,
                product_id=pk,
                space="",
                product_ids=[str(x) for x in rng.sample(ids, 30)],
                scores=[1.0] * 30,
                reasons=[0] * 30,
            )
            for pk in ids
        ],
        batch_size=2000,
    )
    started = time.perf_counter()
    written = write_product_recommendations(version=version, limit=8)
    seconds = time.perf_counter() - started
    version.delete()
    return seconds, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--views", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--fresh", action="store_true", help="drop the bench database first")
    args = parser.parse_args()
    setup(args.fresh)
    seed(args.views, args.orders)
    from shopguide.models import Interaction

    Interaction.objects.all().delete()  # each run measures a first backfill
    print(f"{'run':<10} {'Oscar rows':>11} {'stored':>9} {'present':>9} {'seconds':>8} {'rows/s':>8}")
    for run in ("first", "re-run"):
        seconds, report, read = timed_backfill()
        present = sum(report.present.values())
        print(f"{run:<10} {read:>11,} {report.total:>9,} {present:>9,} {seconds:>8.1f} {read / seconds:>8,.0f}")
    seconds, written = timed_recommendations()
    print(f"\nProductRecommendation: {written:,} rows (8 per product with a stored list of 30) in {seconds:.1f} s")


if __name__ == "__main__":
    main()
