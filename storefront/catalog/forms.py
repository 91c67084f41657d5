from __future__ import annotations

from django import forms

from shopguide.selectors.search import InvalidImage, check_upload_size


class ImageSearchForm(forms.Form):
    image = forms.FileField(
        label="Search with a photo",
        error_messages={"required": "Choose an image file to search with.", "empty": "The uploaded file is empty."},
        widget=forms.ClearableFileInput(attrs={"accept": "image/*"}),
    )

    def clean_image(self):
        upload = self.cleaned_data["image"]
        # Refuse an oversized file by its size alone, before reading it into memory.
        try:
            check_upload_size(upload.size)
        except InvalidImage as exc:
            raise forms.ValidationError(str(exc)) from exc
        return upload
