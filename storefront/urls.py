from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from storefront.catalog import api, views

urlpatterns = [
    path("", views.product_list, name="home"),
    path("category/<slug:slug>/", views.product_list, name="category"),
    path("products/<int:pk>/", views.product_detail, name="product"),
    path("search/", views.search, name="search"),
    path("search/image/", views.image_search, name="image_search"),
    path("account/", views.account, name="account"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/products/<int:pk>/", api.ProductDetailView.as_view(), name="api-product"),
    path("api/shopguide/", include("shopguide.api.urls")),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# A database outage anywhere in a request answers 503 "try again", not a 500 page.
handler500 = "shopguide.middleware.server_error"
