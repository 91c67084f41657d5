"""Search that does not rank every match (issue 13): the title's lexemes stored beside the search
document (a generated column, GIN-indexed) and a GiST trigram index on the lower-cased title for ordered
word-similarity scans. At 100,000 products: the column is computed while the table is rewritten
(a few seconds), the GIN index builds in about 1 s and the GiST index in about 4 s."""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shopguide", "0007_version_list_depth"),
    ]

    operations = [
        migrations.AddField(
            model_name="searchdocument",
            name="title_document",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Func(models.F("document"), models.Value("{a}"), function="ts_filter"),
                output_field=django.contrib.postgres.search.SearchVectorField(null=True),
            ),
        ),
        migrations.AddIndex(
            model_name="searchdocument",
            index=django.contrib.postgres.indexes.GinIndex(
                fields=["title_document"], name="shopguide_searchdoc_title_fts"
            ),
        ),
        # Django renders an expression with an operator class without the parentheses
        # PostgreSQL wants ("(lower(title)) gist_trgm_ops"): the SQL is written out.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    'CREATE INDEX "shopguide_searchdoc_trgm_knn" ON "shopguide_searchdocument" '
                    'USING gist ((lower("title")) gist_trgm_ops)',
                    'DROP INDEX "shopguide_searchdoc_trgm_knn"',
                )
            ],
            state_operations=[
                migrations.AddIndex(
                    model_name="searchdocument",
                    index=django.contrib.postgres.indexes.GistIndex(
                        django.contrib.postgres.indexes.OpClass(
                            django.db.models.functions.text.Lower("title"), name="gist_trgm_ops"
                        ),
                        name="shopguide_searchdoc_trgm_knn",
                    ),
                )
            ],
        ),
    ]
