from django.shortcuts import get_object_or_404, render
from rest_framework.response import Response
from rest_framework.views import APIView

from shopguide.services.events import record_product_view
from tests.testapp.models import Article


def article_detail(request, code: str):
    article = get_object_or_404(Article, code=code)
    record_product_view(request, article)
    return render(request, "testapp/article.html", {"article": article})


class StockView(APIView):
    """A host API view of its own, described (or not) by the host's DEFAULT_SCHEMA_CLASS."""

    def get(self, request, code: str):
        article = get_object_or_404(Article, code=code)
        return Response({"code": article.code, "available": article.available})
