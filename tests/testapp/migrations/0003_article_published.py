from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("testapp", "0002_image_validator"),
    ]

    operations = [
        migrations.AddField(
            model_name="article",
            name="published",
            field=models.BooleanField(default=True),
        ),
    ]
