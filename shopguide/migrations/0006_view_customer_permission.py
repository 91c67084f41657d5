"""The shopguide.view_customer permission: reading another customer's profile and recommendations
takes it (being staff no longer does)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("shopguide", "0005_shopper_list_reasons"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="interaction",
            options={
                "ordering": ["-ts"],
                "permissions": [("view_customer", "Can view any customer's profile and recommendations")],
            },
        ),
    ]
