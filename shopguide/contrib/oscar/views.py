"""Pages for Oscar shops: hybrid search rendered with Oscar's results template, and the
dashboard's training page. Thin: the lists come from shopguide.selectors, the work from
shopguide's services and tasks."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.views import View

from shopguide.conf import shopguide_settings
from shopguide.models import ModelVersion, TrainingRun

from .dashboard import RETRAIN_PERMISSION

RUNS_SHOWN = 10


class SearchResult:
    """What Oscar's results template reads of a haystack result: ``.object``."""

    def __init__(self, product) -> None:
        self.object = product


class SearchView(View):
    """Route Oscar's ``/search/`` here: shopguide's hybrid search (text model + full-text +
    trigram), paginated and rendered with ``oscar/search/results.html``. Sends Oscar's
    ``user_search`` signal like Oscar's own view (Oscar's analytics and shopguide record it)."""

    template_name = "oscar/search/results.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        from oscar.apps.search.signals import user_search
        from oscar.core.loading import get_class

        from shopguide.selectors import search_products

        # NUL cannot be stored or searched by PostgreSQL (Oscar's analytics store the query too).
        query = " ".join(request.GET.get("q", "").replace("\x00", " ").split())
        user_search.send(sender=self, session=request.session, user=request.user, query=query)
        products = (
            [item.product for item in search_products(query=query, k=shopguide_settings.MAX_LIMIT)] if query else []
        )
        paginator = Paginator([SearchResult(p) for p in products], getattr(settings, "OSCAR_PRODUCTS_PER_PAGE", 20))
        page = paginator.get_page(request.GET.get("page"))
        form = get_class("search.forms", "SearchForm")(request.GET or None)
        return render(
            request,
            self.template_name,
            {
                "query": query,
                "search_form": form,
                "form": form,
                "paginator": paginator,
                "page": page,
                "page_obj": page,
                "results": page.object_list,
                "has_facets": False,
                "facet_data": {},
                "selected_facets": [],
            },
        )


@method_decorator(staff_member_required(login_url="customer:login"), name="dispatch")
class TrainingView(View):
    """The dashboard's training page: the active version, recent runs with their progress,
    the versions kept, and Retrain / Roll back for staff with the ``shopguide.retrain`` permission."""

    template_name = "shopguide/oscar/dashboard/training.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        from shopguide.services.evaluation import held_out_rows
        from shopguide.services.training import fail_stale_runs

        fail_stale_runs()
        runs = list(TrainingRun.objects.order_by("-created_at")[:RUNS_SHOWN])
        versions = list(ModelVersion.objects.order_by("-created_at"))
        return render(
            request,
            self.template_name,
            {
                "runs": runs,
                "versions": [(v, held_out_rows(v.metrics or {})) for v in versions],
                "active": next((v for v in versions if v.is_active), None),
                "in_progress": any(r.status in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING) for r in runs),
                "can_retrain": request.user.has_perm(RETRAIN_PERMISSION),
                "admin_runs": _admin_url("admin:shopguide_trainingrun_changelist"),
                "admin_versions": _admin_url("admin:shopguide_modelversion_changelist"),
            },
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        from shopguide.services.versions import ActivationError, rollback
        from shopguide.tasks import BrokerUnavailable, enqueue_training

        here = HttpResponseRedirect(reverse("shopguide_oscar:training"))
        if not request.user.has_perm(RETRAIN_PERMISSION):
            messages.error(request, "Retraining needs the 'shopguide.retrain' permission.")
            return here
        action = request.POST.get("action")
        if action == "retrain":
            try:
                run = enqueue_training(requested_by=request.user)
            except BrokerUnavailable as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Training run {run.pk} queued; a worker will pick it up.")
        elif action == "rollback":
            try:
                version = rollback()
            except ActivationError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"{version} serves again.")
        else:
            messages.error(request, "Unknown action: choose Retrain or Roll back.")
        return here


def _admin_url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:  # the shop does not mount Django's admin
        return None
