"""Include under a prefix of your choice: ``path("api/shopguide/", include("shopguide.api.urls"))``."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from shopguide.api import views

app_name = "shopguide-api"

urlpatterns = [
    path("products/<str:pk>/related/", views.RelatedProductsView.as_view(), name="related"),
    path("events/", views.EventsView.as_view(), name="events"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]
