"""shopguide's tables, after enabling the vector (pgvector) and pg_trgm extensions.

The product foreign keys point at settings.SHOPGUIDE_PRODUCT_MODEL, which must be set before this
migration first runs (like AUTH_USER_MODEL).
"""

import django.db.models.deletion
import django.utils.timezone
import pgvector.django.vector
from django.conf import settings
from django.db import migrations, models

from shopguide.migration_operations import RequireExtension


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.SHOPGUIDE_PRODUCT_MODEL),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        RequireExtension('vector'),
        RequireExtension('pg_trgm'),
        migrations.CreateModel(
            name='ModelVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('status', models.CharField(choices=[('building', 'building'), ('ready', 'ready'), ('failed', 'failed')], default='building', max_length=16)),
                ('is_active', models.BooleanField(default=False)),
                ('activated_at', models.DateTimeField(blank=True, null=True)),
                ('config', models.JSONField(blank=True, default=dict)),
                ('metrics', models.JSONField(blank=True, default=dict)),
                ('artifacts', models.JSONField(blank=True, default=dict)),
                ('dimensions', models.JSONField(blank=True, default=dict)),
                ('n_products', models.PositiveIntegerField(default=0)),
                ('n_interactions', models.PositiveIntegerField(default=0)),
            ],
            options={
                'ordering': ['-created_at'],
                'constraints': [models.UniqueConstraint(condition=models.Q(('is_active', True)), fields=('is_active',), name='shopguide_one_active_version')],
            },
        ),
        migrations.CreateModel(
            name='TrainingRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('status', models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('succeeded', 'succeeded'), ('failed', 'failed'), ('cancelled', 'cancelled')], default='queued', max_length=16)),
                ('stage', models.CharField(blank=True, max_length=64)),
                ('percent', models.FloatField(default=0.0)),
                ('eta_seconds', models.FloatField(blank=True, null=True)),
                ('message', models.CharField(blank=True, max_length=255)),
                ('error', models.TextField(blank=True)),
                ('warnings', models.JSONField(blank=True, default=list)),
                ('timings', models.JSONField(blank=True, default=dict)),
                ('options', models.JSONField(blank=True, default=dict)),
                ('task_id', models.CharField(blank=True, max_length=64)),
                ('worker', models.CharField(blank=True, max_length=255)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='runs', to='shopguide.modelversion')),
            ],
            options={
                'ordering': ['-created_at'],
            },
        ),
        migrations.CreateModel(
            name='Interaction',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('visitor', models.CharField(blank=True, db_index=True, max_length=64)),
                ('type', models.CharField(choices=[('view', 'view'), ('cart', 'add to cart'), ('purchase', 'purchase'), ('search', 'search'), ('click', 'click on a recommendation')], max_length=16)),
                ('ts', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('query', models.CharField(blank=True, max_length=500)),
                ('weight', models.FloatField(default=1.0)),
                ('widget', models.CharField(blank=True, max_length=64)),
                ('dedupe_key', models.CharField(blank=True, max_length=64, null=True, unique=True)),
                ('product', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.SHOPGUIDE_PRODUCT_MODEL)),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='shopguide_interactions', to=settings.AUTH_USER_MODEL)),
                ('model_version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='shopguide.modelversion')),
            ],
            options={
                'ordering': ['-ts'],
                'indexes': [models.Index(fields=['user', 'ts'], name='shopguide_int_user_ts'), models.Index(fields=['product', 'type'], name='shopguide_int_product_type')],
                'constraints': [models.CheckConstraint(condition=models.Q(('user__isnull', False), models.Q(('visitor', ''), _negated=True), _connector='OR'), name='shopguide_interaction_has_actor')],
            },
        ),
        migrations.CreateModel(
            name='ProductVector',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('space', models.CharField(max_length=16)),
                ('embedding', pgvector.django.vector.VectorField()),
                ('product', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.SHOPGUIDE_PRODUCT_MODEL)),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='product_vectors', to='shopguide.modelversion')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('version', 'space', 'product'), name='shopguide_product_vector_unique')],
            },
        ),
        migrations.CreateModel(
            name='UserVector',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('embedding', pgvector.django.vector.VectorField()),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='shopguide_vectors', to=settings.AUTH_USER_MODEL)),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='user_vectors', to='shopguide.modelversion')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('version', 'user'), name='shopguide_user_vector_unique')],
            },
        ),
    ]
