"""ModelVersion.vector_index_type: the type of a version's HNSW indexes (vector or halfvec), so a
version keeps being searched through its own indexes when SHOPGUIDE["VECTOR_INDEX_TYPE"] changes
(issue 13). Versions that exist already were indexed as vector."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shopguide", "0009_related_list_membership"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="vector_index_type",
            field=models.CharField(blank=True, default="", max_length=8),
        ),
        migrations.RunSQL(
            "UPDATE shopguide_modelversion SET vector_index_type = 'vector'",
            migrations.RunSQL.noop,
        ),
    ]
