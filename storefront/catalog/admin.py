from django.contrib import admin

from storefront.catalog.models import Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "title", "category", "price", "in_stock"]
    list_filter = ["category", "in_stock"]
    search_fields = ["sku", "title"]
