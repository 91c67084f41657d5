"""Stored recommendations keep the reason they show ("because you viewed <title>") instead of the
event type it was worded from, so serving a stored list reads no product but the listed ones.

Stored shopper lists are derived data: the ones stored before this migration are deleted (they
have no reasons). Until a shopper's next event or the next training stores theirs again, their
recommendations are computed live, as for any shopper without a stored list."""

import django.contrib.postgres.fields
from django.db import migrations, models


def delete_stored_shopper_lists(apps, schema_editor):
    apps.get_model("shopguide", "ShopperList").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("shopguide", "0004_stored_lists"),
    ]

    operations = [
        migrations.RunPython(delete_stored_shopper_lists, migrations.RunPython.noop, elidable=True),
        migrations.RemoveField(
            model_name="shopperlist",
            name="because_types",
        ),
        migrations.AddField(
            model_name="shopperlist",
            name="reasons",
            field=django.contrib.postgres.fields.ArrayField(base_field=models.TextField(), default=list, size=None),
        ),
        # Unapplied, the lists go first too: the restored column has no value for them.
        migrations.RunPython(migrations.RunPython.noop, delete_stored_shopper_lists, elidable=True),
    ]
