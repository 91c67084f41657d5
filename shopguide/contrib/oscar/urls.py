"""The dashboard pages: ``path("dashboard/shopguide/", include("shopguide.contrib.oscar.urls"))``."""

from django.urls import path

from .views import TrainingView

app_name = "shopguide_oscar"
urlpatterns = [path("", TrainingView.as_view(), name="training")]
