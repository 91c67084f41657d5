from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, render

from shopguide.events import record_product_view
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
    results = []
    if query:
        words = query.split()
        condition = Q()
        for word in words:
            condition &= Q(title__icontains=word) | Q(description__icontains=word) | Q(category__name__icontains=word)
        results = Product.objects.select_related("category").filter(condition)[:PAGE_SIZE]
    return render(request, "catalog/search.html", {"query": query, "results": results})
