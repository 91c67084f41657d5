from django.contrib import admin
from django.urls import include, path

from tests.testapp import views

urlpatterns = [
    path("articles/<str:code>/", views.article_detail, name="article"),
    path("api/stock/<str:code>/", views.StockView.as_view(), name="stock"),
    path("admin/", admin.site.urls),
    path("api/shopguide/", include("shopguide.api.urls")),
]
