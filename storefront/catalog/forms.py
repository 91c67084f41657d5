from __future__ import annotations

from django import forms

from shopguide.conf import shopguide_settings


class ImageSearchForm(forms.Form):
    image = forms.FileField(
        label="Search with a photo",
        error_messages={"required": "Choose an image file to search with.", "empty": "The uploaded file is empty."},
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    def clean_image(self):
        upload = self.cleaned_data["image"]
        # Refuse an oversized file by its size alone, before reading it into memory.
        limit = shopguide_settings.MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(f"The image is {upload.size:,} bytes; the limit is {limit:,} bytes.")
        return upload
