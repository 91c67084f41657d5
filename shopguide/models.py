"""shopguide's tables: interactions, model versions, training runs and vectors.

Vectors carry their model version; serving reads only the active version. Vector columns have no
fixed dimension because each version's models choose theirs: the HNSW index is a partial index per
(version, space), created with the right dimension before the version is activated
(``shopguide.vectors.ensure_hnsw_index``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, GistIndex, OpClass
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pgvector.django import VectorField

from shopguide.ml import event_types

PRODUCT_MODEL = getattr(settings, "SHOPGUIDE_PRODUCT_MODEL", None) or "shopguide.MissingProductModel"


class InteractionType(models.TextChoices):
    # The vocabulary is shopguide.ml.event_types; the labels are repeated here for translation.
    # Annotated for mypy, which (without django-stubs) would type each member as its (value, label)
    # tuple; at run time each is an InteractionType, a str, as without the annotation.
    VIEW: Any = event_types.VIEW, _("view")
    CART: Any = event_types.CART, _("add to cart")
    PURCHASE: Any = event_types.PURCHASE, _("purchase")
    SEARCH: Any = event_types.SEARCH, _("search")
    CLICK: Any = event_types.CLICK, _("click on a recommendation")


class ModelVersion(models.Model):
    """One training run's models: artifacts in storage, config, metrics, data snapshot size."""

    class Status(models.TextChoices):
        BUILDING = "building", _("building")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # space name -> storage path of the model checkpoint, e.g. {"image": "shopguide/models/v3/image.pt"}
    artifacts = models.JSONField(default=dict, blank=True)
    # space name -> embedding dimension of that space's vectors
    dimensions = models.JSONField(default=dict, blank=True)
    n_products = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveIntegerField(default=0)
    # How many products each stored list of this version was built to hold (SHOPGUIDE["LIST_DEPTH"]
    # then): a shorter list holds every candidate there was. Null for versions built before it was
    # recorded (their lists are read against the current setting).
    list_depth = models.PositiveIntegerField(null=True, blank=True)
    # The type of this version's HNSW indexes ("vector": float32, "halfvec": float16), taken from
    # SHOPGUIDE["VECTOR_INDEX_TYPE"] when its first index is built, so that queries repeat the
    # expression of the indexes that exist whatever the setting says later. "": none built yet.
    vector_index_type = models.CharField(max_length=8, blank=True, default="")

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="shopguide_one_active_version"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.pk}" + (" (active)" if self.is_active else "")


class TrainingRun(models.Model):
    """A request to train; its row shows live progress (stage, percent, ETA) and the outcome."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")
        CANCELLED = "cancelled", _("cancelled")

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    created_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=64, blank=True)
    percent = models.FloatField(default=0.0)
    eta_seconds = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    warnings = models.JSONField(default=list, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    options = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=255, blank=True)
    version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched at every progress report; a running run whose heartbeat stops lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Embedding fans out in chunks (EmbeddingChunk rows); this is how many were dispatched.
    chunks_total = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("retrain", "Can start, cancel and force model retraining")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class EmbeddingChunk(models.Model):
    """One chunk of the catalogue embedded by one task; the task that finishes the last chunk
    finishes the run. A re-delivered chunk task finds its row done and does nothing twice."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    product_ids = models.JSONField(default=list)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="shopguide_chunk_unique")]


class Interaction(models.Model):
    """One customer event. Anonymous visitors are keyed by ``visitor`` until they log in."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="shopguide_interactions",
    )
    visitor = models.CharField(max_length=64, blank=True, db_index=True)
    product = models.ForeignKey(PRODUCT_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=16, choices=InteractionType.choices)
    ts = models.DateTimeField(default=timezone.now, db_index=True)
    query = models.CharField(max_length=500, blank=True)
    weight = models.FloatField(default=1.0)
    # For clicks on recommendations: which widget showed the item, from which model version.
    widget = models.CharField(max_length=64, blank=True)
    model_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Content hash of an imported line: importing the same file twice adds nothing.
    dedupe_key = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-ts"]
        # Not implied by is_staff: reading any customer's profile and recommendations (the API's
        # profiles/<username>/ and recommendations/?user=).
        permissions = [("view_customer", "Can view any customer's profile and recommendations")]
        indexes = [
            models.Index(fields=["user", "ts"], name="shopguide_int_user_ts"),
            models.Index(fields=["product", "type"], name="shopguide_int_product_type"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(visitor=""), name="shopguide_interaction_has_actor"
            ),
        ]

    def __str__(self) -> str:
        who = self.user_id or self.visitor
        return f"{self.type} by {who} on {self.product_id}"


class ProductVector(models.Model):
    """A product's embedding in one space ("image", later "text", "behaviour") of one version."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="product_vectors")
    space = models.CharField(max_length=16)
    product = models.ForeignKey(PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    embedding = VectorField()
    # The product's category keys as the adapter gives them (``adapter.vector_categories``),
    # copied here so a partial HNSW index can hold one category's vectors: a category-filtered
    # search then walks that category's graph only (``shopguide.vector_categories``).
    categories = ArrayField(models.TextField(), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "space", "product"], name="shopguide_product_vector_unique")
        ]

    def __str__(self) -> str:
        return f"{self.space} vector of {self.product_id} in v{self.version_id}"


class UserVector(models.Model):
    """A customer's embedding in item space, for one version."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="user_vectors")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shopguide_vectors")
    embedding = VectorField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "user"], name="shopguide_user_vector_unique")]

    def __str__(self) -> str:
        return f"vector of user {self.user_id} in v{self.version_id}"


class RealField(models.FloatField):
    """A 4-byte float column: stored list scores need no double precision."""

    def db_type(self, connection) -> str:
        return "real"


class RelatedList(models.Model):
    """A product's related products in one version, best first, computed exactly when the version
    was built (and again when the product is re-embedded): serving reads this one row instead of
    searching every space. ``space`` is "" for the list fused over every space, else one space's
    own neighbours. Product ids are stored as text so any primary key type fits."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="related_lists")
    product = models.ForeignKey(PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+")
    space = models.CharField(max_length=16, blank=True)
    product_ids = ArrayField(models.TextField())
    # Per item its score; and one more, the list's bound, when an entry was dropped from it since
    # the build (a re-embedded product that fell below it): every product not listed scores at
    # most that, and serving searches live when it needs more than the list holds.
    scores = ArrayField(RealField())
    # Per item, the space that contributed most to its score (the reason shown), as its position
    # in the registry of spaces (shopguide.spaces.SPACE_MODULES).
    reasons = ArrayField(models.SmallIntegerField())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "product", "space"], name="shopguide_related_list_unique")
        ]
        # "Which lists hold product X" (product_ids @> ARRAY[X]) as an index lookup: a re-embedded
        # product's entry is moved or dropped in every list that held it.
        indexes = [GinIndex(fields=["product_ids"], name="shopguide_related_members", opclasses=["array_ops"])]

    def __str__(self) -> str:
        return f"{self.space or 'related'} list of {self.product_id} in v{self.version_id}"


class ShopperList(models.Model):
    """A shopper's personal recommendations in one version, best first, computed from their
    history as it was when event ``as_of`` was their newest: any later event of theirs makes the
    list stale, and serving computes live until the light queue has stored a new one."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="shopper_lists")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    visitor = models.CharField(max_length=64, blank=True)
    as_of = models.BigIntegerField(null=True, blank=True)  # the shopper's newest Interaction id then
    product_ids = ArrayField(models.TextField())
    scores = ArrayField(RealField())
    # Per item, the product of the history that explains it, "" = none; and the reason shown,
    # written when the list is stored ("because you viewed <its title>"), so serving a list reads
    # no product but the listed ones.
    because = ArrayField(models.TextField())
    reasons = ArrayField(models.TextField(), default=list)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "user"], condition=Q(user__isnull=False), name="shopguide_shopper_list_user"
            ),
            models.UniqueConstraint(
                fields=["version", "visitor"], condition=Q(user__isnull=True), name="shopguide_shopper_list_visitor"
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False) | ~Q(visitor=""), name="shopguide_shopper_list_has_actor"
            ),
        ]

    def __str__(self) -> str:
        return f"recommendations for {self.user_id or self.visitor} in v{self.version_id}"


class Segment(models.Model):
    """A customer segment. Members are labelled by staff, by import, or by ``rule``; a logistic
    regression per segment then predicts every customer's probability of belonging."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    # Optional rule over order history that labels members, e.g.
    # {"min_purchases": 3, "category": "Bags", "within_days": 180}. See shopguide.services.segments.
    rule = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """A labelled example: this customer is (or is explicitly not) in the segment."""

    class Source(models.TextChoices):
        ADMIN = "admin", _("admin")
        IMPORT = "import", _("import")
        RULE = "rule", _("rule")

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_member = models.BooleanField(default=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ADMIN)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["segment", "user"], name="shopguide_segment_member_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} {'in' if self.is_member else 'not in'} {self.segment}"


class SegmentScore(models.Model):
    """A predicted membership probability, for one model version."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="scores")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="segment_scores")
    probability = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "user", "version"], name="shopguide_segment_score_unique")
        ]
        indexes = [models.Index(fields=["version", "segment", "-probability"], name="shopguide_segscore_rank")]


class SearchDocument(models.Model):
    """The text shopguide searches for each product: PostgreSQL full-text and trigram indexes live
    here, on shopguide's own table, so the host's product table is never altered."""

    product = models.OneToOneField(PRODUCT_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True)
    title = models.CharField(max_length=500)
    text = models.TextField()
    document = SearchVectorField(null=True)
    # The title's lexemes alone (refresh_search_documents weights the title 'A'), stored so that
    # full-text search can take a bounded number of title matches first (fulltext_matches).
    title_document = models.GeneratedField(
        expression=models.Func(models.F("document"), models.Value("{a}"), function="ts_filter"),
        output_field=SearchVectorField(null=True),
        db_persist=True,
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            GinIndex(fields=["document"], name="shopguide_searchdoc_fts"),
            GinIndex(fields=["title_document"], name="shopguide_searchdoc_title_fts"),
            GinIndex(fields=["title"], opclasses=["gin_trgm_ops"], name="shopguide_searchdoc_trgm"),
            # Ordered (KNN) scans by word-similarity distance, ``<<->``: a one-word query's best
            # trigram matches without ranking every match. On lower(title), so that only that
            # scan uses it (see search_documents.trigram_matches).
            # (Migration 0008 writes its SQL: Django renders this expression without the
            # parentheses PostgreSQL wants before an operator class.)
            GistIndex(OpClass(Lower("title"), name="gist_trgm_ops"), name="shopguide_searchdoc_trgm_knn"),
        ]

    def __str__(self) -> str:
        return self.title
