"""A GIN index on RelatedList.product_ids: "which lists hold product X" is an index lookup, so a
re-embedded product's entry is moved or dropped in every list that held it (issue 13)."""

import django.contrib.postgres.indexes
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("shopguide", "0008_search_candidate_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="relatedlist",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["product_ids"], name="shopguide_related_members", opclasses=["array_ops"]
            ),
        ),
    ]
