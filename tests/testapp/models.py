"""A test host shop shaped unlike the demo: e-mail login, string SKU primary keys, categories and
images in their own tables (django-oscar style), other field names."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models

from shopguide.validators import validate_product_image


class CustomerManager(BaseUserManager):
    def create_user(self, email, password=None, **extra):
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra):
        return self.create_user(email, password, is_staff=True, is_superuser=True, **extra)


class Customer(AbstractBaseUser, PermissionsMixin):
    email = models.CharField(max_length=200, unique=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    USERNAME_FIELD = "email"
    objects = CustomerManager()


class Shelf(models.Model):
    label = models.CharField(max_length=100, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")

    def __str__(self) -> str:
        return self.label


class Article(models.Model):
    code = models.CharField(max_length=40, primary_key=True)
    name = models.CharField(max_length=200)
    summary = models.TextField(blank=True)
    cost = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    available = models.BooleanField(default=True)
    published = models.BooleanField(default=True)  # False: hidden from customers (PRODUCT_FIELDS["visible"])
    shelves = models.ManyToManyField(Shelf, through="ArticleShelf", related_name="articles")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return f"/articles/{self.code}/"


class ArticleShelf(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE)
    shelf = models.ForeignKey(Shelf, on_delete=models.CASCADE)
    is_primary = models.BooleanField(default=True)


class ArticleImage(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="images")
    file = models.ImageField(upload_to="articles/", validators=[validate_product_image])
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]


class Offer(models.Model):
    """A price and stock for an article (a shop may have several per article, e.g. per supplier):
    tests/testapp/offers_adapter.py reads prices, currencies and stock from here."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="offers")
    price = models.DecimalField(max_digits=9, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")
    num_in_stock = models.PositiveIntegerField(default=0)
