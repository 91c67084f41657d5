"""Oscar's search answered by shopguide: ``path("search/", include("shopguide.contrib.oscar.search_urls"))``
before Oscar's own URLs (Oscar's templates keep reversing ``search:search`` to the same /search/)."""

from django.urls import path

from .views import SearchView

app_name = "shopguide_oscar_search"
urlpatterns = [path("", SearchView.as_view(), name="search")]
