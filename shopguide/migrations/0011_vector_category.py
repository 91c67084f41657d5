"""ProductVector.categories: the product's category keys beside its vectors, so that a partial
HNSW index per large category can be built (issue 13, filtered lists)."""

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shopguide", "0010_vector_index_type"),
    ]

    operations = [
        migrations.AddField(
            model_name="productvector",
            name="categories",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.TextField(), blank=True, null=True, size=None
            ),
        ),
    ]
