"""ModelVersion.list_depth: the depth a version's stored lists were built with, so that the reader
compares a list with it rather than with the current setting (issue 14)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("shopguide", "0006_view_customer_permission"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="list_depth",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
    ]
