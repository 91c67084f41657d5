"""Product images are checked on upload like image-search uploads: oversized files, non-images,
truncated files and decompression bombs are refused with a message, and nothing is stored."""

from __future__ import annotations

import io

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework import serializers

from tests.factories import make_articles, pattern_png
from tests.testapp.models import ArticleImage


class ArticleImageForm(forms.ModelForm):
    class Meta:
        model = ArticleImage
        fields = ["article", "file", "position"]


class ArticleImageSerializer(serializers.ModelSerializer):
    class Meta:
        model = ArticleImage
        fields = ["article", "file", "position"]


def big_blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (12000, 12000)).save(buffer, "PNG")  # ~144 megapixels in a few KB
    return buffer.getvalue()


BAD_IMAGES = [
    (b"GIF89a but not really", "not a recognised image"),
    (pattern_png(0, seed=3)[:300], "unreadable"),
    (big_blank_png(), "too large"),
]


@pytest.mark.parametrize("data, message", BAD_IMAGES)
def test_admin_style_form_refuses_bad_product_images(db, data, message):
    article = make_articles(1, with_images=False)[0]
    form = ArticleImageForm(
        data={"article": article.pk, "position": 0},
        files={"file": SimpleUploadedFile("p.png", data, content_type="image/png")},
    )
    assert not form.is_valid()
    # Django's own ImageField check or ours: either way the reason is given, and nothing is saved.
    assert form.errors["file"] and not ArticleImage.objects.exists()
    assert (
        message in " ".join(form.errors["file"]).lower()
        or "upload a valid image" in " ".join(form.errors["file"]).lower()
    )


@pytest.mark.parametrize("data, message", BAD_IMAGES)
def test_api_style_serializer_gives_a_400_message(db, data, message):
    article = make_articles(1, with_images=False)[0]
    serializer = ArticleImageSerializer(
        data={"article": article.pk, "position": 0, "file": SimpleUploadedFile("p.png", data, content_type="image/png")}
    )
    assert not serializer.is_valid() and serializer.errors["file"]


def test_oversized_product_image_is_refused_by_size(db, settings):
    settings.SHOPGUIDE = {**settings.SHOPGUIDE, "MAX_UPLOAD_BYTES": 2000}
    article = make_articles(1, with_images=False)[0]
    form = ArticleImageForm(
        data={"article": article.pk, "position": 0},
        files={"file": SimpleUploadedFile("p.png", pattern_png(0, seed=1, size=200))},
    )
    assert not form.is_valid() and "the limit is 2,000 bytes" in form.errors["file"][0]


def test_a_good_product_image_is_accepted(db):
    article = make_articles(1, with_images=False)[0]
    form = ArticleImageForm(
        data={"article": article.pk, "position": 0}, files={"file": SimpleUploadedFile("p.png", pattern_png(1, seed=2))}
    )
    assert form.is_valid(), form.errors
    form.save()
    assert ArticleImage.objects.count() == 1
