"""Admin: events, versions, runs and vectors. Heavy work is only ever enqueued from here."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from shopguide.models import (
    Interaction,
    ModelVersion,
    ProductVector,
    Segment,
    SegmentMember,
    SegmentScore,
    TrainingRun,
    UserVector,
)

RETRAIN_PERMISSION = "shopguide.retrain"


def _img(png: bytes, alt: str):
    import base64

    return format_html('<img src="data:image/png;base64,{}" alt="{}">', base64.b64encode(png).decode(), alt)


class RetrainPermissionMixin:
    """Starting, cancelling and (force-)activating models needs the dedicated permission."""

    def has_retrain_permission(self, request) -> bool:
        return request.user.has_perm(RETRAIN_PERMISSION)


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ["ts", "type", "user", "visitor", "product", "query", "widget"]
    list_filter = ["type", "widget"]
    search_fields = ["query", "visitor"]
    raw_id_fields = ["user", "product", "model_version"]
    date_hierarchy = "ts"
    list_select_related = ["user", "product"]


class RunInline(admin.TabularInline):
    model = TrainingRun
    fields = ["id", "status", "created_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(RetrainPermissionMixin, admin.ModelAdmin):
    list_display = ["__str__", "status", "is_active", "created_at", "activated_at", "n_products", "image_precision"]
    list_filter = ["status", "is_active"]
    readonly_fields = ["evaluation", "loss_curves", "embedding_map"] + [f.name for f in ModelVersion._meta.fields]
    MAP_SAMPLE = 1500

    @admin.display(description="evaluation on held-out data (95% bootstrap intervals, sample sizes)")
    def evaluation(self, obj: ModelVersion):
        from shopguide.services.evaluation import held_out_rows

        gate = (obj.metrics or {}).get("gate") or {}
        decision = format_html(
            "<p><b>{}</b>: {}</p>", gate.get("decision", "–"), gate.get("why", "no gate decision recorded")
        )
        rows = held_out_rows(obj.metrics or {})
        if not rows:
            return decision
        body = format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            "{}<table><tr><th>space · model</th><th>figure</th><th>value</th><th>95% interval</th>"
            "<th>held-out n</th></tr>{}</table>",
            decision,
            body,
        )

    @admin.display(description="training loss")
    def loss_curves(self, obj: ModelVersion):
        from shopguide.charts import loss_chart

        series = {
            name: m["training"]["losses"]
            for name, m in obj.metrics.items()
            if isinstance(m, dict) and m.get("training", {}).get("losses")
        }
        return _img(loss_chart(series), "training loss per epoch") if series else "–"

    @admin.display(description="product embedding space (first two principal components)")
    def embedding_map(self, obj: ModelVersion):
        import numpy as np

        from shopguide.adapter import get_adapter
        from shopguide.charts import embedding_map
        from shopguide.spaces import space_names

        space = next((s for s in space_names() if s in obj.dimensions), None)
        if space is None:
            return "–"
        rows = list(
            ProductVector.objects.filter(version=obj, space=space).values_list("product_id", "embedding")[
                : self.MAP_SAMPLE
            ]
        )
        adapter = get_adapter()
        products = adapter.get_queryset().in_bulk([pk for pk, _ in rows])
        labels = [adapter.category(products[pk]) or "–" if pk in products else "–" for pk, _ in rows]
        vectors = np.array([vec for _, vec in rows], dtype=np.float32)
        return _img(embedding_map(vectors, labels), f"{space} space coloured by category")

    actions = ["activate_selected", "rollback"]
    inlines = [RunInline]

    @admin.display(description="image P@8 held out (model / raw pixels)")
    def image_precision(self, obj: ModelVersion) -> str:
        held_out = (obj.metrics or {}).get("image", {}).get("held_out") or {}
        return " / ".join(str(held_out[k]["value"]) for k in ("model", "raw_pixels") if k in held_out) or "–"

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Activate the selected version (overrides the evaluation gate)", permissions=["retrain"])
    def activate_selected(self, request: HttpRequest, queryset) -> None:
        from shopguide.services.versions import ActivationError, activate_version

        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        try:
            version = activate_version(version=queryset.get())
        except ActivationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"{version} now serves.", messages.SUCCESS)

    @admin.action(description="Roll back to the previously active version", permissions=["retrain"])
    def rollback(self, request: HttpRequest, queryset) -> None:
        from shopguide.services.versions import ActivationError, rollback

        try:
            version = rollback()
        except ActivationError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Rolled back: {version} now serves.", messages.SUCCESS)


@admin.register(TrainingRun)
class TrainingRunAdmin(RetrainPermissionMixin, admin.ModelAdmin):
    list_display = ["__str__", "status", "stage", "progress", "eta", "created_at", "finished_at", "version"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in TrainingRun._meta.fields] + ["progress"]
    change_list_template = "admin/shopguide/trainingrun/change_list.html"
    actions = ["cancel_selected"]

    @admin.action(description="Cancel the selected runs", permissions=["retrain"])
    def cancel_selected(self, request: HttpRequest, queryset) -> None:
        from shopguide.services.training import cancel_run

        cancelled = sum(cancel_run(run) for run in queryset)
        self.message_user(request, f"{cancelled} run(s) cancelled; the active version keeps serving.", messages.SUCCESS)

    @admin.display(description="progress")
    def progress(self, obj: TrainingRun):
        return format_html(
            '<progress max="100" value="{}" aria-label="progress"></progress> {}%', obj.percent, obj.percent
        )

    @admin.display(description="ETA")
    def eta(self, obj: TrainingRun) -> str:
        if obj.is_finished or obj.eta_seconds is None:
            return "–"
        return f"{int(obj.eta_seconds // 60)}m {int(obj.eta_seconds % 60)}s"

    def has_add_permission(self, request) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        # Refresh the page while a run is in progress, so stage and percent move by themselves.
        from shopguide.services.training import fail_stale_runs

        fail_stale_runs()
        in_progress = TrainingRun.objects.exclude(status__in=TrainingRun.FINISHED).exists()
        context = {"shopguide_refresh": in_progress, "can_retrain": self.has_retrain_permission(request)}
        return super().changelist_view(request, {**(extra_context or {}), **context})

    def get_urls(self):
        custom = [
            path("retrain/", self.admin_site.admin_view(self.retrain_view), name="shopguide_trainingrun_retrain"),
        ]
        return custom + super().get_urls()

    def retrain_view(self, request: HttpRequest):
        from shopguide.tasks import BrokerUnavailable, enqueue_training

        changelist = reverse("admin:shopguide_trainingrun_changelist")
        if request.method != "POST" or not self.has_retrain_permission(request):
            self.message_user(
                request, "Retraining needs a POST by staff with the 'retrain' permission.", messages.ERROR
            )
            return HttpResponseRedirect(changelist)
        try:
            run = enqueue_training(requested_by=request.user)
        except BrokerUnavailable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(changelist)
        self.message_user(request, f"Training run {run.pk} queued; a worker will pick it up.", messages.SUCCESS)
        return HttpResponseRedirect(changelist)


class VectorAdminMixin:
    """Vectors are shown as their size, never as form fields (a 64-float text box helps nobody)."""

    exclude = ["embedding"]

    @admin.display(description="dimensions")
    def dimensions(self, obj) -> int:
        return len(obj.embedding) if obj.embedding is not None else 0

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProductVector)
class ProductVectorAdmin(VectorAdminMixin, admin.ModelAdmin):
    list_display = ["product", "space", "version", "dimensions"]
    list_filter = ["space", "version"]
    readonly_fields = ["version", "space", "product", "dimensions"]
    list_select_related = ["product", "version"]


@admin.register(UserVector)
class UserVectorAdmin(VectorAdminMixin, admin.ModelAdmin):
    list_display = ["user", "version", "updated_at", "dimensions"]
    list_filter = ["version"]
    readonly_fields = ["version", "user", "updated_at", "dimensions"]
    list_select_related = ["user", "version"]


class SegmentMemberInline(admin.TabularInline):
    model = SegmentMember
    raw_id_fields = ["user"]
    extra = 1


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "labelled_members"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [SegmentMemberInline]

    @admin.display(description="labelled members")
    def labelled_members(self, obj: Segment) -> int:
        return obj.members.filter(is_member=True).count()


@admin.register(SegmentScore)
class SegmentScoreAdmin(admin.ModelAdmin):
    list_display = ["segment", "user", "probability", "version"]
    list_filter = ["segment", "version"]
    list_select_related = ["segment", "user", "version"]
    ordering = ["-probability"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
