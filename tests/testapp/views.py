from django.shortcuts import get_object_or_404, render

from shopguide.events import record_product_view
from tests.testapp.models import Article


def article_detail(request, code: str):
    article = get_object_or_404(Article, code=code)
    record_product_view(request, article)
    return render(request, "testapp/article.html", {"article": article})
