from storefront.catalog.models import Category


def categories(request):
    # Lazy: only queried when a template iterates it.
    return {"nav_categories": Category.objects.all()}
