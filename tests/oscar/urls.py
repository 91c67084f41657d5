"""The Oscar host's URLs: Oscar's own, plus the README's "django-oscar" lines (marked)."""

from django.apps import apps
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    # -- the README's "django-oscar" URLs --
    path("api/shopguide/", include("shopguide.api.urls")),
    path("search/", include("shopguide.contrib.oscar.search_urls")),
    path("dashboard/shopguide/", include("shopguide.contrib.oscar.urls")),
    # -- end --
    path("", include(apps.get_app_config("oscar").urls[0])),
]
