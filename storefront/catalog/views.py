"""The demo shop's pages. Thin on purpose: every list comes from shopguide's selectors or its
template tags; the views only read the request and pick the template."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render

from shopguide import selectors
from shopguide.services.events import record_product_view, record_request_event
from shopguide.services.login_guard import login_wait
from storefront.catalog.forms import ImageSearchForm
from storefront.catalog.models import Category, Product

PAGE_SIZE = 24


def product_list(request, slug: str | None = None):
    products = Product.objects.select_related("category").order_by("category__name", "title")
    category = None
    if slug:
        category = get_object_or_404(Category, slug=slug)
        products = products.filter(category=category)
    page = Paginator(products, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "catalog/product_list.html", {"page": page, "category": category})


def product_detail(request, pk: int):
    product = get_object_or_404(Product.objects.select_related("category"), pk=pk)
    record_product_view(request, product)
    return render(request, "catalog/product_detail.html", {"product": product})


def search(request):
    query = (request.GET.get("q") or "").strip()[:200]
    results, error = None, None
    if query:
        try:
            results = selectors.search_products(query=query, k=PAGE_SIZE)
        except selectors.InvalidQuery as exc:
            error = str(exc)
        else:
            record_request_event(request, type="search", query=query)  # search→click pairs teach the text model
    context = {"query": query, "results": results, "query_error": error, "image_form": ImageSearchForm()}
    return render(request, "catalog/search.html", context, status=400 if error else 200)


def image_search(request):
    if request.method != "POST":
        return redirect("search")  # a reload or a shared link: the plain search page
    form = ImageSearchForm(request.POST, request.FILES)
    context = {"query": "", "image_form": form, "image_search": True, "results": None}
    if form.is_valid():
        try:
            context["results"] = selectors.search_by_image(data=form.cleaned_data["image"].read(), k=PAGE_SIZE)
        except selectors.InvalidImage as error:
            form.add_error("image", str(error))
    return render(request, "catalog/search.html", context, status=400 if form.errors else 200)


@login_required
def account(request):
    profile = selectors.customer_profile(request.user)
    return render(request, "catalog/account.html", {"profile": profile})


class LoginView(auth_views.LoginView):
    """Django's login page, answering 429 while too many logins failed for the address or the
    username (shopguide's ThrottledModelBackend refuses them without checking the password)."""

    def post(self, request, *args, **kwargs):
        wait = login_wait(request=request, username=request.POST.get("username"))
        if wait is None:
            return super().post(request, *args, **kwargs)
        response = self.render_to_response(self.get_context_data(locked_for=wait), status=429)
        response["Retry-After"] = str(wait)
        return response
