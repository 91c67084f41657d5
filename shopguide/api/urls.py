"""Include under a prefix of your choice: ``path("api/shopguide/", include("shopguide.api.urls"))``.

``docs/`` is a browsable Swagger UI of the schema; with ``drf_spectacular_sidecar`` installed
(and SPECTACULAR_SETTINGS["SWAGGER_UI_DIST"] = "SIDECAR") its assets come from your own server.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from shopguide.api import views
from shopguide.api.base import ShopguideSchemaGenerator

app_name = "shopguide-api"

urlpatterns = [
    path("products/<str:pk>/related/", views.RelatedProductsView.as_view(), name="related"),
    path("recommendations/", views.RecommendationsView.as_view(), name="recommendations"),
    path("trending/", views.TrendingView.as_view(), name="trending"),
    path("search/", views.SearchView.as_view(), name="search"),
    path("search/image/", views.ImageSearchView.as_view(), name="search-image"),
    path("profiles/me/", views.MyProfileView.as_view(), name="my-profile"),
    path("profiles/<str:username>/", views.CustomerProfileView.as_view(), name="profile"),
    path("events/", views.EventsView.as_view(), name="events"),
    # Only shopguide's endpoints, so a host whose other views use another schema class still works.
    path("schema/", SpectacularAPIView.as_view(generator_class=ShopguideSchemaGenerator), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="shopguide-api:schema"), name="docs"),
]
